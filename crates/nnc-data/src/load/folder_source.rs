//! Reading a `folder(path, size: [c, h, w])` source whole: every image
//! decoded, converted to `c` channels, resized to `h x w` (see
//! [`crate::resize`]) and kept as bytes in `[c, h, w]` order. The class of
//! an image is the position of its subfolder in sorted order; examples are
//! ordered by class, then by file name.
//!
//! Images are decoded on several threads; each image has a fixed place in
//! the result, so the data is the same whatever the threads' timing.

use super::dataset::{Examples, Inputs, LabelValues};
use super::LabelMode;
use crate::folder::{class_images, inspect_folder, FolderSummary};
use crate::image::read_image;
use crate::inspect::{unread, Inspector, LabelFacts, SourceFacts};
use crate::open::resolve;
use crate::resize::image_to_planes;
use nnc_diag::data::{ExampleShape, FileProblem, FileRole, ImageProblem};
use nnc_diag::Span;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

/// At most this many undecodable images are reported per folder.
const MAX_BAD_IMAGES: usize = 5;

/// At most this many decoding threads.
const MAX_THREADS: usize = 16;

/// One image file and its class.
struct ImageFile {
    path: PathBuf,
    /// The path inside the source folder, `class/name`.
    shown: String,
    class: u32,
}

/// Reads an image folder; problems go to the inspector.
pub(super) fn read(
    inspector: &mut Inspector,
    base_dir: &Path,
    path: &str,
    size: &[usize],
    span: Span,
    mode: LabelMode,
) -> (SourceFacts, Option<Examples>) {
    let folder = resolve(base_dir, path);
    let mut fail = |problem| {
        inspector.file_error(span, FileRole::Folder, path, problem);
        (unread(path), None)
    };
    let summary = match inspect_folder(&folder) {
        Ok(summary) => summary,
        Err(problem) => return fail(problem),
    };
    let files = match list_images(&folder, &summary) {
        Ok(files) => files,
        Err(problem) => return fail(problem),
    };
    let facts = SourceFacts {
        examples: Some(files.len() as u64),
        shape: Some(ExampleShape::Folder(size.to_vec())),
        labels: Some(LabelFacts::Folders(summary.class_names())),
        labels_written: path.to_string(),
    };
    // The checker guarantees `size: [c, h, w]`; anything else is read as
    // one grey row.
    let (channels, height, width) = match *size {
        [c, h, w] => (c, h, w),
        _ => (1, 1, size.iter().product()),
    };
    let per_image = channels * height * width;
    let Some(total) = per_image.checked_mul(files.len()) else {
        return fail(FileProblem::OutOfMemory { bytes: u64::MAX });
    };
    let mut pixels: Vec<u8> = Vec::new();
    if pixels.try_reserve_exact(total).is_err() {
        return fail(FileProblem::OutOfMemory {
            bytes: total as u64,
        });
    }
    pixels.resize(total, 0);
    let bad = decode_all(&files, [channels, height, width], &mut pixels);
    if !bad.is_empty() {
        for (index, problem) in bad.into_iter().take(MAX_BAD_IMAGES) {
            let image = files
                .get(index)
                .map_or_else(String::new, |f| f.shown.clone());
            inspector.file_error(
                span,
                FileRole::Folder,
                path,
                FileProblem::BadImage { image, problem },
            );
        }
        return (facts, None);
    }
    let labels = match mode {
        LabelMode::Classes => LabelValues::Classes(files.iter().map(|f| f.class).collect()),
        LabelMode::Values => LabelValues::Values {
            values: files.iter().map(|f| f.class as f32).collect(),
            width: 1,
        },
    };
    let examples = Examples {
        inputs: Inputs::Bytes(pixels),
        input_len: per_image,
        count: files.len(),
        labels,
        class_names: Some(summary.class_names()),
        image: Some([channels, height, width]),
    };
    (facts, Some(examples))
}

/// Every image of every class, class by class, each class sorted by name.
fn list_images(folder: &Path, summary: &FolderSummary) -> Result<Vec<ImageFile>, FileProblem> {
    let mut files = Vec::new();
    for (class, entry) in summary.classes.iter().enumerate() {
        for path in class_images(&folder.join(&entry.name))? {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push(ImageFile {
                shown: format!("{}/{name}", entry.name),
                path,
                class: u32::try_from(class).unwrap_or(u32::MAX),
            });
        }
    }
    Ok(files)
}

/// Decodes every image into its place in `out` (`[c, h, w]` bytes each).
/// Returns the images that could not be decoded, in file order.
fn decode_all(
    files: &[ImageFile],
    [channels, height, width]: [usize; 3],
    out: &mut [u8],
) -> Vec<(usize, ImageProblem)> {
    let per_image = channels * height * width;
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel::<(usize, Result<Vec<u8>, ImageProblem>)>();
    let mut bad = Vec::new();
    thread::scope(|scope| {
        for _ in 0..threads {
            let sender = sender.clone();
            let next = &next;
            scope.spawn(move || loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(index) else {
                    break;
                };
                let result = read_image(&file.path).map(|image| {
                    let mut planes = vec![0u8; per_image];
                    image_to_planes(&image, channels, height, width, &mut planes);
                    planes
                });
                if sender.send((index, result)).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        for (index, result) in receiver {
            match result {
                Ok(planes) => {
                    let place = index * per_image..(index + 1) * per_image;
                    if let Some(dst) = out.get_mut(place) {
                        dst.copy_from_slice(&planes);
                    }
                }
                Err(problem) => bad.push((index, problem)),
            }
        }
    });
    bad.sort_by_key(|(index, _)| *index);
    bad
}
