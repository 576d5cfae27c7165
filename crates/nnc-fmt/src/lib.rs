//! The canonical formatter of `.nnet` files (`nnc fmt`).
//!
//! [`format()`] parses a source text and prints its syntax tree back in the one
//! canonical layout; [`format_file`] prints an already parsed tree. A file
//! with syntax errors is not formatted: [`format()`] returns the errors.
//!
//! # Invariants
//!
//! - **Fixed point.** `format(format(x)) == format(x)`.
//! - **No change of meaning.** The tree of the output equals the tree of the
//!   input once spans are erased: the formatter only moves whitespace and
//!   comments. Parentheses are kept as written, integers keep their digit
//!   grouping (`50_000`), floats keep their text (`1e-8`, `5.0`).
//! - **Every comment survives**, exactly once and in the same order. Its text
//!   is kept, except that trailing whitespace is removed from each of its
//!   lines.
//! - The output ends with exactly one newline (an empty file stays empty) and
//!   no line has trailing whitespace.
//! - Any text the parser accepts formats without panicking.
//!
//! # The canonical style
//!
//! - Indentation is 2 spaces per level; `{` ends the line that opens a body,
//!   `}` is alone on its line (an empty body is `{}`).
//! - Items are separated by exactly one blank line, except that consecutive
//!   `const` items keep the source's choice of zero or one blank line.
//! - One statement per line, one layer per line in `layers { ... }` and in
//!   sequential blocks (always, whatever the number of layers). Blank lines
//!   between statements, layers and comments are kept, at most one; blank
//!   lines after `{` and before `}` are removed.
//! - `at epoch N { key value }` stays on one line when its body is a single
//!   setting with no comment and the line fits; otherwise one statement per
//!   line.
//! - Settings are `key value` with one space (values are never aligned in a
//!   column: alignment churns diffs); call-style settings are `key(args)`.
//! - One space around binary operators, `=`, `|>` and `->`; `name: value` for
//!   named arguments, shapes and `input`; `, ` between elements; no space
//!   inside brackets: `dense(30, act: relu)`, `[1, 28, 28]`, `f[..50_000]`.
//! - Strings are re-escaped: `\\`, `\"`, `\n` and `\t`; every other character
//!   as itself.
//! - Lines aim at 100 columns. A pipe that does not fit breaks before every
//!   `|>`, each stage on its own line indented 4 spaces from the statement.
//!   An argument, parameter or list that does not fit breaks one element per
//!   line, indented 2 spaces, with a trailing comma. A call whose only
//!   argument is a list hugs it: `values([` ... `])`. A list of two or more
//!   lists (a matrix, as in `values([[...], [...]])`) is always one row per
//!   line. A break inside an element breaks the lists and pipes around it
//!   (so `x |> layers { ... }` puts its stage on its own line). Nothing else
//!   breaks: long arithmetic, item headers and comments stay on their line.
//!
//! # Comments
//!
//! A comment on its own line stays on its own line, before the statement,
//! item, layer or list element that follows it (a comment before a closing
//! `}` stays at the end of the body). A comment after code on the same line
//! stays at the end of that line, two spaces after the code. A block comment
//! with code after it on its line stays inline before that code (a name, a
//! value, a list element or the `{` of a body). A comment anywhere else
//! inside a statement (say, a `//` comment between `=` and the value) moves,
//! with the other comments of that statement's header, onto its own line
//! before the statement.

mod doc;
mod printer;
mod source;

#[cfg(test)]
mod tests;

use nnc_diag::syntax::SyntaxError;
use nnc_syntax::ast;
use std::fmt;

/// The width the formatter aims to stay within, in columns.
pub const MAX_WIDTH: usize = printer::MAX_WIDTH;

/// Why a source text was not formatted: it has syntax errors.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatError {
    /// The syntax errors, as the parser reported them (never empty).
    pub errors: Vec<SyntaxError>,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        let plural = if n == 1 { "" } else { "s" };
        write!(f, "not formatted: {n} syntax error{plural}")
    }
}

impl std::error::Error for FormatError {}

/// Parses `source` and prints it in the canonical style.
pub fn format(source: &str) -> Result<String, FormatError> {
    let (file, errors) = nnc_syntax::parse(source);
    if errors.is_empty() {
        Ok(format_file(&file, source))
    } else {
        Err(FormatError { errors })
    }
}

/// Prints `file`, the syntax tree parsed from `source`, in the canonical
/// style. `source` is read for what the tree does not hold: comments'
/// surroundings, blank lines and integers as written.
pub fn format_file(file: &ast::File, source: &str) -> String {
    let mut printer = printer::Printer::new(file, source);
    let body = printer.file(file);
    let rest = printer.remaining();
    let rendered = doc::render(&doc::concat(vec![body, rest]), MAX_WIDTH);
    let trimmed = rendered.trim_matches(|c: char| c.is_whitespace());
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}
