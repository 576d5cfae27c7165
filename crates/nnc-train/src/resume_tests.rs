//! Snapshots and resuming, on a small backend whose parameter and optimizer
//! state drift with every batch, learning rate and step seed: a resumed run
//! matches the uninterrupted one only if all of them are restored.

use crate::test_support::{model, numbered, phase};
use crate::*;
use nnc_check::program::{Metric, Model, Optimizer, PlateauDecay, TrainSpec};
use nnc_diag::Span;
use nnc_lower::backend::{
    BackendError, Batch, EvalStats, Inference, StepStats, Tensor, TrainSetup,
};
use std::cell::Cell;

/// One parameter `p` and one velocity `v`, moved by every step.
#[derive(Default)]
struct Drift {
    p: f32,
    v: f32,
    /// The learning rate and seed of every step, in order.
    steps: Vec<(f32, u64)>,
    /// For a model that carries state (`bptt`): a state every step moves
    /// and the next step's gradient reads.
    carrying: bool,
    carry: f32,
}

impl Backend for Drift {
    fn name(&self) -> &'static str {
        "drift"
    }

    fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
        self.carrying = setup.model.carry;
        Ok(())
    }

    fn reset_carry(&mut self) {
        self.carry = 0.0;
    }

    fn carried(&self) -> Vec<Vec<f32>> {
        vec![vec![self.carry]]
    }

    fn set_carried(&mut self, values: Vec<Vec<f32>>) {
        self.carry = values[0][0];
    }

    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError> {
        self.p = params[0].data[0];
        Ok(())
    }

    fn params(&self) -> Vec<Tensor> {
        vec![Tensor::new(vec![1], vec![self.p])]
    }

    fn train_step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<StepStats, BackendError> {
        let mean = batch.inputs.iter().step_by(2).sum::<f32>() / batch.len as f32;
        let noise = (step_seed % 1000) as f32 * 1e-4;
        let mut grad = self.p - mean / 25.0 + noise;
        if self.carrying {
            grad += 0.01 * self.carry;
            self.carry = 0.5 * self.carry + mean;
        }
        self.v = 0.9 * self.v + grad;
        self.p -= learning_rate * self.v;
        self.steps.push((learning_rate, step_seed));
        Ok(StepStats::cost(f64::from(grad * grad)))
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
        let error = f64::from((self.p - 0.5).abs());
        Ok(EvalStats {
            cost_sum: error * batch.len as f64,
            correct: ((1.0 - error.min(1.0)) * batch.len as f64).floor(),
            count: batch.len,
            ..EvalStats::default()
        })
    }

    fn optimizer_state(&self) -> Vec<Tensor> {
        vec![Tensor::new(vec![1], vec![self.v])]
    }

    fn set_optimizer_state(&mut self, state: Vec<Tensor>) -> Result<(), BackendError> {
        self.v = state[0].data[0];
        Ok(())
    }
}

/// Keeps every snapshot (its loop state through JSON, as a sidecar does)
/// and asks to stop after `stop_after` steps.
#[derive(Default)]
struct Keeper {
    stop_after: Option<usize>,
    steps: Cell<usize>,
    saved: Vec<(SaveKind, Resume, Vec<Tensor>)>,
}

impl Checkpointer for Keeper {
    fn stop_requested(&self) -> bool {
        self.steps.set(self.steps.get() + 1);
        self.stop_after.is_some_and(|n| self.steps.get() >= n)
    }

    fn save(&mut self, snapshot: &Snapshot<'_>) -> Result<(), String> {
        let json = serde_json::to_string(&snapshot.state).map_err(|e| e.to_string())?;
        let state: LoopState = serde_json::from_str(&json).map_err(|e| e.to_string())?;
        assert_eq!(state, snapshot.state);
        let resume = Resume {
            state,
            optimizer_state: snapshot.optimizer_state.clone(),
        };
        self.saved
            .push((snapshot.kind, resume, snapshot.params.clone()));
        Ok(())
    }
}

fn spec() -> TrainSpec {
    let mut second = phase(3, 0.05, 4);
    second.optimizer = Optimizer::Momentum { mu: 0.9 };
    let mut first = phase(1, 0.1, 5);
    first.optimizer = Optimizer::Momentum { mu: 0.9 };
    TrainSpec {
        model: "m".into(),
        data: "d".into(),
        span: Span::default(),
        epochs: 5,
        clip: Default::default(),
        seed: 11,
        phases: vec![first, second],
        decay: Some(PlateauDecay {
            metric: Metric::VALIDATION_ACCURACY,
            factor: 0.5,
            patience: 1,
            stop_below: None,
            span: Span::default(),
        }),
        early_stop: None,
        metrics: vec![Metric::VALIDATION_ACCURACY],
        keep_best: None,
        players: Vec::new(),
        steps: Vec::new(),
        bptt: None,
    }
}

