//! Kernels of the layout ops that move values (`nnc_ir::ops::layout`;
//! `reshape` is pointwise).

use super::{values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::ops::layout::for_each_permuted;

/// `permute(perm)` of `x` into `out`.
pub(crate) fn permute<T: Real>(x: &ArrayD<T>, perm: &[usize], out: &mut ArrayD<T>) {
    let shape = x.shape().to_vec();
    let xs = values(x);
    let mut o = values_mut(out).iter_mut();
    for_each_permuted(&shape, perm, |source| {
        if let Some(slot) = o.next() {
            *slot = xs[source];
        }
    });
}
