//! Memory planning: where every tensor a step computes lives, in one arena
//! allocated once per phase, so that nothing is allocated inside a step.
//!
//! [`plan_memory`] is an analysis of a finished graph (after `fuse`, or an
//! unfused graph after `dce`): it returns a side table ([`MemoryPlan`]) and
//! leaves the graph alone. Units are `f32` elements throughout.
//!
//! **Steps.** The graph runs as a sequence of *steps*: every node but graph
//! inputs and kernel outputs is one step (a fused kernel, or a single op of
//! an unfused graph), numbered in arena order. A kernel-output node
//! computes nothing: it names a value its kernel writes during the
//! kernel's step.
//!
//! **Lifetimes.** A value is live from the step that writes it to the last
//! step that reads it, both included ([`Lifetime`]); a value named by a
//! graph output lives to the end (`last == steps`, one past the last step),
//! since whoever runs the graph reads it after the step. Which outputs are
//! read after the step is the runtime's choice, given as [`Outputs`]: all
//! of them (the default), or all but the gradients, which the training
//! loop never reads (they then die at their last reader, the update). A
//! value nobody reads still lives during its own step, since its kernel
//! writes it. Because both ends are included, a kernel's inputs and
//! outputs never share memory: no kernel works in place.
//!
//! **What gets a buffer.**
//! - Graph inputs (data, target, parameters, optimizer state, learning
//!   rate, step seed) are *external*: the runtime owns them across steps,
//!   and they are listed ([`External`]) but never placed in the arena.
//! - Every other node's value gets a buffer of its own: a fused kernel's
//!   output 0 (the node itself) and each further output (its
//!   `kernel_output` node), since the kernel writes all of them in one
//!   step; in an unfused graph, every op (a `reshape` is copied, not
//!   aliased).
//! - Each fused kernel whose body holds values it does not yield gets a
//!   *scratch* buffer ([`Scratch`]) live during its own step only, holding
//!   one slot per stored temporary, back to back. Which temporaries are
//!   stored is the code generator's choice, given as [`Temporaries`]:
//!   every one (the default, valid for any lowering), or only those a
//!   loop-fusing lowering cannot keep in registers (matrix products,
//!   reductions, costs). Slots within a kernel are never reused, so the
//!   layout is valid however the body's loops are ordered. Since scratch
//!   buffers of different kernels are never live at once, they all share
//!   the same memory.
//! - No aliasing of external buffers: a new parameter or new optimizer
//!   state (`new(NAME)`) is written to an arena buffer, never over the old
//!   value, and the runtime copies it out (or swaps) after the step.
//!
//! **Placement.** Every buffer starts at a multiple of [`ALIGN`] floats
//! (64 bytes) and reserves its length rounded up to [`ALIGN`]. The
//! allocator ([`place`]) is greedy: it takes the buffers in an order (the
//! largest first, and two other orders, keeping the smallest arena) and
//! puts each at the lowest offset where it overlaps no placed buffer that
//! is live at the same time. No placement needs less than the most memory
//! live at one step ([`MemoryPlan::peak_live`]); on the repository's nets
//! the greedy arena reaches that bound.
//!
//! **Invariant** (re-checked by [`MemoryPlan::verify`]): two buffers whose
//! lifetimes overlap never overlap in memory, every buffer is aligned and
//! lies inside the arena, and each kernel's scratch slots lie inside its
//! scratch buffer without overlapping each other.
//! [`MemoryPlan::verify_for`] also checks the plan against its graph.
//!
//! A phase runs the graphs of its batch sizes (the full batch, a shorter
//! last batch, inference): its arena is the largest of their `arena_len`.

use crate::fused::FusedKernel;
use crate::graph::{Graph, InputKind, NodeId, OutputKind};
use crate::ops::Op;
use std::fmt;

/// Which graph outputs are read after the step, and so live to the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Outputs {
    /// Every output.
    #[default]
    All,
    /// Every output but the gradients (`OutputKind::Gradient`): what the
    /// training loop reads (costs, correct counts, predictions, new
    /// parameters and new optimizer state).
    StepResults,
}

impl Outputs {
    /// Whether an output of `kind` lives to the end.
    pub fn keeps(self, kind: OutputKind) -> bool {
        match self {
            Outputs::All => true,
            Outputs::StepResults => !matches!(kind, OutputKind::Gradient(_)),
        }
    }
}

