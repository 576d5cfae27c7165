//! Likely causes of a syntax error read from the statement it stops in,
//! not only from the tokens around it: the user wrote a statement of a
//! known form and left out one piece.
//!
//! - `input x [784]`, `let h dense(x, 30)`, `output y 3 * x`: a binding
//!   keyword and its name, then the value without the `:` (inputs) or `=`
//!   (everything else) between them ([`Cause::MissingSeparator`], with the
//!   statement as it was probably meant);
//! - `dense 30`, `dense 30, act: relu`: a layer name followed on its line by
//!   arguments without parentheses ([`Cause::MissingParens`]);
//! - `dense(30), dense(10)` in a layer list, `input x: [784],`: a comma
//!   where statements or layers simply follow one another
//!   ([`Cause::StrayComma`]).
//!
//! These take precedence over the token-level guesses (a space before a
//! bracket), which read `input x [784]` as a slice of `x`.

use crate::scan::{run_start, KEYWORDS};
use nnc_diag::syntax::{Cause, Expected, Found};
use nnc_diag::Span;

/// The keywords that bind a name, and the separator before their value.
const BINDINGS: &[(&str, char)] = &[
    ("input", ':'),
    ("output", '='),
    ("let", '='),
    ("layer", '='),
    ("const", '='),
];

/// The likely cause of an error at `pos` (where `found` is) in the
/// statement that holds it, given what the parser `expected` there.
pub(crate) fn statement_cause(
    source: &str,
    pos: usize,
    found: &Found,
    expected: &[Expected],
) -> Option<Cause> {
    if matches!(found, Found::EndOfFile | Found::Newline) {
        return None;
    }
    let line_start = source.get(..pos)?.rfind('\n').map_or(0, |i| i + 1);
    let before = source.get(line_start..pos)?;
    let starts_value = match found {
        Found::Name(_) | Found::Number(_) | Found::Str => true,
        Found::Symbol(s) => matches!(s.as_str(), "[" | "(" | "-"),
        _ => false,
    };
    if starts_value {
        if let Some(cause) = missing_separator(source, line_start, before, pos, expected) {
            return Some(cause);
        }
    }
    let ended = expected.iter().any(|e| {
        matches!(
            e,
            Expected::Statement | Expected::Layer | Expected::Operator
        )
    });
    match found {
        Found::Symbol(s) if s == ":" => colon_after_setting(source, before, pos),
        Found::Number(_) if ended => missing_parens(source, line_start, before, pos),
        Found::Symbol(s) if s == "," && between_items(expected) => {
            // `dense 30, act: relu`: the comma follows a layer's first
            // argument written without parentheses.
            let number = trailing_number(before);
            let parens = number
                .and_then(|at| missing_parens(source, line_start, &before[..at], line_start + at));
            parens.or(Some(Cause::StrayComma))
        }
        _ => None,
    }
}

/// Whether the parser was between statements or the layers of a list (not
/// inside brackets, where a comma is fine).
fn between_items(expected: &[Expected]) -> bool {
    expected
        .iter()
        .any(|e| matches!(e, Expected::Statement | Expected::Layer))
}

/// `KEYWORD NAME` and nothing else before the error on its line, where the
/// keyword's separator was one of the things expected.
fn missing_separator(
    source: &str,
    line_start: usize,
    before: &str,
    pos: usize,
    expected: &[Expected],
) -> Option<Cause> {
    let (keyword, name, offset) = binding_head(before)?;
    let separator = separator_of(keyword)?;
    if !expected.contains(&Expected::Symbol(separator.to_string())) {
        return None;
    }
    let name_start = line_start + offset;
    separator_cause(
        keyword,
        separator,
        Span::new(name_start, name_start + name.len()),
        name,
        &rest_of_line(source, pos),
    )
}

/// The cause for a binding `KEYWORD NAME` (its name at `name`) followed by
/// `value` without its separator.
pub(crate) fn separator_cause(
    keyword: &str,
    separator: char,
    name: Span,
    name_text: &str,
    value: &str,
) -> Option<Cause> {
    if value.is_empty() {
        return None;
    }
    let joined = if separator == ':' { ": " } else { " = " };
    Some(Cause::MissingSeparator {
        keyword: keyword.to_string(),
        separator,
        name,
        suggestion: format!("{keyword} {name_text}{joined}{value}"),
    })
}

