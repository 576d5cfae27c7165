//! Verification of the JIT against the reference interpreter, kernel by
//! kernel (`nnc run --verify`).
//!
//! A [`Verifier`] lowers the fused training graph to a JIT [`Program`]
//! and, for every fused kernel and every plain op of it, builds a small
//! graph holding just that node (its operands as inputs, the node, its
//! `kernel_output` nodes) for the reference [`Interpreter`], in `f32`, the
//! precision `--backend interp` trains in. Each [`Verifier::step`] binds a
//! batch, the learning rate, the parameters and the optimizer state to
//! the program and runs it node by node ([`Program::run_observed`]).
//! Right after each kernel or op ran, the verifier copies the values it
//! yields (a snapshot), runs the interpreter on that node with the
//! snapshots of the node's operands as inputs, and compares every value
//! the node yields with the interpreter's. The first node beyond tolerance
//! stops the step and is reported as a [`Mismatch`] naming the step, the
//! node, its kind and its name as `nnc emit ir --after fuse` prints them,
//! and the element with the largest relative error.
//!
//! # Why each kernel gets the JIT's own inputs
//!
//! Running the whole graph on the interpreter and comparing node by node
//! lets rounding differences pass from one node to the next. Most ops damp
//! them, but a discontinuous op amplifies them: where two inputs of a
//! max-pooling window are within rounding of each other, the two sides may
//! pick different maxima and route the whole gradient to different
//! elements (seen on `examples/residual.nnet`, batch 64, in the first
//! step), and every node after it then differs. Giving the reference the
//! JIT's own inputs, as they were when they were produced, makes each
//! comparison the error of that one node, so the node named is the one at
//! fault; a buffer overwritten between its producer and a reader still
//! shows, since the reference reads the snapshot, not the buffer. The
//! parameters and optimizer state a step produces are the JIT's, and the
//! next step starts from them (the update kernels that produced them were
//! compared like every other node).
//!
//! Dropout masks are drawn from the step seed by the same generator on
//! both sides, so models with dropout verify too.
//!
//! # Tolerance
//!
//! One rule, shared with the agreement suites of this crate
//! (`tests/support`): a JIT value `j` agrees with the interpreter's `r`
//! when
//!
//! ```text
//! |j - r| <= RTOL * (|r| + scale),   RTOL = 1e-4,
//! scale = SCALE_FRACTION * max |r| over the tensor,   SCALE_FRACTION = 0.01
//! ```
//!
//! The relative part covers rounding of the same formula evaluated in
//! another order (sums, fused multiply-adds, `nnc-jit`'s `exp`/`log`,
//! accurate to a few units in the last place). The floor of one hundredth
//! of the tensor's largest magnitude covers values that are small only
//! because they are sums that nearly cancel (a gradient element near
//! zero): their absolute error is that of the large terms summed. NaNs
//! agree with NaNs and infinities with the same infinity. The *relative
//! error* of a value, reported by [`VerifyReport`], is
//! `|j - r| / (|r| + scale)`: it agrees when that is at most `RTOL`.
//!
//! One refinement, for a value computed by a sum of products (a `sum`
//! over axes such as a bias gradient, a matrix product, a convolution or
//! one of its gradients) whose operands the verifier can read (operands of
//! the kernel, or values it yields): the scale of each element is at least
//! the sum of the *magnitudes* of its terms, which the interpreter computes
//! by running the same op on the operands' magnitudes. The rounding error
//! of a sum of `n` terms in another order is about `sqrt(n) * 6e-8` times
//! the sum of their magnitudes, not of the sum itself, so a sum that
//! cancels may differ by that much: LeNet-5's first bias gradient sums
//! 25,088 terms to about a hundredth of their magnitude, and a weight
//! gradient of `examples/residual.nnet` differed by 1.4 times the plain
//! rule's tolerance in one element. `RTOL` covers the rounding up to about
//! 2.8 million terms. The price: a single wrong term among more than about
//! ten thousand may go unseen (a wrong index or padding changes many).

use crate::backend::bind_batch;
use crate::lower::lower;
use crate::program::Program;
use nnc_check::program::{Model, Optimizer};
use nnc_interp::Interpreter;
use nnc_ir::backend::{BackendError, Batch, Tensor, TrainSetup};
use nnc_ir::{
    compile_training_fused, optimizer_state, param_specs, Arg, Graph, InputKind, Node, NodeId, Op,
    OutputKind, Shape,
};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The relative tolerance of every comparison.
pub const RTOL: f32 = 1e-4;

/// The fraction of a tensor's largest magnitude that every value of it may
/// differ by, relative to `RTOL`, whatever its own size (see the module
/// documentation).
pub const SCALE_FRACTION: f32 = 0.01;

/// The scale of a reference tensor: [`SCALE_FRACTION`] of its largest
/// finite magnitude.
pub fn tensor_scale(reference: &[f32]) -> f32 {
    let largest = reference
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f32, |m, v| m.max(v.abs()));
    SCALE_FRACTION * largest
}

