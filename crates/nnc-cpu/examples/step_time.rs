//! Times training steps of a model file's first model on random data, on
//! the JIT backend and on the interpreter (sgd, the file's batch size
//! unless given): `cargo run --release -p nnc-cpu --example step_time
//! FILE.nnet [STEPS] [BATCH]`.

use nnc_check::program::Optimizer;
use nnc_cpu::JitBackend;
use nnc_interp::InterpBackend;
use nnc_ir::rng::Rng;
use nnc_lower::backend::{Backend, Batch, TrainSetup};
use nnc_lower::init_params;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "models/mlp_1024_batch64.nnet".into());
    let steps: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let source = std::fs::read_to_string(&path).unwrap();
    let (file, _) = nnc_syntax::parse(&source);
    let program = nnc_check::check(&file).program;
    let model = &program.models[0];
    let batch: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .or_else(|| program.trains.first().map(|t| t.phases[0].batch_size))
        .unwrap_or(64);
    let width = |id| model.node(id).shape.iter().product::<usize>();
    let inputs: usize = model.inputs.iter().map(|&id| width(id)).sum();
    let classes = width(model.outputs[0].1);
    let mut rng = Rng::new(5);
    let xs: Vec<f32> = (0..batch * inputs).map(|_| rng.uniform() as f32).collect();
    let mut ys = vec![0.0; batch * classes];
    for i in 0..batch {
        ys[i * classes + rng.below(classes)] = 1.0;
    }
    let backends: Vec<Box<dyn Backend>> =
        vec![Box::new(JitBackend::new()), Box::new(InterpBackend::new())];
    for mut backend in backends {
        let setup = TrainSetup {
            model,
            optimizer: &Optimizer::Sgd,
            batch_size: batch,
            train_size: 50_000,
            clip: Default::default(),
        };
        let started = Instant::now();
        backend.configure(&setup).unwrap();
        let configure = started.elapsed();
        backend.set_params(init_params(model, 1)).unwrap();
        let b = Batch {
            inputs: &xs,
            targets: &ys,
            len: batch,
            noise_seed: 0,
        };
        backend.train_step(b, 0.01, 0).unwrap();
        let started = Instant::now();
        let mut cost = 0.0;
        for step in 0..steps {
            cost = backend.train_step(b, 0.01, step as u64).unwrap().cost;
        }
        let per_step = started.elapsed().as_secs_f64() / steps as f64;
        println!(
            "{:>6}: configure {:.1} ms, {:.3} ms per step of {batch}, last cost {cost:.5}",
            backend.name(),
            configure.as_secs_f64() * 1e3,
            per_step * 1e3
        );
    }
}
