//! Model inputs (E0509): examples whose shape the model input cannot take.

use crate::{shape_str, Diagnostic, Label, Span};
use serde::Serialize;

/// The shape of one example, as the data gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExampleShape {
    /// IDX images: the header's dimensions after the count.
    Idx(Vec<usize>),
    /// CSV rows: the number of feature columns.
    Csv { features: usize },
    /// Image folders: the `size:` images are resized to.
    Folder(Vec<usize>),
    /// Text: `context` character indices per example.
    Text { context: usize },
}

/// The number of values in a shape (saturating: shapes read from files may
/// be absurd).
fn value_count(shape: &[usize]) -> u128 {
    shape
        .iter()
        .fold(1u128, |acc, d| acc.saturating_mul(*d as u128))
}

fn example_text(example: &ExampleShape) -> (String, u128) {
    match example {
        ExampleShape::Idx(shape) => {
            let n = value_count(shape);
            (
                format!("IDX images of shape {} ({n} values)", shape_str(shape)),
                n,
            )
        }
        ExampleShape::Csv { features } => (
            format!("CSV rows of {features} features"),
            *features as u128,
        ),
        ExampleShape::Folder(size) => {
            let n = value_count(size);
            (format!("images resized to {}", shape_str(size)), n)
        }
        ExampleShape::Text { context } => (
            format!("text windows of {context} characters"),
            *context as u128,
        ),
    }
}

pub(super) fn input_diagnostic(
    span: Span,
    example: &ExampleShape,
    model: &str,
    input: &str,
    input_shape: &[usize],
    input_span: Span,
) -> Diagnostic {
    let (what, values) = example_text(example);
    let input_values = value_count(input_shape);
    let mut d = Diagnostic::error(
        "E0509",
        format!("{what} do not fit the input of model `{model}`"),
        Label::new(span, "data read from here"),
    )
    .with_secondary(
        input_span,
        format!(
            "input `{input}` is {} ({input_values} values)",
            shape_str(input_shape)
        ),
    );
    match example {
        ExampleShape::Idx(shape) => {
            let flat = format!("[{values}]");
            let mut forms = vec![flat.clone()];
            if shape.len() == 2 {
                let mut with_channel = vec![1];
                with_channel.extend_from_slice(shape);
                forms.push(shape_str(&with_channel));
            } else if shape.len() > 1 {
                forms.push(shape_str(shape));
            }
            // Suggest the form closest to what the model declares.
            let suggested = if input_shape.len() == 1 {
                Some(&flat)
            } else {
                forms.last()
            };
            d = d
                .with_note(format!(
                    "an input of shape {} takes these images",
                    forms.join(" or ")
                ))
                .with_hint(format!(
                    "declare `input {input}: {}`",
                    suggested.map_or("[]", String::as_str)
                ));
        }
        ExampleShape::Csv { features } => {
            d = d
                .with_note("every column except the label is a feature; an input takes as many values as there are features")
                .with_hint(format!("declare `input {input}: [{features}]`"));
        }
        ExampleShape::Folder(size) => {
            d = d
                .with_note("`size:` of a folder must equal the model input shape")
                .with_hint(format!(
                    "set `size: {}` or declare `input {input}: {}`",
                    shape_str(input_shape),
                    shape_str(size)
                ));
        }
        ExampleShape::Text { context } => {
            d = d
                .with_note("a text example is the index of each of its `context` characters")
                .with_hint(format!(
                    "declare `input {input}: [{context}]`, or set `context: {}`",
                    input_shape.first().copied().unwrap_or(1)
                ));
        }
    }
    d
}
