//! Prints the actions the JIT backend lowers a model's training graph to:
//! `cargo run -p nnc-cpu --example describe FILE.nnet [BATCH]`, with the
//! time of each action.

use nnc_check::program::Optimizer;
use nnc_ir::backend::TrainSetup;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "models/mnist_784_30_10.nnet".into());
    let source = std::fs::read_to_string(&path).unwrap();
    let (file, _) = nnc_syntax::parse(&source);
    let program = nnc_check::check(&file).program;
    let model = &program.models[0];
    let batch = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let setup = TrainSetup {
        model,
        optimizer: &Optimizer::Sgd,
        batch_size: batch,
        train_size: 50_000,
    };
    let graph = match nnc_ir::compile_training_fused(&setup, batch, None) {
        Ok(graph) => graph,
        Err(e) => {
            println!("error: {e}");
            return;
        }
    };
    match nnc_cpu::lower(&graph) {
        Ok(mut program) => {
            // Times a few runs (on zero inputs) and prints the fastest
            // time of each action.
            let mut best = vec![f64::INFINITY; program.describe().len()];
            for _ in 0..5 {
                for (b, t) in best.iter_mut().zip(program.run_profiled(0).unwrap()) {
                    *b = b.min(t.as_secs_f64() * 1e3);
                }
            }
            for (line, ms) in program.describe().iter().zip(best) {
                println!("{ms:8.3} ms  {line}");
            }
            let plan = nnc_ir::plan_memory(&graph);
            let (arena, aux) = program.work_elements();
            println!(
                "memory: arena {arena}, auxiliary {aux}, with inputs {} elements; a plan without reuse: {} in the arena",
                program.memory_elements(),
                plan.naive_len()
            );
        }
        Err(e) => println!("error: {e}"),
    }
}
