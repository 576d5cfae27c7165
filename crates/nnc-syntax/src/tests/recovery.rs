//! Error recovery: one error per broken item, good items kept, resumption
//! at the next item keyword line.

use super::parse_checked;
use crate::ast::Item;
use nnc_diag::syntax::{Cause, SyntaxError};

fn item_names(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|item| match item {
            Item::Const(c) => c.name.name.clone(),
            Item::Block(b) => b.name.name.clone(),
            Item::Model(m) => m.name.name.clone(),
            Item::Data(d) => d.name.name.clone(),
            Item::Train(t) => t.data.name.clone(),
        })
        .collect()
}

#[test]
fn two_broken_models_give_two_errors_and_keep_the_good_items() {
    let source = "const A = 1
model broken_one {
  input x: [1]
  let y = dense(x 3)
}
model good {
  input x: [1]
  layers { dense(1) }
}
model broken_two {
  input x = [1]
}
data d {
  train f[..10]
}
";
    let (file, errors) = parse_checked(source);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(item_names(&file.items), vec!["A", "good", "d"]);
    let lines: Vec<usize> = errors
        .iter()
        .map(|e| source[..e.span().start].matches('\n').count() + 1)
        .collect();
    assert_eq!(lines, vec![4, 11]);
}

#[test]
fn a_missing_brace_keeps_the_next_item() {
    let source = "model a {\n  input x: [784]\n\nmodel b {\n  input y: [2]\n}\n";
    let (file, errors) = parse_checked(source);
    assert_eq!(item_names(&file.items), vec!["b"]);
    let [SyntaxError::MissingBrace {
        span,
        open,
        opener,
        next,
        ..
    }] = errors.as_slice()
    else {
        panic!("one missing brace: {errors:#?}");
    };
    // At the end of `input x: [784]`, for the `{` of `model a`.
    assert_eq!((span.start, span.end), (26, 26));
    assert_eq!(open.start, 8);
    assert_eq!((opener.as_str(), next.as_str()), ("model a {", "model"));
    let d = errors[0].to_diagnostic();
    assert!(
        d.hints
            .iter()
            .any(|h| h.contains("close `model a {` before `model`")),
        "{:?}",
        d.hints
    );
}

#[test]
fn without_indentation_a_missing_brace_is_found_at_the_next_item() {
    let source = "model a {\ninput x: [784]\n\nmodel b {\ninput y: [2]\n}\n";
    let (file, errors) = parse_checked(source);
    assert_eq!(item_names(&file.items), vec!["b"]);
    let [SyntaxError::Unexpected { cause, .. }] = errors.as_slice() else {
        panic!("one error: {errors:#?}");
    };
    let Some(Cause::UnclosedBrace { open, keyword, .. }) = cause else {
        panic!("an unclosed brace: {cause:?}");
    };
    assert_eq!(open.start, 8);
    assert_eq!(keyword, "model");
    let d = errors[0].to_diagnostic();
    assert!(
        d.hints.iter().any(|h| h.contains("missing before `model`")),
        "{:?}",
        d.hints
    );
}

/// The one error of `source`, which must be a missing brace: `(the line
/// and column where the `}` belongs, the block, the word after it)`.
fn missing_brace(source: &str) -> ((usize, usize), String, String) {
    let (_, errors) = parse_checked(source);
    let [SyntaxError::MissingBrace {
        span, opener, next, ..
    }] = errors.as_slice()
    else {
        panic!("one missing brace: {errors:#?}");
    };
    let before = &source[..span.start];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    ((line, column), opener.clone(), next.clone())
}

const MODEL_WITHOUT_LAYERS_BRACE: &str = "model m {
  input x: [784]
  layers {
    dense(30, act: sigmoid)
    dense(10, act: sigmoid)  // out
  cost quadratic
}
";

