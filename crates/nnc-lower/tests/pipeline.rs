//! The pass pipeline on every model of the repository: each compiles, for
//! training under every optimizer and for inference, and the graph verifies
//! after every pass; plus the pipeline's own errors and guarantees.

use nnc_check::program::{Model, Optimizer, Program};
use nnc_ir::{CompileError, GraphKind, InputKind, Op, OutputKind};
use nnc_lower::backend::TrainSetup;
use nnc_lower::{
    compile_inference, compile_training, param_specs, INFERENCE_PASSES, TRAINING_PASSES,
};
use std::path::PathBuf;

fn program(source: &str) -> Program {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program
}

fn model(source: &str) -> Model {
    program(source).models.remove(0)
}

/// Every `.nnet` file of `models/` and `tests/fixtures/ok/`.
fn repository_programs() -> Vec<(String, Program)> {
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
    assert!(files.len() > 20, "found {} files", files.len());
    files
        .into_iter()
        .map(|path| {
            let source = std::fs::read_to_string(&path).unwrap();
            (path.display().to_string(), program(&source))
        })
        .collect()
}

fn optimizers() -> Vec<Optimizer> {
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
fn every_repository_model_compiles_and_verifies_after_every_pass() {
    let mut graphs = 0;
    for (file, program) in repository_programs() {
        for model in &program.models {
            for pass in INFERENCE_PASSES {
                compile_inference(model, 3, Some(pass)).unwrap_or_else(|e| {
                    panic!("{file} {} inference after {pass}: {e}", model.name)
                });
                graphs += 1;
            }
            if model.cost.is_none() {
                continue;
            }
            for optimizer in optimizers() {
                let setup = TrainSetup {
                    model,
                    optimizer: &optimizer,
                    batch_size: 3,
                    train_size: 1000,
                    clip: Default::default(),
                };
                for pass in TRAINING_PASSES {
                    let graph = compile_training(&setup, 3, Some(pass)).unwrap_or_else(|e| {
                        panic!("{file} {} {optimizer:?} after {pass}: {e}", model.name)
                    });
                    assert_eq!(graph.kind, GraphKind::Training);
                    graphs += 1;
                }
            }
        }
    }
    assert!(graphs > 300, "compiled {graphs} graphs");
}

#[test]
fn a_training_graph_outputs_the_cost_and_every_update() {
    let m = model(
        "model m {
           input x: [4]
           layers { dense(3, act: relu) dense(2, act: softmax) }
           cost log_likelihood
         }",
    );
    let adam = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let setup = TrainSetup {
        model: &m,
        optimizer: &adam,
        batch_size: 5,
        train_size: 10,
        clip: Default::default(),
    };
    let graph = compile_training(&setup, 5, None).unwrap();
    let names: Vec<&str> = graph.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names[0], "cost");
    for k in 0..4 {
        assert!(graph.output_of(OutputKind::NewParam(k)).is_some());
    }
    // m and s per parameter, then the step count.
    for j in 0..9 {
        assert!(
            graph.output_of(OutputKind::NewState(j)).is_some(),
            "state {j}"
        );
    }
    assert_eq!(
        graph.output("new(adam.step)").unwrap().kind,
        OutputKind::NewState(8)
    );
    assert!(graph.input(InputKind::LearningRate).is_some());
    assert_eq!(
        graph.shape(graph.input(InputKind::Data(0)).unwrap()),
        &[5, 4]
    );
    // The cost reads the softmax's operand (the fused, stable form), so the
    // final softmax is dead code in a training graph.
    assert!(graph.nodes().iter().all(|n| n.op != Op::Softmax));
}

