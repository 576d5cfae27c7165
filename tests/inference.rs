//! `Backend::configure_inference` and `Backend::infer` on every backend
//! (the interpreter, the JIT, wgpu on lavapipe in CI): the values of every
//! model output in declaration order, with their shapes; with targets, the
//! same sums as `evaluate`; without targets, none; an empty batch; the
//! backends agree with the interpreter. The wgpu part is skipped (with a
//! line on stderr) when no device can be opened, unless
//! `NNC_REQUIRE_GPU=1`.

use nnc_check::program::{Model, Optimizer};
use nnc_ir::rng::Rng;
use nnc_lower::backend::{Backend, Batch, TrainSetup};
use nnc_lower::init_params;

fn model(source: &str) -> Model {
    let (file, errors) = nnc_syntax::parse(source);
    assert!(errors.is_empty(), "{errors:?}");
    let checked = nnc_check::check(&file);
    assert!(checked.errors.is_empty(), "{:?}", checked.errors);
    checked.program.models.into_iter().next().expect("a model")
}

/// A classifier with a second output: the hidden activations.
fn two_outputs() -> Model {
    model(
        "model two {
           input x: [5]
           let h = dense(x, 4, act: tanh)
           output hidden = h
           output probs = dense(h, 3, act: softmax)
           cost log_likelihood(probs)
         }",
    )
}

fn backends() -> Vec<Box<dyn Backend>> {
    let mut all: Vec<Box<dyn Backend>> = vec![
        Box::new(nnc_interp::InterpBackend::new()),
        Box::new(nnc_cpu::JitBackend::new()),
    ];
    match nnc_gpu::Gpu::acquire() {
        Ok(_) => all.push(Box::new(nnc_gpu::GpuBackend::new())),
        Err(error) => {
            assert!(
                !std::env::var("NNC_REQUIRE_GPU").is_ok_and(|v| v == "1"),
                "NNC_REQUIRE_GPU=1 but no GPU device could be opened: {error}"
            );
            eprintln!("SKIPPED the wgpu part of tests/inference.rs: {error}");
        }
    }
    all
}

fn close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
            "{what}[{i}]: {x} against {y}"
        );
    }
}

#[test]
fn infer_gives_every_output_and_the_sums_of_evaluate() {
    let model = two_outputs();
    assert_eq!(model.outputs.len(), 2);
    let params = init_params(&model, 11);
    let mut rng = Rng::new(5);
    let len = 7;
    let xs: Vec<f32> = (0..len * 5).map(|_| rng.normal() as f32).collect();
    let labels: Vec<f32> = (0..len).map(|_| rng.below(3) as f32).collect();
    let mut reference: Option<Vec<Vec<f32>>> = None;
    for mut backend in backends() {
        let name = backend.name();
        backend.configure_inference(&model).unwrap();
        backend.set_params(params.clone()).unwrap();
        let with = Batch {
            inputs: &xs,
            targets: &labels,
            len,
            noise_seed: 0,
        };
        let inferred = backend.infer(with).unwrap();
        let stats = inferred.stats.expect("sums with targets");
        let evaluated = backend.evaluate(with).unwrap();
        assert_eq!(stats.count, len, "{name}");
        assert_eq!(stats.correct, evaluated.correct, "{name}");
        assert!((stats.cost_sum - evaluated.cost_sum).abs() <= 1e-6 * evaluated.cost_sum.abs());
        assert!(stats.cost_sum > 0.0, "{name}: a log-likelihood is positive");
        let shapes: Vec<&[usize]> = inferred
            .outputs
            .iter()
            .map(|t| t.shape.as_slice())
            .collect();
        assert_eq!(shapes, [&[len, 4][..], &[len, 3][..]], "{name}");
        for row in inferred.outputs[1].data.chunks(3) {
            let sum: f32 = row.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-5,
                "{name}: softmax rows sum to 1, {row:?}"
            );
        }
        // Without targets: the same outputs, no sums.
        let without = backend
            .infer(Batch {
                inputs: &xs,
                targets: &[],
                len,
                noise_seed: 0,
            })
            .unwrap();
        assert_eq!(without.stats, None, "{name}");
        for (a, b) in without.outputs.iter().zip(&inferred.outputs) {
            assert_eq!(a.data, b.data, "{name}");
        }
        // A batch of one is the first row of the batch of seven.
        let one = backend
            .infer(Batch {
                inputs: &xs[..5],
                targets: &[],
                len: 1,
                noise_seed: 0,
            })
            .unwrap();
        close(&one.outputs[1].data, &inferred.outputs[1].data[..3], name);
        // An empty batch: outputs with no rows.
        let empty = backend
            .infer(Batch {
                inputs: &[],
                targets: &[],
                len: 0,
                noise_seed: 0,
            })
            .unwrap();
        assert_eq!(empty.outputs[0].shape, [0, 4], "{name}");
        assert!(empty.stats.is_none());
        let values: Vec<Vec<f32>> = inferred.outputs.iter().map(|t| t.data.clone()).collect();
        match &reference {
            None => reference = Some(values),
            Some(expected) => {
                for (k, (a, b)) in values.iter().zip(expected).enumerate() {
                    close(a, b, &format!("{name} output {k} against the interpreter"));
                }
            }
        }
    }
}

