//! Pass `fuse`: regroups a finished graph (after `dce`) into fused kernels
//! ([`crate::fused`]), the units a compiled backend turns into one loop
//! nest each. It is purely a regrouping: every op of the input graph
//! appears, with its operands and attributes, in exactly one kernel body
//! (constants, and scalars computed from inputs alone, may be recomputed in
//! each kernel that reads them), so the fused graph computes the same
//! values.
//!
//! How nodes are grouped:
//! - Every op starts in a group of its own; graph inputs stay outside.
//!   Fills and scalar pointwise ops of inputs and fills alone (the
//!   learning rate's products, Adam's bias corrections) are *free*: they
//!   join no group and are copied into every kernel that reads them (one
//!   that is an output, like Adam's step count, also gets a kernel).
//! - Nodes are visited in arena order; each tries to join the groups of
//!   its operands, the latest operand first (so an activation derivative
//!   joins the backward matrix product that made its gradient, not the
//!   forward kernel that made the activation). A cost's gradient first
//!   joins the group of the cost on the same operands.
//! - Two groups merge when the result is a valid kernel: no softmax and no
//!   convolution gradient (those stay single-op kernels); at most one
//!   *anchor* — a matrix product, a convolution's forward pass or a
//!   pooling's gradient — whose operands come from outside the kernel (an
//!   epilogue, never a prologue); a pooling only in a convolution's kernel
//!   and consumed by nothing in it (conv + bias + activation + pooling is
//!   one kernel; the pooling ends it); no anchor together with a cost; a sum over
//!   axes is consumed by nothing else in the kernel unless the kernel is a
//!   cost (a reduction ends a loop); both groups on the same side of the
//!   update (below); no path from one group to the other through a
//!   third, so the kernels stay acyclic; and at most
//!   [`MAX_KERNEL_INPUTS`] values read from outside and
//!   [`MAX_KERNEL_OUTPUTS`] values yielded (a long chain of elementwise
//!   expressions becomes several kernels).
//! - A node belongs to the *update* when no output but new parameters and
//!   new optimizer state depends on it. Update nodes only group with update
//!   nodes, so each parameter's decay, momentum and step form one
//!   elementwise kernel (the free scalars they share are copied, which
//!   keeps parameters apart).
//!
//! Kernels are emitted in a topological order (the earliest first among
//! those ready), after all graph inputs; a kernel yields every body value
//! read outside it or named by an output.

use crate::fused::{Arg, FusedKernel, FusedOp, KernelKind};
use crate::graph::{Graph, Node, NodeId, OutputKind};
use crate::ops::{Fusion as Class, Op};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

/// The most values a fused kernel reads from outside it (graph inputs and
/// other kernels' values): what a backend's kernel call can bind. WGSL's
/// default limit is 8 storage buffers a shader, its stores included: a
/// kernel that reads 7 can always be written as shaders of one store each
/// (a long sum of gradient contributions, as an unrolled recurrence makes,
/// would otherwise read more).
pub const MAX_KERNEL_INPUTS: usize = 7;
/// The most values a fused kernel yields.
pub const MAX_KERNEL_OUTPUTS: usize = 8;

/// The fused form of `graph`. A graph that already holds fused kernels is
/// returned unchanged.
pub fn fuse(graph: &Graph) -> Graph {
    if graph
        .nodes()
        .iter()
        .any(|n| matches!(n.op, Op::Fused(_) | Op::KernelOutput { .. }))
    {
        return graph.clone();
    }
    let mut fusion = Fusion::new(graph);
    fusion.group();
    fusion.emit()
}

/// The number of kernels of a fused graph: the nodes that compute
/// something (inputs and kernel outputs, which only name values, do not
/// count). On an unfused graph, the number of ops.
pub fn kernel_count(graph: &Graph) -> usize {
    graph
        .nodes()
        .iter()
        .filter(|n| !matches!(n.op, Op::Input { .. } | Op::KernelOutput { .. }))
        .count()
}

