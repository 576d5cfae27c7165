//! Each optimizer and regularizer, one or two steps on a one-unit linear
//! model, against the update computed by hand; and each optimizer training
//! a small classifier to a low cost.
//!
//! The model: `a = w . x + b` with `w = (0.5, -1)`, `b = 0.25`, quadratic
//! cost `C = 1/2 (a - y)^2`, one example `x = (1, 2)`, `y = 0.5`. Its
//! gradient is `dC/dw = (a - y) x`, `dC/db = a - y`.

mod support;

use nnc_check::program::{Model, Optimizer};
use nnc_interp::InterpBackend;
use nnc_ir::rng::Rng;
use nnc_lower::backend::{Backend, Batch, TrainSetup};
use nnc_lower::init_params;

const X: [f64; 2] = [1.0, 2.0];
const Y: f64 = 0.5;
const LR: f64 = 0.1;
/// The training-set size `n` of the decay terms.
const N: usize = 10;

fn linear(regularize: &str) -> Model {
    support::model(&format!(
        "model linear {{
           input x: [2]
           layers {{
             dense(1, init: values([[0.5, -1.0]]), bias_init: values([0.25]))
           }}
           cost quadratic
           {regularize}
         }}"
    ))
}

/// `(w, b)` after `steps` steps of `optimizer` on the one example.
fn run_steps(model: &Model, optimizer: &Optimizer, steps: usize) -> ([f64; 2], f64) {
    let mut backend = InterpBackend::new();
    let setup = TrainSetup {
        model,
        optimizer,
        batch_size: 1,
        train_size: N,
        clip: Default::default(),
    };
    backend.configure(&setup).unwrap();
    backend.set_params(init_params(model, 0)).unwrap();
    let inputs = [X[0] as f32, X[1] as f32];
    for step in 0..steps {
        let batch = Batch {
            inputs: &inputs,
            targets: &[Y as f32],
            len: 1,
            noise_seed: 0,
        };
        backend.train_step(batch, LR as f32, step as u64).unwrap();
    }
    let params = backend.params();
    let w = &params[0].data;
    ([w[0] as f64, w[1] as f64], params[1].data[0] as f64)
}

/// The gradient `(dC/dw, dC/db)` at `(w, b)`.
fn gradient(w: [f64; 2], b: f64) -> ([f64; 2], f64) {
    let delta = w[0] * X[0] + w[1] * X[1] + b - Y;
    ([delta * X[0], delta * X[1]], delta)
}

fn assert_close(got: ([f64; 2], f64), want: ([f64; 2], f64), label: &str) {
    let pairs = [
        (got.0[0], want.0[0]),
        (got.0[1], want.0[1]),
        (got.1, want.1),
    ];
    for (g, w) in pairs {
        assert!((g - w).abs() < 1e-6, "{label}: got {got:?}, want {want:?}");
    }
}

const W0: [f64; 2] = [0.5, -1.0];
const B0: f64 = 0.25;

#[test]
fn sgd_step() {
    let (gw, gb) = gradient(W0, B0);
    // a - y = -1.75: w = (0.5 + 0.175, -1 + 0.35), b = 0.25 + 0.175.
    let want = ([W0[0] - LR * gw[0], W0[1] - LR * gw[1]], B0 - LR * gb);
    assert_close(want, ([0.675, -0.65], 0.425), "the hand computation");
    assert_close(run_steps(&linear(""), &Optimizer::Sgd, 1), want, "sgd");
}

#[test]
fn sgd_with_l2_decays_weights_by_the_books_factor() {
    let (gw, gb) = gradient(W0, B0);
    let lambda = 2.0;
    let factor = 1.0 - LR * lambda / N as f64; // 0.98
    let want = (
        [factor * W0[0] - LR * gw[0], factor * W0[1] - LR * gw[1]],
        B0 - LR * gb, // biases are not decayed
    );
    assert_close(want, ([0.665, -0.63], 0.425), "the hand computation");
    let got = run_steps(&linear("regularize l2(2.0)"), &Optimizer::Sgd, 1);
    assert_close(got, want, "sgd + l2");
}

