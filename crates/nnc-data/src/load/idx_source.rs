//! Reading an `idx(images, labels: ...)` source whole: `u8` images kept as
//! bytes (MNIST's 60,000 x 784 pixels take 47 MB), other element types as
//! `f32`; labels as class indices or values.

use super::dataset::{Examples, Inputs, LabelValues};
use super::{class_index, LabelMode};
use crate::idx::{open_idx, IdxHeader, IdxReader, LabelStats};
use crate::inspect::{Inspector, LabelFacts, SourceFacts};
use crate::open::resolve;
use nnc_diag::data::{DataError, ExampleShape, FileProblem, FileRole, IdxType, LabelAt};
use nnc_diag::Span;
use std::path::Path;

/// Values read per call while filling a buffer.
const READ_CHUNK: usize = 1 << 20;

/// At most this many values are reserved before any is read (a header
/// promising more grows the buffer as the values arrive, so a lying header
/// cannot reserve much more memory than the file holds).
const INITIAL_CAPACITY: usize = 1 << 26;

/// What reading the images file gave.
struct ImagesRead {
    header: Option<IdxHeader>,
    /// The pixels, when the whole file was read and its size is right.
    inputs: Option<Inputs>,
    problem: Option<FileProblem>,
}

/// What reading the labels file gave.
struct LabelsRead {
    header: IdxHeader,
    stats: LabelStats,
    values: LabelValues,
}

/// Reads both files of an IDX source; problems go to the inspector.
pub(super) fn read(
    inspector: &mut Inspector,
    base_dir: &Path,
    images: &str,
    labels: Option<&str>,
    span: Span,
    mode: LabelMode,
) -> (SourceFacts, Option<Examples>) {
    let mut images_read = read_images(&resolve(base_dir, images));
    if let Some(problem) = images_read.problem.take() {
        inspector.file_error(span, FileRole::Images, images, problem);
    }
    let Some(labels) = labels else {
        return unlabelled(images_read);
    };
    let labels_read = match read_labels(&resolve(base_dir, labels), mode) {
        Ok(read) => Some(read),
        Err(problem) => {
            inspector.file_error(span, FileRole::Labels, labels, problem);
            None
        }
    };
    let counts_match = match (&images_read.header, &labels_read) {
        (Some(images_header), Some(labels_file)) => {
            let same = images_header.count() == labels_file.header.count();
            if !same {
                inspector.report(DataError::CountMismatch {
                    span,
                    images_path: images.to_string(),
                    labels_path: labels.to_string(),
                    images: images_header.count(),
                    labels: labels_file.header.count(),
                });
            }
            same
        }
        _ => false,
    };
    let facts = facts(&images_read.header, labels_read.as_ref(), labels);
    let examples = match (images_read, labels_read) {
        (
            ImagesRead {
                header: Some(header),
                inputs: Some(inputs),
                ..
            },
            Some(labels_file),
        ) if counts_match => Some(examples(&header, inputs, labels_file.values)),
        _ => None,
    };
    (facts, examples)
}

/// Images without a labels file (`labels none`): every example's label is
/// a zero no graph reads.
fn unlabelled(images_read: ImagesRead) -> (SourceFacts, Option<Examples>) {
    let facts = SourceFacts {
        examples: images_read.header.as_ref().map(IdxHeader::count),
        shape: images_read
            .header
            .as_ref()
            .map(|h| ExampleShape::Idx(h.example_shape())),
        labels: None,
        labels_written: String::new(),
    };
    let examples = match images_read {
        ImagesRead {
            header: Some(header),
            inputs: Some(inputs),
            ..
        } => {
            let count = usize::try_from(header.count()).unwrap_or(0);
            let zeros = LabelValues::Values {
                values: vec![0.0; count],
                width: 1,
            };
            Some(examples(&header, inputs, zeros))
        }
        _ => None,
    };
    (facts, examples)
}

/// The examples of an images file read whole, with their labels; rows x
/// cols images are `[1, rows, cols]` for augmentation.
fn examples(header: &IdxHeader, inputs: Inputs, labels: LabelValues) -> Examples {
    Examples {
        inputs,
        input_len: usize::try_from(header.example_len().unwrap_or(0)).unwrap_or(0),
        count: usize::try_from(header.count()).unwrap_or(0),
        labels,
        class_names: None,
        image: match header.example_dims() {
            [rows, cols] => Some([1, *rows as usize, *cols as usize]),
            _ => None,
        },
    }
}

