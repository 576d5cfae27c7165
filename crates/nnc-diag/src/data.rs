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

use crate::{shape_str, suggestions, thousands, Diagnostic, Label, Span};
use serde::Serialize;

/// The element type of an IDX file, from its third magic byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum IdxType {
    U8,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl IdxType {
    /// Every type with its code byte, in code order.
    pub const ALL: [(u8, IdxType); 6] = [
        (0x08, IdxType::U8),
        (0x09, IdxType::I8),
        (0x0B, IdxType::I16),
        (0x0C, IdxType::I32),
        (0x0D, IdxType::F32),
        (0x0E, IdxType::F64),
    ];

    /// The type a code byte stands for, if any.
    pub fn from_code(code: u8) -> Option<IdxType> {
        Self::ALL.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
    }

    /// The code byte of the type.
    pub fn code(self) -> u8 {
        Self::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or(0x08, |(c, _)| *c)
    }

    /// Bytes per element.
    pub fn size(self) -> u64 {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IdxType::U8 => "u8",
            IdxType::I8 => "i8",
            IdxType::I16 => "i16",
            IdxType::I32 => "i32",
            IdxType::F32 => "f32",
            IdxType::F64 => "f64",
        }
    }
}

/// Which file of a source a fact is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum FileRole {
    /// The images file of `idx(...)`.
    Images,
    /// The `labels:` file of `idx(...)`.
    Labels,
    /// The file of `csv(...)`.
    Csv,
    /// The folder of `folder(...)`.
    Folder,
}

impl FileRole {
    fn noun(self) -> &'static str {
        match self {
            FileRole::Images => "images file",
            FileRole::Labels => "labels file",
            FileRole::Csv => "CSV file",
            FileRole::Folder => "image folder",
        }
    }
}

/// A path that does not exist, cut at its first missing component, so that
/// a close name found in the folder it was looked for in can be put in its
/// place: `before + candidate + after` is the corrected path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MissingPath {
    /// The path's text before the missing component (ends with `/` or is empty).
    pub before: String,
    /// The first component that does not exist.
    pub missing: String,
    /// The path's text after the missing component (empty or starts with `/`).
    pub after: String,
    /// The folder the missing component was looked for in.
    pub searched: String,
    /// Names in `searched` (bounded), for "did you mean".
    pub candidates: Vec<String>,
}

/// Why a file is not an IDX file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum NotIdxReason {
    /// The first two bytes are not zero.
    BadMagic,
    /// The type byte is not one of [`IdxType::ALL`].
    UnknownType(u8),
    /// The header declares zero dimensions.
    NoDimensions,
    /// The file ends before its header does.
    EndsInHeader { needed: u64, available: u64 },
}

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

/// Why a folder is not an image folder (one subfolder per class).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FolderProblem {
    /// The folder has no subfolders; `files` files lie directly in it.
    NoClassFolders { files: u64 },
    /// A class subfolder holds no `.png`, `.jpg` or `.jpeg` file.
    EmptyClass { class: String, other_files: u64 },
}

/// The image formats of `folder(...)` sources, told apart by their first
/// bytes (not by their names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ImageFormat {
    Png,
    Jpeg,
}

impl ImageFormat {
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "PNG",
            ImageFormat::Jpeg => "JPEG",
        }
    }
}

/// Why one image of an image folder cannot be used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ImageProblem {
    /// The file starts with neither the PNG nor the JPEG signature; `found`
    /// holds its first bytes (at most 4).
    NotAnImage { found: Vec<u8> },
    /// The decoder rejected the file.
    Decode { format: ImageFormat, reason: String },
    /// Decoded, the image would take more than `limit` bytes.
    TooLarge {
        format: ImageFormat,
        width: u64,
        height: u64,
        limit: u64,
    },
    /// The operating system refused to read the file.
    Unreadable { reason: String },
}

