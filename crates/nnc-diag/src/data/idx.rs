//! IDX files (E0502, E0503, E0506): files that are not IDX, whose length
//! is not what their header says, and images and labels files that hold
//! different numbers of examples.

use super::file::FileFact;
use super::words::{guess_format, hex_bytes, thousands_u128};
use crate::{thousands, Diagnostic, Label, Span};
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

pub(super) fn not_idx_diagnostic(
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

/// The numbers of [`FileProblem::IdxSize`](super::FileProblem::IdxSize).
pub(super) struct IdxSizeFact<'a> {
    pub(super) dims: &'a [u32],
    pub(super) element: IdxType,
    pub(super) gzip: bool,
    pub(super) header_len: u64,
    pub(super) actual: u64,
    pub(super) at_least: bool,
    pub(super) stream_ended: bool,
}

pub(super) fn idx_size_diagnostic(file: &FileFact, size: &IdxSizeFact) -> Diagnostic {
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

pub(super) fn count_mismatch_diagnostic(
    span: Span,
    images_path: &str,
    labels_path: &str,
    images: u64,
    labels: u64,
) -> Diagnostic {
    Diagnostic::error(
        "E0506",
        format!(
            "images and labels differ in count: {} images but {} labels",
            thousands(images),
            thousands(labels)
        ),
        Label::new(span, "this source pairs the two files"),
    )
    .with_note(format!(
        "`{images_path}` holds {} images",
        thousands(images)
    ))
    .with_note(format!(
        "`{labels_path}` holds {} labels",
        thousands(labels)
    ))
    .with_hint("each image needs exactly one label: check that the two files belong together")
}
