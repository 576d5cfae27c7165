//! The interpreter's reference of one node: a small graph of the node,
//! its kernel outputs and the operands it needs, and, for a value computed
//! by a sum of products, the reference of the magnitudes of its terms.

use nnc_interp::Interpreter;
use nnc_ir::{Arg, Graph, InputKind, Node, NodeId, Op, Shape};
use nnc_lower::backend::BackendError;
use std::collections::{BTreeMap, BTreeSet};

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
pub(super) struct Check {
    pub(super) interp: Interpreter<f32>,
    /// The small graph's inputs, as nodes of the full graph, in order.
    pub(super) operands: Vec<NodeId>,
    /// The nodes compared, in the full graph (the node, then its kernel
    /// outputs) ...
    pub(super) compared: Vec<NodeId>,
    /// ... and the same nodes in the small graph.
    pub(super) local: Vec<NodeId>,
    /// For each compared node computed by a sum of products, the
    /// reference of the magnitudes of its terms.
    pub(super) magnitudes: Vec<Option<Magnitude>>,
}

/// For a value computed by a sum of products (a sum over axes, a matrix
/// product, a convolution or one of its gradients): the same op on the
/// magnitudes of its operands, which gives, for each result, the sum of
/// the magnitudes of the terms summed into it.
pub(super) struct Magnitude {
    interp: Interpreter<f32>,
    /// The op's operands, as nodes of the check's small graph.
    operands: Vec<NodeId>,
    /// The op in `interp`.
    result: NodeId,
}

impl Check {
    /// The reference of `id`, whose kernel outputs are `outputs`;
    /// `produced` tells which nodes the JIT has produced before it.
    pub(super) fn new(
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

impl Magnitude {
    /// The sums of the terms' magnitudes, from the operands' values in
    /// `check` (the check's small graph, just run).
    pub(super) fn run(
        &mut self,
        check: &Interpreter<f32>,
        step_seed: u64,
    ) -> Result<Vec<f32>, BackendError> {
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
pub(super) fn values_of(interp: &Interpreter<f32>, node: NodeId) -> std::borrow::Cow<'_, [f32]> {
    let value = interp.value(node);
    match value.as_slice() {
        Some(values) => std::borrow::Cow::Borrowed(values),
        None => std::borrow::Cow::Owned(value.iter().copied().collect()),
    }
}
