//! What can go wrong while compiling a model to a graph. A checked model
//! always compiles; apart from asking for a training graph of a model
//! without a cost, a batch of zero or an unknown pass name, every error
//! here is a compiler bug reported as a value, naming the node and the op.

use crate::ops::ShapeError;
use crate::verify::VerifyError;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum CompileError {
    /// A training graph was asked for a model without a `cost`.
    NoCost { model: String },
    /// Graphs need at least one example per batch.
    ZeroBatch,
    /// `stop_after` named no pass of the pipeline.
    UnknownPass {
        name: String,
        known: Vec<&'static str>,
    },
    /// A pass built a node its op's shape rule rejects.
    Shape {
        node: String,
        op: &'static str,
        error: ShapeError,
    },
    /// Autodiff met a backward op (no higher derivatives exist).
    NoSecondDerivative { op: &'static str, node: String },
    /// A pass met a graph or model that breaks its preconditions.
    Internal { what: String },
    /// The verifier rejected the graph a pass produced.
    Verify {
        pass: &'static str,
        errors: Vec<VerifyError>,
    },
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::NoCost { model } => write!(
                f,
                "model `{model}` has no cost, so it cannot be trained; add e.g. `cost quadratic`"
            ),
            CompileError::ZeroBatch => write!(f, "the batch size must be at least 1"),
            CompileError::UnknownPass { name, known } => write!(
                f,
                "unknown pass `{name}`; the passes are: {}",
                known.join(", ")
            ),
            CompileError::Shape { node, op, error } => write!(
                f,
                "internal compiler error: `{op}` node `{node}`: {error}"
            ),
            CompileError::NoSecondDerivative { op, node } => write!(
                f,
                "internal compiler error: cannot differentiate the backward op `{op}` (node `{node}`)"
            ),
            CompileError::Internal { what } => {
                write!(f, "internal compiler error: {what}")
            }
            CompileError::Verify { pass, errors } => {
                write!(f, "internal compiler error: the graph after pass `{pass}` is invalid:")?;
                for e in errors {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for CompileError {}