/// What is wrong with one data file or folder, independent of the program.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum FileProblem {
    /// E0501.
    NotFound(MissingPath),
    /// E0510: a folder where a file was expected.
    NotAFile,
    /// E0510: a file where a folder was expected.
    NotAFolder,
    /// E0510: the operating system refused (permissions, I/O error).
    Unreadable { reason: String },
    /// E0510: a gzip stream that cannot be decompressed.
    CorruptGzip { after: u64, reason: String },
    /// E0510: a gzip stream cut off after `after` decompressed bytes (for
    /// files whose expected length is not known, such as CSV).
    GzipEndsEarly { after: u64 },
    /// E0502. `found` holds the first bytes (at most 4), after gzip
    /// decompression when `gzip`.
    NotIdx {
        found: Vec<u8>,
        gzip: bool,
        reason: NotIdxReason,
    },
    /// E0503. `actual` counts the bytes after the header (decompressed
    /// when `gzip`); with `at_least`, counting stopped early. With
    /// `stream_ended`, the gzip stream itself was cut off.
    IdxSize {
        dims: Vec<u32>,
        element: IdxType,
        gzip: bool,
        header_len: u64,
        actual: u64,
        at_least: bool,
        stream_ended: bool,
    },
    /// E0507.
    Csv(CsvProblem),
    /// E0508.
    Folder(FolderProblem),
    /// E0510: an image of an image folder that cannot be decoded; `image`
    /// is its path inside the folder (`cats/cat.3.jpg`).
    BadImage {
        image: String,
        problem: ImageProblem,
    },
    /// E0510: the examples, decoded, need more memory (`bytes`) than could
    /// be reserved.
    OutOfMemory { bytes: u64 },
}

/// A split of a data block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum SplitKind {
    Train,
    Validation,
    Test,
}

impl SplitKind {
    pub fn name(self) -> &'static str {
        match self {
            SplitKind::Train => "train",
            SplitKind::Validation => "validation",
            SplitKind::Test => "test",
        }
    }
}

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

/// The shape of one example, as the data gives it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExampleShape {
    /// IDX images: the header's dimensions after the count.
    Idx(Vec<usize>),
    /// CSV rows: the number of feature columns.
    Csv { features: usize },
    /// Image folders: the `size:` images are resized to.
    Folder(Vec<usize>),
}

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
            } => Diagnostic::error(
                "E0505",
                format!(
                    "targets have {target} value{} per example but model `{model}` outputs {units}",
                    plural(*target as u64)
                ),
                Label::new(*span, "targets read from here"),
            )
            .with_secondary(
                *output_span,
                format!(
                    "output `{output}` has {units} value{}",
                    plural(*units as u64)
                ),
            )
            .with_note(
                "with `labels value`, the model output is compared with the label target directly",
            )
            .with_hint(format!(
                "give the model output {target} value{}",
                plural(*target as u64)
            )),
            DataError::CountMismatch {
                span,
                images_path,
                labels_path,
                images,
                labels,
            } => Diagnostic::error(
                "E0506",
                format!(
                    "images and labels differ in count: {} images but {} labels",
                    thousands(*images),
                    thousands(*labels)
                ),
                Label::new(*span, "this source pairs the two files"),
            )
            .with_note(format!(
                "`{images_path}` holds {} images",
                thousands(*images)
            ))
            .with_note(format!(
                "`{labels_path}` holds {} labels",
                thousands(*labels)
            ))
            .with_hint(
                "each image needs exactly one label: check that the two files belong together",
            ),
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

/// The code of a file problem.
pub fn file_problem_code(problem: &FileProblem) -> &'static str {
    match problem {
        FileProblem::NotFound(_) => "E0501",
        FileProblem::NotIdx { .. } => "E0502",
        FileProblem::IdxSize { .. } => "E0503",
        FileProblem::Csv(_) => "E0507",
        FileProblem::Folder(_) => "E0508",
        FileProblem::NotAFile
        | FileProblem::NotAFolder
        | FileProblem::Unreadable { .. }
        | FileProblem::CorruptGzip { .. }
        | FileProblem::GzipEndsEarly { .. }
        | FileProblem::BadImage { .. }
        | FileProblem::OutOfMemory { .. } => "E0510",
    }
}

/// The parts of [`DataError::File`] shared by every file problem.
struct FileFact<'a> {
    span: Span,
    role: FileRole,
    written: &'a str,
    resolved: &'a str,
    base_dir: &'a str,
}

impl FileFact<'_> {
    fn label(&self) -> Label {
        Label::new(self.span, format!("{} named here", self.role.noun()))
    }
}