/// Which of a fused kernel's temporaries (body values it does not yield)
/// get a slot in its scratch buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Temporaries {
    /// Every temporary: valid however the kernel is lowered.
    #[default]
    Every,
    /// Only temporaries that are not pointwise (matrix products, sums over
    /// axes, costs): a lowering that fuses the body's loops computes
    /// pointwise values (broadcasts and constants included) in registers.
    NonPointwise,
}

impl Temporaries {
    /// Whether body value `value` of `kernel` needs memory of its own.
    pub fn stores(self, kernel: &FusedKernel, value: usize) -> bool {
        if kernel.outputs.contains(&value) {
            return false;
        }
        match self {
            Temporaries::Every => true,
            Temporaries::NonPointwise => kernel
                .body
                .get(value)
                .is_some_and(|micro| !is_pointwise(&micro.op)),
        }
    }
}

/// Whether `op` computes each element from the same position of its
/// operands (broadcasts, reshapes and fills included): the ops a fused
/// loop keeps in registers.
fn is_pointwise(op: &Op) -> bool {
    op.is_pointwise()
}

/// What the runtime and the code generator promise the planner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PlanOptions {
    pub outputs: Outputs,
    pub temporaries: Temporaries,
}

/// The alignment of every buffer, in `f32` elements (64 bytes).
pub const ALIGN: usize = 16;

/// `len` rounded up to a multiple of [`ALIGN`].
pub fn align_up(len: usize) -> usize {
    len.div_ceil(ALIGN).saturating_mul(ALIGN)
}

/// The steps during which a buffer holds a value, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lifetime {
    pub first: usize,
    pub last: usize,
}

impl Lifetime {
    /// Whether some step lies in both lifetimes.
    pub fn overlaps(self, other: Lifetime) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// What a buffer holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufferKind {
    /// The value of its node: an op's result, a kernel's output 0, or a
    /// further kernel output (its `kernel_output` node).
    Value,
    /// The temporaries of its fused kernel ([`Scratch`]).
    Scratch,
}

/// One buffer of the arena.
#[derive(Clone, Debug, PartialEq)]
pub struct Buffer {
    /// The node whose value this is, or the kernel whose scratch this is.
    pub node: NodeId,
    pub kind: BufferKind,
    /// Where the buffer starts in the arena, a multiple of [`ALIGN`].
    pub offset: usize,
    /// The elements it holds; it reserves `align_up(len)`.
    pub len: usize,
    pub live: Lifetime,
    /// The node's name (a scratch buffer: the kernel's).
    pub name: String,
}

impl Buffer {
    /// The elements the buffer reserves: its length, aligned.
    pub fn extent(&self) -> usize {
        align_up(self.len)
    }

    /// The first element past the buffer's reservation.
    pub fn end(&self) -> usize {
        self.offset.saturating_add(self.extent())
    }
}

/// The slots of a fused kernel's temporaries in its scratch buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct Scratch {
    pub kernel: NodeId,
    /// `(body value, arena offset, length)` for every body value the kernel
    /// does not yield, in body order.
    pub slots: Vec<(usize, usize, usize)>,
}

/// A graph input: owned by the runtime, outside the arena.
#[derive(Clone, Debug, PartialEq)]
pub struct External {
    pub node: NodeId,
    pub kind: InputKind,
    pub len: usize,
    pub name: String,
}

/// Where every value of a graph lives during a step.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryPlan {
    /// The elements of the arena: the end of the furthest buffer.
    pub arena_len: usize,
    /// The number of steps (kernels, or ops of an unfused graph); a
    /// lifetime ending at `steps` lasts past the step (a graph output).
    pub steps: usize,
    /// Value buffers in arena (node) order, each kernel's scratch buffer
    /// after its value (`buffer` and `scratch_of` search by it).
    pub buffers: Vec<Buffer>,
    /// The temporaries of each fused kernel that has any.
    pub scratch: Vec<Scratch>,
    /// The graph inputs, not placed.
    pub externals: Vec<External>,
    /// The options the plan was made under.
    pub options: PlanOptions,
    /// A heading for the printer: graph kind and batch size.
    pub title: String,
}

