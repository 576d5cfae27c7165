//! The ops of the IR. Every fact about an op is declared once, in the op
//! table ([`table`]: `Op::def`); each family module holds, for its ops,
//! the shape rule (`shape`) and the gradient rule (`gradient`: a local
//! vector-Jacobian product that appends backward nodes) the table names.
//! Pointwise ops are defined by their scalar formula (`crate::scalar`),
//! which every backend translates; the interpreter's other kernels live in
//! `nnc-interp`, in modules of the same names.
//!
//! Conventions: `[batch, ...]` tensors carry the batch dimension first;
//! "per example" means over all the other dimensions; scalars have shape
//! `[]`. Constants inside ops are `f64` (executors convert them).

pub mod access;
pub mod activation;
pub mod axis;
pub mod conv;
pub mod cost;
pub mod dropout;
pub mod elementwise;
pub mod examples;
pub mod gather;
pub mod layout;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod source;
pub mod table;

use crate::error::CompileError;
use crate::graph::{Graph, InputKind, NodeId, Shape};
use crate::rng::Noise;
use crate::scalar::Cmp;
use crate::window::{PoolKind, Rounding};
use std::fmt;
pub use table::{Fusion, Gradient, OpClass, OpDef, OperandRead};

/// One operation of the IR.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    // --- sources (source.rs) ---
    /// A graph input, bound when the graph runs.
    Input {
        kind: InputKind,
        shape: Shape,
    },
    /// A tensor of `shape` filled with `value`.
    Fill {
        value: f64,
        shape: Shape,
    },

    // --- elementwise (elementwise.rs) ---
    /// `a + b`, operands of one shape.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `-x`.
    Neg,
    /// `c * x`.
    Scale(f64),
    /// `x + c`.
    AddConst(f64),
    /// `e^x`.
    Exp,
    /// `ln x`.
    Log,
    /// `sqrt x`.
    Sqrt,
    /// `-1`, `0` or `1` by the sign of `x` (zero gradient).
    Sign,
    /// `x` itself, with a zero gradient: no gradient flows back through it
    /// (`detach(x)` in a model).
    StopGradient,
    /// `|x|`.
    Abs,
    /// `x^2`.
    Square,
    /// `x^p` for a constant `p`: products for integers up to 8 in
    /// magnitude (any `x`), otherwise `e^(p ln x)` for `x > 0` and `0`
    /// elsewhere.
    Pow(f64),
    /// `max(a, b)`, operands of one shape (ties send the gradient to `a`).
    Maximum,
    /// `min(a, b)` (ties send the gradient to `a`).
    Minimum,
    /// `1` where `a cmp b`, else `0`; a mask with zero gradient.
    Compare(Cmp),

    // --- activations (activation.rs) ---
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    Tanh,
    /// `max(0, x)`.
    Relu,
    /// `1` if `x > 0`, else `0` (zero gradient).
    Step,
    /// Softmax over each example (all dimensions but the batch), stable.
    Softmax,
    /// `x Phi(x)`, with the normal distribution's `Phi` exact (`erf`) or
    /// by the tanh approximation.
    Gelu(GeluForm),
    /// `ln(1 + e^x)`, computed as `max(x, 0) + ln(1 + e^-|x|)`.
    Softplus,
    /// `x sigmoid(x)` (SiLU, swish).
    Silu,
    /// `(y, dy) -> dy * y * (1 - y)`, with `y = sigmoid(x)`.
    SigmoidGrad,
    /// `(y, dy) -> dy * (1 - y^2)`, with `y = tanh(x)`.
    TanhGrad,
    /// `(x, dy) -> dy` where `x > 0`, else `0`.
    ReluGrad,
    /// `(x, dy) -> dy gelu'(x)`.
    GeluGrad(GeluForm),
    /// `(x, dy) -> dy s (1 + x (1 - s))`, `s = sigmoid(x)`.
    SiluGrad,
    /// `(y, dy) -> y * (dy - sum(dy * y))` per example, `y = softmax(x)`.
    SoftmaxGrad,

    // --- broadcasts and reductions (reduce.rs) ---
    /// `(x [b, c, ...], bias [c]) -> x + bias` along dimension 1.
    BiasAdd,
    /// `(x, s []) -> s * x`: a tensor times a scalar tensor.
    ScaleBy,
    /// The sum over `axes` (sorted, distinct), which disappear.
    SumAxes {
        axes: Vec<usize>,
    },
    /// The largest value over `axes` (sorted, distinct), which disappear.
    MaxAxes {
        axes: Vec<usize>,
    },
    /// The inverse shape of `SumAxes`: copies the input along `axes` of
    /// `shape` (the input's shape is `shape` without `axes`).
    Expand {
        axes: Vec<usize>,
        shape: Shape,
    },

    // --- matrix product (matmul.rs) ---
    /// `op(a) op(b)` for 2-D `a`, `b`; `op` transposes when the flag is set.
    MatMul {
        ta: bool,
        tb: bool,
    },
    /// A product per batch position: `a [..., m, k]` (`[..., k, m]` when
    /// `ta`) times `b [..., k, n]` (`[..., n, k]` when `tb`) with the same
    /// leading batch axes, or a rank-2 `b` shared by every position, gives
    /// `[..., m, n]`. Runs alone (the 2-D `matmul` keeps its epilogues).
    BatchMatMul {
        ta: bool,
        tb: bool,
    },

    // --- convolution (conv.rs) ---
    /// `(x [b, c, h, w], w [f, c, kh, kw]) -> [b, f, oh, ow]`, a
    /// cross-correlation with zero padding (top, bottom, left, right).
    Conv2d {
        stride: [usize; 2],
        padding: [usize; 4],
    },
    /// `(dy [b, f, oh, ow], w) -> dx [b, c, h, w]`; `input` is `[h, w]`.
    /// Also the transposed convolution (`conv2d_transpose`), its input in
    /// the place of `dy`.
    Conv2dInputGrad {
        stride: [usize; 2],
        padding: [usize; 4],
        input: [usize; 2],
    },
    /// `(x, dy) -> dw [f, c, kh, kw]`; `kernel` is `[kh, kw]`.
    Conv2dWeightGrad {
        stride: [usize; 2],
        padding: [usize; 4],
        kernel: [usize; 2],
    },

    // --- pooling (pool.rs) ---
    /// `x [b, c, h, w] -> [b, c, oh, ow]`, each channel on its own.
    Pool(PoolGeometry),
    /// `(x, y, dy) -> dx`: `y` is the pool's output.
    PoolGrad(PoolGeometry),

    // --- layout (layout.rs) ---
    /// The same values in row-major order with another shape.
    Reshape {
        shape: Shape,
    },
    /// Axis `k` of the result is axis `perm[k]` of the operand (a
    /// transpose of any rank; `perm` is a permutation of `0..rank`).
    Permute {
        perm: Vec<usize>,
    },

    // --- along one axis (axis.rs) ---
    /// `parts` operands joined along `axis`; they agree on every other
    /// axis.
    Concat {
        axis: usize,
        parts: usize,
    },
    /// Positions `start .. start + len` of the operand along `axis`.
    Slice {
        axis: usize,
        start: usize,
        len: usize,
    },
    /// The operand between `before` and `after` zeros along `axis` (the
    /// gradient of a slice: `dy` placed into zeros).
    Pad {
        axis: usize,
        before: usize,
        after: usize,
    },

    // --- indexing (gather.rs) ---
    /// `(table [v, ...], indices [...]) -> [indices..., table[1..]...]`:
    /// row `round(index)` of the table for each index (an embedding
    /// lookup). Indices are integer values stored as floats, rounded half
    /// to even; one outside `[0, v)` (or NaN) reads a row of zeros.
    Gather,
    /// `(indices [...], values [indices..., rest...]) -> [rows, rest...]`:
    /// each index's values added into its row, in index order (the
    /// gradient of `gather` with respect to its table); an index outside
    /// `[0, rows)` adds nothing.
    ScatterAdd {
        rows: usize,
    },

    // --- dropout (dropout.rs) ---
    /// `(seed) -> mask`: each value `0` with probability `p`, else
    /// `1 / (1 - p)`; drawn from `Rng::derive(step seed, stream)`.
    DropoutMask {
        p: f64,
        stream: u64,
        shape: Shape,
    },
    /// `(seed) -> noise`: values of `noise` (standard normal or uniform on
    /// [0, 1)), drawn in row-major order from `Rng::derive(step seed,
    /// stream)` by `Noise::draws`, like the dropout masks.
    Random {
        noise: Noise,
        stream: u64,
        shape: Shape,
    },

    // --- costs and accuracy (cost.rs) ---
    /// `(prediction, target) -> [batch]` per-example cost.
    Cost(CostFn),
    /// `(prediction, target, dy [batch]) -> d prediction`.
    CostGrad(CostFn),
    /// `(output, target) -> []`: the examples whose arg-max output is the
    /// arg-max target (one output unit: both on the same side of 0.5).
    CorrectCount,

    // --- fused kernels (crate::fused; only after the `fuse` pass) ---
    /// A kernel: its operands are the kernel's inputs, its value is the
    /// kernel's output 0.
    Fused(Box<crate::fused::FusedKernel>),
    /// `(kernel) -> output index of that kernel` (`index >= 1`), of `shape`.
    KernelOutput {
        index: usize,
        shape: Shape,
    },
}