/// The separator of a binding keyword (`input`: `:`, others `=`).
pub(crate) fn separator_of(keyword: &str) -> Option<char> {
    BINDINGS.iter().find(|(k, _)| *k == keyword).map(|b| b.1)
}

/// `(keyword, name, the name's offset in before)` when `before` is, after
/// indentation, a binding keyword, white space, a name, and optional white
/// space.
fn binding_head(before: &str) -> Option<(&str, &str, usize)> {
    let text = before.trim_start();
    let indent = before.len() - text.len();
    let keyword_len = text.find(|c: char| !c.is_ascii_alphabetic())?;
    let keyword = &text[..keyword_len];
    separator_of(keyword)?;
    let rest = &text[keyword_len..];
    let name_part = rest.trim_start_matches([' ', '\t']);
    if name_part.len() == rest.len() {
        return None;
    }
    let name = name_part.trim_end_matches([' ', '\t']);
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let offset = indent + keyword_len + (rest.len() - name_part.len());
    (is_name && !KEYWORDS.contains(&name)).then_some((keyword, name, offset))
}

/// `learning_rate: 0.1`: a lone name (no keyword) before the `:` at `pos`
/// on its line, the key of a setting.
fn colon_after_setting(source: &str, before: &str, pos: usize) -> Option<Cause> {
    let key = before.trim();
    let is_name = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_name || KEYWORDS.contains(&key) {
        return None;
    }
    let value = rest_of_line(source, pos + 1);
    let value = value.trim_start();
    (!value.is_empty()).then(|| Cause::ColonAfterSetting {
        key: key.to_string(),
        suggestion: format!("{key} {value}"),
    })
}

/// Where a number that ends `before` (after white space) starts, if one
/// does.
fn trailing_number(before: &str) -> Option<usize> {
    let trimmed = before.trim_end_matches([' ', '\t']);
    let start = run_start(trimmed, |c| {
        c.is_ascii_alphanumeric() || c == '.' || c == '_'
    });
    let token = &trimmed[start..];
    token
        .starts_with(|c: char| c.is_ascii_digit())
        .then_some(start)
}

/// A name, then spaces, then the number at `pos`, on one line: `dense 30`.
fn missing_parens(source: &str, line_start: usize, before: &str, pos: usize) -> Option<Cause> {
    let trimmed = before.trim_end_matches([' ', '\t']);
    if trimmed.len() == before.len() {
        return None;
    }
    let name_start = run_start(trimmed, |c| c.is_ascii_alphanumeric() || c == '_');
    let name = &trimmed[name_start..];
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if !is_name || KEYWORDS.contains(&name) {
        return None;
    }
    let start = line_start + name_start;
    Some(parens_cause(
        Span::new(start, start + name.len()),
        name,
        &rest_of_line(source, pos),
    ))
}

/// The cause for a layer `name` (at `span`) followed by `args` without
/// parentheses.
pub(crate) fn parens_cause(span: Span, name: &str, args: &str) -> Cause {
    Cause::MissingParens {
        name: span,
        suggestion: format!("{name}({args})"),
    }
}

