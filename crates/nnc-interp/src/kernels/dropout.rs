//! Kernel of `dropout_mask` (`nnc_ir::ops::dropout`).

use super::values_mut;
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::rng::Rng;

/// Each value `0` with probability `p`, else `1 / (1 - p)`, drawn in
/// row-major order from `Rng::derive(step_seed, stream)`.
pub(crate) fn mask<T: Real>(p: f64, stream: u64, step_seed: u64, out: &mut ArrayD<T>) {
    let mut rng = Rng::derive(step_seed, stream);
    let kept = T::of(1.0 / (1.0 - p));
    for o in values_mut(out) {
        *o = if rng.uniform() < p { T::zero() } else { kept };
    }
}
