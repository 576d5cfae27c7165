//! The verifier: checks the invariants every pass must keep, and reports
//! each broken one as a fact pointing at a node.
//!
//! - every operand of a node exists and comes before it (the arena order
//!   is a topological order);
//! - every node's shape is what its op's shape rule gives for its
//!   operands' shapes;
//! - data and target inputs have the graph's batch size as their first
//!   dimension, and no input kind appears twice;
//! - every output (and every parameter read) names an existing node, and
//!   no two outputs share a name; a new parameter or state value has the
//!   shape of the parameter or state input it replaces;
//! - a fused kernel's body reads valid operands and keeps its shapes (its
//!   shape rule, `FusedKernel::shape`), and a kernel output names a
//!   further output of a fused kernel, with its shape.
//!
//! The pass driver runs it after every pass; it costs one walk over the
//! graph.

use crate::graph::{Graph, InputKind, NodeId, OutputKind, Shape};
use crate::ops::{Op, ShapeError};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One broken invariant.
#[derive(Clone, Debug, PartialEq)]
pub enum VerifyError {
    /// An operand handle that is not a node of the graph.
    MissingOperand {
        node: NodeId,
        name: String,
        operand: NodeId,
    },
    /// An operand that comes at or after the node reading it.
    ForwardReference {
        node: NodeId,
        name: String,
        operand: NodeId,
    },
    /// The op's shape rule rejects the operands' shapes.
    Shape {
        node: NodeId,
        name: String,
        op: &'static str,
        error: ShapeError,
    },
    /// The node's recorded shape differs from what its shape rule gives.
    WrongShape {
        node: NodeId,
        name: String,
        op: &'static str,
        expected: Shape,
        recorded: Shape,
    },
    /// A data or target input without the batch size as first dimension.
    BatchSize {
        node: NodeId,
        name: String,
        batch_size: usize,
        shape: Shape,
    },
    /// Two inputs of one kind.
    DuplicateInput { kind: InputKind, nodes: [NodeId; 2] },
    /// An output pointing at no node.
    MissingOutput { output: String, node: NodeId },
    /// Two outputs with one name.
    DuplicateOutput { output: String },
    /// A parameter read pointing at no node.
    MissingParamRead { param: usize, node: NodeId },
    /// A new value of a parameter or of optimizer state (`NewParam(k)`,
    /// `NewState(k)`) whose shape is not that of the input it replaces.
    NewValueShape {
        output: String,
        input: InputKind,
        expected: Shape,
        actual: Shape,
    },
    /// A kernel output that does not name a further output of a fused
    /// kernel with its shape.
    KernelOutput {
        node: NodeId,
        name: String,
        why: &'static str,
    },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::MissingOperand {
                node,
                name,
                operand,
            } => write!(f, "{node} ({name}) reads {operand}, which does not exist"),
            VerifyError::ForwardReference {
                node,
                name,
                operand,
            } => write!(
                f,
                "{node} ({name}) reads {operand}, which does not come before it"
            ),
            VerifyError::Shape {
                node,
                name,
                op,
                error,
            } => write!(f, "{node} ({name}): `{op}` {error}"),
            VerifyError::WrongShape {
                node,
                name,
                op,
                expected,
                recorded,
            } => write!(
                f,
                "{node} ({name}): `{op}` gives {expected:?}, but the node records {recorded:?}"
            ),
            VerifyError::BatchSize {
                node,
                name,
                batch_size,
                shape,
            } => write!(
                f,
                "{node} ({name}): input {shape:?} does not start with the batch size {batch_size}"
            ),
            VerifyError::DuplicateInput { kind, nodes } => {
                write!(
                    f,
                    "input {kind} appears twice: {} and {}",
                    nodes[0], nodes[1]
                )
            }
            VerifyError::MissingOutput { output, node } => {
                write!(f, "output `{output}` names {node}, which does not exist")
            }
            VerifyError::DuplicateOutput { output } => {
                write!(f, "two outputs are named `{output}`")
            }
            VerifyError::KernelOutput { node, name, why } => {
                write!(f, "{node} ({name}): {why}")
            }
            VerifyError::NewValueShape {
                output,
                input,
                expected,
                actual,
            } => write!(
                f,
                "output `{output}` gives {input} a value of shape {actual:?}, \
                 the input has shape {expected:?}"
            ),
            VerifyError::MissingParamRead { param, node } => {
                write!(
                    f,
                    "parameter {param} is read through {node}, which does not exist"
                )
            }
        }
    }
}

