//! Every random choice of the loop, derived from the run's seed.
//!
//! The order of the training examples in an epoch and the seed handed to
//! each training step (which drives the dropout masks) are pure functions of
//! the seed, the epoch and the step. Nothing is carried from one epoch to the
//! next, so an epoch is reproduced without replaying the ones before it, and
//! the random numbers of one purpose never shift those of another.

use nnc_ir::rng::Rng;

/// The stream of parameter initialisation (drawn by `nnc_lower::init_params`).
pub use nnc_lower::init::INIT_STREAM;
/// The stream of the per-epoch shuffling of the training examples.
pub const SHUFFLE_STREAM: u64 = 2;
/// The stream of the per-step seeds (dropout masks).
pub const DROPOUT_STREAM: u64 = 3;
/// The stream of the noise that models draw in evaluation.
pub const EVAL_NOISE_STREAM: u64 = 4;

/// The order in which epoch `epoch` (1-based) visits the first `count`
/// training examples: a permutation of `0..count`.
pub fn epoch_order(seed: u64, epoch: usize, count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    epoch_rng(seed, SHUFFLE_STREAM, epoch).shuffle(&mut order);
    order
}

/// The seed of training step `step` (0-based) of epoch `epoch` (1-based).
pub fn step_seed(seed: u64, epoch: usize, step: usize) -> u64 {
    let epoch_seed = epoch_rng(seed, DROPOUT_STREAM, epoch).next_u64();
    Rng::derive(epoch_seed, step as u64).next_u64()
}

/// The noise seed of the evaluation batch that starts at example `first`
/// of a split: the same in every evaluation of a run (and in `nnc eval` of
/// its checkpoints, at the same batch size), so measurements of a model
/// that draws noise (`normal(shape)`) repeat, and no step seed is reused.
pub fn eval_noise_seed(seed: u64, first: usize) -> u64 {
    let base = Rng::derive(seed, EVAL_NOISE_STREAM).next_u64();
    Rng::derive(base, first as u64).next_u64()
}

/// A generator for one epoch of one purpose: the run's stream for the
/// purpose gives a base seed, and the epoch number picks a stream of it.
fn epoch_rng(seed: u64, stream: u64, epoch: usize) -> Rng {
    let base = Rng::derive(seed, stream).next_u64();
    Rng::derive(base, epoch as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffling_is_a_deterministic_permutation_that_changes_per_epoch() {
        let first = epoch_order(7, 1, 1000);
        assert_eq!(first, epoch_order(7, 1, 1000));
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(first, (0..1000).collect::<Vec<_>>());
        assert_ne!(first, epoch_order(7, 2, 1000));
        assert_ne!(first, epoch_order(8, 1, 1000));
    }

    #[test]
    fn step_seeds_differ_by_seed_epoch_and_step() {
        let s = step_seed(1, 1, 0);
        assert_eq!(s, step_seed(1, 1, 0));
        assert_ne!(s, step_seed(1, 1, 1));
        assert_ne!(s, step_seed(1, 2, 0));
        assert_ne!(s, step_seed(2, 1, 0));
    }
}
