//! The `fuse` pass: the kernels it forms on the repository's models (their
//! number and kinds), that it is a regrouping (every op of the unfused
//! graph appears once in some kernel body, with its attributes), that the
//! fused graphs verify under every optimizer, the verifier's checks of
//! fused nodes, and a snapshot of the text form. The values fused graphs
//! compute are compared with the unfused ones in `nnc-interp`'s tests.

use nnc_check::program::{Model, Optimizer, Program};
use nnc_ir::passes::fuse::{fuse, kernel_count};
use nnc_ir::{
    verify, Arg, CompileError, FusedKernel, FusedOp, Graph, KernelKind, Node, Op, VerifyError,
};
use nnc_lower::backend::TrainSetup;
use nnc_lower::{
    compile_inference, compile_inference_fused, compile_training, compile_training_fused,
    JIT_TRAINING_PASSES,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn program(source: &str) -> Program {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program
}

fn repository_file(path: &str) -> Program {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    program(&std::fs::read_to_string(root.join(path)).unwrap())
}

/// The model of a repository file and the optimizer of its first phase.
fn model_and_optimizer(path: &str) -> (Model, Optimizer) {
    let mut program = repository_file(path);
    let optimizer = program.trains[0].phases[0].optimizer.clone();
    (program.models.remove(0), optimizer)
}

fn training(model: &Model, optimizer: &Optimizer, batch: usize) -> (Graph, Graph) {
    let setup = TrainSetup {
        model,
        optimizer,
        batch_size: batch,
        train_size: 50_000,
        clip: Default::default(),
    };
    let plain = compile_training(&setup, batch, None).unwrap();
    let fused = compile_training_fused(&setup, batch, None).unwrap();
    (plain, fused)
}

fn kernels(graph: &Graph) -> Vec<&FusedKernel> {
    graph
        .nodes()
        .iter()
        .filter_map(|n| match &n.op {
            Op::Fused(kernel) => Some(kernel.as_ref()),
            _ => None,
        })
        .collect()
}

fn kinds(graph: &Graph) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for kernel in kernels(graph) {
        *kinds.entry(kernel.kind.to_string()).or_insert(0) += 1;
    }
    kinds
}

/// Every op of `plain` but inputs appears in a kernel body of `fused`
/// (constants and input-only scalars may appear in several), and the
/// bodies hold nothing else: the multisets of `(op, shape, name)` agree
/// once repeated copies are set aside.
fn assert_regrouping(plain: &Graph, fused: &Graph) {
    let key = |op: &Op, shape: &[usize], name: &str| format!("{op:?} {shape:?} {name}");
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for node in plain.nodes() {
        if !matches!(node.op, Op::Input { .. }) {
            *expected
                .entry(key(&node.op, &node.shape, &node.name))
                .or_insert(0) += 1;
        }
    }
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for kernel in kernels(fused) {
        for micro in &kernel.body {
            *found
                .entry(key(&micro.op, &micro.shape, &micro.name))
                .or_insert(0) += 1;
        }
    }
    for (op, &count) in &expected {
        let got = found.get(op).copied().unwrap_or(0);
        assert!(
            got >= count,
            "{op}: {count} in the plain graph, {got} fused"
        );
    }
    for (op, &count) in &found {
        let want = expected.get(op).copied().unwrap_or(0);
        assert!(want > 0, "{op} is in a kernel but not in the plain graph");
        if count > want {
            // Only copies of constants and input-only scalars repeat.
            assert!(
                op.contains("[] ") || op.starts_with("Fill"),
                "{op} appears {count} times in kernels, {want} in the plain graph"
            );
        }
    }
    assert_eq!(plain.outputs.len(), fused.outputs.len());
    for (a, b) in plain.outputs.iter().zip(&fused.outputs) {
        assert_eq!((&a.name, a.kind), (&b.name, b.kind));
        assert_eq!(plain.shape(a.node), fused.shape(b.node), "{}", a.name);
    }
}

