//! The data stage over a whole program: every source of every data block is
//! read once (headers, sizes, label scans, listings), then the splits are
//! checked against the sources' example counts, the labels against
//! `one_hot(k)`, and, for each `train MODEL on DATA`, the examples and labels
//! against that model's input and output.

use crate::csv::{inspect_csv, CsvOptions, CsvSummary};
use crate::folder::inspect_folder;
use crate::idx::{check_idx_file, scan_idx_labels, IdxHeader, LabelStats};
use crate::open::{describe_missing, display_path, resolve};
use crate::spec::{distinct_sources, fits, model_output, same_source, source_span, splits, Output};
use nnc_check::program::{DataSpec, Labels, Model, NodeId, Program, Source, Split};
use nnc_diag::data::{
    ClassLabels, ClassLimit, DataError, ExampleShape, FileProblem, FileRole, FoundClasses, LabelAt,
    SplitKind,
};
use nnc_diag::Span;
use std::path::Path;

/// Checks the data files a program names against the program. Paths in the
/// program are relative to `base_dir`, the folder of the `.nnet` file.
/// Returns every problem found, each once, in program order.
pub fn inspect(program: &Program, base_dir: &Path) -> Vec<DataError> {
    let mut stage = Inspector::new(base_dir);
    for data in &program.data {
        stage.data_block(data);
    }
    for train in &program.trains {
        // A game's examples are `real`, as its steps read them.
        let view = train.data_view();
        let model = view.as_ref().or_else(|| program.model(&train.model));
        if let (Some(model), Some(data)) = (model, program.data(&train.data)) {
            stage.against_model(model, data);
        }
    }
    stage.finish()
}

/// What reading one source found, kept so each source is read once. The
/// loaders fill it in from what they read, so that loading checks exactly
/// what inspection checks.
#[derive(Clone, Debug)]
pub(crate) struct SourceFacts {
    /// Examples, when the source could be read.
    pub examples: Option<u64>,
    /// The shape of one example, when known.
    pub shape: Option<ExampleShape>,
    pub labels: Option<LabelFacts>,
    /// The path labels come from, as written.
    pub labels_written: String,
}

#[derive(Clone, Debug)]
pub(crate) enum LabelFacts {
    /// Numeric labels: a labels file (`dims` are its dimensions) or a CSV
    /// column (`dims` is empty).
    Values {
        stats: LabelStats,
        non_class_at: Option<LabelAt>,
        dims: Vec<u32>,
        images_dims: Option<Vec<u32>>,
    },
    /// The class subfolders of an image folder, sorted.
    Folders(Vec<String>),
    /// A text's next characters: as many classes as its distinct
    /// characters.
    Text { vocabulary: usize },
}

/// The checks of the data stage, over sources read once each.
pub(crate) struct Inspector<'a> {
    base_dir: &'a Path,
    /// Sources read so far (compared without their spans) and what was found.
    sources: Vec<(Source, SourceFacts)>,
    errors: Vec<DataError>,
}

