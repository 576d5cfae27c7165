//! The schedule of a run: the file's `train` block with the command line's
//! overrides applied, and the phase in force at each epoch.

use crate::examples::SplitKind;
use nnc_check::program::{EarlyStop, Measure, Metric, Phase, PlateauDecay, TrainSpec};

/// Settings the command line may override for one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Run this many epochs instead of the file's `epochs`. Fewer epochs
    /// truncate the schedule (phases starting later never run); more epochs
    /// keep the last phase going.
    pub epochs: Option<usize>,
    /// Use this seed instead of the file's `seed`.
    pub seed: Option<u64>,
    /// Keep the best epoch by this metric instead of the file's
    /// `keep_best` (`nnc run --keep-best METRIC`).
    pub keep_best: Option<Metric>,
}

/// What the loop runs: epochs, seed and phases after the overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    /// Number of epochs to run (at most; decay and early stopping may end
    /// the run sooner).
    pub epochs: usize,
    /// The seed of initialisation, shuffling and dropout.
    pub seed: u64,
    /// The phases that start within `1..=epochs`, in order; the first
    /// starts at epoch 1.
    pub phases: Vec<Phase>,
    pub decay: Option<PlateauDecay>,
    pub early_stop: Option<EarlyStop>,
    /// The metrics the file asks for (the checker fills in the default).
    pub metrics: Vec<Metric>,
    /// The metric the best epoch is chosen by, when one is kept.
    pub keep_best: Option<Metric>,
    /// What evaluations report term by term when the model's cost terms
    /// do not say (a game: each step's cost, then each monitored value,
    /// `TrainSpec::game_terms`); empty otherwise.
    pub terms: Vec<String>,
    /// How many of `terms` training steps report (a game's step costs).
    pub train_terms: usize,
    /// Gradient clipping, for every phase.
    pub clip: nnc_check::program::Clip,
}

impl Schedule {
    /// The schedule of `spec` with `overrides` applied.
    pub fn new(spec: &TrainSpec, overrides: Overrides) -> Schedule {
        let epochs = overrides.epochs.unwrap_or(spec.epochs);
        let phases = spec
            .phases
            .iter()
            .filter(|p| p.start_epoch <= epochs)
            .cloned()
            .collect();
        Schedule {
            epochs,
            seed: overrides.seed.unwrap_or(spec.seed),
            clip: spec.clip,
            phases,
            decay: spec.decay.clone(),
            early_stop: spec.early_stop.clone(),
            metrics: spec.metrics.clone(),
            keep_best: overrides.keep_best.or(spec.keep_best),
            terms: spec.game_terms(),
            train_terms: spec.steps.len(),
        }
    }

    /// The index in [`Schedule::phases`] of the phase in force at `epoch`
    /// (1-based): the last phase starting at or before it. Epochs before the
    /// first phase's start belong to the first phase.
    pub fn phase_index(&self, epoch: usize) -> usize {
        self.phases
            .iter()
            .rposition(|p| p.start_epoch <= epoch)
            .unwrap_or(0)
    }

    /// Every metric a setting of the run reads: `metrics`, the decay's,
    /// early stopping's and keep-best's.
    pub fn used_metrics(&self) -> impl Iterator<Item = Metric> + '_ {
        self.metrics
            .iter()
            .copied()
            .chain(self.decay.as_ref().map(|d| d.metric))
            .chain(self.early_stop.as_ref().map(|e| e.metric))
            .chain(self.keep_best)
    }

    /// Whether any setting of the run reads `metric`.
    pub fn uses(&self, metric: Metric) -> bool {
        self.used_metrics().any(|m| m == metric)
    }

    /// The measures read on `split` (the train cost excepted: it is the
    /// mean of the steps' costs).
    pub fn measures_on(&self, split: SplitKind) -> Vec<Measure> {
        let mut out = Vec::new();
        for m in self.used_metrics() {
            if m.split == split && m != Metric::TRAIN_COST && !out.contains(&m.measure) {
                out.push(m.measure);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{phase, spec};

    #[test]
    fn phase_index_follows_start_epochs() {
        let mut s = spec(10);
        s.phases = vec![phase(1, 0.1, 10), phase(4, 0.05, 10), phase(8, 0.01, 20)];
        let schedule = Schedule::new(&s, Overrides::default());
        let phases: Vec<usize> = (1..=10).map(|e| schedule.phase_index(e)).collect();
        assert_eq!(phases, [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]);
    }

    #[test]
    fn epochs_override_truncates_phases_and_seed_override_replaces() {
        let mut s = spec(10);
        s.seed = 5;
        s.phases = vec![phase(1, 0.1, 10), phase(4, 0.05, 10), phase(8, 0.01, 20)];
        let schedule = Schedule::new(
            &s,
            Overrides {
                epochs: Some(5),
                seed: Some(9),
                keep_best: None,
            },
        );
        assert_eq!(schedule.epochs, 5);
        assert_eq!(schedule.seed, 9);
        assert_eq!(schedule.phases.len(), 2);
        let longer = Schedule::new(
            &s,
            Overrides {
                epochs: Some(12),
                seed: None,
                keep_best: None,
            },
        );
        assert_eq!(longer.seed, 5);
        assert_eq!(longer.phase_index(12), 2);
    }
}
