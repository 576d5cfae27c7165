//! `nnc run`: training through the whole pipeline on the shipped MNIST.
//!
//! Each test runs the `nnc` binary, as a user would, on a model from
//! `models/` or on a small file written next to the test's scratch folder
//! (with absolute paths to `data/mnist/`), and reads what it prints and
//! logs. The runs are small: a subset of the training images, one or two
//! epochs.

mod common;

use common::{nnc, root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn scratch(name: &str) -> PathBuf {
    common::scratch("train", name)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The JSON lines of a log, parsed.
fn read_log(path: &Path) -> Vec<Value> {
    let log = std::fs::read_to_string(path).expect("the log was written");
    log.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// A small MNIST file: [784, 30, 10] trained on `train` images, measured on
/// 1,000 validation and 1,000 test images.
fn small_mnist(dir: &Path, name: &str, model: &str, train: &str) -> String {
    let mnist = root().join("data/mnist");
    let file = |f: &str| mnist.join(f).display().to_string();
    let source = format!(
        r#"{model}

data mnist {{
  let train_file = idx("{train_images}", labels: "{train_labels}")
  let test_file = idx("{test_images}", labels: "{test_labels}")
  train train_file[{train}]
  validation train_file[50_000..51_000]
  test test_file[..1_000]
  scale 1 / 255
  labels one_hot(10)
}}
"#,
        train_images = file("train-images-idx3-ubyte.gz"),
        train_labels = file("train-labels-idx1-ubyte.gz"),
        test_images = file("t10k-images-idx3-ubyte.gz"),
        test_labels = file("t10k-labels-idx1-ubyte.gz"),
    );
    let path = dir.join(name);
    std::fs::write(&path, source).unwrap();
    path.display().to_string()
}

const BOOK_NET: &str = r#"model net {
  input image: [784]
  layers {
    dense(30, act: sigmoid)
    dense(10, act: sigmoid)
  }
  cost cross_entropy
  regularize l2(5.0)
}

train net on mnist {
  optimizer sgd
  learning_rate 0.1
  batch_size 10
  epochs 2
  seed 3
}"#;

/// The book's [784, 30, 10] network with the chapter 25 settings (the file
/// in `models/`, unchanged), one epoch on the 50,000 training images: the
/// book reports about 93% validation accuracy after the first epoch (92.71%
/// here with seed 0, 92.59% on the 10,000 test images). With only the first
/// 10,000 training images one epoch at eta 0.1 reaches about 88%.
#[test]
fn book_network_reaches_the_books_accuracy_after_one_epoch() {
    let dir = scratch("book");
    let log = dir.join("log.jsonl");
    let started = Instant::now();
    let out = nnc(&[
        "run",
        "models/mnist_784_30_10.nnet",
        "--epochs",
        "1",
        "--quiet",
        "--log",
        &log.display().to_string(),
    ]);
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = read_log(&log);
    assert_eq!(lines.len(), 1);
    let validation = lines[0]["validation_accuracy"].as_f64().unwrap();
    let test = lines[0]["test_accuracy"].as_f64().unwrap();
    eprintln!(
        "book network, 1 epoch on 50,000 images: validation {:.2}%, test {:.2}%, {seconds:.1} s",
        100.0 * validation,
        100.0 * test
    );
    assert!(validation >= 0.92, "validation accuracy {validation}");
    assert!(test >= 0.90, "test accuracy {test}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("epoch 1  phase 1  lr 0.1  batch 10"),
        "{stdout}"
    );
}

/// The same file, seed and backend give the same metrics; another seed
/// gives others.
#[test]
fn same_file_seed_and_backend_give_identical_metrics() {
    let dir = scratch("determinism");
    let file = small_mnist(&dir, "net.nnet", BOOK_NET, "..2_000");
    let metrics = |seed: &str, log: &str| -> Vec<Value> {
        let log = dir.join(log);
        let log_arg = log.display().to_string();
        let out = nnc(&["run", &file, "--seed", seed, "--quiet", "--log", &log_arg]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        read_log(&log)
            .into_iter()
            .map(|mut line| {
                let object = line.as_object_mut().unwrap();
                for timing in ["seconds", "train_seconds", "examples_per_second"] {
                    object.remove(timing);
                }
                line
            })
            .collect()
    };
    let first = metrics("3", "a.jsonl");
    let second = metrics("3", "b.jsonl");
    let other = metrics("4", "c.jsonl");
    assert_eq!(first.len(), 2);
    assert_eq!(first, second);
    assert_ne!(first, other);
}

/// `--log` writes one JSON object per epoch with the documented keys.
#[test]
fn log_has_one_object_per_epoch_with_the_documented_keys() {
    let dir = scratch("log");
    let file = small_mnist(&dir, "net.nnet", BOOK_NET, "..1_000");
    let log = dir.join("log.jsonl");
    let out = nnc(&[
        "run",
        &file,
        "--epochs",
        "1",
        "--quiet",
        "--log",
        &log.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = read_log(&log);
    assert_eq!(lines.len(), 1, "--epochs 1 overrides the file's 2");
    let line = &lines[0];
    for key in [
        "epoch",
        "phase",
        "learning_rate",
        "batch_size",
        "train_cost",
        "validation_accuracy",
        "test_accuracy",
        "seconds",
        "examples_per_second",
    ] {
        assert!(line.get(key).is_some(), "no `{key}` in {line}");
    }
    assert_eq!(line["epoch"], 1);
    assert_eq!(line["phase"], 1);
    assert_eq!(line["learning_rate"], 0.1);
    assert_eq!(line["batch_size"], 10);
    for key in ["validation_accuracy", "test_accuracy"] {
        let accuracy = line[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy), "{key} {accuracy}");
    }
    assert!(line["train_cost"].as_f64().unwrap() > 0.0);
    assert!(line["examples_per_second"].as_f64().unwrap() > 0.0);
}

/// A learning rate of a million on a linear output with the quadratic cost
/// blows the weights up within a few batches.
#[test]
fn a_diverging_run_names_the_epoch_and_batch() {
    let dir = scratch("nan");
    let model = r#"model net {
  input image: [784]
  layers { dense(10, act: identity) }
  cost quadratic
}

train net on mnist {
  optimizer sgd
  learning_rate 1e6
  batch_size 10
  epochs 1
}"#;
    let file = small_mnist(&dir, "nan.nnet", model, "..1_000");
    let out = nnc(&["run", &file, "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("at epoch 1, batch "), "{stderr}");
    assert!(stderr.contains("lower learning rate"), "{stderr}");
}

/// `--check-numerics` looks at every value of every step: a diverging run
/// stops at the first tensor that goes non-finite, named with its layer,
/// before the cost does (on every CPU backend).
#[test]
fn check_numerics_names_the_tensor_that_went_non_finite() {
    let dir = scratch("numerics");
    let model = r#"model net {
  input image: [784]
  layers {
    dense(30, act: relu)
    dense(10, act: softmax)
  }
  cost log_likelihood
}

train net on mnist {
  optimizer sgd
  learning_rate 1e30
  batch_size 10
  epochs 1
}"#;
    let file = small_mnist(&dir, "numerics.nnet", model, "..1_000");
    for backend in ["jit", "interp"] {
        let plain = nnc(&["run", &file, "--quiet", "--backend", backend]);
        assert_eq!(plain.status.code(), Some(1));
        let checked = nnc(&[
            "run",
            &file,
            "--quiet",
            "--backend",
            backend,
            "--check-numerics",
        ]);
        assert_eq!(checked.status.code(), Some(1));
        let stderr = text(&checked.stderr);
        assert!(
            stderr.contains("training diverged: `"),
            "{backend}: {stderr}"
        );
        assert!(
            stderr.contains("became NaN or infinite at epoch 1, batch "),
            "{backend}: {stderr}"
        );
        assert!(
            stderr.contains("lower learning rate"),
            "{backend}: {stderr}"
        );
        // A tensor of a layer (`dense_1.z`, `grad(dense_2.weight)`, ...),
        // with its node, not the cost.
        let named = stderr
            .split("training diverged: `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .unwrap_or_default();
        assert!(named.contains("dense_"), "{backend}: {stderr}");
        assert!(named.contains("(%"), "{backend}: {stderr}");
        assert!(stderr.contains("(layer `dense_"), "{backend}: {stderr}");
    }
}

#[test]
fn a_missing_data_file_is_e0501() {
    let dir = scratch("missing");
    let path = dir.join("missing.nnet");
    let source = BOOK_NET.to_string()
        + "\n\ndata mnist {\n  train idx(\"nowhere-images.gz\", labels: \"nowhere-labels.gz\")\n  labels one_hot(10)\n}\n";
    std::fs::write(&path, source).unwrap();
    let out = nnc(&["run", &path.display().to_string(), "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error[E0501]"), "{stderr}");
    assert!(stderr.contains("nowhere-images.gz"), "{stderr}");
}

#[test]
fn a_file_that_is_not_idx_is_e0502() {
    let dir = scratch("magic");
    let path = dir.join("magic.nnet");
    let not_idx = root().join("tests/fixtures/err/data/not-idx-images-idx3-ubyte");
    let labels = root().join("data/mnist/train-labels-idx1-ubyte.gz");
    let source = BOOK_NET.to_string()
        + &format!(
            "\n\ndata mnist {{\n  train idx(\"{}\", labels: \"{}\")\n  labels one_hot(10)\n}}\n",
            not_idx.display(),
            labels.display()
        );
    std::fs::write(&path, source).unwrap();
    let out = nnc(&["run", &path.display().to_string(), "--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error[E0502]"), "{stderr}");
    assert!(stderr.contains("not-idx-images-idx3-ubyte"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = scratch("usage");
    let file = small_mnist(&dir, "net.nnet", BOOK_NET, "..100");
    let out = nnc(&["run", &file, "--backend", "gpu"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("interp"),
        "{}",
        text(&out.stderr)
    );
    let out = nnc(&[
        "run",
        &file,
        "--quiet",
        "--log",
        &dir.join("no/such/folder/log.jsonl").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot write the log"),
        "{}",
        text(&out.stderr)
    );
    let out = nnc(&["run", &file, "--train", "other"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`net` on `mnist`"),
        "{}",
        text(&out.stderr)
    );
}

/// The JIT trains like the interpreter: same file, seed and data give the
/// same accuracies within 0.3 points per epoch (the issue's bound), and the
/// JIT itself is deterministic.
#[test]
fn the_jit_backend_trains_like_the_interpreter() {
    let dir = scratch("jit");
    let file = small_mnist(&dir, "net.nnet", BOOK_NET, "..5_000");
    let run = |backend: &str, log: &str| -> Vec<Value> {
        let log = dir.join(log);
        let log_arg = log.display().to_string();
        let out = nnc(&[
            "run",
            &file,
            "--backend",
            backend,
            "--quiet",
            "--log",
            &log_arg,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        read_log(&log)
    };
    let interp = run("interp", "interp.jsonl");
    let jit = run("jit", "jit.jsonl");
    let again = run("jit", "jit2.jsonl");
    assert_eq!(interp.len(), 2);
    assert_eq!(jit.len(), 2);
    for (epoch, (a, b)) in interp.iter().zip(&jit).enumerate() {
        for key in ["validation_accuracy", "test_accuracy"] {
            let (a, b) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            assert!(
                (a - b).abs() <= 0.003,
                "epoch {}: {key} interp {a} jit {b}",
                epoch + 1
            );
        }
        let (a, b) = (
            a["train_cost"].as_f64().unwrap(),
            b["train_cost"].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= 1e-3 * a.abs(),
            "epoch {}: train cost interp {a} jit {b}",
            epoch + 1
        );
    }
    assert!(
        jit[1]["validation_accuracy"].as_f64().unwrap() > 0.85,
        "{:?}",
        jit[1]
    );
    let strip = |log: &[Value]| -> Vec<f64> {
        log.iter()
            .map(|l| l["validation_accuracy"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(strip(&jit), strip(&again), "the JIT is deterministic");
}

/// `--quiet` prints only the end of the run: the last epoch's line, no line
/// per epoch (without it, one line per epoch); the log keeps every epoch.
#[test]
fn quiet_prints_only_the_last_epoch_and_the_log_keeps_all() {
    let dir = scratch("quiet");
    let file = small_mnist(&dir, "net.nnet", BOOK_NET, "..500");
    let log = dir.join("quiet.jsonl");
    let log_arg = log.display().to_string();
    let out = nnc(&["run", &file, "--epochs", "3", "--quiet", "--log", &log_arg]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].starts_with("epoch 3  phase 1"), "{stdout}");
    assert_eq!(read_log(&log).len(), 3);
    // `-q` is the same; without it there is a line per epoch.
    let short = nnc(&["run", &file, "--epochs", "3", "-q"]);
    assert_eq!(text(&short.stdout).lines().count(), 1);
    let loud = nnc(&["run", &file, "--epochs", "3"]);
    let loud = text(&loud.stdout);
    let epochs: Vec<&str> = loud.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(epochs.len(), 3, "{loud}");
    // The quiet line is the loud run's last line (same seed), up to timing.
    let untimed = |line: &str| line.split("  ").take(5).collect::<Vec<_>>().join("  ");
    assert_eq!(untimed(lines[0]), untimed(epochs[2]));
}

/// A `--train-limit` beyond the training split trains on all of it and
/// says so.
#[test]
fn a_train_limit_beyond_the_split_is_named() {
    let dir = scratch("limit");
    let file = small_mnist(&dir, "net.nnet", BOOK_NET, "..300");
    let out = nnc(&["run", &file, "--epochs", "1", "-q", "--train-limit", "5000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "warning: `--train-limit 5000` is more than the training split holds (300 examples); \
             training on all 300"
        ),
        "{}",
        text(&out.stderr)
    );
}

/// A small ReLU conv net with momentum (conv 8 and 16 maps, dense 64, He
/// weights), one epoch on 3,000 images, with the biases as `bias_init`
/// gives them (the file's default when `None`).
fn relu_conv_validation(bias_init: Option<&str>, seed: &str) -> f64 {
    let dir = scratch(&format!(
        "relu-bias-{}-{seed}",
        bias_init.unwrap_or("default")
    ));
    let bias = bias_init.map_or(String::new(), |b| format!(", bias_init: {b}"));
    let model = format!(
        r#"model net {{
  input image: [1, 28, 28]
  layers {{
    conv2d(8, kernel: 3, act: relu, init: he{bias})
    max_pool(2)
    conv2d(16, kernel: 3, act: relu, init: he{bias})
    max_pool(2)
    flatten
    dense(64, act: relu, init: he{bias})
    dense(10, act: softmax)
  }}
  cost log_likelihood
}}

train net on mnist {{
  optimizer momentum(0.9)
  learning_rate 0.1
  batch_size 32
  epochs 1
}}"#
    );
    let file = small_mnist(&dir, "net.nnet", &model, "..3_000");
    let log = dir.join("log.jsonl");
    let out = nnc(&[
        "run",
        &file,
        "-q",
        "--seed",
        seed,
        "--log",
        &log.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    read_log(&log)[0]["validation_accuracy"].as_f64().unwrap()
}

/// ReLU layers start with zero biases by default: with the book's N(0, 1)
/// biases (its default for sigmoid nets) this momentum run can kill every
/// unit (10% validation, seed 1), with zeros it learns on every seed.
#[test]
fn relu_layers_start_with_zero_biases() {
    for seed in ["1", "2"] {
        let default = relu_conv_validation(None, seed);
        let zeros = relu_conv_validation(Some("zeros"), seed);
        assert_eq!(
            default, zeros,
            "the default for relu is zeros (seed {seed})"
        );
        assert!(default > 0.7, "seed {seed}: {default}");
    }
    let gaussian = relu_conv_validation(Some("gaussian(1.0)"), "1");
    assert!(gaussian < 0.2, "N(0, 1) biases, seed 1: {gaussian}");
}

/// `validation holdout(0.1, seed: 4)`: a seeded tenth of the training
/// split becomes the validation split and training goes without it; `nnc
/// eval --split validation` measures the same examples.
#[test]
fn a_holdout_validation_split_is_a_seeded_share_of_the_training_split() {
    let dir = scratch("holdout");
    let mnist = root().join("data/mnist");
    let file = |f: &str| mnist.join(f).display().to_string();
    let source = format!(
        r#"{BOOK_NET}

data mnist {{
  let source = idx("{images}", labels: "{labels}")
  train source[..2_000]
  validation holdout(0.1, seed: 4)
  scale 1 / 255
  labels one_hot(10)
}}
"#,
        images = file("train-images-idx3-ubyte.gz"),
        labels = file("train-labels-idx1-ubyte.gz"),
    );
    let path = dir.join("holdout.nnet");
    std::fs::write(&path, source).unwrap();
    let (log, ckpt) = (dir.join("run.jsonl"), dir.join("ckpt"));
    let out = nnc(&[
        "run",
        &path.display().to_string(),
        "-q",
        "--log",
        &log.display().to_string(),
        "--checkpoint",
        &ckpt.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = read_log(&log);
    assert_eq!(
        records[0]["examples"], 1_800,
        "training goes without the holdout"
    );
    let accuracy = records.last().unwrap()["validation_accuracy"]
        .as_f64()
        .unwrap();
    assert!(accuracy > 0.6, "the held-out tenth is measured: {accuracy}");
    let report = common::eval_json(&path, &ckpt, "validation");
    assert_eq!(report["examples"], 200);
    assert!((report["accuracy"].as_f64().unwrap() - accuracy).abs() < 1e-9);
}

/// Writes `images` (8x8 bytes each) and their labels as IDX files.
fn write_idx_pair(dir: &Path, name: &str, images: &[[u8; 64]], labels: &[u8]) {
    let mut data = vec![0, 0, 8, 3];
    for d in [images.len() as u32, 8, 8] {
        data.extend_from_slice(&d.to_be_bytes());
    }
    for image in images {
        data.extend_from_slice(image);
    }
    std::fs::write(dir.join(format!("{name}-images.idx")), data).unwrap();
    let mut data = vec![0, 0, 8, 1];
    data.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    data.extend_from_slice(labels);
    std::fs::write(dir.join(format!("{name}-labels.idx")), data).unwrap();
}

/// A 3-pixel bar on an 8x8 image: horizontal (class 0) or vertical (class
/// 1), centred on (3 + dy, 3 + dx).
fn bar(class: u8, dy: isize, dx: isize) -> [u8; 64] {
    let mut image = [0u8; 64];
    for k in -1..=1isize {
        let (y, x) = if class == 0 {
            (3 + dy, 3 + dx + k)
        } else {
            (3 + dy + k, 3 + dx)
        };
        image[(y * 8 + x) as usize] = 255;
    }
    image
}

/// `augment shift(1)` teaches what the training images alone do not: the
/// training bars all sit in the centre, the validation bars are moved by
/// one pixel. Without augmentation the bars moved across their length
/// land on pixels training never saw; with it the net has seen every
/// one-pixel move and classifies them. Each run is reproducible, and
/// validation inputs are never changed.
#[test]
fn shift_augmentation_teaches_bars_moved_by_one_pixel() {
    let dir = scratch("augment");
    let mut train_images = Vec::new();
    let mut train_labels = Vec::new();
    for i in 0..200u8 {
        train_images.push(bar(i % 2, 0, 0));
        train_labels.push(i % 2);
    }
    write_idx_pair(&dir, "train", &train_images, &train_labels);
    let (mut moved, mut moved_labels) = (Vec::new(), Vec::new());
    for class in 0..2u8 {
        for (dy, dx) in [
            (-1, 0),
            (1, 0),
            (0, -1),
            (0, 1),
            (-1, -1),
            (-1, 1),
            (1, -1),
            (1, 1),
        ] {
            moved.push(bar(class, dy, dx));
            moved_labels.push(class);
        }
    }
    write_idx_pair(&dir, "moved", &moved, &moved_labels);
    let file = |augment: &str| {
        let source = format!(
            r#"model bars {{
  input picture: [1, 8, 8]
  layers {{
    flatten
    dense(32, act: relu)
    dense(2, act: softmax)
  }}
  cost log_likelihood
}}

data shapes {{
  train idx("train-images.idx", labels: "train-labels.idx")
  validation idx("moved-images.idx", labels: "moved-labels.idx")
  scale 1 / 255
  labels one_hot(2)
  {augment}
}}

train bars on shapes {{
  optimizer adam
  learning_rate 0.01
  batch_size 10
  epochs 15
  seed 2
}}
"#
        );
        let name = if augment.is_empty() {
            "plain.nnet"
        } else {
            "shifted.nnet"
        };
        let path = dir.join(name);
        std::fs::write(&path, source).unwrap();
        path.display().to_string()
    };
    let run = |path: &str, log: &str| {
        let log = dir.join(log);
        let out = nnc(&["run", path, "-q", "--log", &log.display().to_string()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        read_log(&log)
    };
    let (plain, shifted) = (file(""), file("augment shift(1)"));
    let plain_log = run(&plain, "plain.jsonl");
    let shifted_log = run(&shifted, "shifted.jsonl");
    let accuracy = |log: &[Value]| log.last().unwrap()["validation_accuracy"].as_f64().unwrap();
    let (without, with) = (accuracy(&plain_log), accuracy(&shifted_log));
    assert!(with >= 0.99, "with one-pixel shifts: {with}");
    assert!(without <= 0.85, "without: {without}");
    // The same file and seed give the same augmented batches.
    let again = run(&shifted, "again.jsonl");
    let costs = |log: &[Value]| -> Vec<f64> {
        log.iter()
            .map(|r| r["train_cost"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(costs(&again), costs(&shifted_log));
    assert_ne!(costs(&plain_log), costs(&shifted_log));
}

/// A second cost compares an output with a model input
/// (`cost cross_entropy(reconstruction, target: image, weight: w)`): the
/// model's cost is the labels' cost plus `w` times it, every head is
/// trained (no W0106), and the reconstruction improves with training.
/// `nnc eval` of one checkpoint under files that differ only in `w` shows
/// the sum: the cost grows by the reconstruction's share per unit of `w`.
#[test]
fn a_cost_against_an_input_trains_the_reconstruction_head() {
    let dir = scratch("input-cost");
    let model = |cost: &str| {
        format!(
            r#"model two_heads {{
  input image: [784]
  let hidden = dense(image, 30, act: sigmoid)
  output digit = dense(hidden, 10, act: softmax)
  output reconstruction = dense(hidden, 784, act: sigmoid)
  cost log_likelihood(digit)
  {cost}
}}

train two_heads on mnist {{
  optimizer adam
  learning_rate 0.01
  batch_size 20
  epochs 3
  seed 1
}}"#
        )
    };
    let file_with = |name: &str, cost: &str| small_mnist(&dir, name, &model(cost), "..1_000");
    let weighted =
        |w: &str| format!("cost cross_entropy(reconstruction, target: image, weight: {w})");
    let trained = file_with("w1.nnet", &weighted("1"));
    let ckpt = dir.join("ckpt");
    let log = dir.join("w1.jsonl");
    let out = nnc(&[
        "run",
        &trained,
        "-q",
        "--checkpoint",
        &ckpt.display().to_string(),
        "--log",
        &log.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Each term is measured on its own, and the terms add up to the cost.
    for record in read_log(&log) {
        let get = |key: &str| {
            record[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key}: {record}"))
        };
        let sum = get("validation_cost_digit") + get("validation_cost_reconstruction");
        assert!(
            (sum - get("validation_cost")).abs() < 1e-6 * sum,
            "{record}"
        );
    }
    assert!(
        !text(&out.stderr).contains("W0106"),
        "{}",
        text(&out.stderr)
    );
    let eval_cost = |file: &str, epoch: usize| -> f64 {
        let weights = ckpt.join(format!("epoch-{epoch:04}.safetensors"));
        let out = nnc(&[
            "eval",
            file,
            "--weights",
            &weights.display().to_string(),
            "--split",
            "validation",
            "--format",
            "json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["cost"].as_f64().unwrap()
    };
    let labels_only = file_with("w0.nnet", "");
    let (w2, w3) = (
        file_with("w2.nnet", &weighted("2")),
        file_with("w3.nnet", &weighted("3")),
    );
    let reconstruction = |epoch| eval_cost(&trained, epoch) - eval_cost(&labels_only, epoch);
    let (first, last) = (reconstruction(1), reconstruction(3));
    assert!(
        first > 0.0 && last < 0.95 * first,
        "reconstruction cost {first} -> {last}"
    );
    let (c1, c2, c3) = (eval_cost(&trained, 3), eval_cost(&w2, 3), eval_cost(&w3, 3));
    assert!(((c2 - c1) - last).abs() < 1e-3 * last, "{c1} {c2} {last}");
    assert!(((c3 - c2) - last).abs() < 1e-3 * last, "{c2} {c3} {last}");
}

/// The autoencoders of chapter 59 (standard 784-30-784, multilayer
/// 784-256-64-256-784, denoising with `mask_noise(0.3)` and with
/// `gaussian_noise(0.3)`, convolutional
/// with a transposed convolution, and with bilinear upsampling), trained
/// briefly on 2,000 images: each reconstructs the validation images better
/// than the pixels' means do (R² above 0.25;
/// at initialisation it is far below 0), better after five epochs than
/// after one, and reads no labels (no accuracy in the log).
#[test]
fn autoencoders_learn_to_reconstruct_their_images() {
    let dir = scratch("autoencoders");
    for (name, layers) in [
        ("standard", "dense(30, act: sigmoid)\n    dense(784, act: sigmoid)"),
        (
            "deep",
            "dense(256, act: relu)\n    dense(64, act: relu)\n    dense(256, act: relu)\n    dense(784, act: sigmoid)",
        ),
        (
            "denoising",
            "mask_noise(0.3)\n    dense(30, act: sigmoid)\n    dense(784, act: sigmoid)",
        ),
        (
            "gaussian_denoising",
            "gaussian_noise(0.3)\n    dense(30, act: sigmoid)\n    dense(784, act: sigmoid)",
        ),
        (
            "convolutional",
            "reshape([1, 28, 28])\n    conv2d(8, 3, stride: 2, padding: same, act: relu)\n    \
             conv2d_transpose(1, 3, stride: 2, padding: same, act: sigmoid)\n    flatten",
        ),
        (
            "upsampling",
            "reshape([1, 28, 28])\n    conv2d(8, 3, stride: 2, padding: same, act: relu)\n    \
             upsample(2, mode: bilinear)\n    conv2d(1, 3, padding: same, act: sigmoid)\n    flatten",
        ),
    ] {
        let model = format!(
            r#"model autoencoder {{
  input image: [784]
  layers {{
    {layers}
  }}
  cost cross_entropy(target: image)
}}

train autoencoder on mnist {{
  optimizer adam
  learning_rate 0.02
  batch_size 20
  epochs 5
  seed 1
}}"#
        );
        let file = small_mnist(&dir, &format!("{name}.nnet"), &model, "..2_000");
        let log = dir.join(format!("{name}.jsonl"));
        let out = nnc(&["run", &file, "-q", "--eval-limit", "500", "--log", &log.display().to_string()]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let records = read_log(&log);
        let r2 = |r: &Value| r["validation_r2"].as_f64().unwrap();
        let rmse = |r: &Value| r["validation_rmse"].as_f64().unwrap();
        let (first, last) = (&records[0], records.last().unwrap());
        assert!(r2(last) > 0.25, "{name}: R² {}", r2(last));
        assert!(rmse(last) < rmse(first), "{name}: {} -> {}", rmse(first), rmse(last));
        assert!(last.get("validation_accuracy").is_none(), "{name}: {last}");
    }
}

/// Tensor expressions (elementwise functions, operators with numbers,
/// division, min/max, sums and means) train on the interpreter and the JIT
/// to the same costs, and `--verify` finds the JIT's kernels equal to the
/// interpreter's ops.
#[test]
fn tensor_expressions_train_alike_on_the_interpreter_and_the_jit() {
    let dir = scratch("expressions");
    let mut table = String::from("a,b,c,d,e,f,y\n");
    let mut rng = common::Lcg(5);
    for _ in 0..120 {
        let xs: Vec<f64> = (0..6)
            .map(|_| f64::from(rng.range(0, 2000)) / 1000.0 - 1.0)
            .collect();
        let class = if xs.iter().sum::<f64>() < 0.0 {
            0
        } else if xs[0] > 0.0 {
            1
        } else {
            2
        };
        let cells: Vec<String> = xs.iter().map(|x| format!("{x:.3}")).collect();
        table.push_str(&format!("{},{class}\n", cells.join(",")));
    }
    std::fs::write(dir.join("table.csv"), table).unwrap();
    let file = dir.join("expressions.nnet");
    std::fs::write(
        &file,
        r#"model expressions {
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
}

data table {
  train csv("table.csv", label: "y", header: true)
  validation holdout(0.25)
  labels one_hot(3)
}

train expressions on table {
  optimizer adam
  learning_rate 0.01
  batch_size 10
  epochs 2
}
"#,
    )
    .unwrap();
    let path = file.display().to_string();
    let costs = |backend: &str| -> Vec<f64> {
        let log = dir.join(format!("{backend}.jsonl"));
        let out = nnc(&[
            "run",
            &path,
            "-q",
            "--backend",
            backend,
            "--log",
            &log.display().to_string(),
        ]);
        assert!(out.status.success(), "{backend}: {}", text(&out.stderr));
        read_log(&log)
            .iter()
            .map(|r| r["train_cost"].as_f64().unwrap())
            .collect()
    };
    let (interp, jit) = (costs("interp"), costs("jit"));
    for (a, b) in interp.iter().zip(&jit) {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "{interp:?} vs {jit:?}"
        );
    }
    let verify = nnc(&["run", &path, "--verify-only"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    assert!(text(&verify.stdout).contains("the JIT agrees with the interpreter"));
}

/// `labels none`: images without a labels file train an autoencoder, whose
/// cost compares the output with the input; its records hold no accuracy.
/// `--plot` draws its validation inputs beside their reconstructions, and
/// `nnc sample` refuses it, naming what a sampler needs.
#[test]
fn an_autoencoder_trains_on_unlabelled_images() {
    let dir = scratch("unlabelled");
    let images = root().join("data/mnist/train-images-idx3-ubyte.gz");
    let file = dir.join("unlabelled.nnet");
    std::fs::write(
        &file,
        format!(
            r#"model autoencoder {{
  input image: [784]
  layers {{
    dense(64, act: relu)
    dense(784, act: sigmoid)
  }}
  cost cross_entropy(target: image)
}}

data pictures {{
  let all = idx("{}")
  train all[..1_500]
  validation all[1_500..2_000]
  scale 1 / 255
  labels none
}}

train autoencoder on pictures {{
  optimizer adam
  learning_rate 0.005
  batch_size 20
  epochs 3
  seed 1
}}
"#,
            images.display()
        ),
    )
    .unwrap();
    let log = dir.join("run.jsonl");
    let (plots, checkpoints) = (dir.join("plots"), dir.join("ckpt"));
    let out = nnc(&[
        "run",
        &file.display().to_string(),
        "-q",
        "--log",
        &log.display().to_string(),
        "--plot",
        &plots.display().to_string(),
        "--checkpoint",
        &checkpoints.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = read_log(&log);
    let last = records.last().unwrap();
    assert!(last["validation_r2"].as_f64().unwrap() > 0.3, "{last}");
    assert!(last.get("validation_accuracy").is_none());
    let check = nnc(&["check", "--data", &file.display().to_string()]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    // 16 validation images beside their reconstructions, 8 images (4
    // pairs) a row: 2 x 28 pixels per image, 2-pixel gutters.
    let (width, height, pixels) = read_gray_png(&plots.join("reconstructions.png"));
    assert_eq!((width, height), (8 * 56 + 9 * 2, 4 * 56 + 5 * 2));
    // Each reconstruction resembles its input: their pixels correlate.
    let cell = |column: usize, row: usize| -> Vec<f64> {
        let (x0, y0) = (2 + column * 58, 2 + row * 58);
        (0..56)
            .flat_map(|y| (0..56).map(move |x| (x0 + x, y0 + y)))
            .map(|(x, y)| pixels[y * width + x] as f64)
            .collect()
    };
    for pair in 0..4 {
        let r = correlation(&cell(2 * pair, 0), &cell(2 * pair + 1, 0));
        assert!(r > 0.6, "pair {pair}: correlation {r}");
    }
    assert!(std::fs::read_to_string(plots.join("reconstructions.svg"))
        .unwrap()
        .contains("epoch 3: inputs (left) and their reconstructions (right)"));

    let sample = nnc(&[
        "sample",
        &file.display().to_string(),
        "--weights",
        &checkpoints.display().to_string(),
        "-o",
        &dir.join("samples.png").display().to_string(),
    ]);
    assert_eq!(sample.status.code(), Some(1));
    assert!(
        text(&sample.stderr)
            .contains("model `autoencoder` has no sampler: its output `output` reads no noise"),
        "{}",
        text(&sample.stderr)
    );
    assert!(!dir.join("samples.png").exists());
}

/// A grayscale PNG's width, height and pixels.
fn read_gray_png(path: &Path) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    pixels.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, pixels)
}

/// The Pearson correlation of two equally long series.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb) * (y - mb)).sum();
    cov / (va * vb).sqrt()
}

/// The sparse autoencoder: `cost 0.1 * sum(abs(code))` adds an L1 activity
/// penalty to the reconstruction cost. `nnc eval` under the file without
/// the penalty gives the reconstruction alone, so the difference is the
/// penalty: training with it leaves a code far less active than training
/// without it.
#[test]
fn a_cost_expression_makes_a_sparse_code() {
    let dir = scratch("sparse");
    let model = |penalty: &str| {
        format!(
            r#"model sparse {{
  input image: [784]
  let code = dense(image, 64, act: relu)
  output reconstruction = dense(code, 784, act: sigmoid)
  cost cross_entropy(reconstruction, target: image)
  {penalty}
}}

train sparse on mnist {{
  optimizer adam
  learning_rate 0.005
  batch_size 20
  epochs 3
  seed 1
}}"#
        )
    };
    let penalty = "cost 0.1 * sum(abs(code))";
    let with = small_mnist(&dir, "with.nnet", &model(penalty), "..2_000");
    let without = small_mnist(&dir, "without.nnet", &model(""), "..2_000");
    let train = |file: &str, folder: &str| {
        let ckpt = dir.join(folder);
        let out = nnc(&[
            "run",
            file,
            "-q",
            "--checkpoint",
            &ckpt.display().to_string(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        ckpt.join("epoch-0003.safetensors")
    };
    let eval_cost = |file: &str, weights: &Path| -> f64 {
        let out = nnc(&[
            "eval",
            file,
            "--weights",
            &weights.display().to_string(),
            "--split",
            "validation",
            "--format",
            "json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        report["cost"].as_f64().unwrap()
    };
    let (sparse, dense) = (train(&with, "with"), train(&without, "without"));
    let activity = |weights: &Path| eval_cost(&with, weights) - eval_cost(&without, weights);
    let (sparse_activity, dense_activity) = (activity(&sparse), activity(&dense));
    assert!(sparse_activity > 0.0, "{sparse_activity}");
    assert!(
        sparse_activity < 0.8 * dense_activity,
        "penalty {sparse_activity} trained with it, {dense_activity} without"
    );
}

/// The variational autoencoder of `models/vae_mnist.nnet` (normal noise by
/// the reparameterisation trick, the KL term as a cost expression), briefly
/// on 2,000 images: its negative ELBO falls epoch after epoch, both terms
/// are reported under their names (`kl` is the `let` the cost names) and
/// the KL term is positive; the total is logged under the model's
/// `cost_name`. Evaluation samples the code from a fixed seed: `nnc eval`
/// of the checkpoint repeats the run's figure exactly, and another
/// `--seed` draws other codes, so another figure.
#[test]
fn a_variational_autoencoder_lowers_its_negative_elbo() {
    let dir = scratch("vae");
    let source = std::fs::read_to_string(root().join("models/vae_mnist.nnet")).unwrap();
    let model_and_train: String = source
        .split("data mnist {")
        .next()
        .unwrap()
        .to_string()
        + "train vae on mnist {\n  optimizer adam\n  learning_rate 0.002\n  batch_size 50\n  epochs 3\n  seed 1\n}";
    let file = small_mnist(&dir, "vae.nnet", &model_and_train, "..2_000");
    let log = dir.join("run.jsonl");
    let checkpoints = dir.join("ckpt");
    let out = nnc(&[
        "run",
        &file,
        "-q",
        "--log",
        &log.display().to_string(),
        "--checkpoint",
        &checkpoints.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = read_log(&log);
    let elbo: Vec<f64> = records
        .iter()
        .map(|r| r["validation_cost"].as_f64().unwrap())
        .collect();
    assert!(elbo.windows(2).all(|w| w[1] < w[0]), "{elbo:?}");
    let last = records.last().unwrap();
    assert_eq!(last["validation_negative_elbo"].as_f64(), Some(elbo[2]));
    let (reconstruction, kl) = (
        last["validation_cost_reconstruction"].as_f64().unwrap(),
        last["validation_cost_kl"].as_f64().unwrap(),
    );
    assert!(kl > 0.0 && reconstruction > 0.0, "{last}");
    assert!((reconstruction + kl - elbo[2]).abs() < 1e-6 * elbo[2]);

    let eval = |seed: Option<&str>| {
        let weights = checkpoints.display().to_string();
        let mut args = vec!["eval", &file, "--weights", &weights, "--format", "json"];
        if let Some(seed) = seed {
            args.extend(["--seed", seed]);
        }
        let out = nnc(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let test = last["test_cost"].as_f64().unwrap();
    let same = eval(None);
    assert_eq!(same["cost_name"], "negative_elbo");
    let repeated = same["negative_elbo"].as_f64().unwrap();
    assert!(
        (repeated - test).abs() < 1e-9 * test,
        "{repeated} vs {test}"
    );
    let other = eval(Some("2"))["negative_elbo"].as_f64().unwrap();
    assert!(other != repeated && (other - repeated).abs() < 0.05 * repeated);

    // Samples from the prior: 9 codes decoded into a 3 x 3 grid of digits
    // (brighter strokes on a dark ground, as MNIST's), other codes for
    // another seed; a walk from test image 0 to test image 1 starts near
    // image 0's reconstruction and ends near image 1's.
    let sample = |extra: &[&str], name: &str| {
        let out_path = dir.join(name);
        let mut args = vec![
            "sample".to_string(),
            file.clone(),
            "--weights".into(),
            checkpoints.display().to_string(),
            "-o".into(),
            out_path.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = nnc(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(out_path.with_extension("svg").exists());
        read_gray_png(&out_path)
    };
    let (width, height, first) = sample(&["--count", "9"], "prior.png");
    assert_eq!((width, height), (3 * 56 + 4 * 2, 3 * 56 + 4 * 2));
    let mean = first.iter().map(|&p| p as f64).sum::<f64>() / first.len() as f64;
    assert!((10.0..110.0).contains(&mean), "mean pixel {mean}");
    let (_, _, again) = sample(&["--count", "9"], "again.png");
    assert_eq!(first, again);
    let (_, _, other) = sample(&["--count", "9", "--seed", "2"], "other.png");
    assert_ne!(first, other);
    let (width, height, walk) = sample(&["--interpolate", "0,1", "--count", "5"], "walk.png");
    assert_eq!((width, height), (5 * 56 + 6 * 2, 56 + 2 * 2));
    let cell = |column: usize| -> Vec<f64> {
        let x0 = 2 + column * 58;
        (0..56)
            .flat_map(|y| (0..56).map(move |x| (x0 + x, 2 + y)))
            .map(|(x, y)| walk[y * width + x] as f64)
            .collect()
    };
    let (start, middle, end) = (cell(0), cell(2), cell(4));
    assert!(correlation(&start, &end) < correlation(&start, &middle));
    assert!(correlation(&start, &end) < correlation(&middle, &end));

    // Usage errors name what is wrong and write nothing.
    let weights = checkpoints.display().to_string();
    for (extra, says) in [
        (vec!["--from", "nothing"], "has no tensor `nothing`"),
        (vec!["--from", "encoder.mu"], "cannot be decoded from it"),
        (
            vec!["--interpolate", "0,5000"],
            "has 1000 examples, so no example 5000",
        ),
        (vec!["--interpolate", "zero"], "give two example indices"),
    ] {
        let out_path = dir.join("refused.png").display().to_string();
        let mut args = vec![
            "sample",
            file.as_str(),
            "--weights",
            &weights,
            "-o",
            &out_path,
        ];
        args.extend(extra.iter().copied());
        let out = nnc(&args);
        assert!(!out.status.success(), "{extra:?}");
        assert!(
            text(&out.stderr).contains(says),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert!(!dir.join("refused.png").exists(), "{extra:?}");
    }
    let jpeg = dir.join("grid.jpg").display().to_string();
    let out = nnc(&["sample", &file, "--weights", &weights, "-o", &jpeg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("name it `.png` or `.svg`"));
}

/// A table of 8 columns driven by 2 hidden factors, written as `csv(path)`
/// without a label column: every column an input.
fn unlabelled_table(dir: &Path) {
    let mut rng = common::Lcg(11);
    let mut table = String::from("c0,c1,c2,c3,c4,c5,c6,c7\n");
    for _ in 0..400 {
        let (u, v) = (
            f64::from(rng.range(0, 2001)) / 1000.0 - 1.0,
            f64::from(rng.range(0, 2001)) / 1000.0 - 1.0,
        );
        let cells: Vec<String> = (0..8)
            .map(|j| {
                let (a, b) = ((j as f64 * 0.7).cos(), (j as f64 * 1.3).sin());
                format!("{:.4}", (a * u + b * v).tanh())
            })
            .collect();
        table.push_str(&cells.join(","));
        table.push('\n');
    }
    std::fs::write(dir.join("factors.csv"), table).unwrap();
}

/// `labels none` on a CSV table: `csv(path)` without `label:` feeds every
/// column to the model; an autoencoder with `cost quadratic(target: x)`
/// trains on it (its validation RMSE falls by half, R² ends above 0.8),
/// `nnc check --data` passes, a model whose cost reads labels is E0407 on
/// the same data, and `csv(path)` in labelled data still needs its
/// `label:` (E0105).
#[test]
fn an_autoencoder_trains_on_an_unlabelled_table() {
    let dir = scratch("unlabelled-csv");
    unlabelled_table(&dir);
    let file = |name: &str, cost: &str, labels: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!(
                r#"model squeeze {{
  input x: [8]
  layers {{
    dense(3, act: tanh)
    dense(8)
  }}
  {cost}
}}

data table {{
  train csv("factors.csv")
  validation holdout(0.2)
  labels {labels}
}}

train squeeze on table {{
  optimizer adam
  learning_rate 0.02
  batch_size 16
  epochs 12
  seed 1
}}
"#
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let autoencoder = file("ae.nnet", "cost quadratic(target: x)", "none");
    let check = nnc(&["check", "--data", &autoencoder]);
    assert!(check.status.success(), "{}", text(&check.stderr));
    let log = dir.join("run.jsonl");
    let checkpoints = dir.join("ckpt").display().to_string();
    let out = nnc(&[
        "run",
        &autoencoder,
        "-q",
        "--log",
        &log.display().to_string(),
        "--checkpoint",
        &checkpoints,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // `nnc predict` gives the reconstruction, 8 values, not class
    // probabilities; a row of 9 values is refused, naming the 8 features.
    std::fs::write(dir.join("row.csv"), "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8\n").unwrap();
    std::fs::write(
        dir.join("long.csv"),
        "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9\n",
    )
    .unwrap();
    let predict = |input: &str| {
        let path = dir.join(input).display().to_string();
        nnc(&[
            "predict",
            &autoencoder,
            "--weights",
            &checkpoints,
            &path,
            "--format",
            "json",
        ])
    };
    let out = predict("row.csv");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows[0]["outputs"].as_array().map(Vec::len),
        Some(8),
        "{rows}"
    );
    assert!(
        rows[0].get("probabilities").is_none_or(Value::is_null),
        "{rows}"
    );
    let out = predict("long.csv");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("8 features"),
        "{}",
        text(&out.stderr)
    );
    let records = read_log(&log);
    let rmse = |r: &Value| r["validation_rmse"].as_f64().unwrap();
    let (first, last) = (&records[0], records.last().unwrap());
    assert!(
        rmse(last) < 0.5 * rmse(first),
        "{} -> {}",
        rmse(first),
        rmse(last)
    );
    assert!(last["validation_r2"].as_f64().unwrap() > 0.8, "{last}");
    assert!(last.get("validation_accuracy").is_none(), "{last}");

    let labelled_cost = file("labels.nnet", "cost quadratic", "none");
    let refused = nnc(&["check", &labelled_cost]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("E0407"),
        "{}",
        text(&refused.stderr)
    );
    let no_label = file("value.nnet", "cost quadratic(target: x)", "value");
    let refused = nnc(&["check", &no_label]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("E0105") && stderr.contains("missing argument `label` for `csv`"),
        "{stderr}"
    );
}

/// `nnc eval --corrupt`: the standard and the denoising autoencoder of
/// chapter 59 (as the shipped files write them, 20 epochs on 2,000 images)
/// measured on masked test images against the clean ones. Masking 30% of
/// the pixels makes the standard model's reconstruction worse (larger MSE,
/// smaller R²) and the denoising model rebuilds masked images better than
/// the standard one; the figures repeat with the same seed and change with
/// another; the JSON names the corruption and leaves out the in-graph cost
/// (which compares with the corrupted input), and MSE is RMSE².
#[test]
fn eval_corrupt_measures_reconstructions_of_masked_images() {
    let dir = scratch("corrupt");
    let eval = |file: &str, ckpt: &Path, extra: &[&str]| -> Value {
        let weights = ckpt.display().to_string();
        let mut args = vec!["eval", file, "--weights", &weights, "--format", "json"];
        args.extend_from_slice(extra);
        let out = nnc(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let mse = |report: &Value| report["mse"].as_f64().unwrap();
    let mut masked_mse = Vec::new();
    for (name, layers) in [
        (
            "standard",
            "dense(30, act: sigmoid)\n    dense(784, act: sigmoid)",
        ),
        (
            "denoising",
            "mask_noise(0.3)\n    dense(30, act: sigmoid)\n    dense(784, act: sigmoid)",
        ),
    ] {
        let model = format!(
            r#"model autoencoder {{
  input image: [784]
  layers {{
    {layers}
  }}
  cost cross_entropy(target: image)
}}

train autoencoder on mnist {{
  optimizer adam
  learning_rate 0.01
  batch_size 10
  epochs 20
  seed 1
}}"#
        );
        let file = small_mnist(&dir, &format!("{name}.nnet"), &model, "..2_000");
        let ckpt = dir.join(format!("{name}-ckpt"));
        let out = nnc(&[
            "run",
            &file,
            "-q",
            "--eval-limit",
            "200",
            "--checkpoint",
            &ckpt.display().to_string(),
        ]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let clean = eval(&file, &ckpt, &[]);
        assert!(
            clean.get("corrupt").is_none() && clean["cost"].is_number(),
            "{clean}"
        );
        let masked = eval(&file, &ckpt, &["--corrupt", "mask(0.3)"]);
        assert_eq!(masked["corrupt"], "mask(0.3)", "{masked}");
        assert_eq!(masked["corrupt_seed"], 1, "{masked}");
        assert!(masked.get("cost").is_none(), "{masked}");
        assert_eq!(masked["examples"], 1000);
        for report in [&clean, &masked] {
            let rmse = report["rmse"].as_f64().unwrap();
            assert!((mse(report) - rmse * rmse).abs() < 1e-12, "{report}");
        }
        let again = eval(&file, &ckpt, &["--corrupt", "mask(0.3)"]);
        assert_eq!(mse(&again), mse(&masked), "{name}: the same seed repeats");
        let other = eval(&file, &ckpt, &["--corrupt", "mask(0.3)", "--seed", "7"]);
        assert_eq!(other["corrupt_seed"], 7);
        assert_ne!(
            mse(&other),
            mse(&masked),
            "{name}: another seed draws other masks"
        );
        assert!(
            (mse(&other) - mse(&masked)).abs() < 0.05 * mse(&masked),
            "{name}: {} vs {}",
            mse(&other),
            mse(&masked)
        );
        if name == "standard" {
            let r2 = |r: &Value| r["r2"].as_f64().unwrap();
            assert!(
                mse(&masked) > 1.2 * mse(&clean) && r2(&masked) < r2(&clean),
                "standard: clean {clean}\nmasked {masked}"
            );
            let noisy = eval(&file, &ckpt, &["--corrupt", "gaussian(0.3)"]);
            assert_eq!(noisy["corrupt"], "gaussian(0.3)");
            assert!(mse(&noisy) > mse(&clean), "clean {clean}\nnoisy {noisy}");
            let out = nnc(&[
                "eval",
                &file,
                "--weights",
                &ckpt.display().to_string(),
                "--corrupt",
                "mask(0.3)",
            ]);
            let shown = text(&out.stdout);
            assert!(
                shown.contains("corrupt   mask(0.3) (seed 1)")
                    && shown.contains(&format!("mse       {:.6}\n", mse(&masked)))
                    && !shown.lines().any(|line| line.starts_with("cost")),
                "{shown}"
            );
        }
        masked_mse.push(mse(&masked));
    }
    // Chapter 59's claim, at this small scale too (0.035 against 0.027).
    assert!(
        masked_mse[1] < masked_mse[0],
        "masked MSE: standard {}, denoising {}",
        masked_mse[0],
        masked_mse[1]
    );
}

/// Trains the model of shipped file `model` (its model part) briefly on
/// 2,000 images with its penalty weight `shipped` (as written in the file,
/// e.g. `0.1 * jacobian`) replaced by each of `weights`; asserts that each
/// run reconstructs (R² above 0.25) and returns, per weight, the penalty
/// term logged as `validation_cost_TERM` divided by the weight.
fn penalty_per_weight(model: &str, shipped: &str, weights: &[&str], term: &str) -> Vec<f64> {
    let dir = scratch(&format!("penalty-{term}"));
    let source = std::fs::read_to_string(root().join(model)).unwrap();
    let model = source.split("data mnist {").next().unwrap();
    assert!(model.contains(shipped), "{shipped}");
    weights
        .iter()
        .map(|weight| {
            // The shipped weight is the pattern's first word.
            let rest = shipped.find(' ').map_or("", |at| &shipped[at..]);
            let body = model.replace(shipped, &format!("{weight}{rest}"))
                + "train autoencoder on mnist {\n  optimizer adam\n  learning_rate 0.01\n  batch_size 20\n  epochs 5\n  seed 1\n}";
            let file = small_mnist(&dir, &format!("w{weight}.nnet"), &body, "..2_000");
            let log = dir.join(format!("w{weight}.jsonl"));
            let log_path = log.display().to_string();
            let out = nnc(&["run", &file, "-q", "--eval-limit", "500", "--log", &log_path]);
            assert!(out.status.success(), "{}", text(&out.stderr));
            let records = read_log(&log);
            let last = records.last().unwrap();
            let r2 = last["validation_r2"].as_f64().unwrap();
            assert!(r2 > 0.25, "{weight}: {last}");
            let value = last[format!("validation_cost_{term}")].as_f64().unwrap();
            value / weight.parse::<f64>().unwrap()
        })
        .collect()
}

/// The contractive autoencoder of `models/autoencoder_contractive.nnet`
/// (its penalty reads the encoder's weights, `weight(encoder)`) at two
/// penalty weights: the heavier leaves the encoder's Jacobian (the logged
/// term divided by its weight) much smaller.
#[test]
fn a_contractive_penalty_shrinks_the_encoder_jacobian() {
    let model = "models/autoencoder_contractive.nnet";
    let jacobians = penalty_per_weight(model, "0.1 * jacobian", &["0.001", "1.0"], "contraction");
    assert!(jacobians[1] < 0.5 * jacobians[0], "{jacobians:?}");
}

/// The KL sparse autoencoder of `models/autoencoder_sparse_kl.nnet` (the
/// code's mean activation over the batch, `batch_mean(code)`, pulled to
/// rho = 0.05) at two penalty weights: the heavier leaves the units' mean
/// activations much nearer rho (the KL, the logged term divided by its
/// weight, is far smaller).
#[test]
fn a_kl_sparsity_penalty_pulls_mean_activations_to_rho() {
    let model = "models/autoencoder_sparse_kl.nnet";
    let kls = penalty_per_weight(model, "3 * sum(", &["0.001", "3"], "sparsity");
    assert!(kls[1] < 0.3 * kls[0], "{kls:?}");
}
