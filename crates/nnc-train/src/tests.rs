//! The loop's schedule logic, driven through a scripted backend.

use crate::test_support::{model, numbered, phase, spec, Call, Fake};
use crate::*;
use nnc_check::program::{EarlyStop, Metric, PlateauDecay, TrainSpec};
use nnc_diag::Span;
use nnc_lower::backend::BackendError;

/// Records what the observer saw.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
}

impl Observer for Recorder {
    fn epoch_started(&mut self, s: &EpochStart) {
        self.events.push(format!(
            "start {} phase {} changed {} steps {}",
            s.epoch, s.phase, s.phase_changed, s.steps
        ));
    }

    fn step_finished(&mut self, p: &StepProgress) {
        if p.step == p.steps {
            self.events.push(format!(
                "last step {} of epoch {} after {} examples",
                p.step, p.epoch, p.examples_done
            ));
        }
    }

    fn evaluating(&mut self, epoch: usize, split: SplitKind) {
        self.events
            .push(format!("evaluate {} {epoch}", split.name()));
    }

    fn epoch_finished(&mut self, r: &EpochRecord) {
        self.events.push(format!("end {}", r.epoch));
    }
}

fn run(
    backend: &mut Fake,
    spec: &TrainSpec,
    overrides: Overrides,
    options: Options,
    train_count: usize,
) -> Result<TrainReport, TrainError> {
    let train_data = numbered(train_count);
    let validation = numbered(100);
    let splits = Splits {
        train: &train_data,
        validation: Some(&validation),
        test: None,
    };
    let schedule = Schedule::new(spec, overrides);
    train(backend, &model(), &schedule, splits, &options, &mut Silent)
}

fn rates(report: &TrainReport) -> Vec<f64> {
    report.epochs.iter().map(|r| r.learning_rate).collect()
}

#[test]
fn phases_switch_at_their_epochs_and_reconfigure_only_then() {
    let mut s = spec(6);
    s.phases = vec![phase(1, 0.1, 10), phase(3, 0.05, 10), phase(5, 0.05, 25)];
    let mut fake = Fake::new();
    let report = run(&mut fake, &s, Overrides::default(), Options::default(), 95).unwrap();
    let phases: Vec<usize> = report.epochs.iter().map(|r| r.phase).collect();
    assert_eq!(phases, [1, 1, 2, 2, 3, 3]);
    assert_eq!(rates(&report), [0.1, 0.1, 0.05, 0.05, 0.05, 0.05]);
    let sizes: Vec<usize> = report.epochs.iter().map(|r| r.batch_size).collect();
    assert_eq!(sizes, [10, 10, 10, 10, 25, 25]);
    let steps: Vec<usize> = report.epochs.iter().map(|r| r.steps).collect();
    assert_eq!(
        steps,
        [10, 10, 10, 10, 4, 4],
        "95 examples: the last batch is short"
    );
    let configured: Vec<usize> = fake
        .configures()
        .iter()
        .map(|c| match c {
            Call::Configure { batch_size, .. } => *batch_size,
            _ => 0,
        })
        .collect();
    assert_eq!(configured, [10, 10, 25], "one configure per phase");
    // The configure of phase 2 comes right after epoch 2's evaluation.
    let second = fake
        .calls
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, Call::Configure { .. }))
        .nth(1)
        .map(|(i, _)| i)
        .unwrap();
    let steps_before = fake.calls[..second]
        .iter()
        .filter(|c| matches!(c, Call::Step { .. }))
        .count();
    assert_eq!(steps_before, 20);
}

