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

/// The process id in a temporary file's name, if it has one.
fn writer_of(name: &str) -> Option<u32> {
    name.rsplit_once(".tmp-")?.1.parse().ok()
}

/// Whether process `pid` still runs: `None` where this cannot be told
/// (no `/proc`).
fn process_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

/// Removes the temporary files of [`write_atomic`] in `dir` whose writing
/// process is gone (it was killed while saving), and returns their paths.
/// Call it before this process writes into `dir`: a temporary file named
/// with this process's own id is then a dead process's whose id was
/// reused. Where it cannot be told whether a process runs (no `/proc`),
/// nothing is removed.
pub fn remove_stale_temporaries(dir: &Path) -> Result<Vec<PathBuf>, CkptError> {
    let reader = fs::read_dir(dir).map_err(|e| CkptError::io(dir, "list", e))?;
    let own = std::process::id();
    let mut removed = Vec::new();
    for item in reader {
        let item = item.map_err(|e| CkptError::io(dir, "list", e))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if !is_temporary(&name) || !item.path().is_file() {
            continue;
        }
        let Some(pid) = writer_of(&name) else {
            continue;
        };
        let stale = pid == own || process_alive(pid) == Some(false);
        if stale {
            let path = item.path();
            fs::remove_file(&path).map_err(|e| CkptError::io(&path, "delete", e))?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
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
    fn stale_temporaries_are_removed_and_live_ones_kept() {
        let dir = scratch("stale");
        // A process id no process has (ids stay below 2^22 on Linux).
        let dead = dir.join(".epoch-0003.safetensors.tmp-4999999");
        let own = dir.join(format!(".epoch-0004.json.tmp-{}", std::process::id()));
        // Process 1 (init) always runs.
        let live = dir.join(".epoch-0005.json.tmp-1");
        let other = dir.join("epoch-0002.json");
        for path in [&dead, &own, &live, &other] {
            fs::write(path, b"x").unwrap();
        }
        let removed = remove_stale_temporaries(&dir).unwrap();
        if process_alive(1).is_some() {
            let mut expected = vec![dead.clone(), own.clone()];
            expected.sort();
            assert_eq!(removed, expected);
            assert!(!dead.exists() && !own.exists());
            assert!(live.exists(), "a running writer's file stays");
        }
        assert!(other.exists(), "a checkpoint file is never touched");
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
