//! Kernels of the broadcasts and reductions (`nnc_ir::ops::reduce`).

use super::{values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;

/// `x + bias` with `bias [c]` along dimension 1 of `x [b, c, ...]`.
pub(crate) fn bias_add<T: Real>(x: &ArrayD<T>, bias: &ArrayD<T>, out: &mut ArrayD<T>) {
    let bias = values(bias);
    let inner: usize = x.shape()[2..].iter().product();
    let per_example = bias.len() * inner;
    let x = values(x);
    for (o_ex, x_ex) in values_mut(out)
        .chunks_mut(per_example)
        .zip(x.chunks(per_example))
    {
        for ((o, x), &b) in o_ex.chunks_mut(inner).zip(x_ex.chunks(inner)).zip(bias) {
            for (o, &x) in o.iter_mut().zip(x) {
                *o = x + b;
            }
        }
    }
}

/// `x * s` for a scalar tensor `s`.
pub(crate) fn scale_by<T: Real>(x: &ArrayD<T>, s: &ArrayD<T>, out: &mut ArrayD<T>) {
    let s = values(s).first().copied().unwrap_or_else(T::zero);
    for (o, &x) in values_mut(out).iter_mut().zip(values(x)) {
        *o = x * s;
    }
}

/// For each position of a tensor of `shape` in row-major order, the
/// position of the tensor without `axes` it maps to: calls `visit(full,
/// reduced)` with both flat indices.
fn for_each_position(shape: &[usize], axes: &[usize], mut visit: impl FnMut(usize, usize)) {
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

/// The sum of `x` over `axes`.
pub(crate) fn sum_axes<T: Real>(x: &ArrayD<T>, axes: &[usize], out: &mut ArrayD<T>) {
    let xs = values(x);
    let out = values_mut(out);
    out.fill(T::zero());
    for_each_position(x.shape(), axes, |full, reduced| out[reduced] += xs[full]);
}

/// `x` copied along `axes` of the output.
pub(crate) fn expand<T: Real>(x: &ArrayD<T>, axes: &[usize], out: &mut ArrayD<T>) {
    let shape = out.shape().to_vec();
    let xs = values(x);
    let out = values_mut(out);
    for_each_position(&shape, axes, |full, reduced| out[full] = xs[reduced]);
}
