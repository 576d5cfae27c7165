//! Test support shared by the agreement suites (`agreement.rs`,
//! `spatial.rs`): building models from source, synthetic batches, and
//! running the JIT and the interpreter side by side.

#![allow(dead_code)]

use nnc_check::program::{Model, Optimizer};
use nnc_cpu::{verify, JitBackend};
use nnc_interp::InterpBackend;
use nnc_ir::rng::Rng;
use nnc_lower::backend::{Backend, Batch, Tensor, TrainSetup};
use nnc_lower::init_params;
use std::path::PathBuf;

pub fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The first model of `source`, which must check clean.
pub fn model(source: &str) -> Model {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "syntax errors: {syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "check errors: {:?}", checked.errors);
    checked.program.models.into_iter().next().unwrap()
}

/// `count` examples of `inputs` values in `[0, 1)` with one-hot targets of
/// `classes` classes.
pub fn examples(count: usize, inputs: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let xs = (0..count * inputs).map(|_| rng.uniform() as f32).collect();
    let mut ys = vec![0.0; count * classes];
    for i in 0..count {
        ys[i * classes + rng.below(classes)] = 1.0;
    }
    (xs, ys)
}

/// Asserts that every JIT value agrees with the interpreter's under the
/// rule `nnc run --verify` uses (`nnc_cpu::verify::within_tolerance`:
/// `1e-4 * (|r| + max |r| / 100)`), plus `extra` absolute.
pub fn assert_close(label: &str, jit: &[f32], interp: &[f32], extra: f32) {
    assert_eq!(jit.len(), interp.len(), "{label}: lengths");
    let scale = verify::tensor_scale(interp);
    for (i, (&j, &r)) in jit.iter().zip(interp).enumerate() {
        let tolerance = verify::tolerance(r, scale) + extra;
        assert!(
            verify::within_tolerance(j, r, scale, extra),
            "{label}[{i}]: jit {j} vs interpreter {r} (tolerance {tolerance})"
        );
    }
}

pub fn configure(
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
        clip: CLIP.with(std::cell::Cell::get),
    };
    backend.configure(&setup).unwrap();
    backend.set_params(params).unwrap();
}

/// Runs `steps` steps on both backends (the batch sizes in `sizes`, in
/// turn) and compares the cost of every step and all parameters after
/// every step; then compares an evaluation.
pub fn agree(model: &Model, optimizer: &Optimizer, batch: usize, sizes: &[usize], steps: usize) {
    agree_within(model, optimizer, batch, sizes, steps, 0.0);
}

/// [`agree`], allowing parameters an extra absolute difference of
/// `slack * learning rate`.
pub fn agree_within(
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
            noise_seed: 0,
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
        // The recurrent state a model that carries it (`bptt`) takes
        // into the next batch.
        let (carried, reference) = (jit.carried(), interp.carried());
        assert_eq!(
            carried.len(),
            reference.len(),
            "step {step}: carried states"
        );
        for (k, (c, r)) in carried.iter().zip(&reference).enumerate() {
            assert_close(&format!("step {step} carried state {k}"), c, r, slack * lr);
        }
    }
    let (xs, ys) = examples(batch, inputs, classes, 99);
    let b = Batch {
        inputs: &xs,
        targets: &ys,
        len: batch,
        noise_seed: 0,
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

thread_local! {
    /// The gradient clipping `configure` sets up (each test runs on a
    /// thread of its own).
    pub static CLIP: std::cell::Cell<nnc_check::program::Clip> =
        std::cell::Cell::new(nnc_check::program::Clip::default());
}

/// Sets the clipping of the backends this test's thread configures.
pub fn with_clip(clip: nnc_check::program::Clip) {
    CLIP.with(|c| c.set(clip));
}

/// A model over sequences `[5, 3]`: `layer`, then a softmax of 4.
pub fn sequence_model(layer: &str) -> Model {
    model(&format!(
        "model seq {{
           input x: [5, 3]
           let h = x |> {layer}
           output y = h |> flatten |> dense(4, act: softmax)
           cost log_likelihood
         }}"
    ))
}

/// The recurrent layers the agreement tests run.
pub const RECURRENT_LAYERS: &[&str] = &[
    "rnn(6)",
    "lstm(5, return: last)",
    "gru(4, layers: 2, bidirectional: true)",
];
