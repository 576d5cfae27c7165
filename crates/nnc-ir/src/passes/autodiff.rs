//! Pass `autodiff`: reverse-mode differentiation of the mean cost with
//! respect to every trained parameter (as the forward pass reads it),
//! appending the backward nodes to the graph and an output `grad(NAME)` per
//! trained parameter. Parameters that are not trained (state the forward
//! pass updates) get no gradient, even where the cost depends on them.
//!
//! The algorithm is the textbook one. The nodes that lie on a path from a
//! parameter to the cost are found first (forward reach from the
//! parameters, backward reach from the cost); then, walking the arena
//! backwards from the cost, each such node sums the gradient contributions
//! its consumers made (`add` nodes named `grad(NAME)`) and hands the sum to
//! its op's gradient rule (`Op::gradient`), which appends the local
//! vector-Jacobian products for the operands that lie on a path. A tensor
//! read twice (a shared layer's weights) thus gets the sum of both
//! contributions. Nodes off every path get no backward nodes at all.

use crate::error::CompileError;
use crate::graph::{Graph, InputKind, NodeId, OutputKind};
use crate::ops::{grad_name, Op};

/// Adds `grad(NAME)` outputs to a graph with a `cost` for every parameter
/// `k` (`InputKind::Param(k)`) with `trained[k]`; `trained` has one flag
/// per parameter of the graph.
pub fn autodiff(graph: &mut Graph, trained: &[bool]) -> Result<(), CompileError> {
    let cost = graph
        .output_of(OutputKind::Cost)
        .map(|o| o.node)
        .ok_or_else(|| CompileError::Internal {
            what: "autodiff needs a graph with a `cost` output".to_string(),
        })?;
    if trained.len() != graph.param_reads.len() {
        return Err(CompileError::Internal {
            what: format!(
                "autodiff was given {} parameters for a graph of {}",
                trained.len(),
                graph.param_reads.len()
            ),
        });
    }
    let trained: Vec<usize> = (0..trained.len()).filter(|&k| trained[k]).collect();
    let reads = trained
        .iter()
        .map(|&k| {
            graph.param_reads[k].ok_or_else(|| CompileError::Internal {
                what: format!("parameter {k} has no read node to differentiate"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let grads = gradients(graph, cost, &reads)?;
    for ((&k, grad), read) in trained.iter().zip(grads).zip(reads) {
        let name = match graph.input(InputKind::Param(k)) {
            Some(id) => graph.node(id).name.clone(),
            None => graph.node(read).name.clone(),
        };
        graph.add_output(format!("grad({name})"), OutputKind::Gradient(k), grad);
    }
    Ok(())
}

/// Appends nodes computing the gradient of `of` (its gradient seeded with
/// ones) with respect to each node of `wrt`, and returns them in order. A
/// node `of` does not depend on gets a zero gradient.
pub fn gradients(
    graph: &mut Graph,
    of: NodeId,
    wrt: &[NodeId],
) -> Result<Vec<NodeId>, CompileError> {
    if of.index() >= graph.len() || wrt.iter().any(|w| w.index() >= graph.len()) {
        return Err(CompileError::Internal {
            what: "gradient asked of or with respect to a node outside the graph".to_string(),
        });
    }
    let on_path = nodes_on_paths(graph, of, wrt);
    let mut contributions: Vec<Vec<NodeId>> = vec![Vec::new(); graph.len()];
    let mut totals: Vec<Option<NodeId>> = vec![None; graph.len()];
    let seed_op = Op::Fill {
        value: 1.0,
        shape: graph.shape(of).to_vec(),
    };
    let seed = graph.add(seed_op, Vec::new(), grad_name(graph, of))?;
    contributions[of.index()].push(seed);
    for index in (0..=of.index()).rev() {
        if !on_path[index] || contributions[index].is_empty() {
            continue;
        }
        let id = NodeId::new(index);
        let dy = sum(graph, id, &contributions[index])?;
        totals[index] = Some(dy);
        let operands = graph.node(id).inputs.clone();
        let wants: Vec<bool> = operands.iter().map(|o| on_path[o.index()]).collect();
        if !wants.contains(&true) {
            continue;
        }
        let grads = Op::gradient(graph, id, dy, &wants)?;
        for (operand, grad) in operands.iter().zip(grads) {
            if let Some(grad) = grad {
                contributions[operand.index()].push(grad);
            }
        }
    }
    wrt.iter()
        .map(|&w| match totals[w.index()] {
            Some(total) => Ok(total),
            None => {
                let zero = Op::Fill {
                    value: 0.0,
                    shape: graph.shape(w).to_vec(),
                };
                graph.add(zero, Vec::new(), grad_name(graph, w))
            }
        })
        .collect()
}

/// Marks the nodes that depend on some node of `wrt` and that `of`
/// depends on.
fn nodes_on_paths(graph: &Graph, of: NodeId, wrt: &[NodeId]) -> Vec<bool> {
    let n = graph.len();
    let mut from_wrt = vec![false; n];
    for w in wrt {
        from_wrt[w.index()] = true;
    }
    for id in graph.ids() {
        if graph.node(id).inputs.iter().any(|i| from_wrt[i.index()]) {
            from_wrt[id.index()] = true;
        }
    }
    let mut to_of = vec![false; n];
    to_of[of.index()] = true;
    for index in (0..n).rev() {
        if to_of[index] {
            for i in &graph.node(NodeId::new(index)).inputs {
                to_of[i.index()] = true;
            }
        }
    }
    (0..n).map(|i| from_wrt[i] && to_of[i]).collect()
}

/// The sum of the gradient contributions to `id` (no node for one).
/// Contributions that are slices' gradients (`pad`s along one axis) of
/// disjoint ranges are joined into one concatenation, with zeros for the
/// gaps, instead of being added one full-size tensor at a time: a
/// sequence read step by step (an unrolled recurrence) gets its gradient
/// in one pass, not in T passes over the whole sequence.
fn sum(graph: &mut Graph, id: NodeId, parts: &[NodeId]) -> Result<NodeId, CompileError> {
    let name = grad_name(graph, id);
    let parts = join_pads(graph, parts, &name)?;
    let elements: usize = graph.shape(parts[0]).iter().product();
    if parts.len() > STACK_ABOVE && elements <= STACK_MAX_ELEMENTS {
        // Many small contributions (a bias read at every step of an
        // unrolled recurrence): stacked and summed in one reduction, not
        // a chain of additions a fused kernel would read all at once.
        let mut row = vec![1];
        row.extend_from_slice(graph.shape(parts[0]));
        let rows = parts
            .iter()
            .map(|&p| graph.add(Op::Reshape { shape: row.clone() }, vec![p], name.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let op = Op::Concat {
            axis: 0,
            parts: rows.len(),
        };
        let stacked = graph.add(op, rows, name.clone())?;
        return graph.add(Op::SumAxes { axes: vec![0] }, vec![stacked], name);
    }
    let mut total = parts[0];
    for &part in &parts[1..] {
        total = graph.add(Op::Add, vec![total, part], name.clone())?;
    }
    Ok(total)
}

/// Above this many contributions to one gradient, small ones are stacked
/// and summed by one reduction.
const STACK_ABOVE: usize = 8;
/// The largest contribution (in values) that is stacked: larger ones (a
/// weight's gradient, which the products accumulate in their epilogues)
/// are added one after the other.
const STACK_MAX_ELEMENTS: usize = 16_384;

/// `parts` with the `pad`s along the most common axis that cover disjoint
/// ranges replaced by one `concat` (when there are at least two).
fn join_pads(graph: &mut Graph, parts: &[NodeId], name: &str) -> Result<Vec<NodeId>, CompileError> {
    let pad_of = |graph: &Graph, p: NodeId| match graph.node(p).op {
        Op::Pad { axis, before, .. } => {
            let operand = graph.node(p).inputs[0];
            let len = graph.shape(operand).get(axis).copied().unwrap_or(0);
            Some((axis, before, len, operand))
        }
        _ => None,
    };
    let mut pads: Vec<(usize, usize, usize, NodeId)> =
        parts.iter().filter_map(|&p| pad_of(graph, p)).collect();
    if pads.len() < 2 {
        return Ok(parts.to_vec());
    }
    let axis = pads[0].0;
    pads.retain(|p| p.0 == axis);
    pads.sort_by_key(|p| p.1);
    let disjoint = pads.windows(2).all(|w| w[0].1 + w[0].2 <= w[1].1);
    if pads.len() < 2 || !disjoint {
        return Ok(parts.to_vec());
    }
    let shape = graph.shape(parts[0]).to_vec();
    let extent = shape.get(axis).copied().unwrap_or(0);
    let zeros = |graph: &mut Graph, len: usize| {
        let mut s = shape.clone();
        s[axis] = len;
        graph.add(
            Op::Fill {
                value: 0.0,
                shape: s,
            },
            Vec::new(),
            name.to_string(),
        )
    };
    let mut pieces = Vec::with_capacity(pads.len() * 2 + 1);
    let mut at = 0;
    for &(_, before, len, operand) in &pads {
        if before > at {
            pieces.push(zeros(graph, before - at)?);
        }
        pieces.push(operand);
        at = before + len;
    }
    if at < extent {
        pieces.push(zeros(graph, extent - at)?);
    }
    let joined = graph.add(
        Op::Concat {
            axis,
            parts: pieces.len(),
        },
        pieces,
        name.to_string(),
    )?;
    let mut rest: Vec<NodeId> = parts
        .iter()
        .copied()
        .filter(|&p| !matches!(pad_of(graph, p), Some((a, ..)) if a == axis))
        .collect();
    rest.insert(0, joined);
    Ok(rest)
}