/// A broken invariant of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// Two buffers live at the same step share memory.
    Overlap { a: String, b: String },
    /// A buffer does not start at a multiple of [`ALIGN`].
    Misaligned { buffer: String },
    /// A buffer reaches past the arena.
    OutsideArena { buffer: String },
    /// A scratch slot lies outside its kernel's scratch buffer, or on
    /// another slot of the kernel.
    Slot { kernel: NodeId, value: usize },
    /// The plan does not match the graph it is checked against.
    Graph { node: NodeId, why: &'static str },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Overlap { a, b } => {
                write!(f, "buffers {a} and {b} are live together and overlap")
            }
            PlanError::Misaligned { buffer } => {
                write!(f, "buffer {buffer} is not aligned to {ALIGN} floats")
            }
            PlanError::OutsideArena { buffer } => {
                write!(f, "buffer {buffer} reaches past the arena")
            }
            PlanError::Slot { kernel, value } => write!(
                f,
                "scratch slot of ${value} in kernel {kernel} is outside its buffer or overlaps another slot"
            ),
            PlanError::Graph { node, why } => write!(f, "{node}: {why}"),
        }
    }
}

impl std::error::Error for PlanError {}

fn element_count(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// The step of every node (`None` for inputs and kernel outputs) and the
/// number of steps.
fn steps_of(graph: &Graph) -> (Vec<Option<usize>>, usize) {
    let mut count = 0;
    let steps = graph
        .nodes()
        .iter()
        .map(|node| match node.op {
            Op::Input { .. } | Op::KernelOutput { .. } => None,
            _ => {
                count += 1;
                Some(count - 1)
            }
        })
        .collect();
    (steps, count)
}

/// The lifetime of every value of `graph` (`None` for graph inputs), and
/// the number of steps; the outputs `outputs` keeps live to the end.
pub fn lifetimes(graph: &Graph, outputs: Outputs) -> (Vec<Option<Lifetime>>, usize) {
    let (steps, count) = steps_of(graph);
    let nodes = graph.nodes();
    // A kernel output is written during its kernel's step.
    let written: Vec<Option<usize>> = nodes
        .iter()
        .enumerate()
        .map(|(index, node)| match node.op {
            Op::Input { .. } => None,
            Op::KernelOutput { .. } => Some(
                node.inputs
                    .first()
                    .and_then(|k| steps.get(k.index()).copied().flatten())
                    .unwrap_or(0),
            ),
            _ => steps[index],
        })
        .collect();
    let mut live: Vec<Option<Lifetime>> = written
        .iter()
        .map(|w| w.map(|first| Lifetime { first, last: first }))
        .collect();
    for (index, node) in nodes.iter().enumerate() {
        // Only steps read; a kernel output names its kernel's value.
        let Some(step) = steps[index] else { continue };
        for input in &node.inputs {
            if let Some(Some(lifetime)) = live.get_mut(input.index()) {
                lifetime.last = lifetime.last.max(step);
            }
        }
    }
    for output in graph.outputs.iter().filter(|o| outputs.keeps(o.kind)) {
        if let Some(Some(lifetime)) = live.get_mut(output.node.index()) {
            lifetime.last = count;
        }
    }
    (live, count)
}

/// The memory plan of `graph` under the default options (every output
/// read after the step, every kernel temporary stored): liveness, then
/// greedy placement in one arena. Valid for fused and unfused graphs; the
/// graph should verify.
pub fn plan_memory(graph: &Graph) -> MemoryPlan {
    plan_memory_with(graph, PlanOptions::default())
}

/// The memory plan of `graph` under `options`.
pub fn plan_memory_with(graph: &Graph, options: PlanOptions) -> MemoryPlan {
    let (live, steps) = lifetimes(graph, options.outputs);
    let mut buffers = Vec::new();
    let mut scratch = Vec::new();
    let mut externals = Vec::new();
    // Scratch slot lengths, kept until the scratch buffer is placed.
    let mut slot_lens: Vec<Vec<(usize, usize)>> = Vec::new();
    for (index, node) in graph.nodes().iter().enumerate() {
        let id = NodeId::new(index);
        if let Op::Input { kind, .. } = node.op {
            externals.push(External {
                node: id,
                kind,
                len: element_count(&node.shape),
                name: node.name.clone(),
            });
            continue;
        }
        let Some(lifetime) = live[index] else {
            continue;
        };
        buffers.push(Buffer {
            node: id,
            kind: BufferKind::Value,
            offset: 0,
            len: element_count(&node.shape),
            live: lifetime,
            name: node.name.clone(),
        });
        if let Op::Fused(kernel) = &node.op {
            let temporaries: Vec<(usize, usize)> = kernel
                .body
                .iter()
                .enumerate()
                .filter(|&(j, _)| options.temporaries.stores(kernel, j))
                .map(|(j, micro)| (j, element_count(&micro.shape)))
                .collect();
            if temporaries.is_empty() {
                continue;
            }
            let len = temporaries.iter().map(|&(_, len)| align_up(len)).sum();
            buffers.push(Buffer {
                node: id,
                kind: BufferKind::Scratch,
                offset: 0,
                len,
                live: Lifetime {
                    first: lifetime.first,
                    last: lifetime.first,
                },
                name: node.name.clone(),
            });
            scratch.push(Scratch {
                kernel: id,
                slots: Vec::new(),
            });
            slot_lens.push(temporaries);
        }
    }
    let requests: Vec<(Lifetime, usize)> = buffers.iter().map(|b| (b.live, b.len)).collect();
    let placement = place(&requests);
    for (buffer, &offset) in buffers.iter_mut().zip(&placement.offsets) {
        buffer.offset = offset;
    }
    // The scratch buffers, in node order as the kernels of `scratch`.
    let bases = buffers
        .iter()
        .filter(|b| b.kind == BufferKind::Scratch)
        .map(|b| b.offset);
    for ((entry, lens), base) in scratch.iter_mut().zip(slot_lens).zip(bases) {
        let mut at = base;
        for (value, len) in lens {
            entry.slots.push((value, at, len));
            at += align_up(len);
        }
    }
    MemoryPlan {
        arena_len: placement.arena_len,
        steps,
        buffers,
        scratch,
        externals,
        options,
        title: format!("{} (batch {})", graph.kind, graph.batch_size),
    }
}

/// Offsets for a set of buffers, and the arena they need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The offset of each request, in request order; multiples of
    /// [`ALIGN`].
    pub offsets: Vec<usize>,
    pub arena_len: usize,
}

