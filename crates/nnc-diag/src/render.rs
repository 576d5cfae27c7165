//! Rendering worded diagnostics: for people (codespan-reporting, with the
//! source shown) and for tools (JSON with line and column numbers).

use crate::{Diagnostic, Severity, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

/// Renders diagnostics of one source file as rustc-style text.
/// With `color`, ANSI escape codes are included.
pub fn to_text(diagnostics: &[Diagnostic], file_name: &str, source: &str, color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut out: Vec<u8> = Vec::new();
    for diagnostic in diagnostics {
        let cs_diag = to_codespan(diagnostic, source.len());
        let written = if color {
            let mut writer = termcolor::Ansi::new(&mut out);
            term::emit(&mut writer, &config, &file, &cs_diag)
        } else {
            let mut writer = termcolor::NoColor::new(&mut out);
            term::emit(&mut writer, &config, &file, &cs_diag)
        };
        // Spans are clamped to the source below, so rendering cannot fail on
        // them; should it fail anyway, fall back to a one-line form.
        if written.is_err() {
            out.extend_from_slice(
                format!(
                    "{}[{}]: {}\n",
                    severity_word(diagnostic.severity),
                    diagnostic.code,
                    diagnostic.message
                )
                .as_bytes(),
            );
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn clamp(span: Span, len: usize) -> std::ops::Range<usize> {
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    start..end
}

fn to_codespan(d: &Diagnostic, source_len: usize) -> cs::Diagnostic<()> {
    let base = match d.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let mut labels = Vec::new();
    if !d.is_file_level() {
        labels.push(
            cs::Label::primary((), clamp(d.primary.span, source_len))
                .with_message(&d.primary.message),
        );
    }
    for label in &d.secondary {
        labels.push(
            cs::Label::secondary((), clamp(label.span, source_len)).with_message(&label.message),
        );
    }
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    notes.extend(d.hints.iter().map(|h| format!("help: {h}")));
    base.with_code(d.code)
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// A position in a file, 1-based as editors show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// Converts a byte offset into a 1-based line and column (columns count
/// characters, not bytes).
pub fn line_col(source: &str, offset: usize) -> LineCol {
    let offset = offset.min(source.len());
    let mut offset = offset;
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    LineCol { line, column }
}

/// A labelled span in JSON form.
#[derive(Clone, Debug, Serialize)]
pub struct JsonLabel {
    pub message: String,
    pub start: LineCol,
    pub end: LineCol,
}

/// One diagnostic in JSON form, as `nnc check --format json` prints it.
#[derive(Clone, Debug, Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub file: String,
    pub start: LineCol,
    pub end: LineCol,
    pub label: String,
    pub secondary: Vec<JsonLabel>,
    pub notes: Vec<String>,
    pub hints: Vec<String>,
}

/// Converts diagnostics of one file into their JSON form.
pub fn to_json(diagnostics: &[Diagnostic], file_name: &str, source: &str) -> Vec<JsonDiagnostic> {
    diagnostics
        .iter()
        .map(|d| JsonDiagnostic {
            code: d.code,
            severity: d.severity,
            message: d.message.clone(),
            file: file_name.to_string(),
            start: line_col(source, d.primary.span.start),
            end: line_col(source, d.primary.span.end),
            label: d.primary.message.clone(),
            secondary: d
                .secondary
                .iter()
                .map(|l| JsonLabel {
                    message: l.message.clone(),
                    start: line_col(source, l.span.start),
                    end: line_col(source, l.span.end),
                })
                .collect(),
            notes: d.notes.clone(),
            hints: d.hints.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Label;

    #[test]
    fn line_col_counts_from_one() {
        let src = "ab\ncd\n";
        assert_eq!(line_col(src, 0), LineCol { line: 1, column: 1 });
        assert_eq!(line_col(src, 4), LineCol { line: 2, column: 2 });
        assert_eq!(line_col(src, 100), LineCol { line: 3, column: 1 });
    }

    #[test]
    fn text_shows_code_note_and_help() {
        let src = "model m {\n  input x: [784]\n}\n";
        let d = Diagnostic::error(
            "E9999",
            "something is off",
            Label::new(Span::new(18, 23), "here"),
        )
        .with_note("1 + 1 = 2")
        .with_hint("do the other thing");
        let text = to_text(&[d], "m.nnet", src, false);
        assert!(text.contains("error[E9999]: something is off"), "{text}");
        assert!(text.contains("m.nnet:2:9"), "{text}");
        assert!(text.contains("= note: 1 + 1 = 2"), "{text}");
        assert!(text.contains("= help: do the other thing"), "{text}");
    }
}
