//! Verification of the JIT against the reference interpreter, kernel by
//! kernel (`nnc run --verify`).
//!
//! A [`Verifier`] lowers the fused training graph to a JIT [`Program`]
//! and, for every fused kernel and every plain op of it, builds a small
//! graph holding just that node (its operands as inputs, the node, its
//! `kernel_output` nodes) for the reference
//! [`Interpreter`](nnc_interp::Interpreter), in `f32`, the
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
//!
//! # Layout
//!
//! This module drives the steps ([`Verifier`]); `step` compares the values
//! of one step node by node, `reference` builds each node's reference on
//! the interpreter, `tolerance` holds the rule above and `report` what a
//! verification reports.

mod reference;
mod report;
mod step;
#[cfg(test)]
mod tests;
mod tolerance;

pub use report::{Largest, Mismatch, VerifyError, VerifyReport};
pub use tolerance::{
    relative_error, tensor_scale, tolerance, within_tolerance, RTOL, SCALE_FRACTION,
};

use crate::backend::bind_batch;
use crate::lower::lower;
use crate::program::Program;
use nnc_check::program::{Model, Optimizer};
use nnc_ir::{Graph, InputKind, NodeId, Op, OutputKind};
use nnc_lower::backend::{BackendError, Batch, Tensor, TrainSetup};
use nnc_lower::{compile_training_fused, optimizer_state, param_specs};
use reference::Check;
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
#[cfg(test)]
use step::Fault;
use step::{Failure, Seen, StepCheck};

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

/// Runs training steps on the JIT and compares every kernel's values with
/// the interpreter's (see the module documentation).
pub struct Verifier {
    model: Model,
    optimizer: Optimizer,
    train_size: usize,
    clip: nnc_check::program::Clip,
    params: Vec<Vec<f32>>,
    state: Vec<Vec<f32>>,
    sides: BTreeMap<usize, Side>,
    report: VerifyReport,
    /// The recurrent state carried from step to step (`Model::carry`).
    carried: nnc_lower::backend::Carried,
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
            clip: setup.clip,
            params: params.into_iter().map(|t| t.data).collect(),
            state,
            sides: BTreeMap::new(),
            report: VerifyReport::default(),
            carried: Default::default(),
            #[cfg(test)]
            fault: None,
        };
        side(
            &mut verifier.sides,
            &verifier.model,
            &verifier.optimizer,
            verifier.train_size,
            verifier.clip,
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
            clip,
            params,
            state,
            sides,
            report,
            carried,
            ..
        } = self;
        let side = side(sides, model, optimizer, *train_size, *clip, batch.len)?;
        let program = &mut side.program;
        bind_batch(program, model, &batch)?;
        if let Some(lr) = program.input_mut(InputKind::LearningRate) {
            lr.fill(learning_rate);
        }
        copy_in(program, params, InputKind::Param);
        copy_in(program, state, InputKind::State);
        crate::backend::bind_carried(program, carried);
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
        crate::backend::keep_carried(program, carried);
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
    clip: nnc_check::program::Clip,
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
                clip,
            };
            let graph =
                compile_training_fused(&setup, len, None).map_err(|e| BackendError::Failed {
                    message: e.to_string(),
                })?;
            slot.insert(Side::new(graph)?)
        }
    })
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
