//! Prints the actions the JIT backend lowers a model's training graph to:
//! `cargo run --release -p nnc-cpu --example describe FILE.nnet [BATCH]
//! [--direct]`, with the best time of each action over a few runs on
//! real-like values, and their sum. `--direct` keeps every convolution a
//! direct kernel (to measure the products' choice).

use nnc_check::program::Optimizer;
use nnc_lower::backend::TrainSetup;

fn main() {
    let direct = std::env::args().any(|a| a == "--direct");
    let mut args = std::env::args().skip(1).filter(|a| a != "--direct");
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
        clip: Default::default(),
    };
    let graph = match nnc_lower::compile_training_fused(&setup, batch, None) {
        Ok(graph) => graph,
        Err(e) => {
            println!("error: {e}");
            return;
        }
    };
    let choices = nnc_cpu::LowerOptions {
        conv_products: !direct,
    };
    match nnc_cpu::lower_with(&graph, choices) {
        Ok(mut program) => {
            // Real-like values, so that comparisons (ReLU, max pooling)
            // are as unpredictable as in training: inputs in [0, 1),
            // parameters the model's initialisation, one-hot targets, a
            // zero learning rate (the parameters stay put).
            let params = nnc_lower::init_params(model, 1);
            let mut seed = 0x2545_f491_4f6c_dd1d_u64;
            let mut uniform = move || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 40) as f32 / (1u64 << 24) as f32
            };
            for k in 0.. {
                let Some(values) = program.input_mut(nnc_ir::InputKind::Data(k)) else {
                    break;
                };
                values.iter_mut().for_each(|v| *v = uniform());
            }
            for (k, p) in params.iter().enumerate() {
                if let Some(values) = program.input_mut(nnc_ir::InputKind::Param(k)) {
                    values.copy_from_slice(&p.data);
                }
            }
            if let Some(targets) = program.input_mut(nnc_ir::InputKind::Target) {
                let classes = targets.len() / batch;
                for (i, t) in targets.iter_mut().enumerate() {
                    *t = if i % classes == (i / classes) % classes {
                        1.0
                    } else {
                        0.0
                    };
                }
            }
            // Times a few runs and prints the fastest time of each action.
            let mut best = vec![f64::INFINITY; program.describe().len()];
            for _ in 0..5 {
                for (b, t) in best.iter_mut().zip(program.run_profiled(0).unwrap()) {
                    *b = b.min(t.as_secs_f64() * 1e3);
                }
            }
            for (line, ms) in program.describe().iter().zip(&best) {
                println!("{ms:8.3} ms  {line}");
            }
            println!("{:8.3} ms  in all", best.iter().sum::<f64>());
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
