//! Watching a metric for a plateau: the learning-rate decay and early
//! stopping of a train block.
//!
//! Both count the epochs since the metric last improved on its best value
//! (strictly: an equal value is no improvement; a value that is NaN or was
//! not measured is none either). The decay multiplies the learning rate by
//! its factor when the count reaches its patience and restarts the count;
//! early stopping ends the run when the count reaches its patience.

use crate::record::Stop;
use nnc_check::program::{EarlyStop, Metric, PlateauDecay};

/// The best value of a metric so far and the epochs since it improved.
#[derive(Clone, Debug, PartialEq)]
pub struct Plateau {
    metric: Metric,
    best: Option<f64>,
    stale: usize,
}

impl Plateau {
    pub fn new(metric: Metric) -> Plateau {
        Plateau {
            metric,
            best: None,
            stale: 0,
        }
    }

    /// Takes the value of an epoch; returns the epochs since the last
    /// improvement (0 when this value improved).
    pub fn observe(&mut self, value: Option<f64>) -> usize {
        let improved = match (value, self.best) {
            (Some(v), _) if v.is_nan() => false,
            (Some(_), None) => true,
            (Some(v), Some(best)) if self.metric.higher_is_better() => v > best,
            (Some(v), Some(best)) => v < best,
            (None, _) => false,
        };
        if improved {
            self.best = value;
            self.stale = 0;
        } else {
            self.stale += 1;
        }
        self.stale
    }

    /// Starts counting again (after a decay).
    pub fn restart_count(&mut self) {
        self.stale = 0;
    }

    pub fn best(&self) -> Option<f64> {
        self.best
    }
}

/// What a plateau watcher carries from one epoch to the next, saved in a
/// checkpoint so that a resumed run decays and stops when the uninterrupted
/// run would. The `f64`s are stored as their bit patterns, so they come
/// back exactly.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlateauState {
    /// The best value of the metric so far.
    #[serde(with = "crate::resume::bits_option")]
    pub best: Option<f64>,
    /// Epochs since it last improved.
    pub stale: usize,
    /// The decay's factor in force (1 for early stopping).
    #[serde(with = "crate::resume::bits")]
    pub multiplier: f64,
    /// Early stopping: the epoch the best value was measured in.
    #[serde(default)]
    pub best_epoch: Option<usize>,
}

impl Plateau {
    fn state(&self, multiplier: f64) -> PlateauState {
        PlateauState {
            best: self.best,
            stale: self.stale,
            multiplier,
            best_epoch: None,
        }
    }

    fn restore(&mut self, state: &PlateauState) {
        self.best = state.best;
        self.stale = state.stale;
    }
}

/// `decay on_plateau(...)`: the factor the phases' learning rates are
/// multiplied by, lowered on each plateau.
#[derive(Clone, Debug, PartialEq)]
pub struct Decay {
    spec: PlateauDecay,
    plateau: Plateau,
    multiplier: f64,
}

/// What the decay decided after an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecayStep {
    pub decayed: bool,
    pub stop: Option<Stop>,
}

impl Decay {
    pub fn new(spec: &PlateauDecay) -> Decay {
        Decay {
            spec: spec.clone(),
            plateau: Plateau::new(spec.metric),
            multiplier: 1.0,
        }
    }

    pub fn metric(&self) -> Metric {
        self.spec.metric
    }

    /// The factor in force: the product of the decays so far.
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The decay's counters and factor, for a checkpoint.
    pub fn state(&self) -> PlateauState {
        self.plateau.state(self.multiplier)
    }

    /// Takes up counters and factor saved by [`Decay::state`].
    pub fn restore(&mut self, state: &PlateauState) {
        self.plateau.restore(state);
        self.multiplier = state.multiplier;
    }

    /// Takes the metric's value at the end of an epoch.
    pub fn after_epoch(&mut self, value: Option<f64>) -> DecayStep {
        if self.plateau.observe(value) < self.spec.patience {
            return DecayStep {
                decayed: false,
                stop: None,
            };
        }
        self.plateau.restart_count();
        self.multiplier *= self.spec.factor;
        let stop = self
            .spec
            .stop_below
            .filter(|&floor| self.multiplier < floor)
            .map(|stop_below| Stop::LearningRateFloor {
                multiplier: self.multiplier,
                stop_below,
            });
        DecayStep {
            decayed: true,
            stop,
        }
    }
}

/// `early_stop(...)`.
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopper {
    spec: EarlyStop,
    plateau: Plateau,
    best_epoch: Option<usize>,
}

impl EarlyStopper {
    pub fn new(spec: &EarlyStop) -> EarlyStopper {
        EarlyStopper {
            spec: spec.clone(),
            plateau: Plateau::new(spec.metric),
            best_epoch: None,
        }
    }

    pub fn metric(&self) -> Metric {
        self.spec.metric
    }

