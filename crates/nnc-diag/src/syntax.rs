//! Syntax errors (owned by the syntax stage): the facts the parser reports
//! and their wording.
//!
//! The parser says what it found and what it could have accepted at that
//! point, as small enums ([`Found`], [`Expected`]); this module turns them
//! into a sentence such as "expected `=`, found `:`". Grammar rule names never
//! reach the user.

use crate::{Diagnostic, Label, Span};
use serde::Serialize;

/// The code of every syntax error except number overflow (see [`crate::codes`]).
const E0001: &str = "E0001";
/// The code of an integer literal out of range.
const E0002: &str = "E0002";

/// A syntax error of one source file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum SyntaxError {
    /// The parser met a token it cannot accept here.
    Unexpected {
        /// The offending token (zero-width at the end of the file).
        span: Span,
        found: Found,
        /// What would have been accepted, deduplicated and in display order.
        expected: Vec<Expected>,
        /// A likely reason, when the parser recognises one.
        cause: Option<Cause>,
    },
    /// An integer literal that does not fit in a signed 64-bit integer.
    NumberTooLarge { span: Span, text: String },
    /// A `{` whose `}` is missing, by the indentation: the next line
    /// `next` (at `next_span`) is indented no deeper than the line of the
    /// `{` at `open` (`cost` after `layers {`, `data` after `model m {`).
    /// `span` is zero-width where the `}` belongs, at the end of the code
    /// before that line; `opener` is the head of the block as written
    /// (`layers {`).
    MissingBrace {
        span: Span,
        open: Span,
        opener: String,
        next: String,
        next_span: Span,
    },
    /// A string literal without its closing `"` on the same line.
    UnterminatedString { span: Span },
    /// A `/*` comment without a closing `*/`; `span` covers the `/*`.
    UnterminatedComment { span: Span },
    /// Brackets or operators nested deeper than the parser accepts.
    TooDeep { span: Span, limit: usize },
    /// The parser disagreed with its own grammar: a bug in nnc, reported
    /// instead of a crash. `detail` names the part that was missing.
    Internal { span: Span, detail: &'static str },
}

/// What the parser found where it stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Found {
    EndOfFile,
    Newline,
    /// A reserved word such as `model`.
    Keyword(String),
    /// Any other word.
    Name(String),
    /// A number literal, as written.
    Number(String),
    /// A string literal.
    Str,
    /// Punctuation or an operator, e.g. `)` or `|>`.
    Symbol(String),
}

/// One thing the parser would have accepted. The order of the variants is
/// the order in which they are listed to the user.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Expected {
    /// Punctuation, e.g. `=`, `}` or `)`.
    Symbol(String),
    /// A reserved word, e.g. `on` or `epoch`.
    Keyword(String),
    /// A name (identifier).
    Name,
    /// A named or positional call argument.
    Argument,
    /// A block parameter.
    Parameter,
    /// An expression (a number, a name, a call, a list, ...).
    Expression,
    /// A layer of a `layers { ... }` stack or of a sequential block.
    Layer,
    /// A statement of a model, block, data or train body.
    Statement,
    /// A top-level item.
    Item,
    /// An infix operator continuing an expression.
    Operator,
    EndOfFile,
}

/// A likely reason for an [`SyntaxError::Unexpected`], found by looking
/// around the error position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Cause {
    /// A name and `(` or `[` separated by white space: `dense (30)`.
    SpaceBeforeBracket {
        name: String,
        bracket: char,
        space: Span,
    },
    /// A top-level item keyword at the start of a line while the `{` at
    /// `open` is still open: a `}` is probably missing before it.
    UnclosedBrace {
        open: Span,
        keyword: String,
        keyword_span: Span,
    },
    /// The bracket at `open` is still open where the error is: at the end
    /// of the file, or on a later line where its closing bracket `close`
    /// was expected.
    Unclosed { open: Span, close: char },
    /// A binding statement whose name is followed by its value without the
    /// `:` (`input x [784]`) or `=` (`let h dense(x, 30)`, `output y
    /// softmax(z)`) between them. `name` is the name's span; `suggestion`
    /// the statement as it was probably meant.
    MissingSeparator {
        keyword: String,
        separator: char,
        name: Span,
        suggestion: String,
    },
    /// A layer name followed on its line by its arguments without
    /// parentheses: `dense 30`. `name` is the name's span.
    MissingParens { name: Span, suggestion: String },
    /// A comma where statements or the layers of a list follow one another.
    StrayComma,
    /// `learning_rate: 0.1`: a setting's key followed by `:`, which only
    /// named arguments and input shapes take. `suggestion` is the setting
    /// without it.
    ColonAfterSetting { key: String, suggestion: String },
}

