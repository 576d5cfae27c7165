//! The loop: epochs of shuffled mini-batches, phases, evaluation, decay and
//! early stopping.

use crate::error::TrainError;
use crate::evaluate::evaluate;
use crate::examples::{SplitKind, Splits};
use crate::observer::{EpochStart, Observer, StepProgress};
use crate::plateau::{Decay, EarlyStopper};
use crate::record::{EpochRecord, Score, Stop, TrainReport};
use crate::schedule::Schedule;
use crate::seeds::{epoch_order, step_seed};
use nnc_check::program::{Metric, Model, Phase};
use nnc_ir::backend::{Backend, BackendError, Batch, TrainSetup};
use std::time::Instant;

/// How to run, beyond what the file says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Train on the first `n` examples of the training split only (quick
    /// runs and tests). The `n` of the L2 decay is then this count.
    pub train_limit: Option<usize>,
    /// Measure only the first `n` examples of the validation and test
    /// splits (quick runs); by default they are measured whole.
    pub eval_limit: Option<usize>,
    /// Examples per evaluation call; by default the phase's batch size or
    /// [`MIN_EVAL_BATCH`], whichever is larger.
    pub eval_batch_size: Option<usize>,
    /// Evaluate nothing after the epochs (benchmarks): the records then
    /// hold no scores, and the decay and early stopping see only the train
    /// cost measured.
    pub skip_evaluation: bool,
}

/// The smallest default evaluation batch. Evaluating 100 examples at a time
/// instead of the book's 10 makes MNIST's evaluation about 40% faster on
/// the interpreter, while the activations of a batch stay small.
pub const MIN_EVAL_BATCH: usize = 100;

/// Trains `model` on `splits` following `schedule`. The backend must hold
/// the initial parameters already (see [`crate::init_params`]); it is
/// configured for each phase as the phase begins. Returns one record per
/// epoch run; fails on the first backend error or non-finite cost.
pub fn train<B: Backend + ?Sized>(
    backend: &mut B,
    model: &Model,
    schedule: &Schedule,
    splits: Splits<'_>,
    options: &Options,
    observer: &mut dyn Observer,
) -> Result<TrainReport, TrainError> {
    if schedule.phases.is_empty() {
        return Err(TrainError::NoPhases);
    }
    let train_count = options
        .train_limit
        .map_or(splits.train.len(), |limit| limit.min(splits.train.len()));
    if train_count == 0 {
        return Err(TrainError::NoTrainingExamples);
    }
    let mut run = Run {
        model,
        schedule,
        splits,
        options,
        train_count,
        decay: schedule.decay.as_ref().map(Decay::new),
        early_stop: schedule.early_stop.as_ref().map(EarlyStopper::new),
        configured: None,
        inputs: Vec::new(),
        targets: Vec::new(),
    };
    let mut report = TrainReport {
        epochs: Vec::new(),
        stop: None,
    };
    for epoch in 1..=schedule.epochs {
        let record = run.epoch(backend, epoch, observer)?;
        if observer.wants_params() {
            observer.epoch_params(epoch, backend.params());
        }
        observer.epoch_finished(&record);
        let stop = record.stop;
        report.epochs.push(record);
        if stop.is_some() {
            report.stop = stop;
            break;
        }
    }
    Ok(report)
}

/// The state of a run between epochs.
struct Run<'a> {
    model: &'a Model,
    schedule: &'a Schedule,
    splits: Splits<'a>,
    options: &'a Options,
    train_count: usize,
    decay: Option<Decay>,
    early_stop: Option<EarlyStopper>,
    /// The phase the backend is configured for.
    configured: Option<usize>,
    inputs: Vec<f32>,
    targets: Vec<f32>,
}

/// What the training steps of an epoch add up to.
struct StepsDone {
    steps: usize,
    cost: f64,
    seconds: f64,
}

