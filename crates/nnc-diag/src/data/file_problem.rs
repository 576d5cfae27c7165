//! What is wrong with one data file or folder on its own (E0501-E0503,
//! E0507, E0508, E0510), and its wording: the generic problems here, the
//! format-specific ones in `idx`, `csv` and `folder`.

use super::csv::{csv_diagnostic, CsvProblem};
use super::file::{not_found_diagnostic, FileFact, FileRole, MissingPath};
use super::folder::{bad_image_diagnostic, folder_diagnostic, FolderProblem, ImageProblem};
use super::idx::{idx_size_diagnostic, not_idx_diagnostic, IdxSizeFact, IdxType, NotIdxReason};
use crate::{thousands, Diagnostic};
use serde::Serialize;

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

pub(super) fn file_diagnostic(file: &FileFact, problem: &FileProblem) -> Diagnostic {
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
