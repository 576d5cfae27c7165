//! `nnc emit clif FILE`: the Cranelift IR of every kernel of a model's
//! training step on the JIT backend, snapshotted for two small models (the
//! book's 2-2-1 XOR network and a tiny convolutional network), and checked
//! to name every kernel the backend runs, each with its `function` header.
//!
//! # Why the snapshots hold a normalised form
//!
//! The text `nnc emit clif` prints is the host's: `nnc-jit` emits an `fma`
//! where the host has fused multiply-adds and an `fmul` then an `fadd`
//! where it does not (which also shifts every later value number), and the
//! function header names the host's calling convention. `nnc-jit` has no
//! setting to print for a fixed instruction set, so the snapshots hold a
//! normal form that every 64-bit host produces alike:
//! - each `vD = fma vA, vB, vC` becomes `vT = fmul vA, vB` and
//!   `vD = fadd vT, vC` (the no-FMA code, exactly as `nnc-jit` emits it),
//!   with the constant comments Cranelift appends split between the two;
//! - values are renumbered `v0, v1, ...` in order of first appearance,
//!   which makes both texts number alike;
//! - the calling convention of each `function` line reads `host_cc`.
//!
//! The raw output is still checked for structure on every host.

mod common;

use common::{nnc, root, scratch};
use std::collections::HashMap;

/// A tiny convolutional network: a 3x3 convolution with relu, max
/// pooling, a flatten (a host copy) and a softmax layer.
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

