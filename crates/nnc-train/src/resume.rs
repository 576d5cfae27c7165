//! Checkpoints seen from the loop: where a run stands ([`LoopState`]), how
//! it is handed to whoever saves it ([`Checkpointer`], [`Snapshot`]), and
//! how a run starts again from a saved position ([`Resume`]).
//!
//! What the loop relies on to resume exactly:
//! - The order of the examples of an epoch and the seed of each step (the
//!   dropout masks) are functions of the seed, the epoch and the step alone
//!   (`crate::seeds`), so no generator state is saved: the seed is.
//! - Everything else that carries from one step or epoch to the next is in
//!   the backend (parameters, optimizer state, Adam's step count: saved by
//!   the caller from `Backend::params` and `Backend::optimizer_state`) or in
//!   [`LoopState`]: the position, the phase the backend is configured for
//!   (the optimizer state belongs to that phase's optimizer), the partial
//!   sums of an interrupted epoch, and the counters of the plateau decay and
//!   of early stopping.
//! - A resumed run must train on as many examples and measure as many as
//!   the saved one (`train_count`, `eval_limit`) with the same seed; the
//!   loop refuses anything else rather than diverge quietly.
//!
//! Every `f64` of the state is stored as its bit pattern, so a JSON round
//! trip gives back the very same number.

use crate::plateau::PlateauState;
use crate::record::{EpochRecord, TrainReport};
use nnc_lower::backend::Tensor;
use serde::{Deserialize, Serialize};

/// A place in a run: `epoch` epochs completed and `step` steps done in the
/// next one (0 at an epoch boundary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub epoch: usize,
    pub step: usize,
}

/// The loop's own state at a checkpoint (the sidecar's `loop_state`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoopState {
    /// Epochs completed.
    pub epoch: usize,
    /// Steps done in epoch `epoch + 1` (0 at an epoch boundary).
    pub step: usize,
    /// The phase (1-based) the backend is configured for, whose optimizer
    /// the saved optimizer state belongs to.
    pub phase: usize,
    /// The seed of the run (shuffles and dropout masks derive from it).
    pub seed: u64,
    /// Training examples per epoch (`--train-limit` applied).
    pub train_count: usize,
    /// Examples measured per evaluated split (`--eval-limit`), if limited.
    pub eval_limit: Option<usize>,
    /// Sum over the steps done in epoch `epoch + 1` of each batch's cost
    /// times its length.
    #[serde(with = "bits")]
    pub cost_sum: f64,
    /// For a game, the sums of each step's batch costs (times the batch's
    /// length) over the steps done in epoch `epoch + 1`.
    #[serde(default, with = "bits_terms")]
    pub term_sums: Option<[f64; nnc_lower::backend::MAX_COST_TERMS]>,
    /// Examples trained on in epoch `epoch + 1`.
    pub examples_done: usize,
    /// The plateau decay's counters and factor, when the file has a decay.
    pub decay: Option<PlateauState>,
    /// Early stopping's counters, when the file has `early_stop`.
    pub early_stop: Option<PlateauState>,
    /// The decay or early stopping ended the run at this point: resuming
    /// runs nothing. (A run that ran all its epochs is not finished: it
    /// resumes with more epochs, `--epochs`.)
    pub finished: bool,
    /// For a model that carries recurrent state (`bptt`) interrupted in
    /// the middle of an epoch: the state its next step starts from
    /// (`Backend::carried`), each value as its bit pattern. Empty at an
    /// epoch boundary, where every stream starts at zero.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carried: Vec<Vec<u32>>,
}

impl LoopState {
    pub fn position(&self) -> Position {
        Position {
            epoch: self.epoch,
            step: self.step,
        }
    }
}

/// Why a snapshot is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveKind {
    /// An epoch has ended (its record is in the snapshot).
    Epoch,
    /// A stop was requested: the run ends after this step.
    Interrupted,
}

/// Everything a checkpoint holds, handed to [`Checkpointer::save`].
#[derive(Clone, Debug)]
pub struct Snapshot<'a> {
    pub kind: SaveKind,
    pub state: LoopState,
    /// The record of the epoch that just ended (`SaveKind::Epoch` only).
    pub record: Option<&'a EpochRecord>,
    /// The parameters, in `param_specs` order; all finite.
    pub params: Vec<Tensor>,
    /// The optimizer state of phase `state.phase`, in `optimizer_state`
    /// order; all finite.
    pub optimizer_state: Vec<Tensor>,
}

/// Saves checkpoints for the loop and tells it when to stop.
pub trait Checkpointer {
    /// Checked after every step (and after every epoch): when true, the
    /// loop saves a snapshot and ends the run.
    fn stop_requested(&self) -> bool {
        false
    }

    /// Whether to take a snapshot after every epoch (reading the parameters
    /// and state back costs a copy, on a GPU a download).
    fn saves_epochs(&self) -> bool {
        true
    }

    /// Saves `snapshot`; an error ends the run with
    /// `TrainError::Checkpoint`, keeping the checkpoints saved before.
    fn save(&mut self, snapshot: &Snapshot<'_>) -> Result<(), String>;

    /// The parameters saved after `epoch` as the best checkpoint, when
    /// there are: what `restore_best` puts back in a resumed run, whose
    /// best epoch came before the resumption.
    fn best_params(&mut self, _epoch: usize) -> Option<Vec<Tensor>> {
        None
    }
}

/// Saves nothing and never stops: plain training.
pub struct NoCheckpoints;

impl Checkpointer for NoCheckpoints {
    fn saves_epochs(&self) -> bool {
        false
    }

    fn save(&mut self, _snapshot: &Snapshot<'_>) -> Result<(), String> {
        Ok(())
    }
}

/// Where a resumed run starts: the saved loop state and the optimizer state
/// of its phase (in `optimizer_state` order). The caller has already given
/// the backend the saved parameters (`Backend::set_params`).
#[derive(Clone, Debug, PartialEq)]
pub struct Resume {
    pub state: LoopState,
    pub optimizer_state: Vec<Tensor>,
}

/// How a resumable run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    /// The records of the epochs this call ran (after the resumed position).
    pub report: TrainReport,
    /// Where the run stopped on request, after saving a snapshot there;
    /// `None` when it ran to its end.
    pub interrupted: Option<Position>,
}

/// `f64` as its bit pattern (an integer in JSON).
pub(crate) mod bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        u64::deserialize(deserializer).map(f64::from_bits)
    }
}

/// Optional term sums as their bit patterns, so a resumed epoch adds up
/// exactly what the uninterrupted one does.
pub(crate) mod bits_terms {
    use nnc_lower::backend::MAX_COST_TERMS;
    use serde::{Deserialize, Deserializer, Serializer};

    type Terms = Option<[f64; MAX_COST_TERMS]>;

    pub fn serialize<S: Serializer>(value: &Terms, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_some(&v.map(f64::to_bits)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Terms, D::Error> {
        Option::<[u64; MAX_COST_TERMS]>::deserialize(deserializer)
            .map(|v| v.map(|bits| bits.map(f64::from_bits)))
    }
}

/// `Option<f64>` as an optional bit pattern.
pub(crate) mod bits_option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_some(&v.to_bits()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<f64>, D::Error> {
        Option::<u64>::deserialize(deserializer).map(|v| v.map(f64::from_bits))
    }
}