impl SyntaxError {
    /// The primary span of the error.
    pub fn span(&self) -> Span {
        match self {
            SyntaxError::Unexpected { span, .. }
            | SyntaxError::MissingBrace { span, .. }
            | SyntaxError::NumberTooLarge { span, .. }
            | SyntaxError::UnterminatedString { span }
            | SyntaxError::UnterminatedComment { span }
            | SyntaxError::TooDeep { span, .. }
            | SyntaxError::Internal { span, .. } => *span,
        }
    }

    /// Words the fact for the user.
    pub fn to_diagnostic(&self) -> Diagnostic {
        match self {
            SyntaxError::Unexpected {
                span,
                found,
                expected,
                cause,
            } => unexpected(*span, found, expected, cause.as_ref()),
            SyntaxError::MissingBrace {
                span,
                open,
                opener,
                next,
                next_span,
            } => Diagnostic::error(
                E0001,
                format!("missing `}}` to close `{opener}`"),
                Label::new(*span, "expected `}` here"),
            )
            .with_secondary(*open, "this `{` is not closed")
            .with_secondary(
                *next_span,
                format!("`{next}` is not indented inside `{opener}`"),
            )
            .with_note(format!(
                "a block ends at its `}}`, not at its indentation: as written, `{next}` and what \
                 follows are part of `{opener}`"
            ))
            .with_hint(format!("add `}}` to close `{opener}` before `{next}`")),
            SyntaxError::NumberTooLarge { span, text } => number_too_large(*span, text),
            SyntaxError::UnterminatedString { span } => Diagnostic::error(
                E0001,
                "unterminated string",
                Label::new(*span, "this string has no closing `\"`"),
            )
            .with_hint(
                "close the string with `\"` on the same line; write `\\\"` for a quote inside it",
            ),
            SyntaxError::UnterminatedComment { span } => Diagnostic::error(
                E0001,
                "unterminated block comment",
                Label::new(*span, "this comment has no closing `*/`"),
            )
            .with_hint("close the comment with `*/`"),
            SyntaxError::TooDeep { span, limit } => Diagnostic::error(
                E0001,
                "expression nested too deeply",
                Label::new(*span, "nesting exceeds the limit here"),
            )
            .with_note(format!("nnc accepts at most {limit} levels of nesting"))
            .with_hint("split the expression into several `let` or `const` bindings"),
            SyntaxError::Internal { span, detail } => Diagnostic::error(
                E0001,
                "internal error: the parser could not build the syntax tree",
                Label::new(*span, format!("missing {detail}")),
            )
            .with_note("this is a bug in nnc, not in your file; please report it"),
        }
    }
}

fn number_too_large(span: Span, text: &str) -> Diagnostic {
    let is_float = text.contains(['.', 'e', 'E']);
    if is_float {
        Diagnostic::error(
            E0002,
            format!("number `{text}` is too large"),
            Label::new(span, "does not fit in a 64-bit float"),
        )
        .with_note(format!("the largest number is about {:e}", f64::MAX))
    } else {
        Diagnostic::error(
            E0002,
            format!("integer `{text}` is too large"),
            Label::new(span, "does not fit in a 64-bit signed integer"),
        )
        .with_note(format!("the largest integer is {}", i64::MAX))
    }
}

