//! Convolution, pooling and a convolution's bias on the JIT backend
//! against the reference interpreter: small models that exercise each
//! kernel (stride 2, explicit and same padding, ceil rounding, several
//! channels, the three poolings), and the repository's convolutional
//! networks, compared after every training step (costs and all
//! parameters) and on an evaluation.
//!
//! Tolerance: as in `agreement.rs`, `|j - i| <= 1e-4 * (|i| + m / 100)`
//! with `m` the largest magnitude in the tensor.

use nnc_check::program::{Model, Optimizer};
use nnc_cpu::JitBackend;
use nnc_interp::InterpBackend;
use nnc_ir::backend::{Backend, Batch, Tensor, TrainSetup};
use nnc_ir::init_params;
use nnc_ir::rng::Rng;
use std::path::PathBuf;

fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first model of `source`, which must check clean.
fn model(source: &str) -> Model {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "syntax errors: {syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "check errors: {:?}", checked.errors);
    checked.program.models.into_iter().next().unwrap()
}

/// `count` examples of `inputs` values in `[0, 1)` with one-hot targets of
/// `classes` classes.
fn examples(count: usize, inputs: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let xs = (0..count * inputs).map(|_| rng.uniform() as f32).collect();
    let mut ys = vec![0.0; count * classes];
    for i in 0..count {
        ys[i * classes + rng.below(classes)] = 1.0;
    }
    (xs, ys)
}

fn assert_close(label: &str, jit: &[f32], interp: &[f32], extra: f32) {
    assert_eq!(jit.len(), interp.len(), "{label}: lengths");
    let m = interp.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (i, (&j, &r)) in jit.iter().zip(interp).enumerate() {
        let tolerance = 1e-4 * (r.abs() + m / 100.0) + extra;
        assert!(
            (j - r).abs() <= tolerance,
            "{label}[{i}]: jit {j} vs interpreter {r} (tolerance {tolerance})"
        );
    }
}

fn configure(
    backend: &mut dyn Backend,
    model: &Model,
    optimizer: &Optimizer,
    batch_size: usize,
    train_size: usize,
    params: Vec<Tensor>,
) {
    let setup = TrainSetup {
        model,
        optimizer,
        batch_size,
        train_size,
    };
    backend.configure(&setup).unwrap();
    backend.set_params(params).unwrap();
}

/// Runs `steps` steps on both backends (the batch sizes in `sizes`, in
/// turn) and compares the cost of every step and all parameters after
/// every step; then compares an evaluation.
fn agree(model: &Model, optimizer: &Optimizer, batch: usize, sizes: &[usize], steps: usize) {
    agree_within(model, optimizer, batch, sizes, steps, 0.0);
}

/// [`agree`], allowing parameters an extra absolute difference of
/// `slack * learning rate`.
fn agree_within(
    model: &Model,
    optimizer: &Optimizer,
    batch: usize,
    sizes: &[usize],
    steps: usize,
    slack: f32,
) {
    let train_size = 1000;
    let params = init_params(model, 7);
    let mut jit = JitBackend::new();
    let mut interp = InterpBackend::new();
    configure(
        &mut jit,
        model,
        optimizer,
        batch,
        train_size,
        params.clone(),
    );
    configure(&mut interp, model, optimizer, batch, train_size, params);
    let width = |id| model.node(id).shape.iter().product::<usize>();
    let inputs: usize = model.inputs.iter().map(|&id| width(id)).sum();
    let classes = width(model.outputs[0].1);
    for step in 0..steps {
        let len = sizes[step % sizes.len()];
        let (xs, ys) = examples(len, inputs, classes, step as u64 + 11);
        let b = Batch {
            inputs: &xs,
            targets: &ys,
            len,
        };
        let lr = 0.05 + 0.01 * step as f32;
        let cj = jit.train_step(b, lr, step as u64).unwrap().cost;
        let ci = interp.train_step(b, lr, step as u64).unwrap().cost;
        assert!(
            (cj - ci).abs() <= 1e-4 * ci.abs(),
            "step {step}: cost jit {cj} vs interpreter {ci}"
        );
        for (k, (pj, pi)) in jit.params().iter().zip(interp.params()).enumerate() {
            assert_eq!(pj.shape, pi.shape);
            let label = format!("step {step} param {k}");
            assert_close(&label, &pj.data, &pi.data, slack * lr);
        }
    }
    let (xs, ys) = examples(batch, inputs, classes, 99);
    let b = Batch {
        inputs: &xs,
        targets: &ys,
        len: batch,
    };
    let ej = jit.evaluate(b).unwrap();
    let ei = interp.evaluate(b).unwrap();
    assert!(
        (ej.cost_sum - ei.cost_sum).abs() <= 1e-4 * ei.cost_sum.abs(),
        "evaluation cost {} vs {}",
        ej.cost_sum,
        ei.cost_sum
    );
    assert_eq!(ej.correct, ei.correct);
    assert_eq!(ej.count, ei.count);
}

