//! Tests of the formatter: the style on small examples, and the invariants
//! (fixed point, same tree, every comment kept, clean line ends) on a corpus
//! covering every construct of the language, on the repository's fixtures
//! and models, and on mutations of all of these.

mod corpus;
mod mutate;
mod style;

use crate::format;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The tree of `source` as JSON with every `span` removed.
pub(super) fn tree_without_spans(source: &str) -> Value {
    let (file, errors) = nnc_syntax::parse(source);
    assert!(errors.is_empty(), "syntax errors {errors:?} in:\n{source}");
    let mut value = serde_json::to_value(&file.items).expect("the tree serialises");
    strip_spans(&mut value);
    value
}

fn strip_spans(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("span");
            map.values_mut().for_each(strip_spans);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_spans),
        _ => {}
    }
}

/// The comments of `source`, normalised as the formatter keeps them.
pub(super) fn comments(source: &str) -> Vec<String> {
    let (file, _) = nnc_syntax::parse(source);
    file.comments
        .iter()
        .map(|c| crate::printer::normalise(&c.text))
        .collect()
}

/// Formats `source` (which must parse) and checks every invariant of the
/// formatter on it. Returns the formatted text.
pub(super) fn check_invariants(name: &str, source: &str) -> String {
    let once = format(source).unwrap_or_else(|e| panic!("{name}: not formatted: {e:?}"));
    let twice =
        format(&once).unwrap_or_else(|e| panic!("{name}: output does not parse: {e:?}\n{once}"));
    if once != twice {
        panic!(
            "{name}: not a fixed point:\n{}",
            first_difference(&once, &twice)
        );
    }
    assert_eq!(
        tree_without_spans(source),
        tree_without_spans(&once),
        "{name}: the tree changed; output:\n{once}"
    );
    assert_eq!(
        comments(source),
        comments(&once),
        "{name}: comments changed; output:\n{once}"
    );
    if !once.is_empty() {
        assert!(
            once.ends_with('\n') && !once.ends_with("\n\n"),
            "{name}: bad file end"
        );
    }
    for (n, line) in once.lines().enumerate() {
        assert_eq!(
            line.trim_end(),
            line,
            "{name}: trailing whitespace on line {}",
            n + 1
        );
    }
    once
}

/// The first line where `a` and `b` differ, with some context.
fn first_difference(a: &str, b: &str) -> String {
    let (a_lines, b_lines): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let at = a_lines
        .iter()
        .zip(&b_lines)
        .take_while(|(x, y)| x == y)
        .count();
    let from = at.saturating_sub(4);
    let show = |lines: &[&str]| {
        lines
            .iter()
            .skip(from)
            .take(10)
            .copied()
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "line {}\n--- first:\n{}\n--- second:\n{}",
        at + 1,
        show(&a_lines),
        show(&b_lines)
    )
}

/// The `.nnet` files of `dir`, sorted; none if it does not exist.
pub(super) fn nnet_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "nnet"))
        .collect();
    files.sort();
    files
}

/// The corpus of this crate, then the repository's `ok` fixtures and models.
pub(super) fn all_sources() -> Vec<(String, String)> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.join("../..");
    let dirs = [
        crate_dir.join("src/tests/corpus"),
        root.join("tests/fixtures/ok"),
        root.join("models"),
        root.join("examples"),
    ];
    let mut sources = Vec::new();
    for dir in dirs {
        for path in nnet_files(&dir) {
            let text = std::fs::read_to_string(&path).expect("readable file");
            sources.push((path.display().to_string(), text));
        }
    }
    sources
}
