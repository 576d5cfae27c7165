//! Reading a `csv(path, label: ..., header: ...)` source whole: every
//! column but the label is a feature, in file order, kept as `f32`.

use super::dataset::{Examples, Inputs, LabelValues};
use super::{class_index, LabelMode};
use crate::csv::{read_csv, CsvOptions};
use crate::inspect::{unread, Inspector, LabelFacts, SourceFacts};
use crate::open::resolve;
use nnc_check::program::LabelColumn;
use nnc_diag::data::{ExampleShape, FileRole, LabelAt};
use nnc_diag::Span;
use std::path::Path;

/// Reads a CSV source; problems go to the inspector.
pub(super) fn read(
    inspector: &mut Inspector,
    base_dir: &Path,
    path: &str,
    label: &LabelColumn,
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
            if i != label_index {
                features.push(*cell as f32);
            }
        }
        let label = cells.get(label_index).copied().unwrap_or(0.0);
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
    let facts = SourceFacts {
        examples: Some(summary.rows),
        shape: Some(ExampleShape::Csv {
            features: summary.features(),
        }),
        labels: Some(LabelFacts::Values {
            non_class_at: summary.first_non_class_line.map(|line| LabelAt::CsvCell {
                line,
                column: summary.label_index + 1,
            }),
            stats: summary.labels.clone(),
            dims: Vec::new(),
            images_dims: None,
        }),
        labels_written: path.to_string(),
    };
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