/// A model of one convolutional `body` over a `[channels, 7, 9]` input,
/// flattened into a softmax of 3 classes.
fn small(channels: usize, body: &str) -> Model {
    model(&format!(
        "model s {{
           input x: [{channels}, 7, 9]
           layers {{
             {body}
             flatten
             dense(3, act: softmax)
           }}
           cost log_likelihood
         }}"
    ))
}

#[test]
fn valid_convolution_with_several_channels_agrees() {
    let m = small(3, "conv2d(4, kernel: 3, act: relu)");
    agree(&m, &Optimizer::Sgd, 4, &[4, 3], 3);
}

#[test]
fn strided_convolution_with_uneven_padding_agrees() {
    let m = small(
        2,
        "conv2d(3, kernel: 3, stride: 2, padding: [1, 0, 1, 2], act: relu)",
    );
    agree(&m, &Optimizer::Momentum { mu: 0.9 }, 5, &[5, 2], 3);
}

#[test]
fn same_padding_and_a_wide_kernel_agree() {
    let m = small(1, "conv2d(5, kernel: 5, padding: same, act: tanh)");
    agree(&m, &Optimizer::Sgd, 3, &[3], 3);
    let m = small(2, "conv2d(2, kernel: [3, 5], padding: 2, act: sigmoid)");
    agree(&m, &Optimizer::Sgd, 3, &[3], 3);
}

#[test]
fn max_pooling_agrees_with_overlap_and_ceil_rounding() {
    let m = small(
        2,
        "conv2d(3, kernel: 2, act: relu)\n max_pool(3, stride: 2, round: ceil)",
    );
    agree(&m, &Optimizer::Sgd, 4, &[4], 3);
    // Negative values with padding: the padding is never a candidate.
    let m = small(
        2,
        "conv2d(2, kernel: 2, act: tanh)\n max_pool(2, stride: 2, padding: 1)",
    );
    agree(&m, &Optimizer::Sgd, 4, &[4], 3);
    let m = small(3, "max_pool(2)");
    agree(&m, &Optimizer::Sgd, 4, &[4, 1], 3);
}

#[test]
fn average_pooling_agrees_with_ceil_rounding() {
    let m = small(
        2,
        "conv2d(3, kernel: 2, act: tanh)\n avg_pool(2, stride: 2, round: ceil)",
    );
    agree(&m, &Optimizer::Sgd, 4, &[4], 3);
    let m = small(1, "avg_pool(3, stride: 2, round: ceil)");
    agree(&m, &Optimizer::Sgd, 2, &[2], 3);
}

#[test]
fn l2_pooling_with_padding_agrees() {
    let m = small(
        2,
        "conv2d(3, kernel: 2, act: sigmoid)\n l2_pool(2, stride: 1, padding: 1)",
    );
    agree(&m, &Optimizer::Sgd, 3, &[3], 3);
    let m = small(2, "l2_pool([2,2],stride:[2,2],padding:[0,1,0,1])");
    agree(&m, &Optimizer::Sgd, 3, &[3], 3);
}

#[test]
fn chapter_43_network_agrees() {
    let m = model(&repo_file("models/conv_ch43_3maps.nnet"));
    agree(&m, &Optimizer::Sgd, 10, &[10, 7], 3);
}

#[test]
fn lenet5_agrees() {
    let m = model(&repo_file("models/lenet5.nnet"));
    agree(&m, &Optimizer::Sgd, 4, &[4, 3], 3);
}

#[test]
fn conv_20_40_lowers() {
    let m = model(&repo_file("models/conv_20_40.nnet"));
    agree(&m, &Optimizer::Sgd, 2, &[2], 1);
}

/// Rough step times of conv_20_40 and LeNet-5 (batch 10, the book's) on
/// both backends; run with `cargo test --release -p nnc-cpu --test spatial
/// -- --ignored --nocapture --test-threads 1`.
#[test]
#[ignore]
fn convolutional_step_times() {
    for file in ["models/conv_20_40.nnet", "models/lenet5.nnet"] {
        let m = model(&repo_file(file));
        let batch = 10;
        let params = init_params(&m, 7);
        let (xs, ys) = examples(batch, 784, 10, 1);
        let b = Batch {
            inputs: &xs,
            targets: &ys,
            len: batch,
        };
        let mut jit = JitBackend::new();
        let mut interp = InterpBackend::new();
        for (name, backend) in [
            ("jit", &mut jit as &mut dyn Backend),
            ("interpreter", &mut interp),
        ] {
            let start = std::time::Instant::now();
            configure(backend, &m, &Optimizer::Sgd, batch, 1000, params.clone());
            let setup = start.elapsed();
            backend.train_step(b, 0.1, 0).unwrap();
            let steps = 20;
            let start = std::time::Instant::now();
            for step in 0..steps {
                backend.train_step(b, 0.1, step + 1).unwrap();
            }
            let per_step = start.elapsed() / steps as u32;
            println!("{file} {name}: configure {setup:?}, {per_step:?} per step (batch {batch})");
        }
    }
}
