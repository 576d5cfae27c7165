//! Why a graph could not be lowered or run.

use nnc_jit::JitError;
use nnc_lower::backend::BackendError;
use std::fmt;

/// An error of lowering a fused graph to JIT kernels, or of running them.
#[derive(Clone, Debug, PartialEq)]
pub enum LowerError {
    /// The graph holds an op this backend does not lower yet (named by its
    /// mnemonic, e.g. `conv2d`, `pool`, `dropout_mask`).
    Unsupported { op: String },
    /// The kernel compiler rejected or failed on a kernel.
    Jit { kernel: String, message: String },
    /// A broken invariant of the lowering (a bug), described.
    Internal { message: String },
}

impl LowerError {
    pub(crate) fn jit(kernel: &str, e: JitError) -> Self {
        LowerError::Jit {
            kernel: kernel.to_string(),
            message: e.to_string(),
        }
    }
}

impl fmt::Display for LowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LowerError::Unsupported { op } => {
                write!(f, "the JIT backend does not lower `{op}` yet")
            }
            LowerError::Jit { kernel, message } => write!(f, "kernel `{kernel}`: {message}"),
            LowerError::Internal { message } => write!(f, "internal error: {message}"),
        }
    }
}

impl std::error::Error for LowerError {}

impl From<LowerError> for BackendError {
    fn from(e: LowerError) -> Self {
        match e {
            LowerError::Unsupported { op } => BackendError::Unsupported {
                what: format!("`{op}` (not lowered by the JIT backend yet)"),
            },
            other => BackendError::Failed {
                message: other.to_string(),
            },
        }
    }
}
