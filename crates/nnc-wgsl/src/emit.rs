//! The walk over a fused graph that turns each kernel into dispatches of
//! WGSL shaders, then the placement of every value in device memory.
//!
//! Inside a fused kernel the body is walked in order, as the CPU backend
//! does (`nnc-cpu/src/lower.rs`):
//! - pointwise ops gather into open groups, one per output shape; a group
//!   is closed (one shader, module `group`) when an op of another kind or
//!   shape needs one of its values, or at the end of the kernel. Only
//!   values read outside the group, or yielded, are stored. Scalar ops
//!   that are not yielded are virtual: computed inline where read.
//! - a matrix product absorbs the pointwise ops that follow it while each
//!   is the sole reader of the one before (bias, activation, an
//!   activation's derivative) into its epilogue;
//! - sums over leading or trailing axes, or over all axes but the
//!   channel, are reductions;
//! - costs, softmax and its gradients, and the correct count are
//!   per-example row kernels;
//! - convolutions, pooling and their gradients are one shader each;
//! - dropout masks are uploads the host fills before each run; they are
//!   ready before the kernel starts, so a product's epilogue can apply
//!   one, and a kernel output that is a mask lives in its upload buffer.
//!
//! Shader text never holds a buffer offset: values are bound as ranges
//! (module `program`), so identical computations share one shader.

use crate::group::{self, operand_bcast, Bcast, Bound, Group, GroupOp, Src};
use crate::kernels::{self, Built};
use crate::loc::Loc;
use crate::program::{
    BindingKind, BufferRole, BufferSpec, Dispatch, EmitError, Range, ShaderKernel, ShaderProgram,
    Target, Upload, UploadKind,
};
use crate::wgsl::{flat_index, grid, workgroup_for, Shader};
use nnc_ir::fused::{Arg, FusedKernel, FusedOp, KernelKind};
use nnc_ir::plan::{lifetimes, place, Lifetime, Outputs};
use nnc_ir::{Graph, GraphKind, InputKind, NodeId, Op};
use std::collections::HashMap;

/// A kernel's scratch memory: the kernel, its request's index among
/// the placement requests, and its temporaries `(body value, length)`.
type ScratchRequest = (NodeId, usize, Vec<(usize, usize)>);

/// A dispatch before memory placement.
struct Launch {
    built: Built,
    name: String,
    locs: Vec<Loc>,
    /// The locations it writes (the rest it only reads).
    writes: Vec<Loc>,
    origin: NodeId,
}

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

