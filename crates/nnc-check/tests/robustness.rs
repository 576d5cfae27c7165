//! No input panics the checker or makes it run away: huge numbers,
//! overflowing shapes, recursion, deep and exponential block expansion,
//! empty models, and mutations of every fixture.

mod common;

use common::{codes, stack};
use std::time::{Duration, Instant};

#[test]
fn huge_numbers_are_reported_not_overflowed() {
    let huge = i64::MAX;
    assert_eq!(
        codes(&stack(
            "[1, 28, 28]",
            "conv2d(4, 1_000_000_000_000_000_000)"
        )),
        ["E0203"]
    );
    assert_eq!(
        codes(&stack(&format!("[{huge}, {huge}]"), "flatten")),
        ["E0209"]
    );
    assert_eq!(
        codes(&stack("[4294967296]", "dense(4294967296)")),
        ["E0209"]
    );
    assert_eq!(
        codes(&stack(
            &format!("[1, {huge}, {huge}]"),
            &format!("conv2d({huge}, 1)")
        )),
        ["E0209"]
    );
    let padded = format!("conv2d(1, 1, padding: {huge})");
    assert_eq!(codes(&stack("[1, 4, 4]", &padded)), ["E0209"]);
    let same = format!("conv2d(1, {huge}, stride: {huge}, padding: same)");
    let found = codes(&stack("[1, 4, 4]", &same));
    assert!(found.iter().all(|c| *c == "E0209"), "{found:?}");
    let reshape = format!("reshape([-1, {huge}])");
    assert!(codes(&stack(&format!("[{huge}]"), &reshape)).is_empty());
    assert_eq!(codes(&stack("[4]", "dense(-3)")), ["E0109"]);
    assert_eq!(codes(&stack("[4]", "reshape([-2, 2])")), ["E0209"]);
    assert!(!codes(&format!(
        "const X = {huge} * {huge}\nmodel m {{ input x: [X] output y = x }}"
    ))
    .is_empty());
    assert!(!codes(
        "const X = -9223372036854775807 - 1\nconst Y = -X\nmodel m { input x: [Y] output y = x }"
    )
    .is_empty());
    assert!(
        !codes("const X = 1e308 * 10\nmodel m { input x: [4] layers { dropout(X) } }").is_empty()
    );
}

#[test]
fn empty_things() {
    assert!(codes("").is_empty());
    assert_eq!(codes("model m { }"), ["E0115", "E0114"]);
    assert_eq!(
        codes("model m { input x: [4] layers { } }"),
        Vec::<&str>::new()
    );
    // An empty block is the identity.
    assert!(codes("block b() { }\nmodel m { input x: [4] layers { b } }").is_empty());
    assert!(codes("data d { }").is_empty());
    assert!(!codes("train m on d { }").is_empty());
}

#[test]
fn deep_block_chains_stop() {
    let mut source = String::new();
    for i in 0..60 {
        source.push_str(&format!("block b{i}() {{ b{}() }}\n", i + 1));
    }
    source.push_str("block b60() { relu }\nmodel m { input x: [4] layers { b0() } }\n");
    assert!(codes(&source).contains(&"E0113"));
}

#[test]
fn exponential_expansion_stops() {
    let mut source = String::new();
    for i in 0..30 {
        source.push_str(&format!("block b{i}() {{ b{}() b{}() }}\n", i + 1, i + 1));
    }
    source.push_str("block b30() { relu }\nmodel m { input x: [4] layers { b0() } }\n");
    let start = Instant::now();
    assert!(codes(&source).contains(&"E0113"));
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn mutually_recursive_blocks_and_constants() {
    assert!(
        codes("block a() { b() }\nblock b() { a() }\nmodel m { input x: [4] layers { a() } }")
            .contains(&"E0113")
    );
    assert!(codes("const A = A\nmodel m { input x: [A] output y = x }").contains(&"E0116"));
    assert!(
        codes("model m { input x: [4] layer l = layers { l } output y = x |> l }")
            .iter()
            .any(|c| c.starts_with('E'))
    );
}

/// A small deterministic generator for mutations.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

/// Every `.nnet` file of a folder of the workspace.
fn sources(folder: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(folder);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "nnet"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    out.sort();
    out
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut all = sources("tests/fixtures/ok");
    all.extend(sources("tests/fixtures/err"));
    all.extend(sources("models"));
    all.extend(sources("examples"));
    let replacements = [
        "0",
        "-1",
        "1",
        "9223372036854775807",
        "1e300",
        "0.5",
        "x",
        "relu",
        "same",
        "[]",
        "[0]",
        "[-1, -1]",
        "[1, 2, 3, 4, 5]",
        "\"s\"",
        "true",
        "dense",
        "conv_pool",
        "layers { }",
        "(",
        ")",
        "{",
        "}",
        ",",
    ];
    let mut rng = Lcg(7);
    let mut checked = 0;
    for source in &all {
        let words: Vec<&str> = source
            .split_inclusive(|c: char| !c.is_alphanumeric() && c != '_')
            .collect();
        for _ in 0..40 {
            let mut mutated = String::with_capacity(source.len());
            let at = rng.next() % words.len().max(1);
            let with = replacements[rng.next() % replacements.len()];
            for (i, w) in words.iter().enumerate() {
                if i == at {
                    mutated.push_str(with);
                    let tail: String = w
                        .chars()
                        .filter(|c| !c.is_alphanumeric() && *c != '_')
                        .collect();
                    mutated.push_str(&tail);
                } else {
                    mutated.push_str(w);
                }
            }
            let (file, syntax) = nnc_syntax::parse(&mutated);
            if !syntax.is_empty() {
                continue;
            }
            let result = nnc_check::check(&file);
            for e in &result.errors {
                let d = e.to_diagnostic();
                assert!(d.primary.span.end <= mutated.len());
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} mutations parsed");
}