/// The largest difference allowed from `reference` in a tensor of scale
/// `scale`.
pub fn tolerance(reference: f32, scale: f32) -> f32 {
    RTOL * (reference.abs() + scale)
}

/// Whether `value` agrees with `reference` in a tensor of scale `scale`,
/// with an extra absolute allowance `extra` (0 for `nnc run --verify`; the
/// agreement suites allow Adam's parameters a little after several steps).
pub fn within_tolerance(value: f32, reference: f32, scale: f32, extra: f32) -> bool {
    if !value.is_finite() || !reference.is_finite() {
        return value == reference || (value.is_nan() && reference.is_nan());
    }
    (value - reference).abs() <= tolerance(reference, scale) + extra
}

/// `|value - reference| / (|reference| + scale)`: at most [`RTOL`] when the
/// value agrees. Zero for equal values, infinite for a non-finite
/// difference.
pub fn relative_error(value: f32, reference: f32, scale: f32) -> f32 {
    if value == reference || (value.is_nan() && reference.is_nan()) {
        return 0.0;
    }
    let error = (value - reference).abs();
    let base = reference.abs() + scale;
    if error.is_finite() && base > 0.0 {
        error / base
    } else {
        f32::INFINITY
    }
}

/// What a successful verification saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifyReport {
    /// Training steps verified.
    pub steps: usize,
    /// Kernel and op runs compared (each node of each step counts once).
    pub kernels: usize,
    /// Tensors compared (a kernel yields one or more).
    pub tensors: usize,
    /// Values compared.
    pub values: usize,
    /// The largest relative error seen, and where.
    pub largest: Option<Largest>,
}

impl VerifyReport {
    /// The largest relative error seen (0 when none was).
    pub fn largest_relative_error(&self) -> f32 {
        self.largest.as_ref().map_or(0.0, |l| l.relative_error)
    }
}

/// The value with the largest relative error of a verification.
#[derive(Clone, Debug, PartialEq)]
pub struct Largest {
    /// `|jit - interpreter| / (|interpreter| + scale)`.
    pub relative_error: f32,
    /// The step (1-based).
    pub step: usize,
    /// The node whose value it is.
    pub node: NodeId,
    /// That node's name.
    pub name: String,
}

/// The first kernel (or op) whose values differ beyond tolerance.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// The step (1-based).
    pub step: usize,
    /// The kernel's (or op's) node.
    pub node: NodeId,
    /// Its kind as the IR prints it: `fused matmul+epilogue`, `reshape`.
    pub kind: String,
    /// Its name (the comment of its line in `nnc emit ir --after fuse`).
    pub name: String,
    /// The node whose values differ: the kernel itself or one of its
    /// `kernel_output` nodes.
    pub output: NodeId,
    /// That node's name.
    pub output_name: String,
    /// That node's shape.
    pub shape: Vec<usize>,
    /// The element with the largest relative error (row-major index).
    pub index: usize,
    /// The JIT's value of that element.
    pub jit: f32,
    /// The interpreter's value of that element.
    pub interpreter: f32,
    /// `|jit - interpreter|`.
    pub error: f32,
    /// The tolerance of that element.
    pub tolerance: f32,
    /// How many values of the tensor are beyond tolerance.
    pub beyond: usize,
}

/// Why a verification stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum VerifyError {
    /// A kernel's values differ from the interpreter's.
    Mismatch(Box<Mismatch>),
    /// The graph could not be built, lowered, bound or run.
    Backend(BackendError),
}

