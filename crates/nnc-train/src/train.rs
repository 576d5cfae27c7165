//! The loop: epochs of shuffled mini-batches, phases, evaluation, decay and
//! early stopping.

use crate::error::TrainError;
use crate::evaluate::{evaluate, OutputMeasures};
use crate::examples::{SplitKind, Splits};
use crate::observer::{EpochStart, Observer, StepProgress};
use crate::plateau::{Decay, EarlyStopper};
use crate::record::{EpochRecord, Score, Stop, TrainReport};
use crate::resume::{
    Checkpointer, LoopState, NoCheckpoints, Position, Resume, RunOutcome, SaveKind, Snapshot,
};
use crate::schedule::Schedule;
use crate::seeds::{epoch_order, step_seed, stream_order};
use nnc_check::program::{Model, Phase};
use nnc_lower::backend::{Backend, BackendError, Batch, Tensor, TrainSetup};
use nnc_lower::params::{optimizer_state, param_specs, same_state_layout};
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
    train_resumable(
        backend,
        model,
        schedule,
        splits,
        options,
        observer,
        None,
        &mut NoCheckpoints,
    )
    .map(|outcome| outcome.report)
}

/// [`train`], starting from a saved position when `resume` is given (the
/// backend then holds the saved parameters), handing `checkpointer` a
/// [`Snapshot`] after every epoch, and stopping after the step during which
/// `checkpointer` asked for it (after saving a snapshot there). A run
/// resumed from a snapshot gives the records the uninterrupted run gives
/// for the same epochs, bit for bit on a deterministic backend. No snapshot
/// holds a NaN or infinite value: one would end the run as diverged.
#[allow(clippy::too_many_arguments)]
pub fn train_resumable<B: Backend + ?Sized>(
    backend: &mut B,
    model: &Model,
    schedule: &Schedule,
    splits: Splits<'_>,
    options: &Options,
    observer: &mut dyn Observer,
    resume: Option<Resume>,
    checkpointer: &mut dyn Checkpointer,
) -> Result<RunOutcome, TrainError> {
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
        extra: [SplitKind::Train, SplitKind::Validation, SplitKind::Test]
            .map(|split| OutputMeasures::new(model, schedule.measures_on(split))),
        best: None,
        configured: None,
        last_phase: None,
        pending_state: None,
        pending_carry: None,
        inputs: Vec::new(),
        targets: Vec::new(),
    };
    let mut outcome = RunOutcome {
        report: TrainReport {
            epochs: Vec::new(),
            stop: None,
        },
        interrupted: None,
    };
    let mut first_epoch = 1;
    let mut partial = None;
    if let Some(resume) = resume {
        let state = &resume.state;
        run.restore(state)?;
        if state.finished || state.epoch >= schedule.epochs {
            return Ok(outcome);
        }
        first_epoch = state.epoch + 1;
        if state.step > 0 {
            partial = Some(Partial {
                step: state.step,
                cost_sum: state.cost_sum,
                term_sums: state.term_sums,
                examples_done: state.examples_done,
            });
        }
        run.pending_state = Some((state.phase - 1, resume.optimizer_state));
        if state.step > 0 && !state.carried.is_empty() {
            let values = state.carried.iter();
            run.pending_carry = Some(
                values
                    .map(|bits| bits.iter().map(|&b| f32::from_bits(b)).collect())
                    .collect(),
            );
        }
    }
    for epoch in first_epoch..=schedule.epochs {
        let mut record = match run.epoch(backend, epoch, observer, checkpointer, partial.take())? {
            EpochEnd::Record(record) => *record,
            EpochEnd::Interrupted(position) => {
                outcome.interrupted = Some(position);
                return Ok(outcome);
            }
        };
        run.keep_or_restore_best(backend, checkpointer, &mut record)?;
        if observer.wants_params() {
            observer.epoch_params(epoch, backend.params());
        }
        observer.epoch_finished(&record);
        let stop = record.stop;
        if checkpointer.saves_epochs() {
            // Only a stop of the schedule's own ends the run for good: a run
            // that ran its epochs may be resumed with more (`--epochs`).
            let finished = stop.is_some();
            let done = Partial {
                step: 0,
                cost_sum: 0.0,
                term_sums: None,
                examples_done: 0,
            };
            run.save(
                backend,
                checkpointer,
                SaveKind::Epoch,
                epoch,
                &done,
                Some(&record),
                finished,
            )?;
        }
        outcome.report.epochs.push(record);
        if stop.is_some() {
            outcome.report.stop = stop;
            break;
        }
        if epoch < schedule.epochs && checkpointer.stop_requested() {
            // The snapshot of this epoch's end is the place to resume from.
            outcome.interrupted = Some(Position { epoch, step: 0 });
            break;
        }
    }
    Ok(outcome)
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
    /// Per split (train, validation, test), the measures read from the
    /// outputs.
    extra: [Option<OutputMeasures>; 3],
    /// `restore_best`: the parameters of the best epoch so far, and its
    /// number.
    best: Option<(usize, Vec<Tensor>)>,
    /// The phase the backend is configured for.
    configured: Option<usize>,
    /// The phase of the previous epoch (of the saved run, when resumed).
    last_phase: Option<usize>,
    /// A resumed run's optimizer state and the index of the phase it
    /// belongs to, set into the backend when it is first configured.
    pending_state: Option<(usize, Vec<Tensor>)>,
    /// The carried recurrent state a resumed epoch's next step starts
    /// from (`LoopState::carried`), put back after the epoch's reset.
    pending_carry: Option<Vec<Vec<f32>>>,
    inputs: Vec<f32>,
    targets: Vec<f32>,
}