/// Which GELU: `x Phi(x)` with the exact normal distribution function
/// (through `erf`), or `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GeluForm {
    Erf,
    Tanh,
}

/// A per-example cost, with what its first operand is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CostFn {
    /// `1/2 * ||a - y||^2` on activations.
    Quadratic,
    /// `-sum(y ln a + (1 - y) ln(1 - a))` on sigmoid activations `a`,
    /// clamped into `[1e-7, 1 - 1e-7]` so the logarithms stay finite.
    CrossEntropy,
    /// The same cost computed from the weighted inputs `z` (`a =
    /// sigmoid(z)`): `sum(max(z, 0) - y z + ln(1 + e^-|z|))`, exact for
    /// any `z`; its gradient is `sigmoid(z) - y`.
    SigmoidCrossEntropy,
    /// `-sum(y ln a)` on probabilities `a` (for one-hot `y`, `-ln a_y`),
    /// `a` clamped below at `1e-30`.
    LogLikelihood,
    /// The same cost computed from the weighted inputs `z` (`a =
    /// softmax(z)`): `sum(y) logsumexp(z) - sum(y z)`; its gradient is
    /// `sum(y) softmax(z) - y`.
    SoftmaxLogLikelihood,
}

impl CostFn {
    pub fn name(self) -> &'static str {
        match self {
            CostFn::Quadratic => "quadratic",
            CostFn::CrossEntropy => "cross_entropy",
            CostFn::SigmoidCrossEntropy => "sigmoid_cross_entropy",
            CostFn::LogLikelihood => "log_likelihood",
            CostFn::SoftmaxLogLikelihood => "softmax_log_likelihood",
        }
    }
}

