//! Examples of every op of the table, with operand shapes and the values
//! they need: what the conformance suite (`tests/conformance.rs`) runs on
//! every backend and compares with the interpreter, forward and gradient.
//!
//! [`covered`] is an exhaustive `match`: a new op does not compile until it
//! is listed here (or said to be structural), so the suite cannot miss it.

use super::{CostFn, GeluForm, Op, PoolGeometry};
use crate::graph::{InputKind, Shape};
use crate::rng::Noise;
use crate::scalar::Cmp;
use crate::window::{PoolKind, Rounding};

/// How an example operand's values are drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Values {
    /// `N(0, s^2)`.
    Normal(f64),
    /// Uniform on `[lo, hi)`.
    Uniform(f64, f64),
    /// One-hot rows along the last axis (cost targets).
    OneHot,
    /// Integer index values drawn uniformly from `-1 ..= n`: rows of a
    /// table of `n` rows, and out-of-range indices at both ends (which
    /// gather zeros and scatter nothing).
    Index(usize),
}

/// One example: an op, its operands' shapes and values, and which
/// operands are differentiated.
#[derive(Clone, Debug)]
pub struct OpExample {
    pub label: String,
    pub op: Op,
    pub operands: Vec<(Shape, Values)>,
    /// Per operand: whether the suite checks its gradient.
    pub differentiate: Vec<bool>,
}

/// Whether an op is run by the suite: every op but the structural ones
/// (graph inputs, fused kernels and their outputs, which only exist as
/// the frame around ops). Exhaustive on purpose.
pub fn covered(op: &Op) -> bool {
    match op {
        Op::Input { .. } | Op::Fused(_) | Op::KernelOutput { .. } => false,
        Op::Fill { .. }
        | Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Neg
        | Op::Scale(_)
        | Op::AddConst(_)
        | Op::Exp
        | Op::Log
        | Op::Sqrt
        | Op::Sign
        | Op::StopGradient
        | Op::Abs
        | Op::Square
        | Op::Pow(_)
        | Op::Maximum
        | Op::Minimum
        | Op::Compare(_)
        | Op::Sigmoid
        | Op::Tanh
        | Op::Relu
        | Op::Step
        | Op::Softmax
        | Op::Gelu(_)
        | Op::Softplus
        | Op::Silu
        | Op::SigmoidGrad
        | Op::TanhGrad
        | Op::ReluGrad
        | Op::SoftmaxGrad
        | Op::GeluGrad(_)
        | Op::SiluGrad
        | Op::BiasAdd
        | Op::ScaleBy
        | Op::SumAxes { .. }
        | Op::MaxAxes { .. }
        | Op::Expand { .. }
        | Op::MatMul { .. }
        | Op::BatchMatMul { .. }
        | Op::Conv2d { .. }
        | Op::Conv2dInputGrad { .. }
        | Op::Conv2dWeightGrad { .. }
        | Op::Pool(_)
        | Op::PoolGrad(_)
        | Op::Reshape { .. }
        | Op::Permute { .. }
        | Op::Concat { .. }
        | Op::Slice { .. }
        | Op::Pad { .. }
        | Op::Gather
        | Op::ScatterAdd { .. }
        | Op::DropoutMask { .. }
        | Op::Random { .. }
        | Op::Cost(_)
        | Op::CostGrad(_)
        | Op::CorrectCount => true,
    }
}

const N: Values = Values::Normal(1.0);
const POSITIVE: Values = Values::Uniform(0.3, 2.5);
const PROBABILITY: Values = Values::Uniform(0.05, 0.95);

fn example(label: &str, op: Op, operands: &[(&[usize], Values)]) -> OpExample {
    let differentiable = !matches!(
        op.def().gradient,
        super::Gradient::Undefined | super::Gradient::Zero
    );
    OpExample {
        label: label.to_string(),
        operands: operands.iter().map(|(s, v)| (s.to_vec(), *v)).collect(),
        differentiate: vec![differentiable; operands.len()],
        op,
    }
}

/// Shapes every pointwise example runs at: a matrix, a batch of one, odd
/// sizes (tails of 4-wide vector loops), and a long row.
const POINTWISE_SHAPES: [&[usize]; 4] = [&[4, 6], &[1, 7], &[5, 13], &[3, 37]];

