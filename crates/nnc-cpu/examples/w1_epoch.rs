//! Times one epoch of the book network W1 (`models/mnist_784_30_10.nnet`:
//! 50,000 MNIST images, batches of 10, sgd with L2) on the JIT backend and
//! on the interpreter, from the same initial parameters, and prints both
//! times and validation accuracies. Run in release:
//! `cargo run --release -p nnc-cpu --example w1_epoch [IMAGES]`.

use nnc_check::program::Optimizer;
use nnc_cpu::JitBackend;
use nnc_interp::InterpBackend;
use nnc_lower::backend::{Backend, Batch, EvalStats, TrainSetup};
use nnc_lower::init_params;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let source = std::fs::read_to_string(models.join("mnist_784_30_10.nnet")).unwrap();
    let (file, _) = nnc_syntax::parse(&source);
    let checked = nnc_check::check(&file);
    let program = checked.program;
    let model = &program.models[0];
    let data = nnc_data::load(&program.data[0], &models, Some(model)).unwrap();
    let train = data.train.unwrap();
    let validation = data.validation.unwrap();
    let count = count.min(train.len());
    let backends: Vec<Box<dyn Backend>> =
        vec![Box::new(JitBackend::new()), Box::new(InterpBackend::new())];
    for mut backend in backends {
        let setup = TrainSetup {
            model,
            optimizer: &Optimizer::Sgd,
            batch_size: 10,
            train_size: train.len(),
            clip: Default::default(),
        };
        let started = Instant::now();
        backend.configure(&setup).unwrap();
        let configure = started.elapsed();
        backend.set_params(init_params(model, 1)).unwrap();
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        let indices: Vec<usize> = (0..count).collect();
        let started = Instant::now();
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
        let epoch = started.elapsed();
        let mut stats = EvalStats::default();
        let indices: Vec<usize> = (0..validation.len()).collect();
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
        println!(
            "{:>6}: configure {:.1} ms, epoch of {count} images {:.3} s, validation accuracy {:.2}%",
            backend.name(),
            configure.as_secs_f64() * 1e3,
            epoch.as_secs_f64(),
            100.0 * stats.correct / stats.count as f64
        );
    }
}
