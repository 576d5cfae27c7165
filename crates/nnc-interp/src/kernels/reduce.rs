//! Kernels of the broadcasts and reductions (`nnc_ir::ops::reduce`).

use super::{values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;

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
