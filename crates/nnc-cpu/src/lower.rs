//! Lowering a fused graph to a [`Program`]: buffers and a list of actions
//! (JIT kernels and a few host ops), in graph order.
//!
//! Memory follows the plan of `nnc_ir::plan_memory_with`: graph inputs
//! are vectors of their own, every other node's value and every
//! temporary of a fused kernel that is not pointwise (a product, a sum, a
//! cost) has its planned place in the arena. What the
//! lowering adds inside a kernel (a transposed operand, an output no node
//! names, a pointwise temporary the plan keeps in registers but a group
//! boundary stores) goes to the auxiliary buffer, reused from kernel to
//! kernel.
//!
//! Inside a fused kernel, after the whole-kernel patterns of
//! [`crate::lower_conv::native`], the body follows its kernel plan
//! ([`nnc_ir::kernel_plan`], the walk shared with the WGSL backend) for
//! the CPU's capabilities ([`cpu_target`]): no virtual scalars, dropout
//! masks as host steps, no channel reads in groups, and the epilogue rule
//! below. Each step becomes actions:
//! - a pointwise group is one loop nest (see [`crate::pointwise`]),
//!   split by rows over two threads when it is large;
//! - a matrix product uses `nnc_jit`'s tiled builder; a product followed
//!   by a bias add (and an activation) whose intermediate values are used
//!   nowhere else becomes one kernel with the fused epilogue. A product
//!   with its first operand transposed first transposes that operand into
//!   a buffer of its own. A large product is instead a library product
//!   (see [`crate::gemm`]), which reads transposed operands in place; its
//!   bias and activation stay in the pointwise group that follows (one
//!   pass that also stores the activation's input when that is yielded).
//!   A large weight gradient read only by a plain SGD update becomes that
//!   update, in place (see [`crate::fold`]).
//! - sums over leading (trailing) axes are column (row) sums.
//! - per-example costs, softmax and the softmax log-likelihood gradient
//!   are row kernels (see [`crate::rows`]).
//! - convolutions and their gradients, pooling and its gradient, and a
//!   bias added along the channel axis of a rank-4 tensor (and its sum)
//!   are one kernel each (see [`crate::lower_conv`]).
//! - the softmax gradient, the correct count, reshapes and dropout masks
//!   are host ops (see [`crate::host`]).
//! - batched products, concatenations, slices, paddings, gathers and
//!   scatters are library products per batch position and host steps
//!   (see [`crate::lower_tensor`]).
//! - anything else is [`LowerError::Unsupported`], naming the op.

use crate::conv_gemm::ConvGemm;
use crate::error::LowerError;
use crate::fold::{self, Fold};
use crate::gemm::{self, LibraryProduct};
use crate::host::HostOp;
use crate::lower_conv;
use crate::lower_tensor;
use crate::pair::two_cores;
use crate::pending::Pending;
use crate::pointwise::Group;
use crate::program::{Action, Exec, Memory, Place, Program, Slot, Split, MAX_INPUTS, MAX_OUTPUTS};
use crate::rows;
use nnc_ir::fused::{Arg, FusedKernel, FusedOp, KernelKind};
use nnc_ir::kernel_plan::{
    self, domain, plan_kernel, Epilogue, Operand, PlanError, Product, Read, Step, Target,
};
use nnc_ir::plan::{plan_memory_with, MemoryPlan, Outputs, PlanOptions, Temporaries};
use nnc_ir::{CostFn, Graph, GraphKind, NodeId, Op};
use nnc_jit::kernels::{col_sum, matmul, row_sum, Activation, MatmulSpec};
use nnc_jit::{Access, Affine, Expr, Kernel, Stmt, Ty};
use std::collections::HashMap;

/// What the CPU can do, for the kernel plan: no virtual scalars (a scalar
/// op is stored by a group of its own), dropout masks computed by a host
/// step, no channel reads (a pointwise op with an operand a group cannot
/// index is a host step by its formula, a bias over a tensor of rank
/// above 2 a spatial kernel, [`lower_conv::is_channel_bias`]), and a
/// product absorbs
/// `bias_add` and at most one of sigmoid, tanh, relu into its tiled JIT
/// kernel, nothing when it is a library product ([`gemm::use_library`]).
pub(crate) fn cpu_target() -> Target<'static> {
    Target {
        virtual_scalars: false,
        masks_ready: false,
        channel_reads: false,
        epilogue: Epilogue::BiasActivation {
            library: &gemm::use_library,
        },
    }
}

