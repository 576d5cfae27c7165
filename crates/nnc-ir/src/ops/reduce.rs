//! Broadcasts and reductions: `bias_add` (a per-channel bias along
//! dimension 1), `scale_by` (a tensor times a scalar tensor), `sum` over
//! axes and its inverse `expand`.

use super::{arity, grad_name, operand, rank, same, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};
use crate::scalar::Cmp;

/// Checks that `axes` is sorted, distinct and below `rank`.
fn check_axes(axes: &[usize], rank: usize) -> Result<(), ShapeError> {
    let sorted = axes.windows(2).all(|w| w[0] < w[1]);
    if sorted && axes.iter().all(|&a| a < rank) {
        Ok(())
    } else {
        Err(ShapeError::Axes {
            axes: axes.to_vec(),
            rank,
        })
    }
}

/// `shape` without the dimensions in `axes`.
pub fn remove_axes(shape: &[usize], axes: &[usize]) -> Shape {
    shape
        .iter()
        .enumerate()
        .filter(|(i, _)| !axes.contains(i))
        .map(|(_, &d)| d)
        .collect()
}

/// Every axis of a rank-`rank` tensor except `keep`.
pub fn all_axes_but(rank: usize, keep: usize) -> Vec<usize> {
    (0..rank).filter(|&a| a != keep).collect()
}

/// Shape rules: `bias_add(x, b)` needs `x` of rank 2 or more and `b` of
/// shape `[x[1]]`, and gives `x`'s shape; `scale_by(x, s)` needs a scalar
/// `s` and gives `x`'s shape; `sum` removes its axes; `expand` gives its
/// shape, from an operand of that shape without its axes.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    match op {
        Op::BiasAdd => {
            arity(inputs, 2)?;
            if inputs[0].len() < 2 {
                return Err(ShapeError::Rank {
                    operand: 0,
                    expected: 2,
                    found: inputs[0].to_vec(),
                });
            }
            same(inputs, 1, &[inputs[0][1]])?;
            Ok(inputs[0].to_vec())
        }
        Op::ScaleBy => {
            arity(inputs, 2)?;
            rank(inputs, 1, 0)?;
            Ok(inputs[0].to_vec())
        }
        Op::SumAxes { axes } | Op::MaxAxes { axes } => {
            arity(inputs, 1)?;
            check_axes(axes, inputs[0].len())?;
            Ok(remove_axes(inputs[0], axes))
        }
        Op::Expand { axes, shape } => {
            arity(inputs, 1)?;
            check_axes(axes, shape.len())?;
            same(inputs, 0, &remove_axes(shape, axes))?;
            Ok(shape.clone())
        }
        _ => Err(ShapeError::Invalid("not a broadcast or reduction op")),
    }
}

/// Gradient rules: `bias_add`: `dy` and `dy` summed over every axis but 1;
/// `scale_by`: `s dy` and `sum(dy x)`; `sum`: `dy` expanded back;
/// `expand`: `dy` summed over the expanded axes; `max`: `dy` expanded back
/// where `x` equals its maximum (every tied position gets it), else 0.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let op = graph.node(node).op.clone();
    let x = operand(graph, node, 0);
    let name_x = grad_name(graph, x);
    let x_shape = graph.shape(x).to_vec();
    match op {
        Op::BiasAdd => {
            let b = operand(graph, node, 1);
            let name_b = grad_name(graph, b);
            let dx = wanted(wants, 0, || Ok(dy))?;
            let axes = all_axes_but(x_shape.len(), 1);
            let db = wanted(wants, 1, || {
                graph.add(Op::SumAxes { axes }, vec![dy], name_b)
            })?;
            Ok(vec![dx, db])
        }
        Op::ScaleBy => {
            let s = operand(graph, node, 1);
            let name_s = grad_name(graph, s);
            let dx = wanted(wants, 0, || graph.add(Op::ScaleBy, vec![dy, s], name_x))?;
            let ds = wanted(wants, 1, || {
                let prod = graph.add(Op::Mul, vec![dy, x], name_s.clone())?;
                let axes = (0..x_shape.len()).collect();
                graph.add(Op::SumAxes { axes }, vec![prod], name_s)
            })?;
            Ok(vec![dx, ds])
        }
        Op::SumAxes { axes } => Ok(vec![wanted(wants, 0, || {
            let shape = x_shape.clone();
            graph.add(Op::Expand { axes, shape }, vec![dy], name_x)
        })?]),
        Op::Expand { axes, .. } => Ok(vec![wanted(wants, 0, || {
            graph.add(Op::SumAxes { axes }, vec![dy], name_x)
        })?]),
        Op::MaxAxes { axes } => Ok(vec![wanted(wants, 0, || {
            let expand = Op::Expand {
                axes,
                shape: x_shape.clone(),
            };
            let top = graph.add(expand.clone(), vec![node], name_x.clone())?;
            let mask = graph.add(Op::Compare(Cmp::Eq), vec![x, top], name_x.clone())?;
            let spread = graph.add(expand, vec![dy], name_x.clone())?;
            graph.add(Op::Mul, vec![spread, mask], name_x)
        })?]),
        _ => Ok(vec![None]),
    }
}

/// For each position of a tensor of `shape` in row-major order, the
/// position of the tensor without `axes` it maps to: calls `visit(full,
/// reduced)` with both flat indices.
pub fn for_each_position(shape: &[usize], axes: &[usize], mut visit: impl FnMut(usize, usize)) {
    let rank = shape.len();
    // The flat stride in the reduced tensor of each axis (0 for removed axes).
    let mut stride = vec![0; rank];
    let mut next = 1;
    for axis in (0..rank).rev() {
        if !axes.contains(&axis) {
            stride[axis] = next;
            next *= shape[axis];
        }
    }
    let total: usize = shape.iter().product();
    let mut index = vec![0; rank];
    let mut reduced = 0;
    for full in 0..total {
        visit(full, reduced);
        // Advance the multi-index like an odometer, keeping `reduced` in step.
        for axis in (0..rank).rev() {
            index[axis] += 1;
            reduced += stride[axis];
            if index[axis] < shape[axis] {
                break;
            }
            reduced -= stride[axis] * shape[axis];
            index[axis] = 0;
        }
    }
}
