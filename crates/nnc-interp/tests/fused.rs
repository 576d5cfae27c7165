//! Fused graphs (pass `fuse`) run on the interpreter compute what the
//! unfused graphs compute: the cost, the gradients, the new parameters and
//! the new optimizer state of a training step (same inputs, same step
//! seed), and the outputs of inference, agree within 1e-6 relative, for the
//! book's [784, 30, 10], the 784-1024-1024-10 ReLU/softmax network, a
//! dropout model and the convolutional network, under every optimizer.

use nnc_check::program::{Model, Optimizer, Program};
use nnc_interp::Interpreter;
use nnc_ir::rng::Rng;
use nnc_ir::{Graph, InputKind, Op};
use nnc_lower::backend::TrainSetup;
use nnc_lower::{
    compile_inference, compile_inference_fused, compile_training, compile_training_fused,
    init_params,
};
use std::path::PathBuf;

fn program(source: &str) -> Program {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program
}

fn repository_model(path: &str) -> (Model, Optimizer) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut program = program(&std::fs::read_to_string(root.join(path)).unwrap());
    let optimizer = program.trains[0].phases[0].optimizer.clone();
    (program.models.remove(0), optimizer)
}

/// Values for every input of `graph`: the model's initial parameters, and
/// random data, one-hot targets and optimizer state, all from `seed`.
fn bindings(model: &Model, graph: &Graph, seed: u64) -> Vec<(InputKind, Vec<f32>)> {
    let params = init_params(model, seed);
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut bound = Vec::new();
    for (kind, id) in graph.inputs() {
        let shape = graph.shape(id);
        let n: usize = shape.iter().product();
        let values: Vec<f32> = match kind {
            InputKind::Param(k) => params[k].data.clone(),
            InputKind::Target => {
                let width = n / shape[0];
                let mut y = vec![0.0; n];
                for row in 0..shape[0] {
                    y[row * width + rng.below(width)] = 1.0;
                }
                y
            }
            InputKind::LearningRate => vec![0.1],
            // Adam's step count.
            InputKind::State(_) if shape.is_empty() => vec![3.0],
            // Momenta, and Adam's second moments, which are not negative.
            InputKind::State(_) => (0..n).map(|_| (0.01 * rng.normal()).abs() as f32).collect(),
            InputKind::Data(_) | InputKind::Carry(_) => {
                (0..n).map(|_| rng.uniform() as f32).collect()
            }
            InputKind::StepSeed => continue,
        };
        bound.push((kind, values));
    }
    bound
}

/// Runs `graph` on the bindings; the values of its outputs, by name.
fn run(graph: Graph, bound: &[(InputKind, Vec<f32>)], step_seed: u64) -> Vec<(String, Vec<f32>)> {
    let mut interp = Interpreter::<f32>::new(graph).unwrap();
    for (kind, values) in bound {
        interp.set_input(*kind, values).unwrap();
    }
    interp.run(step_seed);
    interp
        .graph()
        .outputs
        .iter()
        .map(|o| {
            let value = interp.value(o.node).iter().copied().collect();
            (o.name.clone(), value)
        })
        .collect()
}

/// Asserts that two runs' outputs agree within 1e-6 relative.
fn assert_same_outputs(what: &str, plain: &[(String, Vec<f32>)], fused: &[(String, Vec<f32>)]) {
    assert_eq!(plain.len(), fused.len(), "{what}");
    for ((name_a, a), (name_b, b)) in plain.iter().zip(fused) {
        assert_eq!(name_a, name_b, "{what}");
        assert_eq!(a.len(), b.len(), "{what} {name_a}");
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            let scale = x.abs().max(y.abs()) as f64;
            let diff = (x as f64 - y as f64).abs();
            assert!(
                diff <= 1e-6 * scale,
                "{what}: {name_a}[{i}] is {x} unfused, {y} fused"
            );
        }
    }
}

/// Compiles the training step with and without fusion and compares one
/// step of each; returns the number of kernels of the fused graph.
fn compare_training(what: &str, model: &Model, optimizer: &Optimizer, batch: usize) -> usize {
    let setup = TrainSetup {
        model,
        optimizer,
        batch_size: batch,
        train_size: 50_000,
        clip: Default::default(),
    };
    let plain = compile_training(&setup, batch, None).unwrap();
    let fused = compile_training_fused(&setup, batch, None).unwrap();
    let kernels = nnc_ir::passes::fuse::kernel_count(&fused);
    assert!(fused.nodes().iter().any(|n| matches!(n.op, Op::Fused(_))));
    let bound = bindings(model, &plain, 7);
    let step_seed = 0xd20b;
    let expected = run(plain, &bound, step_seed);
    let got = run(fused, &bound, step_seed);
    assert_same_outputs(&format!("{what} {optimizer:?}"), &expected, &got);
    kernels
}

fn compare_inference(what: &str, model: &Model, batch: usize) {
    let plain = compile_inference(model, batch, None).unwrap();
    let fused = compile_inference_fused(model, batch, None).unwrap();
    let bound = bindings(model, &plain, 11);
    let expected = run(plain, &bound, 0);
    let got = run(fused, &bound, 0);
    assert_same_outputs(what, &expected, &got);
}

fn all_optimizers() -> Vec<Optimizer> {
    vec![
        Optimizer::Sgd,
        Optimizer::Momentum { mu: 0.9 },
        Optimizer::Nesterov { mu: 0.9 },
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
    ]
}

#[test]
fn book_network_fused_step_matches() {
    let (model, optimizer) = repository_model("models/mnist_784_30_10.nnet");
    assert_eq!(compare_training("784-30-10", &model, &optimizer, 10), 10);
    for optimizer in all_optimizers() {
        compare_training("784-30-10", &model, &optimizer, 10);
    }
    compare_inference("784-30-10", &model, 10);
}

#[test]
fn mlp_1024_fused_step_matches() {
    let (model, optimizer) = repository_model("models/mlp_1024_batch64.nnet");
    assert_eq!(
        compare_training("784-1024-1024-10", &model, &optimizer, 64),
        15
    );
    compare_inference("784-1024-1024-10", &model, 64);
}

#[test]
fn dropout_model_fused_step_matches() {
    let source = "
model small {
  input image: [12]
  layers {
    dense(8, act: relu)
    dropout(0.5)
    dense(6, act: tanh)
    dropout(0.2)
    dense(3, act: softmax)
  }
  cost log_likelihood
  regularize l2(5.0)
  regularize l1(1.0)
}
";
    let model = program(source).models.remove(0);
    for optimizer in all_optimizers() {
        compare_training("dropout", &model, &optimizer, 5);
    }
    compare_inference("dropout", &model, 5);
}

#[test]
fn conv_model_fused_step_matches() {
    let (model, optimizer) = repository_model("models/conv_20_40.nnet");
    compare_training("conv_20_40", &model, &optimizer, 4);
    compare_training("conv_20_40", &model, &Optimizer::Momentum { mu: 0.9 }, 4);
    compare_inference("conv_20_40", &model, 4);
}

#[test]
fn every_repository_model_fused_step_matches() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["models", "tests/fixtures/ok"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "nnet") {
                files.push(path);
            }
        }
    }
    files.sort();
    for path in files {
        let program = program(&std::fs::read_to_string(&path).unwrap());
        for model in &program.models {
            let what = format!("{} {}", path.display(), model.name);
            compare_inference(&what, model, 2);
            if model.cost.is_some() {
                compare_training(&what, model, &Optimizer::Momentum { mu: 0.9 }, 2);
            }
        }
    }
}
