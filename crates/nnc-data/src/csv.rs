//! CSV files of numbers: an optional header row, one example per row, one
//! column holding the label and the others the features (or, for a
//! `csv(path)` source of `labels none` data, no label column: every
//! column a feature).
//!
//! The reader streams the file line by line (a line may hold at most
//! [`LINE_LIMIT`] bytes), so memory stays bounded whatever the file's length.
//! Cells are separated by commas; a cell may be quoted with `"` (a quote
//! inside is written `""`) but must not span lines. Blank lines are skipped.
//! A gzip-compressed file is read the same way (detected by its magic bytes).

use crate::idx::LabelStats;
use crate::open::{open_data_file, DataFile, ReadFailure};
use nnc_check::program::LabelColumn;
use nnc_diag::data::{CsvProblem, FileProblem};
use std::io::{BufRead, Read};
use std::path::Path;

/// The longest line read, in bytes.
pub const LINE_LIMIT: u64 = 16 * 1024 * 1024;

/// Cells shown in facts are cut to this many characters.
const CELL_SHOWN: usize = 40;

/// How to read a CSV file.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvOptions {
    /// The label column; `None` for a file without one (`csv(path)` in
    /// data with `labels none`: every column is a feature).
    pub label: Option<LabelColumn>,
    /// Whether the first row holds column names.
    pub header: bool,
    /// Whether the rows must hold a label column besides the features (a
    /// data source); `false` for rows that may be features only, such as
    /// the inputs of `nnc predict`, where one column is a feature.
    pub labelled: bool,
}

/// What an inspection of a CSV file found.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvSummary {
    /// Columns per row (label included).
    pub columns: usize,
    /// The header's names, when the file has a header.
    pub names: Option<Vec<String>>,
    /// The 0-based index of the label column; `None` for a file read
    /// without one.
    pub label_index: Option<usize>,
    /// Data rows (examples).
    pub rows: u64,
    /// The label column's values (none without a label column); positions
    /// are 0-based example indices.
    pub labels: LabelStats,
    /// The 1-based line of `labels.first_non_class`.
    pub first_non_class_line: Option<u64>,
}

impl CsvSummary {
    /// Feature columns per row.
    pub fn features(&self) -> usize {
        self.columns
            .saturating_sub(usize::from(self.label_index.is_some()))
    }
}

/// Reads a whole CSV file and checks it: the label column exists, every row
/// has as many columns as the first, every cell is a finite number.
pub fn inspect_csv(path: &Path, options: &CsvOptions) -> Result<CsvSummary, FileProblem> {
    read_csv(path, options, |_, _| {})
}

/// Reads and checks a whole CSV file as [`inspect_csv`] does, handing the
/// cells of each data row (label included, in file order) and the label
/// column's 0-based index (`None` without one) to `row`.
pub fn read_csv(
    path: &Path,
    options: &CsvOptions,
    mut row: impl FnMut(&[f64], Option<usize>),
) -> Result<CsvSummary, FileProblem> {
    let mut file = open_data_file(path)?;
    let mut lines = Lines {
        line: 0,
        buf: Vec::new(),
        bytes: 0,
    };
    let mut fields: Vec<(usize, usize)> = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let mut state: Option<Layout> = None;
    let mut rows = 0u64;
    let mut labels = LabelStats::new();
    let mut first_non_class_line = None;
    while let Some((line, text)) = lines.next(&mut file)? {
        if text.trim().is_empty() {
            continue;
        }
        split_fields(text, &mut fields)
            .map_err(|()| csv(CsvProblem::UnterminatedQuote { line }))?;
        if state.is_none() {
            state = Some(Layout::new(text, &fields, line, options)?);
            if options.header {
                continue;
            }
        }
        let Some(layout) = &state else {
            continue;
        };
        layout.check_columns(fields.len(), line)?;
        layout.parse_row(text, &fields, line, options.header, &mut values)?;
        if let Some(index) = layout.label_index {
            let label = values.get(index).copied().unwrap_or(0.0);
            let before = labels.first_non_class.is_some();
            labels.add(label);
            if !before && labels.first_non_class.is_some() {
                first_non_class_line = Some(line);
            }
        }
        row(&values, layout.label_index);
        rows += 1;
    }
    let Some(layout) = state else {
        return Err(csv(CsvProblem::Empty));
    };
    if rows == 0 {
        return Err(csv(CsvProblem::Empty));
    }
    Ok(CsvSummary {
        columns: layout.columns,
        names: layout.names,
        label_index: layout.label_index,
        rows,
        labels,
        first_non_class_line,
    })
}

