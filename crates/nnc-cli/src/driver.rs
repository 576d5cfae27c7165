//! The pipeline as the commands run it: parse, check, and optionally inspect
//! the data files, collecting every diagnostic of a file in source order.
//!
//! This is the one place that strings the stages together; the commands in
//! `main.rs` and the integration tests both call it.

use nnc_check::program::Program;
use nnc_diag::source::{SourceError, SourceProblem};
use nnc_diag::{Diagnostic, Severity};
use std::io::ErrorKind;
use std::path::Path;

/// Reads a model file named on the command line, or says why it cannot be
/// read (E0003), with the `.nnet` files next to a missing one.
pub fn read_source(path: &Path) -> Result<String, SourceError> {
    let problem = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => return Ok(text),
            Err(_) => SourceProblem::NotText,
        },
        Err(_) if path.is_dir() => SourceProblem::Directory {
            nnet_files: nnet_files_in(path).len(),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => SourceProblem::NotFound {
            nearby: nnet_files_in(base_dir(path)),
        },
        Err(e) if e.kind() == ErrorKind::PermissionDenied => SourceProblem::Denied,
        Err(e) => SourceProblem::Other {
            message: e.to_string(),
        },
    };
    Err(SourceError {
        path: path.display().to_string(),
        problem,
    })
}

/// The names of the `.nnet` files of `dir`, sorted (none when it cannot
/// be listed).
fn nnet_files_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".nnet"))
        .collect();
    names.sort();
    names
}

/// What checking one source file produced.
#[derive(Debug)]
pub struct Report {
    /// Every diagnostic, errors and warnings, ordered by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The checked program; `None` when the file had syntax errors.
    pub program: Option<Program>,
}

impl Report {
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }

    /// The program, only when the file is free of errors (warnings allowed).
    pub fn clean_program(&self) -> Option<&Program> {
        if self.error_count() == 0 {
            self.program.as_ref()
        } else {
            None
        }
    }
}

/// Options of a check run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Open the data files the program names (`--data`).
    pub inspect_data: bool,
}

/// Parses and checks `source`. Paths in the program are relative to
/// `base_dir`, the folder of the file. Syntax errors stop the pipeline (a
/// partial tree would only produce follow-on errors); checker errors do not
/// stop the checker, but the data are inspected only for an error-free
/// program.
pub fn check_source(source: &str, base_dir: &Path, options: Options) -> Report {
    let (file, syntax_errors) = nnc_syntax::parse(source);
    if !syntax_errors.is_empty() {
        let diagnostics = sorted(syntax_errors.iter().map(|e| e.to_diagnostic()).collect());
        return Report {
            diagnostics,
            program: None,
        };
    }
    let checked = nnc_check::check(&file);
    let mut diagnostics: Vec<Diagnostic> =
        checked.errors.iter().map(|e| e.to_diagnostic()).collect();
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    if options.inspect_data && !has_errors {
        diagnostics.extend(
            nnc_data::inspect(&checked.program, base_dir)
                .iter()
                .map(|e| e.to_diagnostic()),
        );
    }
    Report {
        diagnostics: sorted(diagnostics),
        program: Some(checked.program),
    }
}

fn sorted(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| (d.primary.span.start, d.primary.span.end));
    diagnostics
}

/// The folder a source path is relative to.
pub fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}