struct Lowering<'g> {
    graph: &'g Graph,
    plan: MemoryPlan,
    slots: Vec<Slot>,
    external_lens: Vec<usize>,
    /// The next free element of the auxiliary buffer in this kernel, and
    /// the most any kernel used.
    aux_cursor: usize,
    aux_len: usize,
    node_slot: Vec<usize>,
    /// `(kernel node, output index) -> kernel output node`.
    kernel_outputs: HashMap<(usize, usize), usize>,
    /// Each action with its inputs, its outputs and the graph node it
    /// lowers.
    actions: Vec<(Pending, Vec<usize>, Vec<usize>, NodeId)>,
    /// The graph node being lowered.
    current: NodeId,
    choices: LowerOptions,
}

/// Choices of [`lower_with`] that a benchmark may override; [`lower`]
/// takes the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LowerOptions {
    /// Convolutions run as products over unfolded windows where that pays
    /// (module `conv_gemm`, the default), or always as the direct kernels
    /// (`false`: to measure the choice, as `examples/describe.rs
    /// --direct` does).
    pub conv_products: bool,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions {
            conv_products: true,
        }
    }
}

/// Lowers `graph` (after the `fuse` pass, or any verified graph: plain
/// nodes are lowered as one-op kernels) and compiles its kernels.
pub fn lower(graph: &Graph) -> Result<Program, LowerError> {
    lower_with(graph, LowerOptions::default())
}

/// [`lower`] with the given choices.
pub fn lower_with(graph: &Graph, choices: LowerOptions) -> Result<Program, LowerError> {
    // Gradients are not read after a training step, so their memory is
    // reused once the update has read them. Temporaries that are not
    // pointwise get planned scratch slots; the few pointwise ones a group
    // boundary forces into memory go to the auxiliary buffer.
    let options = PlanOptions {
        outputs: match graph.kind {
            GraphKind::Training => Outputs::StepResults,
            GraphKind::Inference => Outputs::All,
        },
        temporaries: Temporaries::NonPointwise,
    };
    let mut l = Lowering {
        graph,
        plan: plan_memory_with(graph, options),
        slots: Vec::new(),
        external_lens: Vec::new(),
        aux_cursor: 0,
        aux_len: 0,
        node_slot: Vec::new(),
        kernel_outputs: HashMap::new(),
        actions: Vec::new(),
        current: NodeId::new(0),
        choices,
    };
    for id in graph.ids() {
        let node = graph.node(id);
        let len = node.shape.iter().product();
        let place = if let Op::Input { .. } = node.op {
            l.external_lens.push(len);
            Place::External(l.external_lens.len() - 1)
        } else {
            let offset = l
                .plan
                .offset(id)
                .ok_or_else(|| internal("the memory plan gives a node no buffer"))?;
            Place::Arena(offset)
        };
        let slot = l.slot(place, len);
        l.node_slot.push(slot);
        if let Op::KernelOutput { index, .. } = node.op {
            if let Some(kernel) = node.inputs.first() {
                l.kernel_outputs.insert((kernel.index(), index), id.index());
            }
        }
    }
    // Plain updates folded into their gradient's product write the
    // parameter in place: the update node lives in the parameter's vector.
    let folds = fold::find(graph, gemm::use_library);
    for f in folds.values() {
        let slot = l.node_slot[f.param.index()];
        l.node_slot[f.update.index()] = slot;
    }
    let folded: Vec<NodeId> = folds.values().map(|f| f.update).collect();
    for id in graph.ids() {
        let node = graph.node(id);
        if let Some(f) = folds.get(&id) {
            l.folded_update(id, &node.inputs, f)?;
            continue;
        }
        match &node.op {
            Op::Input { .. } | Op::KernelOutput { .. } => {}
            Op::Fused(_) if folded.contains(&id) => {}
            Op::Fused(kernel) => l.kernel(id, &node.inputs, kernel)?,
            op => {
                let single = FusedKernel {
                    kind: KernelKind::Single,
                    body: vec![FusedOp {
                        op: op.clone(),
                        args: (0..node.inputs.len()).map(Arg::Input).collect(),
                        shape: node.shape.clone(),
                        name: node.name.clone(),
                    }],
                    outputs: vec![0],
                };
                l.kernel(id, &node.inputs, &single)?;
            }
        }
    }
    // The kernels move to the compiler (the pending actions keep empty
    // ones in their place).
    let mut kernels = Vec::new();
    let take = |k: &mut nnc_jit::Kernel| std::mem::replace(k, nnc_jit::Kernel::new(""));
    for (pending, _, _, _) in &mut l.actions {
        match pending {
            Pending::Jit(k) => kernels.push(take(k)),
            Pending::Split([a, b], _, _) => kernels.extend([take(a), take(b)]),
            _ => {}
        }
    }
    let mut compiled = nnc_jit::compile_many(kernels)
        .map_err(|e| LowerError::jit("graph", e))?
        .into_iter();
    let mut actions = Vec::with_capacity(l.actions.len());
    for (pending, inputs, outputs, origin) in l.actions {
        let exec = match pending {
            Pending::Jit(_) => Exec::Jit(compiled.next().ok_or_else(|| internal("kernel count"))?),
            Pending::Split(_, rows, per_row) => {
                let mut next = || compiled.next().ok_or_else(|| internal("kernel count"));
                Exec::Split(Box::new(Split {
                    halves: [next()?, next()?],
                    rows,
                    per_row,
                }))
            }
            Pending::Host(op, n) => Exec::Host { op, n },
            Pending::Library(product, update) => Exec::Library { product, update },
            Pending::Conv(p) => Exec::Conv(p),
            Pending::PoolGrad(p) => Exec::PoolGrad(p),
            Pending::Batched(p) => Exec::Batched(p),
        };
        actions.push(Action {
            exec,
            inputs,
            outputs,
            origin,
        });
    }
    let memory = Memory {
        arena_len: l.plan.arena_len,
        aux_len: l.aux_len,
        external_lens: l.external_lens,
    };
    Ok(Program::new(
        graph.clone(),
        memory,
        l.slots,
        l.node_slot,
        actions,
    ))
}

