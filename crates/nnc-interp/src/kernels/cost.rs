//! Kernels of the costs and of the correct count (`nnc_ir::ops::cost`,
//! where the formulas are stated). Each example is one row: all values of
//! the prediction after the batch dimension.

use super::activation::softmax_row;
use super::{rows, values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::CostFn;

const CLAMP: f64 = CostFn::CLAMP;
const FLOOR: f64 = CostFn::FLOOR;

/// The cost of each example, into `out [batch]`.
pub(crate) fn cost<T: Real>(cost: CostFn, a: &ArrayD<T>, y: &ArrayD<T>, out: &mut ArrayD<T>) {
    let (_, n) = rows(a);
    let examples = values(a).chunks(n).zip(values(y).chunks(n));
    for (o, (a, y)) in values_mut(out).iter_mut().zip(examples) {
        *o = example_cost(cost, a, y);
    }
}

fn example_cost<T: Real>(cost: CostFn, a: &[T], y: &[T]) -> T {
    let pairs = a.iter().copied().zip(y.iter().copied());
    let half = T::of(0.5);
    match cost {
        CostFn::Quadratic => pairs.fold(T::zero(), |acc, (a, y)| acc + half * (a - y) * (a - y)),
        CostFn::CrossEntropy => pairs.fold(T::zero(), |acc, (a, y)| {
            let a = clamp_probability(a);
            acc - (y * a.ln() + (T::one() - y) * (T::one() - a).ln())
        }),
        CostFn::SigmoidCrossEntropy => pairs.fold(T::zero(), |acc, (z, y)| {
            // ln(1 + e^z) - y z, written so no exponential overflows.
            acc + z.max(T::zero()) - y * z + (-z.abs()).exp().ln_1p()
        }),
        CostFn::LogLikelihood => {
            pairs.fold(T::zero(), |acc, (a, y)| acc - y * a.max(T::of(FLOOR)).ln())
        }
        CostFn::SoftmaxLogLikelihood => {
            let lse = log_sum_exp(a);
            pairs.fold(T::zero(), |acc, (z, y)| acc + y * (lse - z))
        }
    }
}

fn clamp_probability<T: Real>(a: T) -> T {
    a.max(T::of(CLAMP)).min(T::of(1.0 - CLAMP))
}

/// `ln(sum(e^z))`, shifted by the maximum.
fn log_sum_exp<T: Real>(z: &[T]) -> T {
    let max = z.iter().copied().fold(T::neg_infinity(), T::max);
    let sum = z.iter().fold(T::zero(), |acc, &z| acc + (z - max).exp());
    max + sum.ln()
}

/// The gradient of the per-example costs, scaled by `dy [batch]`.
pub(crate) fn cost_grad<T: Real>(
    cost: CostFn,
    a: &ArrayD<T>,
    y: &ArrayD<T>,
    dy: &ArrayD<T>,
    out: &mut ArrayD<T>,
) {
    let (_, n) = rows(a);
    let examples = values(a).chunks(n).zip(values(y).chunks(n)).zip(values(dy));
    for (o, ((a, y), &d)) in values_mut(out).chunks_mut(n).zip(examples) {
        example_grad(cost, a, y, o);
        for o in o.iter_mut() {
            *o *= d;
        }
    }
}

/// The gradient of one example's softmax log-likelihood with respect to
/// its weighted inputs, `sum(y) softmax(z) - y` (the other costs'
/// gradients are pointwise: their formulas are in the op table).
fn example_grad<T: Real>(cost: CostFn, a: &[T], y: &[T], out: &mut [T]) {
    debug_assert_eq!(cost, CostFn::SoftmaxLogLikelihood);
    softmax_row(a, out);
    let total = y.iter().fold(T::zero(), |acc, &y| acc + y);
    for (o, &y) in out.iter_mut().zip(y) {
        *o = total * *o - y;
    }
}

/// The number of examples whose first arg-max output is the first arg-max
/// target; with one output value, whether both are on the same side of
/// one half.
pub(crate) fn correct_count<T: Real>(a: &ArrayD<T>, y: &ArrayD<T>, out: &mut ArrayD<T>) {
    let (_, n) = rows(a);
    let half = T::of(0.5);
    let correct = values(a)
        .chunks(n)
        .zip(values(y).chunks(n))
        .filter(|(a, y)| {
            if n == 1 {
                (a[0] > half) == (y[0] > half)
            } else {
                first_argmax(a) == first_argmax(y)
            }
        })
        .count();
    values_mut(out).fill(T::of(correct as f64));
}

fn first_argmax<T: Real>(v: &[T]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
