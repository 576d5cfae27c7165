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

/// The order in which a model that carries recurrent state from batch to
/// batch (`bptt`) visits the first `count` examples of a split, in batches
/// of `streams`: the examples are cut into `streams` runs of consecutive
/// examples (the streams), and batch `i` holds example `i` of every
/// stream, so each row of a batch continues the same row of the batch
/// before. The `count % streams` examples past the last full run are
/// left out (fewer than one batch); fewer examples than `streams` make
/// one stream each. Not shuffled: the order is the text's.
pub fn stream_order(count: usize, streams: usize) -> Vec<usize> {
    let streams = streams.min(count).max(1);
    let length = count / streams;
    let mut order = Vec::with_capacity(length * streams);
    for i in 0..length {
        order.extend((0..streams).map(|s| s * length + i));
    }
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
    fn streams_continue_row_by_row_and_drop_the_remainder() {
        // 10 examples in 3 streams of 3: 0 1 2 | 3 4 5 | 6 7 8; 9 is left out.
        assert_eq!(stream_order(10, 3), vec![0, 3, 6, 1, 4, 7, 2, 5, 8]);
        let order = stream_order(1000, 32);
        assert_eq!(order.len(), 31 * 32);
        for (i, batch) in order.chunks(32).enumerate().skip(1) {
            for (row, &example) in batch.iter().enumerate() {
                assert_eq!(example, order[(i - 1) * 32 + row] + 1);
            }
        }
        assert_eq!(stream_order(2, 5), vec![0, 1]);
        assert!(stream_order(0, 5).is_empty());
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