/// Places buffers given as `(lifetime, length)` so that two whose
/// lifetimes overlap never overlap in memory, each at a multiple of
/// [`ALIGN`] and reserving its length aligned. Greedy first fit, tried in
/// three orders (largest first; largest `length x duration` first; earliest
/// start first), keeping the smallest arena (the first order on ties).
pub fn place(requests: &[(Lifetime, usize)]) -> Placement {
    let extent = |i: usize| align_up(requests[i].1);
    let duration = |i: usize| requests[i].0.last.saturating_sub(requests[i].0.first) + 1;
    let mut by_size: Vec<usize> = (0..requests.len()).collect();
    by_size.sort_by_key(|&i| (std::cmp::Reverse(extent(i)), requests[i].0.first, i));
    let mut by_area: Vec<usize> = (0..requests.len()).collect();
    by_area.sort_by_key(|&i| {
        (
            std::cmp::Reverse(extent(i).saturating_mul(duration(i))),
            requests[i].0.first,
            i,
        )
    });
    let mut by_start: Vec<usize> = (0..requests.len()).collect();
    by_start.sort_by_key(|&i| (requests[i].0.first, std::cmp::Reverse(extent(i)), i));
    let mut best: Option<Placement> = None;
    // Each order costs a pass over every pair of values live together; a
    // graph of thousands (an unrolled recurrence) is placed by size alone.
    let orders = if requests.len() > ONE_ORDER_ABOVE {
        vec![by_size]
    } else {
        vec![by_size, by_area, by_start]
    };
    for order in orders {
        let placement = first_fit(requests, &order);
        if best
            .as_ref()
            .is_none_or(|b| placement.arena_len < b.arena_len)
        {
            best = Some(placement);
        }
    }
    best.unwrap_or(Placement {
        offsets: Vec::new(),
        arena_len: 0,
    })
}

