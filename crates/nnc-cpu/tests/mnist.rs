//! A short training run on the shipped MNIST data: the book network W1
//! (`models/mnist_784_30_10.nnet`), one epoch over the first 2,000 training
//! images at its own settings (sgd, eta 0.1, batches of 10, L2), trained by
//! the JIT and by the interpreter from the same initial parameters; both
//! must land in the same accuracy band on 1,000 validation images (both
//! reach 71.3% with these settings; the examples are taken in file order).

use nnc_check::program::{Optimizer, Program};
use nnc_cpu::JitBackend;
use nnc_interp::InterpBackend;
use nnc_lower::backend::{Backend, Batch, EvalStats, TrainSetup};
use nnc_lower::init_params;
use std::path::PathBuf;

fn book_program() -> (Program, PathBuf) {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let source = std::fs::read_to_string(models.join("mnist_784_30_10.nnet")).unwrap();
    let (file, syntax) = nnc_syntax::parse(&source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    (checked.program, models)
}

/// Trains `backend` for one epoch over the first `count` training images
/// (in order) and evaluates it on the first 1,000 validation images.
fn train_and_evaluate(backend: &mut dyn Backend, count: usize) -> EvalStats {
    let (program, models) = book_program();
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

#[test]
fn w1_on_2000_images_reaches_the_interpreters_accuracy() {
    let jit = train_and_evaluate(&mut JitBackend::new(), 2000);
    let interp = train_and_evaluate(&mut InterpBackend::new(), 2000);
    let accuracy = |s: &EvalStats| s.correct / s.count as f64;
    let (aj, ai) = (accuracy(&jit), accuracy(&interp));
    eprintln!("validation accuracy: jit {aj:.3}, interpreter {ai:.3}");
    assert!(ai > 0.65, "the interpreter reached only {ai}");
    assert!((aj - ai).abs() <= 0.01, "jit {aj} vs interpreter {ai}");
    let mean = |s: &EvalStats| s.cost_sum / s.count as f64;
    assert!(
        (mean(&jit) - mean(&interp)).abs() <= 0.01 * mean(&interp),
        "mean validation cost: jit {} vs interpreter {}",
        mean(&jit),
        mean(&interp)
    );
}
