//! Labels (E0505): more classes than the labels encoding or the model
//! output hold, labels that are not class indices, labels files with more
//! than one value per example, regression targets of the wrong size.

use super::words::plural;
use crate::{shape_str, thousands, Diagnostic, Label, Span};
use serde::Serialize;

/// How many classes the data has.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FoundClasses {
    /// Class-index labels (a labels file or a CSV column) up to `largest`.
    Labels { largest: u64 },
    /// The class subfolders of an image folder, sorted.
    Folders { names: Vec<String> },
}

impl FoundClasses {
    /// The number of classes: largest label + 1, or the number of folders.
    pub fn count(&self) -> u64 {
        match self {
            FoundClasses::Labels { largest } => largest.saturating_add(1),
            FoundClasses::Folders { names } => names.len() as u64,
        }
    }
}

/// What the classes must fit into.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ClassLimit {
    /// `labels one_hot(k)`.
    OneHot { classes: usize, span: Span },
    /// The output the model's cost applies to.
    ModelOutput {
        model: String,
        output: String,
        units: usize,
        span: Span,
    },
}

/// Where a label was found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum LabelAt {
    /// The 0-based example index in a labels file.
    Example(u64),
    /// A cell of a CSV file (1-based line and column).
    CsvCell { line: u64, column: usize },
}

/// How a data block reads class labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ClassLabels {
    OneHot,
    Index,
}

pub(super) fn classes_diagnostic(
    span: Span,
    written: &str,
    found: &FoundClasses,
    limit: &ClassLimit,
) -> Diagnostic {
    let count = found.count();
    let (what, note) = match found {
        FoundClasses::Labels { largest } => (
            format!("labels have {} classes", thousands(count)),
            format!(
                "`{written}` has labels 0..{largest} = {} classes",
                thousands(count)
            ),
        ),
        FoundClasses::Folders { names } => {
            let shown: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
            let more = if names.len() > shown.len() {
                ", ..."
            } else {
                ""
            };
            (
                format!("image folder has {} classes", thousands(count)),
                format!(
                    "the classes of `{written}` are its subfolders, sorted: {}{more}",
                    shown.join(", ")
                ),
            )
        }
    };
    match limit {
        ClassLimit::OneHot {
            classes,
            span: one_hot_span,
        } => Diagnostic::error(
            "E0505",
            format!("{what} but `one_hot({classes})` encodes {classes}"),
            Label::new(span, "labels read from here"),
        )
        .with_secondary(
            *one_hot_span,
            format!("encodes classes 0..{}", classes.saturating_sub(1)),
        )
        .with_note(note)
        .with_hint(format!(
            "use `labels one_hot({count})` and give the model {count} output units"
        )),
        ClassLimit::ModelOutput {
            model,
            output,
            units,
            span: output_span,
        } => Diagnostic::error(
            "E0505",
            format!(
                "{what} but model `{model}` has {units} output unit{}",
                plural(*units as u64)
            ),
            Label::new(span, "labels read from here"),
        )
        .with_secondary(
            *output_span,
            format!(
                "output `{output}` has {units} unit{}",
                plural(*units as u64)
            ),
        )
        .with_note(note)
        .with_hint(format!("give the last layer {count} units, one per class")),
    }
}

fn display_value(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

pub(super) fn label_not_class_diagnostic(
    span: Span,
    written: &str,
    at: &LabelAt,
    value: f64,
    labels: ClassLabels,
) -> Diagnostic {
    let place = match at {
        LabelAt::Example(i) => format!("example {i} of `{written}`"),
        LabelAt::CsvCell { line, column } => format!("line {line}, column {column} of `{written}`"),
    };
    let setting = match labels {
        ClassLabels::OneHot => "`labels one_hot(k)`",
        ClassLabels::Index => "`labels index`",
    };
    Diagnostic::error(
        "E0505",
        format!(
            "label {} at {place} is not a class index",
            display_value(value)
        ),
        Label::new(span, "labels read from here"),
    )
    .with_note(format!(
        "with {setting}, every label must be a whole number 0, 1, 2, ..."
    ))
    .with_hint("for real-valued targets, use `labels value`")
}

pub(super) fn labels_not_scalar_diagnostic(
    span: Span,
    written: &str,
    dims: &[u32],
    images_dims: Option<&[u32]>,
) -> Diagnostic {
    let shape: Vec<usize> = dims.iter().map(|d| *d as usize).collect();
    let mut d = Diagnostic::error(
        "E0505",
        format!(
            "labels file `{written}` holds {} values, not one class per example",
            shape_str(&shape)
        ),
        Label::new(span, "labels file named here"),
    )
    .with_note("a class labels file has one dimension: the number of examples");
    if images_dims.is_some_and(|i| i.len() == 1) {
        d = d.with_hint("the images file has one dimension: are `images` and `labels:` swapped?");
    }
    d
}

pub(super) fn target_mismatch_diagnostic(
    span: Span,
    target: usize,
    model: &str,
    output: &str,
    units: usize,
    output_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        "E0505",
        format!(
            "targets have {target} value{} per example but model `{model}` outputs {units}",
            plural(target as u64)
        ),
        Label::new(span, "targets read from here"),
    )
    .with_secondary(
        output_span,
        format!(
            "output `{output}` has {units} value{}",
            plural(units as u64)
        ),
    )
    .with_note("with `labels value`, the model output is compared with the label target directly")
    .with_hint(format!(
        "give the model output {target} value{}",
        plural(target as u64)
    ))
}
