//! Shared by the GPU tests: opening a device, or skipping.
#![allow(dead_code)]

use nnc_gpu::{Gpu, GpuError};

/// Whether the environment demands an adapter (`.ci/run` sets it after
/// installing lavapipe, so that CI cannot skip these tests silently).
pub fn gpu_required() -> bool {
    std::env::var("NNC_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// Opens a device, or prints why `test` is skipped and returns `None`
/// (and fails instead when `NNC_REQUIRE_GPU=1`).
pub fn gpu_or_skip(test: &str) -> Option<Gpu> {
    match Gpu::acquire() {
        Ok(gpu) => Some(gpu),
        Err(error) => {
            skip(test, &error);
            None
        }
    }
}

/// Whether a device can be opened, or prints why `test` is skipped (and
/// fails when `NNC_REQUIRE_GPU=1`).
pub fn have_gpu(test: &str) -> bool {
    gpu_or_skip(test).is_some()
}

fn skip(test: &str, error: &GpuError) {
    assert!(
        !gpu_required(),
        "NNC_REQUIRE_GPU=1 but no GPU device could be opened: {error}"
    );
    // Straight to the process's stderr, past the test harness's capture,
    // so that the skip shows in a passing run.
    let line = format!("SKIPPED {test}: {error}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

use nnc_check::program::{Model, Optimizer};
use nnc_gpu::GpuBackend;
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

/// The tolerance of the agreement suite (see `agreement.rs`): a GPU value
/// `g` agrees with the interpreter's `r` when
/// `|g - r| <= RELATIVE * (|r| + m / 100) + extra`, `m` the largest
/// magnitude in the tensor.
pub const RELATIVE: f32 = 1e-4;

pub fn assert_close(label: &str, gpu: &[f32], interp: &[f32], extra: f32) {
    assert_eq!(gpu.len(), interp.len(), "{label}: lengths");
    let scale = interp.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (i, (&g, &r)) in gpu.iter().zip(interp).enumerate() {
        let tolerance = RELATIVE * (r.abs() + scale / 100.0) + extra;
        assert!(
            (g - r).abs() <= tolerance,
            "{label}[{i}]: gpu {g} vs interpreter {r} (tolerance {tolerance})"
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
    backend
        .configure(&setup)
        .unwrap_or_else(|e| panic!("{} configure: {e}", backend.name()));
    backend.set_params(params).unwrap();
}

/// Runs `steps` steps on the wgpu backend and the interpreter (the batch
/// sizes in `sizes`, in turn) and compares the cost of every step and all
/// parameters after every step; then compares an evaluation. Returns
/// `false` (skipped) when no device can be opened.
pub fn agree_within(
    test: &str,
    model: &Model,
    optimizer: &Optimizer,
    batch: usize,
    sizes: &[usize],
    steps: usize,
    slack: f32,
) -> bool {
    if !have_gpu(test) {
        return false;
    }
    let train_size = 1000;
    let params = init_params(model, 7);
    let mut gpu = GpuBackend::new();
    let mut interp = InterpBackend::new();
    configure(
        &mut gpu,
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
        let cg = gpu.train_step(b, lr, step as u64).unwrap().cost;
        let ci = interp.train_step(b, lr, step as u64).unwrap().cost;
        assert!(
            (cg - ci).abs() <= RELATIVE as f64 * ci.abs(),
            "step {step}: cost gpu {cg} vs interpreter {ci}"
        );
        for (k, (pg, pi)) in gpu.params().iter().zip(interp.params()).enumerate() {
            assert_eq!(pg.shape, pi.shape);
            let label = format!("step {step} param {k}");
            assert_close(&label, &pg.data, &pi.data, slack * lr);
        }
        // The recurrent state a model that carries it (`bptt`) takes
        // into the next batch.
        let (carried, reference) = (gpu.carried(), interp.carried());
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
    let eg = gpu.evaluate(b).unwrap();
    let ei = interp.evaluate(b).unwrap();
    assert!(
        (eg.cost_sum - ei.cost_sum).abs() <= RELATIVE as f64 * ei.cost_sum.abs(),
        "evaluation cost {} vs {}",
        eg.cost_sum,
        ei.cost_sum
    );
    assert_eq!(eg.correct, ei.correct);
    assert_eq!(eg.count, ei.count);
    true
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