/// Every covered op, at several shapes.
pub fn examples() -> Vec<OpExample> {
    let mut all = Vec::new();
    let unary: Vec<(Op, Values)> = vec![
        (Op::Neg, N),
        (Op::Scale(-1.7), N),
        (Op::AddConst(0.3), N),
        (Op::Exp, N),
        (Op::Log, POSITIVE),
        (Op::Sqrt, POSITIVE),
        (Op::Sign, N),
        (Op::StopGradient, N),
        (Op::Abs, N),
        (Op::Square, N),
        (Op::Pow(3.0), N),
        (Op::Pow(-2.0), POSITIVE),
        (Op::Pow(0.5), POSITIVE),
        (Op::Pow(2.7), POSITIVE),
        (Op::Sigmoid, Values::Normal(3.0)),
        (Op::Tanh, Values::Normal(2.0)),
        (Op::Relu, N),
        (Op::Step, N),
        (Op::Gelu(GeluForm::Erf), Values::Normal(2.0)),
        (Op::Gelu(GeluForm::Tanh), Values::Normal(2.0)),
        (Op::Softplus, Values::Normal(3.0)),
        (Op::Silu, Values::Normal(3.0)),
    ];
    let binary: Vec<(Op, Values, Values)> = vec![
        (Op::Add, N, N),
        (Op::Sub, N, N),
        (Op::Mul, N, N),
        (Op::Div, N, POSITIVE),
        (Op::Maximum, N, N),
        (Op::Minimum, N, N),
        (Op::Compare(Cmp::Gt), N, N),
        (Op::Compare(Cmp::Ge), N, N),
        (Op::Compare(Cmp::Lt), N, N),
        (Op::Compare(Cmp::Le), N, N),
        (Op::Compare(Cmp::Eq), N, N),
        (Op::Compare(Cmp::Ne), N, N),
        // Derivative ops: (y or x, dy).
        (Op::SigmoidGrad, PROBABILITY, N),
        (Op::TanhGrad, Values::Uniform(-0.95, 0.95), N),
        (Op::ReluGrad, N, N),
        (Op::GeluGrad(GeluForm::Erf), Values::Normal(2.0), N),
        (Op::GeluGrad(GeluForm::Tanh), Values::Normal(2.0), N),
        (Op::SiluGrad, Values::Normal(3.0), N),
    ];
    for shape in POINTWISE_SHAPES {
        let dims = format!("{shape:?}");
        for (op, values) in &unary {
            let label = format!("{} {dims}", op.mnemonic());
            all.push(example(&label, op.clone(), &[(shape, *values)]));
        }
        for (op, a, b) in &binary {
            let label = format!("{} {dims}", op.mnemonic());
            all.push(example(&label, op.clone(), &[(shape, *a), (shape, *b)]));
        }
        let fill = Op::Fill {
            value: -0.75,
            shape: shape.to_vec(),
        };
        all.push(example(&format!("fill {dims}"), fill, &[]));
        // Broadcasts along rows, columns and as a scalar.
        let (rows, cols) = (shape[0], shape[1]);
        all.push(example(
            &format!("bias_add {dims}"),
            Op::BiasAdd,
            &[(shape, N), (&[cols], N)],
        ));
        all.push(example(
            &format!("scale_by {dims}"),
            Op::ScaleBy,
            &[(shape, N), (&[], N)],
        ));
        let over_rows = Op::Expand {
            axes: vec![0],
            shape: shape.to_vec(),
        };
        all.push(example(
            &format!("expand rows {dims}"),
            over_rows,
            &[(&[cols], N)],
        ));
        let over_cols = Op::Expand {
            axes: vec![1],
            shape: shape.to_vec(),
        };
        all.push(example(
            &format!("expand columns {dims}"),
            over_cols,
            &[(&[rows], N)],
        ));
        let reshape = Op::Reshape {
            shape: vec![rows * cols],
        };
        all.push(example(&format!("reshape {dims}"), reshape, &[(shape, N)]));
        all.push(example(
            &format!("softmax {dims}"),
            Op::Softmax,
            &[(shape, Values::Normal(2.0))],
        ));
        all.push(example(
            &format!("softmax_grad {dims}"),
            Op::SoftmaxGrad,
            &[(shape, PROBABILITY), (shape, N)],
        ));
        all.push(example(
            &format!("sum rows {dims}"),
            Op::SumAxes { axes: vec![0] },
            &[(shape, N)],
        ));
        all.push(example(
            &format!("sum columns {dims}"),
            Op::SumAxes { axes: vec![1] },
            &[(shape, N)],
        ));
        for cost in [
            CostFn::Quadratic,
            CostFn::CrossEntropy,
            CostFn::SigmoidCrossEntropy,
            CostFn::LogLikelihood,
            CostFn::SoftmaxLogLikelihood,
        ] {
            let prediction = match cost {
                CostFn::CrossEntropy | CostFn::LogLikelihood => PROBABILITY,
                _ => Values::Normal(2.0),
            };
            let mut c = example(
                &format!("{} {dims}", Op::Cost(cost).mnemonic()),
                Op::Cost(cost),
                &[(shape, prediction), (shape, Values::OneHot)],
            );
            c.differentiate = vec![true, false];
            all.push(c);
            all.push(example(
                &format!("{} {dims}", Op::CostGrad(cost).mnemonic()),
                Op::CostGrad(cost),
                &[(shape, prediction), (shape, Values::OneHot), (&[rows], N)],
            ));
        }
        all.push(example(
            &format!("correct_count {dims}"),
            Op::CorrectCount,
            &[(shape, N), (shape, Values::OneHot)],
        ));
    }
    // A channel bias and a channel sum of images, as convolutions use them.
    all.push(example(
        "bias_add channels",
        Op::BiasAdd,
        &[(&[2, 3, 4, 5], N), (&[3], N)],
    ));
    all.push(example(
        "sum all but channels",
        Op::SumAxes {
            axes: vec![0, 2, 3],
        },
        &[(&[2, 3, 4, 5], N)],
    ));
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let a: &[usize] = if ta { &[5, 3] } else { &[3, 5] };
        let b: &[usize] = if tb { &[7, 5] } else { &[5, 7] };
        all.push(example(
            &format!("matmul ta={ta} tb={tb}"),
            Op::MatMul { ta, tb },
            &[(a, N), (b, N)],
        ));
    }
    all.push(example(
        "matmul one row",
        Op::MatMul {
            ta: false,
            tb: true,
        },
        &[(&[1, 9], N), (&[4, 9], N)],
    ));
    for (stride, padding) in [([1, 1], [0; 4]), ([2, 1], [1, 0, 2, 1])] {
        let label = format!("stride {stride:?} padding {padding:?}");
        let x: &[usize] = &[2, 3, 7, 6];
        let w: &[usize] = &[4, 3, 3, 2];
        let conv = Op::Conv2d { stride, padding };
        let y = conv.shape(&[x, w]).expect("the example convolution fits");
        all.push(example(&format!("conv2d {label}"), conv, &[(x, N), (w, N)]));
        all.push(example(
            &format!("conv2d_input_grad {label}"),
            Op::Conv2dInputGrad {
                stride,
                padding,
                input: [7, 6],
            },
            &[(&y, N), (w, N)],
        ));
        all.push(example(
            &format!("conv2d_weight_grad {label}"),
            Op::Conv2dWeightGrad {
                stride,
                padding,
                kernel: [3, 2],
            },
            &[(x, N), (&y, N)],
        ));
    }
    for kind in [PoolKind::Max, PoolKind::Average, PoolKind::L2] {
        for (size, stride, padding, rounding) in [
            ([2, 2], [2, 2], [0; 4], Rounding::Floor),
            ([3, 3], [2, 2], [1, 0, 1, 0], Rounding::Ceil),
        ] {
            let g = PoolGeometry {
                kind,
                size,
                stride,
                padding,
                rounding,
            };
            let x: &[usize] = &[2, 3, 7, 6];
            let y = Op::Pool(g).shape(&[x]).expect("the example pooling fits");
            let label = format!("{kind:?} {size:?} stride {stride:?} {rounding:?}");
            all.push(example(&format!("pool {label}"), Op::Pool(g), &[(x, N)]));
            // The gradient reads the pooling's own output: a value of the
            // right shape drawn independently is not a max of its window,
            // so the suite computes `y` from `x` itself (see `pool_grad`).
            let mut grad = example(
                &format!("pool_grad {label}"),
                Op::PoolGrad(g),
                &[(x, N), (&y, N), (&y, N)],
            );
            grad.differentiate = vec![false; 3];
            all.push(grad);
        }
    }
    for (shape, axes) in [
        (vec![4, 6], vec![1]),
        (vec![5, 13], vec![0]),
        (vec![1, 7], vec![1]),
        (vec![2, 3, 4, 5], vec![1]),
        (vec![2, 3, 4, 5], vec![0, 2, 3]),
        (vec![3, 37], vec![0, 1]),
    ] {
        all.push(example(
            &format!("max {shape:?} over {axes:?}"),
            Op::MaxAxes { axes: axes.clone() },
            &[(&shape, N)],
        ));
        // Sums over middle axes too, not only leading and trailing ones.
        all.push(example(
            &format!("sum {shape:?} over {axes:?}"),
            Op::SumAxes { axes },
            &[(&shape, N)],
        ));
    }
    for (shape, perm) in [
        (vec![5, 7], vec![1, 0]),
        (vec![1, 9], vec![1, 0]),
        (vec![2, 3, 4], vec![2, 0, 1]),
        (vec![2, 3, 4, 5], vec![0, 2, 1, 3]),
        (vec![3, 2, 5], vec![0, 1, 2]),
    ] {
        all.push(example(
            &format!("permute {shape:?} by {perm:?}"),
            Op::Permute { perm },
            &[(&shape, N)],
        ));
    }
    all.extend(tensor_examples());
    for p in [0.0, 0.3] {
        let mut mask = example(
            &format!("dropout_mask p={p}"),
            Op::DropoutMask {
                p,
                stream: 11,
                shape: vec![5, 9],
            },
            &[(&[], N)],
        );
        mask.differentiate = vec![false];
        all.push(mask);
    }
    for (stream, noise) in [(12, Noise::Normal), (13, Noise::Uniform)] {
        let mut draw = example(
            &format!("random_{}", noise.name()),
            Op::Random {
                noise,
                stream,
                shape: vec![4, 7],
            },
            &[(&[], N)],
        );
        draw.differentiate = vec![false];
        all.push(draw);
    }
    all
}