/// Pointwise kernels of at least this many elements (and two rows) are
/// split by rows over two threads when the machine has two cores (and so
/// are spatial kernels by examples, see `lower_conv::split_batch`): W2's
/// `64 x 1024` bias-and-relu and relu-gradient passes (25 us each on one
/// thread) are; W1's `10 x 30` ones, far below the cost of a hand-off,
/// are not.
const SPLIT_MIN_ELEMENTS: usize = 32_768;

/// How many plain elementwise passes one element of the group costs, about:
/// 1, plus 8 for each transcendental function (an exponential, a
/// logarithm, a sigmoid or tanh: some thirty vector instructions each).
/// An LSTM step's gates (`64 x 128`, three sigmoids and two tanhs, 110 us
/// on one thread) are split by it; a bias and ReLU of as many elements is
/// not.
fn work_per_element(group: &Group) -> usize {
    let heavy = group
        .ops
        .iter()
        .filter(|m| {
            matches!(
                m.op,
                Op::Exp
                    | Op::Log
                    | Op::Sigmoid
                    | Op::Tanh
                    | Op::Softplus
                    | Op::Silu
                    | Op::Gelu(_)
                    | Op::GeluGrad(_)
                    | Op::SiluGrad
                    | Op::Pow(_)
            )
        })
        .count();
    1 + 8 * heavy
}

/// The group as two kernels over the first and the last rows, when it is
/// large enough to pay for a second thread.
fn split_rows(group: &Group, name: &str) -> Result<Option<Pending>, LowerError> {
    if !two_cores()
        || group.rows < 2
        || group.rows * group.cols * work_per_element(group) < SPLIT_MIN_ELEMENTS
    {
        return Ok(None);
    }
    let first = group.rows / 2;
    let half = |rows: usize| {
        let mut g = group.clone();
        g.rows = rows;
        for (len, bcast) in &mut g.reads {
            *len = match bcast {
                Read::Full => rows * group.cols,
                Read::Col => rows,
                Read::Row | Read::Scalar | Read::Channel { .. } => *len,
            };
        }
        g
    };
    let (a, b) = (half(first), half(group.rows - first));
    let mut per_row: Vec<Option<usize>> = group
        .reads
        .iter()
        .map(|(_, bcast)| match bcast {
            Read::Full => Some(group.cols),
            Read::Col => Some(1),
            Read::Row | Read::Scalar | Read::Channel { .. } => None,
        })
        .collect();
    per_row.extend(group.stores.iter().map(|_| Some(group.cols)));
    Ok(Some(Pending::Split(
        [
            a.kernel(&format!("{name}_rows0"))?,
            b.kernel(&format!("{name}_rows1"))?,
        ],
        [first, group.rows - first],
        per_row,
    )))
}