#[test]
fn book_network_training_step_is_ten_kernels() {
    let (model, optimizer) = model_and_optimizer("models/mnist_784_30_10.nnet");
    let (plain, fused) = training(&model, &optimizer, 10);
    assert_regrouping(&plain, &fused);
    // Forward: two matmul+epilogue kernels (the second layer's activation
    // included). Cost: the cross-entropy, its sum, mean and gradient, the
    // sigmoid's derivative and the output bias gradient. Backward: the
    // hidden gradient with the sigmoid's derivative and the hidden bias
    // gradient, and the two weight gradients. Update: one per parameter.
    assert_eq!(kernel_count(&fused), 10, "{fused}");
    let expected: BTreeMap<String, usize> = [
        ("cost".to_string(), 1),
        ("matmul+epilogue".to_string(), 5),
        ("update".to_string(), 4),
    ]
    .into_iter()
    .collect();
    assert_eq!(kinds(&fused), expected, "{fused}");
    // From 30 ops.
    assert_eq!(kernel_count(&plain), 30, "{plain}");
}

#[test]
fn mlp_1024_training_step_kernels() {
    let (model, optimizer) = model_and_optimizer("models/mlp_1024_batch64.nnet");
    let (plain, fused) = training(&model, &optimizer, 64);
    assert_regrouping(&plain, &fused);
    // Three layers forward, one cost kernel, two backward products with
    // the ReLU derivative (and bias gradient), three weight gradients, six
    // updates.
    assert_eq!(kernel_count(&fused), 15, "{fused}");
    assert_eq!(kinds(&fused).get("update"), Some(&6));
    assert_eq!(kinds(&fused).get("cost"), Some(&1));
    assert_eq!(kinds(&fused).get("matmul+epilogue"), Some(&8));
}

#[test]
fn conv_model_fuses_bias_activation_and_pooling_with_the_convolution() {
    let (model, optimizer) = model_and_optimizer("models/conv_20_40.nnet");
    let (plain, fused) = training(&model, &optimizer, 10);
    assert_regrouping(&plain, &fused);
    let mnemonics =
        |k: &FusedKernel| -> Vec<&'static str> { k.body.iter().map(|m| m.op.mnemonic()).collect() };
    let (mut forward, mut backward) = (0, 0);
    for kernel in kernels(&fused) {
        let ops = mnemonics(kernel);
        match kernel.body[0].op {
            // conv + bias + ReLU + max pool: one kernel, the pooling last.
            Op::Conv2d { .. } => {
                assert_eq!(kernel.kind, KernelKind::ConvEpilogue);
                assert_eq!(ops, ["conv2d", "bias_add", "relu", "max_pool"]);
                forward += 1;
            }
            // The pooling's gradient, ReLU's derivative and the bias
            // gradient's sum.
            Op::PoolGrad(_) => {
                assert_eq!(kernel.kind, KernelKind::PoolGradEpilogue);
                assert_eq!(ops, ["max_pool_grad", "relu_grad", "sum"]);
                backward += 1;
            }
            // A convolution's gradients stay alone; nothing else holds a
            // convolution or a pooling.
            _ => {
                let heavy = kernel
                    .body
                    .iter()
                    .any(|m| matches!(m.op, Op::Conv2d { .. } | Op::Pool(_) | Op::PoolGrad(_)));
                assert!(!heavy, "{fused}");
                if matches!(
                    kernel.body[0].op,
                    Op::Conv2dInputGrad { .. } | Op::Conv2dWeightGrad { .. }
                ) {
                    assert_eq!(kernel.kind, KernelKind::Single);
                    assert_eq!(kernel.body.len(), 1);
                }
            }
        }
    }
    assert_eq!((forward, backward), (2, 2), "{fused}");
    assert!(kernel_count(&fused) < kernel_count(&plain) / 2, "{fused}");
}

/// A pooling of a graph input has no convolution to join: it stays a
/// kernel of its own, and the graph is still a valid regrouping.
#[test]
fn poolings_without_a_convolution_stay_alone() {
    let program = program(
        "model p {
           input x: [2, 8, 8]
           layers {
             max_pool(2) -> [2, 4, 4]
             conv2d(3, kernel: 3, act: relu) -> [3, 2, 2]
             flatten
             dense(2, act: softmax)
           }
           cost log_likelihood
         }",
    );
    let model = &program.models[0];
    let (plain, fused) = training(model, &Optimizer::Sgd, 4);
    assert_regrouping(&plain, &fused);
    for kernel in kernels(&fused) {
        if matches!(kernel.body[0].op, Op::Pool(_)) {
            assert_eq!(kernel.kind, KernelKind::Single, "{fused}");
            assert_eq!(kernel.body.len(), 1, "{fused}");
        }
    }
}

