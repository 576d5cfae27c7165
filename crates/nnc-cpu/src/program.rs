//! A lowered graph ready to run: its memory, and its actions in order.
//!
//! Memory comes in three kinds, all allocated once, at lowering:
//! - the **arena**, laid out by `nnc_ir::plan_memory`: every value a step
//!   computes (kernel outputs, and the temporaries of each fused kernel in
//!   its scratch slots), with buffers that are never live at the same time
//!   sharing memory;
//! - the **auxiliary** buffer: memory the lowering adds inside one fused
//!   kernel (a transposed operand, a pointwise temporary stored between
//!   two loop nests, an output nobody reads), laid out back to back and
//!   reused by the next kernel;
//! - one vector per graph input (data, targets, parameters, optimizer
//!   state, learning rate), owned by whoever binds it.
//!
//! An action borrows its buffers from these: the buffers it writes are
//! cut out of the arena (or the auxiliary buffer) as disjoint mutable
//! slices, the ones it reads come from the pieces in between. The plan
//! guarantees that an action never reads memory it writes; the cutting
//! checks it again and reports a violation as an internal error.

use crate::batched::BatchedProduct;
use crate::conv_gemm::ConvGemm;
use crate::error::LowerError;
use crate::fold::Poly;
use crate::gemm::LibraryProduct;
use crate::host::HostOp;
use crate::pool_grad::PoolGradFused;
use nnc_ir::{Graph, InputKind, NodeId, OutputKind};
use nnc_jit::CompiledKernel;
use std::sync::Mutex;

/// The most buffers an action reads: a fused kernel's reads (at most
/// `fuse::MAX_KERNEL_INPUTS`, WGSL's bound) and what lowering adds to
/// them (the inputs of the free scalars it copies in).
pub(crate) const MAX_INPUTS: usize = 16;
/// The most buffers an action writes.
pub(crate) const MAX_OUTPUTS: usize = nnc_ir::passes::fuse::MAX_KERNEL_OUTPUTS;

/// What an action runs.
pub(crate) enum Exec {
    /// A compiled kernel.
    Jit(CompiledKernel),
    /// A host op over rows of `n` values.
    Host { op: HostOp, n: usize },
    /// A pointwise kernel split by rows over two threads (module `pair`):
    /// the same loop nest compiled for the first `rows[0]` rows and for
    /// the remaining `rows[1]`.
    Split(Box<Split>),
    /// A convolution's pass as products over im2col windows (module
    /// `conv_gemm`).
    Conv(Box<ConvGemm>),
    /// A pooling gradient with its epilogue (module `pool_grad`).
    PoolGrad(Box<PoolGradFused>),
    /// A product per batch position (module `lower_tensor`).
    Batched(Box<BatchedProduct>),
    /// A large matrix product (module `gemm`). With `update` set it is a
    /// folded parameter update (module `fold`): the action's third input
    /// is the learning rate, its output the parameter, updated in place
    /// as `alpha(eta) W + beta(eta) op(A) op(B)`.
    Library {
        product: LibraryProduct,
        update: Option<(Poly, Poly)>,
    },
}

/// A kernel split by rows: buffer `i` (reads, then writes, in the
/// kernel's order) is cut after `rows[0] * per_row[i]` values when
/// `per_row[i]` is set, and given whole to both halves otherwise.
pub(crate) struct Split {
    pub halves: [CompiledKernel; 2],
    pub rows: [usize; 2],
    pub per_row: Vec<Option<usize>>,
}

/// One action: what runs, the slots it reads and the ones it writes.
pub(crate) struct Action {
    pub exec: Exec,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
    /// The graph node (a fused kernel, or a plain op) this action is part
    /// of; the actions of one node are consecutive.
    pub origin: NodeId,
}

/// Where a slot's values live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// At this offset of the arena.
    Arena(usize),
    /// At this offset of the auxiliary buffer.
    Aux(usize),
    /// Graph input vector number `k`.
    External(usize),
}

