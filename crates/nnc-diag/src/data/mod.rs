//! Data errors: what `nnc check --data` found wrong with the files a program
//! names, as facts, and their wording.
//!
//! The data stage (`nnc-data`) reports two layers of facts. A [`FileProblem`]
//! is what is wrong with one file or folder on its own (it does not know the
//! program); the low-level readers return it. A [`DataError`] places a
//! problem in the program: it carries the span of the source or split
//! expression, the path as written and as resolved, and, for the checks
//! against a model, the model's numbers. Only [`DataError::to_diagnostic`]
//! turns them into words.
//!
//! The facts and their wording are grouped by what they are about: `file`
//! (the file a fact is about, paths not found), `file_problem` (what is
//! wrong with one file), `idx`, `csv` and `folder` (each format's
//! problems), `split`, `labels` and `input` (the data against the
//! program and its model).

mod csv;
mod file;
mod file_problem;
mod folder;
mod idx;
mod input;
mod labels;
mod split;
mod words;

pub use csv::CsvProblem;
pub use file::{FileRole, MissingPath};
pub use file_problem::{file_problem_code, FileProblem};
pub use folder::{FolderProblem, ImageFormat, ImageProblem};
pub use idx::{IdxType, NotIdxReason};
pub use input::ExampleShape;
pub use labels::{ClassLabels, ClassLimit, FoundClasses, LabelAt};
pub use split::SplitKind;

use crate::{Diagnostic, Span};
use file::FileFact;
use file_problem::file_diagnostic;
use idx::count_mismatch_diagnostic;
use input::input_diagnostic;
use labels::{
    classes_diagnostic, label_not_class_diagnostic, labels_not_scalar_diagnostic,
    target_mismatch_diagnostic,
};
use serde::Serialize;
use split::split_diagnostic;

/// A problem with the data a program names, placed in the program.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum DataError {
    /// A file or folder problem (E0501, E0502, E0503, E0507, E0508, E0510).
    File {
        /// The source expression naming the file.
        span: Span,
        role: FileRole,
        /// The path as written in the program.
        written: String,
        /// The path as looked for.
        resolved: String,
        /// The folder paths are relative to (the `.nnet` file's folder).
        base_dir: String,
        problem: FileProblem,
    },
    /// E0504: a split reaches past the end of its source.
    SplitTooLarge {
        span: Span,
        source_span: Span,
        split: SplitKind,
        start: Option<usize>,
        end: Option<usize>,
        available: u64,
    },
    /// E0505: more classes than `one_hot(k)` or the model output hold.
    ClassesMismatch {
        span: Span,
        written: String,
        found: FoundClasses,
        limit: ClassLimit,
    },
    /// E0505: a class label that is not a whole number `>= 0`.
    LabelNotClass {
        span: Span,
        written: String,
        at: LabelAt,
        value: f64,
        labels: ClassLabels,
    },
    /// E0505: a labels file that holds more than one value per example.
    LabelsNotScalar {
        span: Span,
        written: String,
        dims: Vec<u32>,
        images_dims: Option<Vec<u32>>,
    },
    /// E0505: regression targets whose size differs from the model output.
    TargetMismatch {
        span: Span,
        target: usize,
        model: String,
        output: String,
        units: usize,
        output_span: Span,
    },
    /// E0511: a text with more distinct characters than a layer of the
    /// model has classes for: the output per step, or an embedding's
    /// table (`what` names which).
    VocabularyMismatch {
        span: Span,
        vocabulary: usize,
        model: String,
        what: String,
        width: usize,
        at: Span,
    },
    /// E0511: a character of a split that the training split's
    /// vocabulary lacks.
    UnknownCharacter {
        span: Span,
        split: SplitKind,
        character: char,
        /// Its index in the text, in characters.
        position: usize,
    },
    /// E0506: an IDX source whose two files hold different numbers of examples.
    CountMismatch {
        span: Span,
        images_path: String,
        labels_path: String,
        images: u64,
        labels: u64,
    },
    /// E0509: examples whose shape the model input cannot take.
    InputMismatch {
        span: Span,
        example: ExampleShape,
        model: String,
        input: String,
        input_shape: Vec<usize>,
        input_span: Span,
    },
}

