//! Pointwise groups: a run of elementwise body ops over one index space,
//! emitted as one shader that keeps intermediate values in registers and
//! stores only the values needed outside the group. The same machinery
//! writes the epilogue of a matrix product (the group then starts from the
//! product's accumulator instead of a load).
//!
//! The index space of a value of shape `[b, ...]` is flat (`i` in
//! `0..len`), seen as `rows x cols` with `rows = b` for broadcasts. An
//! operand is read at `i` (full), at `i % cols` (a row broadcast: a bias
//! or an `expand` over the batch), at `i / cols` (a column broadcast: one
//! value per example), at `(i / inner) % channels` (a bias along the
//! channel axis of `[b, c, h, w]`), or at `0` (a scalar).
//!
//! Scalar ops of a kernel (learning-rate arithmetic, Adam's bias
//! corrections, the cost's `1 / batch`) are *virtual*: every shader that
//! needs one computes it inline, once per invocation, instead of storing
//! it from a dispatch of its own.

use crate::loc::Loc;
use crate::wgsl::{f32_lit, u, Elem, Shader};
use nnc_ir::scalar::{Bin, Scalar, Un};
use nnc_ir::{Op, OperandRead};

/// How an operand is indexed at flat position `i` of the group's space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Bcast {
    Full,
    /// `i % cols`.
    Row,
    /// `i / cols`.
    Col,
    /// `(i / inner) % channels`.
    Channel {
        inner: usize,
        channels: usize,
    },
    Scalar,
}

/// An operand of a group op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    /// Read `k` of the group.
    Read(usize),
    /// Group op `j` (an earlier one).
    Op(usize),
    /// Virtual scalar `k` of the group (see [`Group::virtuals`]).
    Virtual(usize),
    /// The matrix product's accumulator (epilogues only).
    Acc,
}

#[derive(Clone, Debug)]
pub(crate) struct GroupOp {
    pub op: Op,
    pub args: Vec<Src>,
}

/// A group ready to be written as WGSL.
#[derive(Clone, Debug, Default)]
pub(crate) struct Group {
    /// The elements of the index space, and its row length.
    pub len: usize,
    pub cols: usize,
    /// The values read, and how.
    pub reads: Vec<(Loc, Bcast)>,
    /// Scalar ops computed first, in dependency order; their operands are
    /// reads with `Bcast::Scalar` and earlier virtuals.
    pub virtuals: Vec<GroupOp>,
    pub ops: Vec<GroupOp>,
    /// The ops whose values are stored, and where.
    pub stores: Vec<(usize, Loc)>,
}

/// Whether the group machinery computes `op`: a pointwise op of the op
/// table.
pub(crate) fn is_pointwise(op: &Op) -> bool {
    op.is_pointwise()
}

/// How operand `index` of pointwise `op` (of shape `arg`) is read when
/// the op's value has shape `out`; `None` when no broadcast fits.
pub(crate) fn operand_bcast(op: &Op, index: usize, arg: &[usize], out: &[usize]) -> Option<Bcast> {
    let count = |s: &[usize]| s.iter().product::<usize>();
    let cols = if out.len() >= 2 {
        count(&out[1..])
    } else {
        count(out)
    };
    let rows = out.first().copied().unwrap_or(1);
    Some(match op.operand_access(index, arg, out)? {
        OperandRead::Full => Bcast::Full,
        OperandRead::Scalar => Bcast::Scalar,
        OperandRead::Strided { inner: 1, len } if len == cols && out.len() >= 2 => Bcast::Row,
        OperandRead::Strided { inner, len } if inner == cols && len == rows => Bcast::Col,
        OperandRead::Strided { inner, len } => Bcast::Channel {
            inner,
            channels: len,
        },
    })
}

/// The expression of pointwise `op` on operands `a` (identifiers or
/// literals of the group's element type): its formula from the op table
/// as WGSL. `vec`: the type is `vec4<f32>`.
pub(crate) fn expr(op: &Op, a: &[String], vec: bool) -> Option<String> {
    let formula = op.formula()?;
    if formula.arity() > a.len() {
        return None;
    }
    let formula = if formula.uses_erf() {
        formula.expand_erf()
    } else {
        formula
    };
    Some(render(&formula, a, vec).0)
}

/// Whether `text` is one operand (a name, an indexed load, a literal)
/// that needs no parentheses after a unary minus.
fn atom(text: &str) -> bool {
    !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '[' | ']' | '.'))
}

/// Operator precedence of rendered text: a call, a load or a literal
/// binds tightest; then products and quotients; then sums.
const ATOM: u8 = 0;
const PRODUCT: u8 = 1;
const SUM: u8 = 2;