#[test]
fn every_optimizer_and_inference_fuses_and_verifies() {
    let optimizers = [
        Optimizer::Sgd,
        Optimizer::Momentum { mu: 0.9 },
        Optimizer::Nesterov { mu: 0.9 },
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
    ];
    for path in [
        "models/mnist_784_30_10.nnet",
        "models/mlp_1024_batch64.nnet",
        "models/conv_20_40.nnet",
        "models/dogs_vs_cats.nnet",
        "models/lenet5.nnet",
        "models/xor_2_2_1.nnet",
    ] {
        let (model, _) = model_and_optimizer(path);
        for optimizer in &optimizers {
            let (plain, fused) = training(&model, optimizer, 3);
            assert_regrouping(&plain, &fused);
            // One update kernel per parameter (and Adam's step count).
            let updates = kernels(&fused)
                .iter()
                .filter(|k| k.kind == KernelKind::Update)
                .count();
            let adam = usize::from(matches!(optimizer, Optimizer::Adam { .. }));
            let params = nnc_lower::param_specs(&model).len();
            assert_eq!(updates, params + adam, "{path} {optimizer:?}");
        }
        let plain = compile_inference(&model, 3, None).unwrap();
        let fused = compile_inference_fused(&model, 3, None).unwrap();
        assert_regrouping(&plain, &fused);
        assert_eq!(fuse(&fused), fused, "fusing twice changes nothing");
    }
}

#[test]
fn every_repository_model_fuses_into_a_valid_regrouping() {
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
    let mut graphs = 0;
    for path in files {
        let program = program(&std::fs::read_to_string(&path).unwrap());
        for model in &program.models {
            let plain = compile_inference(model, 2, None).unwrap();
            // `compile_inference_fused` verifies the fused graph.
            let fused = compile_inference_fused(model, 2, None)
                .unwrap_or_else(|e| panic!("{} {}: {e}", path.display(), model.name));
            assert_regrouping(&plain, &fused);
            graphs += 1;
            if model.cost.is_none() {
                continue;
            }
            for optimizer in [Optimizer::Sgd, Optimizer::Nesterov { mu: 0.5 }] {
                let (plain, fused) = training(model, &optimizer, 2);
                assert_regrouping(&plain, &fused);
                assert!(kernel_count(&fused) <= kernel_count(&plain));
                graphs += 1;
            }
        }
    }
    assert!(graphs > 50, "{graphs} graphs");
}

#[test]
fn stopping_before_fuse_gives_the_unfused_graph() {
    let (model, optimizer) = model_and_optimizer("models/xor_2_2_1.nnet");
    let setup = TrainSetup {
        model: &model,
        optimizer: &optimizer,
        batch_size: 4,
        train_size: 4,
        clip: Default::default(),
    };
    for pass in &JIT_TRAINING_PASSES[..5] {
        assert_eq!(
            compile_training_fused(&setup, 4, Some(pass)).unwrap(),
            compile_training(&setup, 4, Some(pass)).unwrap()
        );
    }
    assert!(matches!(
        compile_training(&setup, 4, Some("fuse")),
        Err(CompileError::UnknownPass { .. })
    ));
    assert!(matches!(
        compile_training_fused(&setup, 4, Some("fusion")),
        Err(CompileError::UnknownPass { .. })
    ));
}

/// A graph of one input and one fused kernel `sigmoid(x) + x` yielding its
/// sum and the sigmoid, and a kernel output node reading the sigmoid.
fn small_fused(body: Vec<FusedOp>, outputs: Vec<usize>, output_shape: Vec<usize>) -> Graph {
    let mut graph = Graph::new(nnc_ir::GraphKind::Inference, 2);
    let x = graph
        .add(
            Op::Input {
                kind: nnc_ir::InputKind::Data(0),
                shape: vec![2, 3],
            },
            vec![],
            "x",
        )
        .unwrap();
    let kernel = graph.push_unchecked(Node {
        op: Op::Fused(Box::new(FusedKernel {
            kind: KernelKind::Elementwise,
            body,
            outputs,
        })),
        inputs: vec![x],
        shape: vec![2, 3],
        name: "k".into(),
    });
    graph.push_unchecked(Node {
        op: Op::KernelOutput {
            index: 1,
            shape: output_shape.clone(),
        },
        inputs: vec![kernel],
        shape: output_shape,
        name: "k.1".into(),
    });
    graph
}

fn micro(op: Op, args: Vec<Arg>, shape: Vec<usize>) -> FusedOp {
    FusedOp {
        op,
        args,
        shape,
        name: "m".into(),
    }
}