impl From<BackendError> for VerifyError {
    fn from(e: BackendError) -> Self {
        VerifyError::Backend(e)
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Mismatch(m) => m.fmt(f),
            VerifyError::Backend(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The row-major coordinates of element `index` of a tensor of `shape`.
fn coordinates(index: usize, shape: &[usize]) -> Vec<usize> {
    let mut rest = index;
    let mut coords = vec![0; shape.len()];
    for (c, &len) in coords.iter_mut().zip(shape).rev() {
        let len = len.max(1);
        *c = rest % len;
        rest /= len;
    }
    coords
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.kind.starts_with("fused") {
            "kernel"
        } else {
            "op"
        };
        write!(
            f,
            "step {}: {what} {} ({}) `{}` differs from the interpreter given the same inputs: ",
            self.step, self.node, self.kind, self.name
        )?;
        if self.output != self.node {
            write!(f, "its output {} `{}`, ", self.output, self.output_name)?;
        }
        let total: usize = self.shape.iter().product();
        write!(
            f,
            "element {} {:?} of {:?}: jit {:e} vs interpreter {:e}, error {:.3e} > tolerance {:.3e} \
             ({} of {} values beyond tolerance)",
            self.index,
            coordinates(self.index, &self.shape),
            self.shape,
            self.jit,
            self.interpreter,
            self.error,
            self.tolerance,
            self.beyond,
            total
        )
    }
}

/// The kind of a node as the IR prints it.
fn kind_of(op: &Op) -> String {
    match op {
        Op::Fused(kernel) => format!("fused {}", kernel.kind),
        op => op.mnemonic().to_string(),
    }
}

/// The reference of one node: a small graph of the node, its kernel
/// outputs and the operands it needs, on the interpreter.
///
/// An operand the JIT produced (or a graph input) is an input of the small
/// graph (`state[k]`, an input kind with no rule on its shape), bound to
/// the JIT's snapshot of it. An operand the JIT never produced on its own
/// (a weight gradient whose product writes the updated parameter directly,
/// see module `fold`) is computed in the small graph from its own
/// operands, recursively, so the comparison covers the work the JIT folded
/// into the node.
struct Check {
    interp: Interpreter<f32>,
    /// The small graph's inputs, as nodes of the full graph, in order.
    operands: Vec<NodeId>,
    /// The nodes compared, in the full graph (the node, then its kernel
    /// outputs) ...
    compared: Vec<NodeId>,
    /// ... and the same nodes in the small graph.
    local: Vec<NodeId>,
    /// For each compared node computed by a sum of products, the
    /// reference of the magnitudes of its terms.
    magnitudes: Vec<Option<Magnitude>>,
}

/// For a value computed by a sum of products (a sum over axes, a matrix
/// product, a convolution or one of its gradients): the same op on the
/// magnitudes of its operands, which gives, for each result, the sum of
/// the magnitudes of the terms summed into it.
struct Magnitude {
    interp: Interpreter<f32>,
    /// The op's operands, as nodes of the check's small graph.
    operands: Vec<NodeId>,
    /// The op in `interp`.
    result: NodeId,
}

impl Check {
    /// The reference of `id`, whose kernel outputs are `outputs`;
    /// `produced` tells which nodes the JIT has produced before it.
    fn new(
        graph: &Graph,
        id: NodeId,
        outputs: &[NodeId],
        produced: &[bool],
    ) -> Result<Check, BackendError> {
        // The node and the unproduced nodes it needs, in arena order.
        let mut members = BTreeSet::new();
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            if members.insert(n) {
                stack.extend(
                    graph
                        .node(n)
                        .inputs
                        .iter()
                        .filter(|&&o| !produced.get(o.index()).copied().unwrap_or(false)),
                );
            }
        }
        let mut small = Graph::new(graph.kind, graph.batch_size);
        let mut map: BTreeMap<NodeId, NodeId> = BTreeMap::new();
        let mut operands = Vec::new();
        for &member in &members {
            for &operand in &graph.node(member).inputs {
                if members.contains(&operand) || map.contains_key(&operand) {
                    continue;
                }
                let source = graph.node(operand);
                let input = small.push_unchecked(Node {
                    op: Op::Input {
                        kind: InputKind::State(operands.len()),
                        shape: source.shape.clone(),
                    },
                    inputs: Vec::new(),
                    shape: source.shape.clone(),
                    name: source.name.clone(),
                });
                map.insert(operand, input);
                operands.push(operand);
            }
        }
        for &member in &members {
            let node = graph.node(member);
            let inputs = node.inputs.iter().map(|o| map[o]).collect();
            let local = small.push_unchecked(Node {
                inputs,
                ..node.clone()
            });
            map.insert(member, local);
        }
        let mut compared = vec![id];
        let mut local = vec![map[&id]];
        for &output in outputs {
            let out = graph.node(output);
            let node = match map.get(&output) {
                Some(&n) => n,
                None => small.push_unchecked(Node {
                    inputs: vec![map[&id]],
                    ..out.clone()
                }),
            };
            compared.push(output);
            local.push(node);
        }
        let magnitudes = magnitudes(graph, id, &map, &compared, &local, &small)?;
        let interp = Interpreter::new(small).map_err(|e| BackendError::Failed {
            message: format!("the reference of {id} `{}`: {e}", graph.node(id).name),
        })?;
        Ok(Check {
            interp,
            operands,
            compared,
            local,
            magnitudes,
        })
    }
}

/// For each compared node, the magnitude reference of the op that
/// computes it, when that op sums products and its operands are values the
/// small graph holds (inputs of the kernel, or values it yields).
fn magnitudes(
    graph: &Graph,
    id: NodeId,
    map: &BTreeMap<NodeId, NodeId>,
    compared: &[NodeId],
    local: &[NodeId],
    small: &Graph,
) -> Result<Vec<Option<Magnitude>>, BackendError> {
    let node = graph.node(id);
    // The position among the kernel's outputs of a compared node.
    let position_of = |c: NodeId| match graph.node(c).op {
        Op::KernelOutput { index, .. } => index,
        _ => 0,
    };
    let mut found = Vec::with_capacity(compared.len());
    for &c in compared {
        // The op computing the value, and its operands in the small graph.
        let (op, shape, operands): (&Op, &Shape, Option<Vec<NodeId>>) = match &node.op {
            Op::Fused(kernel) => {
                let body = kernel
                    .outputs
                    .get(position_of(c))
                    .and_then(|&v| kernel.body.get(v));
                let Some(body) = body else {
                    found.push(None);
                    continue;
                };
                // Body value `j`, when the kernel yields it.
                let yielded = |j: usize| -> Option<NodeId> {
                    let p = kernel.outputs.iter().position(|&v| v == j)?;
                    compared
                        .iter()
                        .zip(local)
                        .find_map(|(&c, &l)| (position_of(c) == p).then_some(l))
                };
                let operands = body
                    .args
                    .iter()
                    .map(|arg| match *arg {
                        Arg::Input(k) => map.get(node.inputs.get(k)?).copied(),
                        Arg::Value(j) => yielded(j),
                    })
                    .collect();
                (&body.op, &body.shape, operands)
            }
            op => {
                let operands = node.inputs.iter().map(|o| map.get(o).copied()).collect();
                (op, &node.shape, operands)
            }
        };
        let Some(operands) = operands.filter(|_| op.def().sums_products) else {
            found.push(None);
            continue;
        };
        let mut tiny = Graph::new(graph.kind, graph.batch_size);
        let inputs: Vec<NodeId> = operands
            .iter()
            .enumerate()
            .map(|(k, &o)| {
                let source = small.node(o);
                tiny.push_unchecked(Node {
                    op: Op::Input {
                        kind: InputKind::State(k),
                        shape: source.shape.clone(),
                    },
                    inputs: Vec::new(),
                    shape: source.shape.clone(),
                    name: source.name.clone(),
                })
            })
            .collect();
        let result = tiny.push_unchecked(Node {
            op: op.clone(),
            inputs,
            shape: shape.clone(),
            name: graph.node(c).name.clone(),
        });
        let interp = Interpreter::new(tiny).map_err(|e| BackendError::Failed {
            message: format!("the magnitude reference of {c}: {e}"),
        })?;
        found.push(Some(Magnitude {
            interp,
            operands,
            result,
        }));
    }
    Ok(found)
}

/// One batch length's program and the references of its nodes.
struct Side {
    program: Program,
    /// The kernel outputs of each node.
    outputs: Vec<Vec<NodeId>>,
    /// The reference of each node the JIT runs, built when it first runs
    /// (the nodes produced before it are then known; the order of the
    /// actions is the same every step).
    checks: Vec<Option<Check>>,
    /// The JIT's values of each node, copied when the node was produced
    /// (inputs: when they were bound).
    snapshots: Vec<Vec<f32>>,
}

impl Side {
    fn new(graph: Graph) -> Result<Side, BackendError> {
        let program = lower(&graph)?;
        let mut outputs: Vec<Vec<NodeId>> = vec![Vec::new(); graph.len()];
        for id in graph.ids() {
            let node = graph.node(id);
            if let (Op::KernelOutput { .. }, Some(kernel)) = (&node.op, node.inputs.first()) {
                outputs[kernel.index()].push(id);
            }
        }
        let mut checks = Vec::new();
        checks.resize_with(graph.len(), || None);
        Ok(Side {
            program,
            outputs,
            checks,
            snapshots: vec![Vec::new(); graph.len()],
        })
    }
}

/// A fault planted on the JIT side only, to test that the verifier catches
/// and names it: in step `step` (1-based), `delta` is added to element
/// `element` of the JIT's value of `node` as it is compared.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
struct Fault {
    step: usize,
    node: NodeId,
    element: usize,
    delta: f32,
}

/// Runs training steps on the JIT and compares every kernel's values with
/// the interpreter's (see the module documentation).
pub struct Verifier {
    model: Model,
    optimizer: Optimizer,
    train_size: usize,
    params: Vec<Vec<f32>>,
    state: Vec<Vec<f32>>,
    sides: BTreeMap<usize, Side>,
    report: VerifyReport,
    #[cfg(test)]
    fault: Option<Fault>,
}

impl Verifier {
    /// A verifier of the training `setup` starting from `params` (in
    /// `param_specs` order) and zero optimizer state; the graph of
    /// `setup.batch_size` is compiled now, others on first use.
    pub fn new(setup: &TrainSetup<'_>, params: Vec<Tensor>) -> Result<Verifier, VerifyError> {
        let specs = param_specs(setup.model);
        let fits = specs.len() == params.len()
            && specs
                .iter()
                .zip(&params)
                .all(|(s, p)| s.shape == p.shape && p.data.len() == p.shape.iter().product());
        if !fits {
            return Err(BackendError::Failed {
                message: "the parameters given do not fit the model".to_string(),
            }
            .into());
        }
        let state = optimizer_state(setup.model, setup.optimizer)
            .iter()
            .map(|s| vec![0.0; s.shape.iter().product()])
            .collect();
        let mut verifier = Verifier {
            model: setup.model.clone(),
            optimizer: setup.optimizer.clone(),
            train_size: setup.train_size,
            params: params.into_iter().map(|t| t.data).collect(),
            state,
            sides: BTreeMap::new(),
            report: VerifyReport::default(),
            #[cfg(test)]
            fault: None,
        };
        side(
            &mut verifier.sides,
            &verifier.model,
            &verifier.optimizer,
            verifier.train_size,
            setup.batch_size.max(1),
        )?;
        Ok(verifier)
    }