/// The window arithmetic of a pooling op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolGeometry {
    pub kind: PoolKind,
    pub size: [usize; 2],
    pub stride: [usize; 2],
    /// top, bottom, left, right
    pub padding: [usize; 4],
    pub rounding: Rounding,
}

/// Why an op does not accept its operands' shapes.
#[derive(Clone, Debug, PartialEq)]
pub enum ShapeError {
    /// The op takes `expected` operands, it was given `found`.
    Arity { expected: usize, found: usize },
    /// Operand `operand` has rank `found`, the op needs `expected`.
    Rank {
        operand: usize,
        expected: usize,
        found: Shape,
    },
    /// Operand `operand` should have shape `expected`.
    Mismatch {
        operand: usize,
        expected: Shape,
        found: Shape,
    },
    /// A sliding window does not fit its (padded) input along `axis`.
    Window {
        axis: &'static str,
        input: usize,
        window: usize,
        stride: usize,
        pads: [usize; 2],
    },
    /// A reshape to a shape with another number of values.
    Count { from: Shape, to: Shape },
    /// An axis list that is not sorted, distinct and within the rank.
    Axes { axes: Vec<usize>, rank: usize },
    /// An axis at or beyond the operand's rank.
    Axis { axis: usize, rank: usize },
    /// Positions `start .. start + len` along `axis` do not fit its
    /// `extent`.
    Range {
        axis: usize,
        start: usize,
        len: usize,
        extent: usize,
    },
    /// Anything else, described.
    Invalid(&'static str),
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeError::Arity { expected, found } => {
                write!(f, "takes {expected} operands, got {found}")
            }
            ShapeError::Rank {
                operand,
                expected,
                found,
            } => write!(
                f,
                "operand {operand} must have rank {expected}, its shape is {found:?}"
            ),
            ShapeError::Mismatch {
                operand,
                expected,
                found,
            } => write!(
                f,
                "operand {operand} must have shape {expected:?}, it has {found:?}"
            ),
            ShapeError::Window {
                axis,
                input,
                window,
                stride,
                pads,
            } => write!(
                f,
                "window {window} (stride {stride}) does not fit the {axis} {input} padded by {} + {}",
                pads[0], pads[1]
            ),
            ShapeError::Count { from, to } => {
                write!(f, "cannot reshape {from:?} to {to:?}: the number of values differs")
            }
            ShapeError::Axes { axes, rank } => write!(
                f,
                "axes {axes:?} must be sorted, distinct and below the rank {rank}"
            ),
            ShapeError::Axis { axis, rank } => {
                write!(f, "axis {axis} must be below the rank {rank}")
            }
            ShapeError::Range {
                axis,
                start,
                len,
                extent,
            } => write!(
                f,
                "positions {start}..{} along axis {axis} do not fit its extent {extent}",
                start.saturating_add(*len)
            ),
            ShapeError::Invalid(why) => f.write_str(why),
        }
    }
}