#[test]
fn dropout_is_in_training_graphs_only() {
    let m = model(
        "model m {
           input x: [4]
           layers { dense(3, act: relu) dropout(0.5) dense(2, act: softmax) }
           cost log_likelihood
         }",
    );
    let setup = TrainSetup {
        model: &m,
        optimizer: &Optimizer::Sgd,
        batch_size: 2,
        train_size: 10,
        clip: Default::default(),
    };
    let is_mask = |op: &Op| matches!(op, Op::DropoutMask { .. });
    let training = compile_training(&setup, 2, None).unwrap();
    assert_eq!(
        training.nodes().iter().filter(|n| is_mask(&n.op)).count(),
        1
    );
    assert!(training.input(InputKind::StepSeed).is_some());
    let inference = compile_inference(&m, 2, None).unwrap();
    assert!(!inference.nodes().iter().any(|n| is_mask(&n.op)));
    assert!(inference.input(InputKind::StepSeed).is_none());
    assert!(inference.input(InputKind::LearningRate).is_none());
    assert!(inference.output_of(OutputKind::CostSum).is_some());
    assert!(inference.output_of(OutputKind::Correct).is_some());
    assert!(inference.output("prediction(output)").is_some());
}

#[test]
fn a_shared_layer_is_one_parameter_read_twice() {
    let m = model(
        "model tied {
           input a: [5]
           input b: [5]
           layer proj = dense(3, act: tanh)
           output score = (proj(a) * proj(b)) |> dense(1, act: sigmoid)
           cost cross_entropy
         }",
    );
    assert_eq!(param_specs(&m).len(), 4);
    let setup = TrainSetup {
        model: &m,
        optimizer: &Optimizer::Sgd,
        batch_size: 2,
        train_size: 10,
        clip: Default::default(),
    };
    let graph = compile_training(&setup, 2, Some("autodiff")).unwrap();
    let weight = graph.input(InputKind::Param(0)).unwrap();
    let readers = graph
        .nodes()
        .iter()
        .filter(|n| n.inputs.contains(&weight))
        .count();
    assert_eq!(readers, 2, "the shared weight feeds two matmuls");
    let grad = graph.output("grad(proj.weight)").unwrap().node;
    assert_eq!(
        graph.node(grad).op,
        Op::Add,
        "the two contributions are summed"
    );
}

#[test]
fn pipeline_errors_are_values() {
    let with_cost = model("model m { input x: [2] layers { dense(1) } cost quadratic }");
    let setup = TrainSetup {
        model: &with_cost,
        optimizer: &Optimizer::Sgd,
        batch_size: 1,
        train_size: 1,
        clip: Default::default(),
    };
    let error = compile_training(&setup, 1, Some("fusion")).unwrap_err();
    assert_eq!(
        error,
        CompileError::UnknownPass {
            name: "fusion".to_string(),
            known: TRAINING_PASSES.to_vec()
        }
    );
    assert_eq!(
        error.to_string(),
        "unknown pass `fusion`; the passes are: lower, autodiff, update, simplify, dce"
    );
    assert!(matches!(
        compile_inference(&with_cost, 1, Some("autodiff")),
        Err(CompileError::UnknownPass { .. })
    ));
    assert_eq!(
        compile_training(&setup, 0, None),
        Err(CompileError::ZeroBatch)
    );
    let no_cost = model("model m { input x: [2] layers { dense(1) } }");
    let setup = TrainSetup {
        model: &no_cost,
        ..setup
    };
    assert_eq!(
        compile_training(&setup, 1, None),
        Err(CompileError::NoCost {
            model: "m".to_string()
        })
    );
    // Without a cost, inference still counts correct answers.
    let graph = compile_inference(&no_cost, 1, None).unwrap();
    assert!(graph.output_of(OutputKind::CostSum).is_none());
    assert!(graph.output_of(OutputKind::Correct).is_some());
}

#[test]
fn compiling_twice_prints_the_same_text() {
    for (file, program) in repository_programs() {
        for train in &program.trains {
            for (model, optimizers) in train.trained_graphs(&program) {
                let setup = TrainSetup {
                    model,
                    optimizer: optimizers[0],
                    batch_size: train.phases[0].batch_size,
                    train_size: 50_000,
                    clip: Default::default(),
                };
                let a = compile_training(&setup, 7, None).unwrap().to_string();
                let b = compile_training(&setup, 7, None).unwrap().to_string();
                assert_eq!(a, b, "{file}");
            }
        }
    }
}
