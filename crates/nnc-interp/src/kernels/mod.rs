//! The kernels: for every op of `nnc_ir::Op`, the code that computes its
//! value. Pointwise ops are evaluated from their formula in the op table
//! (module `pointwise`); the others have a kernel each, in modules that
//! mirror the op families of `nnc_ir::ops`, found by [`eval`].
//!
//! Kernels write into a buffer of the node's shape, allocated once per
//! graph; they may assume the shapes the verifier checked. Every buffer is
//! a standard-layout (row-major, contiguous) array.

mod activation;
mod conv;
mod cost;
mod dropout;
mod layout;
mod matmul;
mod pointwise;
mod pool;
mod reduce;
mod tensor;

use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::Op;

/// Computes `op` of `inputs` into `out`. `step_seed` drives dropout masks.
pub(crate) fn eval<T: Real>(op: &Op, inputs: &[&ArrayD<T>], out: &mut ArrayD<T>, step_seed: u64) {
    if op.is_pointwise() {
        return pointwise::eval(op, inputs, out);
    }
    match op {
        Op::Softmax => activation::softmax(inputs[0], out),
        Op::SoftmaxGrad => activation::softmax_grad(inputs[0], inputs[1], out),
        Op::SumAxes { axes } => reduce::sum_axes(inputs[0], axes, out),
        Op::MaxAxes { axes } => reduce::max_axes(inputs[0], axes, out),
        Op::MatMul { ta, tb } => matmul::matmul(inputs[0], *ta, inputs[1], *tb, out),
        Op::Conv2d { stride, padding } => {
            conv::conv2d(inputs[0], inputs[1], *stride, *padding, out)
        }
        Op::Conv2dInputGrad {
            stride, padding, ..
        } => conv::input_grad(inputs[0], inputs[1], *stride, *padding, out),
        Op::Conv2dWeightGrad {
            stride, padding, ..
        } => conv::weight_grad(inputs[0], inputs[1], *stride, *padding, out),
        Op::Pool(g) => pool::pool(g, inputs[0], out),
        Op::PoolGrad(g) => pool::pool_grad(g, inputs[0], inputs[1], inputs[2], out),
        Op::Permute { perm } => layout::permute(inputs[0], perm, out),
        Op::Concat { .. } | Op::Slice { .. } | Op::Pad { .. } => tensor::axis_op(op, inputs, out),
        Op::Gather => tensor::gather(inputs[0], inputs[1], out),
        Op::ScatterAdd { .. } => tensor::scatter_add(op, inputs[0], inputs[1], out),
        Op::BatchMatMul { .. } => tensor::batch_matmul(op, inputs[0], inputs[1], out),
        Op::DropoutMask { p, stream, .. } => dropout::mask(*p, *stream, step_seed, out),
        Op::Random { noise, stream, .. } => dropout::random(*noise, *stream, step_seed, out),
        Op::Cost(cost) => cost::cost(*cost, inputs[0], inputs[1], out),
        Op::CostGrad(cost) => cost::cost_grad(*cost, inputs[0], inputs[1], inputs[2], out),
        Op::CorrectCount => cost::correct_count(inputs[0], inputs[1], out),
        // Inputs are bound before the run; the interpreter runs fused
        // kernels body op by op, and copies kernel outputs, itself
        // (`Interpreter::run`); every other op is pointwise (above).
        _ => {}
    }
}

/// The values of a buffer, row-major.
pub(crate) fn values<T>(a: &ArrayD<T>) -> &[T] {
    a.as_slice()
        .expect("interpreter buffers are contiguous and row-major")
}

/// The values of a buffer, row-major, for writing.
pub(crate) fn values_mut<T>(a: &mut ArrayD<T>) -> &mut [T] {
    a.as_slice_mut()
        .expect("interpreter buffers are contiguous and row-major")
}

/// `(examples, values per example)` of a `[batch, ...]` tensor.
pub(crate) fn rows<T>(a: &ArrayD<T>) -> (usize, usize) {
    let batch = a.shape().first().copied().unwrap_or(1).max(1);
    (batch, a.len() / batch)
}
