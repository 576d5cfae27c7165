//! What the lowering makes of a graph: the kernels it emits for the book
//! networks, determinism, and errors for what it does not lower yet.

use nnc_check::program::{Model, Optimizer};
use nnc_cpu::{lower, JitBackend, LowerError};
use nnc_lower::backend::{Backend, Batch, TrainSetup};
use nnc_lower::{compile_inference_fused, compile_training_fused, init_params};
use std::path::PathBuf;

fn model_file(path: &str) -> Model {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let source = std::fs::read_to_string(root.join(path)).unwrap();
    model(&source)
}

fn model(source: &str) -> Model {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program.models.into_iter().next().unwrap()
}

fn training_lines(model: &Model, batch: usize) -> Vec<String> {
    let setup = TrainSetup {
        model,
        optimizer: &Optimizer::Sgd,
        batch_size: batch,
        train_size: 50_000,
        clip: Default::default(),
    };
    let graph = compile_training_fused(&setup, batch, None).unwrap();
    lower(&graph).unwrap().describe()
}

#[test]
fn w1_layers_are_matrix_products_with_the_bias_and_sigmoid_fused() {
    let lines = training_lines(&model_file("models/mnist_784_30_10.nnet"), 10);
    // The first layer: x [10, 784] times W1^T [784, 30] by the library
    // (module `gemm`), then one pointwise kernel adding the bias of 30 and
    // applying the sigmoid; the second, small, one kernel with the fused
    // epilogue.
    assert!(
        lines[0].starts_with("library gemm 10x784x30 (ta:false, tb:true)"),
        "{lines:#?}"
    );
    assert!(lines[1].starts_with("jit k7_pointwise1 (in0:300, in1:30, out0:300)"));
    assert!(lines[2].starts_with("jit k8_matmul0 (a:300, b:300, bias:10, c:100"));
    // The cost's per-example values: a row kernel, from z.
    assert!(lines[3].starts_with("jit k9_cost_sigmoid_cross_entropy0 (a:100, y:100, out:10)"));
    assert!(lines.iter().all(|l| !l.starts_with("host ")), "no host ops");
    let matmuls = lines
        .iter()
        .filter(|l| l.contains("_matmul0 (") || l.starts_with("library gemm"))
        .count();
    assert_eq!(matmuls, 5, "two forward, three backward products");
    // The first weight's gradient (30x10x784) is large enough for the
    // library, and its update (L2 decay and the step) is folded into it;
    // the other three parameters keep an update kernel each.
    assert!(
        lines
            .iter()
            .any(|l| l == "library gemm 30x10x784 (ta:true, tb:false), update folded in"),
        "{lines:#?}"
    );
    let updates = lines
        .iter()
        .filter(|l| l.starts_with("jit k1") && l.contains("pointwise0"))
        .count();
    assert_eq!(updates, 3, "{lines:#?}");
}

#[test]
fn w2_keeps_z_for_the_backward_pass_and_folds_the_updates() {
    let lines = training_lines(&model_file("models/mlp_1024_batch64.nnet"), 64);
    // `dense_1.z` is yielded (relu_grad reads it): the product goes to the
    // library, then one pointwise kernel adds the bias and applies the
    // relu, storing both z and the activation.
    assert!(lines[0].starts_with("library gemm 64x784x1024 (ta:false, tb:true)"));
    // On two cores, that pass (64 x 1024) is split by rows over two threads.
    let two_cores = std::thread::available_parallelism().map_or(1, |c| c.get()) >= 2;
    if two_cores {
        assert_eq!(
            lines[1],
            "jit k9_pointwise1_rows0 split over 2 threads (32 + 32 rows)"
        );
    } else {
        assert!(
            lines[1].starts_with("jit k9_pointwise1 (in0:65536, in1:1024, out0:65536, out1:65536)")
        );
    }
    // The three weight gradients carry their SGD updates, in place.
    let folded = lines
        .iter()
        .filter(|l| l.ends_with(", update folded in"))
        .count();
    assert_eq!(folded, 3, "{lines:#?}");
    assert!(lines.iter().any(|l| l
        .starts_with("jit k14_cost_softmax_log_likelihood_grad6 (z:640, y:640, dy:64, out:640)")));
}

#[test]
fn inference_graphs_lower_with_softmax_and_the_correct_count() {
    let m = model_file("models/mlp_1024_batch64.nnet");
    let graph = compile_inference_fused(&m, 5, None).unwrap();
    let lines = lower(&graph).unwrap().describe();
    assert!(lines
        .iter()
        .any(|l| l.starts_with("jit k11_softmax0 (x:50, out:50)")));
    assert!(lines.iter().any(|l| l.starts_with("host CorrectCount")));
}

#[test]
fn runs_are_bit_for_bit_identical() {
    let m = model_file("models/mnist_784_30_10.nnet");
    let run = || {
        let mut backend = JitBackend::new();
        let setup = TrainSetup {
            model: &m,
            optimizer: &Optimizer::Momentum { mu: 0.9 },
            batch_size: 10,
            train_size: 100,
            clip: Default::default(),
        };
        backend.configure(&setup).unwrap();
        backend.set_params(init_params(&m, 4)).unwrap();
        let xs: Vec<f32> = (0..7840).map(|i| (i % 255) as f32 / 255.0).collect();
        let ys: Vec<f32> = (0..10).map(|i| (i % 10) as f32).collect();
        let mut costs = Vec::new();
        for step in 0..3 {
            let batch = Batch {
                inputs: &xs,
                targets: &ys,
                len: 10,
                noise_seed: 0,
            };
            costs.push(backend.train_step(batch, 0.1, step).unwrap().cost);
        }
        (costs, backend.params())
    };
    assert_eq!(run(), run());
}

