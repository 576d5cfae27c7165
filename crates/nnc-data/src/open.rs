//! Opening data files: gzip detected by its magic bytes, I/O errors turned
//! into [`FileProblem`] facts, and missing paths described so that the
//! diagnostic can suggest a close name.

use flate2::read::MultiGzDecoder;
use nnc_diag::data::{FileProblem, MissingPath};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Component, Path, PathBuf};

/// The two bytes every gzip stream starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// Read buffer size for data files.
const BUFFER: usize = 64 * 1024;

/// At most this many names of a folder are kept for "did you mean".
const MAX_CANDIDATES: usize = 4096;

/// An opened data file: a buffered stream of its contents, decompressed
/// when the file is gzip.
pub struct DataFile {
    reader: Box<dyn BufRead>,
    gzip: bool,
    file_len: u64,
}

impl DataFile {
    /// Whether the file is gzip-compressed (by its first two bytes).
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// The length of the file on disk (compressed length for gzip).
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The (decompressed) contents.
    pub fn reader(&mut self) -> &mut dyn BufRead {
        &mut *self.reader
    }

    /// Turns a read error on this stream into a fact. `after` is the
    /// number of (decompressed) bytes read successfully before the error.
    pub fn read_problem(&self, err: &io::Error, after: u64) -> ReadFailure {
        read_failure(err, self.gzip, after)
    }
}

/// How reading a stream failed.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadFailure {
    /// The gzip stream ends before its end marker: the file is cut off.
    GzipEndsEarly,
    /// Anything else, as a fact.
    Problem(FileProblem),
}

fn read_failure(err: &io::Error, gzip: bool, after: u64) -> ReadFailure {
    if !gzip {
        return ReadFailure::Problem(FileProblem::Unreadable {
            reason: err.to_string(),
        });
    }
    match err.kind() {
        io::ErrorKind::UnexpectedEof => ReadFailure::GzipEndsEarly,
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            ReadFailure::Problem(FileProblem::CorruptGzip {
                after,
                reason: err.to_string(),
            })
        }
        _ => ReadFailure::Problem(FileProblem::Unreadable {
            reason: err.to_string(),
        }),
    }
}

/// Opens a data file for reading, decompressing it when it starts with the
/// gzip magic bytes (whatever its name).
pub fn open_data_file(path: &Path) -> Result<DataFile, FileProblem> {
    let meta = metadata(path)?;
    if meta.is_dir() {
        return Err(FileProblem::NotAFile);
    }
    let mut file = File::open(path).map_err(|e| io_problem(&e, path))?;
    let mut magic = [0u8; 2];
    let got = read_full(&mut file, &mut magic).map_err(|e| io_problem(&e, path))?;
    let prefix = Cursor::new(magic.get(..got).unwrap_or(&[]).to_vec());
    let whole = prefix.chain(file);
    let gzip = got == 2 && magic == GZIP_MAGIC;
    let reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::with_capacity(
            BUFFER,
            MultiGzDecoder::new(BufReader::with_capacity(BUFFER, whole)),
        ))
    } else {
        Box::new(BufReader::with_capacity(BUFFER, whole))
    };
    Ok(DataFile {
        reader,
        gzip,
        file_len: meta.len(),
    })
}

/// Checks that `path` is a folder.
pub(crate) fn require_folder(path: &Path) -> Result<(), FileProblem> {
    if metadata(path)?.is_dir() {
        Ok(())
    } else {
        Err(FileProblem::NotAFolder)
    }
}

/// The metadata of `path` (following links), or the fact why not.
pub(crate) fn metadata(path: &Path) -> Result<fs::Metadata, FileProblem> {
    fs::metadata(path).map_err(|e| io_problem(&e, path))
}

/// Turns an I/O error from opening `path` into a fact.
pub(crate) fn io_problem(err: &io::Error, path: &Path) -> FileProblem {
    if err.kind() == io::ErrorKind::NotFound {
        FileProblem::NotFound(describe_missing(Path::new(""), &path.to_string_lossy()))
    } else {
        FileProblem::Unreadable {
            reason: err.to_string(),
        }
    }
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
pub fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    match read_counted(reader, buf) {
        (n, None) => Ok(n),
        (_, Some(e)) => Err(e),
    }
}

/// Reads until `buf` is full, the stream ends or an error occurs; returns
/// the bytes read in any case, and the error if there was one.
pub fn read_counted(reader: &mut dyn Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = buf.get_mut(filled..).unwrap_or(&mut []);
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

/// The path a program path stands for: `written` relative to `base_dir`
/// (an absolute `written` stays as it is).
pub fn resolve(base_dir: &Path, written: &str) -> PathBuf {
    base_dir.join(written)
}

/// A path for people to read: absolute, with `.` and `..` removed
/// lexically (symbolic links are not followed).
pub fn display_path(path: &Path) -> String {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out.to_string_lossy().into_owned()
}

/// Describes why `written` (relative to `base_dir`) does not exist: the
/// first component along it that is missing, the folder it was looked for
/// in, and the names that folder holds.
pub fn describe_missing(base_dir: &Path, written: &str) -> MissingPath {
    let segments: Vec<&str> = written.split('/').collect();
    for (k, segment) in segments.iter().enumerate() {
        if segment.is_empty() || *segment == "." || *segment == ".." {
            continue;
        }
        let upto = segments.get(..=k).unwrap_or(&[]).join("/");
        if base_dir.join(&upto).exists() {
            continue;
        }
        let parent = segments.get(..k).unwrap_or(&[]).join("/");
        let before = if k == 0 {
            String::new()
        } else {
            format!("{parent}/")
        };
        let rest = segments.get(k + 1..).unwrap_or(&[]);
        let after = if rest.is_empty() {
            String::new()
        } else {
            format!("/{}", rest.join("/"))
        };
        let searched = base_dir.join(&parent);
        return MissingPath {
            before,
            missing: (*segment).to_string(),
            after,
            searched: display_path(&searched),
            candidates: folder_names(&searched),
        };
    }
    MissingPath {
        before: String::new(),
        missing: written.to_string(),
        after: String::new(),
        searched: display_path(base_dir),
        candidates: Vec::new(),
    }
}

/// Names in a folder (at most [`MAX_CANDIDATES`]); empty if unreadable.
fn folder_names(folder: &Path) -> Vec<String> {
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .take(MAX_CANDIDATES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_path_removes_dots() {
        let shown = display_path(Path::new("/a/b/../c/./d"));
        assert_eq!(shown, "/a/c/d");
        assert!(!display_path(Path::new("")).is_empty());
    }

    #[test]
    fn missing_path_is_cut_at_the_first_missing_component() {
        let base = std::env::temp_dir();
        let missing = describe_missing(&base, "nnc-no-such-folder-xyz/inner/file.gz");
        assert_eq!(missing.before, "");
        assert_eq!(missing.missing, "nnc-no-such-folder-xyz");
        assert_eq!(missing.after, "/inner/file.gz");
    }
}