fn csv(problem: CsvProblem) -> FileProblem {
    FileProblem::Csv(problem)
}

/// What the first row fixed: the column count, names and the label column.
struct Layout {
    columns: usize,
    first_line: u64,
    names: Option<Vec<String>>,
    label_index: Option<usize>,
}

impl Layout {
    fn new(
        text: &str,
        fields: &[(usize, usize)],
        line: u64,
        options: &CsvOptions,
    ) -> Result<Layout, FileProblem> {
        let columns = fields.len();
        let names: Option<Vec<String>> = options.header.then(|| {
            fields
                .iter()
                .map(|(s, e)| text.get(*s..*e).unwrap_or("").trim().replace("\"\"", "\""))
                .collect()
        });
        let label_index = match (&options.label, &names) {
            (None, _) => None,
            (Some(LabelColumn::Index(i)), _) if *i < columns => Some(*i),
            (Some(LabelColumn::Index(i)), _) => {
                return Err(csv(CsvProblem::LabelIndexOutOfRange { index: *i, columns }));
            }
            (Some(LabelColumn::Name(name)), None) => {
                return Err(csv(CsvProblem::NamedLabelWithoutHeader {
                    name: name.clone(),
                }));
            }
            (Some(LabelColumn::Name(name)), Some(names)) => Some(find_column(name, names)?),
        };
        if columns < 2 && options.labelled && label_index.is_some() {
            return Err(csv(CsvProblem::NoFeatures));
        }
        Ok(Layout {
            columns,
            first_line: line,
            names,
            label_index,
        })
    }

    fn check_columns(&self, found: usize, line: u64) -> Result<(), FileProblem> {
        if found == self.columns {
            return Ok(());
        }
        Err(csv(CsvProblem::RaggedRow {
            line,
            found,
            expected: self.columns,
            first_line: self.first_line,
        }))
    }

    /// Parses every cell of a row into `values` (cleared first); fails on
    /// the first cell that is not a finite number.
    fn parse_row(
        &self,
        text: &str,
        fields: &[(usize, usize)],
        line: u64,
        header: bool,
        values: &mut Vec<f64>,
    ) -> Result<(), FileProblem> {
        values.clear();
        for (index, (start, end)) in fields.iter().enumerate() {
            let cell = text.get(*start..*end).unwrap_or("").trim();
            let Some(value) = parse_number(cell) else {
                let column_name = self.names.as_ref().and_then(|n| n.get(index)).cloned();
                let shown: String = cell.chars().take(CELL_SHOWN).collect();
                return Err(csv(CsvProblem::NotNumeric {
                    line,
                    column: index + 1,
                    column_name,
                    cell: shown,
                    header,
                }));
            };
            values.push(value);
        }
        Ok(())
    }
}

fn find_column(name: &str, names: &[String]) -> Result<usize, FileProblem> {
    let mut matches = names
        .iter()
        .enumerate()
        .filter(|(_, n)| *n == name)
        .map(|(i, _)| i);
    match (matches.next(), matches.next()) {
        (Some(i), None) => Ok(i),
        (Some(first), Some(second)) => Err(csv(CsvProblem::AmbiguousColumn {
            name: name.to_string(),
            first: first + 1,
            second: second + 1,
        })),
        (None, _) => Err(csv(CsvProblem::NoSuchColumn {
            name: name.to_string(),
            columns: names.to_vec(),
        })),
    }
}