fn file_diagnostic(file: &FileFact, problem: &FileProblem) -> Diagnostic {
    match problem {
        FileProblem::NotFound(missing) => not_found_diagnostic(file, missing),
        FileProblem::NotAFile => Diagnostic::error(
            "E0510",
            format!(
                "{} `{}` is a folder, not a file",
                file.role.noun(),
                file.written
            ),
            file.label(),
        )
        .with_note(format!("resolved to `{}`", file.resolved)),
        FileProblem::NotAFolder => Diagnostic::error(
            "E0510",
            format!("image folder `{}` is a file, not a folder", file.written),
            file.label(),
        )
        .with_note(format!("resolved to `{}`", file.resolved))
        .with_hint("`folder(...)` takes a folder with one subfolder of images per class"),
        FileProblem::Unreadable { reason } => Diagnostic::error(
            "E0510",
            format!("cannot read {} `{}`", file.role.noun(), file.written),
            file.label(),
        )
        .with_note(format!("reading `{}` failed: {reason}", file.resolved)),
        FileProblem::CorruptGzip { after, reason } => Diagnostic::error(
            "E0510",
            format!(
                "{} `{}` is not a valid gzip file",
                file.role.noun(),
                file.written
            ),
            file.label(),
        )
        .with_note(format!(
            "decompression failed after {} bytes: {reason}",
            thousands(*after)
        ))
        .with_hint("the file is damaged: download or extract it again"),
        FileProblem::GzipEndsEarly { after } => Diagnostic::error(
            "E0510",
            format!("{} `{}` is cut off", file.role.noun(), file.written),
            file.label(),
        )
        .with_note(format!(
            "the gzip stream ends early, after {} decompressed bytes",
            thousands(*after)
        ))
        .with_hint("the file looks truncated: download or extract it again"),
        FileProblem::NotIdx {
            found,
            gzip,
            reason,
        } => not_idx_diagnostic(file, found, *gzip, reason),
        FileProblem::IdxSize {
            dims,
            element,
            gzip,
            header_len,
            actual,
            at_least,
            stream_ended,
        } => {
            let size = IdxSizeFact {
                dims,
                element: *element,
                gzip: *gzip,
                header_len: *header_len,
                actual: *actual,
                at_least: *at_least,
                stream_ended: *stream_ended,
            };
            idx_size_diagnostic(file, &size)
        }
        FileProblem::Csv(csv) => csv_diagnostic(file, csv),
        FileProblem::Folder(folder) => folder_diagnostic(file, folder),
        FileProblem::BadImage { image, problem } => bad_image_diagnostic(file, image, problem),
        FileProblem::OutOfMemory { bytes } => Diagnostic::error(
            "E0510",
            format!(
                "{} `{}` does not fit in memory",
                file.role.noun(),
                file.written
            ),
            file.label(),
        )
        .with_note(format!(
            "its examples need {} bytes, more than could be reserved",
            thousands(*bytes)
        ))
        .with_hint(match file.role {
            FileRole::Folder => "use a smaller `size:` or fewer images",
            _ => "use a smaller data set",
        }),
    }
}

fn bad_image_diagnostic(file: &FileFact, image: &str, problem: &ImageProblem) -> Diagnostic {
    let w = file.written;
    let path = format!("{}/{image}", file.resolved);
    let d = Diagnostic::error(
        "E0510",
        format!("cannot read image `{image}` of image folder `{w}`"),
        file.label(),
    );
    match problem {
        ImageProblem::NotAnImage { found } => {
            let mut d = d.with_note(format!(
                "`{path}` is neither a PNG nor a JPEG image (they start with `89 50 4e 47` and `ff d8 ff`)"
            ));
            d = d.with_note(match guess_format(found) {
                Some(format) => format!(
                    "the file starts with `{}`, which looks like {format}",
                    hex_bytes(found)
                ),
                None if found.is_empty() => "the file is empty".to_string(),
                None => format!("the file starts with `{}`", hex_bytes(found)),
            });
            d.with_hint("images are recognised by their first bytes, not by their names: convert the file to PNG or JPEG, or remove it")
        }
        ImageProblem::Decode { format, reason } => d
            .with_note(format!(
                "decoding `{path}` as {} failed: {reason}",
                format.name()
            ))
            .with_hint("the file is damaged: replace it or remove it from the folder"),
        ImageProblem::TooLarge {
            format,
            width,
            height,
            limit,
        } => d
            .with_note(format!(
                "`{path}` is a {} image of {} x {} pixels; decoded, it would take more than {} bytes",
                format.name(),
                thousands(*width),
                thousands(*height),
                thousands(*limit)
            ))
            .with_hint("shrink the image before training: it is resized to the folder's `size:` anyway"),
        ImageProblem::Unreadable { reason } => {
            d.with_note(format!("reading `{path}` failed: {reason}"))
        }
    }
}

