//! The interpreter backend's side of the `Backend` contract: shorter last
//! batches, target forms, several inputs, optimizer state across phases,
//! determinism, dropout only while training, and errors as values.

mod support;

use nnc_check::program::{Model, Optimizer};
use nnc_interp::InterpBackend;
use nnc_ir::rng::Rng;
use nnc_lower::backend::{Backend, BackendError, Batch, Tensor, TrainSetup};
use nnc_lower::init_params;

fn configured(model: &Model, optimizer: &Optimizer, batch_size: usize) -> InterpBackend {
    let mut backend = InterpBackend::new();
    let setup = TrainSetup {
        model,
        optimizer,
        batch_size,
        train_size: 100,
        clip: Default::default(),
    };
    backend.configure(&setup).unwrap();
    backend.set_params(init_params(model, 3)).unwrap();
    backend
}

fn classifier(extra: &str) -> Model {
    support::model(&format!(
        "model classifier {{
           input x: [3]
           layers {{
             dense(4, act: relu)
             {extra}
             dense(3, act: softmax)
           }}
           cost log_likelihood
         }}"
    ))
}

/// `count` random examples of 3 inputs with one-hot targets of 3 classes;
/// also returns the class indices.
fn examples(count: usize, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let xs = (0..count * 3).map(|_| rng.normal() as f32).collect();
    let mut one_hot = vec![0.0; count * 3];
    let mut index = Vec::new();
    for i in 0..count {
        let class = rng.below(3);
        one_hot[i * 3 + class] = 1.0;
        index.push(class as f32);
    }
    (xs, one_hot, index)
}

#[test]
fn a_shorter_last_batch_takes_the_mean_over_its_examples() {
    let model = classifier("");
    let (xs, ys, _) = examples(3, 1);
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 3,
        noise_seed: 0,
    };
    // A phase of batch size 4 given a batch of 3 ...
    let mut phase4 = configured(&model, &Optimizer::Sgd, 4);
    let cost4 = phase4.train_step(batch, 0.5, 0).unwrap();
    // ... steps exactly as a phase of batch size 3 does.
    let mut phase3 = configured(&model, &Optimizer::Sgd, 3);
    let cost3 = phase3.train_step(batch, 0.5, 0).unwrap();
    assert_eq!(cost4, cost3);
    assert_eq!(phase4.params(), phase3.params());
    assert_ne!(phase4.params(), init_params(&model, 3));
}

#[test]
fn class_index_targets_equal_one_hot_rows() {
    let model = classifier("");
    let (xs, one_hot, index) = examples(5, 2);
    let mut a = configured(&model, &Optimizer::Sgd, 5);
    let mut b = configured(&model, &Optimizer::Sgd, 5);
    let rows = Batch {
        inputs: &xs,
        targets: &one_hot,
        len: 5,
        noise_seed: 0,
    };
    let indices = Batch {
        targets: &index,
        ..rows
    };
    assert_eq!(
        a.train_step(rows, 0.1, 0).unwrap(),
        b.train_step(indices, 0.1, 0).unwrap()
    );
    assert_eq!(a.params(), b.params());
    assert_eq!(a.evaluate(rows).unwrap(), b.evaluate(indices).unwrap());
    let bad = Batch {
        targets: &[0.0, 1.0, 3.0, 2.0, 0.5],
        ..rows
    };
    let error = a.evaluate(bad).unwrap_err();
    assert!(
        matches!(&error, BackendError::Failed { message } if message.contains("not a class index below 3")),
        "{error}"
    );
}

#[test]
fn several_inputs_are_read_one_after_another() {
    let model = support::model(
        "model difference {
           input a: [2]
           input b: [2]
           let d = a - b
           output y = d |> dense(1, init: values([[1.0, 1.0]]), bias_init: zeros)
           cost quadratic
         }",
    );
    let mut backend = configured(&model, &Optimizer::Sgd, 1);
    // a = (3, 4), b = (1, 1): y = 2 + 3 = 5.
    let inputs = [3.0, 4.0, 1.0, 1.0];
    let exact = Batch {
        inputs: &inputs,
        targets: &[5.0],
        len: 1,
        noise_seed: 0,
    };
    assert_eq!(backend.evaluate(exact).unwrap().cost_sum, 0.0);
    let off = Batch {
        targets: &[0.0],
        ..exact
    };
    assert_eq!(backend.evaluate(off).unwrap().cost_sum, 12.5);
}

#[test]
fn optimizer_state_survives_a_phase_change_of_the_same_kind_only() {
    let model = classifier("");
    let (xs, ys, _) = examples(4, 3);
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 4,
        noise_seed: 0,
    };
    let momentum = Optimizer::Momentum { mu: 0.9 };
    let setup = |optimizer, batch_size| TrainSetup {
        model: &model,
        optimizer,
        batch_size,
        train_size: 100,
        clip: Default::default(),
    };
    // Two steps without interruption.
    let mut straight = configured(&model, &momentum, 4);
    straight.train_step(batch, 0.1, 0).unwrap();
    straight.train_step(batch, 0.1, 1).unwrap();
    // The same with a batch-size phase change in between: the velocity stays.
    let mut phased = configured(&model, &momentum, 4);
    phased.train_step(batch, 0.1, 0).unwrap();
    phased.configure(&setup(&momentum, 8)).unwrap();
    phased.train_step(batch, 0.1, 1).unwrap();
    assert_eq!(straight.params(), phased.params());
    // Through another optimizer kind, the velocity restarts at zero: the
    // step is a fresh momentum step from the same parameters.
    let mut switched = configured(&model, &momentum, 4);
    switched.train_step(batch, 0.1, 0).unwrap();
    let after_one = switched.params();
    switched.configure(&setup(&Optimizer::Sgd, 4)).unwrap();
    switched.configure(&setup(&momentum, 4)).unwrap();
    switched.train_step(batch, 0.1, 1).unwrap();
    let mut fresh = configured(&model, &momentum, 4);
    fresh.set_params(after_one).unwrap();
    fresh.train_step(batch, 0.1, 1).unwrap();
    assert_eq!(switched.params(), fresh.params());
    assert_ne!(switched.params(), straight.params());
}

