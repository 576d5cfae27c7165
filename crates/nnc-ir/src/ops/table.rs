//! The op table: every fact about every op, declared once.
//!
//! [`Op::def`] is one exhaustive `match` (the compiler checks that no op is
//! missing) giving each op's [`OpDef`]: its mnemonic, its arity, its class
//! (what kind of kernel computes it), its role in fusion, its shape rule,
//! its gradient rule and, for pointwise ops, its scalar formula and how
//! each operand is broadcast over the result. Every pass and backend reads
//! these facts from here; none keeps a list of ops of its own.
//!
//! Adding a pointwise op: a variant of [`Op`], a row here (a formula over
//! the [`crate::scalar`] primitives and a gradient rule, usually a
//! composite of existing ops), and, when the language exposes it, its name
//! in the checker. The interpreter, the CPU backend and the WGSL emitter
//! translate the formula; none of them changes.

use super::{
    activation, axis, conv, cost, dropout, elementwise, gather, layout, matmul, pool, reduce,
    source, CostFn, GeluForm, Op, ShapeError,
};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};
use crate::scalar::{arg, c, Cmp, Scalar};
use crate::window::PoolKind;
use std::ops::{Add, Div, Mul, Neg, Sub};

pub use super::access::{IndexTerm, OperandRead};

/// What kind of kernel computes an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpClass {
    /// A graph input, bound before a run.
    Source,
    /// Each element from the same position of its operands (broadcasts,
    /// reshapes and fills included), by its [`OpDef::formula`].
    Pointwise,
    /// Random values drawn per step (dropout masks).
    Random,
    /// A sum or a maximum over axes, or rows summed by index
    /// (`scatter_add`).
    Reduction,
    /// Values moved to other positions (a permutation of axes, slices,
    /// concatenation, padding, rows gathered by index).
    Layout,
    /// A matrix product (2-D, or one per batch position).
    Product,
    /// A sliding-window op over images: convolutions, pooling, their
    /// gradients.
    Spatial,
    /// A computation over each example's values together (softmax, costs
    /// that are not pointwise, the correct count).
    Row,
    /// A fused kernel or one of its outputs (after the `fuse` pass).
    Kernel,
}

/// How an op takes part in the `fuse` pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fusion {
    /// Outside every kernel (graph inputs).
    Input,
    /// Joins any kernel; kept in registers by compiled backends.
    Pointwise,
    /// A sum over axes: ends a loop, so nothing in its kernel reads it
    /// unless the kernel is a cost.
    Reduction,
    /// A matrix product: an anchor that an epilogue may follow.
    Product,
    /// A convolution's forward pass: an anchor that an epilogue may follow.
    Conv,
    /// A pooling: it may end a convolution's kernel.
    Pool,
    /// A pooling's gradient: an anchor that an epilogue may follow.
    PoolGrad,
    /// A cost, its gradient, or the correct count: the cost kernel.
    Cost,
    /// Kept in a kernel of its own.
    Single,
}

