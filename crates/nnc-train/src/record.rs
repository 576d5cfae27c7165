//! What a run reports: one record per epoch, and why the run ended.

use nnc_check::program::Metric;

/// Accuracy and cost of the model on one split, measured after an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// Fraction of examples classified right, in [0, 1].
    pub accuracy: f64,
    /// Mean cost per example (data term only, no regularisation).
    pub cost: f64,
    /// Number of examples measured.
    pub count: usize,
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
}

impl EpochRecord {
    /// The value of `metric` this epoch, when it was measured.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::TrainCost => Some(self.train_cost),
            Metric::TrainAccuracy => self.train.map(|s| s.accuracy),
            Metric::ValidationCost => self.validation.map(|s| s.cost),
            Metric::ValidationAccuracy => self.validation.map(|s| s.accuracy),
            Metric::TestCost => self.test.map(|s| s.cost),
            Metric::TestAccuracy => self.test.map(|s| s.accuracy),
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
                "early stop: {} has not improved for {patience} epochs",
                metric_name(*metric)
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

/// The name a metric has in the language.
pub fn metric_name(metric: Metric) -> &'static str {
    Metric::ALL
        .iter()
        .find(|(_, m)| *m == metric)
        .map(|(name, _)| *name)
        .unwrap_or("metric")
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