/// A slot: a place and a length.
pub(crate) type Slot = (Place, usize);

/// The sizes of a program's memory.
pub(crate) struct Memory {
    pub arena_len: usize,
    pub aux_len: usize,
    pub external_lens: Vec<usize>,
}

/// One action of a [`Program`] as [`Program::steps`] shows it.
#[derive(Debug)]
pub enum Step<'a> {
    /// A JIT-compiled kernel.
    Jit(&'a nnc_jit::Kernel),
    /// A host op (plain Rust between kernels), described.
    Host(String),
    /// A matrix product on nnc's own product (module `sgemm`) or the
    /// `gemm` library, described with its shape and why it goes there.
    Library(String),
    /// A convolution as products over unfolded windows (module
    /// `conv_gemm`) or a pooling gradient in one pass (module
    /// `pool_grad`), described.
    Native(String),
}

/// A graph lowered to compiled kernels over memory allocated once.
/// Running it allocates nothing: each action borrows its buffers.
pub struct Program {
    graph: Graph,
    arena: Vec<f32>,
    aux: Vec<f32>,
    externals: Vec<Vec<f32>>,
    slots: Vec<Slot>,
    node_slot: Vec<usize>,
    actions: Vec<Action>,
    /// Reused by the backend to split or one-hot encode a batch.
    scratch: Vec<f32>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("arena", &self.arena.len())
            .field("aux", &self.aux.len())
            .field("actions", &self.actions.len())
            .finish()
    }
}

/// The pieces of a region left between the buffers an action writes:
/// `(first element, values)`.
struct Gaps<'a> {
    parts: [(usize, &'a [f32]); MAX_OUTPUTS + 1],
    count: usize,
}

impl<'a> Gaps<'a> {
    fn new() -> Self {
        Gaps {
            parts: [(0, &[]); MAX_OUTPUTS + 1],
            count: 0,
        }
    }

    /// The `len` values at `offset`, if they lie in one piece.
    fn find(&self, offset: usize, len: usize) -> Option<&'a [f32]> {
        self.parts[..self.count]
            .iter()
            .find(|(start, part)| offset >= *start && offset + len <= start + part.len())
            .map(|&(start, part)| &part[offset - start..offset - start + len])
    }
}

fn overlap() -> LowerError {
    LowerError::Internal {
        message: "an action's buffers overlap or leave their memory".into(),
    }
}

/// Cuts the buffers `writes` (`(output position, offset, length)`, at
/// most [`MAX_OUTPUTS`]) out of `region` into `outs`, and records the
/// pieces between them in `gaps`.
fn carve<'a>(
    region: &'a mut [f32],
    writes: &mut [(usize, usize, usize)],
    outs: &mut [&'a mut [f32]],
    gaps: &mut Gaps<'a>,
) -> Result<(), LowerError> {
    writes.sort_unstable_by_key(|w| w.1);
    let total = region.len();
    let mut rest = region;
    let mut cursor = 0;
    for &(position, offset, len) in writes.iter() {
        if offset < cursor || offset + len > total {
            return Err(overlap());
        }
        let (gap, tail) = std::mem::take(&mut rest).split_at_mut(offset - cursor);
        gaps.parts[gaps.count] = (cursor, gap);
        gaps.count += 1;
        let (written, tail) = tail.split_at_mut(len);
        *outs.get_mut(position).ok_or_else(overlap)? = written;
        rest = tail;
        cursor = offset + len;
    }
    gaps.parts[gaps.count] = (cursor, rest);
    gaps.count += 1;
    Ok(())
}

impl Program {
    pub(crate) fn new(
        graph: Graph,
        memory: Memory,
        slots: Vec<Slot>,
        node_slot: Vec<usize>,
        actions: Vec<Action>,
    ) -> Self {
        Program {
            graph,
            arena: vec![0.0; memory.arena_len],
            aux: vec![0.0; memory.aux_len],
            externals: memory
                .external_lens
                .into_iter()
                .map(|len| vec![0.0; len])
                .collect(),
            slots,
            node_slot,
            actions,
            scratch: Vec::new(),
        }
    }