fn not_found_diagnostic(file: &FileFact, missing: &MissingPath) -> Diagnostic {
    let what = if file.role == FileRole::Folder {
        "image folder"
    } else {
        "data file"
    };
    let mut d = Diagnostic::error(
        "E0501",
        format!("{what} not found: `{}`", file.written),
        Label::new(file.span, format!("{} named here", file.role.noun())),
    )
    .with_note(format!("looked for `{}`", file.resolved));
    if !missing.after.is_empty() {
        d = d.with_note(format!(
            "`{}` has no entry `{}`",
            missing.searched, missing.missing
        ));
    }
    d = d.with_hint(format!(
        "paths are relative to the folder of the .nnet file, `{}`",
        file.base_dir
    ));
    let close = suggestions(
        &missing.missing,
        missing.candidates.iter().map(String::as_str),
    );
    if let Some(best) = close.first() {
        d = d.with_hint(format!(
            "did you mean `{}{best}{}`?",
            missing.before, missing.after
        ));
    }
    d
}

fn hex_bytes(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(" ")
}

/// A guess at what a file is from its first bytes, for the note.
fn guess_format(bytes: &[u8]) -> Option<&'static str> {
    const KNOWN: [(&[u8], &str); 7] = [
        (b"PK", "a zip archive"),
        (&[0x89, b'P', b'N', b'G'], "a PNG image"),
        (&[0xFF, 0xD8, 0xFF], "a JPEG image"),
        (b"BZh", "a bzip2 file"),
        (&[0xFD, b'7', b'z', b'X'], "an xz file"),
        (&[0x1F, 0x8B], "a gzip file inside a gzip file"),
        (b"<", "an HTML or XML page"),
    ];
    if let Some((_, name)) = KNOWN.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return Some(name);
    }
    let printable =
        |b: &u8| b.is_ascii_graphic() || *b == b' ' || *b == b'\n' || *b == b'\r' || *b == b'\t';
    (!bytes.is_empty() && bytes.iter().all(printable)).then_some("text")
}

fn not_idx_diagnostic(
    file: &FileFact,
    found: &[u8],
    gzip: bool,
    reason: &NotIdxReason,
) -> Diagnostic {
    let mut d = Diagnostic::error("E0502", format!("{} `{}` is not an IDX file", file.role.noun(), file.written), file.label())
        .with_note(
            "an IDX file starts with two zero bytes, a type byte (08 u8, 09 i8, 0b i16, 0c i32, 0d f32, 0e f64), \
             the number of dimensions, then each dimension as a big-endian u32",
        );
    let where_ = if gzip {
        "after gzip decompression, the file starts with"
    } else {
        "the file starts with"
    };
    let found_note = match guess_format(found) {
        Some(format) if *reason == NotIdxReason::BadMagic => {
            format!("{where_} `{}`, which looks like {format}", hex_bytes(found))
        }
        _ if found.is_empty() => {
            if gzip {
                "after gzip decompression, the file is empty".to_string()
            } else {
                "the file is empty".to_string()
            }
        }
        _ => format!("{where_} `{}`", hex_bytes(found)),
    };
    d = d.with_note(found_note);
    match reason {
        NotIdxReason::BadMagic => d.with_note("expected `00 00` as the first two bytes"),
        NotIdxReason::UnknownType(t) => d.with_note(format!("type byte `{t:02x}` is not an IDX type")),
        NotIdxReason::NoDimensions => d.with_note("the header declares 0 dimensions; an IDX file has at least one"),
        NotIdxReason::EndsInHeader { needed, available } => d.with_note(format!(
            "the header needs {needed} bytes (4 + 4 per dimension) but the file has only {available}"
        )),
    }
}

/// The numbers of [`FileProblem::IdxSize`].
struct IdxSizeFact<'a> {
    dims: &'a [u32],
    element: IdxType,
    gzip: bool,
    header_len: u64,
    actual: u64,
    at_least: bool,
    stream_ended: bool,
}

