//! Loading a data block for training: every source read whole into memory
//! once, checked exactly as `nnc check --data` checks it, and split.
//!
//! [`load`] reads each distinct source of the block (two splits over the
//! same files share one read), records what it found as the inspection's
//! facts, and runs the inspection's checks over them: splits against the
//! sources' sizes, labels against `one_hot(k)`, and, given the model, the
//! examples against its input and the labels against its output. Only when
//! nothing is wrong does it return the [`Dataset`]s of the splits.

mod dataset;
mod folder_source;
mod idx_source;
mod table_source;

pub use dataset::{Dataset, TargetKind};

use crate::inspect::{Inspector, SourceFacts};
use crate::spec::{distinct_sources, model_output, same_source, splits};
use dataset::{Examples, LabelValues};
use nnc_check::program::{DataSpec, Labels, Model, Source};
use nnc_diag::data::{DataError, SplitKind};
use std::path::Path;
use std::sync::Arc;

/// The splits of a data block, in memory.
#[derive(Clone, Debug)]
pub struct LoadedData {
    pub train: Option<Dataset>,
    pub validation: Option<Dataset>,
    pub test: Option<Dataset>,
    /// A text source's vocabulary: the distinct characters of the
    /// training split, sorted; character `vocabulary[i]` is class `i`.
    pub vocabulary: Option<Vec<char>>,
}

impl LoadedData {
    pub fn split(&self, kind: SplitKind) -> Option<&Dataset> {
        match kind {
            SplitKind::Train => self.train.as_ref(),
            SplitKind::Validation => self.validation.as_ref(),
            SplitKind::Test => self.test.as_ref(),
        }
    }
}

/// How labels are kept while reading: class indices, or real values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LabelMode {
    Classes,
    Values,
}

impl LabelMode {
    fn of(labels: &Labels) -> Self {
        match labels {
            Labels::OneHot { .. } | Labels::Index => LabelMode::Classes,
            Labels::Value | Labels::None => LabelMode::Values,
        }
    }
}

/// A label as a class index. Labels that are not class indices are
/// reported from the label statistics before any dataset is made, so the
/// value stored for them does not matter.
pub(crate) fn class_index(value: f64) -> u32 {
    if crate::idx::is_class_index(value) && value <= f64::from(u32::MAX) {
        value as u32
    } else {
        0
    }
}

/// Reads the splits of `spec` into memory. Paths are relative to
/// `base_dir`, the folder of the `.nnet` file. With `model` (the model the
/// data trains), the examples are checked against its input and the labels
/// against the output its cost applies to, which also fixes the targets
/// (see [`TargetKind::for_labels`]).
///
/// Returns every problem found, each once, in the order found; never
/// panics on any file.
pub fn load(
    spec: &DataSpec,
    base_dir: &Path,
    model: Option<&Model>,
) -> Result<LoadedData, Vec<DataError>> {
    let mut inspector = Inspector::new(base_dir);
    let mode = LabelMode::of(&spec.labels);
    let mut read: Vec<(&Source, Option<Arc<Examples>>)> = Vec::new();
    for source in distinct_sources(spec) {
        let (facts, examples) = read_source(&mut inspector, base_dir, source, mode);
        inspector.remember(source, facts);
        read.push((source, examples.map(Arc::new)));
    }
    inspector.data_block(spec);
    if let Some(model) = model {
        inspector.against_model(model, spec);
    }
    let errors = inspector.finish();
    if !errors.is_empty() {
        return Err(errors);
    }
    let output_units = model.and_then(model_output).map(|o| o.units);
    let mut loaded = LoadedData {
        train: None,
        validation: None,
        test: None,
        vocabulary: None,
    };
    // A text's classes are the training split's characters.
    let vocabulary = text_vocabulary(spec, &read);
    let step_classes = model.and_then(|m| {
        let id = m
            .cost
            .as_ref()
            .map(|c| c.output)
            .or_else(|| m.outputs.first().map(|(_, id)| *id))?;
        m.nodes.get(id.0)?.shape.last().copied()
    });
    let mut errors_late: Vec<DataError> = Vec::new();
    for (kind, split) in splits(spec) {
        let Some(examples) = read
            .iter()
            .find(|(s, _)| same_source(s, &split.source))
            .and_then(|(_, e)| e.clone())
        else {
            continue;
        };
        let start = split.start.map_or(0, |b| b.resolve(examples.count));
        let end = split
            .end
            .map_or(examples.count, |b| b.resolve(examples.count));
        let range = start..end;
        let value_width = match &examples.labels {
            LabelValues::Classes(_) | LabelValues::Text => 1,
            LabelValues::Values { width, .. } => *width,
        };
        let mut target = TargetKind::for_labels(&spec.labels, output_units, value_width);
        let mut dataset_vocabulary = None;
        if let (dataset::Inputs::Text { context, .. }, Some(v)) = (&examples.inputs, &vocabulary) {
            let classes = match spec.labels {
                Labels::OneHot { classes, .. } => classes,
                _ => step_classes.unwrap_or(v.len()),
            };
            target = TargetKind::Steps {
                steps: *context,
                classes,
            };
            dataset_vocabulary = Some(Arc::clone(v));
        }
        let mut dataset = Dataset::new(examples, range, spec.scale, target);
        if let Some(v) = dataset_vocabulary {
            if let Some(unknown) = dataset.set_vocabulary(v) {
                errors_late.push(DataError::UnknownCharacter {
                    span: split.span,
                    split: kind,
                    character: unknown.0,
                    position: unknown.1,
                });
                continue;
            }
        }
        match kind {
            SplitKind::Train => loaded.train = Some(dataset),
            SplitKind::Validation => loaded.validation = Some(dataset),
            SplitKind::Test => loaded.test = Some(dataset),
        }
    }
    if !errors_late.is_empty() {
        return Err(errors_late);
    }
    loaded.vocabulary = vocabulary.map(|v| v.to_vec());
    hold_out(spec, &mut loaded);
    loaded.train = loaded.train.map(|train| train.with_augment(&spec.augment));
    Ok(loaded)
}