#[test]
fn sgd_with_l1_shrinks_weights_by_a_constant() {
    let (gw, gb) = gradient(W0, B0);
    let shrink = LR * 2.0 / N as f64; // 0.02, towards zero
    let want = (
        [W0[0] - shrink - LR * gw[0], W0[1] + shrink - LR * gw[1]],
        B0 - LR * gb,
    );
    let got = run_steps(&linear("regularize l1(2.0)"), &Optimizer::Sgd, 1);
    assert_close(got, want, "sgd + l1");
}

#[test]
fn momentum_keeps_a_velocity() {
    let mu = 0.9;
    let (mut w, mut b) = (W0, B0);
    let (mut vw, mut vb) = ([0.0; 2], 0.0);
    for _ in 0..2 {
        let (gw, gb) = gradient(w, b);
        vw = [mu * vw[0] - LR * gw[0], mu * vw[1] - LR * gw[1]];
        vb = mu * vb - LR * gb;
        w = [w[0] + vw[0], w[1] + vw[1]];
        b += vb;
    }
    // Step 2: v = 0.9 (0.175, 0.35) - 0.1 (-0.7, -1.4) = (0.2275, 0.455).
    assert_close((w, b), ([0.9025, -0.195], 0.6525), "the hand computation");
    let got = run_steps(&linear(""), &Optimizer::Momentum { mu }, 2);
    assert_close(got, (w, b), "momentum");
}

#[test]
fn momentum_with_l2_adds_the_penalty_gradient() {
    let (mu, lambda) = (0.5, 3.0);
    let (mut w, mut b) = (W0, B0);
    let (mut vw, mut vb) = ([0.0; 2], 0.0);
    for _ in 0..2 {
        let (gw, gb) = gradient(w, b);
        let decay = lambda / N as f64;
        let gw = [gw[0] + decay * w[0], gw[1] + decay * w[1]];
        vw = [mu * vw[0] - LR * gw[0], mu * vw[1] - LR * gw[1]];
        vb = mu * vb - LR * gb;
        w = [w[0] + vw[0], w[1] + vw[1]];
        b += vb;
    }
    let got = run_steps(
        &linear("regularize l2(3.0)"),
        &Optimizer::Momentum { mu },
        2,
    );
    assert_close(got, (w, b), "momentum + l2");
}

#[test]
fn nesterov_takes_the_gradient_at_the_look_ahead_point() {
    let mu = 0.9;
    let (mut w, mut b) = (W0, B0);
    let (mut vw, mut vb) = ([0.0; 2], 0.0);
    for _ in 0..3 {
        let ahead = [w[0] + mu * vw[0], w[1] + mu * vw[1]];
        let (gw, gb) = gradient(ahead, b + mu * vb);
        vw = [mu * vw[0] - LR * gw[0], mu * vw[1] - LR * gw[1]];
        vb = mu * vb - LR * gb;
        w = [w[0] + vw[0], w[1] + vw[1]];
        b += vb;
    }
    let got = run_steps(&linear(""), &Optimizer::Nesterov { mu }, 3);
    assert_close(got, (w, b), "nesterov");
    let plain = run_steps(&linear(""), &Optimizer::Momentum { mu }, 3);
    assert!(
        (plain.0[0] - w[0]).abs() > 1e-3,
        "nesterov differs from momentum"
    );
}

#[test]
fn adam_is_bias_corrected() {
    let (beta1, beta2, eps) = (0.9, 0.999, 1e-8);
    let (mut w, mut b) = (W0, B0);
    let (mut m, mut s) = ([0.0; 3], [0.0; 3]);
    for t in 1..=3 {
        let (gw, gb) = gradient(w, b);
        let g = [gw[0], gw[1], gb];
        let mut step = [0.0; 3];
        for i in 0..3 {
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i];
            s[i] = beta2 * s[i] + (1.0 - beta2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - f64::powi(beta1, t));
            let s_hat = s[i] / (1.0 - f64::powi(beta2, t));
            step[i] = LR * m_hat / (s_hat.sqrt() + eps);
        }
        w = [w[0] - step[0], w[1] - step[1]];
        b -= step[2];
    }
    let optimizer = Optimizer::Adam { beta1, beta2, eps };
    let got = run_steps(&linear(""), &optimizer, 3);
    assert_close(got, (w, b), "adam");
}