/// Places the requests in `order`, each at the lowest aligned offset free
/// of every placed request live at the same time.
pub fn first_fit(requests: &[(Lifetime, usize)], order: &[usize]) -> Placement {
    let mut offsets = vec![0usize; requests.len()];
    let mut arena_len = 0;
    // The placed requests (start, end, lifetime), kept in ascending order
    // of start: a new request walks them in that order, skipping those
    // not live at the same time, and stops at the first gap that fits
    // (the same offset as sorting the live ones first; no sort per
    // request, which long unrolled graphs made the cost of compiling).
    let mut placed: Vec<(usize, usize, Lifetime)> = Vec::with_capacity(order.len());
    for &i in order {
        let (live, len) = requests[i];
        let size = align_up(len);
        let mut offset = 0;
        if size > 0 {
            for &(start, end, other) in &placed {
                if !other.overlaps(live) {
                    continue;
                }
                if offset + size <= start {
                    break;
                }
                offset = offset.max(end);
            }
        }
        offsets[i] = offset;
        arena_len = arena_len.max(offset + size);
        if len > 0 {
            let at = placed.partition_point(|&(start, _, _)| start <= offset);
            placed.insert(at, (offset, offset + size, live));
        }
    }
    Placement { offsets, arena_len }
}

/// Above this many requests, [`place`] tries one order, not three.
const ONE_ORDER_ABOVE: usize = 1_000;

impl MemoryPlan {
    /// The arena offset of a node's value, if it has a buffer.
    pub fn offset(&self, node: NodeId) -> Option<usize> {
        self.buffer(node).map(|b| b.offset)
    }

    /// The value buffer of a node (a binary search: the buffers are in
    /// node order, each value before its kernel's scratch).
    pub fn buffer(&self, node: NodeId) -> Option<&Buffer> {
        let at = self
            .buffers
            .partition_point(|b| b.node.index() < node.index());
        self.buffers
            .get(at)
            .filter(|b| b.node == node && b.kind == BufferKind::Value)
    }

    /// The scratch slots of a fused kernel, if it has temporaries (in
    /// kernel order: a binary search).
    pub fn scratch_of(&self, kernel: NodeId) -> Option<&Scratch> {
        let at = self
            .scratch
            .partition_point(|s| s.kernel.index() < kernel.index());
        self.scratch.get(at).filter(|s| s.kernel == kernel)
    }

    /// The elements all buffers reserve together: the arena a plan without
    /// reuse would need.
    pub fn naive_len(&self) -> usize {
        self.buffers.iter().map(Buffer::extent).sum()
    }

    /// The elements reuse saves: `naive_len - arena_len`.
    pub fn saved(&self) -> usize {
        self.naive_len().saturating_sub(self.arena_len)
    }

    /// The most elements live at any one step: no placement needs less.
    pub fn peak_live(&self) -> usize {
        (0..=self.steps)
            .map(|step| {
                self.buffers
                    .iter()
                    .filter(|b| b.live.first <= step && step <= b.live.last)
                    .map(Buffer::extent)
                    .sum::<usize>()
            })
            .max()
            .unwrap_or(0)
    }

    /// Re-checks the plan's invariants: alignment, buffers inside the
    /// arena, no two buffers live together overlapping, and scratch slots
    /// inside their buffers and apart.
    pub fn verify(&self) -> Result<(), PlanError> {
        let label = |b: &Buffer| match b.kind {
            BufferKind::Value => format!("{} ({})", b.node, b.name),
            BufferKind::Scratch => format!("scratch of {} ({})", b.node, b.name),
        };
        for buffer in &self.buffers {
            if buffer.offset % ALIGN != 0 {
                return Err(PlanError::Misaligned {
                    buffer: label(buffer),
                });
            }
            if buffer.end() > self.arena_len {
                return Err(PlanError::OutsideArena {
                    buffer: label(buffer),
                });
            }
        }
        for (i, a) in self.buffers.iter().enumerate() {
            for b in &self.buffers[i + 1..] {
                let apart = a.len == 0 || b.len == 0 || a.end() <= b.offset || b.end() <= a.offset;
                if a.live.overlaps(b.live) && !apart {
                    return Err(PlanError::Overlap {
                        a: label(a),
                        b: label(b),
                    });
                }
            }
        }
        for scratch in &self.scratch {
            let Some(region) = self
                .buffers
                .iter()
                .find(|b| b.kind == BufferKind::Scratch && b.node == scratch.kernel)
            else {
                return Err(PlanError::Graph {
                    node: scratch.kernel,
                    why: "a kernel has scratch slots but no scratch buffer",
                });
            };
            for (k, &(value, offset, len)) in scratch.slots.iter().enumerate() {
                let end = offset + align_up(len);
                let inside = offset % ALIGN == 0 && offset >= region.offset && end <= region.end();
                let apart = scratch.slots[..k]
                    .iter()
                    .all(|&(_, o, l)| end <= o || o + align_up(l) <= offset);
                if !inside || !apart {
                    return Err(PlanError::Slot {
                        kernel: scratch.kernel,
                        value,
                    });
                }
            }
        }
        Ok(())
    }

