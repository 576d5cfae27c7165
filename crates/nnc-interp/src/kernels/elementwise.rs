//! Kernels of the elementwise ops (`nnc_ir::ops::elementwise`).

use super::{values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::Op;

/// `add`, `sub`, `mul`, `div` of two tensors of one shape.
pub(crate) fn binary<T: Real>(op: &Op, a: &ArrayD<T>, b: &ArrayD<T>, out: &mut ArrayD<T>) {
    let f: fn(T, T) -> T = match op {
        Op::Add => |a, b| a + b,
        Op::Sub => |a, b| a - b,
        Op::Mul => |a, b| a * b,
        _ => |a, b| a / b,
    };
    for ((o, &a), &b) in values_mut(out).iter_mut().zip(values(a)).zip(values(b)) {
        *o = f(a, b);
    }
}

/// `neg`, `scale(c)`, `add_const(c)`, `exp`, `log`, `sqrt`, `sign`.
pub(crate) fn unary<T: Real>(op: &Op, x: &ArrayD<T>, out: &mut ArrayD<T>) {
    let out = values_mut(out);
    let x = values(x);
    let map = |f: &dyn Fn(T) -> T, out: &mut [T]| {
        for (o, &x) in out.iter_mut().zip(x) {
            *o = f(x);
        }
    };
    match *op {
        Op::Neg => map(&|x| -x, out),
        Op::Scale(c) => {
            let c = T::of(c);
            map(&|x| c * x, out)
        }
        Op::AddConst(c) => {
            let c = T::of(c);
            map(&|x| x + c, out)
        }
        Op::Exp => map(&|x| x.exp(), out),
        Op::Log => map(&|x| x.ln(), out),
        Op::Sqrt => map(&|x| x.sqrt(), out),
        _ => map(&sign, out),
    }
}

/// `-1`, `0` or `1`: zero at zero, unlike `Float::signum`.
fn sign<T: Real>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}