/// Batched products, concatenations, slices, paddings, gathers and
/// scatters, at odd sizes, batches of one and every transpose.
fn tensor_examples() -> Vec<OpExample> {
    let mut all = Vec::new();
    let transposes = [(false, false), (false, true), (true, false), (true, true)];
    let t = |shape: &[usize], t: bool| -> Shape {
        let mut s = shape.to_vec();
        let r = s.len();
        if t {
            s.swap(r - 2, r - 1);
        }
        s
    };
    // (a as [..., m, k], b as [..., k, n]) before the transposes.
    let batched: [(&[usize], &[usize]); 4] = [
        (&[2, 3, 5], &[2, 5, 4]),
        (&[1, 3, 5], &[1, 5, 2]),
        (&[3, 4, 5], &[5, 6]),
        (&[2, 2, 3, 5], &[5, 7]),
    ];
    for (a, b) in batched {
        for (ta, tb) in transposes {
            let (a, b) = (t(a, ta), t(b, tb));
            all.push(example(
                &format!("batch_matmul {a:?} x {b:?} ta={ta} tb={tb}"),
                Op::BatchMatMul { ta, tb },
                &[(&a, N), (&b, N)],
            ));
        }
    }
    for (a, b) in [
        (vec![2, 3, 4, 5], vec![2, 3, 5, 7]),
        (vec![1, 9, 3], vec![3, 1]),
        (vec![4, 20, 33], vec![33, 17]),
        (vec![2, 17, 40], vec![2, 40, 19]),
    ] {
        all.push(example(
            &format!("batch_matmul {a:?} x {b:?}"),
            Op::BatchMatMul {
                ta: false,
                tb: false,
            },
            &[(&a, N), (&b, N)],
        ));
    }
    let many: Vec<Shape> = vec![vec![1, 3]; 18];
    for (axis, parts) in [
        (0, vec![vec![2, 3], vec![4, 3], vec![1, 3]]),
        (1, vec![vec![4, 2], vec![4, 5]]),
        (1, vec![vec![2, 3, 4], vec![2, 1, 4], vec![2, 2, 4]]),
        (2, vec![vec![2, 3, 1], vec![2, 3, 5]]),
        (1, vec![vec![1, 7], vec![1, 2]]),
        (0, vec![vec![3, 5]]),
        (0, many),
    ] {
        let operands: Vec<(&[usize], Values)> = parts.iter().map(|s| (&s[..], N)).collect();
        let concat = Op::Concat {
            axis,
            parts: parts.len(),
        };
        let label = format!(
            "concat {} parts along {axis}, first {:?}",
            parts.len(),
            parts[0]
        );
        all.push(example(&label, concat, &operands));
    }
    for (shape, axis, start, len) in [
        (vec![5, 7], 1, 2, 3),
        (vec![5, 7], 0, 1, 3),
        (vec![1, 9], 1, 0, 9),
        (vec![2, 3, 4, 5], 2, 1, 2),
        (vec![3, 37], 1, 36, 1),
        (vec![2, 3, 4], 0, 1, 1),
    ] {
        all.push(example(
            &format!("slice {shape:?} along {axis} from {start} len {len}"),
            Op::Slice { axis, start, len },
            &[(&shape, N)],
        ));
    }
    for (shape, axis, before, after) in [
        (vec![4, 3], 1, 2, 1),
        (vec![2, 3, 4], 1, 0, 3),
        (vec![1, 5], 0, 1, 2),
        (vec![2, 3, 4, 5], 3, 3, 0),
    ] {
        all.push(example(
            &format!("pad {shape:?} along {axis} by {before}, {after}"),
            Op::Pad {
                axis,
                before,
                after,
            },
            &[(&shape, N)],
        ));
    }
    for (table, indices) in [
        (vec![5, 4], vec![6]),
        (vec![7, 3], vec![2, 3]),
        (vec![1, 5], vec![4]),
        (vec![6, 1], vec![1, 1]),
        (vec![4, 2, 3], vec![5]),
        (vec![11, 13], vec![3, 4, 2]),
    ] {
        let mut gather = example(
            &format!("gather {table:?} at {indices:?}"),
            Op::Gather,
            &[(&table, N), (&indices, Values::Index(table[0]))],
        );
        gather.differentiate = vec![true, false];
        all.push(gather);
        let mut values = indices.clone();
        values.extend_from_slice(&table[1..]);
        let mut scatter = example(
            &format!("scatter_add {values:?} at {indices:?} into {}", table[0]),
            Op::ScatterAdd { rows: table[0] },
            &[(&indices, Values::Index(table[0])), (&values, N)],
        );
        scatter.differentiate = vec![false, true];
        all.push(scatter);
    }
    all
}

