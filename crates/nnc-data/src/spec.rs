//! Questions about the checked program that inspection and loading both
//! ask: which splits a data block has, which of their sources are the same,
//! where a source is written, which output a model's labels are compared
//! with, and which example shapes fit which model inputs.

use nnc_check::program::{DataSpec, Model, Source, Split};
use nnc_diag::data::{ExampleShape, SplitKind};
use nnc_diag::Span;

/// The splits a data block has, in the order train, validation, test.
pub(crate) fn splits(data: &DataSpec) -> impl Iterator<Item = (SplitKind, &Split)> {
    [
        (SplitKind::Train, &data.train),
        (SplitKind::Validation, &data.validation),
        (SplitKind::Test, &data.test),
    ]
    .into_iter()
    .filter_map(|(kind, split)| split.as_ref().map(|s| (kind, s)))
}

/// The sources of a data block's splits, each once.
pub(crate) fn distinct_sources(data: &DataSpec) -> Vec<&Source> {
    let mut out: Vec<&Source> = Vec::new();
    for (_, split) in splits(data) {
        if !out.iter().any(|s| same_source(s, &split.source)) {
            out.push(&split.source);
        }
    }
    out
}

/// The span of a source expression.
pub(crate) fn source_span(source: &Source) -> Span {
    match source {
        Source::Idx { span, .. }
        | Source::Csv { span, .. }
        | Source::Folder { span, .. }
        | Source::Text { span, .. } => *span,
    }
}

/// Whether two sources read the same files the same way (spans aside).
pub(crate) fn same_source(a: &Source, b: &Source) -> bool {
    match (a, b) {
        (
            Source::Idx {
                images: i1,
                labels: l1,
                ..
            },
            Source::Idx {
                images: i2,
                labels: l2,
                ..
            },
        ) => i1 == i2 && l1 == l2,
        (
            Source::Csv {
                path: p1,
                label: c1,
                header: h1,
                ..
            },
            Source::Csv {
                path: p2,
                label: c2,
                header: h2,
                ..
            },
        ) => p1 == p2 && c1 == c2 && h1 == h2,
        (
            Source::Folder {
                path: p1, size: s1, ..
            },
            Source::Folder {
                path: p2, size: s2, ..
            },
        ) => p1 == p2 && s1 == s2,
        (
            Source::Text {
                path: p1,
                context: c1,
                ..
            },
            Source::Text {
                path: p2,
                context: c2,
                ..
            },
        ) => p1 == p2 && c1 == c2,
        _ => false,
    }
}

/// The model output labels are compared with.
pub(crate) struct Output {
    pub name: String,
    pub units: usize,
    pub span: Span,
}

/// The output the cost applies to, or the only output.
pub(crate) fn model_output(model: &Model) -> Option<Output> {
    let id = match (&model.cost, model.outputs.as_slice()) {
        (Some(cost), _) => cost.output,
        (None, [(_, id)]) if model.input_costs.is_empty() => *id,
        _ => return None,
    };
    let node = model.nodes.get(id.0)?;
    let name = model
        .outputs
        .iter()
        .find(|(_, o)| *o == id)
        .map_or_else(|| node.name.clone(), |(n, _)| n.clone());
    Some(Output {
        name,
        units: value_count(&node.shape)?,
        span: node.span,
    })
}

/// Whether examples of this shape can feed an input of `input` shape.
/// IDX images fit a flat input of as many values, or the same shape up to
/// leading 1s (`[28, 28]` fits `[784]` and `[1, 28, 28]`); CSV rows fit any
/// input of as many values; a folder's `size` must equal the input shape.
pub fn fits(example: &ExampleShape, input: &[usize]) -> bool {
    let values = value_count(input);
    match example {
        ExampleShape::Idx(shape) => {
            values.is_some()
                && value_count(shape) == values
                && (input.len() == 1 || without_leading_ones(shape) == without_leading_ones(input))
        }
        ExampleShape::Csv { features } => values == Some(*features),
        ExampleShape::Folder(size) => size.as_slice() == input,
        ExampleShape::Text { context } => input == [*context],
    }
}

/// The number of values in a shape, if it fits in a `usize`.
pub(crate) fn value_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d))
}

fn without_leading_ones(shape: &[usize]) -> &[usize] {
    let ones = shape.iter().take_while(|d| **d == 1).count();
    shape.get(ones..).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idx_images_fit_flat_and_channel_inputs() {
        let mnist = ExampleShape::Idx(vec![28, 28]);
        assert!(fits(&mnist, &[784]));
        assert!(fits(&mnist, &[1, 28, 28]));
        assert!(fits(&mnist, &[28, 28]));
        assert!(!fits(&mnist, &[100]));
        assert!(!fits(&mnist, &[4, 14, 14]));
        assert!(!fits(&mnist, &[28, 28, 1]));
        let huge = ExampleShape::Idx(vec![usize::MAX, usize::MAX]);
        assert!(!fits(&huge, &[1]));
    }

    #[test]
    fn csv_and_folder_fit_rules() {
        assert!(fits(&ExampleShape::Csv { features: 784 }, &[1, 28, 28]));
        assert!(!fits(&ExampleShape::Csv { features: 783 }, &[784]));
        assert!(fits(&ExampleShape::Folder(vec![3, 8, 8]), &[3, 8, 8]));
        assert!(!fits(&ExampleShape::Folder(vec![3, 8, 8]), &[192]));
    }
}