/// Runs `nnc emit clif` with `args` and returns its standard output.
fn emit_clif(args: &[&str]) -> String {
    let mut all = vec!["emit", "clif"];
    all.extend_from_slice(args);
    let out = nnc(&all);
    assert!(
        out.status.success(),
        "nnc emit clif {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Checks the structure of a listing: kernels numbered from 0 in order,
/// and every JIT kernel's header followed by its `function` of that name.
/// Returns the kernel names.
fn check_structure(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut names = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("; kernel ") else {
            continue;
        };
        let (number, rest) = rest.split_once(": ").expect("`; kernel N: ...`");
        assert_eq!(number.parse::<usize>().unwrap(), names.len(), "{line}");
        let (name, kind) = rest.split_once(" (").expect("`NAME (KIND)`");
        if kind == "jit)" {
            let header = lines.get(i + 1).copied().unwrap_or_default();
            assert!(
                header.starts_with(&format!("function %{name}(")),
                "kernel {name} is followed by `{header}`"
            );
        } else {
            assert!(
                kind.starts_with("host)")
                    || kind.starts_with("library)")
                    || kind.starts_with("native)"),
                "{line}"
            );
        }
        names.push(name.to_string());
    }
    assert!(!names.is_empty(), "no kernels listed");
    let functions = lines.iter().filter(|l| l.starts_with("function %")).count();
    let jit = lines
        .iter()
        .filter(|l| l.starts_with("; kernel ") && l.ends_with("(jit)"))
        .count();
    assert_eq!(functions, jit, "one function per JIT kernel");
    names
}

/// Splits a CLIF line into its instruction and the constant comment
/// entries Cranelift appends (`  ; v5 = 0.0, v7 = 1.0`).
fn split_comment(line: &str) -> (&str, Vec<&str>) {
    match line.split_once("  ; ") {
        Some((code, comment)) => (code, comment.split(", ").collect()),
        None => (line, Vec::new()),
    }
}

/// Joins an instruction and the comment entries about its operands.
fn with_comments(code: &str, operands: &[&str], entries: &[&str]) -> String {
    let kept: Vec<&str> = entries
        .iter()
        .copied()
        .filter(|e| operands.iter().any(|o| e.split(" = ").next() == Some(*o)))
        .collect();
    if kept.is_empty() {
        code.to_string()
    } else {
        format!("{code}  ; {}", kept.join(", "))
    }
}

/// Whether `token` names a value: `v` and digits, or a fresh `vfma` and
/// digits.
fn is_value(token: &str) -> bool {
    let digits = token
        .strip_prefix("vfma")
        .or_else(|| token.strip_prefix('v'))
        .unwrap_or("");
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The normal form described in the module comment.
fn normalise(text: &str) -> String {
    // Expand multiply-adds; the fresh values are named `vfmaN` until the
    // renumbering.
    let mut expanded = String::new();
    let mut fresh = 0;
    for line in text.lines() {
        let (code, entries) = split_comment(line);
        let parsed = code.split_once(" = fma ").and_then(|(dest, args)| {
            let ops: Vec<&str> = args.split(", ").collect();
            (ops.len() == 3).then_some((dest, ops))
        });
        if let Some((dest, ops)) = parsed {
            let indent = &dest[..dest.len() - dest.trim_start().len()];
            let temp = format!("vfma{fresh}");
            fresh += 1;
            let mul = format!("{indent}{temp} = fmul {}, {}", ops[0], ops[1]);
            let add = format!("{dest} = fadd {temp}, {}", ops[2]);
            expanded.push_str(&with_comments(&mul, &ops[..2], &entries));
            expanded.push('\n');
            expanded.push_str(&with_comments(&add, &ops[2..], &entries));
        } else if line.starts_with("function %") {
            // `function %name(i64) system_v {`
            match line.rsplit_once(") ") {
                Some((head, _)) => expanded.push_str(&format!("{head}) host_cc {{")),
                None => expanded.push_str(line),
            }
        } else {
            expanded.push_str(line);
        }
        expanded.push('\n');
    }
    // Renumber values by first appearance; numbering restarts with each
    // function, as Cranelift's does.
    let mut out = String::with_capacity(expanded.len());
    let mut numbers: HashMap<String, usize> = HashMap::new();
    for line in expanded.lines() {
        if line.starts_with("function %") {
            numbers.clear();
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let mut rest = line;
        let mut previous = ' ';
        while let Some(c) = rest.chars().next() {
            let len = rest.find(|d: char| !ident(d)).unwrap_or(rest.len());
            if c == 'v' && !ident(previous) && is_value(&rest[..len]) {
                let next = numbers.len();
                let n = *numbers.entry(rest[..len].to_string()).or_insert(next);
                out.push_str(&format!("v{n}"));
                previous = '0';
                rest = &rest[len..];
            } else {
                out.push(c);
                previous = c;
                rest = &rest[c.len_utf8()..];
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn normalise_expands_fma_like_the_fallback() {
    let fma = "function %k(i64) system_v {\nblock0(v0: i64):\n    v1 = f32const 0.5\n    \
               v3 = fma v1, v0, v2  ; v1 = 0.5\n    v4 = fadd v3, v3\n}\n";
    let fallback =
        "function %k(i64) apple_aarch64 {\nblock0(v0: i64):\n    v1 = f32const 0.5\n    \
                    v3 = fmul v1, v0  ; v1 = 0.5\n    v4 = fadd v3, v2\n    v5 = fadd v4, v4\n}\n";
    assert_eq!(normalise(fma), normalise(fallback));
    assert!(normalise(fma).contains("function %k(i64) host_cc {"));
}

#[test]
fn xor_training_step_lists_every_kernel() {
    let text = emit_clif(&["models/xor_2_2_1.nnet"]);
    let names = check_structure(&text);
    // The forward products, the cost, its gradient and the four sgd
    // updates (two weights, two biases) are all there.
    assert!(names.iter().any(|n| n.contains("matmul")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("cost_")), "{names:?}");
    assert!(names.len() >= 8, "{names:?}");
    settings().bind(|| insta::assert_snapshot!("emit_clif_xor_2_2_1", normalise(&text)));
}

#[test]
fn xor_inference_is_shorter_than_training() {
    let training = check_structure(&emit_clif(&["models/xor_2_2_1.nnet"]));
    let inference = check_structure(&emit_clif(&["models/xor_2_2_1.nnet", "--inference"]));
    assert!(inference.len() < training.len());
    assert!(inference.iter().all(|n| !n.contains("grad")));
}

#[test]
fn tiny_conv_training_step_lists_every_kernel() {
    let dir = scratch("emit-clif", "tiny-conv");
    let file = dir.join("tiny_conv.nnet");
    std::fs::write(&file, TINY_CONV).unwrap();
    let path = file.to_string_lossy().into_owned();
    let text = emit_clif(&[&path, "--train-size", "4"]);
    let names = check_structure(&text);
    for kind in ["conv2d", "max_pool", "conv2d_weight_grad"] {
        assert!(
            names.iter().any(|n| n.contains(kind)),
            "no {kind} kernel in {names:?}"
        );
    }
    // The pooling's gradient, ReLU's derivative and the bias gradient are
    // one native pass (nnc-cpu's `pool_grad`), listed without Cranelift IR.
    assert!(
        text.contains(
            "max pool gradient, relu gradient, bias gradient sum over [2, 2, 4, 4] in one pass, \
             examples split in two halves (native): plain Rust, no Cranelift IR"
        ),
        "{text}"
    );
    // The flatten is pointwise (op table): a copy loop in a kernel of its
    // own, between the pooling and the dense layer's product.
    assert!(
        names.iter().any(|n| n.contains("pointwise")),
        "no pointwise kernel in {names:?}"
    );
    settings().bind(|| insta::assert_snapshot!("emit_clif_tiny_conv", normalise(&text)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn library_products_are_a_comment_line() {
    let text = emit_clif(&[
        "models/mnist_784_30_10.nnet",
        "--inference",
        "--batch",
        "10",
    ]);
    check_structure(&text);
    assert!(
        text.contains(
            "; kernel 0: matrix product (library): [10, 784] x [784, 30] (ta: false, tb: true), \
             235200 multiply-adds"
        ),
        "{text}"
    );
}
