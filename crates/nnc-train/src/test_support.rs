//! A scripted backend and small builders for the loop's unit tests.

use nnc_check::program::{Metric, Model, Optimizer, Phase, TrainSpec};
use nnc_diag::Span;
use nnc_lower::backend::{
    Backend, BackendError, Batch, EvalStats, Inference, StepStats, Tensor, TrainSetup,
};

pub fn phase(start_epoch: usize, learning_rate: f64, batch_size: usize) -> Phase {
    Phase {
        start_epoch,
        optimizer: Optimizer::Sgd,
        learning_rate,
        batch_size,
        span: Span::default(),
    }
}

pub fn spec(epochs: usize) -> TrainSpec {
    TrainSpec {
        model: "m".into(),
        data: "d".into(),
        span: Span::default(),
        epochs,
        clip: Default::default(),
        seed: 0,
        phases: vec![phase(1, 0.1, 10)],
        decay: None,
        early_stop: None,
        metrics: vec![Metric::VALIDATION_ACCURACY],
        keep_best: None,
        players: Vec::new(),
        steps: Vec::new(),
        bptt: None,
    }
}

pub fn model() -> Model {
    Model {
        name: "m".into(),
        span: Span::default(),
        inputs: vec![],
        outputs: vec![],
        nodes: vec![],
        layers: vec![],
        cost: None,
        input_costs: vec![],
        penalties: vec![],
        cost_name: None,
        regularizers: vec![],
        zero_states: vec![],
        carry: false,
        unrolls: vec![],
    }
}

/// What the loop asked of the fake backend, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Configure {
        batch_size: usize,
        train_size: usize,
    },
    Step {
        /// The first input value of each example: its index in the tests'
        /// data.
        examples: Vec<f32>,
        learning_rate: f32,
        seed: u64,
    },
    Evaluate {
        len: usize,
    },
    /// `Backend::reset_carry`.
    ResetCarry,
}

/// A backend that trains nothing: each step's cost comes from `step_cost`
/// (by global step number, 0-based), each evaluation's accuracy from
/// `accuracy` (by epoch, 1-based; the epoch counts up at the first
/// evaluation after training steps).
pub struct Fake {
    pub calls: Vec<Call>,
    pub step_cost: Box<dyn Fn(usize) -> f64>,
    pub accuracy: Box<dyn Fn(usize) -> f64>,
    pub fail_step: Option<(usize, BackendError)>,
    /// The value of the last `set_params`.
    pub restored: Option<f32>,
    /// The first input value of each example of each evaluation batch.
    pub evaluated: Vec<Vec<f32>>,
    steps: usize,
    epoch: usize,
    stepped: bool,
}

impl Fake {
    pub fn new() -> Fake {
        Fake {
            calls: Vec::new(),
            step_cost: Box::new(|_| 1.0),
            accuracy: Box::new(|_| 0.5),
            fail_step: None,
            restored: None,
            evaluated: Vec::new(),
            steps: 0,
            epoch: 0,
            stepped: false,
        }
    }

    pub fn configures(&self) -> Vec<&Call> {
        self.calls
            .iter()
            .filter(|c| matches!(c, Call::Configure { .. }))
            .collect()
    }

    pub fn steps(&self) -> Vec<(&[f32], f32, u64)> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Step {
                    examples,
                    learning_rate,
                    seed,
                } => Some((examples.as_slice(), *learning_rate, *seed)),
                _ => None,
            })
            .collect()
    }
}

impl Backend for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
        self.calls.push(Call::Configure {
            batch_size: setup.batch_size,
            train_size: setup.train_size,
        });
        Ok(())
    }

    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError> {
        self.restored = params.first().and_then(|t| t.data.first()).copied();
        Ok(())
    }

    /// One value: the number of epochs trained, so a restore shows which
    /// epoch's parameters came back.
    fn params(&self) -> Vec<Tensor> {
        vec![Tensor::new(vec![1], vec![self.epoch as f32])]
    }

    fn train_step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<StepStats, BackendError> {
        if let Some((at, error)) = &self.fail_step {
            if *at == self.steps {
                return Err(error.clone());
            }
        }
        let width = batch.inputs.len() / batch.len;
        self.calls.push(Call::Step {
            examples: batch.inputs.iter().step_by(width).copied().collect(),
            learning_rate,
            seed: step_seed,
        });
        let cost = (self.step_cost)(self.steps);
        self.steps += 1;
        self.stepped = true;
        Ok(StepStats::cost(cost))
    }

    fn reset_carry(&mut self) {
        self.calls.push(Call::ResetCarry);
    }

    fn configure_inference(&mut self, _model: &Model) -> Result<(), BackendError> {
        Ok(())
    }

    fn infer(&mut self, _batch: Batch<'_>) -> Result<Inference, BackendError> {
        Err(BackendError::Unsupported {
            what: "inference (a test double)".to_string(),
        })
    }

    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalStats, BackendError> {
        if self.stepped {
            self.epoch += 1;
            self.stepped = false;
        }
        self.calls.push(Call::Evaluate { len: batch.len });
        let width = batch.inputs.len() / batch.len.max(1);
        self.evaluated
            .push(batch.inputs.iter().step_by(width.max(1)).copied().collect());
        let accuracy = (self.accuracy)(self.epoch);
        Ok(EvalStats {
            cost_sum: (1.0 - accuracy) * batch.len as f64,
            correct: (accuracy * batch.len as f64).round(),
            count: batch.len,
            ..EvalStats::default()
        })
    }
}

/// `count` examples of two inputs each: the example's index and zero; the
/// target is one value, zero.
pub fn numbered(count: usize) -> crate::InMemory {
    crate::InMemory {
        input_size: 2,
        target_size: 1,
        inputs: (0..count).flat_map(|i| [i as f32, 0.0]).collect(),
        targets: vec![0.0; count],
    }
}