fn facts(
    images_header: &Option<IdxHeader>,
    labels_read: Option<&LabelsRead>,
    labels_written: &str,
) -> SourceFacts {
    SourceFacts {
        examples: images_header.as_ref().map(IdxHeader::count),
        shape: images_header
            .as_ref()
            .map(|h| ExampleShape::Idx(h.example_shape())),
        labels: labels_read.map(|read| LabelFacts::Values {
            stats: read.stats.clone(),
            non_class_at: read.stats.first_non_class.map(|(i, _)| LabelAt::Example(i)),
            dims: read.header.dims.clone(),
            images_dims: images_header.as_ref().map(|h| h.dims.clone()),
        }),
        labels_written: labels_written.to_string(),
    }
}

/// Reads an images file whole. On failure, the header is kept with the
/// problem when it could be read (a file of the wrong length still says
/// how many examples it was meant to hold).
fn read_images(path: &Path) -> ImagesRead {
    let mut reader = match open_idx(path) {
        Ok(reader) => reader,
        Err(problem) => {
            return ImagesRead {
                header: None,
                inputs: None,
                problem: Some(problem),
            }
        }
    };
    let header = reader.header().clone();
    let inputs = read_pixels(&mut reader);
    let (inputs, problem) = match inputs {
        Ok(inputs) => (Some(inputs), None),
        Err(problem) => (None, Some(problem)),
    };
    ImagesRead {
        header: Some(header),
        inputs,
        problem,
    }
}

/// Every value of an images file: bytes for `u8` files, `f32` otherwise.
fn read_pixels(reader: &mut IdxReader) -> Result<Inputs, FileProblem> {
    let header = reader.header().clone();
    let Some(total) = header.value_count().and_then(|n| usize::try_from(n).ok()) else {
        return Err(reader.size_problem());
    };
    let inputs = if header.element == IdxType::U8 {
        Inputs::Bytes(read_all(total, |buf| reader.read_bytes(buf))?)
    } else {
        Inputs::Floats(read_all(total, |buf| reader.read_f32(buf))?)
    };
    reader.expect_end()?;
    Ok(inputs)
}

/// Reads a labels file whole, keeping class indices or values.
fn read_labels(path: &Path, mode: LabelMode) -> Result<LabelsRead, FileProblem> {
    let mut reader = open_idx(path)?;
    let header = reader.header().clone();
    let Some(total) = header.value_count().and_then(|n| usize::try_from(n).ok()) else {
        return Err(reader.size_problem());
    };
    let width = header
        .example_dims()
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d as usize))
        .unwrap_or(0);
    let mut stats = LabelStats::new();
    let values = match mode {
        LabelMode::Classes => {
            let mut classes = Vec::with_capacity(total.min(INITIAL_CAPACITY));
            for_each_label(&mut reader, total, |v| {
                stats.add(v);
                classes.push(class_index(v));
            })?;
            LabelValues::Classes(classes)
        }
        LabelMode::Values => {
            let mut values = Vec::with_capacity(total.min(INITIAL_CAPACITY));
            for_each_label(&mut reader, total, |v| {
                stats.add(v);
                values.push(v as f32);
            })?;
            LabelValues::Values { values, width }
        }
    };
    reader.expect_end()?;
    Ok(LabelsRead {
        header,
        stats,
        values,
    })
}

/// Hands each of `total` values to `sink`, in order.
fn for_each_label(
    reader: &mut IdxReader,
    total: usize,
    mut sink: impl FnMut(f64),
) -> Result<(), FileProblem> {
    let mut buf = vec![0f64; 8192];
    let mut left = total;
    while left > 0 {
        let n = left.min(buf.len());
        let chunk = buf.get_mut(..n).unwrap_or(&mut []);
        reader.read_f64(chunk)?;
        for value in chunk.iter() {
            sink(*value);
        }
        left -= n;
    }
    Ok(())
}

/// Reads `total` values through `read`, growing the buffer as they come.
fn read_all<T: Copy + Default>(
    total: usize,
    mut read: impl FnMut(&mut [T]) -> Result<(), FileProblem>,
) -> Result<Vec<T>, FileProblem> {
    let mut out: Vec<T> = Vec::with_capacity(total.min(INITIAL_CAPACITY));
    while out.len() < total {
        let start = out.len();
        let n = (total - start).min(READ_CHUNK);
        out.resize(start + n, T::default());
        read(out.get_mut(start..).unwrap_or(&mut []))?;
    }
    Ok(out)
}
