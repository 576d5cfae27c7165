//! What a verification reports: what it saw when the JIT agreed, the first
//! kernel that did not, and why a verification stopped.

use nnc_ir::{NodeId, Op};
use nnc_lower::backend::BackendError;
use std::fmt;

/// What a successful verification saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifyReport {
    /// Training steps verified.
    pub steps: usize,
    /// Kernel and op runs compared (each node of each step counts once).
    pub kernels: usize,
    /// Tensors compared (a kernel yields one or more).
    pub tensors: usize,
    /// Values compared.
    pub values: usize,
    /// The largest relative error seen, and where.
    pub largest: Option<Largest>,
}

impl VerifyReport {
    /// The largest relative error seen (0 when none was).
    pub fn largest_relative_error(&self) -> f32 {
        self.largest.as_ref().map_or(0.0, |l| l.relative_error)
    }

    /// Adds what another verification saw (another graph of the same
    /// training, such as another step of a game): counts add, the largest
    /// error is the larger.
    pub fn merge(&mut self, other: &VerifyReport) {
        self.steps += other.steps;
        self.kernels += other.kernels;
        self.tensors += other.tensors;
        self.values += other.values;
        if other.largest_relative_error() > self.largest_relative_error() || self.largest.is_none()
        {
            if let Some(largest) = &other.largest {
                self.largest = Some(largest.clone());
            }
        }
    }
}

/// The value with the largest relative error of a verification.
#[derive(Clone, Debug, PartialEq)]
pub struct Largest {
    /// `|jit - interpreter| / (|interpreter| + scale)`.
    pub relative_error: f32,
    /// The step (1-based).
    pub step: usize,
    /// The node whose value it is.
    pub node: NodeId,
    /// That node's name.
    pub name: String,
}

/// The first kernel (or op) whose values differ beyond tolerance.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// The step (1-based).
    pub step: usize,
    /// The kernel's (or op's) node.
    pub node: NodeId,
    /// Its kind as the IR prints it: `fused matmul+epilogue`, `reshape`.
    pub kind: String,
    /// Its name (the comment of its line in `nnc emit ir --after fuse`).
    pub name: String,
    /// The node whose values differ: the kernel itself or one of its
    /// `kernel_output` nodes.
    pub output: NodeId,
    /// That node's name.
    pub output_name: String,
    /// That node's shape.
    pub shape: Vec<usize>,
    /// The element with the largest relative error (row-major index).
    pub index: usize,
    /// The JIT's value of that element.
    pub jit: f32,
    /// The interpreter's value of that element.
    pub interpreter: f32,
    /// `|jit - interpreter|`.
    pub error: f32,
    /// The tolerance of that element.
    pub tolerance: f32,
    /// How many values of the tensor are beyond tolerance.
    pub beyond: usize,
}

/// Why a verification stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum VerifyError {
    /// A kernel's values differ from the interpreter's.
    Mismatch(Box<Mismatch>),
    /// The graph could not be built, lowered, bound or run.
    Backend(BackendError),
}

impl From<BackendError> for VerifyError {
    fn from(e: BackendError) -> Self {
        VerifyError::Backend(e)
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Mismatch(m) => m.fmt(f),
            VerifyError::Backend(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for VerifyError {}

/// The row-major coordinates of element `index` of a tensor of `shape`.
pub(super) fn coordinates(index: usize, shape: &[usize]) -> Vec<usize> {
    let mut rest = index;
    let mut coords = vec![0; shape.len()];
    for (c, &len) in coords.iter_mut().zip(shape).rev() {
        let len = len.max(1);
        *c = rest % len;
        rest /= len;
    }
    coords
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.kind.starts_with("fused") {
            "kernel"
        } else {
            "op"
        };
        write!(
            f,
            "step {}: {what} {} ({}) `{}` differs from the interpreter given the same inputs: ",
            self.step, self.node, self.kind, self.name
        )?;
        if self.output != self.node {
            write!(f, "its output {} `{}`, ", self.output, self.output_name)?;
        }
        let total: usize = self.shape.iter().product();
        write!(
            f,
            "element {} {:?} of {:?}: jit {:e} vs interpreter {:e}, error {:.3e} > tolerance {:.3e} \
             ({} of {} values beyond tolerance)",
            self.index,
            coordinates(self.index, &self.shape),
            self.shape,
            self.jit,
            self.interpreter,
            self.error,
            self.tolerance,
            self.beyond,
            total
        )
    }
}

/// The kind of a node as the IR prints it.
pub(super) fn kind_of(op: &Op) -> String {
    match op {
        Op::Fused(kernel) => format!("fused {}", kernel.kind),
        op => op.mnemonic().to_string(),
    }
}
