//! Tests of the verifier.

use super::report::coordinates;
use super::*;
use nnc_ir::rng::Rng;
use nnc_lower::init_params;

/// The first model of `source`, which must check clean.
fn model(source: &str) -> Model {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "syntax errors: {syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "check errors: {:?}", checked.errors);
    checked.program.models.into_iter().next().unwrap()
}

const DENSE: &str = "model net {
  input image: [20]
  layers {
    dense(8, act: sigmoid)
    dense(4, act: sigmoid)
  }
  cost cross_entropy
  regularize l2(5.0)
}";

/// `len` examples of `inputs` values in `[0, 1)` with one-hot targets of
/// `classes` classes.
fn batch_data(len: usize, inputs: usize, classes: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let xs = (0..len * inputs).map(|_| rng.uniform() as f32).collect();
    let mut ys = vec![0.0; len * classes];
    for i in 0..len {
        ys[i * classes + rng.below(classes)] = 1.0;
    }
    (xs, ys)
}

fn verifier(model: &Model, optimizer: &Optimizer, batch: usize) -> Verifier {
    let setup = TrainSetup {
        model,
        optimizer,
        batch_size: batch,
        train_size: 100,
        clip: Default::default(),
    };
    Verifier::new(&setup, init_params(model, 3)).unwrap()
}

/// Runs `lens.len()` steps of the given batch lengths.
fn run_steps(
    v: &mut Verifier,
    inputs: usize,
    classes: usize,
    lens: &[usize],
) -> Result<(), VerifyError> {
    for (step, &len) in lens.iter().enumerate() {
        let (xs, ys) = batch_data(len, inputs, classes, step as u64);
        let batch = Batch {
            inputs: &xs,
            targets: &ys,
            len,
            noise_seed: 0,
        };
        v.step(batch, 0.1, 40 + step as u64)?;
    }
    Ok(())
}

#[test]
fn the_rule_is_relative_with_a_floor_of_the_tensors_scale() {
    assert_eq!(tensor_scale(&[0.5, -2.0, f32::NAN, 1.0]), 0.02);
    assert!(within_tolerance(1.00009, 1.0, 0.0, 0.0));
    assert!(!within_tolerance(1.0002, 1.0, 0.0, 0.0));
    // A value near zero in a tensor of scale 0.01 (largest 1.0) may be
    // off by 1e-6, not more.
    assert!(within_tolerance(9e-7, 0.0, 0.01, 0.0));
    assert!(!within_tolerance(2e-6, 0.0, 0.01, 0.0));
    assert!(within_tolerance(2e-6, 0.0, 0.01, 1e-6));
    assert!(within_tolerance(f32::NAN, f32::NAN, 0.0, 0.0));
    assert!(!within_tolerance(f32::NAN, 1.0, 0.0, 0.0));
    assert!(within_tolerance(f32::INFINITY, f32::INFINITY, 0.0, 0.0));
    assert!(!within_tolerance(
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        0.0
    ));
    assert_eq!(relative_error(1.5, 1.0, 0.0), 0.5);
    assert_eq!(relative_error(0.0, 0.0, 0.0), 0.0);
    assert_eq!(relative_error(1.0, 0.0, 0.0), f32::INFINITY);
    assert_eq!(coordinates(137, &[10, 30]), vec![4, 17]);
    assert_eq!(coordinates(0, &[]), Vec::<usize>::new());
}

#[test]
fn a_dense_network_verifies_with_a_short_last_batch() {
    let m = model(DENSE);
    let mut v = verifier(&m, &Optimizer::Momentum { mu: 0.9 }, 10);
    run_steps(&mut v, 20, 4, &[10, 10, 7]).unwrap();
    let report = v.report();
    assert_eq!(report.steps, 3);
    // Every step compares the same kernels (the short batch has its own
    // graph of the same structure).
    assert_eq!(report.kernels % 3, 0);
    assert!(report.kernels >= 3 * 8, "{report:?}");
    assert!(report.tensors > report.kernels, "{report:?}");
    let largest = report.largest_relative_error();
    assert!(largest > 0.0 && largest <= RTOL, "{report:?}");
}