    /// What the steps verified so far saw.
    pub fn report(&self) -> &VerifyReport {
        &self.report
    }

    /// The parameters the next step starts from.
    pub fn params(&self) -> &[Vec<f32>] {
        &self.params
    }

    /// Runs one training step of `batch` on the JIT and compares every
    /// kernel's values with the interpreter's on the same inputs; when all
    /// agree, the next step starts from the new parameters and state.
    pub fn step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<(), VerifyError> {
        if batch.len == 0 {
            return Err(BackendError::Failed {
                message: "a training batch needs at least one example".to_string(),
            }
            .into());
        }
        let step = self.report.steps + 1;
        #[cfg(test)]
        let fault = self.fault.filter(|f| f.step == step);
        let Verifier {
            model,
            optimizer,
            train_size,
            params,
            state,
            sides,
            report,
            ..
        } = self;
        let side = side(sides, model, optimizer, *train_size, batch.len)?;
        let program = &mut side.program;
        bind_batch(program, model, &batch)?;
        if let Some(lr) = program.input_mut(InputKind::LearningRate) {
            lr.fill(learning_rate);
        }
        copy_in(program, params, InputKind::Param);
        copy_in(program, state, InputKind::State);
        // The inputs as bound: a folded update overwrites its parameter
        // during the run.
        let mut produced = vec![false; program.graph().len()];
        for (_, input) in program.graph().inputs() {
            let snapshot = &mut side.snapshots[input.index()];
            snapshot.clear();
            if let Some(values) = program.value(input) {
                snapshot.extend_from_slice(values);
            }
            produced[input.index()] = true;
        }
        let mut check = StepCheck {
            step,
            step_seed,
            outputs: &side.outputs,
            checks: &mut side.checks,
            snapshots: &mut side.snapshots,
            produced,
            seen: Seen::default(),
            failure: None,
            #[cfg(test)]
            fault,
        };
        program
            .run_observed(step_seed, |node, program| check.observe(node, program))
            .map_err(BackendError::from)?;
        match check.failure {
            Some(Failure::Mismatch(m)) => return Err(VerifyError::Mismatch(m)),
            Some(Failure::Backend(e)) => return Err(e.into()),
            None => {}
        }
        let seen = check.seen;
        report.steps = step;
        report.kernels += seen.kernels;
        report.tensors += seen.tensors;
        report.values += seen.values;
        if let Some((relative_error, node)) = seen.largest {
            if report
                .largest
                .as_ref()
                .is_none_or(|l| relative_error > l.relative_error)
            {
                report.largest = Some(Largest {
                    relative_error,
                    step,
                    node,
                    name: program.graph().node(node).name.clone(),
                });
            }
        }
        copy_out(program, params, OutputKind::NewParam);
        copy_out(program, state, OutputKind::NewState);
        Ok(())
    }