/// The input kind the suite binds operand `i` to.
pub fn operand_kind(i: usize) -> InputKind {
    InputKind::Param(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every op the table defines (by mnemonic) has an example, except
    /// the structural ones.
    #[test]
    fn every_covered_op_has_an_example() {
        let listed: BTreeSet<&str> = examples().iter().map(|e| e.op.mnemonic()).collect();
        let structural = ["input", "fused", "kernel_output"];
        // Each variant's mnemonic, through an example value per variant;
        // `covered` is exhaustive, so a new variant fails to compile until
        // it is classified, and an example list without it fails here.
        for e in examples() {
            assert!(covered(&e.op), "{} is structural", e.label);
            let arity = e.op.def().arity;
            assert_eq!(arity, e.operands.len(), "{}: operand count", e.label);
        }
        for mnemonic in [
            "fill",
            "add",
            "sub",
            "mul",
            "div",
            "neg",
            "scale",
            "add_const",
            "exp",
            "log",
            "sqrt",
            "sign",
            "stop_gradient",
            "abs",
            "square",
            "pow",
            "maximum",
            "minimum",
            "greater",
            "greater_equal",
            "less",
            "less_equal",
            "equal",
            "not_equal",
            "sigmoid",
            "tanh",
            "relu",
            "step",
            "softmax",
            "gelu",
            "gelu_tanh",
            "softplus",
            "silu",
            "sigmoid_grad",
            "tanh_grad",
            "relu_grad",
            "softmax_grad",
            "gelu_grad",
            "gelu_tanh_grad",
            "silu_grad",
            "bias_add",
            "scale_by",
            "sum",
            "expand",
            "matmul",
            "batch_matmul",
            "concat",
            "slice",
            "pad",
            "gather",
            "scatter_add",
            "conv2d",
            "conv2d_input_grad",
            "conv2d_weight_grad",
            "max_pool",
            "avg_pool",
            "l2_pool",
            "max_pool_grad",
            "avg_pool_grad",
            "l2_pool_grad",
            "reshape",
            "dropout_mask",
            "random",
            "cost_quadratic",
            "cost_cross_entropy_grad",
            "correct_count",
        ] {
            assert!(listed.contains(mnemonic), "no example of {mnemonic}");
        }
        assert!(!structural.iter().any(|s| listed.contains(s)));
    }
}