fn internal(message: &str) -> LowerError {
    LowerError::Internal {
        message: message.to_string(),
    }
}

fn unsupported(op: &Op) -> LowerError {
    LowerError::Unsupported {
        op: op.mnemonic().to_string(),
    }
}

/// The state of one fused kernel's lowering.
struct KernelState<'k> {
    node: NodeId,
    inputs: &'k [NodeId],
    body: &'k [FusedOp],
    val_slot: Vec<Option<usize>>,
}

impl Lowering<'_> {
    fn slot(&mut self, place: Place, len: usize) -> usize {
        self.slots.push((place, len));
        self.slots.len() - 1
    }

    /// A slot in the auxiliary buffer, valid during the current kernel.
    fn fresh_aux(&mut self, len: usize) -> usize {
        let offset = self.aux_cursor;
        self.aux_cursor += nnc_ir::plan::align_up(len);
        self.aux_len = self.aux_len.max(self.aux_cursor);
        self.slot(Place::Aux(offset), len)
    }

    fn push(
        &mut self,
        p: Pending,
        inputs: Vec<usize>,
        outputs: Vec<usize>,
    ) -> Result<(), LowerError> {
        if inputs.len() > MAX_INPUTS || outputs.len() > MAX_OUTPUTS {
            return Err(internal("an action has too many buffers"));
        }
        self.actions.push((p, inputs, outputs, self.current));
        Ok(())
    }

    fn kernel(
        &mut self,
        node: NodeId,
        inputs: &[NodeId],
        k: &FusedKernel,
    ) -> Result<(), LowerError> {
        let n = k.body.len();
        self.aux_cursor = 0;
        self.current = node;
        let mut s = KernelState {
            node,
            inputs,
            body: &k.body,
            val_slot: vec![None; n],
        };
        let mut yielded = vec![false; n];
        for (index, &v) in k.outputs.iter().enumerate() {
            let slot = if index == 0 {
                self.node_slot[node.index()]
            } else {
                match self.kernel_outputs.get(&(node.index(), index)) {
                    Some(&out) => self.node_slot[out],
                    None => self.fresh_aux(k.body[v].shape.iter().product()),
                }
            };
            if yielded.get(v).copied().unwrap_or(true) {
                return Err(internal("a kernel yields a value twice or one it lacks"));
            }
            yielded[v] = true;
            s.val_slot[v] = Some(slot);
        }
        let shape = |a: Arg| self.arg_shape(&s, a).to_vec();
        let products = self.choices.conv_products;
        if let Some(native) = lower_conv::native(k, &yielded, &shape, products)? {
            let mut inputs = Vec::new();
            for &a in &native.inputs {
                inputs.push(self.arg_slot(&s, a)?);
            }
            let outputs = native
                .outputs
                .iter()
                .map(|&j| self.out_slot(&mut s, j))
                .collect();
            return self.push(native.pending, inputs, outputs);
        }
        let input_shapes: Vec<&[usize]> = inputs.iter().map(|&id| self.graph.shape(id)).collect();
        let plan = plan_kernel(k, &input_shapes, &cpu_target()).map_err(|e| match e {
            PlanError::Unreadable { value, .. } => unsupported(&k.body[value].op),
            PlanError::Internal(what) => internal(what),
        })?;
        for step in &plan.steps {
            match step {
                Step::Group(group) => self.close(&mut s, group)?,
                Step::Product(product) => self.matmul(&mut s, product)?,
                Step::Single { value, .. } => self.single(&mut s, *value)?,
            }
        }
        Ok(())
    }

    /// The buffer holding operand `arg`, which must be materialized.
    fn arg_slot(&self, s: &KernelState<'_>, arg: Arg) -> Result<usize, LowerError> {
        match arg {
            Arg::Input(k) => s
                .inputs
                .get(k)
                .map(|id| self.node_slot[id.index()])
                .ok_or_else(|| internal("a body op reads a missing kernel input")),
            Arg::Value(i) => s
                .val_slot
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| internal("a body op reads a value that is not stored")),
        }
    }

    fn arg_shape<'a>(&'a self, s: &'a KernelState<'_>, arg: Arg) -> &'a [usize] {
        match arg {
            Arg::Input(k) => s.inputs.get(k).map_or(&[][..], |id| self.graph.shape(*id)),
            Arg::Value(i) => s.body.get(i).map_or(&[][..], |op| op.shape.as_slice()),
        }
    }

    /// The buffer of body value `j`, allocated when it has none yet.
    fn out_slot(&mut self, s: &mut KernelState<'_>, j: usize) -> usize {
        match s.val_slot[j] {
            Some(slot) => slot,
            None => {
                // A temporary: its slot in the kernel's scratch memory.
                let len = s.body[j].shape.iter().product();
                let planned = self
                    .plan
                    .scratch_of(s.node)
                    .and_then(|sc| sc.slots.iter().find(|slot| slot.0 == j))
                    .map(|&(_, offset, _)| offset);
                let slot = match planned {
                    Some(offset) => self.slot(Place::Arena(offset), len),
                    None => self.fresh_aux(len),
                };
                s.val_slot[j] = Some(slot);
                slot
            }
        }
    }

    /// Builds the loop nest of one pointwise group.
    fn close(
        &mut self,
        s: &mut KernelState<'_>,
        plan: &kernel_plan::Group,
    ) -> Result<(), LowerError> {
        let (rows, cols) = domain(&plan.shape);
        let mut group = Group {
            rows,
            cols,
            ops: plan.members.clone(),
            stores: plan.stores.clone(),
            ..Group::default()
        };
        for member in &plan.members {
            let channel = member.operands.iter().any(|o| match *o {
                Operand::Read(k) => matches!(plan.reads[k].1, Read::Channel { .. }),
                _ => false,
            });
            if channel {
                return Err(unsupported(&member.op));
            }
        }
        let mut read_slots: Vec<usize> = Vec::new();
        for &(arg, read) in &plan.reads {
            let slot = self.arg_slot(s, arg)?;
            read_slots.push(slot);
            group.reads.push((self.slots[slot].1, read));
        }
        let mut write_slots = Vec::new();
        for m in plan.stored_values() {
            write_slots.push(self.out_slot(s, m));
        }
        let name = format!("k{}_pointwise{}", s.node.index(), plan.members[0].value);
        if let Some(split) = split_rows(&group, &name)? {
            return self.push(split, read_slots, write_slots);
        }
        let kernel = group.kernel(&name)?;
        self.push(Pending::Jit(kernel), read_slots, write_slots)
    }

    /// Lowers one body op that is not pointwise.
    fn single(&mut self, s: &mut KernelState<'_>, j: usize) -> Result<(), LowerError> {
        let body = s.body;
        let op = &body[j];
        let args = op.args.clone();
        let mut slots = Vec::new();
        for &a in &args {
            slots.push(self.arg_slot(s, a)?);
        }
        let name = format!("k{}_{}{}", s.node.index(), op.op.mnemonic(), j);
        let row_len = |shape: &[usize]| shape.iter().skip(1).product::<usize>();
        let arg_shapes: Vec<&[usize]> = args.iter().map(|&a| self.arg_shape(s, a)).collect();
        if let Some((pass, spec)) = lower_conv::conv_kind(&op.op, &arg_shapes, &op.shape)? {
            if self.choices.conv_products && ConvGemm::pays(&spec, pass) {
                if let Some(planned) = ConvGemm::new(pass, spec).map(|p| Pending::Conv(Box::new(p)))
                {
                    let out = self.out_slot(s, j);
                    return self.push(planned, slots, vec![out]);
                }
            }
        }
        if let Some(kernel) = lower_conv::kernel(&name, &op.op, &arg_shapes, &op.shape)? {
            let action = match lower_conv::split_batch(&name, &op.op, &arg_shapes, &op.shape)? {
                Some(split) => split,
                None => Pending::Jit(kernel),
            };
            let out = self.out_slot(s, j);
            return self.push(action, slots, vec![out]);
        }
        if let Some(list) = lower_tensor::actions(&op.op, &arg_shapes)? {
            let out = self.out_slot(s, j);
            for (pending, reads) in list {
                let inputs = reads
                    .iter()
                    .filter_map(|&k| slots.get(k).copied())
                    .collect();
                self.push(pending, inputs, vec![out])?;
            }
            return Ok(());
        }
        match &op.op {
            Op::SumAxes { axes } => {
                let x = self.arg_shape(s, args[0]).to_vec();
                let r = axes.len();
                let kernel = if axes.iter().enumerate().all(|(i, &a)| a == i) {
                    let rows = x[..r].iter().product();
                    col_sum(&name, rows, x[r..].iter().product())
                } else if axes.iter().enumerate().all(|(i, &a)| a == x.len() - r + i) {
                    let cut = x.len() - r;
                    row_sum(&name, x[..cut].iter().product(), x[cut..].iter().product())
                } else {
                    // Middle axes: a host loop over the positions.
                    let host = HostOp::Reduce {
                        input: x,
                        axes: axes.clone(),
                        max: false,
                    };
                    let out = self.out_slot(s, j);
                    return self.push(Pending::Host(host, 1), slots, vec![out]);
                };
                let out = self.out_slot(s, j);
                self.push(Pending::Jit(kernel), slots, vec![out])
            }
            Op::MaxAxes { axes } => {
                let host = HostOp::Reduce {
                    input: self.arg_shape(s, args[0]).to_vec(),
                    axes: axes.clone(),
                    max: true,
                };
                let out = self.out_slot(s, j);
                self.push(Pending::Host(host, 1), slots, vec![out])
            }
            Op::Cost(_) | Op::CostGrad(CostFn::SoftmaxLogLikelihood) | Op::Softmax => {
                let shape = self.arg_shape(s, args[0]);
                let (rows, n) = (shape.first().copied().unwrap_or(1), row_len(shape));
                let kernel = match op.op {
                    Op::Cost(cost) => rows::cost(&name, cost, rows, n),
                    Op::Softmax => rows::softmax(&name, rows, n),
                    _ => rows::softmax_log_likelihood_grad(&name, rows, n),
                };
                let out = self.out_slot(s, j);
                self.push(Pending::Jit(kernel), slots, vec![out])
            }
            Op::SoftmaxGrad
            | Op::CorrectCount
            | Op::Reshape { .. }
            | Op::Permute { .. }
            | Op::DropoutMask { .. }
            | Op::Random { .. } => {
                let host = match &op.op {
                    Op::DropoutMask { p, stream, .. } => HostOp::DropoutMask {
                        p: *p,
                        stream: *stream,
                    },
                    Op::Random { noise, stream, .. } => HostOp::Random {
                        noise: *noise,
                        stream: *stream,
                    },
                    Op::Permute { perm } => HostOp::Permute {
                        input: self.arg_shape(s, args[0]).to_vec(),
                        perm: perm.clone(),
                    },
                    Op::SoftmaxGrad => HostOp::SoftmaxGrad,
                    Op::CorrectCount => HostOp::CorrectCount,
                    _ => HostOp::Copy,
                };
                let n = row_len(self.arg_shape(s, args[0]));
                let out = self.out_slot(s, j);
                self.push(Pending::Host(host, n), slots, vec![out])
            }
            pointwise if pointwise.is_pointwise() => {
                // The portable path: the formula on the host, each operand
                // read through its flat stride.
                let formula = pointwise.formula().ok_or_else(|| unsupported(pointwise))?;
                let mut reads = Vec::new();
                for (index, shape) in arg_shapes.iter().enumerate() {
                    let terms = pointwise
                        .operand_index_terms(index, shape, &op.shape)
                        .ok_or_else(|| unsupported(pointwise))?;
                    reads.push(terms);
                }
                let host = HostOp::Pointwise {
                    formula: Box::new(formula),
                    reads,
                };
                let out = self.out_slot(s, j);
                self.push(Pending::Host(host, 1), slots, vec![out])
            }
            other => Err(unsupported(other)),
        }
    }

    /// The product of gradient kernel `grad` with the update `f` folded
    /// in: `param = alpha param + beta op(A) op(B)`, in place.
    fn folded_update(
        &mut self,
        grad: NodeId,
        inputs: &[NodeId],
        f: &Fold,
    ) -> Result<(), LowerError> {
        let (a, b) = match inputs {
            [a, b] => (*a, *b),
            _ => return Err(internal("a folded product without two operands")),
        };
        let Op::Fused(kernel) = &self.graph.node(grad).op else {
            return Err(internal("a folded gradient that is not a kernel"));
        };
        let Some(Op::MatMul { ta, tb }) = kernel.body.first().map(|o| &o.op) else {
            return Err(internal("a folded gradient that is not a product"));
        };
        let (&[a0, a1], &[b0, b1]) = (self.graph.shape(a), self.graph.shape(b)) else {
            return Err(internal(
                "a folded product of operands that are not matrices",
            ));
        };
        let (m, k) = if *ta { (a1, a0) } else { (a0, a1) };
        let n = if *tb { b0 } else { b1 };
        self.current = f.update;
        let inputs = vec![
            self.node_slot[a.index()],
            self.node_slot[b.index()],
            self.node_slot[f.learning_rate.index()],
        ];
        let output = self.node_slot[f.param.index()];
        self.push(
            Pending::Library(
                LibraryProduct::new(m, k, n, *ta, *tb),
                Some((f.alpha.clone(), f.beta.clone())),
            ),
            inputs,
            vec![output],
        )
    }

    /// A matrix product, with the bias and activation the plan absorbed
    /// into its epilogue (none for a library product).
    fn matmul(&mut self, s: &mut KernelState<'_>, p: &Product) -> Result<(), LowerError> {
        let (m, k, n, ta, tb) = (p.m, p.k, p.n, p.ta, p.tb);
        let name = format!(
            "k{}_{}{}",
            s.node.index(),
            s.body[p.value].op.mnemonic(),
            p.value
        );
        let mut a_slot = self.arg_slot(s, p.a)?;
        let b_slot = self.arg_slot(s, p.b)?;
        // Large products go to the library, which reads a transposed `A`
        // in place (module `gemm`).
        let library = gemm::use_library(m, k, n);
        if ta && !library {
            let [a0, a1] = [k, m];
            let t = self.fresh_aux(m * k);
            let kernel = transpose(&format!("{name}_transpose"), a0, a1);
            self.push(Pending::Jit(kernel), vec![a_slot], vec![t])?;
            a_slot = t;
        }
        // The epilogue: `bias_add($j, bias)` then maybe an activation.
        let epilogue = &p.epilogue;
        let bias = match epilogue.members.first().map(|b| b.operands.as_slice()) {
            Some([Operand::Product, Operand::Read(r)]) => {
                Some(self.arg_slot(s, epilogue.reads[*r].0)?)
            }
            Some(_) => return Err(internal("a product epilogue that is not a bias add")),
            None => None,
        };
        let activation = match epilogue.members.get(1).map(|a| &a.op) {
            None => Activation::None,
            Some(Op::Sigmoid) => Activation::Sigmoid,
            Some(Op::Tanh) => Activation::Tanh,
            Some(Op::Relu) => Activation::Relu,
            Some(_) => return Err(internal("a product epilogue with another activation")),
        };
        let spec = MatmulSpec {
            m,
            k,
            n,
            transpose_b: tb,
            bias: bias.is_some(),
            activation,
        };
        let out = self.out_slot(s, p.last());
        if library {
            // Nothing was absorbed: the product writes its own value.
            let product = Pending::Library(LibraryProduct::new(m, k, n, ta, tb), None);
            return self.push(product, vec![a_slot, b_slot], vec![out]);
        }
        let mut inputs = vec![a_slot, b_slot];
        inputs.extend(bias);
        self.push(Pending::Jit(matmul(&name, spec)), inputs, vec![out])
    }
}

/// `out[c, r] = x[r, c]` for a `rows x cols` matrix `x`.
fn transpose(name: &str, rows: usize, cols: usize) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", rows * cols, Access::Read);
    let out = k.buffer("out", rows * cols, Access::Write);
    let body = k.for_loop(0, cols, 1, 1, |k, c| {
        vec![k.for_loop(0, rows, 1, 4, |_, r| {
            vec![Stmt::Store {
                buf: out,
                index: Affine::var(c).times(rows as i64).plus_term(r, 1),
                value: Expr::load(
                    x,
                    Affine::var(r).times(cols as i64).plus_term(c, 1),
                    Ty::F32,
                ),
            }]
        })]
    });
    k.body.push(body);
    k
}
