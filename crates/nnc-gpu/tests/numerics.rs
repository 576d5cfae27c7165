//! `set_check_numerics` (`nnc run --check-numerics`) on the GPU backend: a
//! step whose activations overflow names the first tensor that went
//! non-finite (read back node by node), not just the cost, and commits no
//! new parameters.

use nnc_check::program::Optimizer;
use nnc_gpu::GpuBackend;
use nnc_lower::backend::{Backend, BackendError, Batch};
use nnc_lower::init_params;

mod support;

use support::*;

fn failing_step(check: bool) -> Option<BackendError> {
    let m = model(
        "model n {
           input x: [4]
           layers {
             dense(3, act: relu)
             dense(2, act: softmax)
           }
           cost log_likelihood
         }",
    );
    let mut params = init_params(&m, 3);
    params[0].data.fill(3e38);
    let mut backend = GpuBackend::new();
    if backend.open().is_err() {
        return None;
    }
    configure(&mut backend, &m, &Optimizer::Sgd, 2, 10, params);
    backend.set_check_numerics(check);
    let before = backend.params();
    let xs = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5];
    let ys = [0.0, 1.0];
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 2,
        noise_seed: 0,
    };
    let error = backend
        .train_step(batch, 0.1, 1)
        .expect_err("the step overflows");
    assert_eq!(backend.params()[0].data, before[0].data);
    Some(error)
}

fn tensor(error: &BackendError) -> String {
    match error {
        BackendError::NonFinite { tensor } => tensor.clone(),
        other => panic!("not a non-finite error: {other}"),
    }
}

#[test]
fn checked_gpu_steps_name_the_first_tensor_that_overflows() {
    if !have_gpu("checked_gpu_steps_name_the_first_tensor_that_overflows") {
        return;
    }
    let unchecked = failing_step(false).expect("a device");
    assert_eq!(tensor(&unchecked), "cost");
    let checked = failing_step(true).expect("a device");
    let t = tensor(&checked);
    assert!(t.starts_with("dense_1."), "{t}");
    assert!(t.contains("(%"), "{t}");
}
