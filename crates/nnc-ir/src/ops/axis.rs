//! Ops along one axis: `concat` joins its operands along an axis,
//! `slice` takes a range of positions along one, and `pad`, the slice's
//! gradient, places its operand into zeros along one. Each is a set of
//! block copies ([`AxisCopy`], from [`copies`]), which every backend runs
//! (the interpreter and the CPU's host steps directly, WGSL one shader
//! per copy).

use super::{arity, grad_name, operand, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// Checks that `axis` is below the rank of operand `k`.
fn check_axis(inputs: &[&[usize]], k: usize, axis: usize) -> Result<(), ShapeError> {
    let rank = inputs[k].len();
    if axis < rank {
        Ok(())
    } else {
        Err(ShapeError::Axis { axis, rank })
    }
}

/// Shape rules: `concat`: `parts` (at least one) operands of one rank,
/// equal on every axis but `axis`, which adds up; `slice`: `start + len`
/// within the operand's extent along `axis`, which becomes `len`; `pad`:
/// the extent along `axis` grows by `before + after`.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    match *op {
        Op::Concat { axis, parts } => {
            arity(inputs, parts)?;
            if parts == 0 {
                return Err(ShapeError::Invalid("a concatenation needs an operand"));
            }
            check_axis(inputs, 0, axis)?;
            let mut out = inputs[0].to_vec();
            for (k, part) in inputs.iter().enumerate().skip(1) {
                let mut expected = inputs[0].to_vec();
                if let (Some(e), Some(&extent)) = (expected.get_mut(axis), part.get(axis)) {
                    *e = extent;
                }
                if *part != expected.as_slice() {
                    return Err(ShapeError::Mismatch {
                        operand: k,
                        expected,
                        found: part.to_vec(),
                    });
                }
                out[axis] = out[axis]
                    .checked_add(part[axis])
                    .ok_or(ShapeError::Invalid("a concatenation too large to count"))?;
            }
            Ok(out)
        }
        Op::Slice { axis, start, len } => {
            arity(inputs, 1)?;
            check_axis(inputs, 0, axis)?;
            let extent = inputs[0][axis];
            if start.checked_add(len).is_none_or(|end| end > extent) {
                return Err(ShapeError::Range {
                    axis,
                    start,
                    len,
                    extent,
                });
            }
            let mut out = inputs[0].to_vec();
            out[axis] = len;
            Ok(out)
        }
        Op::Pad {
            axis,
            before,
            after,
        } => {
            arity(inputs, 1)?;
            check_axis(inputs, 0, axis)?;
            let mut out = inputs[0].to_vec();
            out[axis] = before
                .checked_add(after)
                .and_then(|p| p.checked_add(out[axis]))
                .ok_or(ShapeError::Invalid("a padding too large to count"))?;
            Ok(out)
        }
        _ => Err(ShapeError::Invalid("not an op along an axis")),
    }
}

/// Gradient rules: `concat`: `dy` sliced at each operand's positions;
/// `slice`: `dy` padded back to the operand's extent (zeros where the
/// slice did not look); `pad`: `dy` sliced where the operand lies.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    match graph.node(node).op {
        Op::Concat { axis, parts } => {
            let mut grads = Vec::with_capacity(parts);
            let mut start = 0;
            for k in 0..parts {
                let x = operand(graph, node, k);
                let len = graph.shape(x).get(axis).copied().unwrap_or(0);
                let name = grad_name(graph, x);
                let slice = Op::Slice { axis, start, len };
                grads.push(wanted(wants, k, || graph.add(slice, vec![dy], name))?);
                start += len;
            }
            Ok(grads)
        }
        Op::Slice { axis, start, len } => {
            let x = operand(graph, node, 0);
            let extent = graph.shape(x).get(axis).copied().unwrap_or(0);
            let name = grad_name(graph, x);
            let pad = Op::Pad {
                axis,
                before: start,
                after: extent.saturating_sub(start + len),
            };
            Ok(vec![wanted(wants, 0, || graph.add(pad, vec![dy], name))?])
        }
        Op::Pad { axis, before, .. } => {
            let x = operand(graph, node, 0);
            let len = graph.shape(x).get(axis).copied().unwrap_or(0);
            let name = grad_name(graph, x);
            let slice = Op::Slice {
                axis,
                start: before,
                len,
            };
            Ok(vec![wanted(wants, 0, || graph.add(slice, vec![dy], name))?])
        }
        _ => Ok(vec![None; wants.len()]),
    }
}