    /// A vector the backend reuses to prepare a batch (never read by a
    /// run).
    pub(crate) fn scratch_mut(&mut self) -> &mut Vec<f32> {
        &mut self.scratch
    }

    /// The graph this program runs.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// How many JIT kernels and host ops run per call of [`Program::run`].
    pub fn action_counts(&self) -> (usize, usize) {
        let jit = self
            .actions
            .iter()
            .filter(|a| matches!(a.exec, Exec::Jit(_) | Exec::Split(_)))
            .count();
        (jit, self.actions.len() - jit)
    }

    /// A line per action, in order: the kernel's name and its buffers'
    /// lengths, or the host op (for tests and for reading what a graph
    /// became).
    pub fn describe(&self) -> Vec<String> {
        self.actions
            .iter()
            .map(|a| match &a.exec {
                Exec::Jit(k) => {
                    let lens: Vec<String> = k
                        .kernel()
                        .buffers
                        .iter()
                        .map(|b| format!("{}:{}", b.name, b.len))
                        .collect();
                    format!("jit {} ({})", k.kernel().name, lens.join(", "))
                }
                Exec::Split(split) => format!(
                    "jit {} split over 2 threads ({} + {} rows)",
                    split.halves[0].kernel().name,
                    split.rows[0],
                    split.rows[1]
                ),
                Exec::Host { op, n } => format!("host {op:?} (rows of {n})"),
                Exec::Conv(planned) => planned.describe(),
                Exec::PoolGrad(planned) => planned.describe(),
                Exec::Batched(planned) => planned.describe(),
                Exec::Library { product: p, update } => format!(
                    "library gemm {}x{}x{} (ta:{}, tb:{}){}",
                    p.m,
                    p.k,
                    p.n,
                    p.ta,
                    p.tb,
                    if update.is_some() {
                        ", update folded in"
                    } else {
                        ""
                    }
                ),
            })
            .collect()
    }

