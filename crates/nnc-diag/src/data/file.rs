//! The file a data fact is about: its role in its source, where it was
//! looked for, and a path that does not exist (E0501).

use crate::{suggestions, Diagnostic, Label, Span};
use serde::Serialize;

/// Which file of a source a fact is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum FileRole {
    /// The images file of `idx(...)`.
    Images,
    /// The `labels:` file of `idx(...)`.
    Labels,
    /// The file of `csv(...)`.
    Csv,
    /// The folder of `folder(...)`.
    Folder,
    /// The file of `text(...)`.
    Text,
}

impl FileRole {
    pub(super) fn noun(self) -> &'static str {
        match self {
            FileRole::Images => "images file",
            FileRole::Labels => "labels file",
            FileRole::Csv => "CSV file",
            FileRole::Folder => "image folder",
            FileRole::Text => "text file",
        }
    }
}

/// A path that does not exist, cut at its first missing component, so that
/// a close name found in the folder it was looked for in can be put in its
/// place: `before + candidate + after` is the corrected path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MissingPath {
    /// The path's text before the missing component (ends with `/` or is empty).
    pub before: String,
    /// The first component that does not exist.
    pub missing: String,
    /// The path's text after the missing component (empty or starts with `/`).
    pub after: String,
    /// The folder the missing component was looked for in.
    pub searched: String,
    /// Names in `searched` (bounded), for "did you mean".
    pub candidates: Vec<String>,
}

/// The parts of [`DataError::File`](super::DataError::File) shared by
/// every file problem.
pub(super) struct FileFact<'a> {
    pub(super) span: Span,
    pub(super) role: FileRole,
    pub(super) written: &'a str,
    pub(super) resolved: &'a str,
    pub(super) base_dir: &'a str,
}

impl FileFact<'_> {
    pub(super) fn label(&self) -> Label {
        Label::new(self.span, format!("{} named here", self.role.noun()))
    }
}

pub(super) fn not_found_diagnostic(file: &FileFact, missing: &MissingPath) -> Diagnostic {
    let what = if file.role == FileRole::Folder {
        "image folder"
    } else {
        "data file"
    };
    let mut d = Diagnostic::error(
        "E0501",
        format!("{what} not found: `{}`", file.written),
        Label::new(file.span, format!("{} named here", file.role.noun())),
    )
    .with_note(format!("looked for `{}`", file.resolved));
    if !missing.after.is_empty() {
        d = d.with_note(format!(
            "`{}` has no entry `{}`",
            missing.searched, missing.missing
        ));
    }
    d = d.with_hint(format!(
        "paths are relative to the folder of the .nnet file, `{}`",
        file.base_dir
    ));
    let close = suggestions(
        &missing.missing,
        missing.candidates.iter().map(String::as_str),
    );
    if let Some(best) = close.first() {
        d = d.with_hint(format!(
            "did you mean `{}{best}{}`?",
            missing.before, missing.after
        ));
    }
    d
}