#[test]
fn training_is_deterministic_and_dropout_follows_the_step_seed() {
    let model = classifier("dropout(0.5)");
    let (xs, ys, _) = examples(8, 4);
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 8,
        noise_seed: 0,
    };
    let run = |seeds: &[u64]| {
        let mut backend = configured(&model, &Optimizer::Sgd, 8);
        let costs: Vec<f64> = seeds
            .iter()
            .map(|&s| backend.train_step(batch, 0.1, s).unwrap().cost)
            .collect();
        (costs, backend.params())
    };
    assert_eq!(run(&[1, 2, 3]), run(&[1, 2, 3]));
    assert_ne!(run(&[1, 2, 3]).0, run(&[4, 5, 6]).0);
}

#[test]
fn evaluation_has_no_dropout() {
    let with = classifier("dropout(0.5)");
    let without = classifier("");
    let (xs, ys, _) = examples(6, 5);
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 6,
        noise_seed: 0,
    };
    let mut a = configured(&with, &Optimizer::Sgd, 6);
    let mut b = configured(&without, &Optimizer::Sgd, 6);
    let first = a.evaluate(batch).unwrap();
    assert_eq!(first, a.evaluate(batch).unwrap());
    assert_eq!(first, b.evaluate(batch).unwrap());
    assert_eq!(first.count, 6);
}

#[test]
fn a_diverging_cost_is_reported_as_non_finite() {
    let model = support::model(
        "model regression {
           input x: [1]
           layers { dense(1) }
           cost quadratic
         }",
    );
    let mut backend = configured(&model, &Optimizer::Sgd, 1);
    let batch = Batch {
        inputs: &[100.0],
        targets: &[1.0],
        len: 1,
        noise_seed: 0,
    };
    let outcome = (0..50).try_for_each(|s| backend.train_step(batch, 10.0, s).map(|_| ()));
    assert_eq!(
        outcome,
        Err(BackendError::NonFinite {
            tensor: "cost".to_string()
        })
    );
}

#[test]
fn misuse_is_an_error_value() {
    let model = classifier("");
    let mut backend = InterpBackend::new();
    let (xs, ys, _) = examples(2, 6);
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 2,
        noise_seed: 0,
    };
    assert!(matches!(
        backend.train_step(batch, 0.1, 0),
        Err(BackendError::Failed { .. })
    ));
    let mut backend = configured(&model, &Optimizer::Sgd, 2);
    let wrong = vec![Tensor::zeros(vec![1, 1])];
    assert!(matches!(
        backend.set_params(wrong),
        Err(BackendError::Failed { .. })
    ));
    let short = Batch {
        inputs: &xs[..5],
        ..batch
    };
    let error = backend.train_step(short, 0.1, 0).unwrap_err();
    assert!(
        error.to_string().contains("needs 6 values, it has 5"),
        "{error}"
    );
    assert_eq!(backend.name(), "interp");
}

/// What W0106 warns of: the layers of an output the cost does not reach
/// keep their values through training, while the cost's layers move.
#[test]
fn an_output_without_a_cost_is_not_trained() {
    let model = support::model(
        "model two_heads {
           input x: [3]
           let h = dense(x, 4, act: tanh)
           output y = dense(h, 3, act: softmax)
           output other = dense(h, 2)
           cost log_likelihood(y)
         }",
    );
    let optimizer = Optimizer::Sgd;
    let mut backend = configured(&model, &optimizer, 5);
    let before = backend.params();
    let (xs, ys, _) = examples(5, 4);
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 5,
        noise_seed: 0,
    };
    for seed in 0..3 {
        backend.train_step(batch, 0.5, seed).unwrap();
    }
    let after = backend.params();
    let specs = nnc_lower::param_specs(&model);
    for ((spec, old), new) in specs.iter().zip(&before).zip(&after) {
        let moved = old.data != new.data;
        let reached = !spec.name.starts_with("other.");
        assert_eq!(moved, reached, "{}", spec.name);
    }
}

/// `detach(x)` stops gradients: a training step leaves the layer before it
/// bit for bit unchanged (its only path to the cost runs through the
/// detach) and changes the layer after it; without the detach, both
/// change.
#[test]
fn detach_stops_the_gradient_of_the_layers_before_it() {
    let source = |value: &str| {
        format!(
            "model m {{
               input x: [3]
               let h = dense(x, 4, act: tanh)
               output y = dense({value}, 3, act: softmax)
               cost log_likelihood
             }}"
        )
    };
    let (xs, ys, _) = examples(6, 8);
    for (value, before_moves) in [("detach(h)", false), ("h", true)] {
        let model = support::model(&source(value));
        let mut backend = configured(&model, &Optimizer::Sgd, 6);
        let start = backend.params();
        let batch = Batch {
            inputs: &xs,
            targets: &ys,
            len: 6,
            noise_seed: 0,
        };
        backend.train_step(batch, 0.5, 1).unwrap();
        let end = backend.params();
        // Parameters in order: h's weight and bias, then y's.
        let moved = |k: usize| start[k].data != end[k].data;
        assert_eq!(
            moved(0) || moved(1),
            before_moves,
            "{value}: the layer before"
        );
        assert!(moved(2) && moved(3), "{value}: the layer after");
    }
}
