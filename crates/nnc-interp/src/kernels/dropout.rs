//! Kernel of `dropout_mask` (`nnc_ir::ops::dropout`).

use super::values_mut;
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::rng::Rng;

/// Standard normal values drawn in row-major order from
/// `Rng::derive(step_seed, stream)` (`random_normal`).
pub(crate) fn normal<T: Real>(stream: u64, step_seed: u64, out: &mut ArrayD<T>) {
    let mut rng = Rng::derive(step_seed, stream);
    for o in values_mut(out) {
        *o = T::of(rng.normal() as f32 as f64);
    }
}

/// Each value `0` with probability `p`, else `1 / (1 - p)`, drawn in
/// row-major order from `Rng::derive(step_seed, stream)`.
pub(crate) fn mask<T: Real>(p: f64, stream: u64, step_seed: u64, out: &mut ArrayD<T>) {
    let mut rng = Rng::derive(step_seed, stream);
    let kept = T::of(1.0 / (1.0 - p));
    for o in values_mut(out) {
        *o = if rng.uniform() < p { T::zero() } else { kept };
    }
}