/// Inference after training on the same backend reads the trained
/// parameters; `configure_inference` of another model refuses parameters
/// that do not fit it, and inference before any model is an error value.
#[test]
fn inference_follows_training_and_refuses_misuse() {
    let model = two_outputs();
    let optimizer = Optimizer::Sgd;
    for mut backend in backends() {
        let name = backend.name();
        assert!(
            backend
                .infer(Batch {
                    inputs: &[0.0; 5],
                    targets: &[],
                    len: 1,
                    noise_seed: 0,
                })
                .is_err(),
            "{name}: no model yet"
        );
        let setup = TrainSetup {
            model: &model,
            optimizer: &optimizer,
            batch_size: 4,
            train_size: 4,
            clip: Default::default(),
        };
        backend.configure(&setup).unwrap();
        backend.set_params(init_params(&model, 3)).unwrap();
        let xs = [0.5f32; 20];
        let labels = [0.0f32, 1.0, 2.0, 1.0];
        let batch = Batch {
            inputs: &xs,
            targets: &labels,
            len: 4,
            noise_seed: 0,
        };
        let before = backend.infer(batch).unwrap().stats.unwrap().cost_sum;
        for _ in 0..5 {
            backend.train_step(batch, 0.5, 0).unwrap();
        }
        let after = backend.infer(batch).unwrap().stats.unwrap().cost_sum;
        assert!(
            after < before,
            "{name}: trained cost {after} not below {before}"
        );
        let other = model_with_width(7);
        let refused = backend.configure_inference(&other);
        assert!(refused.is_err(), "{name}: parameters of another shape");
    }
}

fn model_with_width(width: usize) -> Model {
    model(&format!(
        "model other {{
           input x: [5]
           layers {{ dense({width}, act: softmax) }}
           cost log_likelihood
         }}"
    ))
}

/// A model that draws noise (a VAE's sampled code, `normal` and `uniform`)
/// draws it in inference from the batch's `noise_seed`: every backend
/// draws the same values for the same seed (outputs and cost agree), the
/// same seed repeats, another seed draws other noise.
#[test]
fn noise_in_inference_follows_the_batch_noise_seed_on_every_backend() {
    let model = model(
        "model vae {
           input x: [6]
           let mu = dense(x, 3)
           let z = mu + normal([3]) + 0.5 * uniform([3])
           output y = dense(z, 6, act: sigmoid)
           cost cross_entropy(y, target: x)
         }",
    );
    let params = init_params(&model, 4);
    let mut rng = Rng::new(9);
    let len = 5;
    let xs: Vec<f32> = (0..len * 6).map(|_| rng.uniform() as f32).collect();
    let run = |backend: &mut dyn Backend, seed: u64| {
        let batch = Batch {
            inputs: &xs,
            targets: &[],
            len,
            noise_seed: seed,
        };
        let out = backend.infer(batch).unwrap();
        out.outputs[0].data.clone()
    };
    let mut reference: Option<Vec<f32>> = None;
    for mut backend in backends() {
        let name = backend.name();
        backend.configure_inference(&model).unwrap();
        backend.set_params(params.clone()).unwrap();
        let first = run(backend.as_mut(), 17);
        assert_eq!(
            first,
            run(backend.as_mut(), 17),
            "{name}: the same seed repeats"
        );
        let other = run(backend.as_mut(), 18);
        assert!(
            first.iter().zip(&other).any(|(a, b)| (a - b).abs() > 1e-3),
            "{name}: another seed draws other noise"
        );
        match &reference {
            None => reference = Some(first),
            Some(want) => close(&first, want, name),
        }
    }
}
