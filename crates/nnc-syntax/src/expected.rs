//! Turning a pest error into a [`SyntaxError`] fact: what was found at the
//! error position and, in words the user knows, what could have been there.
//!
//! pest reports two things at its farthest failure: the grammar rules it
//! tried ("positives") and, with error detail on, the literal tokens it tried
//! (`=`, `}`, ...). Rule names become categories ([`Expected::Statement`],
//! [`Expected::Expression`], ...); punctuation becomes [`Expected::Symbol`].
//! Tokens that only continue a word or a number, white space and comment
//! openers are noise and are dropped, and categories that subsume others
//! (an expression subsumes a name) absorb them.

use crate::grammar::Rule;
use crate::scan::{word_at, KEYWORDS};
use nnc_diag::syntax::{Cause, Expected, Found};
use nnc_diag::Span;
use pest::error::{Error, ErrorVariant, InputLocation};
use std::collections::BTreeSet;

/// Punctuation worth naming when pest tried it as a literal.
const SYMBOLS: &[&str] = &["=", ":", ",", "(", ")", "[", "]", "{", "}", ".."];

/// Where a pest error happened (relative to the parsed text) and what
/// could have been there, before [`simplify`].
///
/// pest's own position is the farthest place where a grammar *rule* failed;
/// a literal token that failed farther on (the `=` of `const X : 5`, tried
/// after the rule `ident` succeeded) is only known from the parse attempts.
/// The farther of the two wins when it names something worth saying.
pub(crate) fn locate(error: &Error<Rule>) -> (usize, BTreeSet<Expected>) {
    let rule_pos = match error.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    };
    let mut set = BTreeSet::new();
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        set.extend(positives.iter().filter_map(|rule| from_rule(*rule)));
    }
    let Some(attempts) = error.parse_attempts() else {
        return (rule_pos, set);
    };
    // pest names its token type only through `Display`; our grammar has
    // only case-sensitive literals, which display as themselves.
    let tokens: BTreeSet<Expected> = attempts
        .expected_tokens()
        .iter()
        .filter_map(|token| from_token(&token.to_string()))
        .collect();
    if attempts.max_position > rule_pos && !tokens.is_empty() {
        return (attempts.max_position, tokens);
    }
    if attempts.max_position == rule_pos {
        set.extend(tokens);
    }
    (rule_pos, set)
}

/// Whether pest gave up for a resource limit rather than a syntax error.
pub(crate) fn is_limit(error: &Error<Rule>) -> bool {
    matches!(error.variant, ErrorVariant::CustomError { .. })
}

/// The category a grammar rule stands for, if it is worth naming.
fn from_rule(rule: Rule) -> Option<Expected> {
    use Rule::*;
    let expected = match rule {
        file | item_prefix | const_item | block_item | model_item | data_item | train_item
        | kw_const | kw_block | kw_model | kw_data | kw_train => Expected::Item,
        EOI => Expected::EndOfFile,
        input_stmt | output_stmt | let_stmt | layer_stmt | layers_stmt | at_stmt | section_stmt
        | setting | setting_key | kw_output | kw_let | kw_layer | kw_at | kw_layers
        | layers_block | dataflow_body => Expected::Statement,
        layer_items | stage => Expected::Layer,
        expr | sum | product | unary | float | int | string | string_inner | boolean | call
        | index | list | paren | neg_op => Expected::Expression,
        pipe_op | arrow | add_op | sub_op | mul_op | div_op => Expected::Operator,
        ident | arg_name | ident_list | let_names => Expected::Name,
        params | param => Expected::Parameter,
        args | arg | named_arg => Expected::Argument,
        slice => Expected::Symbol("[".to_string()),
        range_op => Expected::Symbol("..".to_string()),
        kw_on => Expected::Keyword("on".to_string()),
        kw_input => Expected::Keyword("input".to_string()),
        kw_epoch => Expected::Keyword("epoch".to_string()),
        // Silent rules: pest never reports them.
        WHITESPACE | COMMENT | line_comment | block_comment | item | block_body | stmt | atom
        | exponent | ident_char | keyword | stmt_keyword => return None,
    };
    Some(expected)
}

/// The punctuation or keyword a literal token stands for, if worth naming.
fn from_token(token: &str) -> Option<Expected> {
    if SYMBOLS.contains(&token) {
        return Some(Expected::Symbol(token.to_string()));
    }
    match token {
        "on" | "epoch" => Some(Expected::Keyword(token.to_string())),
        "input" => Some(Expected::Keyword(token.to_string())),
        "output" | "let" | "layer" | "at" => Some(Expected::Statement),
        "const" | "block" | "model" | "data" | "train" => Some(Expected::Item),
        _ => None,
    }
}

