//! Kernels of the activations and their backward ops
//! (`nnc_ir::ops::activation`).

use super::{rows, values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;

/// Softmax of each example: `e^(x - max) / sum(e^(x - max))`.
pub(crate) fn softmax<T: Real>(x: &ArrayD<T>, out: &mut ArrayD<T>) {
    let (_, n) = rows(x);
    for (o, x) in values_mut(out).chunks_mut(n).zip(values(x).chunks(n)) {
        softmax_row(x, o);
    }
}

/// Softmax of one example into `out`.
pub(crate) fn softmax_row<T: Real>(x: &[T], out: &mut [T]) {
    let max = x.iter().copied().fold(T::neg_infinity(), T::max);
    let mut sum = T::zero();
    for (o, &x) in out.iter_mut().zip(x) {
        *o = (x - max).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// `softmax_grad(y, dy) = y (dy - sum(dy y))` per example.
pub(crate) fn softmax_grad<T: Real>(y: &ArrayD<T>, dy: &ArrayD<T>, out: &mut ArrayD<T>) {
    let (_, n) = rows(y);
    let rows_out = values_mut(out).chunks_mut(n);
    for ((o, y), dy) in rows_out.zip(values(y).chunks(n)).zip(values(dy).chunks(n)) {
        let dot = y
            .iter()
            .zip(dy)
            .fold(T::zero(), |acc, (&y, &d)| acc + y * d);
        for ((o, &y), &d) in o.iter_mut().zip(y).zip(dy) {
            *o = y * (d - dot);
        }
    }
}
