//! Image folders: one subfolder per class, each holding `.png`, `.jpg` or
//! `.jpeg` images. Classes are the subfolder names sorted (by bytes), so the
//! class index of a folder is its position in that order.
//!
//! Inspection reads directory listings only; images are not opened. Entries
//! whose names start with `.` are ignored, as are files directly in the
//! folder and anything but images inside a class folder.

use crate::open::require_folder;
use nnc_diag::data::{FileProblem, FolderProblem};
use std::fs;
use std::path::{Path, PathBuf};

/// The image file extensions read (compared without regard to case).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// One class of an image folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassFolder {
    pub name: String,
    /// Image files in it.
    pub images: u64,
}

/// What an inspection of an image folder found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderSummary {
    /// The classes, sorted by name; the index is the class label.
    pub classes: Vec<ClassFolder>,
}

impl FolderSummary {
    /// All images of all classes.
    pub fn examples(&self) -> u64 {
        self.classes.iter().map(|c| c.images).sum()
    }

    pub fn class_names(&self) -> Vec<String> {
        self.classes.iter().map(|c| c.name.clone()).collect()
    }
}

/// Whether a file name has an image extension.
pub fn is_image_name(name: &str) -> bool {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext))
}

/// Lists an image folder: its classes and how many images each holds.
pub fn inspect_folder(path: &Path) -> Result<FolderSummary, FileProblem> {
    require_folder(path)?;
    let mut classes = Vec::new();
    let mut stray_files = 0u64;
    visit(path, |name, entry| match kind(entry) {
        Kind::Folder => classes.push(name),
        _ => stray_files += 1,
    })?;
    if classes.is_empty() {
        return Err(FileProblem::Folder(FolderProblem::NoClassFolders {
            files: stray_files,
        }));
    }
    classes.sort();
    let mut summary = FolderSummary {
        classes: Vec::with_capacity(classes.len()),
    };
    for name in classes {
        let (images, other_files) = count_images(&path.join(&name))?;
        if images == 0 {
            return Err(FileProblem::Folder(FolderProblem::EmptyClass {
                class: name,
                other_files,
            }));
        }
        summary.classes.push(ClassFolder { name, images });
    }
    Ok(summary)
}

/// The image files of one class folder, sorted by name.
pub fn class_images(class_dir: &Path) -> Result<Vec<PathBuf>, FileProblem> {
    let mut images: Vec<(String, PathBuf)> = Vec::new();
    visit(class_dir, |name, entry| {
        if is_image_name(&name) && kind(entry) == Kind::File {
            images.push((name, entry.path()));
        }
    })?;
    images.sort();
    Ok(images.into_iter().map(|(_, path)| path).collect())
}

/// Counts the image files and the other entries of a class folder.
fn count_images(class_dir: &Path) -> Result<(u64, u64), FileProblem> {
    let mut images = 0;
    let mut others = 0;
    visit(class_dir, |name, entry| {
        if is_image_name(&name) && kind(entry) == Kind::File {
            images += 1;
        } else {
            others += 1;
        }
    })?;
    Ok((images, others))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Folder,
    Other,
}

/// What an entry is, following symbolic links.
fn kind(entry: &fs::DirEntry) -> Kind {
    let file_type = match entry.file_type() {
        Ok(t) if t.is_symlink() => fs::metadata(entry.path()).map(|m| m.file_type()),
        other => other,
    };
    match file_type {
        Ok(t) if t.is_dir() => Kind::Folder,
        Ok(t) if t.is_file() => Kind::File,
        _ => Kind::Other,
    }
}

/// Calls `f` with every entry of a folder whose name does not start with `.`.
fn visit(folder: &Path, mut f: impl FnMut(String, &fs::DirEntry)) -> Result<(), FileProblem> {
    let unreadable = |e: std::io::Error| FileProblem::Unreadable {
        reason: e.to_string(),
    };
    for entry in fs::read_dir(folder).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') {
            f(name, &entry);
        }
    }
    Ok(())
}