/// Removes what a broader category already covers, and orders the rest.
/// In a layer list (`layers { ... }`, a sequential block) an expression is
/// called a layer.
pub(crate) fn simplify(mut set: BTreeSet<Expected>, in_layer_list: bool) -> Vec<Expected> {
    if in_layer_list && set.remove(&Expected::Expression) {
        set.insert(Expected::Layer);
    }
    if set.contains(&Expected::Statement) {
        set.remove(&Expected::Keyword("input".to_string()));
    }
    let broad = [
        Expected::Statement,
        Expected::Expression,
        Expected::Layer,
        Expected::Argument,
    ];
    if broad.iter().any(|b| set.contains(b)) {
        set.remove(&Expected::Name);
    }
    if set.contains(&Expected::Expression)
        || set.contains(&Expected::Layer)
        || set.contains(&Expected::Argument)
    {
        // `(` and `[` only open a parenthesised expression or a list here.
        set.remove(&Expected::Symbol("(".to_string()));
        set.remove(&Expected::Symbol("[".to_string()));
    }
    if set.contains(&Expected::Argument) {
        set.remove(&Expected::Expression);
    }
    if set.contains(&Expected::Layer) {
        set.remove(&Expected::Expression);
    }
    if set.contains(&Expected::Item) {
        set.remove(&Expected::EndOfFile);
    }
    if set.contains(&Expected::Statement) || set.contains(&Expected::Item) {
        // An operator would only continue the previous statement's value.
        set.remove(&Expected::Operator);
    }
    set.into_iter().collect()
}

/// The token at `pos` (absolute), as the user would name it, and its span:
/// at least one character, or zero-width at the end of the file.
pub(crate) fn found_at(source: &str, pos: usize) -> (Found, Span) {
    let pos = pos.min(source.len());
    let rest = source.get(pos..).unwrap_or("");
    let Some(first) = rest.chars().next() else {
        return (Found::EndOfFile, Span::new(source.len(), source.len()));
    };
    let (found, len) = if first == '\n' || rest.starts_with("\r\n") {
        (Found::Newline, if first == '\n' { 1 } else { 2 })
    } else if first.is_ascii_alphabetic() || first == '_' {
        let word = word_at(source, pos);
        let found = if KEYWORDS.contains(&word) {
            Found::Keyword(word.to_string())
        } else {
            Found::Name(word.to_string())
        };
        (found, word.len())
    } else if first.is_ascii_digit() {
        let len = number_len(rest);
        (Found::Number(rest[..len].to_string()), len)
    } else if first == '"' {
        let len = rest[1..].find(['"', '\n']).map_or(rest.len(), |n| n + 2);
        (Found::Str, len.min(rest.len()))
    } else {
        let len = ["|>", "->", "..", "//", "/*", "*/"]
            .iter()
            .find(|op| rest.starts_with(**op))
            .map_or(first.len_utf8(), |op| op.len());
        (Found::Symbol(rest[..len].to_string()), len)
    };
    (found, Span::new(pos, pos + len))
}

/// The length of the number-like token at the start of `text`.
fn number_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let decimal_point = b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        let exponent_sign =
            matches!(b, b'+' | b'-') && i > 0 && matches!(bytes[i - 1], b'e' | b'E');
        if b.is_ascii_alphanumeric() || b == b'_' || decimal_point || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i.max(1)
}

/// A likely cause visible around the error: a name, white space on the
/// same line, then the `(` or `[` that was found.
pub(crate) fn space_before_bracket(source: &str, pos: usize, found: &Found) -> Option<Cause> {
    let bracket = match found {
        Found::Symbol(s) if s == "(" => '(',
        Found::Symbol(s) if s == "[" => '[',
        _ => return None,
    };
    let before = source.get(..pos)?;
    let trimmed = before.trim_end_matches([' ', '\t']);
    if trimmed.len() == before.len() {
        return None;
    }
    let name_start = crate::scan::run_start(trimmed, |c| c.is_ascii_alphanumeric() || c == '_');
    let name = &trimmed[name_start..];
    let starts_like_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if !starts_like_name || KEYWORDS.contains(&name) {
        return None;
    }
    Some(Cause::SpaceBeforeBracket {
        name: name.to_string(),
        bracket,
        space: Span::new(trimmed.len(), pos),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_names_the_token() {
        let src = "ab model 12_000 |> \"s\" )";
        assert_eq!(
            found_at(src, 0),
            (Found::Name("ab".into()), Span::new(0, 2))
        );
        assert_eq!(
            found_at(src, 3),
            (Found::Keyword("model".into()), Span::new(3, 8))
        );
        assert_eq!(
            found_at(src, 9),
            (Found::Number("12_000".into()), Span::new(9, 15))
        );
        assert_eq!(
            found_at(src, 16),
            (Found::Symbol("|>".into()), Span::new(16, 18))
        );
        assert_eq!(found_at(src, 19), (Found::Str, Span::new(19, 22)));
        assert_eq!(
            found_at(src, 23),
            (Found::Symbol(")".into()), Span::new(23, 24))
        );
        assert_eq!(found_at(src, 24), (Found::EndOfFile, Span::new(24, 24)));
        assert_eq!(found_at("x\n", 1), (Found::Newline, Span::new(1, 2)));
        assert_eq!(
            found_at("1.5e-3,", 0),
            (Found::Number("1.5e-3".into()), Span::new(0, 6))
        );
        assert_eq!(
            found_at("é", 0),
            (Found::Symbol("é".into()), Span::new(0, 2))
        );
    }

    #[test]
    fn space_before_paren_is_recognised() {
        let src = "let h = dense (x)";
        let found = Found::Symbol("(".into());
        let cause = space_before_bracket(src, 14, &found);
        assert_eq!(
            cause,
            Some(Cause::SpaceBeforeBracket {
                name: "dense".into(),
                bracket: '(',
                space: Span::new(13, 14)
            })
        );
        assert_eq!(space_before_bracket("x = (1)", 4, &found), None);
        assert_eq!(space_before_bracket("layers (1)", 7, &found), None);
    }
}