#[test]
fn dropout_and_adam_verify() {
    let m = model(
        "model net {
  input image: [20]
  layers {
    dense(16, act: relu)
    dropout(0.5)
    dense(4, act: softmax)
  }
  cost log_likelihood
}",
    );
    let adam = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let mut v = verifier(&m, &adam, 8);
    run_steps(&mut v, 20, 4, &[8, 8, 8, 8]).unwrap();
    assert_eq!(v.report().steps, 4);
}

#[test]
fn a_fault_on_the_jit_side_is_caught_and_named() {
    let m = model(DENSE);
    let mut v = verifier(&m, &Optimizer::Sgd, 10);
    let graph = v.sides[&10].program.graph();
    let weight = graph.input(InputKind::Param(0)).unwrap();
    // The first layer's product: the first node that reads the weight.
    let first_reader = graph
        .ids()
        .find(|&id| graph.node(id).inputs.contains(&weight))
        .unwrap();
    v.plant(Fault {
        step: 2,
        node: first_reader,
        element: 13,
        delta: 0.5,
    });
    let error = run_steps(&mut v, 20, 4, &[10, 10, 10]).unwrap_err();
    let VerifyError::Mismatch(mismatch) = error else {
        panic!("expected a mismatch, got {error}");
    };
    assert_eq!(v.report().steps, 1, "the first step agreed");
    assert_eq!(mismatch.step, 2);
    assert_eq!(mismatch.node, first_reader);
    assert_eq!(mismatch.output, first_reader);
    assert_eq!(mismatch.kind, "fused matmul+epilogue");
    assert_eq!(mismatch.name, "dense_1");
    assert_eq!(mismatch.shape, vec![10, 8]);
    assert_eq!(mismatch.index, 13);
    assert_eq!(mismatch.beyond, 1);
    assert!(
        (mismatch.jit - mismatch.interpreter - 0.5).abs() < 1e-3,
        "{mismatch:?}"
    );
    assert!(mismatch.error > mismatch.tolerance);
    let text = mismatch.to_string();
    let expected = format!(
        "step 2: kernel {first_reader} (fused matmul+epilogue) `dense_1` differs from the \
         interpreter given the same inputs: element 13 [1, 5] of [10, 8]: jit "
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(text.contains("> tolerance"), "{text}");
    assert!(
        text.ends_with("(1 of 80 values beyond tolerance)"),
        "{text}"
    );
}

/// Values computed by sums that may cancel (bias and weight
/// gradients) are allowed the rounding of the sum of their terms'
/// magnitudes; values after an activation are not.
#[test]
fn gradients_are_compared_at_the_scale_of_their_terms() {
    let m = model(DENSE);
    let mut v = verifier(&m, &Optimizer::Sgd, 10);
    run_steps(&mut v, 20, 4, &[10]).unwrap();
    let side = &v.sides[&10];
    let graph = side.program.graph();
    let with_magnitude = |id: NodeId| {
        side.checks.iter().flatten().any(|check| {
            check
                .compared
                .iter()
                .zip(&check.magnitudes)
                .any(|(&c, m)| c == id && m.is_some())
        })
    };
    let gradients: Vec<NodeId> = graph
        .ids()
        .filter(|&id| {
            let name = &graph.node(id).name;
            name.starts_with("grad(dense_")
                && (name.ends_with(".bias)") || name.ends_with(".weight)"))
        })
        .collect();
    assert_eq!(gradients.len(), 4, "{gradients:?}");
    for id in gradients {
        assert!(with_magnitude(id), "{id} `{}`", graph.node(id).name);
    }
    let activation = graph
        .ids()
        .find(|&id| graph.node(id).name == "dense_1")
        .unwrap();
    assert!(!with_magnitude(activation));
}