/// The text from `pos` to the end of its line, without a trailing comment
/// and stopping before a bracket that closes one opened earlier (the `}`
/// of `layers { dense 30 }`).
pub(crate) fn rest_of_line(source: &str, pos: usize) -> String {
    let Some(text) = source.get(pos..) else {
        return String::new();
    };
    let mut depth = 0usize;
    let mut end = text.len();
    let mut in_string = false;
    for (i, c) in text.char_indices() {
        match c {
            '\n' => {
                end = i;
                break;
            }
            '"' => in_string = !in_string,
            _ if in_string => {}
            '/' if text[i..].starts_with("//") || text[i..].starts_with("/*") => {
                end = i;
                break;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => {
                end = i;
                break;
            }
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    text[..end].trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(source: &str, found: Found, expected: &[Expected]) -> Option<Cause> {
        let pos = match &found {
            Found::Symbol(s) | Found::Number(s) | Found::Name(s) => source.rfind(s.as_str()),
            _ => None,
        }
        .expect("the found token is in the source");
        statement_cause(source, pos, &found, expected)
    }

    fn symbol(s: &str) -> Expected {
        Expected::Symbol(s.to_string())
    }

    #[test]
    fn an_input_without_its_colon() {
        let source = "model m {\n  input x [28, 28]  // pictures\n}";
        let got = cause(source, Found::Symbol("[".into()), &[symbol(":")]);
        assert_eq!(
            got,
            Some(Cause::MissingSeparator {
                keyword: "input".into(),
                separator: ':',
                name: Span::new(18, 19),
                suggestion: "input x: [28, 28]".into(),
            })
        );
    }

    #[test]
    fn a_let_without_its_equals() {
        let source = "  let h dense(x, 30)";
        let got = cause(source, Found::Name("dense".into()), &[symbol("=")]);
        assert!(matches!(
            got,
            Some(Cause::MissingSeparator { ref suggestion, separator: '=', .. })
                if suggestion == "let h = dense(x, 30)"
        ));
        // Not when the separator was not expected there, nor for a wrong
        // separator (another hint says which one to use).
        assert_eq!(cause(source, Found::Name("dense".into()), &[]), None);
        assert_eq!(
            cause("const X : 5", Found::Symbol(":".into()), &[symbol("=")]),
            None
        );
    }

    #[test]
    fn a_layer_without_parentheses() {
        let source = "  let h = dense 30, act: relu }";
        let got = cause(source, Found::Number("30".into()), &[Expected::Statement]);
        assert_eq!(
            got,
            Some(Cause::MissingParens {
                name: Span::new(10, 15),
                suggestion: "dense(30, act: relu)".into(),
            })
        );
        // Only where the parser took the name as a finished expression.
        let epoch = "  at epoch 3";
        assert_eq!(
            cause(epoch, Found::Number("3".into()), &[symbol("{")]),
            None
        );
    }

    #[test]
    fn a_comma_after_a_layer_without_parentheses() {
        let source = "    dense 30, act: relu";
        let got = cause(source, Found::Symbol(",".into()), &[Expected::Layer]);
        assert_eq!(
            got,
            Some(Cause::MissingParens {
                name: Span::new(4, 9),
                suggestion: "dense(30, act: relu)".into(),
            })
        );
    }

    #[test]
    fn a_setting_with_a_colon() {
        let source = "train m on d {\n  learning_rate: 0.1 // fast\n}";
        let got = cause(source, Found::Symbol(":".into()), &[Expected::Argument]);
        assert_eq!(
            got,
            Some(Cause::ColonAfterSetting {
                key: "learning_rate".into(),
                suggestion: "learning_rate 0.1".into(),
            })
        );
        // Not after a keyword, nor inside a call.
        assert_eq!(
            cause("  input x: [1]", Found::Symbol(":".into()), &[]),
            None
        );
        assert_eq!(cause("  f(a: 1", Found::Symbol(":".into()), &[]), None);
    }

    #[test]
    fn a_comma_between_statements() {
        let source = "  input x: [784],";
        let got = cause(source, Found::Symbol(",".into()), &[Expected::Statement]);
        assert_eq!(got, Some(Cause::StrayComma));
        let in_call = "  f(1 2,";
        assert_eq!(
            cause(in_call, Found::Symbol(",".into()), &[symbol(")")]),
            None
        );
    }

    #[test]
    fn words_after_other_letters_start_on_a_character_boundary() {
        let name = |c: char| c.is_ascii_alphanumeric() || c == '_';
        assert_eq!(run_start("é30", name), 2);
        assert_eq!(run_start("dense", name), 0);
        assert_eq!(run_start("x é", name), 4);
        for source in ["é 30", "é30 30", "  é (", "input é [1]", "dense é30, x"] {
            for (pos, _) in source.char_indices() {
                for found in [
                    Found::Number("30".into()),
                    Found::Symbol(",".into()),
                    Found::Symbol("[".into()),
                ] {
                    let expected = [Expected::Statement, Expected::Symbol(":".into())];
                    let _ = statement_cause(source, pos, &found, &expected);
                }
            }
        }
    }

    #[test]
    fn the_rest_of_a_line_stops_at_comments_and_outer_brackets() {
        assert_eq!(rest_of_line("x 30, act: relu } // c\n", 2), "30, act: relu");
        assert_eq!(rest_of_line("x [1, 2] /* c */", 2), "[1, 2]");
        assert_eq!(rest_of_line("x \"a}b\")", 2), "\"a}b\"");
        assert_eq!(rest_of_line("x", 5), "");
    }
}