/// Checks every invariant; `Err` lists every broken one.
pub fn verify(graph: &Graph) -> Result<(), Vec<VerifyError>> {
    let mut errors = Vec::new();
    let mut inputs: BTreeMap<InputKind, NodeId> = BTreeMap::new();
    for id in graph.ids() {
        verify_node(graph, id, &mut errors);
        if let Op::Input { kind, .. } = graph.node(id).op {
            if let Some(&first) = inputs.get(&kind) {
                errors.push(VerifyError::DuplicateInput {
                    kind,
                    nodes: [first, id],
                });
            } else {
                inputs.insert(kind, id);
            }
        }
    }
    let mut names = BTreeSet::new();
    for output in &graph.outputs {
        if output.node.index() >= graph.len() {
            errors.push(VerifyError::MissingOutput {
                output: output.name.clone(),
                node: output.node,
            });
        }
        if !names.insert(output.name.as_str()) {
            errors.push(VerifyError::DuplicateOutput {
                output: output.name.clone(),
            });
        }
        let replaced = match output.kind {
            OutputKind::NewParam(k) => Some(InputKind::Param(k)),
            OutputKind::NewState(k) => Some(InputKind::State(k)),
            OutputKind::Carry(k) => Some(InputKind::Carry(k)),
            _ => None,
        };
        let input = replaced.and_then(|kind| Some((kind, *inputs.get(&kind)?)));
        if let (Some((kind, input)), true) = (input, output.node.index() < graph.len()) {
            let (expected, actual) = (graph.shape(input), graph.shape(output.node));
            if expected != actual {
                errors.push(VerifyError::NewValueShape {
                    output: output.name.clone(),
                    input: kind,
                    expected: expected.to_vec(),
                    actual: actual.to_vec(),
                });
            }
        }
    }
    for (param, read) in graph.param_reads.iter().enumerate() {
        if let Some(node) = *read {
            if node.index() >= graph.len() {
                errors.push(VerifyError::MissingParamRead { param, node });
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks the operands and the shape of one node.
fn verify_node(graph: &Graph, id: NodeId, errors: &mut Vec<VerifyError>) {
    let node = graph.node(id);
    let mut operands_ok = true;
    for &operand in &node.inputs {
        if operand.index() >= graph.len() {
            operands_ok = false;
            errors.push(VerifyError::MissingOperand {
                node: id,
                name: node.name.clone(),
                operand,
            });
        } else if operand >= id {
            operands_ok = false;
            errors.push(VerifyError::ForwardReference {
                node: id,
                name: node.name.clone(),
                operand,
            });
        }
    }
    if !operands_ok {
        return;
    }
    match graph.infer_shape(&node.op, &node.inputs) {
        Err(error) => errors.push(VerifyError::Shape {
            node: id,
            name: node.name.clone(),
            op: node.op.mnemonic(),
            error,
        }),
        Ok(expected) if expected != node.shape => errors.push(VerifyError::WrongShape {
            node: id,
            name: node.name.clone(),
            op: node.op.mnemonic(),
            expected,
            recorded: node.shape.clone(),
        }),
        Ok(_) => {}
    }
    if let (Op::KernelOutput { index, shape }, Some(&kernel)) = (&node.op, node.inputs.first()) {
        if let Some(why) = kernel_output_problem(graph, kernel, *index, shape) {
            errors.push(VerifyError::KernelOutput {
                node: id,
                name: node.name.clone(),
                why,
            });
        }
    }
    if let Op::Input {
        kind: InputKind::Data(_) | InputKind::Target,
        shape,
    } = &node.op
    {
        if shape.first() != Some(&graph.batch_size) {
            errors.push(VerifyError::BatchSize {
                node: id,
                name: node.name.clone(),
                batch_size: graph.batch_size,
                shape: shape.clone(),
            });
        }
    }
}

/// What is wrong with reading output `index` of `shape` from `kernel`.
fn kernel_output_problem(
    graph: &Graph,
    kernel: NodeId,
    index: usize,
    shape: &[usize],
) -> Option<&'static str> {
    let Op::Fused(fused) = &graph.node(kernel).op else {
        return Some("a kernel output reads a node that is not a fused kernel");
    };
    if index == 0 {
        return Some("output 0 of a kernel is the kernel node itself");
    }
    match fused.output_shape(index) {
        None => Some("a kernel output reads an output the kernel does not yield"),
        Some(yielded) if yielded != shape => {
            Some("a kernel output's shape differs from the value the kernel yields")
        }
        Some(_) => None,
    }
}
