//! The walk over a fused graph that turns each kernel into dispatches of
//! WGSL shaders; memory placement follows (module `assemble`).
//!
//! Each fused kernel follows its kernel plan ([`nnc_ir::kernel_plan`],
//! the walk shared with the CPU backend) for WGSL's capabilities
//! ([`Emitter::target_for`]):
//! - scalar ops that are not yielded are virtual: computed inline by
//!   every shader that reads them;
//! - dropout masks are uploads the host fills before each run; they are
//!   ready before the kernel starts, so a product's epilogue can apply
//!   one, and a kernel output that is a mask lives in its upload buffer;
//! - a group reads any strided operand (a bias along the channel axis
//!   included);
//! - a matrix product absorbs the pointwise ops that follow it while each
//!   is the sole reader of the one before (bias, activation, an
//!   activation's derivative), its other operands are ready, and the
//!   shader's bindings fit the device's limit.
//!
//! The emitter renders each step: a pointwise group is one shader, or
//! several when its stores need more storage buffers than the device
//! allows (module `group`); a product is one shader with its epilogue;
//! any other op is one shader of module `kernels` (sums, row kernels,
//! convolutions, pooling, batched products, slices, gathers), but a
//! concatenation, which is one shader per operand.
//!
//! Shader text never holds a buffer offset: values are bound as ranges
//! (module `program`), so identical computations share one shader.

use crate::assemble::{finish, Collected, Launch};
use crate::group::{Bound, Group};
use crate::kernels::{self, Built};
use crate::loc::Loc;
use crate::program::{BindingKind, EmitError, ShaderProgram, Target, UploadKind};
use crate::wgsl::{flat_index, grid, workgroup_for, Shader};
use nnc_ir::fused::{Arg, FusedKernel, FusedOp, KernelKind};
use nnc_ir::kernel_plan::{
    self, plan_kernel, Epilogue, Member, Operand, PlanError, Product, Read, Step,
};
use nnc_ir::plan::Outputs;
use nnc_ir::{Graph, GraphKind, NodeId, Op};
use std::collections::HashMap;

pub(crate) struct Emitter<'g> {
    graph: &'g Graph,
    target: &'g Target,
    launches: Vec<Launch>,
    /// `(kernel, body value, length)` of every stored temporary.
    temps: Vec<(NodeId, usize, usize)>,
    /// `(node, what, length, name)` of every upload.
    uploads: Vec<(NodeId, UploadKind, usize, String)>,
    kernel_outputs: HashMap<(usize, usize), NodeId>,
    /// Graph nodes whose value lives somewhere other than their own place
    /// (a yielded dropout mask lives in its upload buffer).
    homes: HashMap<NodeId, Loc>,
}

/// The state of one fused kernel's rendering.
struct KernelState<'k> {
    node: NodeId,
    k: &'k FusedKernel,
    /// Where each kernel input lives.
    inputs: Vec<Loc>,
    input_shapes: Vec<&'k [usize]>,
    /// Where each stored body value lives.
    val: Vec<Option<Loc>>,
}

impl KernelState<'_> {
    /// Where operand `arg` lives (a body value not stored yet: where it
    /// will be, a temporary of the kernel).
    fn loc(&self, arg: Arg) -> Loc {
        match arg {
            Arg::Input(k) => self.inputs[k],
            Arg::Value(i) => self.val[i].unwrap_or(Loc::Temp(self.node, i)),
        }
    }

    fn shape(&self, arg: Arg) -> &[usize] {
        match arg {
            Arg::Input(k) => self.input_shapes.get(k).copied().unwrap_or(&[]),
            Arg::Value(i) => self.k.body.get(i).map_or(&[][..], |op| op.shape.as_slice()),
        }
    }
}

fn internal(message: &str) -> EmitError {
    EmitError::Internal {
        message: message.to_string(),
    }
}

fn count(shape: &[usize]) -> usize {
    shape.iter().product()
}

