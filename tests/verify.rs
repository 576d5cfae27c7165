//! `nnc run --verify`: the JIT's kernels compared with the interpreter's
//! on the first training steps, through the whole pipeline on the shipped
//! MNIST. (That a wrong kernel value is caught and named is tested next to
//! the verifier, in `nnc-cpu/src/verify/tests.rs`, by planting a fault on the
//! JIT side.)

mod common;

use common::nnc;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The verification line's numbers: steps and largest relative error.
fn verified(stdout: &str) -> (usize, f64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("verify: "))
        .unwrap_or_else(|| panic!("no verify line in:\n{stdout}"));
    let steps = line
        .split(" on ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no step count in `{line}`"));
    let largest = line
        .split("largest relative error ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no largest error in `{line}`"));
    (steps, largest)
}

/// The book's network verifies on its first 3 steps, then trains (on the
/// JIT, the default backend).
#[test]
fn the_book_network_verifies_then_trains() {
    let out = nnc(&[
        "run",
        "models/mnist_784_30_10.nnet",
        "--verify",
        "--train-limit",
        "200",
        "--eval-limit",
        "100",
        "--epochs",
        "1",
        "--quiet",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (steps, largest) = verified(&stdout);
    assert_eq!(steps, 3, "{stdout}");
    assert!(largest > 0.0 && largest <= 1e-4, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("kernel runs compared"), "{stdout}");
    assert!(lines[1].starts_with("epoch 1  phase 1"), "{stdout}");
}

/// A convolutional network with max-pooling and dropout verifies (the
/// masks are drawn from the step seed on both sides); `--verify-only`
/// stops before training.
#[test]
fn a_convolutional_network_with_dropout_verifies() {
    let out = nnc(&[
        "run",
        "models/conv_20_40.nnet",
        "--verify-only",
        "--verify-steps",
        "2",
        "--train-limit",
        "100",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(verified(&stdout).0, 2, "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "no epoch ran: {stdout}");
}

/// Verification covers at most the first epoch: 25 examples in batches of
/// 10 are 3 steps, the last one short (its own graph).
#[test]
fn verification_stops_at_the_end_of_the_first_epoch() {
    let out = nnc(&[
        "run",
        "models/mnist_784_30_10.nnet",
        "--verify-only",
        "--verify-steps",
        "50",
        "--train-limit",
        "25",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(verified(&stdout).0, 3, "{stdout}");
}

#[test]
fn zero_verify_steps_is_a_usage_error() {
    let out = nnc(&["run", "models/mnist_784_30_10.nnet", "--verify-steps", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

/// Every autoencoder of chapter 59 and the VAE, as shipped (noise, cost
/// expressions, transposed convolutions, parameters and batch means in
/// penalties): the JIT's kernels agree with the interpreter's on the first
/// two training steps.
#[test]
fn the_autoencoders_and_the_vae_verify() {
    for model in [
        "autoencoder_784_30_784",
        "autoencoder_deep",
        "autoencoder_denoising",
        "autoencoder_sparse",
        "autoencoder_sparse_kl",
        "autoencoder_conv",
        "autoencoder_contractive",
        "vae_mnist",
    ] {
        let file = format!("models/{model}.nnet");
        let out = nnc(&[
            "run",
            &file,
            "--verify-only",
            "--verify-steps",
            "2",
            "--train-limit",
            "256",
        ]);
        assert!(out.status.success(), "{model}: {}", text(&out.stderr));
        let (steps, largest) = verified(&text(&out.stdout));
        assert_eq!(steps, 2, "{model}");
        assert!(largest <= 1e-4, "{model}: {largest}");
    }
}
