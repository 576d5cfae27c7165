//! Several models trained against each other (a GAN): the `step`s of a
//! train block ([`StepSpec`]) run as one [`Backend`], so the loop, its
//! checkpoints, resumption, divergence checks and reports serve a game as
//! they serve one model.
//!
//! [`Game`] holds one backend per step, each configured with its step's
//! graph (every player's layers, only the updated model's trained) and its
//! optimizer. A training step of the game is one mini-batch: each step in
//! the written order, `repeat` times, on the backend of that step, with
//! the parameters the steps before it left. The parameters of every player
//! are kept on the host between steps ([`Game::params`] is them): a step's
//! backend receives them before it runs when another step changed them.
//! The optimizer state of the game is every step's, step after step.
//!
//! What the loop reads:
//! - `train_step` reports each step's cost (the mean of its repeats) as a
//!   term, in step order, and their sum as the cost;
//! - `evaluate` reports, per batch and in inference mode, each step's cost
//!   and then each step's monitored outputs (`report NAME`), each summed
//!   over the examples of the mean of its values per example
//!   ([`TrainSpec::game_terms`] names them).
//!
//! Learning rates come from the steps' own schedules (`rate_at`), picked
//! when the loop begins an epoch ([`Backend::begin_epoch`]); the rate the
//! loop passes is not used.

use nnc_check::program::{Model, StepSpec, TrainSpec};
use nnc_lower::backend::{
    check_params, Backend, BackendError, Batch, EvalStats, Inference, StepStats, Tensor,
    TrainSetup, MAX_COST_TERMS,
};
use nnc_lower::params::optimizer_state;
use std::ops::Range;

/// What a step's backend lacks of the game's current parameters.
#[derive(Clone, Debug, PartialEq)]
enum Stale {
    /// Every parameter (before the first step, after `set_params`).
    All,
    /// The parameters other steps changed since this one last ran.
    Ranges(Vec<Range<usize>>),
}

/// One step of the game with the backend that runs it.
struct Step {
    spec: StepSpec,
    backend: Box<dyn Backend>,
    /// What the backend lacks of the game's current parameters.
    stale: Stale,
    /// The parameters the step changes: every one of the model it
    /// updates (in `param_specs` order they follow one another).
    updates: Range<usize>,
    /// The learning rate of the current epoch.
    rate: f64,
    inputs: StepInputs,
}

/// The steps of a game run as one backend.
pub struct Game {
    steps: Vec<Step>,
    /// Every player's parameters (the first step's layout, which every
    /// step shares).
    params_model: Model,
    params: Vec<Tensor>,
    /// Optimizer state given before the steps were configured.
    pending_state: Option<Vec<Tensor>>,
    configured: bool,
    inputs: Vec<f32>,
    targets: Vec<f32>,
}

impl Game {
    /// The game of `spec`, one backend per step from `make`. `None` for a
    /// train block of one model.
    pub fn new(spec: &TrainSpec, mut make: impl FnMut() -> Box<dyn Backend>) -> Option<Game> {
        let params_model = spec.game_params()?.clone();
        let steps = spec
            .steps
            .iter()
            .map(|s| Step {
                spec: s.clone(),
                backend: make(),
                stale: Stale::All,
                updates: updated_params(s),
                rate: s.rate_at(1),
                inputs: StepInputs::of(s),
            })
            .collect();
        Some(Game {
            steps,
            params_model,
            params: Vec::new(),
            pending_state: None,
            configured: false,
            inputs: Vec::new(),
            targets: Vec::new(),
        })
    }

    /// The model whose parameters the game holds (every player's).
    pub fn params_model(&self) -> &Model {
        &self.params_model
    }

    /// Hands step `k`'s backend the current values of the parameters it
    /// lacks: all of them the first time, then only those other steps
    /// changed since it last ran.
    fn sync(&mut self, k: usize) -> Result<(), BackendError> {
        if self.params.is_empty() {
            return Ok(());
        }
        let step = &mut self.steps[k];
        match std::mem::replace(&mut step.stale, Stale::Ranges(Vec::new())) {
            Stale::All => step.backend.set_params(self.params.clone())?,
            Stale::Ranges(ranges) => {
                for range in ranges {
                    let values = self.params.get(range.clone()).unwrap_or_default();
                    step.backend.write_params(range.start, values)?;
                }
            }
        }
        Ok(())
    }

