//! Diagnostics for every stage of nnc: facts in, wording and rendering out.
//!
//! Each stage reports what it found as a *fact*: a variant of a structured
//! enum carrying spans and the actual numbers ([`syntax::SyntaxError`],
//! [`check::CheckError`], [`data::DataError`]). The stages never build
//! strings. This crate is the one place that turns facts into words: every
//! fact enum has a `to_diagnostic()` that produces a [`Diagnostic`] (a stable
//! code, a severity, a message, a primary span, secondary spans, notes with
//! the arithmetic and hints with the fix). Rendering a [`Diagnostic`] for a
//! terminal (through codespan-reporting) or as JSON lives in [`render`].
//!
//! Invariants:
//! - Every diagnostic has a stable code (`E0203`, `W0101`); codes are never
//!   reused for a different meaning. The code table is [`codes::ALL`].
//! - Spans are byte offsets into the one source file being checked, with
//!   `start <= end <= source.len()`.
//! - Warnings (lints) never stop compilation; `--deny-warnings` in the CLI
//!   turns them into failures, not this crate.

pub mod check;
pub mod codes;
pub mod data;
pub mod render;
pub mod source;
pub mod syntax;

use serde::Serialize;

/// A half-open byte range `start..end` in a source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// Shifts the span right by `offset` bytes.
    pub fn shifted(self, offset: usize) -> Span {
        Span {
            start: self.start + offset,
            end: self.end + offset,
        }
    }

    pub fn len(self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(self) -> bool {
        self.start == self.end
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A span with a short message shown under it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

impl Label {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: message.into(),
        }
    }
}

/// A fully worded diagnostic, ready to render. Built only by the
/// `to_diagnostic()` functions of this crate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `E0203`.
    pub code: &'static str,
    pub severity: Severity,
    /// One line, lower case, no trailing period (as rustc does).
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    /// Facts, e.g. the formula with the actual numbers.
    pub notes: Vec<String>,
    /// What to do about it.
    pub hints: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, primary: Label) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary,
            secondary: Vec::new(),
            notes: Vec::new(),
            hints: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>, primary: Label) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, primary)
        }
    }

    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label::new(span, message));
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Whether the diagnostic is about a whole file rather than a place in
    /// it (a file that cannot be read): its primary label is empty, and it
    /// is rendered without a source snippet.
    pub fn is_file_level(&self) -> bool {
        self.primary.span.is_empty() && self.primary.message.is_empty() && self.secondary.is_empty()
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Formats a shape the way users write it: `[20, 12, 12]`.
pub fn shape_str(dims: &[usize]) -> String {
    let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", inner.join(", "))
}

/// Formats a count with thousands separators: `23,550`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Names close to `wanted` among `candidates`, best first, for "did you mean".
pub fn suggestions<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != wanted)
        .map(|c| (edit_distance(wanted, c), c))
        .filter(|(d, c)| {
            let limit = (wanted.len().max(c.len()) / 3).max(1);
            *d <= limit || c.starts_with(wanted) && wanted.len() >= 3
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// Optimal-string-alignment distance: insertions, deletions, substitutions
/// and swaps of two neighbouring characters each cost one.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(520), "520");
        assert_eq!(thousands(23550), "23,550");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn suggestions_find_typos() {
        let names = ["sigmoid", "tanh", "relu", "softmax"];
        assert_eq!(suggestions("sigmod", names), vec!["sigmoid"]);
        assert_eq!(suggestions("rleu", names), vec!["relu"]);
        assert!(suggestions("xyzzy", names).is_empty());
    }
}
