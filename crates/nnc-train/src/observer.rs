//! Progress reports from the loop to whoever watches it: the command line's
//! progress bar and log, or a test that records what happened.

use crate::examples::SplitKind;
use crate::record::EpochRecord;

/// The start of an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStart {
    /// 1-based.
    pub epoch: usize,
    /// The number of epochs scheduled (the run may stop sooner).
    pub epochs: usize,
    /// 1-based phase number.
    pub phase: usize,
    /// The phase began with this epoch (the backend was reconfigured).
    pub phase_changed: bool,
    pub learning_rate: f64,
    pub batch_size: usize,
    /// Steps (batches) this epoch will take.
    pub steps: usize,
    /// Training examples this epoch will visit.
    pub examples: usize,
}

/// After a training step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepProgress {
    pub epoch: usize,
    /// 1-based.
    pub step: usize,
    pub steps: usize,
    /// Examples trained on so far this epoch.
    pub examples_done: usize,
    /// The cost of this step's batch.
    pub cost: f64,
    /// The mean cost of the epoch so far (weighted by batch length).
    pub running_cost: f64,
    /// Seconds since the epoch's first step.
    pub elapsed: f64,
}

/// Receives the loop's progress; every method does nothing by default.
pub trait Observer {
    fn epoch_started(&mut self, _start: &EpochStart) {}

    /// Called after every training step; implementations that draw should
    /// throttle themselves.
    fn step_finished(&mut self, _progress: &StepProgress) {}

    /// Evaluation of a split is about to begin.
    fn evaluating(&mut self, _epoch: usize, _split: SplitKind) {}

    /// Whether [`Observer::epoch_params`] should be called (reading the
    /// parameters back from the backend costs a copy, on a GPU a download).
    fn wants_params(&self) -> bool {
        false
    }

    /// The parameters after epoch `epoch`, before `epoch_finished` for it;
    /// called only when [`Observer::wants_params`] says so.
    fn epoch_params(&mut self, _epoch: usize, _params: Vec<nnc_lower::backend::Tensor>) {}

    fn epoch_finished(&mut self, _record: &EpochRecord) {}
}

/// Watches nothing.
pub struct Silent;

impl Observer for Silent {}
