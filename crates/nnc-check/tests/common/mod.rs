//! Helpers shared by the checker's integration tests.

#![allow(dead_code)]

use nnc_check::program::{Model, Program};
use nnc_check::Checked;
use nnc_diag::check::CheckError;

/// Parses (asserting there is no syntax error) and checks `source`.
pub fn check(source: &str) -> Checked {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "syntax errors: {syntax:?}\n{source}");
    let checked = nnc_check::check(&file);
    for e in &checked.errors {
        let d = e.to_diagnostic();
        assert!(
            d.primary.span.end <= source.len(),
            "span past the end: {d:?}"
        );
        assert!(!d.message.ends_with('.'), "trailing period: {}", d.message);
        assert!(
            nnc_diag::codes::title(d.code).is_some(),
            "unknown code {}",
            d.code
        );
    }
    checked
}

/// The codes reported for `source`, in order.
pub fn codes(source: &str) -> Vec<&'static str> {
    check(source).errors.iter().map(CheckError::code).collect()
}

/// The facts reported for `source`, without block context.
pub fn facts(source: &str) -> Vec<CheckError> {
    check(source)
        .errors
        .iter()
        .map(|e| e.innermost().clone())
        .collect()
}

/// The program of a source that must check without errors.
pub fn program(source: &str) -> Program {
    let checked = check(source);
    assert!(
        !checked.has_errors(),
        "unexpected errors: {:#?}",
        checked
            .errors
            .iter()
            .map(|e| e.to_diagnostic().message)
            .collect::<Vec<_>>()
    );
    checked.program
}

/// The one model of a source that must check without errors.
pub fn model(source: &str) -> Model {
    let program = program(source);
    assert_eq!(program.models.len(), 1, "expected one model");
    program.models.into_iter().next().unwrap()
}

/// A model with one input and a `layers` stack.
pub fn stack(input: &str, layers: &str) -> String {
    format!("model m {{\n  input x: {input}\n  layers {{\n{layers}\n  }}\n}}\n")
}

/// The output shape of a stack that must check clean.
pub fn stack_shape(input: &str, layers: &str) -> Vec<usize> {
    let m = model(&stack(input, layers));
    let (_, id) = m.outputs[0];
    m.node(id).shape.clone()
}

/// Total parameter count of a model.
pub fn params(m: &Model) -> usize {
    m.layers.iter().map(|l| l.param_count()).sum()
}

/// A file of the repository, from the workspace root.
pub fn repo_file(path: &str) -> String {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}