fn idx_size_diagnostic(file: &FileFact, size: &IdxSizeFact) -> Diagnostic {
    let values = size
        .dims
        .iter()
        .try_fold(1u128, |acc, d| acc.checked_mul(u128::from(*d)));
    let bytes = values.and_then(|v| v.checked_mul(u128::from(size.element.size())));
    let factors: Vec<String> = size.dims.iter().map(u32::to_string).collect();
    let formula = factors.join(" x ");
    let promised = match bytes {
        Some(b) if size.element.size() == 1 => format!(
            "{formula} = {} bytes ({})",
            thousands_u128(b),
            size.element.name()
        ),
        Some(b) => format!(
            "{formula} values x {} bytes ({}) = {} bytes",
            size.element.size(),
            size.element.name(),
            thousands_u128(b)
        ),
        None => format!("{formula} values, more bytes than any file holds"),
    };
    let shorter = bytes.is_some_and(|b| u128::from(size.actual) < b) && !size.at_least;
    let message = if shorter {
        format!(
            "{} `{}` is shorter than its IDX header says",
            file.role.noun(),
            file.written
        )
    } else {
        format!(
            "{} `{}` is longer than its IDX header says",
            file.role.noun(),
            file.written
        )
    };
    let decompressed = if size.gzip { " once decompressed" } else { "" };
    let at_least = if size.at_least { "at least " } else { "" };
    let mut d = Diagnostic::error("E0503", message, file.label())
        .with_note(format!(
            "the header says {promised} after the {}-byte header",
            size.header_len
        ))
        .with_note(format!(
            "the file has {at_least}{} bytes after the header{decompressed}",
            thousands(size.actual)
        ));
    if size.stream_ended {
        d = d.with_note("the gzip stream ends early: the file was cut off");
    }
    if shorter {
        d.with_hint("the file looks truncated: download or extract it again")
    } else {
        d.with_hint("the file holds more data than its header declares: check that it is the file you meant")
    }
}

fn thousands_u128(n: u128) -> String {
    match u64::try_from(n) {
        Ok(small) => thousands(small),
        Err(_) => n.to_string(),
    }
}

fn column_text(column: usize, name: &Option<String>) -> String {
    match name {
        Some(name) => format!("column {column} (`{name}`)"),
        None => format!("column {column}"),
    }
}

fn csv_diagnostic(file: &FileFact, problem: &CsvProblem) -> Diagnostic {
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

fn folder_diagnostic(file: &FileFact, problem: &FolderProblem) -> Diagnostic {
    let w = file.written;
    match problem {
        FolderProblem::NoClassFolders { files } => {
            let mut d = Diagnostic::error("E0508", format!("image folder `{w}` has no class subfolders"), file.label())
                .with_note("`folder(...)` expects one subfolder per class, each holding .png, .jpg or .jpeg images");
            if *files > 0 {
                d = d.with_note(format!(
                    "found {} file{} directly in the folder",
                    thousands(*files),
                    plural(*files)
                ));
                d = d.with_hint("move the images into one subfolder per class; the subfolder names are the classes");
            }
            d
        }
        FolderProblem::EmptyClass { class, other_files } => {
            let mut d = Diagnostic::error(
                "E0508",
                format!("class folder `{w}/{class}` holds no images"),
                file.label(),
            )
            .with_note("only .png, .jpg and .jpeg files are read as images");
            if *other_files > 0 {
                d = d.with_note(format!(
                    "it holds {} other file{}",
                    thousands(*other_files),
                    plural(*other_files)
                ));
            }
            d.with_hint("every class needs at least one image; remove the folder if the class is not meant to be there")
        }
    }
}

fn slice_text(start: Option<usize>, end: Option<usize>) -> String {
    let s = start.map(|s| s.to_string()).unwrap_or_default();
    let e = end.map(|e| e.to_string()).unwrap_or_default();
    format!("[{s}..{e}]")
}

fn split_diagnostic(
    span: Span,
    source_span: Span,
    split: SplitKind,
    start: Option<usize>,
    end: Option<usize>,
    available: u64,
) -> Diagnostic {
    let name = split.name();
    let beyond_end = end.is_some_and(|e| e as u64 > available);
    let message = match (beyond_end, end, start) {
        (true, Some(e), _) => format!(
            "{name} split ends at example {} but its source has {} examples",
            thousands(e as u64),
            thousands(available)
        ),
        (_, _, s) => format!(
            "{name} split starts at example {} but its source has {} examples",
            thousands(s.unwrap_or(0) as u64),
            thousands(available)
        ),
    };
    let mut d = Diagnostic::error(
        "E0504",
        message,
        Label::new(span, format!("this split takes {}", slice_text(start, end))),
    )
    .with_secondary(
        source_span,
        format!("this source has {} examples", thousands(available)),
    )
    .with_note(format!(
        "the examples are numbered 0..{available} (the end is exclusive)"
    ));
    if beyond_end {
        let fixed_start = start.filter(|s| (*s as u64) < available);
        d = d.with_hint(format!(
            "end the split at {available} or leave the end out: `{}`",
            slice_text(fixed_start, None)
        ));
    } else {
        d = d.with_hint("the split would be empty: start it before the end of the source");
    }
    d
}

fn classes_diagnostic(
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

fn label_not_class_diagnostic(
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

fn labels_not_scalar_diagnostic(
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
    }
}

fn input_diagnostic(
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
    }
    d
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
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