    /// After step `k` ran: the parameters it changed become the game's,
    /// and every other step's backend lacks them.
    fn took_step(&mut self, k: usize) -> Result<(), BackendError> {
        let range = self.steps[k].updates.clone();
        if let Some(out) = self.params.get_mut(range.clone()) {
            self.steps[k].backend.read_params(range.start, out)?;
        }
        for (j, step) in self.steps.iter_mut().enumerate() {
            if let (true, Stale::Ranges(ranges)) = (j != k, &mut step.stale) {
                if !ranges.contains(&range) {
                    ranges.push(range.clone());
                }
            }
        }
        Ok(())
    }
}

/// The batch a step reads: the examples as `real`, followed in each
/// example by its one-hot `labels` when the step reads them (its inputs
/// are then gathered into `inputs`); no targets (a step's graph reads
/// none: the labels are its input).
fn step_batch<'b>(
    step: StepInputs,
    batch: &Batch<'b>,
    inputs: &'b mut Vec<f32>,
) -> Result<Batch<'b>, BackendError> {
    let Some(classes) = step.classes else {
        return Ok(Batch {
            targets: &[],
            ..*batch
        });
    };
    let mut one_hot = Vec::new();
    let rows = batch.target_rows(classes, &mut one_hot)?;
    let real = step.real;
    if batch.inputs.len() != batch.len * real {
        return Err(BackendError::Failed {
            message: format!(
                "a batch of {} examples of {real} values needs {} values, it has {}",
                batch.len,
                batch.len * real,
                batch.inputs.len()
            ),
        });
    }
    inputs.clear();
    inputs.reserve(batch.len * (real + classes));
    for i in 0..batch.len {
        inputs.extend_from_slice(&batch.inputs[i * real..(i + 1) * real]);
        inputs.extend_from_slice(&rows[i * classes..(i + 1) * classes]);
    }
    Ok(Batch {
        inputs,
        targets: &[],
        ..*batch
    })
}

/// Class 0 for each of `len` examples: the targets that make inference
/// report its sums (`Inference::stats`) for a step's batch. Nothing reads
/// them but the accuracy of a step's first reported value, which nothing
/// uses.
fn dummy_targets(len: usize, targets: &mut Vec<f32>) -> &[f32] {
    targets.clear();
    targets.resize(len, 0.0);
    targets
}

/// The parameters step `spec` changes: those of the model it updates,
/// named `MODEL.LAYER.NAME`, which follow one another.
fn updated_params(spec: &StepSpec) -> Range<usize> {
    let prefix = format!("{}.", spec.model);
    let names: Vec<bool> = nnc_lower::params::param_specs(&spec.graph)
        .iter()
        .map(|p| p.name.starts_with(&prefix))
        .collect();
    let start = names.iter().position(|&own| own).unwrap_or(0);
    let end = names.iter().rposition(|&own| own).map_or(start, |e| e + 1);
    start..end
}

/// What a step reads of a batch: `real` (its values per example) and,
/// when it reads them, the one-hot `labels`.
#[derive(Clone, Copy, Debug)]
struct StepInputs {
    /// Values of `real` per example.
    real: usize,
    /// The one-hot width of `labels`, when the step reads them (input 1).
    classes: Option<usize>,
}

impl StepInputs {
    fn of(spec: &StepSpec) -> StepInputs {
        let graph = &spec.graph;
        let size = |k: usize| {
            graph
                .inputs
                .get(k)
                .map(|&id| graph.node(id).shape.iter().product::<usize>())
        };
        StepInputs {
            real: size(0).unwrap_or(0),
            classes: size(1),
        }
    }
}

/// The batch the step `spec` of a game reads from a batch of the game's
/// examples: `real`, and the one-hot `labels` after each example when the
/// step reads them (gathered into `inputs`). For tools that run one step
/// alone (`nnc run --verify`).
pub fn batch_of_step<'b>(
    spec: &StepSpec,
    batch: &Batch<'b>,
    inputs: &'b mut Vec<f32>,
) -> Result<Batch<'b>, BackendError> {
    step_batch(StepInputs::of(spec), batch, inputs)
}

