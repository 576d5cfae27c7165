//! Fused kernels: what the `fuse` pass groups ops into.
//!
//! A fused kernel is one node of the graph ([`Op::Fused`]) whose operands
//! are the kernel's inputs and whose body is a short list of ordinary ops
//! ([`FusedOp`]) over those inputs and over the body's earlier values. The
//! kernel yields one or more body values: the node's own value is the
//! first, and each further one is read through a [`Op::KernelOutput`] node
//! that names the kernel and the output's position. A fused graph computes
//! exactly what the graph it came from computes: the body holds the same
//! ops with the same attributes, only grouped.
//!
//! Invariants (checked by the kernel's shape rule, [`FusedKernel::shape`],
//! which the verifier runs):
//! - a body op reads kernel inputs that exist and body values before it;
//! - a body op is never an input, a fused kernel or a kernel output;
//! - every body op's recorded shape is what its shape rule gives;
//! - the kernel yields at least one value, each an existing body value.

use crate::graph::Shape;
use crate::ops::{Op, ShapeError};
use std::fmt;

/// What a fused kernel does, for the reader and for the code generator's
/// choice of loop structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelKind {
    /// Pointwise ops (and trailing reductions of their results) in one loop.
    Elementwise,
    /// A matrix product followed by pointwise ops on its result: the bias
    /// and activation of a layer, or the activation's derivative in the
    /// backward pass (and the bias gradient's sum over the batch).
    MatmulEpilogue,
    /// A convolution's forward pass followed by pointwise ops on its result
    /// (the bias and the activation) and at most one pooling of those,
    /// which ends the kernel.
    ConvEpilogue,
    /// A pooling's gradient followed by pointwise ops on it (the
    /// activation's derivative) and sums of those (the bias gradient).
    PoolGradEpilogue,
    /// A cost with its sum, its mean, and its gradient.
    Cost,
    /// The optimizer step of one parameter: decay, momentum, the step.
    Update,
    /// One op kept alone (a convolution's gradients, softmax; a pooling of
    /// a graph input).
    Single,
}

impl fmt::Display for KernelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KernelKind::Elementwise => "elementwise",
            KernelKind::MatmulEpilogue => "matmul+epilogue",
            KernelKind::ConvEpilogue => "conv+epilogue",
            KernelKind::PoolGradEpilogue => "pool_grad+epilogue",
            KernelKind::Cost => "cost",
            KernelKind::Update => "update",
            KernelKind::Single => "single",
        })
    }
}

/// An operand of a body op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    /// Input `k` of the kernel (operand `k` of the fused node); prints `#k`.
    Input(usize),
    /// The value of body op `j`; prints `$j`.
    Value(usize),
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Input(k) => write!(f, "#{k}"),
            Arg::Value(j) => write!(f, "${j}"),
        }
    }
}

/// One op of a kernel's body: the op of the original node, its operands
/// renamed, its shape and its name kept.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedOp {
    pub op: Op,
    pub args: Vec<Arg>,
    pub shape: Shape,
    pub name: String,
}

/// A kernel: its kind, its body, and which body values it yields.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedKernel {
    pub kind: KernelKind,
    pub body: Vec<FusedOp>,
    /// The body values the kernel yields, in output order; output 0 is the
    /// fused node's own value.
    pub outputs: Vec<usize>,
}

impl FusedKernel {
    /// The shape of output `index`, if the kernel has it.
    pub fn output_shape(&self, index: usize) -> Option<&[usize]> {
        let value = *self.outputs.get(index)?;
        self.body.get(value).map(|op| op.shape.as_slice())
    }

    /// The shape rule of the fused node: checks the body against the
    /// inputs' shapes and gives the shape of output 0.
    pub fn shape(&self, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
        for (j, micro) in self.body.iter().enumerate() {
            if matches!(
                micro.op,
                Op::Input { .. } | Op::Fused(_) | Op::KernelOutput { .. }
            ) {
                return Err(ShapeError::Invalid(
                    "a fused kernel's body holds an input, a kernel or a kernel output",
                ));
            }
            let mut shapes: Vec<&[usize]> = Vec::with_capacity(micro.args.len());
            for arg in &micro.args {
                let shape = match *arg {
                    Arg::Input(k) => inputs.get(k).copied().ok_or(ShapeError::Invalid(
                        "a fused kernel's body reads an input the kernel does not have",
                    ))?,
                    Arg::Value(i) if i < j => self.body[i].shape.as_slice(),
                    Arg::Value(_) => {
                        return Err(ShapeError::Invalid(
                            "a fused kernel's body reads a value that does not come before it",
                        ))
                    }
                };
                shapes.push(shape);
            }
            let expected = micro.op.shape(&shapes)?;
            if expected != micro.shape {
                return Err(ShapeError::Invalid(
                    "a fused kernel's body op records a shape its shape rule does not give",
                ));
            }
        }
        if self.outputs.iter().any(|&v| v >= self.body.len()) {
            return Err(ShapeError::Invalid(
                "a fused kernel yields a value its body does not compute",
            ));
        }
        self.output_shape(0)
            .map(<[usize]>::to_vec)
            .ok_or(ShapeError::Invalid("a fused kernel yields no value"))
    }
}
