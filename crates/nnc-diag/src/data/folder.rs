//! Image folders (E0508, and E0510 for one image): folders without class
//! subfolders, classes without images, images that cannot be read.

use super::file::FileFact;
use super::words::{guess_format, hex_bytes, plural};
use crate::{thousands, Diagnostic};
use serde::Serialize;

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

pub(super) fn folder_diagnostic(file: &FileFact, problem: &FolderProblem) -> Diagnostic {
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

pub(super) fn bad_image_diagnostic(
    file: &FileFact,
    image: &str,
    problem: &ImageProblem,
) -> Diagnostic {
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
