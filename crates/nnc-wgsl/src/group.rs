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
use nnc_ir::kernel_plan::{Member, Operand, Read};
use nnc_ir::scalar::{Bin, Scalar, Un};
use nnc_ir::Op;

/// A group (or a product's epilogue) ready to be written as WGSL: the
/// members of a kernel plan's group that one shader computes, their
/// operands renumbered for this shader ([`Operand::Read`] indexes
/// `reads`, [`Operand::Virtual`] indexes `virtuals`, [`Operand::Member`]
/// indexes `ops`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Group {
    /// The elements of the index space, and its row length.
    pub len: usize,
    pub cols: usize,
    /// The values read, and how.
    pub reads: Vec<(Loc, Read)>,
    /// Scalar ops computed first, in dependency order; their operands are
    /// reads with `Read::Scalar` and earlier virtuals.
    pub virtuals: Vec<Member>,
    pub ops: Vec<Member>,
    /// The ops whose values are stored, and where.
    pub stores: Vec<(usize, Loc)>,
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
            Read::Full | Read::Scalar => true,
            Read::Row | Read::Col => self.cols.is_multiple_of(4),
            Read::Channel { inner, .. } => inner.is_multiple_of(4),
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
                Read::Full | Read::Row if vec => Elem::Vec4,
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
                .operands
                .iter()
                .map(|src| match *src {
                    Operand::Read(r) => format!("{}[0]", bound.name(self.reads[r].0)),
                    Operand::Virtual(v) => format!("s{v}"),
                    Operand::Member(_) | Operand::Product => "0.0".to_string(),
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
            for src in &op.operands {
                args.push(match *src {
                    Operand::Read(r) => {
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
                            Read::Full => format!("{name}[{index}]"),
                            Read::Row => format!("{name}[{index} % {}]", u(cols)),
                            Read::Col => splat(format!("{name}[{index} / {}]", u(cols))),
                            Read::Channel { inner, channels } => {
                                let inner = if vec { inner / 4 } else { inner };
                                splat(format!(
                                    "{name}[({index} / {}) % {}]",
                                    u(inner),
                                    u(channels)
                                ))
                            }
                            Read::Scalar => splat(format!("{name}[0]")),
                        }
                    }
                    Operand::Member(k) => format!("v{k}"),
                    Operand::Virtual(k) => {
                        if vec {
                            format!("vec4<f32>(s{k})")
                        } else {
                            format!("s{k}")
                        }
                    }
                    Operand::Product => "acc".to_string(),
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

    /// How operand `index` of `op` (of shape `arg`) is read in a group of
    /// shape `out`, as the kernel plan decides.
    fn operand_bcast(op: &Op, index: usize, arg: &[usize], out: &[usize]) -> Option<Read> {
        op.operand_access(index, arg, out).map(|a| Read::of(a, out))
    }

    #[test]
    fn operands_broadcast_along_the_axes_their_op_names() {
        let out = [8, 10];
        assert_eq!(operand_bcast(&Op::Add, 1, &[8, 10], &out), Some(Read::Full));
        assert_eq!(operand_bcast(&Op::BiasAdd, 1, &[10], &out), Some(Read::Row));
        assert_eq!(
            operand_bcast(&Op::ScaleBy, 1, &[], &out),
            Some(Read::Scalar)
        );
        let expand_rows = Op::Expand {
            axes: vec![0],
            shape: vec![8, 10],
        };
        assert_eq!(operand_bcast(&expand_rows, 0, &[10], &out), Some(Read::Row));
        let expand_cols = Op::Expand {
            axes: vec![1],
            shape: vec![8, 10],
        };
        assert_eq!(operand_bcast(&expand_cols, 0, &[8], &out), Some(Read::Col));
        assert_eq!(
            operand_bcast(&Op::CostGrad(CostFn::Quadratic), 2, &[8], &out),
            Some(Read::Col)
        );
        // A bias along the channel axis of [b, c, h, w].
        assert_eq!(
            operand_bcast(&Op::BiasAdd, 1, &[4], &[2, 4, 3, 5]),
            Some(Read::Channel {
                inner: 15,
                channels: 4
            })
        );
        // A reshape reads its operand in the same flat order.
        let reshape = Op::Reshape { shape: vec![8, 10] };
        assert_eq!(
            operand_bcast(&reshape, 0, &[8, 2, 5], &out),
            Some(Read::Full)
        );
        // Nothing else broadcasts: an `add` of a row is not a bias.
        assert_eq!(operand_bcast(&Op::Add, 1, &[10], &out), None);
    }

    #[test]
    fn vec4_needs_whole_vectors_in_every_operand() {
        let full = Group {
            len: 64,
            cols: 16,
            reads: vec![(Loc::Upload(0), Read::Full), (Loc::Upload(1), Read::Row)],
            ..Group::default()
        };
        assert!(full.vectorizable());
        let odd_rows = Group {
            len: 60,
            cols: 10,
            reads: vec![(Loc::Upload(1), Read::Row)],
            ..Group::default()
        };
        assert!(!odd_rows.vectorizable());
        let channel = Group {
            len: 2 * 4 * 9,
            cols: 36,
            reads: vec![(
                Loc::Upload(1),
                Read::Channel {
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