/// A scalar formula as WGSL text over the operand texts `a`, with its
/// precedence. Parentheses are written where WGSL's precedence would
/// otherwise regroup the formula (left-associative `+ -` and `* /`), so
/// the operations happen in the formula's order.
fn render(f: &Scalar, a: &[String], vec: bool) -> (String, u8) {
    let r = |f: &Scalar| render(f, a, vec);
    let wrap = |(text, prec): (String, u8), limit: u8| {
        if prec > limit {
            format!("({text})")
        } else {
            text
        }
    };
    let lit = |v: f64| {
        if vec {
            format!("vec4<f32>({})", f32_lit(v))
        } else {
            f32_lit(v)
        }
    };
    match f {
        Scalar::Arg(i) => (a[*i].clone(), ATOM),
        Scalar::Const(v) => (lit(*v), ATOM),
        Scalar::Un(op, x) => {
            let (x, _) = r(x);
            let neg = if atom(&x) {
                format!("-{x}")
            } else {
                format!("-({x})")
            };
            match op {
                Un::Neg => (neg, ATOM),
                Un::Abs => (format!("abs({x})"), ATOM),
                Un::Sqrt => (format!("sqrt({x})"), ATOM),
                Un::Exp => (format!("exp({x})"), ATOM),
                Un::Log => (format!("log({x})"), ATOM),
                Un::Sigmoid => (format!("1.0 / (1.0 + exp({neg}))"), PRODUCT),
                // tanh through e^(-2|x|), which never overflows.
                Un::Tanh => (
                    format!(
                        "sign({x}) * (1.0 - exp(-2.0 * abs({x}))) / (1.0 + exp(-2.0 * abs({x})))"
                    ),
                    PRODUCT,
                ),
                // Expanded into primitives by `expr`.
                Un::Erf => (format!("sign({x})"), ATOM),
            }
        }
        Scalar::Bin(op, x, y) => {
            let (x, y) = (r(x), r(y));
            match op {
                Bin::Add | Bin::Sub => {
                    let sign = if *op == Bin::Add { "+" } else { "-" };
                    (format!("{} {sign} {}", wrap(x, SUM), wrap(y, PRODUCT)), SUM)
                }
                Bin::Mul | Bin::Div => {
                    let sign = if *op == Bin::Mul { "*" } else { "/" };
                    (
                        format!("{} {sign} {}", wrap(x, PRODUCT), wrap(y, ATOM)),
                        PRODUCT,
                    )
                }
                Bin::Max => (format!("max({}, {})", x.0, y.0), ATOM),
                Bin::Min => (format!("min({}, {})", x.0, y.0), ATOM),
            }
        }
        Scalar::Select {
            cmp,
            a: x,
            b: y,
            then,
            otherwise,
        } => (
            format!(
                "select({}, {}, {} {} {})",
                r(otherwise).0,
                r(then).0,
                r(x).0,
                cmp.symbol(),
                r(y).0
            ),
            ATOM,
        ),
    }
}

/// How the shader of a group binds its values: the binding name of each
/// `Loc` and the element type it is declared with.
pub(crate) struct Bound {
    pub locs: Vec<(Loc, Elem)>,
}

impl Bound {
    pub fn name(&self, loc: Loc) -> String {
        let k = self.locs.iter().position(|(l, _)| *l == loc).unwrap_or(0);
        format!("b{k}")
    }
}

impl Group {
    /// Whether every read and store can use `vec4<f32>`: the length and
    /// the row length are multiples of 4, and no operand is broadcast per
    /// column or per channel in a way that splits a vector.
    pub fn vectorizable(&self) -> bool {
        if !self.len.is_multiple_of(4) || self.len < 4 {
            return false;
        }
        self.reads.iter().all(|(_, b)| match b {
            Bcast::Full | Bcast::Scalar => true,
            Bcast::Row | Bcast::Col => self.cols.is_multiple_of(4),
            Bcast::Channel { inner, .. } => inner.is_multiple_of(4),
        })
    }

    /// The element type each distinct location is bound with.
    pub fn elems(&self, vec: bool) -> Vec<(Loc, Elem)> {
        let mut out: Vec<(Loc, Elem)> = Vec::new();
        let mut add = |loc: Loc, elem: Elem| {
            if !out.iter().any(|(l, _)| *l == loc) {
                out.push((loc, elem));
            }
        };
        for &(loc, b) in &self.reads {
            let elem = match b {
                Bcast::Full | Bcast::Row if vec => Elem::Vec4,
                _ => Elem::F32,
            };
            add(loc, elem);
        }
        for &(_, loc) in &self.stores {
            add(loc, if vec { Elem::Vec4 } else { Elem::F32 });
        }
        out
    }

    /// Emits the virtual scalars (`s0`, `s1`, ...) into `shader`.
    pub fn emit_virtuals(&self, shader: &mut Shader, bound: &Bound) -> Option<()> {
        for (k, op) in self.virtuals.iter().enumerate() {
            let args: Vec<String> = op
                .args
                .iter()
                .map(|src| match *src {
                    Src::Read(r) => format!("{}[0]", bound.name(self.reads[r].0)),
                    Src::Virtual(v) => format!("s{v}"),
                    Src::Op(_) | Src::Acc => "0.0".to_string(),
                })
                .collect();
            let value = expr(&op.op, &args, false)?;
            shader.line(format!("let s{k} = {value};"));
        }
        Some(())
    }

