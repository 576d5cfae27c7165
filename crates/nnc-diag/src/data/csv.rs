//! CSV files (E0507): files that cannot be read as a table of numbers.

use super::file::FileFact;
use super::words::plural;
use crate::{suggestions, thousands, Diagnostic};
use serde::Serialize;

/// Why a CSV file cannot be read as a table of numbers. Lines are 1-based
/// line numbers of the file; columns are 1-based.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum CsvProblem {
    /// No data rows (the file is empty or holds only a header).
    Empty,
    /// The label column is named, but the header has no such column.
    NoSuchColumn { name: String, columns: Vec<String> },
    /// The label column's name appears more than once in the header.
    AmbiguousColumn {
        name: String,
        first: usize,
        second: usize,
    },
    /// The label column is named, but the file is read without a header.
    NamedLabelWithoutHeader { name: String },
    /// The label column index (0-based, as written) is not below the column count.
    LabelIndexOutOfRange { index: usize, columns: usize },
    /// The only column is the label: there are no features.
    NoFeatures,
    /// A row has a different number of columns than the first row.
    RaggedRow {
        line: u64,
        found: usize,
        expected: usize,
        first_line: u64,
    },
    /// A cell is not a finite number.
    NotNumeric {
        line: u64,
        column: usize,
        column_name: Option<String>,
        cell: String,
        header: bool,
    },
    /// A quoted cell is not closed on its line.
    UnterminatedQuote { line: u64 },
    /// A line is not valid UTF-8.
    NotUtf8 { line: u64 },
    /// A line is longer than the reader accepts.
    LineTooLong { line: u64, limit: u64 },
}

fn column_text(column: usize, name: &Option<String>) -> String {
    match name {
        Some(name) => format!("column {column} (`{name}`)"),
        None => format!("column {column}"),
    }
}

pub(super) fn csv_diagnostic(file: &FileFact, problem: &CsvProblem) -> Diagnostic {
    let w = file.written;
    let error = |message: String| Diagnostic::error("E0507", message, file.label());
    match problem {
        CsvProblem::Empty => error(format!("CSV file `{w}` has no data rows")),
        CsvProblem::NoSuchColumn { name, columns } => {
            let mut d = error(format!("CSV file `{w}` has no column `{name}`"));
            let shown: Vec<String> = columns.iter().take(12).map(|c| format!("`{c}`")).collect();
            let more = if columns.len() > shown.len() {
                ", ..."
            } else {
                ""
            };
            d = d.with_note(format!(
                "the header has {} columns: {}{more}",
                columns.len(),
                shown.join(", ")
            ));
            if let Some(best) = suggestions(name, columns.iter().map(String::as_str)).first() {
                d = d.with_hint(format!("did you mean `{best}`?"));
            }
            d
        }
        CsvProblem::AmbiguousColumn {
            name,
            first,
            second,
        } => error(format!(
            "column `{name}` appears more than once in the header of `{w}`"
        ))
        .with_note(format!(
            "columns {first} and {second} are both named `{name}`"
        ))
        .with_hint("give the label column by index instead: `label: N` (0-based)"),
        CsvProblem::NamedLabelWithoutHeader { name } => error(format!(
            "label column `{name}` is named but `{w}` is read without a header"
        ))
        .with_hint("set `header: true`, or give the label column by index (0-based)"),
        CsvProblem::LabelIndexOutOfRange { index, columns } => error(format!(
            "label column index {index} is out of range for `{w}`"
        ))
        .with_note(format!(
            "rows have {columns} column{}, indices 0..{} (0-based)",
            plural(*columns as u64),
            columns.saturating_sub(1)
        )),
        CsvProblem::NoFeatures => error(format!(
            "CSV file `{w}` has only the label column, no features"
        )),
        CsvProblem::RaggedRow {
            line,
            found,
            expected,
            first_line,
        } => error(format!(
            "line {line} of `{w}` has {found} column{}, expected {expected}",
            plural(*found as u64)
        ))
        .with_note(format!(
            "line {first_line}, the first row, has {expected} columns; every row must have as many"
        )),
        CsvProblem::NotNumeric {
            line,
            column,
            column_name,
            cell,
            header,
        } => {
            let mut d = error(format!(
                "line {line}, {} of `{w}` is not a number: `{cell}`",
                column_text(*column, column_name)
            ))
            .with_note("every cell below the header must be a finite number");
            if !header && *line == 1 {
                d = d.with_hint("if the first line holds column names, set `header: true`");
            }
            d
        }
        CsvProblem::UnterminatedQuote { line } => error(format!(
            "line {line} of `{w}` has a quote that is not closed on that line"
        )),
        CsvProblem::NotUtf8 { line } => {
            error(format!("line {line} of `{w}` is not valid UTF-8 text"))
                .with_note("is this a CSV file? it may be compressed or binary")
        }
        CsvProblem::LineTooLong { line, limit } => {
            error(format!("line {line} of `{w}` is too long")).with_note(format!(
                "lines longer than {} bytes are not read; is this a CSV file?",
                thousands(*limit)
            ))
        }
    }
}