    /// What each action runs, in execution order (for listings such as
    /// `nnc emit clif`): the JIT kernel itself, or a description of a
    /// host op or a library product.
    pub fn steps(&self) -> impl Iterator<Item = Step<'_>> {
        self.actions.iter().flat_map(|a| {
            let (one, two) = match &a.exec {
                Exec::Jit(k) => (Step::Jit(k.kernel()), None),
                // The rows of both halves, the first on this thread.
                Exec::Split(split) => (
                    Step::Jit(split.halves[0].kernel()),
                    Some(Step::Jit(split.halves[1].kernel())),
                ),
                Exec::Host { op, n } => (Step::Host(format!("{op:?} over rows of {n}")), None),
                Exec::Conv(planned) => (Step::Native(planned.describe()), None),
                Exec::PoolGrad(planned) => (Step::Native(planned.describe()), None),
                Exec::Batched(planned) => (Step::Native(planned.describe()), None),
                Exec::Library { product: p, update } => (
                    Step::Library(format!(
                        "[{}, {}] x [{}, {}] (ta: {}, tb: {}), {} multiply-adds, {} thread(s), \
                         on {}: large enough to beat nnc-jit's tiled kernel{}",
                        p.m,
                        p.k,
                        p.k,
                        p.n,
                        p.ta,
                        p.tb,
                        p.m.saturating_mul(p.k).saturating_mul(p.n),
                        p.threads,
                        p.engine(),
                        if update.is_some() {
                            "; the parameter update is folded in (W = alpha W + beta product, \
                             in place)"
                        } else {
                            ""
                        }
                    )),
                    None,
                ),
            };
            std::iter::once(one).chain(two)
        })
    }

    /// The elements of the arena and of the auxiliary buffer.
    pub fn work_elements(&self) -> (usize, usize) {
        (self.arena.len(), self.aux.len())
    }

    /// The elements of the arena, the auxiliary buffer and the graph
    /// inputs together.
    pub fn memory_elements(&self) -> usize {
        self.arena.len() + self.aux.len() + self.externals.iter().map(Vec::len).sum::<usize>()
    }

    /// The vector of the graph input of `kind`, if the graph has one. It
    /// may be replaced by another of the same length (the backend swaps
    /// parameters in and out).
    pub fn input_mut(&mut self, kind: InputKind) -> Option<&mut Vec<f32>> {
        let node = self.graph.input(kind)?;
        match self.slots.get(*self.node_slot.get(node.index())?)? {
            (Place::External(k), _) => self.externals.get_mut(*k),
            _ => None,
        }
    }

    /// The values of the graph output of `kind` after [`Program::run`].
    /// Gradients of a training program are not kept past their last use,
    /// so they are not available.
    pub fn output(&self, kind: OutputKind) -> Option<&[f32]> {
        if matches!(kind, OutputKind::Gradient(_)) && self.graph.kind == nnc_ir::GraphKind::Training
        {
            return None;
        }
        self.value(self.graph.output_of(kind)?.node)
    }

    /// Whether the graph output of `kind` is written in place into a graph
    /// input's vector (a parameter updated by a folded product, see module
    /// `fold`): then the new values are in the input vector of that
    /// parameter after the run, and nothing needs copying out.
    pub fn in_place(&self, kind: OutputKind) -> bool {
        self.graph.output_of(kind).is_some_and(|o| {
            self.node_slot
                .get(o.node.index())
                .and_then(|&slot| self.slots.get(slot))
                .is_some_and(|(place, _)| matches!(place, Place::External(_)))
        })
    }

    /// The current values of graph node `node`, wherever they live. After
    /// a run, a node's memory may hold a later node's values (the plan
    /// reuses it); during [`Program::run_observed`] the values of a node
    /// are its own from the end of its kernel until its last reader ran.
    pub fn value(&self, node: NodeId) -> Option<&[f32]> {
        let &(place, len) = self.slots.get(*self.node_slot.get(node.index())?)?;
        match place {
            Place::Arena(offset) => self.arena.get(offset..offset + len),
            Place::Aux(offset) => self.aux.get(offset..offset + len),
            Place::External(k) => self.externals.get(k).map(Vec::as_slice),
        }
    }

    /// Runs the actions in order like [`Program::run`], and after the last
    /// action of each graph node calls `observe(node, self)`, where the
    /// values of that node (and of its kernel outputs) can be read with
    /// [`Program::value`]. The run stops early, returning `Ok(false)`,
    /// when `observe` returns `false`.
    pub fn run_observed(
        &mut self,
        step_seed: u64,
        mut observe: impl FnMut(NodeId, &Program) -> bool,
    ) -> Result<bool, LowerError> {
        for index in 0..self.actions.len() {
            self.run_action(index, step_seed)?;
            let origin = self.actions[index].origin;
            let last = self
                .actions
                .get(index + 1)
                .is_none_or(|next| next.origin != origin);
            if last && !observe(origin, self) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The first value of the output of `kind` (for scalar outputs).
    pub fn scalar(&self, kind: OutputKind) -> Option<f32> {
        self.output(kind).and_then(|v| v.first().copied())
    }

    /// Runs every action in order; `step_seed` drives the dropout masks.
    pub fn run(&mut self, step_seed: u64) -> Result<(), LowerError> {
        for index in 0..self.actions.len() {
            self.run_action(index, step_seed)?;
        }
        Ok(())
    }

    /// Runs every action in order, timing each (the order of
    /// [`Program::describe`]); for finding the slow kernels.
    pub fn run_profiled(&mut self, step_seed: u64) -> Result<Vec<std::time::Duration>, LowerError> {
        let mut times = Vec::with_capacity(self.actions.len());
        for index in 0..self.actions.len() {
            let started = std::time::Instant::now();
            self.run_action(index, step_seed)?;
            times.push(started.elapsed());
        }
        Ok(times)
    }

    fn run_action(&mut self, index: usize, step_seed: u64) -> Result<(), LowerError> {
        let Program {
            arena,
            aux,
            externals,
            slots,
            actions,
            ..
        } = self;
        let action = &mut actions[index];
        let mut arena_writes = [(0, 0, 0); MAX_OUTPUTS];
        let mut aux_writes = [(0, 0, 0); MAX_OUTPUTS];
        // An output written in place into a graph input's vector (a
        // folded parameter update): taken out of `externals` for the call,
        // so no input can alias it.
        let mut in_place: Option<(usize, usize, Vec<f32>)> = None;
        let (mut na, mut nx) = (0, 0);
        for (position, &slot) in action.outputs.iter().enumerate() {
            match slots[slot] {
                (Place::Arena(offset), len) => {
                    arena_writes[na] = (position, offset, len);
                    na += 1;
                }
                (Place::Aux(offset), len) => {
                    aux_writes[nx] = (position, offset, len);
                    nx += 1;
                }
                (Place::External(k), _) if in_place.is_none() => {
                    let values = std::mem::take(externals.get_mut(k).ok_or_else(overlap)?);
                    in_place = Some((position, k, values));
                }
                (Place::External(_), _) => return Err(overlap()),
            }
        }
        let result = run_exec(
            action,
            arena,
            aux,
            externals,
            slots,
            &mut arena_writes[..na],
            &mut aux_writes[..nx],
            in_place.as_mut().map(|(p, _, v)| (*p, v.as_mut_slice())),
            step_seed,
        );
        if let Some((_, k, values)) = in_place {
            externals[k] = values;
        }
        result
    }
}

/// Runs one action over its buffers: the written ones cut out of the
/// arena and the auxiliary buffer (`arena_writes`, `aux_writes`: output
/// position, offset, length) or handed over (`in_place`), the read ones
/// found in between.
#[allow(clippy::too_many_arguments)]
fn run_exec(
    action: &mut Action,
    arena: &mut [f32],
    aux: &mut [f32],
    externals: &[Vec<f32>],
    slots: &[Slot],
    arena_writes: &mut [(usize, usize, usize)],
    aux_writes: &mut [(usize, usize, usize)],
    in_place: Option<(usize, &mut [f32])>,
    step_seed: u64,
) -> Result<(), LowerError> {
    let mut outs: [&mut [f32]; MAX_OUTPUTS] = Default::default();
    let (mut arena_gaps, mut aux_gaps) = (Gaps::new(), Gaps::new());
    carve(arena, arena_writes, &mut outs, &mut arena_gaps)?;
    let mut aux_outs: [&mut [f32]; MAX_OUTPUTS] = Default::default();
    carve(aux, aux_writes, &mut aux_outs, &mut aux_gaps)?;
    for (position, &slot) in action.outputs.iter().enumerate() {
        if matches!(slots[slot].0, Place::Aux(_)) {
            outs[position] = std::mem::take(&mut aux_outs[position]);
        }
    }
    if let Some((position, values)) = in_place {
        *outs.get_mut(position).ok_or_else(overlap)? = values;
    }
    let mut ins: [&[f32]; MAX_INPUTS] = [&[]; MAX_INPUTS];
    for (i, &slot) in ins.iter_mut().zip(&action.inputs) {
        *i = match slots[slot] {
            (Place::Arena(offset), len) => arena_gaps.find(offset, len).ok_or_else(overlap)?,
            (Place::Aux(offset), len) => aux_gaps.find(offset, len).ok_or_else(overlap)?,
            (Place::External(k), _) => externals.get(k).ok_or_else(overlap)?,
        };
    }
    let ins = &ins[..action.inputs.len()];
    let outs = &mut outs[..action.outputs.len()];
    match &mut action.exec {
        Exec::Jit(kernel) => kernel
            .call(ins, outs)
            .map_err(|e| LowerError::jit(&kernel.kernel().name, e)),
        Exec::Split(split) => run_split(split, ins, outs),
        Exec::Conv(planned) => planned.run(ins, outs),
        Exec::PoolGrad(planned) => planned.run(ins, outs),
        Exec::Batched(planned) => planned.run(ins, outs),
        Exec::Host { op, n } => {
            let out = outs.first_mut().ok_or_else(overlap)?;
            op.run(*n, ins, out, step_seed);
            Ok(())
        }
        Exec::Library { product, update } => match (ins, outs, update) {
            ([a, b], [c], None) => product.run(a, b, c, 0.0, 1.0),
            ([a, b, rate], [w], Some((alpha, beta))) => {
                let eta = rate.first().copied().ok_or_else(overlap)?;
                product.run(a, b, w, alpha.eval(eta), beta.eval(eta))
            }
            _ => Err(overlap()),
        },
    }
}

/// A compiled kernel handed to one other thread for one call.
struct OneThread<'a>(&'a CompiledKernel);

