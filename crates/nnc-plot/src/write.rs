//! Atomic file writes: the bytes go to a temporary file in the target's
//! folder, are synced to disk, and the file is renamed over the target, so
//! the target is always either the old plot or the new one, never a part.

use crate::PlotError;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically. On failure the temporary file is
/// removed and the error names `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    let tmp = temporary_path(path);
    let written = write_synced(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    written.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        PlotError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// `DIR/.NAME.PID.tmp`: hidden, in the same folder (a rename across file
/// systems would not be atomic), and distinct per process.
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plot".to_string());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("nnc-plot-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.svg");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_path() {
        let path = Path::new("/nonexistent-nnc-folder/a.png");
        let message = write_atomically(path, b"x").unwrap_err().to_string();
        assert!(
            message.starts_with("cannot write the plot `/nonexistent-nnc-folder/a.png`"),
            "{message}"
        );
    }
}
