//! Convolution, pooling and a convolution's bias on the JIT backend
//! against the reference interpreter: small models that exercise each
//! kernel (stride 2, explicit and same padding, ceil rounding, several
//! channels, the three poolings), and the repository's convolutional
//! networks, compared after every training step (costs and all
//! parameters) and on an evaluation.
//!
//! Tolerance: as in `agreement.rs`, `|j - i| <= 1e-4 * (|i| + m / 100)`
//! with `m` the largest magnitude in the tensor.

use nnc_check::program::{Model, Optimizer};
use nnc_cpu::JitBackend;
use nnc_interp::InterpBackend;
use nnc_lower::backend::{Backend, Batch};
use nnc_lower::init_params;

mod support;

use support::*;

/// A model of one convolutional `body` over a `[channels, 7, 9]` input,
/// flattened into a softmax of 3 classes.
fn small(channels: usize, body: &str) -> Model {
    model(&format!(
        "model s {{
           input x: [{channels}, 7, 9]
           layers {{
             {body}
             flatten
             dense(3, act: softmax)
           }}
           cost log_likelihood
         }}"
    ))
}

#[test]
fn valid_convolution_with_several_channels_agrees() {
    let m = small(3, "conv2d(4, kernel: 3, act: relu)");
    agree(&m, &Optimizer::Sgd, 4, &[4, 3], 3);
}

#[test]
fn strided_convolution_with_uneven_padding_agrees() {
    let m = small(
        2,
        "conv2d(3, kernel: 3, stride: 2, padding: [1, 0, 1, 2], act: relu)",
    );
    agree(&m, &Optimizer::Momentum { mu: 0.9 }, 5, &[5, 2], 3);
}

#[test]
fn same_padding_and_a_wide_kernel_agree() {
    let m = small(1, "conv2d(5, kernel: 5, padding: same, act: tanh)");
    agree(&m, &Optimizer::Sgd, 3, &[3], 3);
    let m = small(2, "conv2d(2, kernel: [3, 5], padding: 2, act: sigmoid)");
    agree(&m, &Optimizer::Sgd, 3, &[3], 3);
}

#[test]
fn max_pooling_agrees_with_overlap_and_ceil_rounding() {
    let m = small(
        2,
        "conv2d(3, kernel: 2, act: relu)\n max_pool(3, stride: 2, round: ceil)",
    );
    agree(&m, &Optimizer::Sgd, 4, &[4], 3);
    // Negative values with padding: the padding is never a candidate.
    let m = small(
        2,
        "conv2d(2, kernel: 2, act: tanh)\n max_pool(2, stride: 2, padding: 1)",
    );
    agree(&m, &Optimizer::Sgd, 4, &[4], 3);
    let m = small(3, "max_pool(2)");
    agree(&m, &Optimizer::Sgd, 4, &[4, 1], 3);
}

#[test]
fn average_pooling_agrees_with_ceil_rounding() {
    let m = small(
        2,
        "conv2d(3, kernel: 2, act: tanh)\n avg_pool(2, stride: 2, round: ceil)",
    );
    agree(&m, &Optimizer::Sgd, 4, &[4], 3);
    let m = small(1, "avg_pool(3, stride: 2, round: ceil)");
    agree(&m, &Optimizer::Sgd, 2, &[2], 3);
}

#[test]
fn l2_pooling_with_padding_agrees() {
    let m = small(
        2,
        "conv2d(3, kernel: 2, act: sigmoid)\n l2_pool(2, stride: 1, padding: 1)",
    );
    agree(&m, &Optimizer::Sgd, 3, &[3], 3);
    let m = small(2, "l2_pool([2,2],stride:[2,2],padding:[0,1,0,1])");
    agree(&m, &Optimizer::Sgd, 3, &[3], 3);
}