/// `validation holdout(f, seed: s)` (then `test holdout(...)`): the split
/// becomes a seeded random share of what the training split still holds,
/// and training goes without it.
fn hold_out(spec: &DataSpec, loaded: &mut LoadedData) {
    let held = [
        (SplitKind::Validation, spec.validation.as_ref()),
        (SplitKind::Test, spec.test.as_ref()),
    ];
    for (kind, split) in held {
        let (Some(holdout), Some(train)) = (split.and_then(|s| s.holdout), &loaded.train) else {
            continue;
        };
        let (rest, taken) = train.hold_out(holdout.fraction, holdout.seed);
        loaded.train = Some(rest);
        match kind {
            SplitKind::Validation => loaded.validation = Some(taken),
            _ => loaded.test = Some(taken),
        }
    }
}

/// Reads one source whole. Problems go to the inspector; the facts describe
/// what could be read, and the examples are there when all of it could.
fn read_source(
    inspector: &mut Inspector,
    base_dir: &Path,
    source: &Source,
    mode: LabelMode,
) -> (SourceFacts, Option<Examples>) {
    match source {
        Source::Idx {
            images,
            labels,
            span,
        } => idx_source::read(inspector, base_dir, images, labels.as_deref(), *span, mode),
        Source::Csv {
            path,
            label,
            header,
            span,
        } => table_source::read(inspector, base_dir, path, label, *header, *span, mode),
        Source::Folder { path, size, span } => {
            folder_source::read(inspector, base_dir, path, size, *span, mode)
        }
        Source::Text {
            path,
            context,
            span,
        } => read_text(inspector, base_dir, path, *context, *span),
    }
}

/// Reads a `text(path, context: T)` source: every character, example `k`
/// the window from `k T`.
fn read_text(
    inspector: &mut Inspector,
    base_dir: &Path,
    path: &str,
    context: usize,
    span: nnc_diag::Span,
) -> (SourceFacts, Option<Examples>) {
    match crate::text::read_text(&crate::open::resolve(base_dir, path)) {
        Ok(chars) => {
            let count = crate::text::text_examples(chars.len(), context);
            let facts = SourceFacts {
                examples: Some(count as u64),
                shape: Some(nnc_diag::data::ExampleShape::Text { context }),
                labels: Some(crate::inspect::LabelFacts::Text {
                    vocabulary: crate::text::vocabulary_of(&chars).len(),
                }),
                labels_written: path.to_string(),
            };
            let examples = Examples {
                inputs: dataset::Inputs::Text {
                    chars: Arc::new(chars),
                    context,
                },
                input_len: context,
                count,
                labels: LabelValues::Text,
                class_names: None,
                image: None,
            };
            (facts, Some(examples))
        }
        Err(problem) => {
            inspector.file_error(span, nnc_diag::data::FileRole::Text, path, problem);
            (crate::inspect::unread(path), None)
        }
    }
}

/// The vocabulary of a data block whose training split is a text: the
/// distinct characters of its windows (targets included), sorted.
fn text_vocabulary(
    spec: &DataSpec,
    read: &[(&Source, Option<Arc<Examples>>)],
) -> Option<Arc<Vec<char>>> {
    let train = spec.train.as_ref()?;
    let examples = read
        .iter()
        .find(|(s, _)| same_source(s, &train.source))
        .and_then(|(_, e)| e.clone())?;
    let dataset::Inputs::Text { chars, context } = &examples.inputs else {
        return None;
    };
    let start = train.start.map_or(0, |b| b.resolve(examples.count));
    let end = train
        .end
        .map_or(examples.count, |b| b.resolve(examples.count));
    let first = (start * context).min(chars.len());
    let last = (end * context + 1).min(chars.len());
    Some(Arc::new(crate::text::vocabulary_of(&chars[first..last])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nnc_check::program::Split;
    use nnc_diag::Span;

    fn idx(dims: &[u32], values: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(values);
        out
    }

    #[test]
    fn two_splits_of_one_source_share_one_read() {
        let dir = std::env::temp_dir().join(format!("nnc-load-share-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("i.idx"), idx(&[4, 1], &[1, 2, 3, 4])).expect("write");
        std::fs::write(dir.join("l.idx"), idx(&[4], &[0, 1, 0, 1])).expect("write");
        let source = |at: usize| Source::Idx {
            images: "i.idx".into(),
            labels: Some("l.idx".into()),
            span: Span::new(at, at + 1),
        };
        let split = |at: usize, start, end| Split {
            source: source(at),
            start,
            end,
            span: Span::new(at, at + 2),
            holdout: None,
        };
        let spec = DataSpec {
            name: "d".into(),
            span: Span::new(0, 1),
            train: Some(split(
                10,
                None,
                Some(nnc_check::program::SliceBound::Index(3)),
            )),
            validation: Some(split(
                20,
                Some(nnc_check::program::SliceBound::Index(3)),
                None,
            )),
            test: Some(split(30, None, None)),
            scale: 1.0,
            labels: Labels::Index,
            augment: Vec::new(),
        };
        let data = load(&spec, &dir, None).expect("load");
        let _ = std::fs::remove_dir_all(&dir);
        let (train, validation, test) = (
            data.train.expect("train"),
            data.validation.expect("validation"),
            data.test.expect("test"),
        );
        assert_eq!((train.len(), validation.len(), test.len()), (3, 1, 4));
        assert!(train.shares_examples(&validation));
        assert!(train.shares_examples(&test));
    }
}