// SAFETY: a `CompiledKernel` is not `Sync` because `call` borrows its
// pointer table and scratch buffers mutably (`RefCell`) and it holds an
// `Rc` to its code. `run_split` gives each half's kernel to exactly one
// thread, which is the only one calling it until `pair::both` returns;
// the `Rc` is neither cloned nor dropped meanwhile.
unsafe impl Sync for OneThread<'_> {}

/// Runs a split kernel: the first rows on this thread, the rest on the
/// helper thread.
fn run_split(split: &Split, ins: &[&[f32]], outs: &mut [&mut [f32]]) -> Result<(), LowerError> {
    let mut first_in: [&[f32]; MAX_INPUTS] = [&[]; MAX_INPUTS];
    let mut second_in: [&[f32]; MAX_INPUTS] = [&[]; MAX_INPUTS];
    for (i, &buf) in ins.iter().enumerate() {
        let (a, b) = cut(buf, split.per_row.get(i).copied().flatten(), split.rows[0])?;
        first_in[i] = a;
        second_in[i] = b;
    }
    let mut first_out: [&mut [f32]; MAX_OUTPUTS] = Default::default();
    let mut second_out: [&mut [f32]; MAX_OUTPUTS] = Default::default();
    for (o, buf) in outs.iter_mut().enumerate() {
        let per_row = split.per_row.get(ins.len() + o).copied().flatten();
        let at = per_row.map_or(0, |n| n * split.rows[0]);
        if per_row.is_none() || at > buf.len() {
            return Err(overlap());
        }
        let (a, b) = std::mem::take(buf).split_at_mut(at);
        first_out[o] = a;
        second_out[o] = b;
    }
    let (n_in, n_out) = (ins.len(), outs.len());
    let halves = [
        (
            OneThread(&split.halves[0]),
            Mutex::new((first_in, first_out)),
        ),
        (
            OneThread(&split.halves[1]),
            Mutex::new((second_in, second_out)),
        ),
    ];
    let results = [Mutex::new(Ok(())), Mutex::new(Ok(()))];
    let half = |k: usize| {
        let (kernel, buffers) = &halves[k];
        if let (Ok(mut buffers), Ok(mut result)) = (buffers.lock(), results[k].lock()) {
            let (ins, outs) = &mut *buffers;
            *result = kernel
                .0
                .call(&ins[..n_in], &mut outs[..n_out])
                .map_err(|e| LowerError::jit(&kernel.0.kernel().name, e));
        }
    };
    if !crate::pair::both(&|| half(0), &|| half(1)) {
        return Err(LowerError::Internal {
            message: "the second half of a split kernel failed".into(),
        });
    }
    for result in results {
        result.into_inner().map_err(|_| overlap())??;
    }
    Ok(())
}

/// Cuts a read buffer for the two halves of a split kernel: after
/// `rows * per_row` values, or not at all (both halves read it whole).
fn cut(buf: &[f32], per_row: Option<usize>, rows: usize) -> Result<(&[f32], &[f32]), LowerError> {
    match per_row {
        Some(n) if n * rows <= buf.len() => Ok(buf.split_at(n * rows)),
        Some(_) => Err(overlap()),
        None => Ok((buf, buf)),
    }
}
