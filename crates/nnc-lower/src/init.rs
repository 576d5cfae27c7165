//! Parameter initialisation: every `Init` of the language, drawn from the
//! one generator of nnc so a seed reproduces a run.
//!
//! Parameter `k` (in [`param_specs`] order: per layer, its declarations in
//! order, each with its own `init`; trained or not)
//! draws from `Rng::derive(base, k)`, where `base` is the first number of
//! `Rng::derive(seed, INIT_STREAM)`. Each parameter has its own stream, so
//! changing one layer never changes the initial values of another.

use crate::backend::Tensor;
use crate::params::param_specs;
use nnc_check::program::{Init, Layer, Model};
use nnc_ir::rng::Rng;

/// The stream of parameter initialisation in `Rng::derive(seed, stream)`.
pub const INIT_STREAM: u64 = 1;

/// The initial parameters of `model` for the run `seed`, in
/// [`param_specs`] order (the order `Backend::set_params` takes).
pub fn init_params(model: &Model, seed: u64) -> Vec<Tensor> {
    let base = Rng::derive(seed, INIT_STREAM).next_u64();
    param_specs(model)
        .into_iter()
        .enumerate()
        .map(|(k, spec)| {
            let layer = &model.layers[spec.layer];
            let init = &layer.params[spec.decl].init;
            let count = spec.shape.iter().product();
            let mut rng = Rng::derive(base, k as u64);
            let data = draw(init, layer, count, &mut rng);
            Tensor::new(spec.shape, data)
        })
        .collect()
}

/// `count` values of `init` for a parameter of `layer`.
///
/// - `gaussian(s)`: `s * N(0, 1)`;
/// - `scaled_gaussian`: `N(0, 1) / sqrt(fan_in)`;
/// - `he`: `N(0, 1) * sqrt(2 / fan_in)`;
/// - `xavier`: uniform on `[-l, l)`, `l = sqrt(6 / (fan_in + fan_out))`;
/// - `scaled_uniform`: uniform on `[-l, l)`, `l = 1 / sqrt(fan_in)`;
/// - `zeros`, `constant(v)`, `values([...])`: exactly those values.
pub fn draw(init: &Init, layer: &Layer, count: usize, rng: &mut Rng) -> Vec<f32> {
    let fan_in = layer.fan_in.max(1) as f64;
    let fan_out = layer.fan_out.max(1) as f64;
    let normal = |std: f64, rng: &mut Rng| -> Vec<f32> {
        (0..count).map(|_| (std * rng.normal()) as f32).collect()
    };
    let uniform = |limit: f64, rng: &mut Rng| -> Vec<f32> {
        (0..count)
            .map(|_| ((2.0 * rng.uniform() - 1.0) * limit) as f32)
            .collect()
    };
    match init {
        Init::Gaussian { std } => normal(*std, rng),
        Init::ScaledGaussian => normal(1.0 / fan_in.sqrt(), rng),
        Init::He => normal((2.0 / fan_in).sqrt(), rng),
        Init::Xavier => uniform((6.0 / (fan_in + fan_out)).sqrt(), rng),
        Init::ScaledUniform => uniform(1.0 / fan_in.sqrt(), rng),
        Init::Zeros => vec![0.0; count],
        Init::Constant(v) => vec![*v as f32; count],
        // The checker guarantees exactly `count` values; padding with zeros
        // keeps a mismatch from reaching past the end.
        Init::Values(values) => values
            .iter()
            .map(|&v| v as f32)
            .chain(std::iter::repeat(0.0))
            .take(count)
            .collect(),
    }
}