pub(crate) fn emit(
    graph: &Graph,
    target: &Target,
    outputs: Outputs,
) -> Result<ShaderProgram, EmitError> {
    let mut e = Emitter {
        graph,
        target,
        launches: Vec::new(),
        temps: Vec::new(),
        uploads: Vec::new(),
        kernel_outputs: HashMap::new(),
        homes: HashMap::new(),
    };
    for id in graph.ids() {
        if let Op::KernelOutput { index, .. } = graph.node(id).op {
            if let Some(kernel) = graph.node(id).inputs.first() {
                e.kernel_outputs.insert((kernel.index(), index), id);
            }
        }
    }
    for id in graph.ids() {
        let node = graph.node(id);
        match &node.op {
            Op::Input { .. } | Op::KernelOutput { .. } => {}
            Op::Fused(kernel) => e.kernel(id, &node.inputs, kernel)?,
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
                e.kernel(id, &node.inputs, &single)?;
            }
        }
    }
    let collected = Collected {
        graph: e.graph,
        target: e.target,
        launches: e.launches,
        temps: e.temps,
        uploads: e.uploads,
        homes: e.homes,
    };
    finish(collected, outputs)
}

impl<'g> Emitter<'g> {
    fn binding_kind(&self, loc: Loc) -> BindingKind {
        match loc {
            Loc::Node(id) if matches!(self.graph.node(id).op, Op::Input { .. }) => {
                BindingKind::ReadOnly
            }
            Loc::Upload(_) => BindingKind::ReadOnly,
            _ => BindingKind::ReadWrite,
        }
    }

    fn kinds(&self, locs: &[Loc]) -> Vec<BindingKind> {
        locs.iter().map(|&l| self.binding_kind(l)).collect()
    }

    fn max_bindings(&self) -> usize {
        self.target.max_storage_buffers_per_shader_stage.max(1) as usize
    }

    fn launch(
        &mut self,
        built: Built,
        name: String,
        locs: Vec<Loc>,
        writes: Vec<Loc>,
        origin: NodeId,
    ) {
        self.launches.push(Launch {
            built,
            name,
            locs,
            writes,
            origin,
        });
    }

