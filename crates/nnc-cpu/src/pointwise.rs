//! Pointwise groups: a run of elementwise body ops of one output shape,
//! compiled into a single loop nest that keeps intermediate values in
//! registers and stores only the values needed outside the group.
//!
//! The loop domain is `rows x cols`: for a `[b, n]` value `b` rows of `n`,
//! for `[n]` one row, for a scalar one element. Operands are read as full
//! tensors, as a row broadcast over the rows (a bias), as a column
//! broadcast over the columns (one value per example), or as one scalar.
//! Columns are processed four at a time, then one at a time for the rest.

use crate::error::LowerError;
use nnc_ir::{CostFn, Op};
use nnc_jit::{Access, Affine, BufId, CmpOp, Expr, Kernel, LoopVar, Stmt, Ty, UnOp, VarId};

/// How a read buffer is indexed at element `[r, c]` of the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Bcast {
    /// The element `[r, c]` itself.
    Full,
    /// Element `c`, the same for every row.
    Row,
    /// Element `r`, the same for every column.
    Col,
    /// Element `0`.
    Scalar,
}

/// An operand of a group op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    /// Read buffer `k` of the group (see [`Group::reads`]).
    Read(usize),
    /// The value of group op `j` (an earlier one).
    Op(usize),
}

/// One op of a group.
#[derive(Clone, Debug)]
pub(crate) struct GroupOp {
    pub op: Op,
    pub args: Vec<Src>,
}

/// A pointwise group ready to be built into a kernel.
#[derive(Clone, Debug, Default)]
pub(crate) struct Group {
    pub rows: usize,
    pub cols: usize,
    /// The read buffers: their lengths and how they are indexed.
    pub reads: Vec<(usize, Bcast)>,
    pub ops: Vec<GroupOp>,
    /// The group ops whose values are stored, one write buffer each.
    pub stores: Vec<usize>,
}

impl Group {
    /// The kernel of the group. Buffers: the reads in order, then one
    /// written buffer per stored value.
    pub fn kernel(&self, name: &str) -> Result<Kernel, LowerError> {
        let mut k = Kernel::new(name);
        let reads: Vec<(BufId, Bcast)> = self
            .reads
            .iter()
            .enumerate()
            .map(|(i, &(len, b))| (k.buffer(format!("in{i}"), len, Access::Read), b))
            .collect();
        let len = self.rows * self.cols;
        let outs: Vec<BufId> = self
            .stores
            .iter()
            .enumerate()
            .map(|(i, _)| k.buffer(format!("out{i}"), len, Access::Write))
            .collect();
        // Without row or column broadcasts the data is one contiguous run.
        let two_d = reads
            .iter()
            .any(|(_, b)| matches!(b, Bcast::Row | Bcast::Col));
        let (rows, cols) = if two_d {
            (self.rows, self.cols)
        } else {
            (1, len)
        };
        let vector_end = cols / 4 * 4;
        let mut regions = Vec::new();
        if vector_end > 0 {
            regions.push((0, vector_end, 4, Ty::F32x4));
        }
        if vector_end < cols {
            regions.push((vector_end, cols, 1, Ty::F32));
        }
        let mut failure = None;
        let body = k.for_loop(0, rows, 1, 1, |k, r| {
            let mut stmts = Vec::new();
            for &(start, end, step, ty) in &regions {
                let vars: Vec<VarId> = self.ops.iter().map(|_| k.var(ty)).collect();
                let unroll = if ty == Ty::F32x4 { 2 } else { 4 };
                stmts.push(k.for_loop(start, end, step, unroll, |_, c| {
                    let at = Affine::var(r).times(cols as i64).plus_term(c, 1);
                    let mut inner = Vec::new();
                    for (j, op) in self.ops.iter().enumerate() {
                        let args: Vec<Expr> = op
                            .args
                            .iter()
                            .map(|s| match *s {
                                Src::Read(i) => load(reads[i], r, c, &at, ty),
                                Src::Op(i) => Expr::Var(vars[i]),
                            })
                            .collect();
                        match expr(&op.op, &args, ty) {
                            Ok(value) => inner.push(Stmt::Assign {
                                var: vars[j],
                                value,
                            }),
                            Err(e) => failure = Some(e),
                        }
                    }
                    for (&j, &out) in self.stores.iter().zip(&outs) {
                        inner.push(Stmt::Store {
                            buf: out,
                            index: at.clone(),
                            value: Expr::Var(vars[j]),
                        });
                    }
                    inner
                }));
            }
            stmts
        });
        if let Some(e) = failure {
            return Err(e);
        }
        k.body.push(body);
        Ok(k)
    }
}

/// The load of read buffer `(buf, bcast)` at `[r, c]`, as a `ty` value.
fn load((buf, bcast): (BufId, Bcast), r: LoopVar, c: LoopVar, at: &Affine, ty: Ty) -> Expr {
    let splat = |e: Expr| match ty {
        Ty::F32 => e,
        Ty::F32x4 => Expr::Splat(Box::new(e)),
    };
    match bcast {
        Bcast::Full => Expr::load(buf, at.clone(), ty),
        Bcast::Row => Expr::load(buf, Affine::var(c), ty),
        Bcast::Col => splat(Expr::load(buf, Affine::var(r), Ty::F32)),
        Bcast::Scalar => splat(Expr::load(buf, Affine::constant(0), Ty::F32)),
    }
}