/// The state of one fused kernel's walk.
struct KernelState<'k> {
    node: NodeId,
    inputs: &'k [NodeId],
    body: &'k [FusedOp],
    /// Where each stored body value lives.
    val: Vec<Option<Loc>>,
    yielded: Vec<bool>,
    consumers: Vec<Vec<usize>>,
    absorbed: Vec<bool>,
    virtual_: Vec<bool>,
    /// Open pointwise groups: shape and members.
    open: Vec<(Vec<usize>, Vec<usize>)>,
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
    e.finish(outputs)
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
        let mut s = KernelState {
            node,
            inputs,
            body: &k.body,
            val: vec![None; n],
            yielded: vec![false; n],
            consumers: vec![Vec::new(); n],
            absorbed: vec![false; n],
            virtual_: vec![false; n],
            open: Vec::new(),
        };
        for (index, &v) in k.outputs.iter().enumerate() {
            if s.yielded.get(v).copied().unwrap_or(true) {
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
            s.yielded[v] = true;
            s.val[v] = Some(loc);
        }
        // Dropout masks are uploads, ready before the kernel runs; a
        // yielded mask's node lives in its upload buffer.
        for (j, op) in k.body.iter().enumerate() {
            if let Op::DropoutMask { p, stream, .. } = op.op {
                let len = count(&op.shape).max(1);
                let home = match s.val[j] {
                    Some(Loc::Node(id)) => Some(id),
                    _ => None,
                };
                let what = UploadKind::DropoutMask { p, stream };
                self.uploads
                    .push((home.unwrap_or(node), what, len, op.name.clone()));
                let upload = Loc::Upload(self.uploads.len() - 1);
                if let Some(id) = home {
                    self.homes.insert(id, upload);
                }
                s.val[j] = Some(upload);
            }
        }
        for (j, op) in k.body.iter().enumerate() {
            for arg in &op.args {
                if let Arg::Value(i) = *arg {
                    if i < n {
                        s.consumers[i].push(j);
                    }
                }
            }
        }
        for j in 0..n {
            if s.absorbed[j] {
                continue;
            }
            let op = &k.body[j];
            if let Op::DropoutMask { .. } = op.op {
                continue;
            }
            if group::is_pointwise(&op.op) {
                let scalar_args = op.args.iter().all(|&a| count(self.arg_shape(&s, a)) == 1);
                // Values of open groups of another shape are closed first
                // (a virtual scalar reads stored values only).
                let virtual_ = op.shape.is_empty() && scalar_args && !s.yielded[j];
                for arg in &op.args {
                    if let Arg::Value(i) = *arg {
                        if let Some(g) = s.open.iter().position(|(shape, m)| {
                            m.contains(&i) && (virtual_ || *shape != op.shape)
                        }) {
                            let (shape, members) = s.open.remove(g);
                            self.close(&mut s, &shape, &members)?;
                        }
                    }
                }
                if virtual_ {
                    s.virtual_[j] = true;
                    continue;
                }
                match s.open.iter_mut().find(|(shape, _)| *shape == op.shape) {
                    Some((_, members)) => members.push(j),
                    None => s.open.push((op.shape.clone(), vec![j])),
                }
            } else {
                for (shape, members) in std::mem::take(&mut s.open) {
                    self.close(&mut s, &shape, &members)?;
                }
                self.single(&mut s, j)?;
            }
        }
        for (shape, members) in std::mem::take(&mut s.open) {
            self.close(&mut s, &shape, &members)?;
        }
        // A yielded value must be written even when nothing computed it
        // into memory yet (it cannot be virtual, so this is a safeguard).
        for j in 0..n {
            if s.yielded[j] && s.virtual_[j] {
                return Err(internal("a yielded value was left virtual"));
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

    fn arg_shape<'a>(&'a self, s: &'a KernelState<'_>, arg: Arg) -> &'a [usize] {
        match arg {
            Arg::Input(k) => s.inputs.get(k).map_or(&[][..], |id| self.graph.shape(*id)),
            Arg::Value(i) => s.body.get(i).map_or(&[][..], |op| op.shape.as_slice()),
        }
    }

    /// Where operand `arg` lives; a virtual scalar is stored first.
    fn arg_loc(&mut self, s: &mut KernelState<'_>, arg: Arg) -> Result<Loc, EmitError> {
        match arg {
            Arg::Input(k) => s
                .inputs
                .get(k)
                .map(|&id| self.homes.get(&id).copied().unwrap_or(Loc::Node(id)))
                .ok_or_else(|| internal("a body op reads a missing kernel input")),
            Arg::Value(i) => {
                if let Some(loc) = s.val.get(i).copied().flatten() {
                    return Ok(loc);
                }
                if s.virtual_.get(i).copied().unwrap_or(false) {
                    let loc = self.temp(s.node, i, 1);
                    let group = self.group_for(s, &[i], &[], &[(i, loc)])?;
                    self.launch_group(s, group, i, None)?;
                    s.val[i] = Some(loc);
                    return Ok(loc);
                }
                Err(internal("a body op reads a value that is not stored"))
            }
        }
    }

    /// The location of body value `j`'s result, allocated when it has none.
    fn out_loc(&mut self, s: &mut KernelState<'_>, j: usize) -> Loc {
        match s.val[j] {
            Some(loc) => loc,
            None => {
                let loc = self.temp(s.node, j, count(&s.body[j].shape));
                s.val[j] = Some(loc);
                loc
            }
        }
    }

    /// The group computing the stores `stores` from `members` (body
    /// indices of one shape, in order): only the members those stores
    /// depend on are included, virtual scalars are inlined.
    fn group_for(
        &mut self,
        s: &mut KernelState<'_>,
        members: &[usize],
        shape: &[usize],
        stores: &[(usize, Loc)],
    ) -> Result<Group, EmitError> {
        let mut needed = vec![false; s.body.len()];
        for &(m, _) in stores {
            needed[m] = true;
        }
        for &m in members.iter().rev() {
            if needed[m] {
                for arg in &s.body[m].args {
                    if let Arg::Value(i) = *arg {
                        if members.contains(&i) {
                            needed[i] = true;
                        }
                    }
                }
            }
        }
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
        for &m in members {
            if !needed[m] {
                continue;
            }
            let op = &s.body[m];
            let mut args = Vec::new();
            for (index, &arg) in op.args.iter().enumerate() {
                if let Arg::Value(i) = arg {
                    if let Some(&l) = local.get(&i) {
                        args.push(Src::Op(l));
                        continue;
                    }
                    if s.virtual_[i] && !members.contains(&i) {
                        let v = self.add_virtual(s, &mut group, &mut virtuals, i)?;
                        args.push(Src::Virtual(v));
                        continue;
                    }
                }
                let arg_shape = self.arg_shape(s, arg).to_vec();
                let bcast = operand_bcast(&op.op, index, &arg_shape, shape).ok_or_else(|| {
                    EmitError::Unsupported {
                        op: format!("{} of an operand of shape {arg_shape:?}", op.op.mnemonic()),
                        node: op.name.clone(),
                    }
                })?;
                let loc = self.arg_loc(s, arg)?;
                args.push(Src::Read(read_index(&mut group, loc, bcast)));
            }
            local.insert(m, group.ops.len());
            group.ops.push(GroupOp {
                op: op.op.clone(),
                args,
            });
        }
        for &(m, loc) in stores {
            let l = *local
                .get(&m)
                .ok_or_else(|| internal("a group stores a value it does not compute"))?;
            group.stores.push((l, loc));
        }
        Ok(group)
    }

    /// Adds virtual scalar `i` (and the virtual scalars it reads) to the
    /// group; returns its index among the group's virtuals.
    fn add_virtual(
        &mut self,
        s: &mut KernelState<'_>,
        group: &mut Group,
        virtuals: &mut HashMap<usize, usize>,
        i: usize,
    ) -> Result<usize, EmitError> {
        if let Some(&v) = virtuals.get(&i) {
            return Ok(v);
        }
        let op = s.body[i].clone();
        let mut args = Vec::new();
        for &arg in &op.args {
            match arg {
                Arg::Value(k) if s.virtual_[k] => {
                    args.push(Src::Virtual(self.add_virtual(s, group, virtuals, k)?))
                }
                _ => {
                    let loc = self.arg_loc(s, arg)?;
                    args.push(Src::Read(read_index(group, loc, Bcast::Scalar)));
                }
            }
        }
        group.virtuals.push(GroupOp { op: op.op, args });
        let v = group.virtuals.len() - 1;
        virtuals.insert(i, v);
        Ok(v)
    }

    /// The bindings a group needs: its distinct locations.
    fn group_bindings(group: &Group) -> usize {
        group.elems(false).len()
    }

    /// Closes a pointwise group: stores the values needed outside it, in
    /// as few shaders as the binding limit allows.
    fn close(
        &mut self,
        s: &mut KernelState<'_>,
        shape: &[usize],
        members: &[usize],
    ) -> Result<(), EmitError> {
        let mut stores = Vec::new();
        for &m in members {
            let outside = s.consumers[m].iter().any(|c| !members.contains(c));
            if s.yielded[m] || outside {
                stores.push((m, self.out_loc(s, m)));
            }
        }
        if stores.is_empty() {
            return Ok(());
        }
        // Greedy chunks of stores whose shader fits the binding limit.
        let limit = self.max_bindings();
        let mut chunks: Vec<Vec<(usize, Loc)>> = Vec::new();
        let mut current: Vec<(usize, Loc)> = Vec::new();
        for &store in &stores {
            let mut trial = current.clone();
            trial.push(store);
            let fits = Self::group_bindings(&self.group_for(s, members, shape, &trial)?) <= limit;
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
            let group = self.group_for(s, members, shape, &chunk)?;
            if Self::group_bindings(&group) > limit {
                return Err(EmitError::Unsupported {
                    op: format!(
                        "a pointwise group needing {} storage buffers (the device allows {limit})",
                        Self::group_bindings(&group)
                    ),
                    node: s.body[members[0]].name.clone(),
                });
            }
            let split = (parts > 1).then_some(parts);
            self.launch_group(s, group, members[0], split)?;
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
            node: s.body[first].name.clone(),
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

    /// Lowers one body op that is not pointwise.
    fn single(&mut self, s: &mut KernelState<'_>, j: usize) -> Result<(), EmitError> {
        let op = s.body[j].clone();
        let name = format!("k{}_{}{}", s.node.index(), op.op.mnemonic(), j);
        if let Op::MatMul { ta, tb } = op.op {
            return self.matmul(s, j, ta, tb, name);
        }
        let mut locs = Vec::new();
        for &a in &op.args {
            locs.push(self.arg_loc(s, a)?);
        }
        let shapes: Vec<Vec<usize>> = op
            .args
            .iter()
            .map(|&a| self.arg_shape(s, a).to_vec())
            .collect();
        let out = self.out_loc(s, j);
        locs.push(out);
        let kinds = self.kinds(&locs);
        let built = kernels::single(&op.op, &shapes, &op.shape, &kinds, self.target, &name)?
            .ok_or_else(|| EmitError::Unsupported {
                op: op.op.mnemonic().to_string(),
                node: op.name.clone(),
            })?;
        self.launch(built, name, locs, vec![out], s.node);
        Ok(())
    }

    /// A matrix product with the pointwise ops that follow it fused into
    /// its epilogue while each is the sole reader of the value before and
    /// its other operands are ready.
    fn matmul(
        &mut self,
        s: &mut KernelState<'_>,
        j: usize,
        ta: bool,
        tb: bool,
        name: String,
    ) -> Result<(), EmitError> {
        let args = s.body[j].args.clone();
        let (a, b) = match args.as_slice() {
            [a, b] => (*a, *b),
            _ => return Err(internal("a matrix product without two operands")),
        };
        let a_shape = self.arg_shape(s, a).to_vec();
        let b_shape = self.arg_shape(s, b).to_vec();
        let (&[a0, a1], &[b0, b1]) = (a_shape.as_slice(), b_shape.as_slice()) else {
            return Err(internal(
                "a matrix product of operands that are not matrices",
            ));
        };
        let (m, k) = if ta { (a1, a0) } else { (a0, a1) };
        let n = if tb { b0 } else { b1 };
        let a_loc = self.arg_loc(s, a)?;
        let b_loc = self.arg_loc(s, b)?;
        let shape = s.body[j].shape.clone();
        // The epilogue chain: each op the sole reader of the value before
        // it. A yielded value inside the chain is stored on the way.
        let mut chain: Vec<usize> = Vec::new();
        let mut last = j;
        loop {
            let next = match s.consumers[last].as_slice() {
                [c] if last != j || !s.yielded[j] => *c,
                _ => break,
            };
            let op = &s.body[next];
            if !group::is_pointwise(&op.op) || op.shape != shape {
                break;
            }
            // Other operands must be computed before the product: a
            // yielded value has its place from the start, before it is
            // computed, so having a place is not enough.
            let ready = op.args.iter().all(|&arg| match arg {
                Arg::Input(_) => true,
                Arg::Value(i) => {
                    i == last
                        || (i < j && (s.val[i].is_some() || s.virtual_[i]))
                        || matches!(s.val[i], Some(Loc::Upload(_)))
                }
            });
            if !ready {
                break;
            }
            // The chain's operands and stores must fit the binding limit.
            chain.push(next);
            let trial = self.epilogue(s, j, &chain, &shape)?;
            let mut locs = vec![a_loc, b_loc];
            for (loc, _) in trial.elems(false) {
                if !locs.contains(&loc) {
                    locs.push(loc);
                }
            }
            let stored = chain[..chain.len() - 1]
                .iter()
                .filter(|&&c| s.yielded[c])
                .count();
            if locs.len() + stored + 1 > self.max_bindings() {
                chain.pop();
                break;
            }
            last = next;
        }
        for &c in &chain {
            s.absorbed[c] = true;
        }
        let out = self.out_loc(s, last);
        let mut epilogue = self.epilogue(s, j, &chain, &shape)?;
        for (l, &c) in chain.iter().enumerate() {
            if s.yielded[c] || c == last {
                let loc = self.out_loc(s, c);
                epilogue.stores.push((l, loc));
            }
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
            m,
            k,
            n,
            ta,
            tb,
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

    /// The epilogue group of product `j` over `chain` (no stores yet).
    fn epilogue(
        &mut self,
        s: &mut KernelState<'_>,
        j: usize,
        chain: &[usize],
        shape: &[usize],
    ) -> Result<Group, EmitError> {
        let len = count(shape).max(1);
        let cols = if shape.len() >= 2 {
            shape[1].max(1)
        } else {
            len
        };
        let mut group = Group {
            len,
            cols,
            ..Group::default()
        };
        let mut virtuals = HashMap::new();
        for (l, &c) in chain.iter().enumerate() {
            let op = s.body[c].clone();
            let mut args = Vec::new();
            for (index, &arg) in op.args.iter().enumerate() {
                match arg {
                    Arg::Value(i) if i == j => args.push(Src::Acc),
                    Arg::Value(i) if l > 0 && i == chain[l - 1] => args.push(Src::Op(l - 1)),
                    Arg::Value(i) if s.virtual_[i] && s.val[i].is_none() => args.push(
                        Src::Virtual(self.add_virtual(s, &mut group, &mut virtuals, i)?),
                    ),
                    _ => {
                        let arg_shape = self.arg_shape(s, arg).to_vec();
                        let bcast =
                            operand_bcast(&op.op, index, &arg_shape, shape).ok_or_else(|| {
                                EmitError::Unsupported {
                                    op: op.op.mnemonic().to_string(),
                                    node: op.name.clone(),
                                }
                            })?;
                        let loc = self.arg_loc(s, arg)?;
                        args.push(Src::Read(read_index(&mut group, loc, bcast)));
                    }
                }
            }
            group.ops.push(GroupOp { op: op.op, args });
        }
        Ok(group)
    }

    /// Places memory and assembles the program.
    fn finish(self, outputs: Outputs) -> Result<ShaderProgram, EmitError> {
        let graph = self.graph;
        let target = self.target;
        let align = target.alignment_elements();
        let unit = align / 16;
        let binding_limit = target.max_storage_buffer_binding_size;
        let too_large = |tensor: &str, len: usize| -> Result<(), EmitError> {
            let bytes = len as u64 * 4;
            if bytes > binding_limit {
                return Err(EmitError::TooLarge {
                    tensor: tensor.to_string(),
                    bytes,
                    limit: binding_limit,
                    limit_name: "max_storage_buffer_binding_size",
                });
            }
            Ok(())
        };
        let (live, steps) = lifetimes(graph, outputs);
        // Requests: node values, then each kernel's scratch.
        let mut requests: Vec<(Lifetime, usize)> = Vec::new();
        let mut node_request: Vec<Option<usize>> = vec![None; graph.len()];
        for id in graph.ids() {
            let node = graph.node(id);
            too_large(&node.name, count(&node.shape))?;
            if let Op::Input { .. } = node.op {
                continue;
            }
            if self.homes.contains_key(&id) {
                continue;
            }
            if let Some(lifetime) = live[id.index()] {
                node_request[id.index()] = Some(requests.len());
                let len = count(&node.shape).max(1);
                requests.push((lifetime, len.div_ceil(unit)));
            }
        }
        let mut scratch: Vec<ScratchRequest> = Vec::new();
        for &(kernel, j, len) in &self.temps {
            too_large(&graph.node(kernel).name, len)?;
            match scratch.iter_mut().find(|(k, _, _)| *k == kernel) {
                Some((_, _, slots)) => slots.push((j, len)),
                None => scratch.push((kernel, 0, vec![(j, len)])),
            }
        }
        for entry in &mut scratch {
            let step = live[entry.0.index()]
                .map(|l| l.first)
                .ok_or_else(|| internal("a kernel with temporaries has no step"))?;
            let total: usize = entry
                .2
                .iter()
                .map(|&(_, len)| len.div_ceil(align) * align)
                .sum();
            entry.1 = requests.len();
            requests.push((
                Lifetime {
                    first: step,
                    last: step,
                },
                total.div_ceil(unit),
            ));
        }
        let placement = place(&requests);
        let offset_of = |r: usize| placement.offsets[r] * unit;
        let arena_len = (placement.arena_len * unit).max(1);
        if arena_len as u64 * 4 > target.max_buffer_size {
            return Err(EmitError::TooLarge {
                tensor: "working memory".to_string(),
                bytes: arena_len as u64 * 4,
                limit: target.max_buffer_size,
                limit_name: "max_buffer_size",
            });
        }
        // Buffers: inputs, the working memory, uploads.
        let mut buffers = Vec::new();
        let mut input_buffer: HashMap<NodeId, usize> = HashMap::new();
        for (kind, id) in graph.inputs() {
            if kind == InputKind::StepSeed {
                continue;
            }
            input_buffer.insert(id, buffers.len());
            buffers.push(BufferSpec {
                name: graph.node(id).name.clone(),
                len: count(graph.shape(id)).max(1),
                role: BufferRole::Input(kind),
            });
        }
        let work = buffers.len();
        buffers.push(BufferSpec {
            name: "arena".to_string(),
            len: arena_len,
            role: BufferRole::Work,
        });
        let mut uploads = Vec::new();
        for (node, what, len, name) in &self.uploads {
            too_large(name, *len)?;
            let buffer = buffers.len();
            buffers.push(BufferSpec {
                name: name.clone(),
                len: *len,
                role: BufferRole::Upload,
            });
            uploads.push(Upload {
                range: Range {
                    buffer,
                    offset: 0,
                    len: *len,
                },
                what: *what,
                node: *node,
            });
        }
        let node_range = |id: NodeId| -> Option<Range> {
            let len = count(graph.shape(id)).max(1);
            if let Some(&buffer) = input_buffer.get(&id) {
                return Some(Range {
                    buffer,
                    offset: 0,
                    len,
                });
            }
            if let Some(Loc::Upload(u)) = self.homes.get(&id) {
                return uploads.get(*u).map(|up| up.range);
            }
            node_request[id.index()].map(|r| Range {
                buffer: work,
                offset: offset_of(r),
                len,
            })
        };
        let resolve = |loc: Loc| -> Result<Range, EmitError> {
            match loc {
                Loc::Node(id) => {
                    node_range(id).ok_or_else(|| internal("a value without memory is bound"))
                }
                Loc::Upload(u) => uploads
                    .get(u)
                    .map(|up| up.range)
                    .ok_or_else(|| internal("a missing upload is bound")),
                Loc::Temp(kernel, j) => {
                    let (_, request, slots) = scratch
                        .iter()
                        .find(|(k, _, _)| *k == kernel)
                        .ok_or_else(|| internal("a temporary without scratch"))?;
                    let mut at = offset_of(*request);
                    for &(v, len) in slots {
                        if v == j {
                            return Ok(Range {
                                buffer: work,
                                offset: at,
                                len,
                            });
                        }
                        at += len.div_ceil(align) * align;
                    }
                    Err(internal("a temporary without a slot"))
                }
            }
        };
        // Every dispatch reads only what an earlier dispatch wrote (or
        // the host provides), and writes nothing it reads.
        let mut written: std::collections::HashSet<Loc> = std::collections::HashSet::new();
        for launch in &self.launches {
            for loc in &launch.locs {
                let provided = match *loc {
                    Loc::Node(id) => matches!(graph.node(id).op, Op::Input { .. }),
                    Loc::Upload(_) => true,
                    Loc::Temp(..) => false,
                };
                if !launch.writes.contains(loc) && !provided && !written.contains(loc) {
                    return Err(EmitError::Internal {
                        message: format!(
                            "dispatch `{}` reads {loc:?} before anything writes it",
                            launch.name
                        ),
                    });
                }
            }
            for loc in &launch.writes {
                if !written.insert(*loc) {
                    return Err(EmitError::Internal {
                        message: format!("dispatch `{}` writes {loc:?} a second time", launch.name),
                    });
                }
            }
        }
        let mut kernels: Vec<ShaderKernel> = Vec::new();
        let mut by_source: HashMap<String, usize> = HashMap::new();
        let mut dispatches = Vec::new();
        for launch in self.launches {
            let ranges = launch
                .locs
                .iter()
                .map(|&l| resolve(l))
                .collect::<Result<Vec<_>, _>>()?;
            let built = launch.built;
            let index = match by_source.get(&built.source) {
                Some(&i) => i,
                None => {
                    kernels.push(ShaderKernel {
                        name: launch.name.clone(),
                        variant: built.variant.clone(),
                        reason: built.reason.clone(),
                        source: built.source.clone(),
                        entry_point: "main".to_string(),
                        bindings: built.bindings.clone(),
                        workgroup_size: built.workgroup_size,
                    });
                    by_source.insert(built.source.clone(), kernels.len() - 1);
                    kernels.len() - 1
                }
            };
            dispatches.push(Dispatch {
                kernel: index,
                ranges,
                workgroups: built.workgroups,
                origin: launch.origin,
            });
        }
        let node_values = graph
            .ids()
            .map(|id| {
                if input_buffer.contains_key(&id) || self.homes.contains_key(&id) {
                    return node_range(id);
                }
                let kept = live[id.index()].is_some_and(|l| l.last >= steps);
                if kept {
                    node_range(id)
                } else {
                    None
                }
            })
            .collect();
        Ok(ShaderProgram {
            graph: graph.clone(),
            buffers,
            kernels,
            dispatches,
            uploads,
            node_values,
        })
    }
}

/// The index of read `(loc, bcast)` in the group, added when new.
fn read_index(group: &mut Group, loc: Loc, bcast: Bcast) -> usize {
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
