//! Errors of validation, compilation and calls, as data.

use std::fmt;

use crate::ir::Ty;

/// Everything that can go wrong between a kernel and its call.
#[derive(Clone, Debug, PartialEq)]
pub enum JitError {
    /// An access of `buffer` could reach elements `min..max_end`, outside `0..len`.
    OutOfBounds {
        /// The kernel.
        kernel: String,
        /// The buffer accessed.
        buffer: String,
        /// The smallest element index the access can touch.
        min: i64,
        /// One past the largest element index it can touch.
        max_end: i64,
        /// The buffer's length.
        len: usize,
    },
    /// Two operands, or a variable and its value, disagree in type.
    TypeMismatch {
        /// The kernel.
        kernel: String,
        /// Where the mismatch was found.
        context: &'static str,
        /// The type expected.
        expected: Ty,
        /// The type found.
        found: Ty,
    },
    /// A structural mistake: an unknown buffer, variable or loop variable, a
    /// zero step, a store to a read-only buffer, a rebound loop variable.
    Malformed {
        /// The kernel.
        kernel: String,
        /// What is wrong.
        problem: String,
    },
    /// Cranelift rejected the function or could not be set up for the host.
    Codegen(String),
    /// A call passed the wrong number of input or output slices.
    BufferCount {
        /// The kernel.
        kernel: String,
        /// Inputs (read-only buffers) or outputs (written buffers).
        role: &'static str,
        /// How many the kernel declares.
        expected: usize,
        /// How many were passed.
        found: usize,
    },
    /// A call passed a slice of the wrong length.
    BufferLength {
        /// The kernel.
        kernel: String,
        /// The buffer.
        buffer: String,
        /// Its declared length.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::OutOfBounds { kernel, buffer, min, max_end, len } => write!(
                f,
                "kernel `{kernel}`: an access to `{buffer}` can touch elements {min}..{max_end}, outside 0..{len}"
            ),
            JitError::TypeMismatch { kernel, context, expected, found } => {
                write!(f, "kernel `{kernel}`: {context}: expected {expected}, found {found}")
            }
            JitError::Malformed { kernel, problem } => write!(f, "kernel `{kernel}`: {problem}"),
            JitError::Codegen(msg) => write!(f, "code generation failed: {msg}"),
            JitError::BufferCount { kernel, role, expected, found } => {
                write!(f, "kernel `{kernel}` takes {expected} {role}, {found} were passed")
            }
            JitError::BufferLength { kernel, buffer, expected, found } => write!(
                f,
                "kernel `{kernel}`: buffer `{buffer}` must hold {expected} elements, the slice holds {found}"
            ),
        }
    }
}

impl std::error::Error for JitError {}