    /// Plants a fault on the JIT side only (tests of the verifier).
    #[cfg(test)]
    fn plant(&mut self, fault: Fault) {
        self.fault = Some(fault);
    }
}

/// The program and references of batches of `len`, built on first use.
fn side<'s>(
    sides: &'s mut BTreeMap<usize, Side>,
    model: &Model,
    optimizer: &Optimizer,
    train_size: usize,
    len: usize,
) -> Result<&'s mut Side, BackendError> {
    Ok(match sides.entry(len) {
        Entry::Occupied(slot) => slot.into_mut(),
        Entry::Vacant(slot) => {
            let setup = TrainSetup {
                model,
                optimizer,
                batch_size: len,
                train_size,
            };
            let graph =
                compile_training_fused(&setup, len, None).map_err(|e| BackendError::Failed {
                    message: e.to_string(),
                })?;
            slot.insert(Side::new(graph)?)
        }
    })
}

/// What the comparisons of one step counted.
#[derive(Default)]
struct Seen {
    kernels: usize,
    tensors: usize,
    values: usize,
    /// The largest relative error of the step, and the node it was in.
    largest: Option<(f32, NodeId)>,
}

/// Why the comparisons of a step stopped.
enum Failure {
    Mismatch(Box<Mismatch>),
    Backend(BackendError),
}

/// The comparisons of one step, fed by [`Program::run_observed`].
struct StepCheck<'a> {
    step: usize,
    step_seed: u64,
    outputs: &'a [Vec<NodeId>],
    checks: &'a mut [Option<Check>],
    /// Which nodes the JIT has produced so far in the step.
    produced: Vec<bool>,
    snapshots: &'a mut [Vec<f32>],
    seen: Seen,
    failure: Option<Failure>,
    #[cfg(test)]
    fault: Option<Fault>,
}

