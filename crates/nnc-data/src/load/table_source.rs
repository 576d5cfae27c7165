//! Reading a `csv(path, label: ..., header: ...)` source whole: every
//! column but the label is a feature, in file order, kept as `f32`
//! (every column, for a `csv(path)` of `labels none` data).

use super::dataset::{Examples, Inputs, LabelValues};
use super::{class_index, LabelMode};
use crate::csv::{read_csv, CsvOptions};
use crate::inspect::{csv_facts, unread, Inspector, SourceFacts};
use crate::open::resolve;
use nnc_check::program::LabelColumn;
use nnc_diag::data::FileRole;
use nnc_diag::Span;
use std::path::Path;

/// Reads a CSV source; problems go to the inspector.
pub(super) fn read(
    inspector: &mut Inspector,
    base_dir: &Path,
    path: &str,
    label: &Option<LabelColumn>,
    header: bool,
    span: Span,
    mode: LabelMode,
) -> (SourceFacts, Option<Examples>) {
    let options = CsvOptions {
        label: label.clone(),
        header,
        labelled: true,
    };
    let mut features: Vec<f32> = Vec::new();
    let mut classes: Vec<u32> = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    let summary = read_csv(&resolve(base_dir, path), &options, |cells, label_index| {
        for (i, cell) in cells.iter().enumerate() {
            if Some(i) != label_index {
                features.push(*cell as f32);
            }
        }
        // Without a label column (`labels none`), a zero no graph reads.
        let label = label_index
            .and_then(|i| cells.get(i))
            .copied()
            .unwrap_or(0.0);
        match mode {
            LabelMode::Classes => classes.push(class_index(label)),
            LabelMode::Values => values.push(label as f32),
        }
    });
    let summary = match summary {
        Ok(summary) => summary,
        Err(problem) => {
            inspector.file_error(span, FileRole::Csv, path, problem);
            return (unread(path), None);
        }
    };
    let facts = csv_facts(&summary, path);
    let labels = match mode {
        LabelMode::Classes => LabelValues::Classes(classes),
        LabelMode::Values => LabelValues::Values { values, width: 1 },
    };
    let examples = Examples {
        inputs: Inputs::Floats(features),
        input_len: summary.features(),
        count: usize::try_from(summary.rows).unwrap_or(0),
        labels,
        class_names: None,
        image: None,
    };
    (facts, Some(examples))
}
