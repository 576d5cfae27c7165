//! The syntax stage of nnc: `.nnet` source text in, an untyped syntax tree
//! ([`ast::File`]) and a list of syntax errors out.
//!
//! [`parse`] is the only entry point. The grammar lives in
//! `grammar/nnet.pest` and is compiled by pest; pest stays private to this
//! crate, and its pairs are lowered into the [`ast`] at once, with byte spans.
//!
//! Invariants:
//! - Parsing never fails and never panics: any text yields a [`ast::File`]
//!   and a (possibly empty) list of [`SyntaxError`] facts. The wording of
//!   those facts lives in `nnc_diag::syntax`, not here.
//! - Every item in the file either parsed completely or was dropped: the
//!   tree holds no placeholders. An integer literal out of range is the one
//!   error that keeps its item (the value saturates at `i64::MAX`).
//! - Spans are absolute byte offsets into the source, `start <= end <=
//!   source.len()`, on character boundaries; a child's span lies inside its
//!   parent's and siblings come in source order.
//! - Every comment outside string literals is in [`ast::File::comments`].
//! - Depth is bounded: brackets nest at most [`MAX_NESTING`] levels and an
//!   expression tree is at most [`MAX_EXPR_DEPTH`] nodes deep, so neither
//!   the parser nor later recursive passes can overflow the stack. Deeper
//!   input is a syntax error, not a crash.
//!
//! Error recovery: when the file does not parse, the error at pest's
//! farthest failure is reported, the items before the failing one are kept,
//! and parsing resumes at the next line that starts with an item keyword
//! (`const`, `block`, `model`, `data`, `train`) after the failing item's
//! start and indented no deeper than it. A keyword line *inside* the failing
//! item is such a place too: it usually means a `}` is missing, and the item
//! after it is worth keeping. Each resumption moves strictly forward, so
//! recovery ends, with at most one error per failed item.
//!
//! Where pest stops is often far from a missing `}`: without the `}` of
//! `layers {`, the model's `}` closes the list, `cost quadratic` reads as
//! two layers, and the parse fails only at the next item. So before
//! wording an error, the failing item's indentation is read
//! (`Scan::missing_brace` in `scan.rs`); when it shows the `}` of a block
//! missing before the error, the error is a [`SyntaxError::MissingBrace`]
//! at the place the `}` belongs.

pub mod ast;
mod expected;
mod grammar;
mod hints;
mod lower;
mod scan;

use ast::{File, Item};
use grammar::{NnetParser, Rule};
use lower::Lowerer;
use nnc_diag::syntax::{Cause, Expected, Found, SyntaxError};
use nnc_diag::Span;
use pest::Parser;
use scan::Scan;
use std::collections::BTreeSet;

pub use lower::MAX_EXPR_DEPTH;

/// The deepest nesting of brackets (`(`, `[`, `{`) the parser accepts.
pub const MAX_NESTING: usize = 64;

/// Parses a whole `.nnet` source. Never fails: the file holds every item
/// that parsed, the list every syntax error in source order.
pub fn parse(source: &str) -> (File, Vec<SyntaxError>) {
    // pest reads this process-wide switch when a parse starts; the literal
    // tokens it records are what makes "expected `=`" possible.
    pest::set_error_detail(true);
    let scan = scan::scan(source);
    let mut recovery = Recovery {
        source,
        scan: &scan,
        items: Vec::new(),
        errors: Vec::new(),
    };
    let mut start = Some(0);
    while let Some(from) = start {
        start = recovery.segment(from);
    }
    let Recovery {
        items, mut errors, ..
    } = recovery;
    errors.sort_by_key(|e| e.span().start);
    let file = File {
        items,
        comments: scan.comments,
        span: Span::new(0, source.len()),
    };
    (file, errors)
}

/// The state of one parse with error recovery.
struct Recovery<'s> {
    source: &'s str,
    scan: &'s Scan,
    items: Vec<Item>,
    errors: Vec<SyntaxError>,
}