/// Whether the group machinery computes `op` (given how its operands are
/// broadcast by [`operand_bcast`]).
pub(crate) fn is_pointwise(op: &Op) -> bool {
    match op {
        Op::CostGrad(cost) => *cost != CostFn::SoftmaxLogLikelihood,
        _ => matches!(
            op,
            Op::Add
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
                | Op::Sigmoid
                | Op::Tanh
                | Op::Relu
                | Op::Step
                | Op::SigmoidGrad
                | Op::TanhGrad
                | Op::ReluGrad
                | Op::BiasAdd
                | Op::ScaleBy
                | Op::Fill { .. }
                | Op::Expand { .. }
        ),
    }
}

/// How operand `index` of pointwise `op` (of shape `arg`) is read when
/// the op's value has shape `out`; `None` when the group machinery cannot
/// read it (e.g. a bias along an axis other than the last of a matrix).
pub(crate) fn operand_bcast(op: &Op, index: usize, arg: &[usize], out: &[usize]) -> Option<Bcast> {
    if arg == out {
        return Some(Bcast::Full);
    }
    if arg.is_empty() || arg.iter().product::<usize>() == 1 && out.iter().product::<usize>() == 1 {
        return Some(Bcast::Scalar);
    }
    let row = out.len() == 2 && arg == [out[1]];
    let col = out.len() == 2 && arg == [out[0]];
    match (op, index) {
        (Op::BiasAdd, 1) if row => Some(Bcast::Row),
        (Op::Expand { axes, .. }, 0) if axes == &[0] && row => Some(Bcast::Row),
        (Op::Expand { axes, .. }, 0) if axes == &[1] && col => Some(Bcast::Col),
        (Op::CostGrad(_), 2) if col || (out.len() == 1 && arg.len() == 1) => Some(Bcast::Col),
        _ => None,
    }
}

/// The value of pointwise `op` on `args` (already loaded as `ty`).
fn expr(op: &Op, a: &[Expr], ty: Ty) -> Result<Expr, LowerError> {
    let c = |v: f64| Expr::constant(v as f32, ty);
    let arg = |i: usize| -> Result<Expr, LowerError> {
        a.get(i).cloned().ok_or_else(|| LowerError::Internal {
            message: format!("`{}` is missing operand {i}", op.mnemonic()),
        })
    };
    let positive = |x: Expr, then: Expr| Expr::select(CmpOp::Gt, x, c(0.0), then, c(0.0));
    Ok(match op {
        Op::Add | Op::BiasAdd => Expr::add(arg(0)?, arg(1)?),
        Op::Sub => Expr::sub(arg(0)?, arg(1)?),
        Op::Mul => Expr::mul(arg(0)?, arg(1)?),
        Op::Div => Expr::div(arg(0)?, arg(1)?),
        Op::Neg => Expr::unary(UnOp::Neg, arg(0)?),
        Op::Scale(s) => Expr::mul(c(*s), arg(0)?),
        Op::AddConst(s) => Expr::add(arg(0)?, c(*s)),
        Op::Exp => Expr::unary(UnOp::Exp, arg(0)?),
        Op::Log => Expr::unary(UnOp::Log, arg(0)?),
        Op::Sqrt => Expr::unary(UnOp::Sqrt, arg(0)?),
        Op::Sign => {
            let x = arg(0)?;
            Expr::select(
                CmpOp::Gt,
                x.clone(),
                c(0.0),
                c(1.0),
                Expr::select(CmpOp::Lt, x, c(0.0), c(-1.0), c(0.0)),
            )
        }
        Op::Sigmoid => Expr::unary(UnOp::Sigmoid, arg(0)?),
        Op::Tanh => Expr::unary(UnOp::Tanh, arg(0)?),
        Op::Relu => {
            let x = arg(0)?;
            positive(x.clone(), x)
        }
        Op::Step => positive(arg(0)?, c(1.0)),
        Op::SigmoidGrad => {
            let y = arg(0)?;
            Expr::mul(Expr::mul(arg(1)?, y.clone()), Expr::sub(c(1.0), y))
        }
        Op::TanhGrad => {
            let y = arg(0)?;
            Expr::mul(arg(1)?, Expr::sub(c(1.0), Expr::mul(y.clone(), y)))
        }
        Op::ReluGrad => positive(arg(0)?, arg(1)?),
        Op::ScaleBy => Expr::mul(arg(1)?, arg(0)?),
        Op::Fill { value, .. } => c(*value),
        Op::Expand { .. } => arg(0)?,
        Op::CostGrad(cost) => {
            let (p, y, d) = (arg(0)?, arg(1)?, arg(2)?);
            let g = match cost {
                CostFn::Quadratic => Expr::sub(p, y),
                CostFn::CrossEntropy => {
                    let p = Expr::min(Expr::max(p, c(1e-7)), c(1.0 - 1e-7));
                    Expr::div(
                        Expr::sub(p.clone(), y),
                        Expr::mul(p.clone(), Expr::sub(c(1.0), p)),
                    )
                }
                CostFn::SigmoidCrossEntropy => Expr::sub(Expr::unary(UnOp::Sigmoid, p), y),
                CostFn::LogLikelihood => {
                    Expr::div(Expr::unary(UnOp::Neg, y), Expr::max(p, c(1e-30)))
                }
                CostFn::SoftmaxLogLikelihood => {
                    return Err(LowerError::Unsupported {
                        op: op.mnemonic().to_string(),
                    })
                }
            };
            Expr::mul(g, d)
        }
        _ => {
            return Err(LowerError::Unsupported {
                op: op.mnemonic().to_string(),
            })
        }
    })
}
