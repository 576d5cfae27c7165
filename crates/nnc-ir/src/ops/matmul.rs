//! The matrix product `op(a) op(b)` of 2-D operands, where `op` transposes
//! when its flag is set: a dense layer is `matmul(x, W^T)`.

use super::{arity, grad_name, operand, rank, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// `[rows, cols]` of a 2-D shape, transposed when `t`.
fn dims(shape: &[usize], t: bool) -> (usize, usize) {
    if t {
        (shape[1], shape[0])
    } else {
        (shape[0], shape[1])
    }
}

/// Shape rule: `op(a)` is `[m, k]`, `op(b)` is `[k, n]`, the product `[m, n]`.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    let Op::MatMul { ta, tb } = *op else {
        return Err(ShapeError::Invalid("not a matmul"));
    };
    arity(inputs, 2)?;
    rank(inputs, 0, 2)?;
    rank(inputs, 1, 2)?;
    let (m, k) = dims(inputs[0], ta);
    let (k2, n) = dims(inputs[1], tb);
    if k != k2 {
        let expected = if tb { vec![n, k] } else { vec![k, n] };
        return Err(ShapeError::Mismatch {
            operand: 1,
            expected,
            found: inputs[1].to_vec(),
        });
    }
    Ok(vec![m, n])
}

/// Gradient rule, with `g = dy` and `C = op(A) op(B)`:
///
/// | C        | dA           | dB           |
/// |----------|--------------|--------------|
/// | A B      | g B^T        | A^T g        |
/// | A B^T    | g B          | g^T A        |
/// | A^T B    | B g^T        | A g          |
/// | A^T B^T  | B^T g^T      | g^T A^T      |
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let Op::MatMul { ta, tb } = graph.node(node).op else {
        return Ok(vec![None, None]);
    };
    let a = operand(graph, node, 0);
    let b = operand(graph, node, 1);
    let (name_a, name_b) = (grad_name(graph, a), grad_name(graph, b));
    let mm = |ta, tb| Op::MatMul { ta, tb };
    let (da_op, da_in, db_op, db_in) = match (ta, tb) {
        (false, false) => (mm(false, true), [dy, b], mm(true, false), [a, dy]),
        (false, true) => (mm(false, false), [dy, b], mm(true, false), [dy, a]),
        (true, false) => (mm(false, true), [b, dy], mm(false, false), [a, dy]),
        (true, true) => (mm(true, true), [b, dy], mm(true, true), [dy, a]),
    };
    let da = wanted(wants, 0, || graph.add(da_op, da_in.to_vec(), name_a))?;
    let db = wanted(wants, 1, || graph.add(db_op, db_in.to_vec(), name_b))?;
    Ok(vec![da, db])
}
