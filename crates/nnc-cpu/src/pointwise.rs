//! Pointwise groups (the [`nnc_ir::kernel_plan`]'s `Step::Group`s, and
//! the groups a library product leaves after it): a run of elementwise
//! body ops of one output shape, compiled into a single loop nest that keeps intermediate values in
//! registers and stores only the values needed outside the group.
//!
//! The loop domain is `rows x cols`: for a `[b, n]` value `b` rows of `n`,
//! for `[n]` one row, for a scalar one element. Operands are read as full
//! tensors, as a row broadcast over the rows (a bias), as a column
//! broadcast over the columns (one value per example), or as one scalar.
//! Columns are processed four at a time, then one at a time for the rest.

use crate::error::LowerError;
use nnc_ir::kernel_plan::{Member, Operand, Read};
use nnc_ir::scalar::{Bin, Cmp, Scalar, Un};
use nnc_ir::Op;
use nnc_jit::{Access, Affine, BufId, CmpOp, Expr, Kernel, LoopVar, Stmt, Ty, UnOp, VarId};

/// A pointwise group of the kernel plan ready to be built into a kernel:
/// its members as the plan gives them, over a `rows x cols` domain (which
/// a split over threads shrinks).
#[derive(Clone, Debug, Default)]
pub(crate) struct Group {
    pub rows: usize,
    pub cols: usize,
    /// The read buffers, one per read of the plan's group: their lengths
    /// and how they are indexed (never [`Read::Channel`]).
    pub reads: Vec<(usize, Read)>,
    /// The members; their operands are reads and earlier members.
    pub ops: Vec<Member>,
    /// The members whose values are stored, one write buffer each.
    pub stores: Vec<usize>,
}

impl Group {
    /// The kernel of the group. Buffers: the reads in order, then one
    /// written buffer per stored value.
    pub fn kernel(&self, name: &str) -> Result<Kernel, LowerError> {
        let mut k = Kernel::new(name);
        let reads: Vec<(BufId, Read)> = self
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
            .any(|(_, b)| matches!(b, Read::Row | Read::Col));
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
                        let mut args = Vec::new();
                        for operand in &op.operands {
                            match *operand {
                                Operand::Read(i) => args.push(load(reads[i], r, c, &at, ty)),
                                Operand::Member(i) => args.push(Expr::Var(vars[i])),
                                Operand::Virtual(_) | Operand::Product => {
                                    failure = Some(LowerError::Internal {
                                        message: "a CPU group reads a virtual scalar or a product"
                                            .to_string(),
                                    })
                                }
                            }
                        }
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

/// The load of read buffer `(buf, read)` at `[r, c]`, as a `ty` value.
fn load((buf, read): (BufId, Read), r: LoopVar, c: LoopVar, at: &Affine, ty: Ty) -> Expr {
    let splat = |e: Expr| match ty {
        Ty::F32 => e,
        Ty::F32x4 => Expr::Splat(Box::new(e)),
    };
    match read {
        // A channel read never reaches a CPU group (`lower::close`
        // refuses it).
        Read::Full | Read::Channel { .. } => Expr::load(buf, at.clone(), ty),
        Read::Row => Expr::load(buf, Affine::var(c), ty),
        Read::Col => splat(Expr::load(buf, Affine::var(r), Ty::F32)),
        Read::Scalar => splat(Expr::load(buf, Affine::constant(0), Ty::F32)),
    }
}

/// The value of pointwise `op` on `args` (already loaded as `ty`): its
/// formula from the op table, as an `nnc-jit` expression.
fn expr(op: &Op, args: &[Expr], ty: Ty) -> Result<Expr, LowerError> {
    let formula = op.formula().ok_or_else(|| LowerError::Unsupported {
        op: op.mnemonic().to_string(),
    })?;
    if formula.arity() > args.len() {
        return Err(LowerError::Internal {
            message: format!("`{}` is missing operands", op.mnemonic()),
        });
    }
    let formula = if formula.uses_erf() {
        formula.expand_erf()
    } else {
        formula
    };
    Ok(translate(&formula, args, ty))
}

/// A scalar formula as an expression over `args`.
fn translate(f: &Scalar, args: &[Expr], ty: Ty) -> Expr {
    let t = |f: &Scalar| translate(f, args, ty);
    match f {
        Scalar::Arg(i) => args[*i].clone(),
        Scalar::Const(v) => Expr::constant(*v as f32, ty),
        Scalar::Un(op, x) => {
            let op = match op {
                Un::Neg => UnOp::Neg,
                Un::Abs => UnOp::Abs,
                Un::Sqrt => UnOp::Sqrt,
                Un::Exp => UnOp::Exp,
                Un::Log => UnOp::Log,
                Un::Sigmoid => UnOp::Sigmoid,
                Un::Tanh => UnOp::Tanh,
                // Expanded into primitives by `expr`.
                Un::Erf => UnOp::Tanh,
            };
            Expr::unary(op, t(x))
        }
        Scalar::Bin(op, a, b) => {
            let (a, b) = (t(a), t(b));
            match op {
                Bin::Add => Expr::add(a, b),
                Bin::Sub => Expr::sub(a, b),
                Bin::Mul => Expr::mul(a, b),
                Bin::Div => Expr::div(a, b),
                Bin::Max => Expr::max(a, b),
                Bin::Min => Expr::min(a, b),
            }
        }
        Scalar::Select {
            cmp,
            a,
            b,
            then,
            otherwise,
        } => {
            let cmp = match cmp {
                Cmp::Gt => CmpOp::Gt,
                Cmp::Ge => CmpOp::Ge,
                Cmp::Lt => CmpOp::Lt,
                Cmp::Le => CmpOp::Le,
                Cmp::Eq => CmpOp::Eq,
                Cmp::Ne => CmpOp::Ne,
            };
            Expr::select(cmp, t(a), t(b), t(then), t(otherwise))
        }
    }
}