    /// Whether a stop puts back the best epoch's parameters.
    pub fn restores_best(&self) -> bool {
        self.spec.restore_best
    }

    /// The epoch of the best value so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The counters, for a checkpoint.
    pub fn state(&self) -> PlateauState {
        PlateauState {
            best_epoch: self.best_epoch,
            ..self.plateau.state(1.0)
        }
    }

    /// Takes up counters saved by [`EarlyStopper::state`].
    pub fn restore(&mut self, state: &PlateauState) {
        self.plateau.restore(state);
        self.best_epoch = state.best_epoch;
    }

    /// Takes the metric's value at the end of `epoch`; says whether to
    /// stop.
    pub fn after_epoch(&mut self, epoch: usize, value: Option<f64>) -> Option<Stop> {
        let stale = self.plateau.observe(value);
        if stale == 0 {
            self.best_epoch = Some(epoch);
        }
        (stale >= self.spec.patience).then_some(Stop::EarlyStop {
            metric: self.spec.metric,
            patience: self.spec.patience,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nnc_diag::Span;

    fn decay(patience: usize, stop_below: Option<f64>) -> Decay {
        Decay::new(&PlateauDecay {
            metric: Metric::VALIDATION_ACCURACY,
            factor: 0.5,
            patience,
            stop_below,
            span: Span::new(0, 0),
        })
    }

    #[test]
    fn accuracy_improves_upwards_and_cost_downwards() {
        let mut acc = Plateau::new(Metric::VALIDATION_ACCURACY);
        assert_eq!(acc.observe(Some(0.5)), 0);
        assert_eq!(acc.observe(Some(0.6)), 0);
        assert_eq!(acc.observe(Some(0.6)), 1, "equal is no improvement");
        assert_eq!(acc.observe(Some(0.4)), 2);
        assert_eq!(acc.observe(Some(f64::NAN)), 3);
        assert_eq!(acc.best(), Some(0.6));
        let mut cost = Plateau::new(Metric::TRAIN_COST);
        assert_eq!(cost.observe(Some(2.0)), 0);
        assert_eq!(cost.observe(Some(1.0)), 0);
        assert_eq!(cost.observe(Some(1.5)), 1);
    }

    #[test]
    fn decay_halves_after_patience_stale_epochs_and_restarts_the_count() {
        let mut d = decay(2, None);
        let values = [0.5, 0.6, 0.6, 0.6, 0.55, 0.6, 0.7, 0.7, 0.7];
        let decayed: Vec<bool> = values
            .iter()
            .map(|&v| d.after_epoch(Some(v)).decayed)
            .collect();
        assert_eq!(
            decayed,
            [false, false, false, true, false, true, false, false, true]
        );
        assert_eq!(d.multiplier(), 0.125);
    }

    #[test]
    fn decay_stops_once_below_the_floor() {
        let mut d = decay(1, Some(0.25));
        assert_eq!(d.after_epoch(Some(0.5)).stop, None);
        assert_eq!(d.after_epoch(Some(0.5)).stop, None, "0.5 is not below 0.25");
        assert_eq!(
            d.after_epoch(Some(0.5)).stop,
            None,
            "0.25 is not below 0.25"
        );
        let last = d.after_epoch(Some(0.5));
        assert!(last.decayed);
        assert_eq!(
            last.stop,
            Some(Stop::LearningRateFloor {
                multiplier: 0.125,
                stop_below: 0.25
            })
        );
    }

    #[test]
    fn a_restored_decay_continues_as_the_original() {
        let values = [0.5, 0.6, 0.6, 0.6, 0.55, 0.6, 0.7, 0.7, 0.7];
        let mut whole = decay(2, None);
        let mut first = decay(2, None);
        for &v in &values[..4] {
            whole.after_epoch(Some(v));
            first.after_epoch(Some(v));
        }
        let mut second = decay(2, None);
        second.restore(&first.state());
        for &v in &values[4..] {
            assert_eq!(whole.after_epoch(Some(v)), second.after_epoch(Some(v)));
        }
        assert_eq!(whole, second);
        assert_eq!(second.multiplier(), 0.125);
    }

    #[test]
    fn early_stop_after_patience_epochs_without_improvement() {
        let mut e = EarlyStopper::new(&EarlyStop {
            metric: Metric::VALIDATION_COST,
            patience: 2,
            restore_best: false,
            span: Span::new(0, 0),
        });
        assert!(e.after_epoch(1, Some(1.0)).is_none());
        assert!(e.after_epoch(2, Some(0.9)).is_none());
        assert!(e.after_epoch(3, Some(0.95)).is_none());
        assert!(e.after_epoch(4, Some(0.9)).is_some());
        assert_eq!(e.best_epoch(), Some(2));
        let mut resumed = EarlyStopper::new(&e.spec);
        resumed.restore(&e.state());
        assert_eq!(resumed, e);
    }
}
