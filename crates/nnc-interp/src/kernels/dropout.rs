//! Kernels of `dropout_mask` and `random` (`nnc_ir::ops::dropout`). The
//! values come from `nnc_ir::rng`, which every backend draws through.

use super::values_mut;
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::rng::{dropout_mask, Noise};

/// Values of `noise` drawn in row-major order from
/// `Rng::derive(step_seed, stream)` (`random`).
pub(crate) fn random<T: Real>(noise: Noise, stream: u64, step_seed: u64, out: &mut ArrayD<T>) {
    for (o, v) in values_mut(out)
        .iter_mut()
        .zip(noise.draws(step_seed, stream))
    {
        *o = T::of(v as f64);
    }
}

/// Each value `0` with probability `p`, else `1 / (1 - p)`, drawn in
/// row-major order from `Rng::derive(step_seed, stream)`.
pub(crate) fn mask<T: Real>(p: f64, stream: u64, step_seed: u64, out: &mut ArrayD<T>) {
    for (o, v) in values_mut(out)
        .iter_mut()
        .zip(dropout_mask(p, step_seed, stream))
    {
        *o = T::of(v as f64);
    }
}
