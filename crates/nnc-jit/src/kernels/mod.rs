//! Ready-made kernel builders for the kernels a training step needs.
//!
//! Each builder returns a [`Kernel`](crate::Kernel) whose shapes are baked
//! in. Vector loops cover the largest multiple of the vector width (or of
//! the register tile); the remainder is handled by narrower loops that
//! follow, so every size is supported and no access ever strays past a
//! buffer's end (which the validator checks again).

mod conv;
mod elementwise;
mod matmul;
mod pool;
mod reduce;

pub use conv::{
    channel_bias_add, channel_sum, conv2d, conv2d_input_grad, conv2d_weight_grad, ConvSpec,
};
pub use elementwise::{axpy, elementwise, scale, Operand};
pub use matmul::{matmul, MatmulSpec};
pub use pool::{pool, pool_grad, PoolReduce, PoolSpec};
pub use reduce::{col_sum, row_sum};

use crate::ir::{Expr, Ty, UnOp};

/// An activation applied lane by lane, e.g. in a fused epilogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// The identity.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    /// `x` passed through this activation; `ty` is the type of `x`.
    pub fn apply(self, x: Expr, ty: Ty) -> Expr {
        match self {
            Activation::None => x,
            Activation::Relu => Expr::max(x, Expr::constant(0.0, ty)),
            Activation::Sigmoid => Expr::unary(UnOp::Sigmoid, x),
            Activation::Tanh => Expr::unary(UnOp::Tanh, x),
        }
    }

    /// The same activation in plain Rust, the reference for tests.
    pub fn reference(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
        }
    }
}

/// Loop ranges `(start, end, step)` of tiles `w` wide that cover `0..n`,
/// for `n >= w`: the multiples of `w`, then, if `w` does not divide `n`, one
/// tile ending exactly at `n`, which overlaps its neighbour. Overlapping is
/// used only where every output element is computed from inputs alone by
/// the same instruction sequence wherever it sits in a tile, so the elements
/// stored twice receive identical values, and the tail runs at full vector
/// width instead of one element at a time.
pub(crate) fn covering(n: usize, w: usize) -> Vec<(usize, usize, usize)> {
    let mut ranges = vec![(0, n / w * w, w)];
    if !n.is_multiple_of(w) {
        ranges.push((n - w, n - w + 1, w));
    }
    ranges
}

/// `value` as a vector: splatted if it is a scalar.
pub(crate) fn widen(value: Expr, ty: Ty) -> Expr {
    match ty {
        Ty::F32 => value,
        Ty::F32x4 => Expr::Splat(Box::new(value)),
    }
}