fn unexpected(
    span: Span,
    found: &Found,
    expected: &[Expected],
    cause: Option<&Cause>,
) -> Diagnostic {
    let found_text = describe_found(found);
    let message = if expected.is_empty() {
        format!("unexpected {found_text}")
    } else {
        format!("expected {}, found {found_text}", join_expected(expected))
    };
    let label = if !expected.is_empty() && expected.len() <= 2 {
        let words: Vec<String> = expected
            .iter()
            .map(|e| describe_expected(e, false))
            .collect();
        format!("expected {} here", join_words(words))
    } else {
        format!("unexpected {}", short_found(found))
    };
    let mut diagnostic = Diagnostic::error(E0001, message, Label::new(span, label));
    if let Some(cause) = cause {
        diagnostic = with_cause(diagnostic, cause);
    }
    for hint in token_hints(found, expected) {
        diagnostic = diagnostic.with_hint(hint);
    }
    diagnostic
}

fn with_cause(diagnostic: Diagnostic, cause: &Cause) -> Diagnostic {
    match cause {
        Cause::SpaceBeforeBracket {
            name,
            bracket,
            space,
        } => {
            let what = if *bracket == '(' { "a call" } else { "a slice" };
            diagnostic
                .with_secondary(*space, "remove this space")
                .with_hint(format!(
                    "{what} must not have a space before `{bracket}`: write `{name}{bracket}...`"
                ))
        }
        Cause::UnclosedBrace {
            open,
            keyword,
            keyword_span,
        } => diagnostic
            .with_secondary(*open, "this `{` is not closed")
            .with_secondary(*keyword_span, format!("`{keyword}` starts a new item here"))
            .with_hint(format!("is a `}}` missing before `{keyword}`?")),
        Cause::MissingSeparator {
            keyword,
            separator,
            name,
            suggestion,
        } => {
            let what = if *separator == ':' {
                "the shape"
            } else {
                "the value"
            };
            diagnostic
                .with_secondary(*name, format!("`{separator}` is missing after this name"))
                .with_hint(format!("did you mean `{suggestion}`?"))
                .with_note(format!(
                    "`{keyword}` takes a name, then `{separator}`, then {what}"
                ))
        }
        Cause::MissingParens { name, suggestion } => diagnostic
            .with_secondary(*name, "this layer takes its arguments in parentheses")
            .with_hint(format!("did you mean `{suggestion}`?")),
        Cause::ColonAfterSetting { suggestion, .. } => diagnostic.with_hint(format!(
            "a setting is its name and its value, without `:` (`:` is for named arguments \
             and input shapes): did you mean `{suggestion}`?"
        )),
        Cause::StrayComma => diagnostic.with_hint(
            "statements, and the layers of a list, are separated by spaces or new lines, \
             not commas: remove this `,`",
        ),
        Cause::Unclosed { open, close } => {
            let opener = match close {
                ')' => '(',
                ']' => '[',
                _ => '{',
            };
            diagnostic
                .with_secondary(*open, format!("unclosed `{opener}`"))
                .with_hint(format!("add the missing `{close}`"))
        }
    }
}

/// Hints that follow from the found token and the expected set alone.
fn token_hints(found: &Found, expected: &[Expected]) -> Vec<String> {
    let expects = |symbol: &str| {
        expected
            .iter()
            .any(|e| matches!(e, Expected::Symbol(s) if s == symbol))
    };
    let mut hints = Vec::new();
    match found {
        Found::Symbol(s) if s == ":" && expects("=") => hints.push(
            "`let`, `const`, `layer`, `output` and block parameter defaults use `=`; \
             `:` is for named arguments and input shapes"
                .to_string(),
        ),
        Found::Symbol(s) if s == "=" && expects(":") => hints.push(
            "named arguments and input shapes use `:`, as in `act: relu` or `input x: [784]`"
                .to_string(),
        ),
        Found::Keyword(k) if expected.contains(&Expected::Name) => hints.push(format!(
            "`{k}` is a reserved word and cannot be used as a name; choose another name"
        )),
        Found::Symbol(s) if s == "[" && expects("..") => hints
            .push("a slice needs a range, as in `file[..50000]` or `file[50000..]`".to_string()),
        _ => {}
    }
    hints
}

fn describe_found(found: &Found) -> String {
    match found {
        Found::EndOfFile => "the end of the file".to_string(),
        Found::Newline => "the end of the line".to_string(),
        Found::Keyword(k) => format!("keyword `{k}`"),
        Found::Name(n) => format!("`{n}`"),
        Found::Number(n) => format!("`{n}`"),
        Found::Str => "a string".to_string(),
        Found::Symbol(s) => format!("`{s}`"),
    }
}

