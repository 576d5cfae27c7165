//! The element types the interpreter runs on: `f32` (what backends use)
//! and `f64` (what the gradient checks use, so finite differences are
//! accurate).

use ndarray::NdFloat;

/// A floating-point element type.
pub trait Real: NdFloat {
    /// The nearest value to `x`.
    fn of(x: f64) -> Self;
    /// The value as an `f64` (exact).
    fn as_f64(self) -> f64;
}

impl Real for f32 {
    fn of(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    fn of(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
}