fn go(
    backend: &mut Drift,
    keeper: &mut Keeper,
    resume: Option<Resume>,
    seed: Option<u64>,
) -> Result<RunOutcome, TrainError> {
    go_with(&model(), backend, keeper, resume, seed)
}

fn go_with(
    model: &Model,
    backend: &mut Drift,
    keeper: &mut Keeper,
    resume: Option<Resume>,
    seed: Option<u64>,
) -> Result<RunOutcome, TrainError> {
    let train_data = numbered(23);
    let validation = numbered(10);
    let splits = Splits {
        train: &train_data,
        validation: Some(&validation),
        test: None,
    };
    let overrides = Overrides {
        epochs: None,
        seed,
        keep_best: None,
    };
    let schedule = Schedule::new(&spec(), overrides);
    train_resumable(
        backend,
        model,
        &schedule,
        splits,
        &Options::default(),
        &mut Silent,
        resume,
        keeper,
    )
}

fn untimed(report: &TrainReport) -> Vec<EpochRecord> {
    report
        .epochs
        .iter()
        .map(EpochRecord::without_timings)
        .collect()
}

/// A fresh backend holding a snapshot's parameters.
fn restored(params: &[Tensor]) -> Drift {
    let mut backend = Drift::default();
    backend.set_params(params.to_vec()).unwrap();
    backend
}

#[test]
fn a_run_resumed_mid_epoch_or_at_an_epoch_ends_as_the_uninterrupted_one() {
    let mut whole = Drift::default();
    let mut keeper = Keeper::default();
    let full = go(&mut whole, &mut keeper, None, None).unwrap();
    assert_eq!(full.interrupted, None);
    assert_eq!(full.report.epochs.len(), 5);
    assert!(
        full.report.epochs.iter().any(|r| r.decayed),
        "the decay must matter"
    );
    // One snapshot per epoch; the run ran all its epochs, so more may come.
    assert_eq!(keeper.saved.len(), 5);
    assert!(!keeper.saved[4].1.state.finished);
    let records = untimed(&full.report);

    // Interrupted during epoch 2 (5 steps per epoch in phase 1): the flag
    // is read after each step and after epoch 1, so the 8th look is after
    // the 2nd step of epoch 2.
    let mut first = Drift::default();
    let mut stopper = Keeper {
        stop_after: Some(8),
        ..Keeper::default()
    };
    let cut = go(&mut first, &mut stopper, None, None).unwrap();
    assert_eq!(cut.interrupted, Some(Position { epoch: 1, step: 2 }));
    assert_eq!(untimed(&cut.report), records[..1]);
    let (kind, resume, params) = stopper.saved.last().unwrap().clone();
    assert_eq!(kind, SaveKind::Interrupted);
    assert_eq!((resume.state.epoch, resume.state.step), (1, 2));
    assert_eq!(resume.state.phase, 1);

    let mut second = restored(&params);
    let rest = go(&mut second, &mut Keeper::default(), Some(resume), None).unwrap();
    assert_eq!(untimed(&rest.report), records[1..]);
    let mut steps = first.steps.clone();
    steps.extend(&second.steps);
    assert_eq!(steps, whole.steps, "same rates and step seeds");

    // Resumed from the end of epoch 3, in phase 2 after a decay.
    let (_, resume, params) = keeper.saved[2].clone();
    assert_eq!(resume.state.phase, 2);
    let mut third = restored(&params);
    let rest = go(&mut third, &mut Keeper::default(), Some(resume), None).unwrap();
    assert_eq!(untimed(&rest.report), records[3..]);
    assert_eq!(third.p, whole.p);
}

/// Under `bptt`, a run interrupted in the middle of an epoch saves the
/// state its streams carry, and the resumed run starts its next step from
/// it: it ends as the uninterrupted run.
#[test]
fn a_carried_state_survives_an_interruption_in_the_middle_of_an_epoch() {
    let carrying = model().carrying();
    let mut whole = Drift::default();
    let full = go_with(&carrying, &mut whole, &mut Keeper::default(), None, None).unwrap();
    let mut first = Drift::default();
    let mut stopper = Keeper {
        stop_after: Some(8),
        ..Keeper::default()
    };
    let cut = go_with(&carrying, &mut first, &mut stopper, None, None).unwrap();
    // Epochs of 4 steps (5 streams of 4 examples of the 23): the 8th look
    // is after the 3rd step of epoch 2.
    assert_eq!(cut.interrupted, Some(Position { epoch: 1, step: 3 }));
    let (_, resume, params) = stopper.saved.last().unwrap().clone();
    assert_eq!(resume.state.carried, vec![vec![first.carry.to_bits()]]);
    assert_ne!(first.carry, 0.0);
    let mut second = restored(&params);
    let rest = go_with(
        &carrying,
        &mut second,
        &mut Keeper::default(),
        Some(resume),
        None,
    )
    .unwrap();
    assert_eq!(untimed(&rest.report), untimed(&full.report)[1..]);
    assert_eq!(second.p, whole.p);
    // Snapshots at epoch ends carry nothing: every stream starts at zero.
    let mut keeper = Keeper::default();
    go_with(&carrying, &mut Drift::default(), &mut keeper, None, None).unwrap();
    assert!(keeper
        .saved
        .iter()
        .all(|(_, r, _)| r.state.carried.is_empty()));
}