    /// [`MemoryPlan::verify`], and that the plan fits `graph`: every value
    /// has one buffer of its size whose lifetime covers the value's, every
    /// graph input is external, and every kernel temporary has a slot.
    pub fn verify_for(&self, graph: &Graph) -> Result<(), PlanError> {
        self.verify()?;
        let (live, _) = lifetimes(graph, self.options.outputs);
        for (index, node) in graph.nodes().iter().enumerate() {
            let id = NodeId::new(index);
            let count = self
                .buffers
                .iter()
                .filter(|b| b.node == id && b.kind == BufferKind::Value)
                .count();
            if let Op::Input { .. } = node.op {
                if count != 0 || !self.externals.iter().any(|e| e.node == id) {
                    return Err(PlanError::Graph {
                        node: id,
                        why: "a graph input is not external",
                    });
                }
                continue;
            }
            let Some(buffer) = self.buffer(id).filter(|_| count == 1) else {
                return Err(PlanError::Graph {
                    node: id,
                    why: "a value does not have exactly one buffer",
                });
            };
            if buffer.len != element_count(&node.shape) {
                return Err(PlanError::Graph {
                    node: id,
                    why: "a buffer's length is not its value's",
                });
            }
            if let Some(lifetime) = live[index] {
                if buffer.live.first > lifetime.first || buffer.live.last < lifetime.last {
                    return Err(PlanError::Graph {
                        node: id,
                        why: "a buffer's lifetime does not cover its value's",
                    });
                }
            }
            if let Op::Fused(kernel) = &node.op {
                let temporaries = (0..kernel.body.len())
                    .filter(|&j| self.options.temporaries.stores(kernel, j))
                    .count();
                let slots = self.scratch_of(id).map_or(0, |s| s.slots.len());
                if slots != temporaries {
                    return Err(PlanError::Graph {
                        node: id,
                        why: "a kernel's temporaries do not all have scratch slots",
                    });
                }
            }
        }
        Ok(())
    }

    /// The text form (for `nnc emit plan`): the external inputs, one line
    /// per buffer in offset order (offset, reserved floats, live steps as
    /// an inclusive range, `end` for past the step, node and name), then
    /// the totals.
    pub fn print(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "memory plan {}: {} steps, align {ALIGN} floats, outputs {:?}, temporaries {:?}\n",
            self.title, self.steps, self.options.outputs, self.options.temporaries
        );
        for external in &self.externals {
            let _ = writeln!(
                out,
                "  external {:>10} floats  {} {}  // {}",
                external.len, external.node, external.kind, external.name
            );
        }
        let _ = writeln!(
            out,
            "  {:>10} {:>10}  {:<9}  buffer",
            "offset", "floats", "live"
        );
        let mut order: Vec<&Buffer> = self.buffers.iter().collect();
        order.sort_by_key(|b| (b.offset, b.live.first, b.node));
        for buffer in order {
            let end = if buffer.live.last >= self.steps {
                "end".to_string()
            } else {
                buffer.live.last.to_string()
            };
            let live = format!("{}..={}", buffer.live.first, end);
            let what = match buffer.kind {
                BufferKind::Value => format!("{}  // {}", buffer.node, buffer.name),
                BufferKind::Scratch => {
                    let slots = self.scratch_of(buffer.node).map_or(0, |s| s.slots.len());
                    let noun = if slots == 1 {
                        "temporary"
                    } else {
                        "temporaries"
                    };
                    format!(
                        "scratch of {} ({slots} {noun})  // {}",
                        buffer.node, buffer.name
                    )
                }
            };
            let _ = writeln!(
                out,
                "  {:>10} {:>10}  {:<9}  {what}",
                buffer.offset,
                buffer.extent(),
                live
            );
        }
        let naive = self.naive_len();
        let percent = if naive == 0 {
            0.0
        } else {
            100.0 * self.saved() as f64 / naive as f64
        };
        let _ = writeln!(
            out,
            "arena {} floats ({} bytes); buffers {} floats; saved {} floats ({percent:.1}%); peak live {} floats",
            self.arena_len,
            self.arena_len * 4,
            naive,
            self.saved(),
            self.peak_live()
        );
        out
    }
}

impl fmt::Display for MemoryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.print())
    }
}