/// The grouping state: a union-find over the nodes that belong to kernels.
struct Fusion<'g> {
    graph: &'g Graph,
    classes: Vec<Class>,
    consumers: Vec<Vec<usize>>,
    /// Nodes copied into each kernel that reads them (one named by an
    /// output also gets a kernel of its own).
    free: Vec<bool>,
    /// Nodes only new parameters and new state depend on.
    update: Vec<bool>,
    /// Nodes named by an output. (Parameter reads are not kept alive: after
    /// the update nothing needs them; one that is no kernel's value
    /// becomes `None`.)
    needed: Vec<bool>,
    parent: Vec<usize>,
    /// The members of each group, at its root, in arena order.
    members: Vec<Vec<usize>>,
}

impl<'g> Fusion<'g> {
    fn new(graph: &'g Graph) -> Self {
        let n = graph.len();
        let nodes = graph.nodes();
        let classes: Vec<Class> = nodes.iter().map(|node| node.op.def().fusion).collect();
        let mut consumers = vec![Vec::new(); n];
        for (index, node) in nodes.iter().enumerate() {
            for input in &node.inputs {
                if let Some(list) = consumers.get_mut(input.index()) {
                    if list.last() != Some(&index) {
                        list.push(index);
                    }
                }
            }
        }
        let mut needed = vec![false; n];
        let mut main = vec![false; n];
        for output in &graph.outputs {
            if let Some(flag) = needed.get_mut(output.node.index()) {
                *flag = true;
            }
            let update_output = matches!(
                output.kind,
                OutputKind::NewParam(_) | OutputKind::NewState(_)
            );
            if !update_output {
                if let Some(flag) = main.get_mut(output.node.index()) {
                    *flag = true;
                }
            }
        }
        for index in (0..n).rev() {
            if main[index] {
                for input in &nodes[index].inputs {
                    if let Some(flag) = main.get_mut(input.index()) {
                        *flag = true;
                    }
                }
            }
        }
        let update = main.iter().map(|m| !m).collect();
        let mut free = vec![false; n];
        for (index, node) in nodes.iter().enumerate() {
            let copied = match node.op {
                Op::Fill { .. } => true,
                Op::DropoutMask { .. } | Op::Random { .. } => false,
                _ => {
                    classes[index] == Class::Pointwise
                        && node.shape.is_empty()
                        && node.inputs.iter().all(|i| {
                            i.index() < index
                                && (classes[i.index()] == Class::Input || free[i.index()])
                        })
                }
            };
            free[index] = copied;
        }
        Fusion {
            graph,
            classes,
            consumers,
            free,
            update,
            needed,
            parent: (0..n).collect(),
            members: (0..n).map(|i| vec![i]).collect(),
        }
    }

