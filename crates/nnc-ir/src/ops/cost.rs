//! Costs and accuracy. A cost op gives the cost of each example (`[batch]`,
//! summed over the example's values); the graph reduces it to the mean of
//! the batch (training) or the sum (evaluation). The formulas are in
//! [`CostFn`]; the targets `y` have the prediction's shape and get no
//! gradient.

use super::{arity, grad_name, operand, same, wanted, CostFn, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// Shape rules: `cost(a [b, ...], y) -> [b]`; `cost_grad(a, y, dy [b]) ->
/// a`'s shape; `correct_count(a, y) -> []`. `a` has a batch dimension and
/// at least one more; `y` has `a`'s shape.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    let operands = if matches!(op, Op::CostGrad(_)) { 3 } else { 2 };
    arity(inputs, operands)?;
    let a = inputs[0];
    if a.len() < 2 {
        return Err(ShapeError::Invalid(
            "a cost needs a batch dimension and at least one more",
        ));
    }
    same(inputs, 1, a)?;
    match op {
        Op::Cost(_) => Ok(vec![a[0]]),
        Op::CostGrad(_) => {
            same(inputs, 2, &[a[0]])?;
            Ok(a.to_vec())
        }
        Op::CorrectCount => Ok(Vec::new()),
        _ => Err(ShapeError::Invalid("not a cost op")),
    }
}

/// Gradient rule: `cost(a, y)` gives `cost_grad(a, y, dy)` for `a` and
/// nothing for the targets; `correct_count` is a count: zero gradient.
///
/// The backward formulas (per example, scaled by its `dy`):
/// quadratic `a - y`; cross-entropy `(a - y) / (a (1 - a))` (with `a`
/// clamped as in the forward); sigmoid cross-entropy `sigmoid(z) - y`;
/// log-likelihood `-y / a`; softmax log-likelihood `sum(y) softmax(z) - y`.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let Op::Cost(cost) = graph.node(node).op else {
        return Ok(vec![None, None]);
    };
    let a = operand(graph, node, 0);
    let y = operand(graph, node, 1);
    let name = grad_name(graph, a);
    let da = wanted(wants, 0, || {
        graph.add(Op::CostGrad(cost), vec![a, y, dy], name)
    })?;
    Ok(vec![da, None])
}

impl CostFn {
    /// Cross-entropy keeps probabilities in `[CLAMP, 1 - CLAMP]`.
    pub const CLAMP: f64 = 1e-7;
    /// The log-likelihood keeps probabilities at or above `FLOOR`.
    pub const FLOOR: f64 = 1e-30;

    /// Whether the prediction operand is the weighted input `z` rather than
    /// the activation.
    pub fn takes_logits(self) -> bool {
        matches!(
            self,
            CostFn::SigmoidCrossEntropy | CostFn::SoftmaxLogLikelihood
        )
    }
}
