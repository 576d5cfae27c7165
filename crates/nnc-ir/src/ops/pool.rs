//! Pooling over each channel of a batch of `[c, h, w]` images: the maximum,
//! the mean, or the L2 norm (square root of the sum of squares) of each
//! window, and the backward op of each.
//!
//! Window geometry: output position `i` covers the padded rows `[i * s,
//! i * s + k)`, that is the input rows `[i * s - pad_before, i * s -
//! pad_before + k)` clipped to the input. Padding is never a value: a window
//! reduces the input pixels it covers (the mean divides by their count), so
//! max pooling never returns a padding zero, and with `ceil` rounding the
//! last window covers what is left. The output length is the checker's
//! (`crate::window::conv2d_output_len`), so a `ceil` window that would
//! start past the input is dropped. A window covering no input pixel (only
//! possible with padding at least the window size) gives 0.

use super::conv::window_len;
use super::{arity, grad_name, operand, rank, same, wanted, Op, PoolGeometry, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// `[b, c, oh, ow]` of pooling `x [b, c, h, w]`.
pub fn output_shape(x: &[usize], g: &PoolGeometry) -> Result<Shape, ShapeError> {
    let oh = window_len(
        "height",
        x[2],
        g.size[0],
        g.stride[0],
        [g.padding[0], g.padding[1]],
        g.rounding,
    )?;
    let ow = window_len(
        "width",
        x[3],
        g.size[1],
        g.stride[1],
        [g.padding[2], g.padding[3]],
        g.rounding,
    )?;
    Ok(vec![x[0], x[1], oh, ow])
}

/// The input range `[start, end)` covered by output position `i` along an
/// axis of length `len` (may be empty).
pub fn window_range(
    i: usize,
    size: usize,
    stride: usize,
    pad_before: usize,
    len: usize,
) -> (usize, usize) {
    let start = (i * stride) as isize - pad_before as isize;
    let end = start + size as isize;
    let clip = |v: isize| v.clamp(0, len as isize) as usize;
    (clip(start), clip(end))
}

/// Shape rules: `pool(x [b, c, h, w]) -> [b, c, oh, ow]`;
/// `pool_grad(x, y, dy) -> x`'s shape, with `y` and `dy` the pool's shape.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    match op {
        Op::Pool(g) => {
            arity(inputs, 1)?;
            rank(inputs, 0, 4)?;
            output_shape(inputs[0], g)
        }
        Op::PoolGrad(g) => {
            arity(inputs, 3)?;
            rank(inputs, 0, 4)?;
            let y = output_shape(inputs[0], g)?;
            same(inputs, 1, &y)?;
            same(inputs, 2, &y)?;
            Ok(inputs[0].to_vec())
        }
        _ => Err(ShapeError::Invalid("not a pooling op")),
    }
}

/// Gradient rule: `dx = pool_grad(x, y, dy)`. Max routes each window's
/// gradient to the first position holding its maximum; the mean spreads
/// it evenly over the window's pixels; L2 gives `dy * x / y` (0 where
/// `y = 0`).
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let Op::Pool(g) = graph.node(node).op else {
        return Ok(vec![None]);
    };
    let x = operand(graph, node, 0);
    let name = grad_name(graph, x);
    Ok(vec![wanted(wants, 0, || {
        graph.add(Op::PoolGrad(g), vec![x, node, dy], name)
    })?])
}