    fn kernel(
        &mut self,
        node: NodeId,
        inputs: &[NodeId],
        k: &FusedKernel,
    ) -> Result<(), EmitError> {
        let n = k.body.len();
        let mut val = vec![None; n];
        for (index, &v) in k.outputs.iter().enumerate() {
            if val.get(v).is_none_or(|l: &Option<Loc>| l.is_some()) {
                return Err(internal("a kernel yields a value twice or one it lacks"));
            }
            let loc = if index == 0 {
                Loc::Node(node)
            } else {
                match self.kernel_outputs.get(&(node.index(), index)) {
                    Some(&out) => Loc::Node(out),
                    None => self.temp(node, v, count(&k.body[v].shape)),
                }
            };
            val[v] = Some(loc);
        }
        // Dropout masks are uploads, ready before the kernel runs; a
        // yielded mask's node lives in its upload buffer.
        for (j, op) in k.body.iter().enumerate() {
            let what = match op.op {
                Op::DropoutMask { p, stream, .. } => Some(UploadKind::DropoutMask { p, stream }),
                Op::Random { noise, stream, .. } => Some(UploadKind::Random { noise, stream }),
                _ => None,
            };
            if let Some(what) = what {
                let len = count(&op.shape).max(1);
                let home = match val[j] {
                    Some(Loc::Node(id)) => Some(id),
                    _ => None,
                };
                self.uploads
                    .push((home.unwrap_or(node), what, len, op.name.clone()));
                let upload = Loc::Upload(self.uploads.len() - 1);
                if let Some(id) = home {
                    self.homes.insert(id, upload);
                }
                val[j] = Some(upload);
            }
        }
        let input_locs: Vec<Loc> = inputs
            .iter()
            .map(|&id| self.homes.get(&id).copied().unwrap_or(Loc::Node(id)))
            .collect();
        let input_shapes: Vec<&[usize]> = inputs.iter().map(|&id| self.graph.shape(id)).collect();
        let mut s = KernelState {
            node,
            k,
            inputs: input_locs,
            input_shapes,
            val,
        };
        // An epilogue fits while the product's operands, the distinct
        // values its ops read and its stores fit the binding limit.
        let max = self.max_bindings();
        let fits = |p: &Product| {
            let mut locs = vec![s.loc(p.a), s.loc(p.b)];
            for &(arg, _) in &p.epilogue.reads {
                let loc = s.loc(arg);
                if !locs.contains(&loc) {
                    locs.push(loc);
                }
            }
            locs.len() + p.epilogue.stores.len() <= max
        };
        let target = kernel_plan::Target {
            virtual_scalars: true,
            masks_ready: true,
            channel_reads: true,
            epilogue: Epilogue::Chain { fits: &fits },
        };
        let plan = plan_kernel(k, &s.input_shapes, &target).map_err(|e| match e {
            PlanError::Unreadable { value, operand } => {
                let op = &k.body[value];
                let shape = op.args.get(operand).map(|&a| s.shape(a).to_vec());
                EmitError::Unsupported {
                    op: format!(
                        "{} of an operand of shape {:?}",
                        op.op.mnemonic(),
                        shape.unwrap_or_default()
                    ),
                    node: op.name.clone(),
                }
            }
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

    fn temp(&mut self, kernel: NodeId, j: usize, len: usize) -> Loc {
        if !self.temps.iter().any(|&(k, v, _)| k == kernel && v == j) {
            self.temps.push((kernel, j, len.max(1)));
        }
        Loc::Temp(kernel, j)
    }

    /// The location of body value `j`'s result, allocated when it has none.
    fn out_loc(&mut self, s: &mut KernelState<'_>, j: usize) -> Loc {
        match s.val[j] {
            Some(loc) => loc,
            None => {
                let loc = self.temp(s.node, j, count(&s.k.body[j].shape));
                s.val[j] = Some(loc);
                loc
            }
        }
    }

    /// The shader group computing the stores `stores` (members of `plan`
    /// with their locations): only the members those stores depend on are
    /// included, virtual scalars are inlined.
    fn group_for(s: &KernelState<'_>, plan: &kernel_plan::Group, stores: &[(usize, Loc)]) -> Group {
        let members = &plan.members;
        let mut needed = vec![false; members.len()];
        for &(l, _) in stores {
            needed[l] = true;
        }
        for l in (0..members.len()).rev() {
            if needed[l] {
                for operand in &members[l].operands {
                    if let Operand::Member(i) = *operand {
                        needed[i] = true;
                    }
                }
            }
        }
        let shape = &plan.shape;
        let len = count(shape).max(1);
        let cols = if shape.len() >= 2 {
            count(&shape[1..]).max(1)
        } else {
            len
        };
        let mut group = Group {
            len,
            cols,
            ..Group::default()
        };
        let mut local: HashMap<usize, usize> = HashMap::new();
        let mut virtuals: HashMap<usize, usize> = HashMap::new();
        for (l, member) in members.iter().enumerate() {
            if !needed[l] {
                continue;
            }
            let operands = member
                .operands
                .iter()
                .map(|&o| match o {
                    Operand::Member(i) => Operand::Member(local[&i]),
                    other => add_operand(s, plan, &mut group, &mut virtuals, other),
                })
                .collect();
            local.insert(l, group.ops.len());
            group.ops.push(Member {
                value: member.value,
                op: member.op.clone(),
                operands,
            });
        }
        for &(l, loc) in stores {
            group.stores.push((local[&l], loc));
        }
        group
    }

    /// The bindings a group needs: its distinct locations.
    fn group_bindings(group: &Group) -> usize {
        group.elems(false).len()
    }

    /// Renders a pointwise group of the plan: stores the values it stores,
    /// in as few shaders as the binding limit allows.
    fn close(
        &mut self,
        s: &mut KernelState<'_>,
        plan: &kernel_plan::Group,
    ) -> Result<(), EmitError> {
        let mut stores = Vec::new();
        for &l in &plan.stores {
            stores.push((l, self.out_loc(s, plan.members[l].value)));
        }
        let first = plan.members[0].value;
        // Greedy chunks of stores whose shader fits the binding limit.
        let limit = self.max_bindings();
        let mut chunks: Vec<Vec<(usize, Loc)>> = Vec::new();
        let mut current: Vec<(usize, Loc)> = Vec::new();
        for &store in &stores {
            let mut trial = current.clone();
            trial.push(store);
            let fits = Self::group_bindings(&Self::group_for(s, plan, &trial)) <= limit;
            if fits || current.is_empty() {
                current = trial;
            } else {
                chunks.push(std::mem::take(&mut current));
                current.push(store);
            }
        }
        chunks.push(current);
        let parts = chunks.len();
        for chunk in chunks {
            let group = Self::group_for(s, plan, &chunk);
            if Self::group_bindings(&group) > limit {
                return Err(EmitError::Unsupported {
                    op: format!(
                        "a pointwise group needing {} storage buffers (the device allows {limit})",
                        Self::group_bindings(&group)
                    ),
                    node: s.k.body[first].name.clone(),
                });
            }
            let split = (parts > 1).then_some(parts);
            self.launch_group(s, group, first, split)?;
        }
        Ok(())
    }

    /// Emits the shader of a pointwise group.
    fn launch_group(
        &mut self,
        s: &KernelState<'_>,
        group: Group,
        first: usize,
        split: Option<usize>,
    ) -> Result<(), EmitError> {
        let name = format!("k{}_pointwise{first}", s.node.index());
        let vec = group.vectorizable() && group.len >= 64;
        let elems = group.elems(vec);
        let locs: Vec<Loc> = elems.iter().map(|&(l, _)| l).collect();
        let threads = if vec { group.len / 4 } else { group.len };
        let (size, size_reason) = workgroup_for(threads, self.target);
        let (workgroups, stride) = grid(threads, size, self.target, &name)?;
        let mut shader = Shader::new([size, 1, 1]);
        for (&(_, elem), kind) in elems.iter().zip(self.kinds(&locs)) {
            shader.bind(kind, elem);
        }
        let bound = Bound {
            locs: elems.clone(),
        };
        flat_index(&mut shader, stride, threads, "i");
        let unsupported = || EmitError::Unsupported {
            op: "an op in a pointwise group".to_string(),
            node: s.k.body[first].name.clone(),
        };
        group
            .emit_virtuals(&mut shader, &bound)
            .ok_or_else(unsupported)?;
        group
            .emit_ops(&mut shader, &bound, vec, "i")
            .ok_or_else(unsupported)?;
        let mut variant = if vec {
            "pointwise_vec4".to_string()
        } else {
            "pointwise".to_string()
        };
        variant.push_str(&format!("_wg{size}"));
        let mut reason = if vec {
            format!(
                "{} elements, rows of {}, multiples of 4: vec4 loads and stores; {size_reason}",
                group.len, group.cols
            )
        } else if group.len >= 64 {
            format!(
                "{} elements in rows of {}: a broadcast splits vec4 lanes, scalar loads; {size_reason}",
                group.len, group.cols
            )
        } else {
            format!("{} elements: too few for vec4; {size_reason}", group.len)
        };
        if let Some(parts) = split {
            reason.push_str(&format!(
                "; stores split over {parts} shaders to stay within {} storage buffers",
                self.max_bindings()
            ));
        }
        let built = Built {
            source: shader.source(),
            bindings: shader.bindings.iter().map(|&(k, _)| k).collect(),
            workgroup_size: shader.workgroup_size,
            workgroups,
            variant,
            reason,
        };
        let writes = group.stores.iter().map(|&(_, loc)| loc).collect();
        self.launch(built, name, locs, writes, s.node);
        Ok(())
    }

    /// Renders one body op that is not pointwise.
    fn single(&mut self, s: &mut KernelState<'_>, j: usize) -> Result<(), EmitError> {
        let op = &s.k.body[j];
        let name = format!("k{}_{}{}", s.node.index(), op.op.mnemonic(), j);
        let mut locs: Vec<Loc> = op.args.iter().map(|&a| s.loc(a)).collect();
        let shapes: Vec<Vec<usize>> = op.args.iter().map(|&a| s.shape(a).to_vec()).collect();
        let out = self.out_loc(s, j);
        locs.push(out);
        let kinds = self.kinds(&locs);
        let op = &s.k.body[j];
        // A concatenation: a shader per operand, each writing its block
        // of the result (the first launch counts as the result's write).
        if let Some(parts) = kernels::concat_parts(&op.op, &shapes, &kinds, self.target, &name)? {
            for (k, built) in parts.into_iter().enumerate() {
                let part = vec![locs[k], out];
                let writes = if k == 0 { vec![out] } else { Vec::new() };
                self.launch(built, format!("{name}_part{k}"), part, writes, s.node);
            }
            return Ok(());
        }
        let built = kernels::single(&op.op, &shapes, &op.shape, &kinds, self.target, &name)?
            .ok_or_else(|| EmitError::Unsupported {
                op: op.op.mnemonic().to_string(),
                node: op.name.clone(),
            })?;
        self.launch(built, name, locs, vec![out], s.node);
        Ok(())
    }

    /// A matrix product with the pointwise ops the plan absorbed into its
    /// epilogue.
    fn matmul(&mut self, s: &mut KernelState<'_>, p: &Product) -> Result<(), EmitError> {
        let name = format!(
            "k{}_{}{}",
            s.node.index(),
            s.k.body[p.value].op.mnemonic(),
            p.value
        );
        let a_loc = s.loc(p.a);
        let b_loc = s.loc(p.b);
        let out = self.out_loc(s, p.last());
        let plan = &p.epilogue;
        let len = count(&plan.shape).max(1);
        let cols = if plan.shape.len() >= 2 {
            plan.shape[1].max(1)
        } else {
            len
        };
        let mut epilogue = Group {
            len,
            cols,
            ..Group::default()
        };
        let mut virtuals = HashMap::new();
        for member in &plan.members {
            let operands = member
                .operands
                .iter()
                .map(|&o| add_operand(s, plan, &mut epilogue, &mut virtuals, o))
                .collect();
            epilogue.ops.push(Member {
                value: member.value,
                op: member.op.clone(),
                operands,
            });
        }
        for &l in &plan.stores {
            let loc = self.out_loc(s, plan.members[l].value);
            epilogue.stores.push((l, loc));
        }
        let mut locs = vec![a_loc];
        if !locs.contains(&b_loc) {
            locs.push(b_loc);
        }
        for (loc, _) in epilogue.elems(false) {
            if !locs.contains(&loc) {
                locs.push(loc);
            }
        }
        if !locs.contains(&out) {
            locs.push(out);
        }
        let kinds = self.kinds(&locs);
        let spec = kernels::MatmulSpec {
            m: p.m,
            k: p.k,
            n: p.n,
            ta: p.ta,
            tb: p.tb,
            a: a_loc,
            b: b_loc,
            out,
        };
        let built = kernels::matmul(&spec, &epilogue, &locs, &kinds, self.target, &name)?;
        let mut writes: Vec<Loc> = epilogue.stores.iter().map(|&(_, loc)| loc).collect();
        if !writes.contains(&out) {
            writes.push(out);
        }
        self.launch(built, name, locs, writes, s.node);
        Ok(())
    }
}

/// Operand `o` of a plan group's member as an operand of shader group
/// `group`: a read or a virtual scalar (with the virtuals it reads) added
/// to the shader group when new; `virtuals` maps the plan group's
/// virtuals to the shader group's. A member or the product is kept.
fn add_operand(
    s: &KernelState<'_>,
    plan: &kernel_plan::Group,
    group: &mut Group,
    virtuals: &mut HashMap<usize, usize>,
    o: Operand,
) -> Operand {
    match o {
        Operand::Read(k) => {
            let (arg, read) = plan.reads[k];
            Operand::Read(read_index(group, s.loc(arg), read))
        }
        Operand::Virtual(v) => {
            if let Some(&local) = virtuals.get(&v) {
                return Operand::Virtual(local);
            }
            let member = &plan.virtuals[v];
            let operands = member
                .operands
                .iter()
                .map(|&o| add_operand(s, plan, group, virtuals, o))
                .collect();
            group.virtuals.push(Member {
                value: member.value,
                op: member.op.clone(),
                operands,
            });
            let local = group.virtuals.len() - 1;
            virtuals.insert(v, local);
            Operand::Virtual(local)
        }
        other => other,
    }
}

/// The index of read `(loc, read)` in the group, added when new.
fn read_index(group: &mut Group, loc: Loc, bcast: Read) -> usize {
    match group.reads.iter().position(|&r| r == (loc, bcast)) {
        Some(k) => k,
        None => {
            group.reads.push((loc, bcast));
            group.reads.len() - 1
        }
    }
}

/// The default kept outputs for a graph's kind.
pub(crate) fn default_outputs(graph: &Graph) -> Outputs {
    match graph.kind {
        GraphKind::Training => Outputs::StepResults,
        GraphKind::Inference => Outputs::All,
    }
}
