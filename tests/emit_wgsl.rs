//! `nnc emit wgsl FILE`: the WGSL compute shaders of the GPU backend for a
//! model's training step, snapshotted for two small models (the book's
//! 2-2-1 XOR network and a tiny convolutional network); every printed
//! shader parses and validates with naga; `--list` and `-o DIR` agree
//! with the full listing.

mod common;

use common::{nnc, root, scratch};

/// A tiny convolutional network: a 3x3 convolution with relu, max
/// pooling, a flatten and a softmax layer.
const TINY_CONV: &str = r#"model tiny_conv {
  input image: [1, 6, 6]
  layers {
    conv2d(2, 3, act: relu) -> [2, 4, 4]
    max_pool(2) -> [2, 2, 2]
    flatten
    dense(2, act: softmax)
  }
  cost log_likelihood
}

data images {
  train csv("train.csv", label: "y")
  labels one_hot(classes: 2)
}

train tiny_conv on images {
  optimizer sgd
  learning_rate 0.1
  batch_size 2
  epochs 1
}
"#;

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// Runs `nnc emit wgsl` with `args` and returns its standard output.
fn emit_wgsl(args: &[&str]) -> String {
    let mut all = vec!["emit", "wgsl"];
    all.extend_from_slice(args);
    let out = nnc(&all);
    assert!(
        out.status.success(),
        "nnc emit wgsl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Splits a listing into `(name, variant, source)` per kernel, checking
/// that kernels are numbered from 0 and every header is complete, and
/// validates each shader with naga.
fn kernels(text: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("// kernel ") else {
            assert!(line.is_empty(), "stray line {line:?}");
            continue;
        };
        let (number, name) = rest.split_once(": ").expect("kernel header");
        assert_eq!(number.parse::<usize>().unwrap(), out.len(), "numbering");
        let variant = lines
            .next()
            .and_then(|l| l.strip_prefix("// variant: "))
            .expect("variant line")
            .to_string();
        for field in ["// reason: ", "// workgroup size: ", "// dispatches: "] {
            let line = lines.next().expect("header line");
            assert!(line.starts_with(field), "{line:?} should start {field:?}");
            assert!(line.len() > field.len(), "empty {field:?}");
        }
        let mut source = String::new();
        while let Some(line) = lines.peek() {
            if line.starts_with("// kernel ") {
                break;
            }
            source.push_str(lines.next().unwrap_or_default());
            source.push('\n');
        }
        nnc_wgsl::validate_source(name, &source).unwrap_or_else(|e| panic!("{e}"));
        out.push((name.to_string(), variant, source));
    }
    out
}

#[test]
fn xor_training_step_prints_valid_shaders() {
    let text = emit_wgsl(&["models/xor_2_2_1.nnet"]);
    let found = kernels(&text);
    let names: Vec<&str> = found.iter().map(|(n, _, _)| n.as_str()).collect();
    assert!(names.iter().any(|n| n.contains("matmul")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("cost_")), "{names:?}");
    // The first layer's product carries its bias and sigmoid.
    let (_, variant, source) = &found[0];
    assert!(variant.starts_with("matmul_simple"), "{variant}");
    assert!(source.contains("exp(-v0)"), "{source}");
    settings().bind(|| insta::assert_snapshot!("emit_wgsl_xor_2_2_1", text));
}

#[test]
fn xor_inference_is_shorter_than_training() {
    let training = kernels(&emit_wgsl(&["models/xor_2_2_1.nnet"]));
    let inference = kernels(&emit_wgsl(&["models/xor_2_2_1.nnet", "--inference"]));
    assert!(inference.len() < training.len());
    assert!(inference
        .iter()
        .any(|(_, v, _)| v.starts_with("correct_count")));
}

#[test]
fn tiny_conv_training_step_prints_valid_shaders() {
    let dir = scratch("emit-wgsl", "tiny-conv");
    let file = dir.join("tiny_conv.nnet");
    std::fs::write(&file, TINY_CONV).unwrap();
    let path = file.to_string_lossy().into_owned();
    let text = emit_wgsl(&[&path, "--train-size", "4"]);
    let found = kernels(&text);
    let variants: Vec<&str> = found.iter().map(|(_, v, _)| v.as_str()).collect();
    for kind in [
        "conv2d_direct",
        "max_pool_direct",
        "max_pool_grad_gather",
        "conv2d_weight_grad",
        "row_softmax",
    ] {
        assert!(
            variants.iter().any(|v| v.starts_with(kind)),
            "no {kind} kernel in {variants:?}"
        );
    }
    settings().bind(|| insta::assert_snapshot!("emit_wgsl_tiny_conv", text));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_has_one_line_per_kernel() {
    let full = kernels(&emit_wgsl(&[
        "models/mnist_784_30_10.nnet",
        "--train-size",
        "50000",
        "--batch",
        "64",
    ]));
    let list = emit_wgsl(&[
        "models/mnist_784_30_10.nnet",
        "--train-size",
        "50000",
        "--batch",
        "64",
        "--list",
    ]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), full.len() + 1, "{list}");
    for ((name, variant, _), line) in full.iter().zip(&lines) {
        assert!(
            line.contains(name.as_str()) && line.contains(variant.as_str()),
            "{line}"
        );
        assert!(line.contains("workgroups %"), "{line}");
    }
    assert!(lines[full.len()].contains(&format!("{} kernels", full.len())));
    // At batch 64 the first layer's product (64 x 784 x 30) is tiled.
    assert!(list.contains("matmul_tiled_16x16"), "{list}");
}

#[test]
fn out_dir_writes_one_file_per_kernel() {
    let dir = scratch("emit-wgsl", "out-dir");
    let out = dir.to_string_lossy().into_owned();
    let full = kernels(&emit_wgsl(&["models/xor_2_2_1.nnet"]));
    let written = emit_wgsl(&["models/xor_2_2_1.nnet", "-o", &out]);
    assert_eq!(written.lines().count(), full.len());
    for (name, variant, source) in &full {
        let path = dir.join(format!("{name}.{variant}.wgsl"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("// kernel "), "{}", path.display());
        assert!(text.contains(source.trim_end()), "{}", path.display());
        nnc_wgsl::validate_source(name, &text).unwrap_or_else(|e| panic!("{e}"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_with_errors_is_refused() {
    let dir = scratch("emit-wgsl", "broken");
    let file = dir.join("broken.nnet");
    std::fs::write(&file, "model m { input x: [2] layers { dense(0) } }").unwrap();
    let out = nnc(&["emit", "wgsl", &file.to_string_lossy()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has errors"));
    let _ = std::fs::remove_dir_all(&dir);
}