impl StepCheck<'_> {
    /// Snapshots and compares the values `node` yields; false (stop) on a
    /// mismatch.
    fn observe(&mut self, node: NodeId, program: &Program) -> bool {
        let graph = program.graph();
        let index = node.index();
        if index >= self.checks.len() || matches!(graph.node(node).op, Op::Input { .. }) {
            return true;
        }
        let outputs = &self.outputs[index];
        if self.checks[index].is_none() {
            match Check::new(graph, node, outputs, &self.produced) {
                Ok(check) => self.checks[index] = Some(check),
                Err(e) => {
                    self.failure = Some(Failure::Backend(e));
                    return false;
                }
            }
        }
        let Some(check) = self.checks[index].as_mut() else {
            return true;
        };
        for &output in &check.compared {
            let snapshot = &mut self.snapshots[output.index()];
            snapshot.clear();
            if let Some(values) = program.value(output) {
                snapshot.extend_from_slice(values);
            }
            self.produced[output.index()] = true;
        }
        for (k, &operand) in check.operands.iter().enumerate() {
            let values = &self.snapshots[operand.index()];
            if let Err(e) = check.interp.set_input(InputKind::State(k), values) {
                self.failure = Some(Failure::Backend(BackendError::Failed {
                    message: format!("the reference of {node}: {e}"),
                }));
                return false;
            }
        }
        check.interp.run(self.step_seed);
        self.seen.kernels += 1;
        let mut worst: Option<(f32, Mismatch)> = None;
        for (position, (&output, &local)) in check.compared.iter().zip(&check.local).enumerate() {
            let Some(jit) = program.value(output) else {
                continue;
            };
            #[cfg(test)]
            let planted: Vec<f32>;
            #[cfg(test)]
            let jit = match self.fault.filter(|f| f.node == output) {
                Some(fault) => {
                    let mut values = jit.to_vec();
                    if let Some(v) = values.get_mut(fault.element) {
                        *v += fault.delta;
                    }
                    planted = values;
                    &planted[..]
                }
                None => jit,
            };
            let reference = values_of(&check.interp, local);
            let scale = tensor_scale(&reference);
            let magnitude = match check.magnitudes.get_mut(position) {
                Some(Some(m)) => match m.run(&check.interp, self.step_seed) {
                    Ok(values) => Some(values),
                    Err(e) => {
                        self.failure = Some(Failure::Backend(e));
                        return false;
                    }
                },
                _ => None,
            };
            self.seen.tensors += 1;
            self.seen.values += reference.len();
            let outcome = compare(jit, &reference, scale, magnitude.as_deref());
            if self
                .seen
                .largest
                .is_none_or(|(r, _)| outcome.largest_agreeing > r)
            {
                self.seen.largest = Some((outcome.largest_agreeing, output));
            }
            let Some(bad) = outcome.bad else { continue };
            if worst.as_ref().is_some_and(|(score, _)| *score >= bad.score) {
                continue;
            }
            let mismatch = Mismatch {
                step: self.step,
                node,
                kind: kind_of(&graph.node(node).op),
                name: graph.node(node).name.clone(),
                output,
                output_name: graph.node(output).name.clone(),
                shape: graph.node(output).shape.clone(),
                index: bad.index,
                jit: bad.jit,
                interpreter: bad.reference,
                error: (bad.jit - bad.reference).abs(),
                tolerance: bad.tolerance,
                beyond: bad.beyond,
            };
            worst = Some((bad.score, mismatch));
        }
        match worst {
            Some((_, mismatch)) => {
                self.failure = Some(Failure::Mismatch(Box::new(mismatch)));
                false
            }
            None => true,
        }
    }
}

impl Magnitude {
    /// The sums of the terms' magnitudes, from the operands' values in
    /// `check` (the check's small graph, just run).
    fn run(&mut self, check: &Interpreter<f32>, step_seed: u64) -> Result<Vec<f32>, BackendError> {
        for (k, &operand) in self.operands.iter().enumerate() {
            let magnitudes: Vec<f32> = values_of(check, operand).iter().map(|v| v.abs()).collect();
            self.interp
                .set_input(InputKind::State(k), &magnitudes)
                .map_err(|e| BackendError::Failed {
                    message: e.to_string(),
                })?;
        }
        self.interp.run(step_seed);
        Ok(values_of(&self.interp, self.result).into_owned())
    }
}

/// The values of a node of an interpreter, row-major.
fn values_of(interp: &Interpreter<f32>, node: NodeId) -> std::borrow::Cow<'_, [f32]> {
    let value = interp.value(node);
    match value.as_slice() {
        Some(values) => std::borrow::Cow::Borrowed(values),
        None => std::borrow::Cow::Owned(value.iter().copied().collect()),
    }
}

/// The result of comparing one tensor.
struct Outcome {
    /// The largest relative error among the values that agree.
    largest_agreeing: f32,
    /// The worst value beyond tolerance, if any.
    bad: Option<Bad>,
}

/// The element of a tensor with the largest relative error among those
/// beyond tolerance.
struct Bad {
    index: usize,
    jit: f32,
    reference: f32,
    tolerance: f32,
    /// Its relative error (infinite for a NaN or a length mismatch).
    score: f32,
    /// How many values are beyond tolerance.
    beyond: usize,
}