#[test]
fn every_epoch_visits_each_example_once_in_a_new_order() {
    let mut fake = Fake::new();
    let s = spec(3);
    run(&mut fake, &s, Overrides::default(), Options::default(), 95).unwrap();
    let steps = fake.steps();
    assert_eq!(steps.len(), 30);
    let mut orders = Vec::new();
    for epoch in steps.chunks(10) {
        let order: Vec<f32> = epoch
            .iter()
            .flat_map(|(e, _, _)| e.iter().copied())
            .collect();
        assert_eq!(epoch[9].0.len(), 5, "the last batch holds the remainder");
        let mut sorted = order.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, (0..95).map(|i| i as f32).collect::<Vec<_>>());
        orders.push(order);
    }
    assert_ne!(orders[0], orders[1]);
    assert_ne!(orders[1], orders[2]);
}

/// A model that carries recurrent state (`bptt`) trains on streams: 95
/// examples in batches of 10 are 10 streams of 9 consecutive examples
/// (the last 5 left out), batch `i` holding example `i` of each, in the
/// same order every epoch; the state is reset before each epoch and each
/// evaluation, which reads its split in streams too.
#[test]
fn a_model_that_carries_state_trains_and_evaluates_in_streams() {
    let mut fake = Fake::new();
    let s = spec(2);
    let train_data = numbered(95);
    let validation = numbered(100);
    let splits = Splits {
        train: &train_data,
        validation: Some(&validation),
        test: None,
    };
    let schedule = Schedule::new(&s, Overrides::default());
    let carrying = model().carrying();
    let report = train(
        &mut fake,
        &carrying,
        &schedule,
        splits,
        &Options::default(),
        &mut Silent,
    )
    .unwrap();
    let steps = fake.steps();
    assert_eq!(steps.len(), 18);
    for (i, (examples, _, _)) in steps.iter().enumerate() {
        let expected: Vec<f32> = (0..10).map(|s| (s * 9 + i % 9) as f32).collect();
        assert_eq!(*examples, expected.as_slice(), "step {i}");
    }
    assert_eq!(report.epochs[0].examples, 90);
    assert_eq!(report.epochs[0].steps, 9);
    // Reset, 9 steps, reset, the validation split's 10 batches; twice.
    let mut shape: Vec<&str> = Vec::new();
    for call in &fake.calls {
        let what = match call {
            Call::ResetCarry => "reset",
            Call::Step { .. } => "step",
            Call::Evaluate { .. } => "evaluate",
            Call::Configure { .. } => continue,
        };
        if shape.last() != Some(&what) || what == "reset" {
            shape.push(what);
        }
    }
    assert_eq!(
        shape,
        ["reset", "step", "reset", "evaluate", "reset", "step", "reset", "evaluate"]
    );
    // The evaluation batch is the training batch: 10 streams of 10.
    assert_eq!(fake.evaluated.len(), 20);
    let expected: Vec<f32> = (0..10).map(|s| (s * 10 + 1) as f32).collect();
    assert_eq!(fake.evaluated[1], expected);
}

#[test]
fn same_seed_same_run_other_seed_other_order() {
    let s = spec(2);
    let mut a = Fake::new();
    let mut b = Fake::new();
    let mut c = Fake::new();
    let ra = run(&mut a, &s, Overrides::default(), Options::default(), 50).unwrap();
    let rb = run(&mut b, &s, Overrides::default(), Options::default(), 50).unwrap();
    let other = Overrides {
        epochs: None,
        seed: Some(1),
        keep_best: None,
    };
    run(&mut c, &s, other, Options::default(), 50).unwrap();
    assert_eq!(a.calls, b.calls);
    let strip = |r: &TrainReport| -> Vec<EpochRecord> {
        r.epochs.iter().map(EpochRecord::without_timings).collect()
    };
    assert_eq!(strip(&ra), strip(&rb));
    assert_ne!(a.steps(), c.steps());
}

fn with_decay(epochs: usize, patience: usize, stop_below: Option<f64>) -> TrainSpec {
    let mut s = spec(epochs);
    s.decay = Some(PlateauDecay {
        metric: Metric::VALIDATION_ACCURACY,
        factor: 0.5,
        patience,
        stop_below,
        span: Span::default(),
    });
    s
}

