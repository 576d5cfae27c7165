//! Kernels of the broadcasts and reductions (`nnc_ir::ops::reduce`).

use super::{values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::ops::reduce::for_each_position;

/// The sum of `x` over `axes`.
pub(crate) fn sum_axes<T: Real>(x: &ArrayD<T>, axes: &[usize], out: &mut ArrayD<T>) {
    let xs = values(x);
    let out = values_mut(out);
    out.fill(T::zero());
    for_each_position(x.shape(), axes, |full, reduced| out[reduced] += xs[full]);
}

/// The largest value of `x` over `axes`, into `out`.
pub(crate) fn max_axes<T: Real>(x: &ArrayD<T>, axes: &[usize], out: &mut ArrayD<T>) {
    let xs = values(x);
    let out = values_mut(out);
    out.fill(T::neg_infinity());
    for_each_position(x.shape(), axes, |full, reduced| {
        if xs[full] > out[reduced] {
            out[reduced] = xs[full];
        }
    });
}