/// Compares a JIT tensor with the interpreter's, in a tensor of scale
/// `scale` (per element at least `magnitude`, the sums of the terms'
/// magnitudes, when given), under the rule of the module documentation.
fn compare(jit: &[f32], reference: &[f32], scale: f32, magnitude: Option<&[f32]>) -> Outcome {
    if jit.len() != reference.len() {
        return Outcome {
            largest_agreeing: 0.0,
            bad: Some(Bad {
                index: jit.len().min(reference.len()),
                jit: f32::NAN,
                reference: f32::NAN,
                tolerance: 0.0,
                score: f32::INFINITY,
                beyond: jit.len().abs_diff(reference.len()),
            }),
        };
    }
    let mut largest_agreeing = 0.0f32;
    let mut bad: Option<Bad> = None;
    let mut beyond = 0;
    for (index, (&j, &r)) in jit.iter().zip(reference).enumerate() {
        let scale = match magnitude.and_then(|m| m.get(index)) {
            Some(&m) if m.is_finite() => scale.max(m),
            _ => scale,
        };
        let relative = relative_error(j, r, scale);
        if within_tolerance(j, r, scale, 0.0) {
            largest_agreeing = largest_agreeing.max(relative);
            continue;
        }
        beyond += 1;
        let score = if relative.is_nan() {
            f32::INFINITY
        } else {
            relative
        };
        if bad.as_ref().is_none_or(|b| score > b.score) {
            bad = Some(Bad {
                index,
                jit: j,
                reference: r,
                tolerance: tolerance(r, scale),
                score,
                beyond: 0,
            });
        }
    }
    if let Some(b) = &mut bad {
        b.beyond = beyond;
    }
    Outcome {
        largest_agreeing,
        bad,
    }
}

/// Copies each vector of `values` into the program's input of `kind(k)`.
fn copy_in(program: &mut Program, values: &[Vec<f32>], kind: fn(usize) -> InputKind) {
    for (k, v) in values.iter().enumerate() {
        if let Some(buf) = program.input_mut(kind(k)) {
            if buf.len() == v.len() {
                buf.copy_from_slice(v);
            }
        }
    }
}

