//! The interpreter: runs a graph node by node, in arena order, each node's
//! kernel writing into a buffer allocated once when the interpreter is
//! built (shapes are static, so a run allocates nothing but operand
//! lists). A fused graph (pass `fuse`) runs too: each fused kernel's body
//! op by op, into buffers of its own.

use crate::kernels;
use crate::real::Real;
use ndarray::{ArrayD, IxDyn};
use nnc_ir::{verify, Arg, Graph, InputKind, NodeId, Op, OutputKind, VerifyError};
use std::collections::BTreeMap;
use std::fmt;

/// Why a graph cannot be run, or an input not bound.
#[derive(Clone, Debug, PartialEq)]
pub enum InterpError {
    /// The graph breaks an IR invariant.
    Invalid(Vec<VerifyError>),
    /// An input was given the wrong number of values.
    InputSize {
        input: String,
        expected: usize,
        found: usize,
    },
}

impl fmt::Display for InterpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpError::Invalid(errors) => {
                write!(f, "the graph is invalid:")?;
                for e in errors {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
            InterpError::InputSize {
                input,
                expected,
                found,
            } => write!(
                f,
                "input `{input}` needs {expected} values, it was given {found}"
            ),
        }
    }
}

impl std::error::Error for InterpError {}

/// A graph with a value buffer per node (and, for a fused kernel, one per
/// op of its body).
#[derive(Clone, Debug)]
pub struct Interpreter<T: Real> {
    graph: Graph,
    values: Vec<ArrayD<T>>,
    /// For each fused kernel node, the values of its body ops; empty for
    /// other nodes.
    bodies: Vec<Vec<ArrayD<T>>>,
    inputs: BTreeMap<InputKind, NodeId>,
}

impl<T: Real> Interpreter<T> {
    /// Verifies `graph` and allocates its buffers (inputs start at zero).
    pub fn new(graph: Graph) -> Result<Self, InterpError> {
        verify(&graph).map_err(InterpError::Invalid)?;
        let values = graph
            .nodes()
            .iter()
            .map(|n| ArrayD::zeros(IxDyn(&n.shape)))
            .collect();
        let bodies = graph
            .nodes()
            .iter()
            .map(|n| match &n.op {
                Op::Fused(kernel) => kernel
                    .body
                    .iter()
                    .map(|micro| ArrayD::zeros(IxDyn(&micro.shape)))
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        let inputs = graph.inputs().into_iter().collect();
        Ok(Interpreter {
            graph,
            values,
            bodies,
            inputs,
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The input node of `kind`, if the graph reads one.
    pub fn input_node(&self, kind: InputKind) -> Option<NodeId> {
        self.inputs.get(&kind).copied()
    }

    /// Copies `values` (row-major) into the input of `kind`. Returns false,
    /// binding nothing, when the graph has no such input (dead-code
    /// elimination removes inputs nothing reads).
    pub fn set_input(&mut self, kind: InputKind, values: &[T]) -> Result<bool, InterpError> {
        let Some(id) = self.input_node(kind) else {
            return Ok(false);
        };
        let buffer = &mut self.values[id.index()];
        if buffer.len() != values.len() {
            return Err(InterpError::InputSize {
                input: self.graph.node(id).name.clone(),
                expected: buffer.len(),
                found: values.len(),
            });
        }
        kernels::values_mut(buffer).copy_from_slice(values);
        Ok(true)
    }

    /// Computes every node from the bound inputs; `step_seed` drives the
    /// dropout masks. A fused kernel runs its body op by op, with the same
    /// kernels as unfused ops, and copies out its output 0; a kernel output
    /// node copies its value from the kernel's body.
    pub fn run(&mut self, step_seed: u64) {
        for index in 0..self.values.len() {
            let node = &self.graph.nodes()[index];
            let (before, rest) = self.values.split_at_mut(index);
            match &node.op {
                Op::Input { .. } => {}
                Op::Fused(kernel) => {
                    let body = &mut self.bodies[index];
                    for (j, micro) in kernel.body.iter().enumerate() {
                        let (done, todo) = body.split_at_mut(j);
                        let operands: Vec<&ArrayD<T>> = micro
                            .args
                            .iter()
                            .map(|arg| match *arg {
                                Arg::Input(k) => &before[node.inputs[k].index()],
                                Arg::Value(v) => &done[v],
                            })
                            .collect();
                        kernels::eval(&micro.op, &operands, &mut todo[0], step_seed);
                    }
                    rest[0].assign(&body[kernel.outputs[0]]);
                }
                Op::KernelOutput { index: k, .. } => {
                    let kernel = node.inputs[0].index();
                    if let Op::Fused(fused) = &self.graph.nodes()[kernel].op {
                        rest[0].assign(&self.bodies[kernel][fused.outputs[*k]]);
                    }
                }
                op => {
                    let operands: Vec<&ArrayD<T>> =
                        node.inputs.iter().map(|i| &before[i.index()]).collect();
                    kernels::eval(op, &operands, &mut rest[0], step_seed);
                }
            }
        }
    }

    /// The value of a node (after a run).
    pub fn value(&self, id: NodeId) -> &ArrayD<T> {
        &self.values[id.index()]
    }

    /// The buffer of a node, e.g. to swap a new parameter value out
    /// without copying. Its shape must stay the node's shape.
    pub fn value_mut(&mut self, id: NodeId) -> &mut ArrayD<T> {
        &mut self.values[id.index()]
    }

    /// The value of the output named `name`.
    pub fn output(&self, name: &str) -> Option<&ArrayD<T>> {
        self.graph.output(name).map(|o| self.value(o.node))
    }

    /// The value of the output of `kind`.
    pub fn output_of(&self, kind: OutputKind) -> Option<&ArrayD<T>> {
        self.graph.output_of(kind).map(|o| self.value(o.node))
    }

    /// The value of the first node named `name`.
    pub fn named(&self, name: &str) -> Option<&ArrayD<T>> {
        self.graph.find(name).map(|id| self.value(id))
    }
}
