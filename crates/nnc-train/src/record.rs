//! What a run reports: one record per epoch, and why the run ended.

use crate::examples::SplitKind;
use nnc_check::program::{Measure, Metric};

/// Accuracy and cost of the model on one split, measured after an epoch,
/// and the measures read from its outputs that the run asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// Fraction of examples classified right, in [0, 1].
    pub accuracy: f64,
    /// Mean cost per example (data term only, no regularisation).
    pub cost: f64,
    /// Number of examples measured.
    pub count: usize,
    /// Top-k accuracies, MAE, RMSE, R², as asked (`metrics`, early
    /// stopping, decay, keep-best), in the order asked.
    pub measures: Vec<(Measure, f64)>,
    /// For a model of several cost terms, the mean of each per example
    /// (`Model::cost_terms` order); empty otherwise.
    pub terms: Vec<(String, f64)>,
}

impl Score {
    /// The value of `measure` on this split, when it was measured.
    pub fn get(&self, measure: Measure) -> Option<f64> {
        match measure {
            Measure::Cost => Some(self.cost),
            Measure::Accuracy => Some(self.accuracy),
            other => self
                .measures
                .iter()
                .find(|(m, _)| *m == other)
                .map(|(_, v)| *v),
        }
    }
}

/// Everything measured in one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// 1-based number of the phase in force (phase 1 starts at epoch 1).
    pub phase: usize,
    /// The rate used in this epoch: the phase's rate times the plateau
    /// decay so far.
    pub learning_rate: f64,
    pub batch_size: usize,
    /// Number of training steps (batches).
    pub steps: usize,
    /// Number of training examples seen.
    pub examples: usize,
    /// Mean cost of the epoch's steps, each batch's cost measured before its
    /// update and weighted by the batch's length.
    pub train_cost: f64,
    /// For a game, the mean cost of each step over the epoch's batches,
    /// named after the model it updates; empty otherwise.
    pub train_terms: Vec<(String, f64)>,
    /// Measured only when a metric asks for the training accuracy.
    pub train: Option<Score>,
    pub validation: Option<Score>,
    pub test: Option<Score>,
    /// Wall time of the whole epoch: training and evaluation.
    pub seconds: f64,
    /// Wall time of the training steps alone.
    pub train_seconds: f64,
    /// Training throughput: `examples / train_seconds`.
    pub examples_per_second: f64,
    /// The learning rate was multiplied by the decay factor after this
    /// epoch.
    pub decayed: bool,
    /// The run ends after this epoch, and why.
    pub stop: Option<Stop>,
    /// `early_stop(..., restore_best: true)` put back the parameters of
    /// this (earlier) epoch when the run stopped: they are what the run
    /// leaves, not this epoch's.
    pub restored: Option<usize>,
}

impl EpochRecord {
    /// The value of `metric` this epoch, when it was measured.
    /// `train_cost` is the mean cost of the epoch's steps; every other
    /// metric is read from its split's [`Score`].
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        if metric == Metric::TRAIN_COST {
            return Some(self.train_cost);
        }
        self.score(metric.split)?.get(metric.measure)
    }

    /// The score of `split`, when it was measured.
    pub fn score(&self, split: SplitKind) -> Option<&Score> {
        match split {
            SplitKind::Train => self.train.as_ref(),
            SplitKind::Validation => self.validation.as_ref(),
            SplitKind::Test => self.test.as_ref(),
        }
    }

    /// The record without its timings, for comparing two runs.
    pub fn without_timings(&self) -> EpochRecord {
        EpochRecord {
            seconds: 0.0,
            train_seconds: 0.0,
            examples_per_second: 0.0,
            ..self.clone()
        }
    }
}

/// Why a run ended before its last epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// `early_stop`: `metric` has not improved on its best for `patience`
    /// epochs.
    EarlyStop { metric: Metric, patience: usize },
    /// `decay on_plateau(..., stop_below: s)`: the learning rate fell below
    /// `s` times its starting value.
    LearningRateFloor { multiplier: f64, stop_below: f64 },
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::EarlyStop { metric, patience } => write!(
                f,
                "early stop: {metric} has not improved for {patience} epochs"
            ),
            Stop::LearningRateFloor {
                multiplier,
                stop_below,
            } => write!(
                f,
                "the learning rate fell to {multiplier} of its start, below {stop_below}"
            ),
        }
    }
}

/// The result of a whole run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// One record per epoch run, in order.
    pub epochs: Vec<EpochRecord>,
    /// Why the run ended early; `None` when it ran every epoch.
    pub stop: Option<Stop>,
}

impl TrainReport {
    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }
}