impl Op {
    /// The op's name in the text form.
    pub fn mnemonic(&self) -> &'static str {
        self.def().mnemonic
    }

    /// The shape rule: the output shape for these operand shapes.
    pub fn shape(&self, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
        (self.def().shape)(self, inputs)
    }

    /// The gradient rule of `node` (an op of this kind in `graph`): given
    /// `dy`, the gradient of the differentiated scalar with respect to the
    /// node's value, appends nodes computing the gradient with respect to
    /// each operand `i` for which `wants[i]` holds, and returns them
    /// (`None`: the gradient is zero, or not wanted).
    pub fn gradient(
        graph: &mut Graph,
        node: NodeId,
        dy: NodeId,
        wants: &[bool],
    ) -> Result<Vec<Option<NodeId>>, CompileError> {
        let op = graph.node(node).op.clone();
        match op.def().gradient {
            Gradient::Rule(rule) => rule(graph, node, dy, wants),
            Gradient::Zero => Ok(vec![None; op.def().arity.max(wants.len())]),
            // Backward ops are the result of differentiation; the language
            // has no higher derivatives, so nothing differentiates them.
            // Fused kernels only exist after `fuse`, the last pass.
            Gradient::Undefined => Err(CompileError::NoSecondDerivative {
                op: op.mnemonic(),
                node: graph.node(node).name.clone(),
            }),
        }
    }
}

/// Checks the operand count.
pub(crate) fn arity(inputs: &[&[usize]], expected: usize) -> Result<(), ShapeError> {
    if inputs.len() == expected {
        Ok(())
    } else {
        Err(ShapeError::Arity {
            expected,
            found: inputs.len(),
        })
    }
}

/// Checks that operand `operand` has rank `rank`.
pub(crate) fn rank(inputs: &[&[usize]], operand: usize, rank: usize) -> Result<(), ShapeError> {
    if inputs[operand].len() == rank {
        Ok(())
    } else {
        Err(ShapeError::Rank {
            operand,
            expected: rank,
            found: inputs[operand].to_vec(),
        })
    }
}

/// Checks that operand `operand` has exactly `expected`.
pub(crate) fn same(
    inputs: &[&[usize]],
    operand: usize,
    expected: &[usize],
) -> Result<(), ShapeError> {
    if inputs[operand] == expected {
        Ok(())
    } else {
        Err(ShapeError::Mismatch {
            operand,
            expected: expected.to_vec(),
            found: inputs[operand].to_vec(),
        })
    }
}

/// The name of the gradient with respect to `id`: `grad(dense_1.z)`.
pub(crate) fn grad_name(graph: &Graph, id: NodeId) -> String {
    format!("grad({})", graph.node(id).name)
}

/// Operand `i` of `node`.
pub(crate) fn operand(graph: &Graph, node: NodeId, i: usize) -> NodeId {
    graph.node(node).inputs[i]
}

/// `Some(build())` when the gradient of operand `i` is wanted.
pub(crate) fn wanted(
    wants: &[bool],
    i: usize,
    build: impl FnOnce() -> Result<NodeId, CompileError>,
) -> Result<Option<NodeId>, CompileError> {
    if wants.get(i).copied().unwrap_or(false) {
        build().map(Some)
    } else {
        Ok(None)
    }
}