impl DataError {
    /// The primary span of the fact.
    pub fn span(&self) -> Span {
        match self {
            DataError::File { span, .. }
            | DataError::SplitTooLarge { span, .. }
            | DataError::ClassesMismatch { span, .. }
            | DataError::LabelNotClass { span, .. }
            | DataError::LabelsNotScalar { span, .. }
            | DataError::TargetMismatch { span, .. }
            | DataError::VocabularyMismatch { span, .. }
            | DataError::UnknownCharacter { span, .. }
            | DataError::CountMismatch { span, .. }
            | DataError::InputMismatch { span, .. } => *span,
        }
    }

    /// The stable code of the fact.
    pub fn code(&self) -> &'static str {
        match self {
            DataError::File { problem, .. } => file_problem_code(problem),
            DataError::SplitTooLarge { .. } => "E0504",
            DataError::ClassesMismatch { .. }
            | DataError::LabelNotClass { .. }
            | DataError::LabelsNotScalar { .. }
            | DataError::TargetMismatch { .. } => "E0505",
            DataError::CountMismatch { .. } => "E0506",
            DataError::InputMismatch { .. } => "E0509",
            DataError::VocabularyMismatch { .. } | DataError::UnknownCharacter { .. } => "E0511",
        }
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        match self {
            DataError::File {
                span,
                role,
                written,
                resolved,
                base_dir,
                problem,
            } => {
                let file = FileFact {
                    span: *span,
                    role: *role,
                    written,
                    resolved,
                    base_dir,
                };
                file_diagnostic(&file, problem)
            }
            DataError::SplitTooLarge {
                span,
                source_span,
                split,
                start,
                end,
                available,
            } => split_diagnostic(*span, *source_span, *split, *start, *end, *available),
            DataError::ClassesMismatch {
                span,
                written,
                found,
                limit,
            } => classes_diagnostic(*span, written, found, limit),
            DataError::LabelNotClass {
                span,
                written,
                at,
                value,
                labels,
            } => label_not_class_diagnostic(*span, written, at, *value, *labels),
            DataError::LabelsNotScalar {
                span,
                written,
                dims,
                images_dims,
            } => labels_not_scalar_diagnostic(*span, written, dims, images_dims.as_deref()),
            DataError::TargetMismatch {
                span,
                target,
                model,
                output,
                units,
                output_span,
            } => target_mismatch_diagnostic(*span, *target, model, output, *units, *output_span),
            DataError::VocabularyMismatch {
                span,
                vocabulary,
                model,
                what,
                width,
                at,
            } => Diagnostic::error(
                "E0511",
                format!(
                    "the text has {vocabulary} distinct characters, but {what} of model `{model}` has room for {width}"
                ),
                crate::Label::new(*span, format!("{vocabulary} characters in this text")),
            )
            .with_secondary(*at, format!("{width} classes here"))
            .with_note("each character is a class: its index picks an embedding row and the output unit that predicts it")
            .with_hint(format!("give it {vocabulary} classes (or more)")),
            DataError::UnknownCharacter {
                span,
                split,
                character,
                position,
            } => Diagnostic::error(
                "E0511",
                format!(
                    "the {} split holds {character:?} (character {position} of the text), which the training split never does",
                    split.name()
                ),
                crate::Label::new(*span, "split here"),
            )
            .with_note("the vocabulary (the classes) is the training split's characters; a model cannot read or predict others")
            .with_hint("choose split bounds so that the training split holds every character, or remove it from the text"),
            DataError::CountMismatch {
                span,
                images_path,
                labels_path,
                images,
                labels,
            } => count_mismatch_diagnostic(*span, images_path, labels_path, *images, *labels),
            DataError::InputMismatch {
                span,
                example,
                model,
                input,
                input_shape,
                input_span,
            } => input_diagnostic(*span, example, model, input, input_shape, *input_span),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(problem: FileProblem) -> DataError {
        DataError::File {
            span: Span::new(0, 4),
            role: FileRole::Images,
            written: "../data/x.gz".into(),
            resolved: "/d/data/x.gz".into(),
            base_dir: "/d/examples".into(),
            problem,
        }
    }

    #[test]
    fn idx_types_round_trip() {
        for (code, t) in IdxType::ALL {
            assert_eq!(IdxType::from_code(code), Some(t));
            assert_eq!(t.code(), code);
        }
        assert_eq!(IdxType::from_code(0x0A), None);
    }

    #[test]
    fn size_mismatch_shows_the_formula() {
        let d = file(FileProblem::IdxSize {
            dims: vec![60000, 28, 28],
            element: IdxType::U8,
            gzip: true,
            header_len: 16,
            actual: 1000,
            at_least: false,
            stream_ended: true,
        })
        .to_diagnostic();
        assert_eq!(d.code, "E0503");
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("60000 x 28 x 28 = 47,040,000 bytes")),
            "{d:?}"
        );
        assert!(d.notes.iter().any(|n| n.contains("1,000 bytes")), "{d:?}");
        assert!(d.message.contains("shorter"));
    }

    #[test]
    fn not_found_suggests_a_close_name() {
        let d = file(FileProblem::NotFound(MissingPath {
            before: "../data/".into(),
            missing: "mnst".into(),
            after: "/x.gz".into(),
            searched: "/d/data".into(),
            candidates: vec!["mnist".into(), "cifar".into()],
        }))
        .to_diagnostic();
        assert_eq!(d.code, "E0501");
        assert!(
            d.hints
                .iter()
                .any(|h| h == "did you mean `../data/mnist/x.gz`?"),
            "{d:?}"
        );
        assert!(d.hints.iter().any(|h| h.contains("/d/examples")), "{d:?}");
    }

    #[test]
    fn not_idx_shows_hex() {
        let d = file(FileProblem::NotIdx {
            found: vec![0x50, 0x4b, 3, 4],
            gzip: false,
            reason: NotIdxReason::BadMagic,
        })
        .to_diagnostic();
        assert_eq!(d.code, "E0502");
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("`50 4b 03 04`") && n.contains("zip")),
            "{d:?}"
        );
    }

    #[test]
    fn bad_image_names_the_file_and_what_it_looks_like() {
        let d = file(FileProblem::BadImage {
            image: "cats/cat.3.jpg".into(),
            problem: ImageProblem::NotAnImage {
                found: b"<htm".to_vec(),
            },
        })
        .to_diagnostic();
        assert_eq!(d.code, "E0510");
        assert!(d.message.contains("`cats/cat.3.jpg`"), "{d:?}");
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("/d/data/x.gz/cats/cat.3.jpg")),
            "{d:?}"
        );
        assert!(d.notes.iter().any(|n| n.contains("HTML")), "{d:?}");
    }

    #[test]
    fn every_code_is_in_the_table() {
        let errors = [
            file(FileProblem::NotAFile),
            file(FileProblem::Csv(CsvProblem::Empty)),
            file(FileProblem::Folder(FolderProblem::NoClassFolders {
                files: 2,
            })),
            file(FileProblem::OutOfMemory { bytes: 1 << 40 }),
            file(FileProblem::BadImage {
                image: "cats/a.png".into(),
                problem: ImageProblem::Decode {
                    format: ImageFormat::Png,
                    reason: "bad".into(),
                },
            }),
            DataError::SplitTooLarge {
                span: Span::new(0, 1),
                source_span: Span::new(2, 3),
                split: SplitKind::Train,
                start: None,
                end: Some(70000),
                available: 60000,
            },
            DataError::CountMismatch {
                span: Span::new(0, 1),
                images_path: "a".into(),
                labels_path: "b".into(),
                images: 3,
                labels: 2,
            },
        ];
        for e in errors {
            let d = e.to_diagnostic();
            assert_eq!(d.code, e.code());
            assert!(
                crate::codes::title(d.code).is_some(),
                "{} missing from codes::ALL",
                d.code
            );
            assert!(!d.message.ends_with('.'), "{}", d.message);
        }
    }
}