#[test]
fn pooling_and_its_gradient_are_one_kernel_each() {
    let m = model(
        "model p {
           input x: [1, 5, 5]
           layers {
             conv2d(1, kernel: 2) -> [1, 4, 4]
             max_pool(2) -> [1, 2, 2]
             flatten -> [4]
             dense(3, act: softmax)
           }
           cost log_likelihood
         }",
    );
    let lines = training_lines(&m, 2);
    // The pooling, then its gradient with the bias gradient's sum (one
    // pass: module `pool_grad`).
    let pools: Vec<_> = lines.iter().filter(|l| l.contains("pool")).collect();
    assert_eq!(pools.len(), 2, "{lines:#?}");
    assert!(pools[0].contains("max_pool2 (x:32, y:8)"), "{lines:#?}");
    assert!(
        pools[1].starts_with("max pool gradient, bias gradient sum over [2, 1, 4, 4] in one pass"),
        "{lines:#?}"
    );
    // The convolution, its weight gradient and its bias gradient, all
    // JIT kernels.
    assert!(lines
        .iter()
        .any(|l| l.starts_with("jit") && l.contains("conv2d0 (")));
    assert!(lines.iter().any(|l| l.contains("conv2d_weight_grad")));
    assert!(
        lines
            .iter()
            .all(|l| !l.starts_with("host") || l.contains("Copy")),
        "{lines:#?}"
    );
}

#[test]
fn lower_errors_name_the_op() {
    let e = LowerError::Unsupported {
        op: "conv2d".into(),
    };
    assert_eq!(e.to_string(), "the JIT backend does not lower `conv2d` yet");
}

/// Every model of the repository lowers, for training (with the plainest
/// and the richest optimizer) and for inference, or is refused with an
/// `Unsupported` error: never a panic, never an internal or JIT error.
#[test]
fn every_repository_model_lowers_or_is_unsupported() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut lowered = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "nnet"))
        .collect();
    entries.sort();
    let adam = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    for path in entries {
        let source = std::fs::read_to_string(&path).unwrap();
        let (file, _) = nnc_syntax::parse(&source);
        let checked = nnc_check::check(&file);
        for m in &checked.program.models {
            let mut graphs = vec![compile_inference_fused(m, 3, None).unwrap()];
            if m.cost.is_some() {
                for optimizer in [&Optimizer::Sgd, &adam] {
                    let setup = TrainSetup {
                        model: m,
                        optimizer,
                        batch_size: 3,
                        train_size: 30,
                        clip: Default::default(),
                    };
                    graphs.push(compile_training_fused(&setup, 3, None).unwrap());
                }
            }
            for graph in graphs {
                match lower(&graph) {
                    Ok(_) => lowered += 1,
                    Err(LowerError::Unsupported { .. }) => {}
                    Err(e) => panic!("{}: {e}", path.display()),
                }
            }
        }
    }
    assert!(lowered >= 40, "only {lowered} graphs lowered");
}

#[test]
fn convolutions_and_pooling_are_split_by_examples_on_two_cores() {
    let lines = training_lines(&model_file("models/conv_20_40.nnet"), 10);
    let two_cores = std::thread::available_parallelism().map_or(1, |c| c.get()) >= 2;
    let has = |l: &str| lines.iter().any(|x| x.starts_with(l));
    // Each `conv+epilogue` kernel (convolution, bias, ReLU, max pooling)
    // is one action where the processor has AVX2: products over unfolded
    // windows, the bias, ReLU and pooling of each example right after its
    // product, the examples split in two halves.
    if nnc_cpu::sgemm::Sgemm::available() {
        for line in [
            "conv forward as 10 products 20x25x576 over im2col windows, examples split in two \
             halves, then bias, relu, max pool per example",
            "conv forward as 10 products 40x500x64 over im2col windows, examples split in two \
             halves, then bias, relu, max pool per example",
            "conv input gradient as 10 products 500x40x64",
            "conv weight gradient as 10 products 500x64x40",
        ] {
            assert!(has(line), "{line}: {lines:#?}");
        }
        // The first layer's weight gradient (windows of 25) sums over a
        // batch of 10: faster direct (`ConvGemm::pays`).
        assert!(has("jit k37_conv2d_weight_grad0 ("), "{lines:#?}");
    } else {
        let split = |prefix: &str| {
            lines
                .iter()
                .any(|l| l.starts_with(prefix) && l.ends_with("split over 2 threads (5 + 5 rows)"))
        };
        for prefix in ["jit k11_conv2d0_batch0", "jit k11_max_pool3_batch0"] {
            assert_eq!(split(prefix), two_cores, "{prefix}: {lines:#?}");
        }
    }
    // Each `pool_grad+epilogue` kernel (the pooling's gradient, ReLU's
    // derivative, the bias gradient) is one pass on every processor.
    for shape in ["[10, 40, 8, 8]", "[10, 20, 24, 24]"] {
        let line = format!(
            "max pool gradient, relu gradient, bias gradient sum over {shape} in one pass, \
             examples split in two halves"
        );
        assert!(has(&line), "{line}: {lines:#?}");
    }
}
