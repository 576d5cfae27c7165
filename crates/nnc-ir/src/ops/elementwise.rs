//! Elementwise arithmetic: `add`, `sub`, `mul`, `div` on operands of one
//! shape, and the unary `neg`, `scale`, `add_const`, `exp`, `log`, `sqrt`,
//! `sign`. The output has the operands' shape.

use super::{arity, grad_name, operand, same, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// Shape rule: binary ops need two operands of one shape; unary ops keep
/// their operand's shape.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    match op {
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            arity(inputs, 2)?;
            same(inputs, 1, inputs[0])?;
        }
        _ => arity(inputs, 1)?,
    }
    Ok(inputs[0].to_vec())
}

/// Gradient rules (`y` is the node's value, `dy` its gradient):
/// `add`: `dy, dy`; `sub`: `dy, -dy`; `mul`: `dy b, dy a`;
/// `div`: `dy / b, -(dy y) / b`; `neg`: `-dy`; `scale(c)`: `c dy`;
/// `add_const`: `dy`; `exp`: `dy y`; `log`: `dy / x`; `sqrt`: `(dy / 2) / y`;
/// `sign`: zero.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let op = graph.node(node).op.clone();
    let a = operand(graph, node, 0);
    let name_a = grad_name(graph, a);
    match op {
        Op::Add | Op::Sub | Op::Mul | Op::Div => {
            let b = operand(graph, node, 1);
            let name_b = grad_name(graph, b);
            let (da, db) = match op {
                Op::Add => (wanted(wants, 0, || Ok(dy))?, wanted(wants, 1, || Ok(dy))?),
                Op::Sub => (
                    wanted(wants, 0, || Ok(dy))?,
                    wanted(wants, 1, || graph.add(Op::Neg, vec![dy], name_b))?,
                ),
                Op::Mul => (
                    wanted(wants, 0, || graph.add(Op::Mul, vec![dy, b], name_a))?,
                    wanted(wants, 1, || graph.add(Op::Mul, vec![dy, a], name_b))?,
                ),
                _ => {
                    let da = wanted(wants, 0, || graph.add(Op::Div, vec![dy, b], name_a))?;
                    let db = wanted(wants, 1, || {
                        let dy_y = graph.add(Op::Mul, vec![dy, node], name_b.clone())?;
                        let q = graph.add(Op::Div, vec![dy_y, b], name_b.clone())?;
                        graph.add(Op::Neg, vec![q], name_b)
                    })?;
                    (da, db)
                }
            };
            Ok(vec![da, db])
        }
        Op::Neg => Ok(vec![wanted(wants, 0, || {
            graph.add(Op::Neg, vec![dy], name_a)
        })?]),
        Op::Scale(c) => Ok(vec![wanted(wants, 0, || {
            graph.add(Op::Scale(c), vec![dy], name_a)
        })?]),
        Op::AddConst(_) => Ok(vec![wanted(wants, 0, || Ok(dy))?]),
        Op::Exp => Ok(vec![wanted(wants, 0, || {
            graph.add(Op::Mul, vec![dy, node], name_a)
        })?]),
        Op::Log => Ok(vec![wanted(wants, 0, || {
            graph.add(Op::Div, vec![dy, a], name_a)
        })?]),
        Op::Sqrt => Ok(vec![wanted(wants, 0, || {
            let half = graph.add(Op::Scale(0.5), vec![dy], name_a.clone())?;
            graph.add(Op::Div, vec![half, node], name_a)
        })?]),
        _ => Ok(vec![None]),
    }
}