#[test]
fn a_stop_after_an_epoch_ends_at_its_snapshot() {
    let mut backend = Drift::default();
    let mut keeper = Keeper {
        stop_after: Some(5),
        ..Keeper::default()
    };
    // The stop is seen after the fifth step, the last of epoch 1.
    let cut = go(&mut backend, &mut keeper, None, None).unwrap();
    assert_eq!(cut.interrupted, Some(Position { epoch: 0, step: 5 }));
    let (_, resume, params) = keeper.saved.last().unwrap().clone();
    let mut rest = restored(&params);
    let outcome = go(&mut rest, &mut Keeper::default(), Some(resume), None).unwrap();
    let mut whole = Drift::default();
    let full = go(&mut whole, &mut Keeper::default(), None, None).unwrap();
    assert_eq!(untimed(&outcome.report), untimed(&full.report));
}

#[test]
fn a_completed_run_resumes_to_nothing_and_another_seed_is_refused() {
    let mut backend = Drift::default();
    let mut keeper = Keeper::default();
    go(&mut backend, &mut keeper, None, None).unwrap();
    let (_, last, params) = keeper.saved.last().unwrap().clone();
    let outcome = go(
        &mut restored(&params),
        &mut Keeper::default(),
        Some(last),
        None,
    )
    .unwrap();
    assert!(outcome.report.epochs.is_empty());

    let (_, first, params) = keeper.saved[0].clone();
    let error = go(
        &mut restored(&params),
        &mut Keeper::default(),
        Some(first),
        Some(12),
    )
    .unwrap_err();
    assert!(matches!(error, TrainError::Resume { .. }), "{error:?}");
    assert!(error.to_string().contains("seed 11"), "{error}");
}

/// A backend whose velocity overflows in the last step of the first epoch,
/// while the step's cost (measured before the update) is still finite.
#[test]
fn a_non_finite_value_is_never_saved() {
    struct Exploding(Drift);
    impl Backend for Exploding {
        fn name(&self) -> &'static str {
            "exploding"
        }
        fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
            self.0.configure(setup)
        }
        fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError> {
            self.0.set_params(params)
        }
        fn params(&self) -> Vec<Tensor> {
            self.0.params()
        }
        fn train_step(&mut self, b: Batch<'_>, lr: f32, s: u64) -> Result<StepStats, BackendError> {
            let stats = self.0.train_step(b, lr, s)?;
            if self.0.steps.len() == 5 {
                self.0.v = f32::INFINITY;
            }
            Ok(stats)
        }
        fn configure_inference(&mut self, _model: &Model) -> Result<(), BackendError> {
            Ok(())
        }

        fn infer(&mut self, _batch: Batch<'_>) -> Result<Inference, BackendError> {
            Err(BackendError::Unsupported {
                what: "inference (a test double)".to_string(),
            })
        }

        fn evaluate(&mut self, b: Batch<'_>) -> Result<EvalStats, BackendError> {
            self.0.evaluate(b)
        }
        fn optimizer_state(&self) -> Vec<Tensor> {
            self.0.optimizer_state()
        }
        fn set_optimizer_state(&mut self, s: Vec<Tensor>) -> Result<(), BackendError> {
            self.0.set_optimizer_state(s)
        }
    }
    let m = model();
    let mut backend = Exploding(Drift::default());
    let mut keeper = Keeper::default();
    let train_data = numbered(23);
    let schedule = Schedule::new(&spec(), Overrides::default());
    let splits = Splits {
        train: &train_data,
        validation: None,
        test: None,
    };
    let result = train_resumable(
        &mut backend,
        &m,
        &schedule,
        splits,
        &Options::default(),
        &mut Silent,
        None,
        &mut keeper,
    );
    // The model has no layers: the tensor is named by its place.
    match result {
        Err(TrainError::Diverged {
            epoch: 1,
            batch: 5,
            tensor: Some(tensor),
            ..
        }) => {
            assert_eq!(tensor, "optimizer state 0");
            assert!(keeper.saved.is_empty());
        }
        other => panic!("expected a divergence after epoch 1, got {other:?}"),
    }
}