/// A copy of `len` positions along one axis between two tensors that
/// agree on every other axis: source position `src_start + i` goes to
/// destination position `dst_start + i`, for every one of the `outer`
/// positions of the axes before it and `inner` of the axes after it.
/// Element `(o, p, r)` of a tensor of extent `e` along the axis lies at
/// `(o e + p) inner + r`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AxisCopy {
    pub outer: usize,
    pub inner: usize,
    pub src_extent: usize,
    pub src_start: usize,
    pub dst_extent: usize,
    pub dst_start: usize,
    pub len: usize,
}

impl AxisCopy {
    /// The number of values copied.
    pub fn count(&self) -> usize {
        self.outer * self.len * self.inner
    }

    /// Copies from `src` into `dst`, leaving the rest of `dst` as it is.
    /// Blocks that would lie outside either slice are skipped (the shape
    /// rules make that impossible; nothing panics on a broken graph).
    pub fn run<T: Copy>(&self, src: &[T], dst: &mut [T]) {
        let block = self.len * self.inner;
        for o in 0..self.outer {
            let from = (o * self.src_extent + self.src_start) * self.inner;
            let to = (o * self.dst_extent + self.dst_start) * self.inner;
            if let (Some(s), Some(d)) = (src.get(from..from + block), dst.get_mut(to..to + block)) {
                d.copy_from_slice(s);
            }
        }
    }
}

/// `(outer, extent, inner)` of `shape` around `axis`: the number of
/// positions before it, its extent and the number after it.
pub fn around(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape.iter().take(axis).product();
    let extent = shape.get(axis).copied().unwrap_or(1);
    let inner = shape.iter().skip(axis + 1).product();
    (outer, extent, inner)
}

/// The copies computing `op` (`concat`, `slice` or `pad`) of operands of
/// shapes `inputs`: copy `k` reads operand `k`. Whether the result must be
/// zeroed first (a `pad`: the copy does not cover it) is the second value.
/// `None` for another op.
pub fn copies(op: &Op, inputs: &[&[usize]]) -> Option<(Vec<AxisCopy>, bool)> {
    let out = op.shape(inputs).ok()?;
    match *op {
        Op::Concat { axis, .. } => {
            let (outer, total, inner) = around(&out, axis);
            let mut start = 0;
            let mut list = Vec::with_capacity(inputs.len());
            for shape in inputs {
                let len = shape[axis];
                list.push(AxisCopy {
                    outer,
                    inner,
                    src_extent: len,
                    src_start: 0,
                    dst_extent: total,
                    dst_start: start,
                    len,
                });
                start += len;
            }
            Some((list, false))
        }
        Op::Slice { axis, start, len } => {
            let (outer, extent, inner) = around(inputs[0], axis);
            let copy = AxisCopy {
                outer,
                inner,
                src_extent: extent,
                src_start: start,
                dst_extent: len,
                dst_start: 0,
                len,
            };
            Some((vec![copy], false))
        }
        Op::Pad { axis, before, .. } => {
            let (outer, extent, inner) = around(inputs[0], axis);
            let copy = AxisCopy {
                outer,
                inner,
                src_extent: extent,
                src_start: 0,
                dst_extent: out[axis],
                dst_start: before,
                len: extent,
            };
            Some((vec![copy], true))
        }
        _ => None,
    }
}
