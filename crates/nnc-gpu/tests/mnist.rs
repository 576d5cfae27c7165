//! Short training runs on the shipped MNIST data, trained by the wgpu
//! backend and by the interpreter from the same initial parameters; both
//! must land in the same accuracy band on 1,000 validation images (within
//! one point; both far above chance):
//! - the book network W1 (`models/mnist_784_30_10.nnet`), one epoch over
//!   the first 2,000 training images at its own settings (sgd, eta 0.1,
//!   batches of 10, L2);
//! - the chapter 43 convolutional network (`models/conv_ch43_3maps.nnet`:
//!   3 maps 5x5, max-pool 2, softmax), one epoch over the first 1,000.

mod support;

use nnc_check::program::{Optimizer, Program};
use nnc_gpu::GpuBackend;
use nnc_interp::InterpBackend;
use nnc_lower::backend::{Backend, Batch, EvalStats, TrainSetup};
use nnc_lower::init_params;
use std::path::PathBuf;

fn program(name: &str) -> (Program, PathBuf) {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let source = std::fs::read_to_string(models.join(name)).unwrap();
    let (file, syntax) = nnc_syntax::parse(&source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    (checked.program, models)
}

/// Trains `backend` on model file `name` for one epoch over the first
/// `count` training images (in order, batches of 10, eta 0.1) and
/// evaluates it on the first 1,000 validation images.
fn train_and_evaluate(backend: &mut dyn Backend, name: &str, count: usize) -> EvalStats {
    let (program, models) = program(name);
    let model = &program.models[0];
    let data = nnc_data::load(&program.data[0], &models, Some(model)).unwrap();
    let train = data.train.unwrap();
    let validation = data.validation.unwrap();
    let setup = TrainSetup {
        model,
        optimizer: &Optimizer::Sgd,
        batch_size: 10,
        train_size: train.len(),
        clip: Default::default(),
    };
    backend.configure(&setup).unwrap();
    backend.set_params(init_params(model, 1)).unwrap();
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    let indices: Vec<usize> = (0..count).collect();
    for (step, chunk) in indices.chunks(10).enumerate() {
        train.fill_batch(chunk, &mut xs, &mut ys);
        let batch = Batch {
            inputs: &xs,
            targets: &ys,
            len: chunk.len(),
            noise_seed: 0,
        };
        backend.train_step(batch, 0.1, step as u64).unwrap();
    }
    let mut stats = EvalStats::default();
    let indices: Vec<usize> = (0..1000).collect();
    for chunk in indices.chunks(100) {
        validation.fill_batch(chunk, &mut xs, &mut ys);
        let batch = Batch {
            inputs: &xs,
            targets: &ys,
            len: chunk.len(),
            noise_seed: 0,
        };
        stats.add(backend.evaluate(batch).unwrap());
    }
    stats
}

/// Both backends on `name` and `count` images: validation accuracy within
/// one point of each other and above `floor` for the interpreter.
fn same_band(test: &str, name: &str, count: usize, floor: f64) {
    if !support::have_gpu(test) {
        return;
    }
    let gpu = train_and_evaluate(&mut GpuBackend::new(), name, count);
    let interp = train_and_evaluate(&mut InterpBackend::new(), name, count);
    let accuracy = |s: &EvalStats| s.correct / s.count as f64;
    let (ag, ai) = (accuracy(&gpu), accuracy(&interp));
    eprintln!("{name}: validation accuracy gpu {ag:.3}, interpreter {ai:.3}");
    assert!(ai > floor, "the interpreter reached only {ai}");
    assert!((ag - ai).abs() <= 0.01, "gpu {ag} vs interpreter {ai}");
    let mean = |s: &EvalStats| s.cost_sum / s.count as f64;
    assert!(
        (mean(&gpu) - mean(&interp)).abs() <= 0.01 * mean(&interp),
        "mean validation cost: gpu {} vs interpreter {}",
        mean(&gpu),
        mean(&interp)
    );
}

#[test]
fn w1_on_2000_images_reaches_the_interpreters_accuracy() {
    same_band("w1_on_2000_images", "mnist_784_30_10.nnet", 2000, 0.65);
}

#[test]
fn the_chapter_43_conv_net_on_1000_images_reaches_the_interpreters_accuracy() {
    same_band(
        "conv_ch43_on_1000_images",
        "conv_ch43_3maps.nnet",
        1000,
        0.3,
    );
}