/// Convolutions large enough to run as products over unfolded windows
/// (see `nnc-cpu`'s `conv_gemm`), with and without the per-example
/// epilogue (bias, ReLU, max pooling) and the one-pass pooling gradient
/// (`pool_grad`): overlapping pooling windows with padding and ceil
/// rounding, a convolution with stride 2 and uneven padding, a wide
/// kernel with `same` padding and no activation, at odd batch sizes
/// (halves of 2 + 3 and 0 + 1 examples) so that both halves and an empty
/// one are exercised.
#[test]
fn convolutions_as_products_with_stride_and_padding_agree() {
    let m = model(
        "model p {
           input x: [3, 15, 14]
           layers {
             conv2d(24, kernel: 3, padding: 1, act: relu)
             max_pool(3, stride: 2, padding: 1, round: ceil) -> [24, 8, 8]
             conv2d(32, kernel: 3, stride: 2, padding: [1, 0, 1, 2], act: tanh) -> [32, 4, 5]
             conv2d(16, kernel: [3, 5], padding: same)
             max_pool(2) -> [16, 2, 2]
             flatten
             dense(3, act: softmax)
           }
           cost log_likelihood
         }",
    );
    agree(&m, &Optimizer::Momentum { mu: 0.9 }, 5, &[5, 1], 3);
    let lines = nnc_cpu::lower(
        &nnc_lower::compile_training_fused(
            &nnc_lower::backend::TrainSetup {
                model: &m,
                optimizer: &Optimizer::Sgd,
                batch_size: 5,
                train_size: 10,
                clip: Default::default(),
            },
            5,
            None,
        )
        .unwrap(),
    )
    .unwrap()
    .describe();
    let has = |l: &str| lines.iter().any(|x| x.starts_with(l));
    if nnc_cpu::sgemm::Sgemm::available() {
        for (pass, count) in [
            ("forward", 3),
            ("input gradient", 2),
            // The first layer's (windows of 27) sums over a batch of 5:
            // direct (`ConvGemm::pays`).
            ("weight gradient", 2),
        ] {
            let found = lines
                .iter()
                .filter(|l| l.starts_with(&format!("conv {pass} as 5 products")))
                .count();
            assert_eq!(found, count, "conv {pass}: {lines:#?}");
        }
        let first = "conv forward as 5 products 24x27x210 over im2col windows, examples split \
                     in two halves, then bias, relu, max pool per example";
        let third = "conv forward as 5 products 16x480x20 over im2col windows, examples split \
                     in two halves, then bias, max pool per example";
        assert!(has(first) && has(third), "{lines:#?}");
    }
    for shape in [
        "relu gradient, bias gradient sum over [5, 24, 15, 14]",
        "bias gradient sum over [5, 16, 4, 5]",
    ] {
        let line = format!("max pool gradient, {shape} in one pass");
        assert!(has(&line), "{line}: {lines:#?}");
    }
}

#[test]
fn chapter_43_network_agrees() {
    let m = model(&repo_file("models/conv_ch43_3maps.nnet"));
    agree(&m, &Optimizer::Sgd, 10, &[10, 7], 3);
}

#[test]
fn lenet5_agrees() {
    let m = model(&repo_file("models/lenet5.nnet"));
    agree(&m, &Optimizer::Sgd, 4, &[4, 3], 3);
}

#[test]
fn conv_20_40_lowers() {
    let m = model(&repo_file("models/conv_20_40.nnet"));
    agree(&m, &Optimizer::Sgd, 2, &[2], 1);
}

/// Rough step times of conv_20_40 and LeNet-5 (batch 10, the book's) on
/// both backends; run with `cargo test --release -p nnc-cpu --test spatial
/// -- --ignored --nocapture --test-threads 1`.
#[test]
#[ignore]
fn convolutional_step_times() {
    for file in ["models/conv_20_40.nnet", "models/lenet5.nnet"] {
        let m = model(&repo_file(file));
        let batch = 10;
        let params = init_params(&m, 7);
        let (xs, ys) = examples(batch, 784, 10, 1);
        let b = Batch {
            inputs: &xs,
            targets: &ys,
            len: batch,
            noise_seed: 0,
        };
        let mut jit = JitBackend::new();
        let mut interp = InterpBackend::new();
        for (name, backend) in [
            ("jit", &mut jit as &mut dyn Backend),
            ("interpreter", &mut interp),
        ] {
            let start = std::time::Instant::now();
            configure(backend, &m, &Optimizer::Sgd, batch, 1000, params.clone());
            let setup = start.elapsed();
            backend.train_step(b, 0.1, 0).unwrap();
            let steps = 20;
            let start = std::time::Instant::now();
            for step in 0..steps {
                backend.train_step(b, 0.1, step + 1).unwrap();
            }
            let per_step = start.elapsed() / steps as u32;
            println!("{file} {name}: configure {setup:?}, {per_step:?} per step (batch {batch})");
        }
    }
}
