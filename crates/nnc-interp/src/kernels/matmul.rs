//! Kernel of `matmul` (`nnc_ir::ops::matmul`): ndarray's matrix product
//! on views of the buffers, written into the output without allocating.

use super::{values, values_mut};
use crate::real::Real;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2};

/// A 2-D view of a 2-D buffer, transposed when `t`.
fn matrix<T: Real>(a: &ArrayD<T>, t: bool) -> ArrayView2<'_, T> {
    let shape = (a.shape()[0], a.shape()[1]);
    let view = ArrayView2::from_shape(shape, values(a)).expect("the verifier checked rank 2");
    if t {
        view.reversed_axes()
    } else {
        view
    }
}

/// `out = op(a) op(b)`.
pub(crate) fn matmul<T: Real>(
    a: &ArrayD<T>,
    ta: bool,
    b: &ArrayD<T>,
    tb: bool,
    out: &mut ArrayD<T>,
) {
    let shape = (out.shape()[0], out.shape()[1]);
    let mut c =
        ArrayViewMut2::from_shape(shape, values_mut(out)).expect("the verifier checked rank 2");
    general_mat_mul(T::one(), &matrix(a, ta), &matrix(b, tb), T::zero(), &mut c);
}