/// What the training steps of an epoch add up to.
struct StepsDone {
    steps: usize,
    cost: f64,
    /// The mean of each term the backend reported (the steps of a game).
    terms: Option<[f64; nnc_lower::backend::MAX_COST_TERMS]>,
    seconds: f64,
}

/// The steps done so far in an epoch: where an interrupted epoch resumes.
#[derive(Clone, Copy, Debug)]
struct Partial {
    step: usize,
    cost_sum: f64,
    /// The sums of the terms the backend reports, when it reports some.
    term_sums: Option<[f64; nnc_lower::backend::MAX_COST_TERMS]>,
    examples_done: usize,
}

/// How the training steps of an epoch ended.
enum StepsEnd {
    Done(StepsDone),
    /// A stop was requested after this many steps (a snapshot was saved).
    Interrupted(Position),
}

/// How an epoch ended.
enum EpochEnd {
    Record(Box<EpochRecord>),
    Interrupted(Position),
}

impl Run<'_> {
    fn epoch<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        epoch: usize,
        observer: &mut dyn Observer,
        checkpointer: &mut dyn Checkpointer,
        partial: Option<Partial>,
    ) -> Result<EpochEnd, TrainError> {
        let started = Instant::now();
        let index = self.schedule.phase_index(epoch);
        let phase = &self.schedule.phases[index];
        let phase_changed = self.last_phase != Some(index);
        self.last_phase = Some(index);
        if self.configured != Some(index) {
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
            steps: self.epoch_examples(batch_size).div_ceil(batch_size),
            examples: self.epoch_examples(batch_size),
        };
        observer.epoch_started(&start);
        backend.begin_epoch(epoch);
        if self.model.carry {
            // Every stream starts the epoch at zero state.
            backend.reset_carry();
        }
        let done = match self.steps(backend, &start, observer, checkpointer, partial)? {
            StepsEnd::Done(done) => done,
            StepsEnd::Interrupted(position) => return Ok(EpochEnd::Interrupted(position)),
        };
        // A model that carries state evaluates in as many streams as it
        // trains in: larger batches would make shorter streams.
        let default_eval = if self.model.carry {
            batch_size
        } else {
            batch_size.max(MIN_EVAL_BATCH)
        };
        let eval_batch = self.options.eval_batch_size.unwrap_or(default_eval);
        let scores = if self.options.skip_evaluation {
            [None, None, None]
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
            examples: start.examples,
            train_cost: done.cost,
            train_terms: self.train_terms(done.terms),
            train,
            validation,
            test,
            seconds: 0.0,
            train_seconds: done.seconds,
            examples_per_second: start.examples as f64 / done.seconds.max(1e-9),
            decayed: false,
            stop: None,
            restored: None,
        };
        self.watch_plateaus(&mut record);
        record.seconds = started.elapsed().as_secs_f64();
        Ok(EpochEnd::Record(Box::new(record)))
    }

    /// Evaluates the splits after an epoch: the training examples when a
    /// metric asks for a measure on them (the train cost excepted), then
    /// validation and test whenever the data has them.
    fn measure<B: Backend + ?Sized>(
        &self,
        backend: &mut B,
        epoch: usize,
        batch_size: usize,
        observer: &mut dyn Observer,
    ) -> Result<[Option<Score>; 3], TrainError> {
        // A game with nothing but training examples reports its steps'
        // costs and values on them.
        let game_alone = !self.schedule.terms.is_empty()
            && self.splits.validation.is_none()
            && self.splits.test.is_none();
        let measured = game_alone || !self.schedule.measures_on(SplitKind::Train).is_empty();
        let train = measured.then_some(self.splits.train);
        let eval_count = self.options.eval_limit.unwrap_or(usize::MAX);
        let splits = [
            (SplitKind::Train, train, self.train_count),
            (SplitKind::Validation, self.splits.validation, eval_count),
            (SplitKind::Test, self.splits.test, eval_count),
        ];
        let mut scores = [None, None, None];
        for ((slot, extra), (split, examples, count)) in
            scores.iter_mut().zip(&self.extra).zip(splits)
        {
            let Some(examples) = examples else { continue };
            observer.evaluating(epoch, split);
            let mut terms = if self.schedule.terms.is_empty() {
                self.model.cost_terms()
            } else {
                self.schedule.terms.clone()
            };
            if terms.len() < 2 && self.schedule.terms.is_empty() {
                terms.clear();
            }
            terms.truncate(nnc_lower::backend::MAX_COST_TERMS);
            let seed = self.schedule.seed;
            *slot = evaluate(
                backend,
                examples,
                count,
                batch_size,
                extra.as_ref(),
                &terms,
                seed,
                self.model.carry,
            )
            .map_err(|error| TrainError::Evaluate {
                epoch,
                split,
                error,
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
            clip: self.schedule.clip,
        };
        backend
            .configure(&setup)
            .map_err(|error| TrainError::Configure {
                phase: index + 1,
                error,
            })?;
        self.configured = Some(index);
        if let Some((saved, state)) = self.pending_state.take() {
            // The uninterrupted run kept the state across this `configure`
            // exactly when the optimizers share a state layout; otherwise it
            // restarted at zero, as the fresh configuration just did.
            let kept = same_state_layout(&self.schedule.phases[saved].optimizer, &phase.optimizer);
            if kept {
                backend
                    .set_optimizer_state(state)
                    .map_err(|error| TrainError::Resume {
                        problem: format!("the backend refused the saved optimizer state: {error}"),
                    })?;
            }
        }
        Ok(())
    }

    /// Takes up a saved loop state, after checking that it belongs to a run
    /// like this one.
    fn restore(&mut self, state: &LoopState) -> Result<(), TrainError> {
        let problem = |problem: String| Err(TrainError::Resume { problem });
        if state.seed != self.schedule.seed {
            return problem(format!(
                "it was trained with seed {}, this run has seed {}",
                state.seed, self.schedule.seed
            ));
        }
        if state.train_count != self.train_count {
            return problem(format!(
                "it trained on {} examples per epoch, this run on {} (`--train-limit`)",
                state.train_count, self.train_count
            ));
        }
        if state.eval_limit != self.options.eval_limit {
            let show = |l: Option<usize>| l.map_or("all".to_string(), |n| n.to_string());
            return problem(format!(
                "it measured {} examples per split, this run {} (`--eval-limit`)",
                show(state.eval_limit),
                show(self.options.eval_limit)
            ));
        }
        if state.phase == 0 || state.phase > self.schedule.phases.len() {
            return problem(format!(
                "it was in phase {}, this run's schedule has {} phases",
                state.phase,
                self.schedule.phases.len()
            ));
        }
        if let (Some(decay), Some(saved)) = (&mut self.decay, &state.decay) {
            decay.restore(saved);
        }
        if let (Some(early), Some(saved)) = (&mut self.early_stop, &state.early_stop) {
            early.restore(saved);
        }
        if state.step > 0 && state.epoch < self.schedule.epochs {
            let batch_size = self.schedule.phases[self.schedule.phase_index(state.epoch + 1)]
                .batch_size
                .max(1);
            let steps = self.epoch_examples(batch_size).div_ceil(batch_size);
            if state.step > steps {
                return problem(format!(
                    "it stopped after step {} of epoch {}, which has {steps} steps",
                    state.step,
                    state.epoch + 1
                ));
            }
        }
        self.last_phase = Some(state.phase - 1);
        Ok(())
    }

    /// The loop state now, `done` being the steps done in the epoch after
    /// `epochs_completed`.
    fn loop_state(&self, epochs_completed: usize, done: &Partial, finished: bool) -> LoopState {
        LoopState {
            epoch: epochs_completed,
            step: done.step,
            phase: self.configured.map_or(0, |i| i + 1),
            seed: self.schedule.seed,
            train_count: self.train_count,
            eval_limit: self.options.eval_limit,
            cost_sum: done.cost_sum,
            term_sums: done.term_sums,
            examples_done: done.examples_done,
            decay: self.decay.as_ref().map(Decay::state),
            early_stop: self.early_stop.as_ref().map(EarlyStopper::state),
            finished,
            carried: Vec::new(),
        }
    }

    /// Reads the parameters and optimizer state back and hands them to
    /// `checkpointer`. A NaN or infinite value is never saved: it ends the
    /// run as diverged, naming the tensor.
    #[allow(clippy::too_many_arguments)]
    fn save<B: Backend + ?Sized>(
        &self,
        backend: &mut B,
        checkpointer: &mut dyn Checkpointer,
        kind: SaveKind,
        epochs_completed: usize,
        done: &Partial,
        record: Option<&EpochRecord>,
        finished: bool,
    ) -> Result<(), TrainError> {
        let mut state = self.loop_state(epochs_completed, done, finished);
        if self.model.carry && done.step > 0 {
            state.carried = backend
                .carried()
                .iter()
                .map(|values| values.iter().map(|v| v.to_bits()).collect())
                .collect();
        }
        let params = backend.params();
        let optimizer = self
            .configured
            .map(|i| &self.schedule.phases[i].optimizer)
            .ok_or(TrainError::NoPhases)?;
        let state_values = backend.optimizer_state();
        let param_names: Vec<String> = param_specs(self.model)
            .into_iter()
            .map(|s| s.name)
            .collect();
        let state_names: Vec<String> = optimizer_state(self.model, optimizer)
            .into_iter()
            .map(|s| s.name)
            .collect();
        let name = |names: &[String], k: usize, what: &str| {
            names
                .get(k)
                .cloned()
                .unwrap_or_else(|| format!("{what} {k}"))
        };
        let named = (params
            .iter()
            .enumerate()
            .map(|(k, t)| (name(&param_names, k, "parameter"), t)))
        .chain(
            state_values
                .iter()
                .enumerate()
                .map(|(k, t)| (name(&state_names, k, "optimizer state"), t)),
        );
        for (name, tensor) in named {
            if tensor.data.iter().any(|v| !v.is_finite()) {
                let epoch = epochs_completed + usize::from(done.step > 0);
                let phase = &self.schedule.phases[self.schedule.phase_index(epoch.max(1))];
                let batch_size = phase.batch_size.max(1);
                let batches = self.epoch_examples(batch_size).div_ceil(batch_size);
                return Err(TrainError::Diverged {
                    epoch: epoch.max(1),
                    batch: if done.step > 0 { done.step } else { batches },
                    batches,
                    learning_rate: record.map_or(phase.learning_rate, |r| r.learning_rate),
                    tensor: Some(name),
                    cost: None,
                });
            }
        }
        let snapshot = Snapshot {
            kind,
            state,
            record,
            params,
            optimizer_state: state_values,
        };
        checkpointer
            .save(&snapshot)
            .map_err(|message| TrainError::Checkpoint {
                epoch: epochs_completed,
                step: done.step,
                message,
            })
    }

    /// The examples an epoch of batches of `batch_size` trains on: all of
    /// them, or for a model that carries state, those of whole streams
    /// (`seeds::stream_order`).
    fn epoch_examples(&self, batch_size: usize) -> usize {
        if self.model.carry {
            let streams = batch_size.min(self.train_count).max(1);
            self.train_count / streams * streams
        } else {
            self.train_count
        }
    }

    /// One pass over the shuffled training examples (in streams, for a
    /// model that carries state).
    fn steps<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        start: &EpochStart,
        observer: &mut dyn Observer,
        checkpointer: &mut dyn Checkpointer,
        partial: Option<Partial>,
    ) -> Result<StepsEnd, TrainError> {
        let began = Instant::now();
        let seed = self.schedule.seed;
        let order = if self.model.carry {
            stream_order(self.train_count, start.batch_size)
        } else {
            epoch_order(seed, start.epoch, self.train_count)
        };
        // A resumed epoch skips the steps done before the interruption; the
        // order and the step seeds are those of the uninterrupted epoch.
        let skip = partial.map_or(0, |p| p.step);
        if let Some(carried) = self.pending_carry.take() {
            backend.set_carried(carried);
        }
        let mut cost_sum = partial.map_or(0.0, |p| p.cost_sum);
        let mut term_sums: Option<[f64; nnc_lower::backend::MAX_COST_TERMS]> =
            partial.and_then(|p| p.term_sums);
        let mut examples_done = partial.map_or(0, |p| p.examples_done);
        for (step, indices) in order.chunks(start.batch_size).enumerate().skip(skip) {
            let seed_of_step = step_seed(seed, start.epoch, step);
            self.splits.train.fill_train_batch(
                indices,
                &mut self.inputs,
                &mut self.targets,
                seed_of_step,
            );
            let batch = Batch {
                inputs: &self.inputs,
                targets: &self.targets,
                len: indices.len(),
                noise_seed: 0,
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
                .train_step(batch, start.learning_rate as f32, seed_of_step)
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
            if let Some(terms) = stats.terms {
                let sums = term_sums.get_or_insert([0.0; nnc_lower::backend::MAX_COST_TERMS]);
                for (sum, term) in sums.iter_mut().zip(terms) {
                    *sum += term * indices.len() as f64;
                }
            }
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
            if checkpointer.stop_requested() {
                let done = Partial {
                    step: step + 1,
                    cost_sum,
                    term_sums,
                    examples_done,
                };
                let completed = start.epoch - 1;
                self.save(
                    backend,
                    checkpointer,
                    SaveKind::Interrupted,
                    completed,
                    &done,
                    None,
                    false,
                )?;
                return Ok(StepsEnd::Interrupted(Position {
                    epoch: completed,
                    step: step + 1,
                }));
            }
        }
        let per_example = 1.0 / examples_done.max(1) as f64;
        Ok(StepsEnd::Done(StepsDone {
            steps: start.steps,
            cost: cost_sum * per_example,
            terms: term_sums.map(|sums| sums.map(|s| s * per_example)),
            seconds: began.elapsed().as_secs_f64(),
        }))
    }

    /// `early_stop(..., restore_best: true)`: keeps the parameters of an
    /// epoch that improved on the best; when the run stops early, puts
    /// the best epoch's back (from memory, or for a resumed run from the
    /// checkpointer) and marks the record with that epoch.
    fn keep_or_restore_best<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        checkpointer: &mut dyn Checkpointer,
        record: &mut EpochRecord,
    ) -> Result<(), TrainError> {
        let Some(early) = self.early_stop.as_ref().filter(|e| e.restores_best()) else {
            return Ok(());
        };
        let Some(best) = early.best_epoch() else {
            return Ok(());
        };
        if best == record.epoch {
            self.best = Some((best, backend.params()));
        }
        if !matches!(record.stop, Some(Stop::EarlyStop { .. })) || best == record.epoch {
            return Ok(());
        }
        let kept = match self.best.take() {
            Some((epoch, params)) if epoch == best => Some(params),
            _ => checkpointer.best_params(best),
        };
        let params = kept.ok_or_else(|| TrainError::Checkpoint {
            epoch: record.epoch,
            step: 0,
            message: format!(
                "`restore_best` cannot restore epoch {best}: its parameters were neither kept \
                 by this run nor saved as the best checkpoint"
            ),
        })?;
        backend
            .set_params(params)
            .map_err(|error| TrainError::Checkpoint {
                epoch: record.epoch,
                step: 0,
                message: format!("restoring epoch {best}'s parameters: {error}"),
            })?;
        record.restored = Some(best);
        Ok(())
    }

    /// The named means of the terms a backend reported per step (the
    /// steps of a game: each one's cost, named by the schedule).
    fn train_terms(
        &self,
        terms: Option<[f64; nnc_lower::backend::MAX_COST_TERMS]>,
    ) -> Vec<(String, f64)> {
        let Some(terms) = terms else {
            return Vec::new();
        };
        let steps = self.schedule.train_terms.min(terms.len());
        self.schedule
            .terms
            .iter()
            .take(steps)
            .cloned()
            .zip(terms)
            .collect()
    }

    /// Feeds the epoch's metrics to the decay and early stopping; marks the
    /// record with a decay and a reason to stop.
    fn watch_plateaus(&mut self, record: &mut EpochRecord) {
        let mut stop: Option<Stop> = None;
        if let Some(early) = &mut self.early_stop {
            stop = early.after_epoch(record.epoch, record.metric(early.metric()));
        }
        if let Some(decay) = &mut self.decay {
            let step = decay.after_epoch(record.metric(decay.metric()));
            record.decayed = step.decayed;
            stop = stop.or(step.stop);
        }
        record.stop = stop;
    }
}