impl Recovery<'_> {
    /// Parses the text from `start` on, keeps what parses and records the
    /// first error. Returns where to resume, if anywhere.
    fn segment(&mut self, start: usize) -> Option<usize> {
        let deep = self
            .scan
            .first_too_deep(start, self.source.len(), MAX_NESTING);
        let end = deep.unwrap_or(self.source.len());
        let text = &self.source[start..end];
        match NnetParser::parse(Rule::file, text) {
            Ok(mut pairs) => {
                if let Some(root) = pairs.next() {
                    Lowerer::new(start, self.source, &self.scan.comments, &mut self.errors)
                        .items(root, &mut self.items);
                }
                // A text cut before an over-deep bracket cannot parse (its
                // brackets are unbalanced); this keeps the guarantee anyway.
                let deep = deep?;
                self.errors.push(too_deep(deep));
                self.resume(end, deep).0
            }
            Err(error) => {
                let (relative, expected) = expected::locate(&error);
                let pos = start + relative;
                let failed_at = self.keep_prefix(start, text, pos);
                let (resume, unclosed) = self.resume(failed_at, pos);
                let context = Context {
                    start,
                    item: failed_at,
                    pos,
                    deep,
                    limit: expected::is_limit(&error),
                };
                let fact = self.fact(context, expected, unclosed);
                self.errors.push(fact);
                resume
            }
        }
    }

    /// Keeps the items that parse at the start of `text` and returns where
    /// the first failing item starts (absolute). When the error at `pos`
    /// lies beyond that point and no item keyword starts there, the last
    /// kept item was cut short (`const x = 1 +`) and is dropped too.
    fn keep_prefix(&mut self, start: usize, text: &str, pos: usize) -> usize {
        let Ok(mut pairs) = NnetParser::parse(Rule::item_prefix, text) else {
            return start;
        };
        let Some(root) = pairs.next() else {
            return start;
        };
        let end = start + root.as_span().end();
        let kept_before = self.items.len();
        Lowerer::new(start, self.source, &self.scan.comments, &mut self.errors)
            .items(root, &mut self.items);
        let failed_at = self.skip_trivia(end);
        let starts_item = scan::ITEM_KEYWORDS.contains(&scan::word_at(self.source, failed_at));
        if pos > failed_at && !starts_item && self.items.len() > kept_before {
            self.items.pop();
        }
        failed_at
    }

    /// Skips white space and comments from `pos`.
    fn skip_trivia(&self, mut pos: usize) -> usize {
        loop {
            let rest = self.source.get(pos..).unwrap_or("");
            pos += rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n']).len();
            let comments = &self.scan.comments;
            let at = comments.partition_point(|c| c.span.start < pos);
            match comments.get(at) {
                Some(comment) if comment.span.start == pos => pos = comment.span.end,
                _ => return pos,
            }
        }
    }

    /// Where to resume after an item failing at `failed_at` with an error
    /// at `pos`: the first item keyword line after `failed_at`, indented no
    /// deeper than the failing item. When that line lies before the error,
    /// the item swallowed it, and the cause is the `{` still open there.
    fn resume(&self, failed_at: usize, pos: usize) -> (Option<usize>, Option<Cause>) {
        let indent = self.line_indent(failed_at);
        let next = self
            .scan
            .item_lines
            .iter()
            .find(|line| line.pos > failed_at && line.indent <= indent);
        let Some(line) = next else {
            return (None, None);
        };
        let cause = if line.pos < pos {
            self.scan
                .open_brace_at(failed_at, line.pos)
                .map(|open| Cause::UnclosedBrace {
                    open: Span::new(open, open + 1),
                    keyword: scan::word_at(self.source, line.pos).to_string(),
                    keyword_span: Span::new(line.pos, line.pos + line.len),
                })
        } else {
            None
        };
        (Some(line.pos), cause)
    }

    /// The width of the indentation of the line containing `pos`.
    fn line_indent(&self, pos: usize) -> usize {
        scan::line_indent(self.source, pos)
    }

    /// The fact for a pest error; `expected` is what pest would have
    /// accepted at the error position.
    fn fact(
        &self,
        context: Context,
        expected: BTreeSet<Expected>,
        unclosed: Option<Cause>,
    ) -> SyntaxError {
        let Context {
            start,
            item,
            pos,
            deep,
            limit,
        } = context;
        if let Some(deep) = deep.filter(|d| pos >= *d) {
            return too_deep(deep);
        }
        let (found, span) = expected::found_at(self.source, pos);
        if limit {
            return SyntaxError::TooDeep {
                span,
                limit: MAX_NESTING,
            };
        }
        if let Some(open) = self.scan.open_comment.filter(|c| pos >= c.start) {
            return SyntaxError::UnterminatedComment { span: open };
        }
        if let Some(open) = self.scan.open_string_at(pos) {
            return SyntaxError::UnterminatedString { span: open };
        }
        let item_indent = self.line_indent(item);
        if let Some(missing) = self.scan.missing_brace(self.source, item, pos, item_indent) {
            return self.missing_brace(missing);
        }
        let in_layer_list = self.scan.in_layer_list(self.source, start, pos);
        let expected = expected::simplify(expected, in_layer_list);
        let cause = unclosed
            .or_else(|| self.unclosed(start, pos, &found, &expected))
            .or_else(|| hints::statement_cause(self.source, pos, &found, &expected))
            .or_else(|| expected::space_before_bracket(self.source, pos, &found))
            .or_else(|| self.inside_spaced_call(start, pos));
        SyntaxError::Unexpected {
            span,
            found,
            expected,
            cause,
        }
    }

    /// The error for a `{` whose `}` is missing before the line at
    /// `missing.next`: placed where the `}` belongs, at the end of the code
    /// before that line.
    fn missing_brace(&self, missing: scan::MissingBrace) -> SyntaxError {
        let scan::MissingBrace { open, next } = missing;
        let line_start = self.source[..next].rfind('\n').map_or(0, |i| i + 1);
        let end = self.code_end(line_start).max(open + 1);
        let word = scan::word_at(self.source, next);
        let next_len = if word.is_empty() {
            self.source[next..].chars().next().map_or(0, char::len_utf8)
        } else {
            word.len()
        };
        SyntaxError::MissingBrace {
            span: Span::new(end, end),
            open: Span::new(open, open + 1),
            opener: self.opener(open),
            next: self.source[next..next + next_len].to_string(),
            next_span: Span::new(next, next + next_len),
        }
    }

    /// The end of the code before `pos`: white space and comments skipped
    /// backwards (a line comment's span holds its trailing white space).
    fn code_end(&self, mut pos: usize) -> usize {
        let comments = &self.scan.comments;
        loop {
            pos = self.source[..pos].trim_end().len();
            let at = comments.partition_point(|c| c.span.start < pos);
            match at.checked_sub(1).map(|i| comments[i].span) {
                Some(comment) if comment.end >= pos => pos = comment.start,
                _ => return pos,
            }
        }
    }

    /// How the user wrote the head of the block opened by the `{` at
    /// `open`, for a message: its line up to the `{` (`layers {`, `model m
    /// {`), from after any other `{` on that line; only `{` when that is
    /// long.
    fn opener(&self, open: usize) -> String {
        let line_start = self.source[..open].rfind(['\n', '{']).map_or(0, |i| i + 1);
        let head = self.source[line_start..open].trim();
        if head.is_empty() || head.len() > 40 || head.contains("/*") || head.contains("*/") {
            "{".to_string()
        } else {
            format!("{head} {{")
        }
    }

    /// `dense (30, act: relu)`: the error is inside a `(` that a name and a
    /// space precede on its line, which the grammar read as a parenthesised
    /// value rather than a call; the cause is the space.
    fn inside_spaced_call(&self, start: usize, pos: usize) -> Option<Cause> {
        let open = self.scan.open_stack(start, pos).last().copied()?;
        if open.ch != b'(' {
            return None;
        }
        let found = Found::Symbol("(".to_string());
        expected::space_before_bracket(self.source, open.pos, &found)
    }

    /// The innermost bracket still open at the error, when it is the
    /// likely culprit: at the end of the file, or a `(` or `[` opened on an
    /// earlier line whose closing bracket was among the expected tokens.
    fn unclosed(
        &self,
        start: usize,
        pos: usize,
        found: &Found,
        expected: &[Expected],
    ) -> Option<Cause> {
        let open = self.scan.open_stack(start, pos).last().copied()?;
        let close = match open.ch {
            b'(' => ')',
            b'[' => ']',
            _ => '}',
        };
        let cause = Cause::Unclosed {
            open: Span::new(open.pos, open.pos + 1),
            close,
        };
        if *found == Found::EndOfFile {
            return Some(cause);
        }
        let closer_expected = expected.contains(&Expected::Symbol(close.to_string()));
        let on_earlier_line = self
            .source
            .get(open.pos..pos)
            .is_some_and(|between| between.contains('\n'));
        (close != '}' && closer_expected && on_earlier_line).then_some(cause)
    }
}

/// Where a pest error happened, for [`Recovery::fact`].
#[derive(Clone, Copy)]
struct Context {
    /// The start of the parsed text.
    start: usize,
    /// The start of the item that failed.
    item: usize,
    /// The error position (absolute).
    pos: usize,
    /// Where the text was cut before an over-deep bracket, if it was.
    deep: Option<usize>,
    /// Whether pest stopped at a resource limit.
    limit: bool,
}

fn too_deep(bracket: usize) -> SyntaxError {
    SyntaxError::TooDeep {
        span: Span::new(bracket, bracket + 1),
        limit: MAX_NESTING,
    }
}

#[cfg(test)]
mod tests;
