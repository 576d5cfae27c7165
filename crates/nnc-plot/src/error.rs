//! What can go wrong while reading logs and writing plots. Every variant
//! names the file or the metric it is about, and says what to do.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a log could not be read or a plot not written.
#[derive(Debug)]
pub enum PlotError {
    /// The log file could not be opened or read.
    Read { path: PathBuf, source: io::Error },
    /// A line of the log is not a JSON object (`line` counts from 1).
    BadLine {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The folder for the plots could not be created.
    CreateDir { path: PathBuf, source: io::Error },
    /// A plot file could not be written (unwritable folder, full disk).
    Write { path: PathBuf, source: io::Error },
    /// plotters failed to draw a figure.
    Draw { path: PathBuf, message: String },
    /// The output's extension is neither `.png` nor `.svg`.
    Format { path: PathBuf },
    /// An image grid cannot be drawn as asked (no images, a zero or
    /// unsupported dimension, an image of the wrong length, a grid too
    /// large); `problem` says which, naming the image by its index.
    Grid { stem: PathBuf, problem: String },
    /// No log has a number for the metric; `available` lists those they have.
    UnknownMetric {
        metric: String,
        available: Vec<String>,
    },
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlotError::Read { path, source } => {
                write!(f, "cannot read the log `{}`: {source}", path.display())
            }
            PlotError::BadLine {
                path,
                line,
                message,
            } => write!(
                f,
                "`{}` line {line} is not a JSON object ({message}); \
                 a log holds one JSON object per line, as `nnc run --log` writes it",
                path.display()
            ),
            PlotError::CreateDir { path, source } => write!(
                f,
                "cannot create the plot folder `{}`: {source}",
                path.display()
            ),
            PlotError::Write { path, source } => write!(
                f,
                "cannot write the plot `{}`: {source}; check that the folder is writable \
                 and the disk has room",
                path.display()
            ),
            PlotError::Draw { path, message } => {
                write!(f, "cannot draw the plot `{}`: {message}", path.display())
            }
            PlotError::Format { path } => write!(
                f,
                "cannot tell the format of `{}`: name the output `.png` or `.svg`",
                path.display()
            ),
            PlotError::Grid { stem, problem } => write!(
                f,
                "cannot draw the image grid `{}`: {problem}",
                stem.display()
            ),
            PlotError::UnknownMetric { metric, available } if available.is_empty() => write!(
                f,
                "no log has the metric `{metric}`; the logs have no numeric metrics at all \
                 (are they empty?)"
            ),
            PlotError::UnknownMetric { metric, available } => write!(
                f,
                "no log has the metric `{metric}`; the logs have: {}",
                available.join(", ")
            ),
        }
    }
}

impl std::error::Error for PlotError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlotError::Read { source, .. }
            | PlotError::CreateDir { source, .. }
            | PlotError::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}