fn short_found(found: &Found) -> String {
    match found {
        Found::EndOfFile => "end of file".to_string(),
        Found::Newline => "end of line".to_string(),
        Found::Keyword(k) => format!("keyword `{k}`"),
        Found::Name(n) | Found::Number(n) | Found::Symbol(n) => format!("`{n}`"),
        Found::Str => "string".to_string(),
    }
}

/// Names an expected thing; `long` adds examples to statements and items.
fn describe_expected(expected: &Expected, long: bool) -> String {
    match expected {
        Expected::Symbol(s) | Expected::Keyword(s) => format!("`{s}`"),
        Expected::Name => "a name".to_string(),
        Expected::Argument => "an argument".to_string(),
        Expected::Parameter => "a parameter name".to_string(),
        Expected::Expression => "an expression".to_string(),
        Expected::Layer => "a layer".to_string(),
        Expected::Statement if long => {
            "a statement (`input`, `let`, `output`, `layer`, `layers`, a setting, ...)".to_string()
        }
        Expected::Statement => "a statement".to_string(),
        Expected::Item if long => {
            "an item (`model`, `data`, `train`, `block` or `const`)".to_string()
        }
        Expected::Item => "an item".to_string(),
        Expected::Operator => "an operator".to_string(),
        Expected::EndOfFile => "the end of the file".to_string(),
    }
}

/// Joins the expected things as English: "a, b or c".
fn join_expected(expected: &[Expected]) -> String {
    join_words(
        expected
            .iter()
            .map(|e| describe_expected(e, true))
            .collect(),
    )
}

fn join_words(words: Vec<String>) -> String {
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Expected {
        Expected::Symbol(s.to_string())
    }

    #[test]
    fn codes_are_in_the_table() {
        assert_eq!(crate::codes::title(E0001), Some("syntax error"));
        assert_eq!(
            crate::codes::title(E0002),
            Some("number literal out of range")
        );
    }

    #[test]
    fn colon_for_equals_reads_like_rustc() {
        let error = SyntaxError::Unexpected {
            span: Span::new(8, 9),
            found: Found::Symbol(":".to_string()),
            expected: vec![sym("=")],
            cause: None,
        };
        let d = error.to_diagnostic();
        assert_eq!(d.code, "E0001");
        assert_eq!(d.message, "expected `=`, found `:`");
        assert_eq!(d.primary.message, "expected `=` here");
        assert_eq!(d.primary.span, Span::new(8, 9));
        assert_eq!(d.hints.len(), 1);
    }

    #[test]
    fn several_expected_are_joined_with_or() {
        let error = SyntaxError::Unexpected {
            span: Span::new(3, 3),
            found: Found::EndOfFile,
            expected: vec![sym(","), sym(")"), Expected::Operator],
            cause: None,
        };
        let d = error.to_diagnostic();
        assert_eq!(
            d.message,
            "expected `,`, `)` or an operator, found the end of the file"
        );
        assert_eq!(d.primary.message, "unexpected end of file");
    }

    #[test]
    fn space_before_paren_gets_a_hint() {
        let error = SyntaxError::Unexpected {
            span: Span::new(6, 7),
            found: Found::Symbol("(".to_string()),
            expected: vec![Expected::Statement, sym("}")],
            cause: Some(Cause::SpaceBeforeBracket {
                name: "dense".to_string(),
                bracket: '(',
                space: Span::new(5, 6),
            }),
        };
        let d = error.to_diagnostic();
        assert!(
            d.hints.iter().any(|h| h.contains("`dense(...`")),
            "{:?}",
            d.hints
        );
        assert_eq!(d.secondary.len(), 1);
    }

    #[test]
    fn number_too_large_is_e0002() {
        let error = SyntaxError::NumberTooLarge {
            span: Span::new(0, 20),
            text: "99999999999999999999".to_string(),
        };
        let d = error.to_diagnostic();
        assert_eq!(d.code, "E0002");
        assert_eq!(d.message, "integer `99999999999999999999` is too large");
    }
}
