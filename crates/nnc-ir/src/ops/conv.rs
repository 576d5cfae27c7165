//! 2-D convolution (a cross-correlation, as in every framework) of a batch
//! of `[c, h, w]` images with `[f, c, kh, kw]` filters, zero padding on each
//! side, and its two backward ops. The output length along each axis is
//! `floor((in + pad_before + pad_after - k) / stride) + 1`.

use super::{arity, grad_name, operand, rank, same, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};
use crate::window::conv2d_output_len;
use crate::window::Rounding;

/// The output length of a window along one axis (`floor` rounding), or
/// the error that it does not fit.
pub fn window_len(
    axis: &'static str,
    input: usize,
    window: usize,
    stride: usize,
    pads: [usize; 2],
    rounding: Rounding,
) -> Result<usize, ShapeError> {
    if stride == 0 || window == 0 {
        return Err(ShapeError::Invalid("windows and strides must be positive"));
    }
    conv2d_output_len(input, window, stride, pads[0], pads[1], rounding).map_err(|_| {
        ShapeError::Window {
            axis,
            input,
            window,
            stride,
            pads,
        }
    })
}

/// `[oh, ow]` of a convolution of `[h, w]` with a `kernel`.
fn output_hw(
    hw: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 4],
) -> Result<[usize; 2], ShapeError> {
    let floor = Rounding::Floor;
    let oh = window_len(
        "height",
        hw[0],
        kernel[0],
        stride[0],
        [padding[0], padding[1]],
        floor,
    )?;
    let ow = window_len(
        "width",
        hw[1],
        kernel[1],
        stride[1],
        [padding[2], padding[3]],
        floor,
    )?;
    Ok([oh, ow])
}

/// Shape rules: `conv2d(x [b, c, h, w], w [f, c, kh, kw]) -> [b, f, oh, ow]`;
/// `conv2d_input_grad(dy [b, f, oh, ow], w) -> [b, c, h, w]`;
/// `conv2d_weight_grad(x, dy) -> [f, c, kh, kw]`.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    arity(inputs, 2)?;
    rank(inputs, 0, 4)?;
    rank(inputs, 1, 4)?;
    match *op {
        Op::Conv2d { stride, padding } => {
            let (x, w) = (inputs[0], inputs[1]);
            same(inputs, 1, &[w[0], x[1], w[2], w[3]])?;
            let [oh, ow] = output_hw([x[2], x[3]], [w[2], w[3]], stride, padding)?;
            Ok(vec![x[0], w[0], oh, ow])
        }
        Op::Conv2dInputGrad {
            stride,
            padding,
            input,
        } => {
            let (dy, w) = (inputs[0], inputs[1]);
            let [oh, ow] = output_hw(input, [w[2], w[3]], stride, padding)?;
            same(inputs, 0, &[dy[0], w[0], oh, ow])?;
            Ok(vec![dy[0], w[1], input[0], input[1]])
        }
        Op::Conv2dWeightGrad {
            stride,
            padding,
            kernel,
        } => {
            let (x, dy) = (inputs[0], inputs[1]);
            let [oh, ow] = output_hw([x[2], x[3]], kernel, stride, padding)?;
            same(inputs, 1, &[x[0], dy[1], oh, ow])?;
            Ok(vec![dy[1], x[1], kernel[0], kernel[1]])
        }
        _ => Err(ShapeError::Invalid("not a convolution op")),
    }
}

/// Gradient rule of `conv2d(x, w)`: `dx = conv2d_input_grad(dy, w)` (the
/// transposed convolution), `dw = conv2d_weight_grad(x, dy)`.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let Op::Conv2d { stride, padding } = graph.node(node).op else {
        return Ok(vec![None, None]);
    };
    let x = operand(graph, node, 0);
    let w = operand(graph, node, 1);
    let (name_x, name_w) = (grad_name(graph, x), grad_name(graph, w));
    let input = [graph.shape(x)[2], graph.shape(x)[3]];
    let kernel = [graph.shape(w)[2], graph.shape(w)[3]];
    let dx = wanted(wants, 0, || {
        let op = Op::Conv2dInputGrad {
            stride,
            padding,
            input,
        };
        graph.add(op, vec![dy, w], name_x)
    })?;
    let dw = wanted(wants, 1, || {
        let op = Op::Conv2dWeightGrad {
            stride,
            padding,
            kernel,
        };
        graph.add(op, vec![x, dy], name_w)
    })?;
    Ok(vec![dx, dw])
}

/// Gradient of `conv2d_input_grad(dy, w)`, also the transposed convolution
/// `conv2d_transpose(x, w)` (with `x` as `dy`): the op is linear in each
/// operand, and `<g, input_grad(dy, w)> = <conv2d(g, w), dy>`, so
/// `d dy = conv2d(g, w)` (same stride and padding) and
/// `d w = conv2d_weight_grad(g, dy)`.
pub(crate) fn input_grad_gradient(
    graph: &mut Graph,
    node: NodeId,
    g: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let Op::Conv2dInputGrad {
        stride, padding, ..
    } = graph.node(node).op
    else {
        return Ok(vec![None, None]);
    };
    let dy = operand(graph, node, 0);
    let w = operand(graph, node, 1);
    let (name_dy, name_w) = (grad_name(graph, dy), grad_name(graph, w));
    let kernel = [graph.shape(w)[2], graph.shape(w)[3]];
    let d_dy = wanted(wants, 0, || {
        graph.add(Op::Conv2d { stride, padding }, vec![g, w], name_dy)
    })?;
    let dw = wanted(wants, 1, || {
        let op = Op::Conv2dWeightGrad {
            stride,
            padding,
            kernel,
        };
        graph.add(op, vec![g, dy], name_w)
    })?;
    Ok(vec![d_dy, dw])
}
