//! Property tests: no input panics the parser, the checker, the formatter or
//! the diagnostic renderer. Inputs are arbitrary text, text built from the
//! language's own tokens, and the fixtures and models with bytes deleted,
//! duplicated or replaced.

mod common;

use common::{nnet_files, read};
use nnc_cli::driver::{self, Options};
use proptest::prelude::*;
use std::path::Path;

/// Runs every stage on `source`; a panic fails the property.
fn run_all_stages(source: &str) {
    let report = driver::check_source(source, Path::new("."), Options::default());
    for d in &report.diagnostics {
        assert!(
            d.primary.span.start <= d.primary.span.end,
            "inverted span {:?}",
            d.primary.span
        );
        assert!(
            d.primary.span.end <= source.len(),
            "span past the end: {:?}",
            d.primary.span
        );
    }
    let _ = nnc_diag::render::to_text(&report.diagnostics, "fuzz.nnet", source, false);
    if let Some(program) = report.program.as_ref() {
        for model in &program.models {
            let _ = nnc_check::summary::summarize(model);
        }
    }
    if let Ok(formatted) = nnc_fmt::format(source) {
        let again = nnc_fmt::format(&formatted).expect("formatted output parses");
        assert_eq!(formatted, again, "formatting is not idempotent");
    }
}

fn corpus() -> Vec<String> {
    let mut files = nnet_files("tests/fixtures/ok");
    files.extend(nnet_files("tests/fixtures/err"));
    files.extend(nnet_files("models"));
    files.iter().map(|p| read(p)).collect()
}

const TOKENS: &[&str] = &[
    "model",
    "block",
    "const",
    "data",
    "train",
    "on",
    "input",
    "output",
    "let",
    "layer",
    "layers",
    "at",
    "epoch",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "->",
    "|>",
    "+",
    "-",
    "*",
    "/",
    "..",
    "x",
    "y",
    "dense",
    "conv2d",
    "max_pool",
    "flatten",
    "reshape",
    "dropout",
    "relu",
    "sigmoid",
    "softmax",
    "act",
    "kernel",
    "stride",
    "padding",
    "same",
    "valid",
    "cost",
    "cross_entropy",
    "regularize",
    "l2",
    "0",
    "1",
    "5",
    "28",
    "784",
    "0.5",
    "1e9",
    "99999999999999999999",
    "-3",
    "\"a.gz\"",
    "idx",
    "labels",
    "one_hot",
    "epochs",
    "batch_size",
    "learning_rate",
    "// c\n",
    "/* c */",
    "\n",
    " ",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|tokens| tokens.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(source in any::<String>()) {
        run_all_stages(&source);
    }

    #[test]
    fn token_soup_never_panics(source in token_soup()) {
        run_all_stages(&source);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>(), 1usize..12), 1..4),
    ) {
        let corpus = corpus();
        let mut bytes = corpus[pick.index(corpus.len())].clone().into_bytes();
        for (at, kind, byte, len) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = at.index(bytes.len());
            let end = (at + len).min(bytes.len());
            match kind {
                0 => { bytes.drain(at..end); }
                1 => { let copy: Vec<u8> = bytes[at..end].to_vec(); bytes.splice(at..at, copy); }
                _ => bytes[at] = byte,
            }
        }
        run_all_stages(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    for depth in [100, 1_000, 10_000] {
        let open = "(".repeat(depth);
        let close = ")".repeat(depth);
        run_all_stages(&format!("const A = {open}1{close}\n"));
        run_all_stages(&format!(
            "const A = {}1{}\n",
            "[".repeat(depth),
            "]".repeat(depth)
        ));
        run_all_stages(&format!("const A = {}1\n", "-".repeat(depth)));
        run_all_stages(&format!(
            "model m {{ input x: [4] layers {{ {} }} }}\n",
            "relu ".repeat(depth)
        ));
    }
}
