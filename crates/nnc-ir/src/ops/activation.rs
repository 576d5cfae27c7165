//! Activations: `sigmoid`, `tanh`, `relu`, `step`, `softmax`, and the
//! backward ops their gradient rules build (`sigmoid_grad`, `tanh_grad`,
//! `relu_grad`, `softmax_grad`). All keep their operand's shape.

use super::{arity, grad_name, operand, same, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// Shape rule: the operand's shape. `softmax` works per example, so its
/// operand has a batch dimension and at least one more; the backward ops
/// take two operands of one shape.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    match op {
        Op::SigmoidGrad
        | Op::TanhGrad
        | Op::ReluGrad
        | Op::SoftmaxGrad
        | Op::GeluGrad(_)
        | Op::SiluGrad => {
            arity(inputs, 2)?;
            same(inputs, 1, inputs[0])?;
        }
        _ => arity(inputs, 1)?,
    }
    if matches!(op, Op::Softmax | Op::SoftmaxGrad) && inputs[0].len() < 2 {
        return Err(ShapeError::Invalid(
            "softmax needs a batch dimension and at least one more",
        ));
    }
    Ok(inputs[0].to_vec())
}

/// Gradient rules, from the output `y` (or, for `relu`, the operand `x`):
/// `sigmoid`: `dy y (1 - y)`; `tanh`: `dy (1 - y^2)`; `relu`: `dy [x > 0]`;
/// `gelu`: `gelu_grad(x, dy)`; `silu`: `silu_grad(x, dy)`; `softplus`:
/// `dy sigmoid(x)`; `step`: zero; `softmax`: `y (dy - sum(dy y))` per example.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let x = operand(graph, node, 0);
    let name = grad_name(graph, x);
    let (backward, from) = match graph.node(node).op {
        Op::Sigmoid => (Op::SigmoidGrad, node),
        Op::Tanh => (Op::TanhGrad, node),
        Op::Relu => (Op::ReluGrad, x),
        Op::Gelu(form) => (Op::GeluGrad(form), x),
        Op::Silu => (Op::SiluGrad, x),
        // A composite: dy sigmoid(x).
        Op::Softplus => {
            return Ok(vec![wanted(wants, 0, || {
                let slope = graph.add(Op::Sigmoid, vec![x], name.clone())?;
                graph.add(Op::Mul, vec![dy, slope], name)
            })?]);
        }
        Op::Softmax => (Op::SoftmaxGrad, node),
        _ => return Ok(vec![None]),
    };
    Ok(vec![wanted(wants, 0, || {
        graph.add(backward, vec![from, dy], name)
    })?])
}