#[test]
fn plateau_decay_halves_at_the_right_epoch_and_then_stops() {
    // Validation accuracy: 0.5, 0.6, then flat at 0.6.
    let accuracy = |epoch: usize| if epoch == 1 { 0.5 } else { 0.6 };
    let mut fake = Fake::new();
    fake.accuracy = Box::new(accuracy);
    let s = with_decay(20, 2, Some(0.25));
    let report = run(&mut fake, &s, Overrides::default(), Options::default(), 20).unwrap();
    // Stale after epochs 3, 4 -> halve after 4; after 6 -> 0.025 (0.25x,
    // not below); after 8 -> 0.125x: stop.
    assert_eq!(
        rates(&report),
        [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    );
    let decayed: Vec<usize> = report
        .epochs
        .iter()
        .filter(|r| r.decayed)
        .map(|r| r.epoch)
        .collect();
    assert_eq!(decayed, [4, 6, 8]);
    assert_eq!(
        report.stop,
        Some(Stop::LearningRateFloor {
            multiplier: 0.125,
            stop_below: 0.25
        })
    );
    assert_eq!(report.last().unwrap().stop, report.stop);
    let seen: Vec<f32> = fake.steps().iter().map(|(_, lr, _)| *lr).collect();
    assert_eq!(
        seen[seen.len() - 1],
        0.025,
        "the backend got the decayed rate"
    );
}

#[test]
fn decay_scales_the_rate_of_later_phases() {
    let accuracy = |epoch: usize| if epoch == 1 { 0.5 } else { 0.4 };
    let mut fake = Fake::new();
    fake.accuracy = Box::new(accuracy);
    let mut s = with_decay(4, 1, None);
    s.phases.push(phase(3, 1.0, 10));
    let report = run(&mut fake, &s, Overrides::default(), Options::default(), 20).unwrap();
    // Decays after epochs 2 and 3: phase 2 runs at 1.0 x 0.5, then x 0.25.
    assert_eq!(rates(&report), [0.1, 0.1, 0.5, 0.25]);
    assert_eq!(report.stop, None);
}

#[test]
fn restore_best_puts_back_the_best_epochs_parameters_when_stopping() {
    let accuracy = |epoch: usize| [0.5, 0.7, 0.6, 0.7, 0.6, 0.9, 0.9][epoch - 1];
    let early = |restore_best| EarlyStop {
        metric: Metric::VALIDATION_ACCURACY,
        patience: 3,
        restore_best,
        span: Span::default(),
    };
    let mut s = spec(7);
    s.early_stop = Some(early(true));
    let mut fake = Fake::new();
    fake.accuracy = Box::new(accuracy);
    let report = run(&mut fake, &s, Overrides::default(), Options::default(), 20).unwrap();
    // Best at epoch 2 (0.7; the 0.7 of epoch 4 is no improvement), stopped
    // after epoch 5: the parameters of epoch 2 come back.
    assert_eq!(report.epochs.len(), 5);
    assert_eq!(fake.restored, Some(2.0));
    let restored: Vec<Option<usize>> = report.epochs.iter().map(|r| r.restored).collect();
    assert_eq!(restored, [None, None, None, None, Some(2)]);

    // Without `restore_best`, and when the run does not stop early, the
    // last parameters stay.
    s.early_stop = Some(early(false));
    let mut fake = Fake::new();
    fake.accuracy = Box::new(accuracy);
    run(&mut fake, &s, Overrides::default(), Options::default(), 20).unwrap();
    assert_eq!(fake.restored, None);
    s.early_stop = Some(early(true));
    s.epochs = 4;
    let mut fake = Fake::new();
    fake.accuracy = Box::new(accuracy);
    let report = run(&mut fake, &s, Overrides::default(), Options::default(), 20).unwrap();
    assert_eq!((report.stop, fake.restored), (None, None));
}

#[test]
fn early_stop_ends_the_run_after_patience_epochs_without_improvement() {
    let accuracy = |epoch: usize| [0.5, 0.7, 0.6, 0.7, 0.6, 0.9, 0.9][epoch - 1];
    let mut fake = Fake::new();
    fake.accuracy = Box::new(accuracy);
    let mut s = spec(7);
    s.early_stop = Some(EarlyStop {
        metric: Metric::VALIDATION_ACCURACY,
        patience: 3,
        restore_best: false,
        span: Span::default(),
    });
    let report = run(&mut fake, &s, Overrides::default(), Options::default(), 20).unwrap();
    assert_eq!(report.epochs.len(), 5);
    assert_eq!(
        report.stop,
        Some(Stop::EarlyStop {
            metric: Metric::VALIDATION_ACCURACY,
            patience: 3
        })
    );
    let accuracies: Vec<f64> = report
        .epochs
        .iter()
        .map(|r| r.validation.as_ref().unwrap().accuracy)
        .collect();
    assert_eq!(accuracies, [0.5, 0.7, 0.6, 0.7, 0.6]);
}

#[test]
fn a_nan_cost_names_the_epoch_and_the_batch() {
    let mut fake = Fake::new();
    // 5 steps per epoch; global step 7 is epoch 2, batch 3.
    fake.step_cost = Box::new(|step| if step == 7 { f64::NAN } else { 1.0 });
    let s = spec(3);
    let error = run(&mut fake, &s, Overrides::default(), Options::default(), 50).unwrap_err();
    assert!(matches!(
        error,
        TrainError::Diverged {
            epoch: 2,
            batch: 3,
            batches: 5,
            ..
        }
    ));
    let message = error.to_string();
    assert!(message.contains("epoch 2, batch 3 of 5"), "{message}");
    assert!(message.contains("NaN"), "{message}");
    assert!(message.contains("lower learning rate"), "{message}");
    assert_eq!(fake.steps().len(), 8, "no step after the broken one");
}

#[test]
fn a_non_finite_tensor_from_the_backend_is_divergence_too() {
    let mut fake = Fake::new();
    fake.fail_step = Some((
        0,
        BackendError::NonFinite {
            tensor: "dense_1.weight".into(),
        },
    ));
    let error = run(
        &mut fake,
        &spec(1),
        Overrides::default(),
        Options::default(),
        50,
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("`dense_1.weight`"), "{message}");
    assert!(message.contains("epoch 1, batch 1 of 5"), "{message}");
    let other = BackendError::Failed {
        message: "out of memory".into(),
    };
    fake = Fake::new();
    fake.fail_step = Some((2, other));
    let error = run(
        &mut fake,
        &spec(1),
        Overrides::default(),
        Options::default(),
        50,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "training step failed at epoch 1, batch 3: out of memory"
    );
}

#[test]
fn train_limit_uses_the_first_examples_and_sets_n() {
    let mut fake = Fake::new();
    let options = Options {
        train_limit: Some(30),
        eval_batch_size: Some(40),
        eval_limit: None,
        skip_evaluation: false,
    };
    let report = run(&mut fake, &spec(2), Overrides::default(), options, 95).unwrap();
    assert_eq!(report.epochs[0].examples, 30);
    assert_eq!(
        fake.configures()[0],
        &Call::Configure {
            batch_size: 10,
            train_size: 30
        }
    );
    let max = fake
        .steps()
        .iter()
        .flat_map(|(e, _, _)| e.iter().copied())
        .fold(0.0f32, f32::max);
    assert_eq!(max, 29.0);
    let evals: Vec<usize> = fake
        .calls
        .iter()
        .filter_map(|c| match c {
            Call::Evaluate { len } => Some(*len),
            _ => None,
        })
        .collect();
    assert_eq!(
        evals,
        [40, 40, 20, 40, 40, 20],
        "validation whole, 40 at a time"
    );
    let zero = Options {
        train_limit: Some(0),
        ..Options::default()
    };
    assert_eq!(
        run(&mut Fake::new(), &spec(1), Overrides::default(), zero, 95),
        Err(TrainError::NoTrainingExamples)
    );
}

#[test]
fn epochs_override_truncates_and_the_observer_sees_each_stage() {
    let mut s = spec(10);
    s.metrics = vec![Metric::TRAIN_ACCURACY, Metric::VALIDATION_ACCURACY];
    let train_data = numbered(20);
    let validation = numbered(10);
    let test = numbered(10);
    let splits = Splits {
        train: &train_data,
        validation: Some(&validation),
        test: Some(&test),
    };
    let schedule = Schedule::new(
        &s,
        Overrides {
            epochs: Some(2),
            seed: None,
            keep_best: None,
        },
    );
    let mut recorder = Recorder::default();
    let report = train(
        &mut Fake::new(),
        &model(),
        &schedule,
        splits,
        &Options::default(),
        &mut recorder,
    )
    .unwrap();
    assert_eq!(report.epochs.len(), 2);
    assert_eq!(report.stop, None);
    assert!(
        report.epochs[0].train.is_some(),
        "train accuracy was asked for"
    );
    assert_eq!(
        recorder.events,
        [
            "start 1 phase 1 changed true steps 2",
            "last step 2 of epoch 1 after 20 examples",
            "evaluate train 1",
            "evaluate validation 1",
            "evaluate test 1",
            "end 1",
            "start 2 phase 1 changed false steps 2",
            "last step 2 of epoch 2 after 20 examples",
            "evaluate train 2",
            "evaluate validation 2",
            "evaluate test 2",
            "end 2",
        ]
    );
}

#[test]
fn train_cost_is_the_mean_over_examples_of_the_step_costs() {
    let mut fake = Fake::new();
    // Steps of 10, 10 and 5 examples with costs 1, 2 and 4.
    fake.step_cost = Box::new(|step| [1.0, 2.0, 4.0][step % 3]);
    let report = run(
        &mut fake,
        &spec(1),
        Overrides::default(),
        Options::default(),
        25,
    )
    .unwrap();
    assert_eq!(report.epochs[0].train_cost, (10.0 + 20.0 + 20.0) / 25.0);
    assert!(report.epochs[0].train.is_none(), "not asked for");
    let validation = report.epochs[0].validation.clone().unwrap();
    assert_eq!(validation.accuracy, 0.5);
    assert_eq!(validation.count, 100);
}

#[test]
fn eval_limit_measures_the_first_examples_of_validation_and_test() {
    let mut fake = Fake::new();
    let options = Options {
        eval_limit: Some(30),
        eval_batch_size: Some(20),
        ..Options::default()
    };
    let report = run(&mut fake, &spec(1), Overrides::default(), options, 50).unwrap();
    assert_eq!(report.epochs[0].validation.as_ref().unwrap().count, 30);
    assert!(fake
        .calls
        .ends_with(&[Call::Evaluate { len: 20 }, Call::Evaluate { len: 10 }]));
}

#[test]
fn skip_evaluation_trains_every_epoch_and_measures_nothing() {
    let mut s = spec(2);
    s.metrics = vec![Metric::TRAIN_ACCURACY, Metric::VALIDATION_ACCURACY];
    let mut fake = Fake::new();
    let options = Options {
        skip_evaluation: true,
        ..Options::default()
    };
    let report = run(&mut fake, &s, Overrides::default(), options, 25).unwrap();
    assert_eq!(report.epochs.len(), 2);
    assert!(report
        .epochs
        .iter()
        .all(|r| r.train.is_none() && r.validation.is_none() && r.test.is_none()));
    assert!(
        !fake
            .calls
            .iter()
            .any(|c| matches!(c, Call::Evaluate { .. })),
        "no evaluation call: {:?}",
        fake.calls
    );
    assert_eq!(
        fake.steps().len(),
        6,
        "three steps of 10, 10 and 5 per epoch"
    );
}