/// A finite number, or `None`.
fn parse_number(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Splits one line into cell ranges (quotes excluded). Fails on a quote
/// that is not closed.
fn split_fields(text: &str, fields: &mut Vec<(usize, usize)>) -> Result<(), ()> {
    fields.clear();
    let bytes = text.as_bytes();
    let mut pos = 0;
    loop {
        let lead = bytes
            .get(pos..)
            .unwrap_or(&[])
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        let start = pos + lead;
        let next_comma = |from: usize| {
            bytes
                .get(from..)
                .and_then(|r| r.iter().position(|b| *b == b','))
                .map(|i| from + i)
        };
        let comma = if bytes.get(start) == Some(&b'"') {
            let close = closing_quote(bytes, start + 1).ok_or(())?;
            fields.push((start + 1, close));
            next_comma(close + 1)
        } else {
            let comma = next_comma(start);
            fields.push((pos, comma.unwrap_or(bytes.len())));
            comma
        };
        match comma {
            Some(c) => pos = c + 1,
            None => return Ok(()),
        }
    }
}

/// The index of the quote closing a quoted cell whose text starts at `from`.
fn closing_quote(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < bytes.len() {
        if bytes.get(i) == Some(&b'"') {
            if bytes.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A line reader with a bounded line length and 1-based line numbers.
struct Lines {
    line: u64,
    buf: Vec<u8>,
    bytes: u64,
}

impl Lines {
    /// The next line's number and text without its line ending, or `None`
    /// at the end.
    fn next<'a>(&'a mut self, file: &mut DataFile) -> Result<Option<(u64, &'a str)>, FileProblem> {
        self.buf.clear();
        let read = file
            .reader()
            .take(LINE_LIMIT + 1)
            .read_until(b'\n', &mut self.buf);
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                return Err(match file.read_problem(&e, self.bytes) {
                    ReadFailure::GzipEndsEarly => FileProblem::GzipEndsEarly { after: self.bytes },
                    ReadFailure::Problem(p) => p,
                })
            }
        };
        if n == 0 {
            return Ok(None);
        }
        self.bytes += n as u64;
        self.line += 1;
        let line = self.line;
        if self.buf.len() as u64 > LINE_LIMIT {
            return Err(csv(CsvProblem::LineTooLong {
                line,
                limit: LINE_LIMIT,
            }));
        }
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        let text = std::str::from_utf8(&self.buf).map_err(|_| csv(CsvProblem::NotUtf8 { line }))?;
        Ok(Some((
            line,
            if line == 1 {
                text.trim_start_matches('\u{feff}')
            } else {
                text
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(text: &str) -> Result<Vec<&str>, ()> {
        let mut fields = Vec::new();
        split_fields(text, &mut fields)?;
        Ok(fields
            .iter()
            .map(|(s, e)| text.get(*s..*e).unwrap_or("?"))
            .collect())
    }

    #[test]
    fn splits_plain_and_quoted_cells() {
        assert_eq!(cells("1,2,3"), Ok(vec!["1", "2", "3"]));
        assert_eq!(cells("a,,b"), Ok(vec!["a", "", "b"]));
        assert_eq!(cells(" \"x,y\" ,2"), Ok(vec!["x,y", "2"]));
        assert_eq!(
            cells("\"say \"\"hi\"\"\",1"),
            Ok(vec!["say \"\"hi\"\"", "1"])
        );
        assert_eq!(cells("1,\"open"), Err(()));
        assert_eq!(cells(""), Ok(vec![""]));
    }

    #[test]
    fn numbers_must_be_finite() {
        assert_eq!(parse_number("1e3"), Some(1000.0));
        assert_eq!(parse_number("-0.5"), Some(-0.5));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number(""), None);
    }
}
