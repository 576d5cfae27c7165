//! Helpers shared by the interpreter's integration tests.
#![allow(dead_code)]

pub mod gradcheck;

use nnc_check::program::{Model, Program};
use std::path::PathBuf;

/// Parses and checks `source`; panics with the errors when it does not
/// check clean.
pub fn program(source: &str) -> Program {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "syntax errors: {syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "check errors: {:?}", checked.errors);
    checked.program
}

/// The first model of `source`.
pub fn model(source: &str) -> Model {
    program(source).models.remove(0)
}

/// A file of the repository, from the workspace root.
pub fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}