impl Run<'_> {
    fn epoch<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        epoch: usize,
        observer: &mut dyn Observer,
    ) -> Result<EpochRecord, TrainError> {
        let started = Instant::now();
        let index = self.schedule.phase_index(epoch);
        let phase = &self.schedule.phases[index];
        let phase_changed = self.configured != Some(index);
        if phase_changed {
            self.configure(backend, index)?;
        }
        let multiplier = self.decay.as_ref().map_or(1.0, Decay::multiplier);
        let learning_rate = phase.learning_rate * multiplier;
        let batch_size = phase.batch_size.max(1);
        let start = EpochStart {
            epoch,
            epochs: self.schedule.epochs,
            phase: index + 1,
            phase_changed,
            learning_rate,
            batch_size,
            steps: self.train_count.div_ceil(batch_size),
            examples: self.train_count,
        };
        observer.epoch_started(&start);
        let done = self.steps(backend, &start, observer)?;
        let eval_batch = self
            .options
            .eval_batch_size
            .unwrap_or(batch_size.max(MIN_EVAL_BATCH));
        let scores = if self.options.skip_evaluation {
            [None; 3]
        } else {
            self.measure(backend, epoch, eval_batch, observer)?
        };
        let [train, validation, test] = scores;
        let mut record = EpochRecord {
            epoch,
            phase: index + 1,
            learning_rate,
            batch_size,
            steps: done.steps,
            examples: self.train_count,
            train_cost: done.cost,
            train,
            validation,
            test,
            seconds: 0.0,
            train_seconds: done.seconds,
            examples_per_second: self.train_count as f64 / done.seconds.max(1e-9),
            decayed: false,
            stop: None,
        };
        self.watch_plateaus(&mut record);
        record.seconds = started.elapsed().as_secs_f64();
        Ok(record)
    }

    /// Evaluates the splits after an epoch: the training examples when a
    /// metric asks for the training accuracy, then validation and test
    /// whenever the data has them.
    fn measure<B: Backend + ?Sized>(
        &self,
        backend: &mut B,
        epoch: usize,
        batch_size: usize,
        observer: &mut dyn Observer,
    ) -> Result<[Option<Score>; 3], TrainError> {
        let train = (self.schedule.uses(Metric::TrainAccuracy)).then_some(self.splits.train);
        let eval_count = self.options.eval_limit.unwrap_or(usize::MAX);
        let splits = [
            (SplitKind::Train, train, self.train_count),
            (SplitKind::Validation, self.splits.validation, eval_count),
            (SplitKind::Test, self.splits.test, eval_count),
        ];
        let mut scores = [None; 3];
        for (slot, (split, examples, count)) in scores.iter_mut().zip(splits) {
            let Some(examples) = examples else { continue };
            observer.evaluating(epoch, split);
            *slot = evaluate(backend, examples, count, batch_size).map_err(|error| {
                TrainError::Evaluate {
                    epoch,
                    split,
                    error,
                }
            })?;
        }
        Ok(scores)
    }

    fn configure<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        index: usize,
    ) -> Result<(), TrainError> {
        let phase: &Phase = &self.schedule.phases[index];
        let setup = TrainSetup {
            model: self.model,
            optimizer: &phase.optimizer,
            batch_size: phase.batch_size.max(1),
            train_size: self.train_count,
        };
        backend
            .configure(&setup)
            .map_err(|error| TrainError::Configure {
                phase: index + 1,
                error,
            })?;
        self.configured = Some(index);
        Ok(())
    }

    /// One pass over the shuffled training examples.
    fn steps<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        start: &EpochStart,
        observer: &mut dyn Observer,
    ) -> Result<StepsDone, TrainError> {
        let began = Instant::now();
        let seed = self.schedule.seed;
        let order = epoch_order(seed, start.epoch, self.train_count);
        let mut cost_sum = 0.0;
        let mut examples_done = 0;
        for (step, indices) in order.chunks(start.batch_size).enumerate() {
            self.splits
                .train
                .fill_batch(indices, &mut self.inputs, &mut self.targets);
            let batch = Batch {
                inputs: &self.inputs,
                targets: &self.targets,
                len: indices.len(),
            };
            let diverged = |tensor: Option<String>, cost: Option<f64>| TrainError::Diverged {
                epoch: start.epoch,
                batch: step + 1,
                batches: start.steps,
                learning_rate: start.learning_rate,
                tensor,
                cost,
            };
            let stats = backend
                .train_step(
                    batch,
                    start.learning_rate as f32,
                    step_seed(seed, start.epoch, step),
                )
                .map_err(|error| match error {
                    BackendError::NonFinite { tensor } => diverged(Some(tensor), None),
                    error => TrainError::Step {
                        epoch: start.epoch,
                        batch: step + 1,
                        error,
                    },
                })?;
            if !stats.cost.is_finite() {
                return Err(diverged(None, Some(stats.cost)));
            }
            cost_sum += stats.cost * indices.len() as f64;
            examples_done += indices.len();
            observer.step_finished(&StepProgress {
                epoch: start.epoch,
                step: step + 1,
                steps: start.steps,
                examples_done,
                cost: stats.cost,
                running_cost: cost_sum / examples_done as f64,
                elapsed: began.elapsed().as_secs_f64(),
            });
        }
        Ok(StepsDone {
            steps: start.steps,
            cost: cost_sum / examples_done.max(1) as f64,
            seconds: began.elapsed().as_secs_f64(),
        })
    }

    /// Feeds the epoch's metrics to the decay and early stopping; marks the
    /// record with a decay and a reason to stop.
    fn watch_plateaus(&mut self, record: &mut EpochRecord) {
        let mut stop: Option<Stop> = None;
        if let Some(early) = &mut self.early_stop {
            stop = early.after_epoch(record.metric(early.metric()));
        }
        if let Some(decay) = &mut self.decay {
            let step = decay.after_epoch(record.metric(decay.metric()));
            record.decayed = step.decayed;
            stop = stop.or(step.stop);
        }
        record.stop = stop;
    }
}
