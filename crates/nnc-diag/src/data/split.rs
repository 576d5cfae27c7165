//! Splits (E0504): a split that reaches past the end of its source.

use crate::{thousands, Diagnostic, Label, Span};
use serde::Serialize;

/// A split of a data block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum SplitKind {
    Train,
    Validation,
    Test,
}

impl SplitKind {
    pub fn name(self) -> &'static str {
        match self {
            SplitKind::Train => "train",
            SplitKind::Validation => "validation",
            SplitKind::Test => "test",
        }
    }
}

fn slice_text(start: Option<usize>, end: Option<usize>) -> String {
    let s = start.map(|s| s.to_string()).unwrap_or_default();
    let e = end.map(|e| e.to_string()).unwrap_or_default();
    format!("[{s}..{e}]")
}

pub(super) fn split_diagnostic(
    span: Span,
    source_span: Span,
    split: SplitKind,
    start: Option<usize>,
    end: Option<usize>,
    available: u64,
) -> Diagnostic {
    let name = split.name();
    let beyond_end = end.is_some_and(|e| e as u64 > available);
    let message = match (beyond_end, end, start) {
        (true, Some(e), _) => format!(
            "{name} split ends at example {} but its source has {} examples",
            thousands(e as u64),
            thousands(available)
        ),
        (_, _, s) => format!(
            "{name} split starts at example {} but its source has {} examples",
            thousands(s.unwrap_or(0) as u64),
            thousands(available)
        ),
    };
    let mut d = Diagnostic::error(
        "E0504",
        message,
        Label::new(span, format!("this split takes {}", slice_text(start, end))),
    )
    .with_secondary(
        source_span,
        format!("this source has {} examples", thousands(available)),
    )
    .with_note(format!(
        "the examples are numbered 0..{available} (the end is exclusive)"
    ));
    if beyond_end {
        let fixed_start = start.filter(|s| (*s as u64) < available);
        d = d.with_hint(format!(
            "end the split at {available} or leave the end out: `{}`",
            slice_text(fixed_start, None)
        ));
    } else {
        d = d.with_hint("the split would be empty: start it before the end of the source");
    }
    d
}
