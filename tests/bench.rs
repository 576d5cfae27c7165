//! `nnc bench`: timing the training of a model through the whole pipeline.
//!
//! Each test runs the `nnc` binary on the shipped MNIST with a small
//! subset of the training images, and reads its report. Timings on a
//! shared machine are not checked against figures, only for being positive
//! and consistent with one another.

mod common;

use common::{nnc, root};
use serde_json::Value;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const BOOK: &str = "models/mnist_784_30_10.nnet";

/// Runs `nnc bench ... --format json`, expects success and parses stdout.
fn bench_json(args: &[&str]) -> Value {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend(["--format", "json"]);
    let out = nnc(&all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

fn number(doc: &Value, key: &str) -> f64 {
    doc[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is a number in {doc}"))
}

#[test]
fn quick_bench_prints_median_and_compile_time() {
    let out = nnc(&["bench", BOOK, "--epochs", "2", "--train-limit", "2000"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = |label: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"))
            .to_string()
    };
    assert!(line("model").contains("mnist_784_30_10"), "{stdout}");
    assert!(line("backend").ends_with("jit"), "the default: {stdout}");
    assert!(line("batch size").ends_with(" 10"), "{stdout}");
    assert!(line("examples").contains("2000 per epoch"), "{stdout}");
    assert!(line("epochs").contains("2: "), "{stdout}");
    assert!(line("median").contains(" s per epoch (min "), "{stdout}");
    assert!(line("throughput").contains("examples/s"), "{stdout}");
    assert!(
        line("compile").contains(" ms (1 configure call)"),
        "{stdout}"
    );
}

#[test]
fn json_report_has_consistent_figures() {
    let doc = bench_json(&[BOOK, "--epochs", "2", "--train-limit", "2000"]);
    assert_eq!(doc["model"], "mnist_784_30_10");
    assert_eq!(doc["backend"], "jit", "the default");
    assert_eq!(doc["file"], BOOK);
    assert_eq!(doc["batch_sizes"], serde_json::json!([10]));
    assert_eq!(doc["examples"], 2000);
    assert_eq!(doc["epochs"], 2);
    assert_eq!(doc["configures"], 1, "one phase: configured once");
    let seconds: Vec<f64> = doc["epoch_seconds"]
        .as_array()
        .expect("epoch_seconds is a list")
        .iter()
        .map(|s| s.as_f64().expect("seconds are numbers"))
        .collect();
    assert_eq!(seconds.len(), 2);
    assert!(seconds.iter().all(|&s| s > 0.0 && s < 600.0), "{seconds:?}");
    let (median, min, max) = (
        number(&doc, "median_seconds"),
        number(&doc, "min_seconds"),
        number(&doc, "max_seconds"),
    );
    // JSON rounds the printed seconds, so compare to a relative 1e-9.
    let mean = (seconds[0] + seconds[1]) / 2.0;
    assert!(
        (median - mean).abs() <= 1e-9 * mean,
        "two epochs: the median is the mean, {median} vs {mean}"
    );
    assert_eq!(min, seconds[0].min(seconds[1]));
    assert_eq!(max, seconds[0].max(seconds[1]));
    let rate = number(&doc, "examples_per_second");
    assert!(
        (rate - 2000.0 / median).abs() <= 1e-9 * rate,
        "{rate} examples/s vs 2000 / {median} s"
    );
    let compile = number(&doc, "compile_ms");
    assert!(compile > 0.0 && compile < 60_000.0, "{compile} ms");
}

/// Two phases of different batch sizes, each with a short last batch: the
/// report lists both sizes, in order, and one configure per phase.
#[test]
fn phases_are_configured_once_each_and_reported() {
    let dir = common::scratch("bench", "phases");
    let source = std::fs::read_to_string(root().join(BOOK))
        .unwrap()
        .replace(
            "../data/mnist/",
            &format!("{}/", root().join("data/mnist").display()),
        )
        .replace(
            "  epochs 30\n",
            "  epochs 30\n  at epoch 2 { batch_size 500 }\n",
        );
    let path = dir.join("phases.nnet");
    std::fs::write(&path, source).unwrap();
    let path = path.display().to_string();
    let doc = bench_json(&[&path, "--epochs", "3", "--train-limit", "1095"]);
    assert_eq!(doc["batch_sizes"], serde_json::json!([10, 500]));
    assert_eq!(doc["configures"], 2);
    assert_eq!(doc["examples"], 1095);
    assert_eq!(doc["epoch_seconds"].as_array().map(Vec::len), Some(3));
}

#[test]
fn bad_arguments_exit_2() {
    let missing = root().join("no-such-file.nnet").display().to_string();
    let cases: [&[&str]; 5] = [
        &["bench"],
        &["bench", BOOK, "--epochs", "0"],
        &["bench", BOOK, "--epochs", "many"],
        &["bench", BOOK, "--backend", "gpu"],
        &["bench", BOOK, "--format", "yaml"],
    ];
    for args in cases {
        let out = nnc(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // A model file that cannot be read is an error of the file (E0003),
    // exit 1, as for `nnc check`.
    let out = nnc(&["bench", &missing]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("error[E0003]"));
    let out = nnc(&["bench", BOOK, "--train", "other"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no train block for model `other`"));
}

#[test]
fn a_file_with_errors_exits_1() {
    let dir = common::scratch("bench", "errors");
    let path = dir.join("broken.nnet");
    std::fs::write(
        &path,
        "model m {\n  input x: [2]\n  layers { dense(1, act: nope) }\n}\n",
    )
    .unwrap();
    let out = nnc(&["bench", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("fix them to train"));
}
