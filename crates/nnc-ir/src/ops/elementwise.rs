//! Elementwise arithmetic: `add`, `sub`, `mul`, `div`, `maximum`,
//! `minimum` and the comparison masks on operands of one shape, and the
//! unary `neg`, `scale`, `add_const`, `exp`, `log`, `sqrt`, `abs`,
//! `square`, `pow`, `sign`. The output has the operands' shape. What each
//! computes is its formula in the op table (`table.rs`).

use super::{arity, grad_name, operand, same, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};
use crate::scalar::Cmp;

/// Shape rule: binary ops need two operands of one shape; unary ops keep
/// their operand's shape.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    let operands = op.def().arity;
    arity(inputs, operands)?;
    if operands == 2 {
        same(inputs, 1, inputs[0])?;
    }
    Ok(inputs[0].to_vec())
}

/// Gradient rules (`y` is the node's value, `dy` its gradient):
/// `add`: `dy, dy`; `sub`: `dy, -dy`; `mul`: `dy b, dy a`;
/// `div`: `dy / b, -(dy y) / b`; `neg`: `-dy`; `scale(c)`: `c dy`;
/// `add_const`: `dy`; `exp`: `dy y`; `log`: `dy / x`; `sqrt`: `(dy / 2) / y`;
/// `abs`: `dy sign(x)`; `square`: `dy 2x`; `pow(p)`: `dy p x^(p-1)`;
/// `maximum`: `dy [a >= b]`, `dy - dy [a >= b]`; `minimum`: the same with
/// `[a <= b]`; `sign` and the comparisons: zero (op table).
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
        Op::Abs => Ok(vec![wanted(wants, 0, || {
            let sign = graph.add(Op::Sign, vec![a], name_a.clone())?;
            graph.add(Op::Mul, vec![dy, sign], name_a)
        })?]),
        Op::Square => Ok(vec![wanted(wants, 0, || {
            let twice = graph.add(Op::Scale(2.0), vec![a], name_a.clone())?;
            graph.add(Op::Mul, vec![dy, twice], name_a)
        })?]),
        Op::Pow(p) => Ok(vec![wanted(wants, 0, || {
            let lower = graph.add(Op::Pow(p - 1.0), vec![a], name_a.clone())?;
            let slope = graph.add(Op::Scale(p), vec![lower], name_a.clone())?;
            graph.add(Op::Mul, vec![dy, slope], name_a)
        })?]),
        Op::Maximum | Op::Minimum => {
            let b = operand(graph, node, 1);
            let name_b = grad_name(graph, b);
            let cmp = if op == Op::Maximum { Cmp::Ge } else { Cmp::Le };
            let mask = graph.add(Op::Compare(cmp), vec![a, b], name_a.clone())?;
            let da = graph.add(Op::Mul, vec![dy, mask], name_a)?;
            let db = wanted(wants, 1, || graph.add(Op::Sub, vec![dy, da], name_b))?;
            Ok(vec![
                wants.first().copied().unwrap_or(false).then_some(da),
                db,
            ])
        }
        _ => Ok(vec![None]),
    }
}
