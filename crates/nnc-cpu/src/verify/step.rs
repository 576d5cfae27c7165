//! The comparisons of one step: after each kernel or op ran, snapshot the
//! values it yields, run its reference on the snapshots of its operands,
//! and compare.

use super::reference::{values_of, Check};
use super::report::{kind_of, Mismatch};
use super::tolerance::{compare, tensor_scale};
use crate::program::Program;
use nnc_ir::{InputKind, NodeId, Op};
use nnc_lower::backend::BackendError;

/// A fault planted on the JIT side only, to test that the verifier catches
/// and names it: in step `step` (1-based), `delta` is added to element
/// `element` of the JIT's value of `node` as it is compared.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
pub(super) struct Fault {
    pub(super) step: usize,
    pub(super) node: NodeId,
    pub(super) element: usize,
    pub(super) delta: f32,
}

/// What the comparisons of one step counted.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) kernels: usize,
    pub(super) tensors: usize,
    pub(super) values: usize,
    /// The largest relative error of the step, and the node it was in.
    pub(super) largest: Option<(f32, NodeId)>,
}

/// Why the comparisons of a step stopped.
pub(super) enum Failure {
    Mismatch(Box<Mismatch>),
    Backend(BackendError),
}

/// The comparisons of one step, fed by [`Program::run_observed`].
pub(super) struct StepCheck<'a> {
    pub(super) step: usize,
    pub(super) step_seed: u64,
    pub(super) outputs: &'a [Vec<NodeId>],
    pub(super) checks: &'a mut [Option<Check>],
    /// Which nodes the JIT has produced so far in the step.
    pub(super) produced: Vec<bool>,
    pub(super) snapshots: &'a mut [Vec<f32>],
    pub(super) seen: Seen,
    pub(super) failure: Option<Failure>,
    #[cfg(test)]
    pub(super) fault: Option<Fault>,
}

impl StepCheck<'_> {
    /// Snapshots and compares the values `node` yields; false (stop) on a
    /// mismatch.
    pub(super) fn observe(&mut self, node: NodeId, program: &Program) -> bool {
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
