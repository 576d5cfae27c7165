//! Tensors over the device's limits are errors that name the tensor, its
//! size and the limit, on a device opened with a 16 MiB cap on buffers.

mod support;

use nnc_check::program::Optimizer;
use nnc_gpu::GpuBackend;
use nnc_lower::backend::{Backend, TrainSetup};
use support::*;

const CAP: u64 = 16 << 20;

#[test]
fn a_parameter_over_the_limit_is_named_with_its_size_and_the_limit() {
    if !have_gpu("a_parameter_over_the_limit") {
        return;
    }
    // The weight of the first layer: 6000 x 784 values, 18,816,000 bytes.
    let m = model(
        "model big {
           input x: [784]
           layers {
             dense(6000, act: relu)
             dense(10, act: softmax)
           }
           cost log_likelihood
         }",
    );
    let mut gpu = GpuBackend::with_buffer_limit(CAP);
    let setup = TrainSetup {
        model: &m,
        optimizer: &Optimizer::Sgd,
        batch_size: 10,
        train_size: 100,
        clip: Default::default(),
    };
    let error = gpu.configure(&setup).expect_err("over the limit");
    let text = error.to_string();
    eprintln!("{text}");
    assert!(text.contains("18816000 bytes"), "{text}");
    assert!(text.contains(&CAP.to_string()), "{text}");
    assert!(text.contains("dense"), "names the parameter: {text}");
}

#[test]
fn a_batch_over_the_limit_is_named_with_its_size_and_the_limit() {
    if !have_gpu("a_batch_over_the_limit") {
        return;
    }
    let m = model(&repo_file("models/mnist_784_30_10.nnet"));
    let mut gpu = GpuBackend::with_buffer_limit(CAP);
    // 6,000 examples of 784 values: 18,816,000 bytes of input.
    let setup = TrainSetup {
        model: &m,
        optimizer: &Optimizer::Sgd,
        batch_size: 6000,
        train_size: 6000,
        clip: Default::default(),
    };
    let error = gpu.configure(&setup).expect_err("over the limit");
    let text = error.to_string();
    eprintln!("{text}");
    assert!(text.contains("`image` needs 18816000 bytes"), "{text}");
    assert!(text.contains(&CAP.to_string()), "{text}");
}