    fn node(&self, index: usize) -> &'g Node {
        &self.graph.nodes()[index]
    }

    /// Whether the node belongs to a kernel: not an input, and not copied
    /// (unless an output needs it).
    fn grouped(&self, index: usize) -> bool {
        self.classes[index] != Class::Input && (!self.free[index] || self.needed[index])
    }

    /// Whether readers of the node get its value from its kernel (not by
    /// copying it).
    fn read_from_kernel(&self, index: usize) -> bool {
        self.classes[index] != Class::Input && !self.free[index]
    }

    fn root(&self, mut index: usize) -> usize {
        while self.parent[index] != index {
            index = self.parent[index];
        }
        index
    }

    /// Visits the nodes in order and merges each into its operands' groups
    /// where that gives a valid kernel.
    fn group(&mut self) {
        for index in 0..self.graph.len() {
            if !self.grouped(index) {
                continue;
            }
            let node = self.node(index);
            if let Op::CostGrad(_) = node.op {
                let sibling = (0..index).find(|&j| {
                    matches!(self.node(j).op, Op::Cost(_))
                        && self.node(j).inputs.get(..2) == node.inputs.get(..2)
                });
                if let Some(sibling) = sibling {
                    self.try_merge(sibling, index);
                }
            }
            let mut producers: Vec<usize> = node
                .inputs
                .iter()
                .map(|i| i.index())
                .filter(|&i| i < index && self.read_from_kernel(i))
                .collect();
            producers.sort_unstable_by(|a, b| b.cmp(a));
            producers.dedup();
            for producer in producers {
                self.try_merge(producer, index);
            }
        }
    }

    /// Merges the groups of `a` and `b` when the result is a valid kernel.
    fn try_merge(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb || !self.compatible(ra, rb) || self.creates_cycle(ra, rb) {
            return;
        }
        let (keep, gone) = if ra < rb { (ra, rb) } else { (rb, ra) };
        let moved = std::mem::take(&mut self.members[gone]);
        let kept = std::mem::take(&mut self.members[keep]);
        self.members[keep] = merge_sorted(kept, moved);
        self.parent[gone] = keep;
    }

    /// Whether the union of the groups at roots `ra` and `rb` is a kernel
    /// the rules allow.
    fn compatible(&self, ra: usize, rb: usize) -> bool {
        let all: Vec<usize> = self.members[ra]
            .iter()
            .chain(&self.members[rb])
            .copied()
            .collect();
        if self.update[all[0]] != self.update[self.members[rb][0]] {
            return false;
        }
        let count = |c: Class| all.iter().filter(|&&m| self.classes[m] == c).count();
        // The op whose result the others take as their epilogue.
        let anchors = count(Class::Product) + count(Class::Conv) + count(Class::PoolGrad);
        let costs = count(Class::Cost);
        let pools = count(Class::Pool);
        if count(Class::Single) > 0
            || anchors > 1
            || (anchors > 0 && costs > 0)
            || pools > 1
            || (pools > 0 && count(Class::Conv) == 0)
        {
            return false;
        }
        let inside = |i: usize| {
            let r = self.root(i);
            r == ra || r == rb
        };
        for &m in &all {
            match self.classes[m] {
                Class::Product | Class::Conv | Class::PoolGrad
                    if self.node(m).inputs.iter().any(|i| inside(i.index())) =>
                {
                    return false;
                }
                // A pooling ends its convolution's kernel.
                Class::Pool if self.consumers[m].iter().any(|&c| inside(c)) => {
                    return false;
                }
                Class::Reduction if costs == 0 && self.consumers[m].iter().any(|&c| inside(c)) => {
                    return false;
                }
                _ => {}
            }
        }
        self.reads_from_outside(&all, &inside) <= MAX_KERNEL_INPUTS
            && self.yields(&all, &inside) <= MAX_KERNEL_OUTPUTS
    }

    /// The distinct values a kernel of `members` would read from outside:
    /// other kernels' values and graph inputs, those of the free scalars
    /// it copies counted through to what they read (an over-count at
    /// worst).
    fn reads_from_outside(&self, members: &[usize], inside: &dyn Fn(usize) -> bool) -> usize {
        let mut reads = BTreeSet::new();
        let mut stack: Vec<usize> = members
            .iter()
            .flat_map(|&m| self.node(m).inputs.iter().map(|i| i.index()))
            .collect();
        let mut seen = BTreeSet::new();
        while let Some(i) = stack.pop() {
            if !seen.insert(i) || (self.grouped(i) && inside(i)) {
                continue;
            }
            if self.free[i] {
                stack.extend(self.node(i).inputs.iter().map(|j| j.index()));
            } else {
                reads.insert(i);
            }
        }
        reads.len()
    }

    /// The values a kernel of `members` would yield: those read outside it
    /// or named by an output.
    fn yields(&self, members: &[usize], inside: &dyn Fn(usize) -> bool) -> usize {
        members
            .iter()
            .filter(|&&m| {
                self.needed[m]
                    || self.consumers[m]
                        .iter()
                        .any(|&c| !inside(c) || !self.grouped(c))
            })
            .count()
    }

    /// The groups a group's values flow into, itself excepted.
    fn successors(&self, root: usize) -> BTreeSet<usize> {
        self.members[root]
            .iter()
            .filter(|&&m| !self.free[m])
            .flat_map(|&m| self.consumers[m].iter())
            .filter(|&&c| self.grouped(c))
            .map(|&c| self.root(c))
            .filter(|&r| r != root)
            .collect()
    }

    /// Whether merging would close a cycle: a path between the two groups
    /// through a third.
    fn creates_cycle(&self, ra: usize, rb: usize) -> bool {
        self.reaches_through(ra, rb) || self.reaches_through(rb, ra)
    }

    /// Whether a path leads from group `from` to group `to` through at
    /// least one other group. Nodes are in topological order, so a group
    /// on such a path has a member before the last member of `to`: the
    /// search never leaves that window (which keeps long unrolled graphs
    /// linear to fuse).
    fn reaches_through(&self, from: usize, to: usize) -> bool {
        let last = self.members[to].last().copied().unwrap_or(0);
        let before_end = |g: usize| self.members[g].first().is_some_and(|&m| m < last);
        let mut seen = std::collections::HashSet::new();
        let mut stack: Vec<usize> = Vec::new();
        self.each_successor(from, |r| {
            if r != to && before_end(r) {
                stack.push(r);
            }
        });
        let mut found = false;
        while let Some(group) = stack.pop() {
            if group == to {
                return true;
            }
            if seen.insert(group) {
                self.each_successor(group, |r| {
                    if r == to {
                        found = true;
                    } else if before_end(r) {
                        stack.push(r);
                    }
                });
                if found {
                    return true;
                }
            }
        }
        false
    }

    /// Calls `f` with each group a group's values flow into (itself
    /// excepted; a group may come more than once).
    fn each_successor(&self, root: usize, mut f: impl FnMut(usize)) {
        for &m in &self.members[root] {
            if self.free[m] {
                continue;
            }
            for &c in &self.consumers[m] {
                if self.grouped(c) {
                    let r = self.root(c);
                    if r != root {
                        f(r);
                    }
                }
            }
        }
    }

    /// The kind of the kernel of the group at `root`.
    fn kind(&self, root: usize) -> KernelKind {
        let has = |c: Class| self.members[root].iter().any(|&m| self.classes[m] == c);
        let alone = self.members[root].len() == 1;
        // A lone convolution or pooling gradient, and a pooling with no
        // convolution, are single-op kernels.
        let lone_anchor = alone && (has(Class::Conv) || has(Class::PoolGrad));
        if has(Class::Single) || lone_anchor || (has(Class::Pool) && !has(Class::Conv)) {
            KernelKind::Single
        } else if has(Class::Conv) {
            KernelKind::ConvEpilogue
        } else if has(Class::PoolGrad) {
            KernelKind::PoolGradEpilogue
        } else if has(Class::Product) {
            KernelKind::MatmulEpilogue
        } else if has(Class::Cost) {
            KernelKind::Cost
        } else if self.update[root] {
            KernelKind::Update
        } else {
            KernelKind::Elementwise
        }
    }

    /// Builds the fused graph: inputs first, then one node per kernel (and
    /// a kernel-output node per further value it yields).
    fn emit(&self) -> Graph {
        let graph = self.graph;
        let n = graph.len();
        let mut new = Graph::new(graph.kind, graph.batch_size);
        let mut map: Vec<Option<NodeId>> = vec![None; n];
        for (index, slot) in map.iter_mut().enumerate() {
            if self.classes[index] == Class::Input {
                *slot = Some(new.push_unchecked(self.node(index).clone()));
            }
        }
        let roots: Vec<usize> = (0..n)
            .filter(|&i| self.grouped(i) && self.root(i) == i)
            .collect();
        let mut waiting = vec![0usize; n];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &root in &roots {
            for next in self.successors(root) {
                waiting[next] += 1;
                dependents[root].push(next);
            }
        }
        let mut ready: BinaryHeap<Reverse<usize>> = roots
            .iter()
            .filter(|&&r| waiting[r] == 0)
            .map(|&r| Reverse(r))
            .collect();
        while let Some(Reverse(root)) = ready.pop() {
            self.emit_kernel(root, &mut new, &mut map);
            for &next in &dependents[root] {
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.push(Reverse(next));
                }
            }
        }
        new.outputs = graph
            .outputs
            .iter()
            .map(|o| {
                let mut o = o.clone();
                o.node = map[o.node.index()].unwrap_or(o.node);
                o
            })
            .collect();
        new.param_reads = graph
            .param_reads
            .iter()
            .map(|r| r.and_then(|id| map.get(id.index()).copied().flatten()))
            .collect();
        new
    }

    /// Appends the kernel of the group at `root`, its operands already in
    /// `new` (through `map`).
    fn emit_kernel(&self, root: usize, new: &mut Graph, map: &mut [Option<NodeId>]) {
        let mut body = Body {
            fusion: self,
            ops: Vec::new(),
            local: vec![None; self.graph.len()],
            inputs: Vec::new(),
        };
        for &m in &self.members[root] {
            body.push(m, map);
        }
        let mut yielded: Vec<usize> = self.members[root]
            .iter()
            .copied()
            .filter(|&m| {
                self.needed[m]
                    || self.consumers[m]
                        .iter()
                        .any(|&c| self.grouped(c) && self.root(c) != root)
            })
            .collect();
        if yielded.is_empty() {
            yielded.extend(self.members[root].last());
        }
        let outputs: Vec<usize> = yielded.iter().filter_map(|&m| body.local[m]).collect();
        let first = yielded[0];
        let kernel = FusedKernel {
            kind: self.kind(root),
            body: body.ops,
            outputs,
        };
        let id = new.push_unchecked(Node {
            op: Op::Fused(Box::new(kernel)),
            inputs: body.inputs,
            shape: self.node(first).shape.clone(),
            name: self.node(first).name.clone(),
        });
        map[first] = Some(id);
        for (index, &m) in yielded.iter().enumerate().skip(1) {
            let node = self.node(m);
            map[m] = Some(new.push_unchecked(Node {
                op: Op::KernelOutput {
                    index,
                    shape: node.shape.clone(),
                },
                inputs: vec![id],
                shape: node.shape.clone(),
                name: node.name.clone(),
            }));
        }
    }
}

