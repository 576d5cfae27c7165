//! Atomic file replacement: a file is written under a temporary name in its
//! target's directory, flushed to the disk, renamed over the target, and the
//! directory is flushed too. A reader therefore sees the old file or the new
//! one, whole, never a mix; a crash or a full disk leaves the old file as it
//! was (and at worst a temporary file, which is never taken for a
//! checkpoint).

use crate::CkptError;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The temporary name `target` is written under before the rename: hidden,
/// in the same directory (a rename is only atomic within one file system),
/// and unique to this process.
pub(crate) fn temporary_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Whether `name` is a temporary file of [`write_atomic`].
pub(crate) fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Replaces `target` with `bytes`, atomically.
pub(crate) fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), CkptError> {
    write_atomic_with(target, |file| file.write_all(bytes))
}

/// Replaces `target` with what `write` puts into the temporary file. When
/// anything fails, the temporary file is removed and `target` is untouched.
pub(crate) fn write_atomic_with(
    target: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), CkptError> {
    let temporary = temporary_path(target);
    let result = (|| {
        let mut file = File::create(&temporary)
            .map_err(|e| CkptError::io(target, "create a temporary file for", e))?;
        write(&mut file).map_err(|e| CkptError::io(target, "write", e))?;
        file.sync_all()
            .map_err(|e| CkptError::io(target, "flush to disk", e))?;
        drop(file);
        fs::rename(&temporary, target).map_err(|e| CkptError::io(target, "replace", e))
    })();
    if result.is_err() {
        // The temporary file may or may not exist; the first error is the
        // one worth reporting.
        let _ = fs::remove_file(&temporary);
        return result;
    }
    sync_directory(target)
}

/// Flushes the directory holding `path`, so that a rename in it survives a
/// power cut. Only Unix can open a directory for this; elsewhere the rename
/// is as durable as the file system makes it.
fn sync_directory(path: &Path) -> Result<(), CkptError> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| CkptError::io(dir, "flush the directory", e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("nnc-ckpt-atomic-{}", std::process::id()))
            .join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_full_disk_leaves_the_old_file_and_no_temporary() {
        let dir = scratch("full");
        let target = dir.join("c.safetensors");
        write_atomic(&target, b"old contents").unwrap();
        // The disk fills up halfway through the new contents.
        let error = write_atomic_with(&target, |file| {
            file.write_all(b"new con")?;
            Err(io::Error::from_raw_os_error(28))
        })
        .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("c.safetensors"), "{message}");
        assert!(message.contains("the disk is full"), "{message}");
        assert_eq!(fs::read(&target).unwrap(), b"old contents");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn a_write_replaces_the_whole_file() {
        let dir = scratch("replace");
        let target = dir.join("c.json");
        write_atomic(&target, b"a much longer first version").unwrap();
        write_atomic(&target, b"short").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"short");
        assert!(!temporary_path(&target).exists());
        assert!(is_temporary(
            &temporary_path(&target)
                .file_name()
                .unwrap()
                .to_string_lossy()
        ));
    }
}
