//! Why a checkpoint could not be written, found or read. Every variant
//! names the file it is about, and the wording says what to do.

use std::io;
use std::path::PathBuf;

/// A failed checkpoint operation.
#[derive(Debug)]
pub enum CkptError {
    /// The file system refused: a full disk, a directory that cannot be
    /// written, a file that cannot be read.
    Io {
        path: PathBuf,
        /// What was being done, as a verb phrase: `write`, `read`, `create
        /// the directory`.
        action: &'static str,
        error: io::Error,
    },
    /// The path holds no checkpoint: no such file, a weights file without
    /// its sidecar, an empty directory.
    Missing { path: PathBuf, problem: String },
    /// The file exists but its contents are not a valid checkpoint: a bad
    /// header, a truncated file, a wrong dtype, a missing tensor, bad JSON.
    Corrupt { path: PathBuf, problem: String },
    /// The checkpoint is valid but does not fit the model it is used with:
    /// a missing or extra tensor, a different shape.
    Mismatch { path: PathBuf, problem: String },
    /// The caller asked for something that cannot be saved (two tensors
    /// with one name, values that do not fit their shape).
    Invalid { problem: String },
}

impl CkptError {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, error: io::Error) -> Self {
        CkptError::Io {
            path: path.into(),
            action,
            error,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        CkptError::Corrupt {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn missing(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        CkptError::Missing {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn mismatch(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        CkptError::Mismatch {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// The file the error is about, when there is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            CkptError::Io { path, .. }
            | CkptError::Missing { path, .. }
            | CkptError::Corrupt { path, .. }
            | CkptError::Mismatch { path, .. } => Some(path),
            CkptError::Invalid { .. } => None,
        }
    }
}

/// A hint for the common file-system failures.
fn io_hint(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::StorageFull => {
            "; the disk is full: free some space or choose another directory"
        }
        io::ErrorKind::PermissionDenied => {
            "; check the permissions of the directory, or choose another one"
        }
        io::ErrorKind::ReadOnlyFilesystem => {
            "; the file system is read-only: choose another directory"
        }
        io::ErrorKind::NotADirectory => "; a part of the path is a file, not a directory",
        _ => "",
    }
}

impl std::fmt::Display for CkptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CkptError::Io {
                path,
                action,
                error,
            } => write!(
                f,
                "cannot {action} `{}`: {error}{}",
                path.display(),
                io_hint(error)
            ),
            CkptError::Missing { path, problem } => {
                write!(f, "no checkpoint at `{}`: {problem}", path.display())
            }
            CkptError::Corrupt { path, problem } => write!(
                f,
                "`{}` is not a valid checkpoint: {problem}; it may be truncated or damaged, \
                 use an earlier checkpoint",
                path.display()
            ),
            CkptError::Mismatch { path, problem } => write!(
                f,
                "checkpoint `{}` does not fit the model: {problem}",
                path.display()
            ),
            CkptError::Invalid { problem } => write!(f, "cannot save a checkpoint: {problem}"),
        }
    }
}

impl std::error::Error for CkptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CkptError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}
