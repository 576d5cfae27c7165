//! The training loop of nnc: runs a checked `train` block on a backend.
//!
//! [`train`] takes a [`Schedule`] (the file's `TrainSpec` with the command
//! line's [`Overrides`]), the data [`Splits`] and a [`Backend`] that already
//! holds the initial parameters ([`init_params`]), and runs epochs: each
//! shuffles the training examples, cuts them into mini-batches of the
//! phase's batch size (the last one may be shorter) and asks the backend for
//! one optimizer step per batch; then it evaluates the validation and test
//! splits, feeds the plateau decay and early stopping, and reports an
//! [`EpochRecord`] to the [`Observer`] and in the final [`TrainReport`].
//!
//! Invariants:
//! - The loop never sees graphs, kernels or files: a backend runs steps, an
//!   [`Examples`] split fills batches. Backends are swapped without touching
//!   the loop.
//! - A run is a function of the file, the overrides and the seed: the order
//!   of examples in each epoch and the seed of each step are derived from
//!   the seed, the epoch and the step alone ([`seeds`]), so the same inputs
//!   give the same records, bit for bit, on a deterministic backend.
//! - Epochs and phases are numbered from 1, as in the language. The backend
//!   is configured when a phase begins, and only then.
//! - The learning rate of an epoch is its phase's rate times the product of
//!   the plateau decays so far; `stop_below` compares that product with its
//!   floor.
//! - After each epoch the validation and test splits (and the training
//!   split, when a metric asks for its accuracy) are evaluated in inference
//!   mode; the train cost is the mean of the epoch's batch costs, each
//!   measured before its update. [`Options`] limits the examples trained on
//!   and measured, for quick runs, or skips the evaluation (benchmarks).
//! - A NaN or infinite cost ends the run with [`TrainError::Diverged`],
//!   naming the epoch and the batch; no later step runs on broken weights.
//! - [`train_resumable`] starts from a saved position ([`Resume`]) and hands
//!   a [`Checkpointer`] a [`Snapshot`] after every epoch and when asked to
//!   stop (checked after every step); a resumed run gives the records of
//!   the uninterrupted one, and no snapshot holds a non-finite value
//!   ([`resume`] says what that relies on).

pub mod error;
pub mod evaluate;
pub mod examples;
pub mod game;
mod init;
pub mod measures;
pub mod observer;
pub mod plateau;
pub mod record;
pub mod resume;
pub mod schedule;
pub mod seeds;
mod train;

#[cfg(test)]
mod resume_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use error::TrainError;
pub use evaluate::{compared_output, reconstructed_output, OutputMeasures};
pub use examples::{Examples, InMemory, SplitKind, Splits};
pub use game::Game;
pub use init::init_params;
pub use measures::OutputSums;
pub use nnc_lower::backend::Backend;
pub use observer::{EpochStart, Observer, Silent, StepProgress};
pub use record::{EpochRecord, Score, Stop, TrainReport};
pub use resume::{
    Checkpointer, LoopState, NoCheckpoints, Position, Resume, RunOutcome, SaveKind, Snapshot,
};
pub use schedule::{Overrides, Schedule};
pub use train::{train, train_resumable, Options, MIN_EVAL_BATCH};
