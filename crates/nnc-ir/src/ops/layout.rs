//! Layout: `reshape` (which also serves `flatten`) reinterprets the values,
//! in row-major order, with another shape of the same number of values.

use super::{arity, grad_name, operand, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// Shape rule: the target shape, when it has as many values as the operand.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    arity(inputs, 1)?;
    let Op::Reshape { shape } = op else {
        return Err(ShapeError::Invalid("not a layout op"));
    };
    let count = |s: &[usize]| s.iter().product::<usize>();
    if count(inputs[0]) != count(shape) {
        return Err(ShapeError::Count {
            from: inputs[0].to_vec(),
            to: shape.clone(),
        });
    }
    Ok(shape.clone())
}

/// Gradient rule: the gradient reshaped back to the operand's shape.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let x = operand(graph, node, 0);
    let name = grad_name(graph, x);
    let shape = graph.shape(x).to_vec();
    Ok(vec![wanted(wants, 0, || {
        graph.add(Op::Reshape { shape }, vec![dy], name)
    })?])
}
