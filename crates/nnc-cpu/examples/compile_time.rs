//! Times the stages that compile a model's training step for the JIT:
//! `cargo run --release -p nnc-cpu --example compile_time FILE.nnet [BATCH]`
//! prints the time of building and fusing the graph, of lowering it to
//! kernels (memory plan included) and compiling them, with the graph's size.

use nnc_lower::backend::TrainSetup;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "models/mnist_lstm.nnet".into());
    let batch = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let source = std::fs::read_to_string(&path).expect("read the model file");
    let started = Instant::now();
    let (file, _) = nnc_syntax::parse(&source);
    let program = nnc_check::check(&file).program;
    let checked = started.elapsed();
    let train = program.trains.first().expect("a train block");
    let model = program.model(&train.model).expect("its model");
    let setup = TrainSetup {
        model,
        optimizer: &train.phases[0].optimizer,
        batch_size: batch,
        train_size: 50_000,
        clip: train.clip,
    };
    let started = Instant::now();
    let graph = nnc_lower::compile_training_fused(&setup, batch, None).expect("compile");
    let fused = started.elapsed();
    let started = Instant::now();
    let plan = nnc_ir::plan::plan_memory(&graph);
    let planned = started.elapsed();
    drop(plan);
    let started = Instant::now();
    let program = nnc_cpu::lower(&graph).expect("lower");
    let lowered = started.elapsed();
    println!(
        "{path}: {} fused nodes, {} actions",
        graph.len(),
        program.steps().count()
    );
    println!("check             {:8.1} ms", checked.as_secs_f64() * 1e3);
    println!("graph + fuse      {:8.1} ms", fused.as_secs_f64() * 1e3);
    println!("memory plan alone {:8.1} ms", planned.as_secs_f64() * 1e3);
    println!(
        "lower + JIT       {:8.1} ms (plan included)",
        lowered.as_secs_f64() * 1e3
    );
}
