//! The invariants on every file of the corpus, the fixtures and the models.

use super::{all_sources, check_invariants};
use serde_json::Value;
use std::collections::BTreeSet;

#[test]
fn every_file_keeps_every_invariant() {
    let sources = all_sources();
    assert!(sources.len() >= 6, "the corpus is missing");
    for (name, text) in &sources {
        check_invariants(name, text);
    }
}

#[test]
fn formatted_files_stay_as_they_are() {
    for (name, text) in all_sources() {
        let once = check_invariants(&name, &text);
        assert_eq!(check_invariants(&name, &once), once, "{name}");
    }
}

fn collect_keys(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                keys.insert(key.clone());
                collect_keys(inner, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_keys(v, keys)),
        _ => {}
    }
}

/// The crate's own corpus holds every kind of item, statement and
/// expression of the tree.
#[test]
fn the_corpus_covers_every_construct() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tests/corpus");
    let mut keys = BTreeSet::new();
    for path in super::nnet_files(&dir) {
        let text = std::fs::read_to_string(&path).expect("readable corpus file");
        collect_keys(&super::tree_without_spans(&text), &mut keys);
    }
    let variants = [
        "Const", "Block", "Model", "Data", "Train", "Layers", "Dataflow", "Input", "Output", "Let",
        "LetMany", "Layer", "At", "Section", "Setting", "Expr", "Args", "Int", "Float", "Str",
        "Bool", "Name", "Call", "Slice", "List", "Neg", "Binary", "Pipe", "Assert", "Paren",
    ];
    for variant in variants {
        assert!(keys.contains(variant), "no `{variant}` in the corpus");
    }
}