/// The seed of repetition `r` of step `k` in a training step of seed
/// `seed`: distinct for every step and repetition.
fn repeat_seed(seed: u64, k: usize, r: usize) -> u64 {
    let mix = (k as u64) << 32 | r as u64;
    seed ^ mix.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Backend for Game {
    fn name(&self) -> &'static str {
        self.steps.first().map_or("game", |s| s.backend.name())
    }

    fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
        for step in &mut self.steps {
            let own = TrainSetup {
                model: &step.spec.graph,
                optimizer: &step.spec.optimizer,
                batch_size: setup.batch_size,
                train_size: setup.train_size,
                clip: setup.clip,
            };
            step.backend.configure(&own)?;
            step.stale = Stale::All;
        }
        self.configured = true;
        if let Some(state) = self.pending_state.take() {
            self.set_optimizer_state(state)?;
        }
        Ok(())
    }

    fn begin_epoch(&mut self, epoch: usize) {
        for step in &mut self.steps {
            step.rate = step.spec.rate_at(epoch);
        }
    }

    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError> {
        check_params(Some(&self.params_model), &params)?;
        self.params = params;
        for step in &mut self.steps {
            step.stale = Stale::All;
        }
        Ok(())
    }

    fn params(&self) -> Vec<Tensor> {
        self.params.clone()
    }

    fn train_step(
        &mut self,
        batch: Batch<'_>,
        _learning_rate: f32,
        step_seed: u64,
    ) -> Result<StepStats, BackendError> {
        let mut terms = [0.0; MAX_COST_TERMS];
        let mut cost = 0.0;
        for k in 0..self.steps.len() {
            self.sync(k)?;
            let repeat = self.steps[k].spec.repeat.max(1);
            let mut sum = 0.0;
            for r in 0..repeat {
                let step = &mut self.steps[k];
                let own = step_batch(step.inputs, &batch, &mut self.inputs)?;
                let rate = step.rate as f32;
                let stats = step
                    .backend
                    .train_step(own, rate, repeat_seed(step_seed, k, r))?;
                sum += stats.cost;
            }
            self.took_step(k)?;
            let mean = sum / repeat as f64;
            if let Some(slot) = terms.get_mut(k) {
                *slot = mean;
            }
            cost += mean;
        }
        Ok(StepStats {
            cost,
            terms: Some(terms),
        })
    }

    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalStats, BackendError> {
        let mut stats = EvalStats {
            count: batch.len,
            ..EvalStats::default()
        };
        let mut slot = self.steps.len();
        for k in 0..self.steps.len() {
            self.sync(k)?;
            let step = &mut self.steps[k];
            let own = Batch {
                targets: dummy_targets(batch.len, &mut self.targets),
                ..step_batch(step.inputs, &batch, &mut self.inputs)?
            };
            let inference = step.backend.infer(own)?;
            let cost = inference.stats.map_or(0.0, |s| s.cost_sum);
            stats.cost_sum += cost;
            if let Some(term) = stats.terms.get_mut(k) {
                *term = cost;
            }
            for output in &inference.outputs {
                let per_example = output.data.len() / batch.len.max(1);
                let sum: f64 = output.data.iter().map(|&v| v as f64).sum();
                if let Some(term) = stats.terms.get_mut(slot) {
                    *term = sum / per_example.max(1) as f64;
                }
                slot += 1;
            }
        }
        Ok(stats)
    }

    fn configure_inference(&mut self, _model: &Model) -> Result<(), BackendError> {
        Err(BackendError::Unsupported {
            what: "inference of a game as a whole (run one of its models instead)".into(),
        })
    }

    fn infer(&mut self, batch: Batch<'_>) -> Result<Inference, BackendError> {
        let stats = self.evaluate(batch)?;
        Ok(Inference {
            stats: Some(stats),
            outputs: Vec::new(),
        })
    }

    fn set_check_numerics(&mut self, on: bool) {
        for step in &mut self.steps {
            step.backend.set_check_numerics(on);
        }
    }

    fn optimizer_state(&self) -> Vec<Tensor> {
        self.steps
            .iter()
            .flat_map(|s| s.backend.optimizer_state())
            .collect()
    }

    fn set_optimizer_state(&mut self, state: Vec<Tensor>) -> Result<(), BackendError> {
        if !self.configured {
            self.pending_state = Some(state);
            return Ok(());
        }
        let mut rest = state.into_iter();
        for step in &mut self.steps {
            let count = optimizer_state(&step.spec.graph, &step.spec.optimizer).len();
            let own: Vec<Tensor> = rest.by_ref().take(count).collect();
            step.backend.set_optimizer_state(own)?;
        }
        if rest.next().is_some() {
            return Err(BackendError::Failed {
                message: "more optimizer state tensors than the game's steps keep".into(),
            });
        }
        Ok(())
    }
}

/// Every optimizer state tensor of `spec`'s game, step after step, as
/// `Game::optimizer_state` gives them: its name, prefixed with its step
/// (`discriminator_step.adam.step`), and its shape. What a checkpoint
/// calls them.
pub fn game_state_specs(spec: &TrainSpec) -> Vec<(String, Vec<usize>)> {
    spec.steps
        .iter()
        .flat_map(|s| {
            optimizer_state(&s.graph, &s.optimizer)
                .into_iter()
                .map(move |t| (format!("{}_step.{}", s.model, t.name), t.shape))
        })
        .collect()
}