/// A gradient rule: given `dy`, the gradient with respect to `node`'s
/// value, appends nodes computing the gradient with respect to each
/// operand `i` for which `wants[i]` holds and returns them (`None`: zero
/// or not wanted).
pub type GradRule = fn(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError>;

/// Which result axes operand `i` of a broadcasting pointwise op runs
/// along, for a result of rank `rank` (see [`OpDef::operand_axes`]).
pub type OperandAxes = fn(op: &Op, operand: usize, rank: usize) -> Option<Vec<usize>>;

/// A shape rule: the output shape for these operand shapes.
pub type ShapeRule = fn(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError>;

/// How an op is differentiated.
#[derive(Clone, Copy)]
pub enum Gradient {
    /// By this rule.
    Rule(GradRule),
    /// Its gradient is zero everywhere (a step, a sign, a count, a mask).
    Zero,
    /// Not differentiable here: the op is itself a derivative (the
    /// language has no higher derivatives) or exists only after `fuse`.
    Undefined,
}

/// The facts of one op.
#[derive(Clone, Copy)]
pub struct OpDef {
    /// Its name in the text form.
    pub mnemonic: &'static str,
    /// The number of operands (of this op value: a `concat` carries its
    /// own, `parts`).
    pub arity: usize,
    pub class: OpClass,
    pub fusion: Fusion,
    pub shape: ShapeRule,
    pub gradient: Gradient,
    /// For pointwise ops: the value at one element from the operands'
    /// elements at that position.
    pub formula: Option<fn(&Op) -> Scalar>,
    /// For pointwise ops whose operands are not all of the result's shape:
    /// which axes of the result operand `i` runs along (`None`: all of
    /// them, the same shape; `Some(vec![])`: a scalar). See [`Op::operand_axes`].
    pub operand_axes: Option<OperandAxes>,
    /// Whether each result element sums products of operand elements (or,
    /// for `sum`, the elements themselves), so that running the op on the
    /// operands' magnitudes bounds each result's rounding error
    /// (`nnc run --verify`).
    pub sums_products: bool,
}

/// A pointwise op of `arity` operands all of the result's shape.
fn pointwise(
    mnemonic: &'static str,
    arity: usize,
    formula: fn(&Op) -> Scalar,
    gradient: Gradient,
) -> OpDef {
    OpDef {
        mnemonic,
        arity,
        class: OpClass::Pointwise,
        fusion: Fusion::Pointwise,
        shape: elementwise::shape,
        gradient,
        formula: Some(formula),
        operand_axes: None,
        sums_products: false,
    }
}

/// An op that is not pointwise.
fn other(
    mnemonic: &'static str,
    arity: usize,
    class: OpClass,
    fusion: Fusion,
    shape: ShapeRule,
    gradient: Gradient,
) -> OpDef {
    OpDef {
        mnemonic,
        arity,
        class,
        fusion,
        shape,
        gradient,
        formula: None,
        operand_axes: None,
        sums_products: false,
    }
}

/// `x > 0 ? then : 0`.
fn positive(x: Scalar, then: Scalar) -> Scalar {
    x.select(Cmp::Gt, c(0.0), then, c(0.0))
}

/// `1 / sqrt(2)`.
const FRAC_1_SQRT_2: f64 = std::f64::consts::FRAC_1_SQRT_2;
/// `sqrt(2 / pi)`, the tanh approximation's scale.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The tanh approximation's cubic coefficient.
const GELU_CUBIC: f64 = 0.044_715;
/// `1 / sqrt(2 pi)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `x^p` as products for small integer `p`, else `e^(p ln x)` for `x > 0`
/// and `0` elsewhere.
pub fn pow_formula(p: f64) -> Scalar {
    let x = arg(0);
    if p.fract() == 0.0 && p.abs() <= 8.0 {
        let n = p.abs() as usize;
        let mut product = if n == 0 { c(1.0) } else { x.clone() };
        for _ in 1..n {
            product = product.mul(x.clone());
        }
        if p < 0.0 {
            c(1.0).div(product)
        } else {
            product
        }
    } else {
        positive(x.clone(), c(p).mul(x.log()).exp())
    }
}

/// `gelu(x)`.
fn gelu_formula(form: GeluForm) -> Scalar {
    let x = arg(0);
    let half_x = c(0.5).mul(x.clone());
    match form {
        GeluForm::Erf => half_x.mul(c(1.0).add(x.mul(c(FRAC_1_SQRT_2)).erf())),
        GeluForm::Tanh => {
            let cube = x.clone().mul(x.clone()).mul(x.clone());
            let u = c(SQRT_2_OVER_PI).mul(x.add(c(GELU_CUBIC).mul(cube)));
            half_x.mul(c(1.0).add(u.tanh()))
        }
    }
}

/// `dy gelu'(x)` of operands `(x, dy)`.
fn gelu_grad_formula(form: GeluForm) -> Scalar {
    let (x, dy) = (arg(0), arg(1));
    let derivative = match form {
        // Phi(x) + x phi(x)
        GeluForm::Erf => {
            let cdf = c(0.5).mul(c(1.0).add(x.clone().mul(c(FRAC_1_SQRT_2)).erf()));
            let density = c(FRAC_1_SQRT_2PI).mul(c(-0.5).mul(x.clone()).mul(x.clone()).exp());
            cdf.add(x.mul(density))
        }
        // 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3))
        GeluForm::Tanh => {
            let x2 = x.clone().mul(x.clone());
            let u =
                c(SQRT_2_OVER_PI).mul(x.clone().add(c(GELU_CUBIC).mul(x2.clone().mul(x.clone()))));
            let t = u.tanh();
            let du = c(SQRT_2_OVER_PI).mul(c(1.0).add(c(3.0 * GELU_CUBIC).mul(x2)));
            let left = c(0.5).mul(c(1.0).add(t.clone()));
            let right = c(0.5).mul(x).mul(c(1.0).sub(t.clone().mul(t))).mul(du);
            left.add(right)
        }
    };
    dy.mul(derivative)
}

/// The per-element gradient of a pointwise cost, times the example's `dy`:
/// operands `(prediction, target, dy)`.
fn cost_grad_formula(cost: CostFn) -> Scalar {
    let (p, y, d) = (arg(0), arg(1), arg(2));
    let g = match cost {
        CostFn::Quadratic => p.sub(y),
        CostFn::CrossEntropy => {
            let p = p.max(c(CostFn::CLAMP)).min(c(1.0 - CostFn::CLAMP));
            p.clone().sub(y).div(p.clone().mul(c(1.0).sub(p)))
        }
        CostFn::SigmoidCrossEntropy => p.sigmoid().sub(y),
        CostFn::LogLikelihood | CostFn::SoftmaxLogLikelihood => {
            y.neg().div(p.max(c(CostFn::FLOOR)))
        }
    };
    g.mul(d)
}

/// The formula of a pointwise op (see [`OpDef::formula`]).
fn formula(op: &Op) -> Scalar {
    let (x, y) = (arg(0), arg(1));
    match *op {
        Op::Fill { value, .. } => c(value),
        Op::Add | Op::BiasAdd => x.add(y),
        Op::Sub => x.sub(y),
        Op::Mul => x.mul(y),
        Op::Div => x.div(y),
        Op::Neg => x.neg(),
        Op::StopGradient => x,
        Op::Scale(s) => c(s).mul(x),
        Op::AddConst(s) => x.add(c(s)),
        Op::Exp => x.exp(),
        Op::Log => x.log(),
        Op::Sqrt => x.sqrt(),
        Op::Abs => x.abs(),
        Op::Square => x.clone().mul(x),
        Op::Pow(p) => pow_formula(p),
        Op::Maximum => x.max(y),
        Op::Minimum => x.min(y),
        Op::Compare(cmp) => x.select(cmp, y, c(1.0), c(0.0)),
        Op::Sign => x.clone().select(
            Cmp::Gt,
            c(0.0),
            c(1.0),
            x.select(Cmp::Lt, c(0.0), c(-1.0), c(0.0)),
        ),
        Op::Sigmoid => x.sigmoid(),
        Op::Tanh => x.tanh(),
        Op::Relu => positive(x.clone(), x),
        Op::Step => positive(x, c(1.0)),
        Op::Gelu(form) => gelu_formula(form),
        Op::Softplus => x
            .clone()
            .max(c(0.0))
            .add(c(1.0).add(x.abs().neg().exp()).log()),
        Op::Silu => x.clone().mul(x.sigmoid()),
        // (y, dy)
        Op::SigmoidGrad => y.mul(x.clone()).mul(c(1.0).sub(x)),
        Op::TanhGrad => y.mul(c(1.0).sub(x.clone().mul(x))),
        // (x, dy)
        Op::ReluGrad => positive(x, y),
        Op::GeluGrad(form) => gelu_grad_formula(form),
        Op::SiluGrad => {
            let s = x.clone().sigmoid();
            y.mul(s.clone()).mul(c(1.0).add(x.mul(c(1.0).sub(s))))
        }
        Op::ScaleBy => y.mul(x),
        Op::Expand { .. } | Op::Reshape { .. } => x,
        Op::CostGrad(cost) => cost_grad_formula(cost),
        // Only pointwise ops have a formula; `def` gives it to no other.
        _ => c(0.0),
    }
}

/// The broadcast operands of pointwise ops (see [`OpDef::operand_axes`]).
fn operand_axes(op: &Op, operand: usize, rank: usize) -> Option<Vec<usize>> {
    match (op, operand) {
        // A bias along axis 1 (features of `[b, n]`, channels of images).
        (Op::BiasAdd, 1) => Some(vec![1]),
        (Op::ScaleBy, 1) => Some(Vec::new()),
        // The kept axes of the result.
        (Op::Expand { axes, .. }, 0) => Some((0..rank).filter(|a| !axes.contains(a)).collect()),
        // One `dy` per example.
        (Op::CostGrad(_), 2) => Some(vec![0]),
        _ => None,
    }
}

fn kernel_shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    match op {
        Op::Fused(kernel) => kernel.shape(inputs),
        Op::KernelOutput { shape, .. } => {
            super::arity(inputs, 1)?;
            Ok(shape.clone())
        }
        _ => Err(ShapeError::Invalid("not a kernel op")),
    }
}

impl Op {
    /// The facts of this op: the table's row.
    pub fn def(&self) -> OpDef {
        use Gradient::{Rule, Undefined, Zero};
        use OpClass as C;
        let binary = |m| pointwise(m, 2, formula, Rule(elementwise::gradient));
        let unary = |m| pointwise(m, 1, formula, Rule(elementwise::gradient));
        let act = |m| {
            let mut d = pointwise(m, 1, formula, Rule(activation::gradient));
            d.shape = activation::shape;
            d
        };
        let act_grad = |m| {
            let mut d = pointwise(m, 2, formula, Undefined);
            d.shape = activation::shape;
            d
        };
        let broadcast = |m, arity, gradient| OpDef {
            shape: reduce::shape,
            operand_axes: Some(operand_axes),
            ..pointwise(m, arity, formula, gradient)
        };
        match self {
            Op::Input { .. } => other("input", 0, C::Source, Fusion::Input, source::shape, Zero),
            Op::Fill { .. } => OpDef {
                shape: source::shape,
                ..pointwise("fill", 0, formula, Zero)
            },
            Op::Add => binary("add"),
            Op::Sub => binary("sub"),
            Op::Mul => binary("mul"),
            Op::Div => binary("div"),
            Op::Maximum => binary("maximum"),
            Op::Minimum => binary("minimum"),
            Op::Compare(cmp) => pointwise(
                match cmp {
                    Cmp::Gt => "greater",
                    Cmp::Ge => "greater_equal",
                    Cmp::Lt => "less",
                    Cmp::Le => "less_equal",
                    Cmp::Eq => "equal",
                    Cmp::Ne => "not_equal",
                },
                2,
                formula,
                Zero,
            ),
            Op::Neg => unary("neg"),
            Op::Scale(_) => unary("scale"),
            Op::AddConst(_) => unary("add_const"),
            Op::Exp => unary("exp"),
            Op::Log => unary("log"),
            Op::Sqrt => unary("sqrt"),
            Op::Abs => unary("abs"),
            Op::Square => unary("square"),
            Op::Pow(_) => unary("pow"),
            Op::Sign => pointwise("sign", 1, formula, Zero),
            Op::StopGradient => pointwise("stop_gradient", 1, formula, Zero),
            Op::Sigmoid => act("sigmoid"),
            Op::Tanh => act("tanh"),
            Op::Relu => act("relu"),
            Op::Step => OpDef {
                gradient: Zero,
                ..act("step")
            },
            Op::Gelu(GeluForm::Erf) => act("gelu"),
            Op::Gelu(GeluForm::Tanh) => act("gelu_tanh"),
            Op::Softplus => act("softplus"),
            Op::Silu => act("silu"),
            Op::SigmoidGrad => act_grad("sigmoid_grad"),
            Op::TanhGrad => act_grad("tanh_grad"),
            Op::ReluGrad => act_grad("relu_grad"),
            Op::GeluGrad(GeluForm::Erf) => act_grad("gelu_grad"),
            Op::GeluGrad(GeluForm::Tanh) => act_grad("gelu_tanh_grad"),
            Op::SiluGrad => act_grad("silu_grad"),
            Op::Softmax => other(
                "softmax",
                1,
                C::Row,
                Fusion::Single,
                activation::shape,
                Rule(activation::gradient),
            ),
            Op::SoftmaxGrad => other(
                "softmax_grad",
                2,
                C::Row,
                Fusion::Single,
                activation::shape,
                Undefined,
            ),
            Op::BiasAdd => broadcast("bias_add", 2, Rule(reduce::gradient)),
            Op::ScaleBy => broadcast("scale_by", 2, Rule(reduce::gradient)),
            Op::Expand { .. } => broadcast("expand", 1, Rule(reduce::gradient)),
            Op::SumAxes { .. } => OpDef {
                sums_products: true,
                ..other(
                    "sum",
                    1,
                    C::Reduction,
                    Fusion::Reduction,
                    reduce::shape,
                    Rule(reduce::gradient),
                )
            },
            Op::MaxAxes { .. } => other(
                "max",
                1,
                C::Reduction,
                Fusion::Single,
                reduce::shape,
                Rule(reduce::gradient),
            ),
            Op::MatMul { .. } => OpDef {
                sums_products: true,
                ..other(
                    "matmul",
                    2,
                    C::Product,
                    Fusion::Product,
                    matmul::shape,
                    Rule(matmul::gradient),
                )
            },
            Op::BatchMatMul { .. } => OpDef {
                sums_products: true,
                ..other(
                    "batch_matmul",
                    2,
                    C::Product,
                    Fusion::Single,
                    matmul::shape,
                    Rule(matmul::gradient),
                )
            },
            Op::Conv2d { .. } => OpDef {
                sums_products: true,
                ..other(
                    "conv2d",
                    2,
                    C::Spatial,
                    Fusion::Conv,
                    conv::shape,
                    Rule(conv::gradient),
                )
            },
            Op::Conv2dInputGrad { .. } => OpDef {
                sums_products: true,
                ..other(
                    "conv2d_input_grad",
                    2,
                    C::Spatial,
                    Fusion::Single,
                    conv::shape,
                    Rule(conv::input_grad_gradient),
                )
            },
            Op::Conv2dWeightGrad { .. } => OpDef {
                sums_products: true,
                ..other(
                    "conv2d_weight_grad",
                    2,
                    C::Spatial,
                    Fusion::Single,
                    conv::shape,
                    Undefined,
                )
            },
            Op::Pool(g) => other(
                match g.kind {
                    PoolKind::Max => "max_pool",
                    PoolKind::Average => "avg_pool",
                    PoolKind::L2 => "l2_pool",
                },
                1,
                C::Spatial,
                Fusion::Pool,
                pool::shape,
                Rule(pool::gradient),
            ),
            Op::PoolGrad(g) => other(
                match g.kind {
                    PoolKind::Max => "max_pool_grad",
                    PoolKind::Average => "avg_pool_grad",
                    PoolKind::L2 => "l2_pool_grad",
                },
                3,
                C::Spatial,
                Fusion::PoolGrad,
                pool::shape,
                Undefined,
            ),
            Op::Reshape { .. } => OpDef {
                shape: layout::shape,
                ..pointwise("reshape", 1, formula, Rule(layout::gradient))
            },
            Op::Permute { .. } => other(
                "permute",
                1,
                C::Layout,
                Fusion::Single,
                layout::shape,
                Rule(layout::gradient),
            ),
            Op::Concat { parts, .. } => {
                let gradient = Rule(axis::gradient);
                other(
                    "concat",
                    *parts,
                    C::Layout,
                    Fusion::Single,
                    axis::shape,
                    gradient,
                )
            }
            Op::Slice { .. } => {
                let gradient = Rule(axis::gradient);
                other("slice", 1, C::Layout, Fusion::Single, axis::shape, gradient)
            }
            Op::Pad { .. } => {
                let gradient = Rule(axis::gradient);
                other("pad", 1, C::Layout, Fusion::Single, axis::shape, gradient)
            }
            Op::Gather => {
                let gradient = Rule(gather::gradient);
                other(
                    "gather",
                    2,
                    C::Layout,
                    Fusion::Single,
                    gather::shape,
                    gradient,
                )
            }
            Op::ScatterAdd { .. } => {
                let gradient = Rule(gather::gradient);
                let class = C::Reduction;
                other(
                    "scatter_add",
                    2,
                    class,
                    Fusion::Single,
                    gather::shape,
                    gradient,
                )
            }
            Op::DropoutMask { .. } => other(
                "dropout_mask",
                1,
                C::Random,
                Fusion::Pointwise,
                dropout::shape,
                Zero,
            ),
            Op::Random { .. } => other(
                "random",
                1,
                C::Random,
                Fusion::Pointwise,
                dropout::shape,
                Zero,
            ),
            Op::Cost(cost) => other(
                match cost {
                    CostFn::Quadratic => "cost_quadratic",
                    CostFn::CrossEntropy => "cost_cross_entropy",
                    CostFn::SigmoidCrossEntropy => "cost_sigmoid_cross_entropy",
                    CostFn::LogLikelihood => "cost_log_likelihood",
                    CostFn::SoftmaxLogLikelihood => "cost_softmax_log_likelihood",
                },
                2,
                C::Row,
                Fusion::Cost,
                cost::shape,
                Rule(cost::gradient),
            ),
            Op::CostGrad(cost) => {
                let mnemonic = match cost {
                    CostFn::Quadratic => "cost_quadratic_grad",
                    CostFn::CrossEntropy => "cost_cross_entropy_grad",
                    CostFn::SigmoidCrossEntropy => "cost_sigmoid_cross_entropy_grad",
                    CostFn::LogLikelihood => "cost_log_likelihood_grad",
                    CostFn::SoftmaxLogLikelihood => "cost_softmax_log_likelihood_grad",
                };
                if *cost == CostFn::SoftmaxLogLikelihood {
                    // softmax(z) needs the whole example: a row kernel.
                    other(mnemonic, 3, C::Row, Fusion::Cost, cost::shape, Undefined)
                } else {
                    OpDef {
                        fusion: Fusion::Cost,
                        shape: cost::shape,
                        operand_axes: Some(operand_axes),
                        ..pointwise(mnemonic, 3, formula, Undefined)
                    }
                }
            }
            Op::CorrectCount => other("correct_count", 2, C::Row, Fusion::Cost, cost::shape, Zero),
            Op::Fused(_) => other(
                "fused",
                0,
                C::Kernel,
                Fusion::Single,
                kernel_shape,
                Undefined,
            ),
            Op::KernelOutput { .. } => other(
                "kernel_output",
                1,
                C::Kernel,
                Fusion::Single,
                kernel_shape,
                Undefined,
            ),
        }
    }

    /// The op's class (see [`OpClass`]).
    pub fn class(&self) -> OpClass {
        self.def().class
    }

    /// Whether the op is pointwise: computed at each element by its
    /// formula from the same position of its operands (broadcasts,
    /// reshapes and fills included). The fusion pass, the memory planner
    /// and every backend ask this one question.
    pub fn is_pointwise(&self) -> bool {
        self.def().class == OpClass::Pointwise
    }

    /// The scalar formula of a pointwise op.
    pub fn formula(&self) -> Option<Scalar> {
        self.def().formula.map(|f| f(self))
    }

    /// For operand `operand` of a pointwise op whose result has rank
    /// `rank`: the result axes the operand runs along, in order (`None`:
    /// the operand has the result's shape, or for `reshape` its number of
    /// values, read in the same order; an empty list: one value for all).
    /// An operand of shape `[]` is always read as one value.
    pub fn operand_axes(&self, operand: usize, rank: usize) -> Option<Vec<usize>> {
        self.def().operand_axes.and_then(|f| f(self, operand, rank))
    }
}