#[test]
fn verifier_checks_fused_kernels() {
    let good = vec![
        micro(Op::Sigmoid, vec![Arg::Input(0)], vec![2, 3]),
        micro(Op::Add, vec![Arg::Value(0), Arg::Input(0)], vec![2, 3]),
    ];
    assert_eq!(
        verify(&small_fused(good.clone(), vec![1, 0], vec![2, 3])),
        Ok(())
    );

    // A body op reading a later value.
    let mut forward = good.clone();
    forward[1].args[0] = Arg::Value(1);
    let errors = verify(&small_fused(forward, vec![1, 0], vec![2, 3])).unwrap_err();
    assert!(
        matches!(errors[0], VerifyError::Shape { op: "fused", .. }),
        "{errors:?}"
    );

    // A body op reading a kernel input that does not exist.
    let mut missing = good.clone();
    missing[0].args[0] = Arg::Input(3);
    assert!(verify(&small_fused(missing, vec![1, 0], vec![2, 3])).is_err());

    // A body op recording a wrong shape.
    let mut shape = good.clone();
    shape[0].shape = vec![3, 2];
    assert!(verify(&small_fused(shape, vec![1, 0], vec![2, 3])).is_err());

    // A kernel output of another shape than the value it reads.
    let errors = verify(&small_fused(good.clone(), vec![1, 0], vec![6])).unwrap_err();
    assert!(
        matches!(errors[0], VerifyError::KernelOutput { .. }),
        "{errors:?}"
    );

    // A kernel output past the kernel's outputs.
    let errors = verify(&small_fused(good.clone(), vec![1], vec![2, 3])).unwrap_err();
    assert!(
        matches!(errors[0], VerifyError::KernelOutput { .. }),
        "{errors:?}"
    );

    // A kernel yielding a value its body lacks.
    assert!(verify(&small_fused(good, vec![5, 0], vec![2, 3])).is_err());
}

const SMALL: &str = "
model small {
  input image: [6]
  layers {
    dense(4, act: relu)
    dropout(0.5)
    dense(3, act: softmax)
  }
  cost log_likelihood
  regularize l2(5.0)
}
";

#[test]
fn text_form_after_fuse() {
    let model = program(SMALL).models.remove(0);
    let optimizer = Optimizer::Momentum { mu: 0.9 };
    let setup = TrainSetup {
        model: &model,
        optimizer: &optimizer,
        batch_size: 2,
        train_size: 1000,
        clip: Default::default(),
    };
    let text = compile_training_fused(&setup, 2, Some("fuse"))
        .unwrap()
        .to_string();
    insta::assert_snapshot!("training_after_fuse", text);
}

/// A long chain of tensor expressions reads more values than one kernel
/// can bind: the pass splits it into kernels within the limits every
/// backend can take, and the result is still a regrouping of the graph.
#[test]
fn long_expression_chains_split_into_kernels_within_the_buffer_limits() {
    use nnc_ir::passes::fuse::{MAX_KERNEL_INPUTS, MAX_KERNEL_OUTPUTS};
    let program = program(
        "model expressions {
           input x: [2, 3]
           let h = dense(flatten(x), 6, act: tanh)
           let a = log(square(h) + 1) + sqrt(abs(h) + 0.5) + exp(0 - h)
           let b = 2 / (square(h) + 1) - pow(h, 3) * 0.5 + (1 - h) / (h * h + 2)
           let c = min(a, b) + max(a, 2 * b)
           let m = reshape(c, shape: [2, 3])
           let s = sum(m, axis: 1) + mean(m, axis: 1)
           let t = mean(m) + sum(square(m))
           output y = softmax(dense(mul(s, s), 3) + dense(t, 3))
           cost log_likelihood
         }",
    );
    let model = &program.models[0];
    for optimizer in [Optimizer::Sgd, Optimizer::Momentum { mu: 0.9 }] {
        let (plain, fused) = training(model, &optimizer, 4);
        assert_regrouping(&plain, &fused);
        for node in fused.nodes() {
            let Op::Fused(kernel) = &node.op else {
                continue;
            };
            assert!(
                node.inputs.len() <= MAX_KERNEL_INPUTS,
                "{} inputs: {}",
                node.inputs.len(),
                node.name
            );
            assert!(kernel.outputs.len() <= MAX_KERNEL_OUTPUTS, "{}", node.name);
        }
    }
}