/// 200 points of the plane, labelled by the side of a line, as one-hot
/// rows; returns `(inputs, targets)`.
fn separable(seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    while xs.len() < 400 {
        let (a, b) = (2.0 * rng.uniform() - 1.0, 2.0 * rng.uniform() - 1.0);
        let side = a + 0.5 * b - 0.1;
        if side.abs() < 0.05 {
            continue; // a margin keeps the problem cleanly separable
        }
        xs.extend([a as f32, b as f32]);
        ys.extend(if side > 0.0 { [1.0, 0.0] } else { [0.0, 1.0] });
    }
    (xs, ys)
}

/// Trains the small classifier with `optimizer` and returns the mean cost
/// before and after, and the final accuracy.
fn train_classifier(
    optimizer: &Optimizer,
    learning_rate: f32,
    regularize: &str,
) -> (f64, f64, f64) {
    let model = support::model(&format!(
        "model classifier {{
           input x: [2]
           layers {{
             dense(8, act: tanh)
             dense(2, act: softmax)
           }}
           cost log_likelihood
           {regularize}
         }}"
    ));
    let (xs, ys) = separable(3);
    let count = xs.len() / 2;
    let mut backend = InterpBackend::new();
    let setup = TrainSetup {
        model: &model,
        optimizer,
        batch_size: 10,
        train_size: count,
        clip: Default::default(),
    };
    backend.configure(&setup).unwrap();
    backend.set_params(init_params(&model, 7)).unwrap();
    let all = Batch {
        inputs: &xs,
        targets: &ys,
        len: count,
        noise_seed: 0,
    };
    let before = backend.evaluate(all).unwrap();
    for epoch in 0..30 {
        for start in (0..count).step_by(10) {
            let batch = Batch {
                inputs: &xs[start * 2..(start + 10) * 2],
                targets: &ys[start * 2..(start + 10) * 2],
                len: 10,
                noise_seed: 0,
            };
            backend.train_step(batch, learning_rate, epoch).unwrap();
        }
    }
    let after = backend.evaluate(all).unwrap();
    (
        before.cost_sum / count as f64,
        after.cost_sum / count as f64,
        after.correct / count as f64,
    )
}

#[test]
fn every_optimizer_learns_a_separable_problem() {
    let adam = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };
    let runs = [
        ("sgd", Optimizer::Sgd, 0.5, ""),
        ("sgd + l2", Optimizer::Sgd, 0.5, "regularize l2(0.1)"),
        ("sgd + l1", Optimizer::Sgd, 0.5, "regularize l1(0.1)"),
        ("momentum", Optimizer::Momentum { mu: 0.9 }, 0.05, ""),
        ("nesterov", Optimizer::Nesterov { mu: 0.9 }, 0.05, ""),
        ("adam", adam, 0.01, ""),
    ];
    for (label, optimizer, lr, regularize) in runs {
        let (before, after, accuracy) = train_classifier(&optimizer, lr, regularize);
        assert!(
            after < 0.2 && after < before / 3.0 && accuracy >= 0.95,
            "{label}: cost {before:.3} -> {after:.3}, accuracy {accuracy:.3}"
        );
    }
}

#[test]
fn the_books_xor_network_learns_xor() {
    // models/xor_2_2_1.nnet: the book's starting weights, cross-entropy,
    // full-batch SGD at 0.5 for 5,000 epochs, as its train block says.
    let program = support::program(&support::repo_file("models/xor_2_2_1.nnet"));
    let model = &program.models[0];
    let train = &program.trains[0];
    let phase = &train.phases[0];
    let mut backend = InterpBackend::new();
    let setup = TrainSetup {
        model,
        optimizer: &phase.optimizer,
        batch_size: phase.batch_size,
        train_size: 4,
        clip: Default::default(),
    };
    backend.configure(&setup).unwrap();
    backend.set_params(init_params(model, train.seed)).unwrap();
    let xs = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let ys = [0.0, 1.0, 1.0, 0.0];
    let batch = Batch {
        inputs: &xs,
        targets: &ys,
        len: 4,
        noise_seed: 0,
    };
    let first = backend
        .train_step(batch, phase.learning_rate as f32, 0)
        .unwrap();
    let mut last = first;
    for step in 1..train.epochs {
        last = backend
            .train_step(batch, phase.learning_rate as f32, step as u64)
            .unwrap();
    }
    let eval = backend.evaluate(batch).unwrap();
    assert!(
        last.cost < 0.1 && eval.correct == 4.0,
        "cost {:.3} -> {:.3}, {} of 4 right",
        first.cost,
        last.cost,
        eval.correct
    );
}