/// Copies the program's output of `kind(k)` into each vector of `values`.
fn copy_out(program: &Program, values: &mut [Vec<f32>], kind: fn(usize) -> OutputKind) {
    for (k, v) in values.iter_mut().enumerate() {
        if let Some(new) = program.output(kind(k)) {
            if new.len() == v.len() {
                v.copy_from_slice(new);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nnc_ir::init_params;
    use nnc_ir::rng::Rng;

    /// The first model of `source`, which must check clean.
    fn model(source: &str) -> Model {
        let (file, syntax) = nnc_syntax::parse(source);
        assert!(syntax.is_empty(), "syntax errors: {syntax:?}");
        let checked = nnc_check::check(&file);
        assert!(!checked.has_errors(), "check errors: {:?}", checked.errors);
        checked.program.models.into_iter().next().unwrap()
    }

    const DENSE: &str = "model net {
  input image: [20]
  layers {
    dense(8, act: sigmoid)
    dense(4, act: sigmoid)
  }
  cost cross_entropy
  regularize l2(5.0)
}";

    /// `len` examples of `inputs` values in `[0, 1)` with one-hot targets of
    /// `classes` classes.
    fn batch_data(len: usize, inputs: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = Rng::new(seed);
        let xs = (0..len * inputs).map(|_| rng.uniform() as f32).collect();
        let mut ys = vec![0.0; len * classes];
        for i in 0..len {
            ys[i * classes + rng.below(classes)] = 1.0;
        }
        (xs, ys)
    }

    fn verifier(model: &Model, optimizer: &Optimizer, batch: usize) -> Verifier {
        let setup = TrainSetup {
            model,
            optimizer,
            batch_size: batch,
            train_size: 100,
        };
        Verifier::new(&setup, init_params(model, 3)).unwrap()
    }

    /// Runs `lens.len()` steps of the given batch lengths.
    fn run_steps(
        v: &mut Verifier,
        inputs: usize,
        classes: usize,
        lens: &[usize],
    ) -> Result<(), VerifyError> {
        for (step, &len) in lens.iter().enumerate() {
            let (xs, ys) = batch_data(len, inputs, classes, step as u64);
            let batch = Batch {
                inputs: &xs,
                targets: &ys,
                len,
            };
            v.step(batch, 0.1, 40 + step as u64)?;
        }
        Ok(())
    }

    #[test]
    fn the_rule_is_relative_with_a_floor_of_the_tensors_scale() {
        assert_eq!(tensor_scale(&[0.5, -2.0, f32::NAN, 1.0]), 0.02);
        assert!(within_tolerance(1.00009, 1.0, 0.0, 0.0));
        assert!(!within_tolerance(1.0002, 1.0, 0.0, 0.0));
        // A value near zero in a tensor of scale 0.01 (largest 1.0) may be
        // off by 1e-6, not more.
        assert!(within_tolerance(9e-7, 0.0, 0.01, 0.0));
        assert!(!within_tolerance(2e-6, 0.0, 0.01, 0.0));
        assert!(within_tolerance(2e-6, 0.0, 0.01, 1e-6));
        assert!(within_tolerance(f32::NAN, f32::NAN, 0.0, 0.0));
        assert!(!within_tolerance(f32::NAN, 1.0, 0.0, 0.0));
        assert!(within_tolerance(f32::INFINITY, f32::INFINITY, 0.0, 0.0));
        assert!(!within_tolerance(
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            0.0
        ));
        assert_eq!(relative_error(1.5, 1.0, 0.0), 0.5);
        assert_eq!(relative_error(0.0, 0.0, 0.0), 0.0);
        assert_eq!(relative_error(1.0, 0.0, 0.0), f32::INFINITY);
        assert_eq!(coordinates(137, &[10, 30]), vec![4, 17]);
        assert_eq!(coordinates(0, &[]), Vec::<usize>::new());
    }

    #[test]
    fn a_dense_network_verifies_with_a_short_last_batch() {
        let m = model(DENSE);
        let mut v = verifier(&m, &Optimizer::Momentum { mu: 0.9 }, 10);
        run_steps(&mut v, 20, 4, &[10, 10, 7]).unwrap();
        let report = v.report();
        assert_eq!(report.steps, 3);
        // Every step compares the same kernels (the short batch has its own
        // graph of the same structure).
        assert_eq!(report.kernels % 3, 0);
        assert!(report.kernels >= 3 * 8, "{report:?}");
        assert!(report.tensors > report.kernels, "{report:?}");
        let largest = report.largest_relative_error();
        assert!(largest > 0.0 && largest <= RTOL, "{report:?}");
    }

    #[test]
    fn dropout_and_adam_verify() {
        let m = model(
            "model net {
  input image: [20]
  layers {
    dense(16, act: relu)
    dropout(0.5)
    dense(4, act: softmax)
  }
  cost log_likelihood
}",
        );
        let adam = Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        };
        let mut v = verifier(&m, &adam, 8);
        run_steps(&mut v, 20, 4, &[8, 8, 8, 8]).unwrap();
        assert_eq!(v.report().steps, 4);
    }

    #[test]
    fn a_fault_on_the_jit_side_is_caught_and_named() {
        let m = model(DENSE);
        let mut v = verifier(&m, &Optimizer::Sgd, 10);
        let graph = v.sides[&10].program.graph();
        let weight = graph.input(InputKind::Param(0)).unwrap();
        // The first layer's product: the first node that reads the weight.
        let first_reader = graph
            .ids()
            .find(|&id| graph.node(id).inputs.contains(&weight))
            .unwrap();
        v.plant(Fault {
            step: 2,
            node: first_reader,
            element: 13,
            delta: 0.5,
        });
        let error = run_steps(&mut v, 20, 4, &[10, 10, 10]).unwrap_err();
        let VerifyError::Mismatch(mismatch) = error else {
            panic!("expected a mismatch, got {error}");
        };
        assert_eq!(v.report().steps, 1, "the first step agreed");
        assert_eq!(mismatch.step, 2);
        assert_eq!(mismatch.node, first_reader);
        assert_eq!(mismatch.output, first_reader);
        assert_eq!(mismatch.kind, "fused matmul+epilogue");
        assert_eq!(mismatch.name, "dense_1");
        assert_eq!(mismatch.shape, vec![10, 8]);
        assert_eq!(mismatch.index, 13);
        assert_eq!(mismatch.beyond, 1);
        assert!(
            (mismatch.jit - mismatch.interpreter - 0.5).abs() < 1e-3,
            "{mismatch:?}"
        );
        assert!(mismatch.error > mismatch.tolerance);
        let text = mismatch.to_string();
        let expected = format!(
            "step 2: kernel {first_reader} (fused matmul+epilogue) `dense_1` differs from the \
             interpreter given the same inputs: element 13 [1, 5] of [10, 8]: jit "
        );
        assert!(text.starts_with(&expected), "{text}");
        assert!(text.contains("> tolerance"), "{text}");
        assert!(
            text.ends_with("(1 of 80 values beyond tolerance)"),
            "{text}"
        );
    }

    /// Values computed by sums that may cancel (bias and weight
    /// gradients) are allowed the rounding of the sum of their terms'
    /// magnitudes; values after an activation are not.
    #[test]
    fn gradients_are_compared_at_the_scale_of_their_terms() {
        let m = model(DENSE);
        let mut v = verifier(&m, &Optimizer::Sgd, 10);
        run_steps(&mut v, 20, 4, &[10]).unwrap();
        let side = &v.sides[&10];
        let graph = side.program.graph();
        let with_magnitude = |id: NodeId| {
            side.checks.iter().flatten().any(|check| {
                check
                    .compared
                    .iter()
                    .zip(&check.magnitudes)
                    .any(|(&c, m)| c == id && m.is_some())
            })
        };
        let gradients: Vec<NodeId> = graph
            .ids()
            .filter(|&id| {
                let name = &graph.node(id).name;
                name.starts_with("grad(dense_")
                    && (name.ends_with(".bias)") || name.ends_with(".weight)"))
            })
            .collect();
        assert_eq!(gradients.len(), 4, "{gradients:?}");
        for id in gradients {
            assert!(with_magnitude(id), "{id} `{}`", graph.node(id).name);
        }
        let activation = graph
            .ids()
            .find(|&id| graph.node(id).name == "dense_1")
            .unwrap();
        assert!(!with_magnitude(activation));
    }
}