/// A kernel body under construction.
struct Body<'f, 'g> {
    fusion: &'f Fusion<'g>,
    ops: Vec<FusedOp>,
    /// The body value of each original node computed here.
    local: Vec<Option<usize>>,
    /// The kernel's inputs (nodes of the new graph), in order of first use.
    inputs: Vec<NodeId>,
}

impl Body<'_, '_> {
    /// Appends original node `index` (a member or a free node), its free
    /// operands first.
    fn push(&mut self, index: usize, map: &[Option<NodeId>]) -> usize {
        if let Some(j) = self.local[index] {
            return j;
        }
        let node = self.fusion.node(index);
        let args = node
            .inputs
            .iter()
            .map(|i| self.arg(i.index(), map))
            .collect();
        self.ops.push(FusedOp {
            op: node.op.clone(),
            args,
            shape: node.shape.clone(),
            name: node.name.clone(),
        });
        let j = self.ops.len() - 1;
        self.local[index] = Some(j);
        j
    }

    /// The operand for original node `index`: a body value, or an input.
    fn arg(&mut self, index: usize, map: &[Option<NodeId>]) -> Arg {
        if let Some(j) = self.local[index] {
            return Arg::Value(j);
        }
        if self.fusion.free[index] {
            return Arg::Value(self.push(index, map));
        }
        // Groups are emitted in a topological order, so every outside
        // operand already has its node in the new graph.
        let outside = map[index].unwrap_or(NodeId::new(index));
        let k = match self.inputs.iter().position(|&i| i == outside) {
            Some(k) => k,
            None => {
                self.inputs.push(outside);
                self.inputs.len() - 1
            }
        };
        Arg::Input(k)
    }
}

/// The union of two ascending lists of distinct members, ascending.
fn merge_sorted(a: Vec<usize>, b: Vec<usize>) -> Vec<usize> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}
