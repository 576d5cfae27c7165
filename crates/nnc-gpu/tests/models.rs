//! Every model of `models/` runs on the wgpu backend: its training step
//! (each phase's optimizer) is emitted, accepted by the device (every
//! shader compiled into a pipeline), and one step on a batch of 2 agrees
//! with the interpreter's (cost to 1e-4 relative, parameters as in
//! `agreement.rs`, evaluation cost to 1e-4 relative). Batches of 2 keep
//! this affordable on lavapipe for the convolutional networks; the
//! accuracy band on real data is `mnist.rs`.

mod support;

use nnc_gpu::GpuBackend;
use nnc_interp::InterpBackend;
use nnc_lower::backend::{Backend, Batch};
use nnc_lower::init_params;
use std::path::PathBuf;
use support::*;

#[test]
fn every_model_steps_on_the_gpu_as_on_the_interpreter() {
    if !have_gpu("every_model_steps_on_the_gpu") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nnet"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{} model files", files.len());
    let mut ran = 0;
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let (ast, syntax) = nnc_syntax::parse(&source);
        assert!(syntax.is_empty(), "{}: {syntax:?}", file.display());
        let checked = nnc_check::check(&ast);
        assert!(!checked.has_errors(), "{}", file.display());
        let program = checked.program;
        // Every graph a train block trains: its model's, or each step's of
        // a game.
        for (model, optimizers) in program
            .trains
            .iter()
            .flat_map(|t| t.trained_graphs(&program))
        {
            let train = program
                .trains
                .iter()
                .find(|t| {
                    t.trained_graphs(&program)
                        .iter()
                        .any(|(m, _)| std::ptr::eq(*m, model))
                })
                .unwrap();
            let width = |id| model.node(id).shape.iter().product::<usize>();
            let inputs: usize = model.inputs.iter().map(|&id| width(id)).sum();
            let outputs = model.outputs.first().map_or(1, |(_, id)| width(*id));
            let params = init_params(model, 3);
            let mut gpu = GpuBackend::new();
            let mut interp = InterpBackend::new();
            for (p, (phase, optimizer)) in train.phases.iter().zip(optimizers).enumerate() {
                let label = format!("{} phase {p}", file.display());
                for backend in [&mut gpu as &mut dyn Backend, &mut interp] {
                    let setup = nnc_lower::backend::TrainSetup {
                        model,
                        optimizer,
                        batch_size: 2,
                        train_size: 1000,
                        clip: Default::default(),
                    };
                    backend
                        .configure(&setup)
                        .unwrap_or_else(|e| panic!("{label}: {} configure: {e}", backend.name()));
                    if p == 0 {
                        backend.set_params(params.clone()).unwrap();
                    }
                }
                let (xs, ys) = examples(2, inputs, outputs, p as u64);
                let b = Batch {
                    inputs: &xs,
                    targets: &ys,
                    len: 2,
                    noise_seed: 0,
                };
                let lr = phase.learning_rate as f32;
                let cg = gpu.train_step(b, lr, 5).unwrap().cost;
                let ci = interp.train_step(b, lr, 5).unwrap().cost;
                assert!(
                    (cg - ci).abs() <= 1e-4 * ci.abs().max(1e-3),
                    "{label}: cost gpu {cg} vs interpreter {ci}"
                );
                // Adam's first step is `lr * g / (|g| + eps)` per element:
                // where a gradient is within a few `eps` (1e-8) of zero, as
                // some of the convolutions' are on two random examples, an
                // absolute rounding difference `e` in it moves the step by
                // up to `lr * e / (4 eps)`. Allow a tenth of `lr` (a wrong
                // update is off by about `lr` or more; `agreement.rs`
                // checks Adam to a thousandth of `lr` on W1).
                let slack = match optimizer {
                    nnc_check::program::Optimizer::Adam { .. } => 0.1 * lr,
                    _ => 0.0,
                };
                for (k, (pg, pi)) in gpu.params().iter().zip(interp.params()).enumerate() {
                    assert_close(&format!("{label} param {k}"), &pg.data, &pi.data, slack);
                }
                let eg = gpu.evaluate(b).unwrap();
                let ei = interp.evaluate(b).unwrap();
                // A saturated output's cost is about e^-|z|: its relative
                // error is the absolute error of z (a long f32 sum, summed
                // in another order on the GPU), up to ~1e-3 for |z| ~ 10.
                let saturated = 2e-3 * ei.cost_sum.abs();
                assert!(
                    (eg.cost_sum - ei.cost_sum).abs()
                        <= 1e-4 * ei.cost_sum.abs().max(1e-3) + saturated,
                    "{label}: evaluation cost gpu {} vs interpreter {}",
                    eg.cost_sum,
                    ei.cost_sum
                );
                ran += 1;
            }
        }
    }
    eprintln!("{ran} phases of {} files ran", files.len());
}