    /// Emits the group's ops for flat element `i` (or vector `i` of four
    /// elements when `vec`), reading the accumulator `acc` if an op uses
    /// it, and the stores. Values are `v0`, `v1`, ...
    pub fn emit_ops(
        &self,
        shader: &mut Shader,
        bound: &Bound,
        vec: bool,
        index: &str,
    ) -> Option<()> {
        let ty = if vec { "vec4<f32>" } else { "f32" };
        let cols = if vec { self.cols / 4 } else { self.cols };
        for (j, op) in self.ops.iter().enumerate() {
            let mut args = Vec::new();
            for src in &op.args {
                args.push(match *src {
                    Src::Read(r) => {
                        let (loc, b) = self.reads[r];
                        let name = bound.name(loc);
                        let splat = |e: String| {
                            if vec {
                                format!("vec4<f32>({e})")
                            } else {
                                e
                            }
                        };
                        match b {
                            Bcast::Full => format!("{name}[{index}]"),
                            Bcast::Row => format!("{name}[{index} % {}]", u(cols)),
                            Bcast::Col => splat(format!("{name}[{index} / {}]", u(cols))),
                            Bcast::Channel { inner, channels } => {
                                let inner = if vec { inner / 4 } else { inner };
                                splat(format!(
                                    "{name}[({index} / {}) % {}]",
                                    u(inner),
                                    u(channels)
                                ))
                            }
                            Bcast::Scalar => splat(format!("{name}[0]")),
                        }
                    }
                    Src::Op(k) => format!("v{k}"),
                    Src::Virtual(k) => {
                        if vec {
                            format!("vec4<f32>(s{k})")
                        } else {
                            format!("s{k}")
                        }
                    }
                    Src::Acc => "acc".to_string(),
                });
            }
            let value = expr(&op.op, &args, vec)?;
            shader.line(format!("let v{j}: {ty} = {value};"));
        }
        for &(j, loc) in &self.stores {
            shader.line(format!("{}[{index}] = v{j};", bound.name(loc)));
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nnc_ir::CostFn;

    #[test]
    fn operands_broadcast_along_the_axes_their_op_names() {
        let out = [8, 10];
        assert_eq!(
            operand_bcast(&Op::Add, 1, &[8, 10], &out),
            Some(Bcast::Full)
        );
        assert_eq!(
            operand_bcast(&Op::BiasAdd, 1, &[10], &out),
            Some(Bcast::Row)
        );
        assert_eq!(
            operand_bcast(&Op::ScaleBy, 1, &[], &out),
            Some(Bcast::Scalar)
        );
        let expand_rows = Op::Expand {
            axes: vec![0],
            shape: vec![8, 10],
        };
        assert_eq!(
            operand_bcast(&expand_rows, 0, &[10], &out),
            Some(Bcast::Row)
        );
        let expand_cols = Op::Expand {
            axes: vec![1],
            shape: vec![8, 10],
        };
        assert_eq!(operand_bcast(&expand_cols, 0, &[8], &out), Some(Bcast::Col));
        assert_eq!(
            operand_bcast(&Op::CostGrad(CostFn::Quadratic), 2, &[8], &out),
            Some(Bcast::Col)
        );
        // A bias along the channel axis of [b, c, h, w].
        assert_eq!(
            operand_bcast(&Op::BiasAdd, 1, &[4], &[2, 4, 3, 5]),
            Some(Bcast::Channel {
                inner: 15,
                channels: 4
            })
        );
        // A reshape reads its operand in the same flat order.
        let reshape = Op::Reshape { shape: vec![8, 10] };
        assert_eq!(
            operand_bcast(&reshape, 0, &[8, 2, 5], &out),
            Some(Bcast::Full)
        );
        // Nothing else broadcasts: an `add` of a row is not a bias.
        assert_eq!(operand_bcast(&Op::Add, 1, &[10], &out), None);
    }

    #[test]
    fn vec4_needs_whole_vectors_in_every_operand() {
        let full = Group {
            len: 64,
            cols: 16,
            reads: vec![(Loc::Upload(0), Bcast::Full), (Loc::Upload(1), Bcast::Row)],
            ..Group::default()
        };
        assert!(full.vectorizable());
        let odd_rows = Group {
            len: 60,
            cols: 10,
            reads: vec![(Loc::Upload(1), Bcast::Row)],
            ..Group::default()
        };
        assert!(!odd_rows.vectorizable());
        let channel = Group {
            len: 2 * 4 * 9,
            cols: 36,
            reads: vec![(
                Loc::Upload(1),
                Bcast::Channel {
                    inner: 9,
                    channels: 4,
                },
            )],
            ..Group::default()
        };
        assert!(!channel.vectorizable());
    }

    #[test]
    fn expressions_are_typed_for_vectors() {
        let a = ["x".to_string(), "y".to_string()];
        assert_eq!(
            expr(&Op::Relu, &a, true).unwrap(),
            "select(vec4<f32>(0.0), x, x > vec4<f32>(0.0))"
        );
        assert_eq!(expr(&Op::Scale(0.5), &a, false).unwrap(), "0.5 * x");
        assert_eq!(expr(&Op::Softmax, &a, false), None);
    }
}
