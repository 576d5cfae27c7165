//! `set_check_numerics` (`nnc run --check-numerics`) on the JIT and the
//! interpreter: a step whose activations overflow names the first tensor
//! that went non-finite, not just the cost, and leaves the parameters as
//! they were before the step.

use nnc_check::program::Optimizer;
use nnc_cpu::JitBackend;
use nnc_interp::InterpBackend;
use nnc_lower::backend::{Backend, BackendError, Batch};
use nnc_lower::init_params;

mod support;

use support::*;

/// A ReLU network whose first weight is so large that the first layer's
/// pre-activation overflows to infinity.
fn run(backend: &mut dyn Backend, check: bool) -> (BackendError, Vec<f32>) {
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
    configure(backend, &m, &Optimizer::Sgd, 2, 10, params);
    backend.set_check_numerics(check);
    let before = backend.params()[0].data.clone();
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
    assert_eq!(
        backend.params()[0].data,
        before,
        "the first layer's weights"
    );
    (error, before)
}

fn tensor(error: &BackendError) -> &str {
    match error {
        BackendError::NonFinite { tensor } => tensor,
        other => panic!("not a non-finite error: {other}"),
    }
}

#[test]
fn checked_steps_name_the_first_tensor_that_overflows() {
    for (name, backend) in [
        ("jit", Box::new(JitBackend::new()) as Box<dyn Backend>),
        ("interp", Box::new(InterpBackend::new())),
    ] {
        let mut backend = backend;
        // Unchecked, only the cost is looked at.
        let (error, _) = run(backend.as_mut(), false);
        assert_eq!(tensor(&error), "cost", "{name}");
        // Checked: the first layer's pre-activation, named with its node.
        let mut backend: Box<dyn Backend> = match name {
            "jit" => Box::new(JitBackend::new()),
            _ => Box::new(InterpBackend::new()),
        };
        let (error, _) = run(backend.as_mut(), true);
        let t = tensor(&error);
        assert!(t.starts_with("dense_1."), "{name}: {t}");
        assert!(t.contains("(%"), "{name}: {t}");
        assert!(
            error.to_string().contains("became NaN or infinite"),
            "{name}: {error}"
        );
    }
}
