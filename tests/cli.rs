//! The `nnc` binary: exit codes, output formats and the formatter in place.

mod common;

use common::{nnc, root};
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli", name)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const CLEAN: &str = "model m {\n  input x: [784]\n  layers {\n    dense(30, act: sigmoid)\n    dense(10, act: sigmoid)\n  }\n  cost cross_entropy\n}\n";
const BROKEN: &str = "model m {\n  input x: [1, 28, 28]\n  layers {\n    conv2d(3, kernel: 31)\n    dense(10, act: sigmod)\n  }\n}\n";

#[test]
fn check_exits_0_when_clean_1_on_errors_2_on_usage() {
    let dir = scratch("exit");
    let clean = write(&dir, "clean.nnet", CLEAN);
    let broken = write(&dir, "broken.nnet", BROKEN);
    let out = nnc(&["check", &clean]);
    assert_eq!(out.status.code(), Some(0));
    // Success says so, in one line, and that the data were not opened.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "check passed: 1 file, no errors; data files not opened (`--data` checks them)\n"
    );
    assert!(out.stdout.is_empty());
    let out = nnc(&["check", &broken]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[E0203]"), "{stderr}");
    assert!(stderr.contains("did you mean `sigmoid`?"), "{stderr}");
    assert!(stderr.contains("broken.nnet:4:"), "{stderr}");
    assert_eq!(nnc(&["check"]).status.code(), Some(2));
    assert_eq!(nnc(&["check", "--bogus", &clean]).status.code(), Some(2));
    // A file that cannot be read is an error of that file (E0003), exit 1,
    // as compilers do; the other files are still checked.
    let missing = dir.join("missing.nnet").display().to_string();
    let out = nnc(&["check", &missing, &broken]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[E0003]"), "{stderr}");
    assert!(stderr.contains("error[E0203]"), "{stderr}");
    assert!(stderr.ends_with("check failed: 3 errors\n"), "{stderr}");
}

/// The messages for a model file that cannot be read: a missing file (with
/// the close name in its folder), a folder, a file that is not text; in
/// text and JSON.
#[test]
fn unreadable_model_files_are_e0003_with_a_fix() {
    let dir = scratch("unreadable");
    write(&dir, "mnist_784_30_10.nnet", CLEAN);
    std::fs::write(dir.join("binary.nnet"), [0xff, 0xfe, 0x00]).unwrap();
    let at = |name: &str| dir.join(name).display().to_string();
    let mut transcript = String::new();
    for name in ["mnist_784_30_1.nnet", "", "binary.nnet"] {
        let out = nnc(&["check", &at(name)]);
        assert_eq!(out.status.code(), Some(1));
        transcript.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let out = nnc(&["check", "--format", "json", &at("gone.nnet")]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["diagnostics"][0]["code"], "E0003");
    let dir_text = dir.display().to_string();
    insta::assert_snapshot!(
        "unreadable_model_files",
        transcript.replace(&dir_text, "DIR")
    );
}

#[test]
fn deny_warnings_turns_lints_into_failure() {
    let dir = scratch("deny");
    let linted = write(
        &dir,
        "lint.nnet",
        "model m {\n  input x: [784]\n  layers { dense(10, act: sigmoid) }\n  cost quadratic\n}\n",
    );
    let out = nnc(&["check", &linted]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning[W0102]"));
    assert_eq!(
        nnc(&["check", "--deny-warnings", &linted]).status.code(),
        Some(1)
    );
}

#[test]
fn check_json_lists_every_diagnostic_with_positions() {
    let dir = scratch("json");
    let broken = write(&dir, "broken.nnet", BROKEN);
    let out = nnc(&["check", "--format", "json", &broken]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let diags = doc["diagnostics"].as_array().unwrap();
    assert!(diags.len() >= 2, "{doc}");
    let conv = diags.iter().find(|d| d["code"] == "E0203").expect("E0203");
    assert_eq!(conv["severity"], "error");
    assert_eq!(conv["file"], broken.as_str());
    assert_eq!(conv["start"]["line"], 4);
    assert!(conv["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("= -2")));
    assert!(!conv["hints"].as_array().unwrap().is_empty());
    assert_eq!(
        doc["errors"].as_u64().unwrap() as usize,
        diags.iter().filter(|d| d["severity"] == "error").count()
    );
}

#[test]
fn summary_prints_a_table_and_json() {
    let out = nnc(&["summary", "models/lenet5.nnet"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("61,706"), "{text}");
    assert!(text.contains("output shape"), "{text}");
    let out = nnc(&["summary", "--format", "json", "models/lenet5.nnet"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(doc["models"][0]["total_params"], 61_706);
    let rows = doc["models"][0]["rows"].as_array().unwrap();
    for key in ["layer", "shape", "params", "flops", "activation_bytes"] {
        assert!(rows.iter().all(|r| r.get(key).is_some()), "missing {key}");
    }
}

#[test]
fn fmt_rewrites_in_place_and_check_mode_reports() {
    let dir = scratch("fmt");
    let messy = "// the net\nmodel   m{input x:[784]\n layers{dense(30,act:sigmoid)  // hidden\n dense(10)}}\n";
    let path = write(&dir, "messy.nnet", messy);
    assert_eq!(nnc(&["fmt", "--check", &path]).status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        messy,
        "--check must not write"
    );
    assert_eq!(nnc(&["fmt", &path]).status.code(), Some(0));
    let formatted = std::fs::read_to_string(&path).unwrap();
    assert_ne!(formatted, messy);
    assert!(formatted.contains("// the net") && formatted.contains("// hidden"));
    assert_eq!(nnc(&["fmt", "--check", &path]).status.code(), Some(0));
    let broken = write(&dir, "broken.nnet", "model m {\n");
    assert_eq!(nnc(&["fmt", &broken]).status.code(), Some(1));
}

#[test]
fn check_with_data_reports_missing_files() {
    let dir = scratch("data");
    let text = CLEAN.to_string()
        + "data d {\n  train idx(\"nope-images.gz\", labels: \"nope-labels.gz\")\n  labels one_hot(10)\n}\n"
        + "train m on d {\n  learning_rate 0.1\n  batch_size 10\n  epochs 1\n}\n";
    let path = write(&dir, "d.nnet", &text);
    assert_eq!(
        nnc(&["check", &path]).status.code(),
        Some(0),
        "without --data the files are not opened"
    );
    let out = nnc(&["check", "--data", &path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E0501"));
}

#[test]
fn every_shipped_model_checks_clean_from_the_command_line() {
    let mut args = vec!["check".to_string()];
    for entry in std::fs::read_dir(root().join("models")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "nnet") {
            args.push(path.display().to_string());
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = nnc(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `nnc fmt --check` passes on every shipped model and example: they are
/// written as the formatter writes them.
#[test]
fn every_shipped_file_is_formatted() {
    let mut args = vec!["fmt".to_string(), "--check".to_string()];
    for dir in ["models", "examples"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "nnet") {
                args.push(path.display().to_string());
            }
        }
    }
    assert!(args.len() > 20, "{args:?}");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = nnc(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn emit_ir_prints_the_graph_after_each_pass() {
    let full = nnc(&["emit", "ir", "models/mnist_784_30_10.nnet"]);
    assert_eq!(
        full.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    let full = String::from_utf8_lossy(&full.stdout).into_owned();
    assert!(full.starts_with("graph training (batch 10) {"), "{full}");
    assert!(full.contains("output new(dense_1.weight)"), "{full}");
    // L2 decay in the book's form: 1 - eta * lambda / n with lambda 5, n 50,000.
    assert!(full.contains("scale(%24, -0.0001)"), "{full}");
    let backward = nnc(&[
        "emit",
        "ir",
        "models/mnist_784_30_10.nnet",
        "--after",
        "autodiff",
    ]);
    let backward = String::from_utf8_lossy(&backward.stdout).into_owned();
    assert!(backward.contains("grad(dense_1.weight)"), "{backward}");
    assert!(!backward.contains("new(dense_1.weight)"), "{backward}");
    let forward = nnc(&[
        "emit",
        "ir",
        "models/mnist_784_30_10.nnet",
        "--after",
        "lower",
    ]);
    let forward = String::from_utf8_lossy(&forward.stdout).into_owned();
    assert!(!forward.contains("grad("), "{forward}");
    let inference = nnc(&["emit", "ir", "--inference", "models/mnist_784_30_10.nnet"]);
    let inference = String::from_utf8_lossy(&inference.stdout).into_owned();
    assert!(inference.contains("output correct"), "{inference}");
    let bad = nnc(&[
        "emit",
        "ir",
        "models/mnist_784_30_10.nnet",
        "--after",
        "bogus",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lower, autodiff, update"));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("fuse"));
    let emit = |after: &str| {
        let out = nnc(&[
            "emit",
            "ir",
            "models/mnist_784_30_10.nnet",
            "--after",
            after,
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let fused = emit("fuse");
    assert!(fused.contains("fused matmul+epilogue("), "{fused}");
    assert!(fused.contains("fused update("), "{fused}");
    assert_eq!(
        full,
        emit("dce"),
        "without --after the graph is the one after dce"
    );
}

/// `nnc check --help` ends with examples, the exit codes and the related
/// subcommands; every other subcommand's help has examples too (checked
/// on the command tree in `help.rs`).
#[test]
fn check_help_gives_examples_and_exit_codes() {
    let out = nnc(&["check", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let tail = &help[help.find("Examples:").expect("examples")..];
    insta::assert_snapshot!("check_help_tail", tail);
    for sub in ["run", "eval", "predict", "emit ir", "plot"] {
        let mut args: Vec<&str> = sub.split(' ').collect();
        args.push("--help");
        let out = nnc(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Examples:\n  nnc "), "{sub}: {text}");
        assert!(text.contains("See also: nnc "), "{sub}: {text}");
    }
}

/// `nnc emit ir --inference` needs a model, not a train block: a file with
/// one model and no train block (or a broken one) gives its inference
/// graph, at batch 1 unless `--batch` says otherwise.
#[test]
fn emit_inference_needs_no_train_block() {
    let dir = scratch("emit-inference");
    let file = write(
        &dir,
        "model.nnet",
        "model mlp {\n  input image: [784]\n  layers { dense(30, act: relu) dense(10, act: softmax) }\n}\n",
    );
    let out = nnc(&["emit", "ir", &file, "--inference"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("graph inference (batch 1) {"), "{text}");
    let out = nnc(&["emit", "ir", &file, "--inference", "--batch", "3"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("[3, 784]"));
    // The training graph still needs a train block.
    assert_eq!(nnc(&["emit", "ir", &file]).status.code(), Some(1));
}

/// Several train blocks for one model: `--train MODEL` says which ones
/// there are; `--train MODEL/DATA` and `--train N` pick one.
#[test]
fn train_picks_one_of_several_blocks_for_one_model() {
    let dir = scratch("several-trains");
    let file = write(
        &dir,
        "two.nnet",
        "model mlp {\n  input x: [4]\n  layers { dense(3, act: softmax) }\n  cost log_likelihood\n}\n\
         data small {\n  train csv(\"small.csv\", label: \"y\", header: true)\n  labels one_hot(3)\n}\n\
         data large {\n  train csv(\"large.csv\", label: \"y\", header: true)\n  labels one_hot(3)\n}\n\
         train mlp on small {\n  learning_rate 0.1\n  batch_size 5\n  epochs 1\n}\n\
         train mlp on large {\n  learning_rate 0.1\n  batch_size 7\n  epochs 1\n}\n",
    );
    let emit = |choice: &str| {
        let out = nnc(&[
            "emit",
            "ir",
            &file,
            "--train",
            choice,
            "--after",
            "lower",
            "--train-size",
            "10",
        ]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = emit("mlp");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            "has several train blocks for model `mlp`: 1. `mlp` on `small` (`--train mlp/small`), \
             2. `mlp` on `large` (`--train mlp/large`); choose one with `--train MODEL/DATA` or \
             `--train N`"
        ),
        "{stderr}"
    );
    let (code, stdout, stderr) = emit("mlp/large");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("graph training (batch 7)"), "{stdout}");
    let (code, stdout, _) = emit("1");
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("graph training (batch 5)"), "{stdout}");
    let (code, _, stderr) = emit("3");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("has 2 train blocks, so `--train 3` names none"),
        "{stderr}"
    );
}