const DATA_AND_TRAIN: &str = "
data d {
  train idx(\"a\", labels: \"b\")
}

train m on d {
  epochs 1
}
";

#[test]
fn a_layer_list_without_its_brace_is_one_error_before_the_next_statement() {
    let source = format!("{MODEL_WITHOUT_LAYERS_BRACE}{DATA_AND_TRAIN}");
    let expected = ((5, 28), "layers {".to_string(), "cost".to_string());
    assert_eq!(missing_brace(&source), expected);
    let (file, _) = parse_checked(&source);
    assert_eq!(item_names(&file.items), vec!["d", "d"]);
    // At the end of the file, too, and with CRLF line ends (the comment
    // then holds the `\r`).
    assert_eq!(missing_brace(MODEL_WITHOUT_LAYERS_BRACE), expected);
    let crlf = MODEL_WITHOUT_LAYERS_BRACE.replace('\n', "\r\n");
    assert_eq!(missing_brace(&crlf), expected);
}

#[test]
fn a_model_without_its_brace_is_one_error_before_the_next_item() {
    let source = format!(
        "model m {{\n  input x: [784]\n  layers {{\n    dense(10)\n  }}\n  cost quadratic\n{DATA_AND_TRAIN}"
    );
    assert_eq!(
        missing_brace(&source),
        ((6, 17), "model m {".to_string(), "data".to_string())
    );
    let (file, _) = parse_checked(&source);
    assert_eq!(item_names(&file.items), vec!["d", "d"]);
}

#[test]
fn after_a_missing_brace_later_items_still_report_their_errors() {
    let source =
        format!("{MODEL_WITHOUT_LAYERS_BRACE}{DATA_AND_TRAIN}model n {{ input x = [1] }}\n");
    let (file, errors) = parse_checked(&source);
    assert_eq!(item_names(&file.items), vec!["d", "d"]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(matches!(errors[0], SyntaxError::MissingBrace { .. }));
    assert!(matches!(errors[1], SyntaxError::Unexpected { .. }));
}

#[test]
fn a_line_indented_short_inside_closed_braces_is_not_a_missing_brace() {
    // `dense(10)` is indented like `layers`, but the list's `}` stands
    // where it should: the error is the `=` of the input.
    let source = "model m {\n  layers {\n    dense(3)\n  dense(10)\n  }\n  input x = [1]\n}\n";
    let (_, errors) = parse_checked(source);
    let [SyntaxError::Unexpected { found, .. }] = errors.as_slice() else {
        panic!("one unexpected token: {errors:#?}");
    };
    assert_eq!(*found, nnc_diag::syntax::Found::Symbol("=".into()));
}

#[test]
fn garbage_between_items_is_one_error() {
    let source = "model a { }\n}\n)))\nmodel b { }\n";
    let (file, errors) = parse_checked(source);
    assert_eq!(item_names(&file.items), vec!["a", "b"]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn an_item_cut_short_is_dropped() {
    let (file, errors) = parse_checked("const A = 1 +\nconst B = 2\n");
    // `1 + const` fails at `const`; the next line starts an item again.
    assert_eq!(item_names(&file.items), vec!["B"]);
    assert_eq!(errors.len(), 1);
}

#[test]
fn indented_keywords_inside_a_body_are_not_resumption_points() {
    // `train` at the start of an indented line is a data setting, not an item.
    let source = "data d {\n  let f = idx(\"a\")\n  bad bad bad\n  train f\n}\nmodel m { }\n";
    let (file, errors) = parse_checked(source);
    assert_eq!(item_names(&file.items), vec!["m"]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn an_indented_file_still_recovers() {
    let source = "  model a { ) }\n  model b { }\n  model c { ( }\n  model d { }\n";
    let (file, errors) = parse_checked(source);
    assert_eq!(item_names(&file.items), vec!["b", "d"]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
}

#[test]
fn keywords_in_comments_are_not_resumption_points() {
    let source = "model a { ) }\n/*\nmodel hidden { ) }\n*/\nmodel b { }\n";
    let (file, errors) = parse_checked(source);
    assert_eq!(item_names(&file.items), vec!["b"]);
    assert_eq!(errors.len(), 1, "{errors:#?}");
}

#[test]
fn every_broken_item_reports_once() {
    let mut source = String::new();
    for i in 0..50 {
        source.push_str(&format!("model m{i} {{ input x = [1] }}\n"));
    }
    let (file, errors) = parse_checked(&source);
    assert!(file.items.is_empty());
    assert_eq!(errors.len(), 50);
}

#[test]
fn errors_come_in_source_order_with_overflows() {
    let source = "const A = 99999999999999999999\nmodel m { ) }\nconst B = 99999999999999999999\n";
    let (file, errors) = parse_checked(source);
    assert_eq!(item_names(&file.items), vec!["A", "B"]);
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            SyntaxError::NumberTooLarge { .. } => "number",
            SyntaxError::Unexpected { .. } => "unexpected",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["number", "unexpected", "number"]);
}