impl<'a> Inspector<'a> {
    pub(crate) fn new(base_dir: &'a Path) -> Self {
        Inspector {
            base_dir,
            sources: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The problems found, each once, in the order found.
    pub(crate) fn finish(self) -> Vec<DataError> {
        self.errors
    }

    /// Records what a loader read from `source`, so that the checks use it
    /// instead of reading the files again.
    pub(crate) fn remember(&mut self, source: &Source, facts: SourceFacts) {
        if !self.sources.iter().any(|(s, _)| same_source(s, source)) {
            self.sources.push((source.clone(), facts));
        }
    }

    /// Reports a problem (once, however often it is found).
    pub(crate) fn report(&mut self, error: DataError) {
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    /// Checks a data block alone: its splits against the sources' sizes,
    /// its labels against `one_hot(k)`.
    pub(crate) fn data_block(&mut self, data: &DataSpec) {
        for (kind, split) in splits(data) {
            let facts = self.source(&split.source);
            if let Some(available) = facts.examples {
                self.check_split(kind, split, available);
            }
        }
        for source in distinct_sources(data) {
            let facts = self.source(source);
            self.check_labels(source_span(source), &facts, &data.labels);
        }
    }

    /// Checks a data block against the model trained on it: examples
    /// against the input, labels against the output.
    pub(crate) fn against_model(&mut self, model: &Model, data: &DataSpec) {
        for source in distinct_sources(data) {
            let facts = self.source(source);
            let span = source_span(source);
            if let (Some(shape), [input]) = (&facts.shape, model.inputs.as_slice()) {
                self.check_input(span, shape, model, *input);
            }
            if let Some(output) = model_output(model) {
                self.check_output(span, &facts, &data.labels, model, output);
            }
        }
    }

    /// The facts of a source, reading it the first time it is asked for.
    fn source(&mut self, source: &Source) -> SourceFacts {
        if let Some((_, facts)) = self.sources.iter().find(|(s, _)| same_source(s, source)) {
            return facts.clone();
        }
        let facts = self.read_source(source);
        self.sources.push((source.clone(), facts.clone()));
        facts
    }

    fn read_source(&mut self, source: &Source) -> SourceFacts {
        match source {
            Source::Idx {
                images,
                labels,
                span,
            } => self.read_idx(images, labels, *span),
            Source::Csv {
                path,
                label,
                header,
                span,
            } => {
                let options = CsvOptions {
                    label: label.clone(),
                    header: *header,
                    labelled: true,
                };
                self.read_csv(path, &options, *span)
            }
            Source::Folder { path, size, span } => self.read_folder(path, size, *span),
            Source::Text {
                path,
                context,
                span,
            } => self.read_text(path, *context, *span),
        }
    }

    fn read_text(&mut self, path: &str, context: usize, span: Span) -> SourceFacts {
        match crate::text::read_text(&resolve(self.base_dir, path)) {
            Ok(chars) => SourceFacts {
                examples: Some(crate::text::text_examples(chars.len(), context) as u64),
                shape: Some(ExampleShape::Text { context }),
                labels: Some(LabelFacts::Text {
                    vocabulary: crate::text::vocabulary_of(&chars).len(),
                }),
                labels_written: path.to_string(),
            },
            Err(problem) => {
                self.file_error(span, FileRole::Text, path, problem);
                unread(path)
            }
        }
    }

    /// Reports a problem with a file of a source (a missing file is
    /// described relative to the `.nnet` file's folder).
    pub(crate) fn file_error(
        &mut self,
        span: Span,
        role: FileRole,
        written: &str,
        problem: FileProblem,
    ) {
        let problem = match problem {
            FileProblem::NotFound(_) => {
                FileProblem::NotFound(describe_missing(self.base_dir, written))
            }
            other => other,
        };
        let error = DataError::File {
            span,
            role,
            written: written.to_string(),
            resolved: display_path(&resolve(self.base_dir, written)),
            base_dir: display_path(self.base_dir),
            problem,
        };
        self.report(error);
    }

    fn read_idx(&mut self, images: &str, labels: &Option<String>, span: Span) -> SourceFacts {
        let image_header = self.idx_images(images, span);
        let Some(labels) = labels.as_deref() else {
            // Unlabelled images (`labels none`): nothing to compare.
            return SourceFacts {
                examples: image_header.as_ref().map(IdxHeader::count),
                shape: image_header
                    .as_ref()
                    .map(|h| ExampleShape::Idx(h.example_shape())),
                labels: None,
                labels_written: String::new(),
            };
        };
        let label_scan = match scan_idx_labels(&resolve(self.base_dir, labels)) {
            Ok(scan) => Some(scan),
            Err(problem) => {
                self.file_error(span, FileRole::Labels, labels, problem);
                None
            }
        };
        if let (Some(header), Some((label_header, _))) = (&image_header, &label_scan) {
            if header.count() != label_header.count() {
                self.report(DataError::CountMismatch {
                    span,
                    images_path: images.to_string(),
                    labels_path: labels.to_string(),
                    images: header.count(),
                    labels: label_header.count(),
                });
            }
        }
        let images_dims = image_header.as_ref().map(|h| h.dims.clone());
        SourceFacts {
            examples: image_header.as_ref().map(IdxHeader::count),
            shape: image_header
                .as_ref()
                .map(|h| ExampleShape::Idx(h.example_shape())),
            labels: label_scan.map(|(header, stats)| LabelFacts::Values {
                non_class_at: stats.first_non_class.map(|(i, _)| LabelAt::Example(i)),
                stats,
                dims: header.dims,
                images_dims,
            }),
            labels_written: labels.to_string(),
        }
    }

    /// Reads and size-checks an images file. A size mismatch is reported but
    /// the header is still used: its count and shape are what was meant.
    fn idx_images(&mut self, images: &str, span: Span) -> Option<IdxHeader> {
        let path = resolve(self.base_dir, images);
        match check_idx_file(&path) {
            Ok(header) => Some(header),
            Err(problem) => {
                let header = match &problem {
                    FileProblem::IdxSize { .. } => crate::idx::read_idx_header(&path).ok(),
                    _ => None,
                };
                self.file_error(span, FileRole::Images, images, problem);
                header
            }
        }
    }

    fn read_csv(&mut self, path: &str, options: &CsvOptions, span: Span) -> SourceFacts {
        match inspect_csv(&resolve(self.base_dir, path), options) {
            Ok(summary) => csv_facts(&summary, path),
            Err(problem) => {
                self.file_error(span, FileRole::Csv, path, problem);
                unread(path)
            }
        }
    }

    fn read_folder(&mut self, path: &str, size: &[usize], span: Span) -> SourceFacts {
        match inspect_folder(&resolve(self.base_dir, path)) {
            Ok(summary) => SourceFacts {
                examples: Some(summary.examples()),
                shape: Some(ExampleShape::Folder(size.to_vec())),
                labels: Some(LabelFacts::Folders(summary.class_names())),
                labels_written: path.to_string(),
            },
            Err(problem) => {
                self.file_error(span, FileRole::Folder, path, problem);
                unread(path)
            }
        }
    }

    /// A split must end within its source and hold at least one example.
    fn check_split(&mut self, kind: SplitKind, split: &Split, available: u64) {
        let count = usize::try_from(available).unwrap_or(usize::MAX);
        let start = split.start.map(|b| b.resolve(count));
        let end = split.end.map(|b| b.resolve(count));
        let past_end = end.is_some_and(|e| e as u64 > available);
        let empty_start = start.unwrap_or(0) as u64 >= available || end == Some(0);
        if past_end || empty_start {
            self.report(DataError::SplitTooLarge {
                span: split.span,
                source_span: source_span(&split.source),
                split: kind,
                start,
                end,
                available,
            });
        }
    }

    /// Checks labels against the data block alone: class labels must be
    /// whole numbers, one per example, and fit `one_hot(k)`.
    fn check_labels(&mut self, span: Span, facts: &SourceFacts, labels: &Labels) {
        let (class_labels, one_hot) = match labels {
            Labels::OneHot { classes, span } => (ClassLabels::OneHot, Some((*classes, *span))),
            Labels::Index => (ClassLabels::Index, None),
            Labels::Value | Labels::None => return,
        };
        let Some(found) = self.class_facts(span, facts, class_labels) else {
            return;
        };
        let Some((classes, one_hot_span)) = one_hot else {
            return;
        };
        let exceeds = match &found {
            FoundClasses::Labels { .. } => found.count() > classes as u64,
            FoundClasses::Folders { .. } => found.count() != classes as u64,
        };
        if exceeds {
            let limit = ClassLimit::OneHot {
                classes,
                span: one_hot_span,
            };
            let written = facts.labels_written.clone();
            self.report(DataError::ClassesMismatch {
                span,
                written,
                found,
                limit,
            });
        }
    }

    /// The classes of a source read with class labels, reporting labels that
    /// cannot be classes. `None` when unknown or not usable.
    fn class_facts(
        &mut self,
        span: Span,
        facts: &SourceFacts,
        labels: ClassLabels,
    ) -> Option<FoundClasses> {
        let written = facts.labels_written.clone();
        match facts.labels.as_ref()? {
            // A text's classes are its characters (checked against the
            // model by `check_vocabulary`).
            LabelFacts::Text { .. } => None,
            LabelFacts::Folders(names) => Some(FoundClasses::Folders {
                names: names.clone(),
            }),
            LabelFacts::Values {
                stats,
                non_class_at,
                dims,
                images_dims,
            } => {
                if dims
                    .get(1..)
                    .is_some_and(|rest| rest.iter().any(|d| *d != 1))
                {
                    let (dims, images_dims) = (dims.clone(), images_dims.clone());
                    self.report(DataError::LabelsNotScalar {
                        span,
                        written,
                        dims,
                        images_dims,
                    });
                    return None;
                }
                if let (Some(at), Some((_, value))) = (non_class_at, stats.first_non_class) {
                    self.report(DataError::LabelNotClass {
                        span,
                        written,
                        at: at.clone(),
                        value,
                        labels,
                    });
                    return None;
                }
                let largest = stats.range.map_or(0.0, |(_, hi)| hi);
                stats.range.map(|_| FoundClasses::Labels {
                    largest: largest as u64,
                })
            }
        }
    }

    fn check_input(&mut self, span: Span, example: &ExampleShape, model: &Model, input: NodeId) {
        let Some(node) = model.nodes.get(input.0) else {
            return;
        };
        if !fits(example, &node.shape) {
            self.report(DataError::InputMismatch {
                span,
                example: example.clone(),
                model: model.name.clone(),
                input: node.name.clone(),
                input_shape: node.shape.clone(),
                input_span: node.span,
            });
        }
    }

    /// A text's characters against the model: its output's classes per
    /// step and its embeddings' tables (E0511).
    fn check_vocabulary(
        &mut self,
        span: Span,
        facts: &SourceFacts,
        model: &Model,
        output: &Output,
    ) {
        let Some(LabelFacts::Text { vocabulary }) = facts.labels else {
            return;
        };
        let mut narrow: Vec<(String, usize, Span)> = Vec::new();
        let id = model
            .cost
            .as_ref()
            .map(|c| c.output)
            .or_else(|| model.outputs.first().map(|(_, id)| *id));
        let width = id
            .and_then(|id| model.nodes.get(id.0))
            .and_then(|n| n.shape.last().copied())
            .unwrap_or(output.units);
        if width < vocabulary {
            narrow.push((format!("output `{}`", output.name), width, output.span));
        }
        for node in &model.nodes {
            if let nnc_check::program::Op::Embed { vocabulary: v, .. } = node.op {
                if v < vocabulary {
                    narrow.push((format!("embedding `{}`", node.name), v, node.span));
                }
            }
        }
        for (what, width, at) in narrow {
            self.report(DataError::VocabularyMismatch {
                span,
                vocabulary,
                model: model.name.clone(),
                what,
                width,
                at,
            });
        }
    }

    fn check_output(
        &mut self,
        span: Span,
        facts: &SourceFacts,
        labels: &Labels,
        model: &Model,
        output: Output,
    ) {
        match labels {
            // `one_hot(k)` against the output size is the checker's E0208.
            Labels::OneHot { .. } => {}
            Labels::Index if matches!(facts.labels, Some(LabelFacts::Text { .. })) => {
                self.check_vocabulary(span, facts, model, &output);
            }
            Labels::Index => {
                let Some(found) = self.class_facts(span, facts, ClassLabels::Index) else {
                    return;
                };
                // One output unit is a binary classifier (a sigmoid giving
                // the probability of class 1): it serves two classes.
                let classes = if output.units == 1 {
                    2
                } else {
                    output.units as u64
                };
                let wrong = match &found {
                    FoundClasses::Labels { .. } => found.count() > classes,
                    FoundClasses::Folders { .. } => found.count() != classes,
                };
                if wrong {
                    let limit = ClassLimit::ModelOutput {
                        model: model.name.clone(),
                        output: output.name,
                        units: output.units,
                        span: output.span,
                    };
                    let written = facts.labels_written.clone();
                    self.report(DataError::ClassesMismatch {
                        span,
                        written,
                        found,
                        limit,
                    });
                }
            }
            Labels::Value => {
                let Some(labels) = &facts.labels else {
                    return;
                };
                let target = labels.value_width().unwrap_or(usize::MAX);
                if target != output.units {
                    self.report(DataError::TargetMismatch {
                        span,
                        target,
                        model: model.name.clone(),
                        output: output.name,
                        units: output.units,
                        output_span: output.span,
                    });
                }
            }
            // No targets: the checker refuses models that read labels.
            Labels::None => {}
        }
    }
}

impl LabelFacts {
    /// Values per example when labels are read as real-valued targets: the
    /// labels file's dimensions after the count, one CSV column, or the
    /// class index of a folder. `None` if it does not fit in a `usize`.
    pub(crate) fn value_width(&self) -> Option<usize> {
        match self {
            LabelFacts::Values { dims, .. } => dims.get(1..).map_or(Some(1), |rest| {
                rest.iter()
                    .try_fold(1usize, |acc, d| acc.checked_mul(*d as usize))
            }),
            LabelFacts::Folders(_) | LabelFacts::Text { .. } => Some(1),
        }
    }
}

/// The facts of a CSV source read whole: its rows, its features and, when
/// it has a label column, the labels found there (without one, nothing is
/// compared with labels: the data is `labels none`).
pub(crate) fn csv_facts(summary: &CsvSummary, written: &str) -> SourceFacts {
    SourceFacts {
        examples: Some(summary.rows),
        shape: Some(ExampleShape::Csv {
            features: summary.features(),
        }),
        labels: summary.label_index.map(|index| LabelFacts::Values {
            non_class_at: summary.first_non_class_line.map(|line| LabelAt::CsvCell {
                line,
                column: index + 1,
            }),
            stats: summary.labels.clone(),
            dims: Vec::new(),
            images_dims: None,
        }),
        labels_written: written.to_string(),
    }
}

/// The facts of a source that could not be read.
pub(crate) fn unread(written: &str) -> SourceFacts {
    SourceFacts {
        examples: None,
        shape: None,
        labels: None,
        labels_written: written.to_string(),
    }
}
