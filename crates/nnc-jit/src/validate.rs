//! The validator: types, scoping, and static bounds of every access.
//!
//! Bounds checking is exact interval arithmetic. Every loop variable ranges
//! over `start ..= start + (trips - 1) * step`, a constant interval; an
//! affine index is a sum of independent terms, so its minimum (maximum) is
//! the sum of each term's minimum (maximum). An access of `lanes` elements is
//! accepted only if `min >= 0` and `max + lanes <= len`. Loops that run zero
//! times are type-checked but their accesses never execute, so they are not
//! bounds-checked (code generation emits nothing for them).

use std::collections::HashMap;

use crate::error::JitError;
use crate::ir::{Access, Affine, Expr, Kernel, LoopVar, Stmt, Ty, UnOp};

/// Checks `kernel`; code generation relies on its success.
pub fn validate(kernel: &Kernel) -> Result<(), JitError> {
    let mut v = Validator {
        kernel,
        ranges: HashMap::new(),
    };
    v.stmts(&kernel.body, true)
}

struct Validator<'k> {
    kernel: &'k Kernel,
    /// The inclusive range of each loop variable in scope.
    ranges: HashMap<LoopVar, (i128, i128)>,
}

impl Validator<'_> {
    fn malformed(&self, problem: String) -> JitError {
        JitError::Malformed {
            kernel: self.kernel.name.clone(),
            problem,
        }
    }

    fn stmts(&mut self, stmts: &[Stmt], live: bool) -> Result<(), JitError> {
        for s in stmts {
            self.stmt(s, live)?;
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt, live: bool) -> Result<(), JitError> {
        match stmt {
            Stmt::Loop(l) => {
                if l.step == 0 || l.unroll == 0 {
                    return Err(self
                        .malformed(format!("loop {:?} has a zero step or unroll factor", l.var)));
                }
                if self.ranges.contains_key(&l.var) {
                    return Err(self.malformed(format!("loop variable {:?} is bound twice", l.var)));
                }
                let trips = l.trip_count();
                let last = l.start as i128 + (trips.max(1) as i128 - 1) * l.step as i128;
                self.ranges.insert(l.var, (l.start as i128, last));
                let result = self.stmts(&l.body, live && trips > 0);
                self.ranges.remove(&l.var);
                result
            }
            Stmt::Assign { var, value } => {
                let declared = self
                    .kernel
                    .vars
                    .get(var.0 as usize)
                    .copied()
                    .ok_or_else(|| self.malformed(format!("unknown variable {var:?}")))?;
                let found = self.expr(value, live)?;
                self.same(declared, found, "assignment")
            }
            Stmt::Store { buf, index, value } => {
                let ty = self.expr(value, live)?;
                let decl = self
                    .kernel
                    .buffers
                    .get(buf.0 as usize)
                    .ok_or_else(|| self.malformed(format!("unknown buffer {buf:?}")))?;
                if decl.access == Access::Read {
                    return Err(
                        self.malformed(format!("store to read-only buffer `{}`", decl.name))
                    );
                }
                self.access(buf.0 as usize, index, ty, live)
            }
        }
    }

    fn same(&self, expected: Ty, found: Ty, context: &'static str) -> Result<(), JitError> {
        if expected == found {
            Ok(())
        } else {
            Err(JitError::TypeMismatch {
                kernel: self.kernel.name.clone(),
                context,
                expected,
                found,
            })
        }
    }

    fn access(&self, buf: usize, index: &Affine, ty: Ty, live: bool) -> Result<(), JitError> {
        let decl = self
            .kernel
            .buffers
            .get(buf)
            .ok_or_else(|| self.malformed(format!("unknown buffer BufId({buf})")))?;
        let (mut min, mut max) = (index.offset as i128, index.offset as i128);
        for (var, coef) in &index.terms {
            let (lo, hi) = *self.ranges.get(var).ok_or_else(|| {
                self.malformed(format!("loop variable {var:?} used outside its loop"))
            })?;
            let (a, b) = (lo * *coef as i128, hi * *coef as i128);
            min += a.min(b);
            max += a.max(b);
        }
        let max_end = max + ty.lanes() as i128;
        if live && (min < 0 || max_end > decl.len as i128) {
            return Err(JitError::OutOfBounds {
                kernel: self.kernel.name.clone(),
                buffer: decl.name.clone(),
                min: min.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
                max_end: max_end.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
                len: decl.len,
            });
        }
        Ok(())
    }

    /// Type-checks `e` and bounds-checks its loads; returns its type.
    fn expr(&self, e: &Expr, live: bool) -> Result<Ty, JitError> {
        match e {
            Expr::Const(_) => Ok(Ty::F32),
            Expr::Splat(x) => {
                let t = self.expr(x, live)?;
                self.same(Ty::F32, t, "splat operand")?;
                Ok(Ty::F32x4)
            }
            Expr::Load { buf, index, ty } => {
                self.access(buf.0 as usize, index, *ty, live)?;
                Ok(*ty)
            }
            Expr::Var(v) => self
                .kernel
                .vars
                .get(v.0 as usize)
                .copied()
                .ok_or_else(|| self.malformed(format!("unknown variable {v:?}"))),
            Expr::Unary(op, x) => {
                let t = self.expr(x, live)?;
                // Every unary operation is defined lane by lane for both types.
                let _: UnOp = *op;
                Ok(t)
            }
            Expr::Binary(_, a, b) => {
                let ta = self.expr(a, live)?;
                let tb = self.expr(b, live)?;
                self.same(ta, tb, "binary operands")?;
                Ok(ta)
            }
            Expr::Fma(a, b, c) => {
                let ta = self.expr(a, live)?;
                self.same(ta, self.expr(b, live)?, "fma operands")?;
                self.same(ta, self.expr(c, live)?, "fma addend")?;
                Ok(ta)
            }
            Expr::Select {
                lhs,
                rhs,
                then,
                otherwise,
                ..
            } => {
                let t = self.expr(lhs, live)?;
                self.same(t, self.expr(rhs, live)?, "comparison operands")?;
                self.same(t, self.expr(then, live)?, "select value")?;
                self.same(t, self.expr(otherwise, live)?, "select alternative")?;
                Ok(t)
            }
            Expr::ReduceSum(x) => {
                let t = self.expr(x, live)?;
                self.same(Ty::F32x4, t, "reduce_sum operand")?;
                Ok(Ty::F32)
            }
        }
    }
}

/// The type of `e` in a kernel that has passed [`validate`].
pub(crate) fn type_of(kernel: &Kernel, e: &Expr) -> Ty {
    match e {
        Expr::Const(_) | Expr::ReduceSum(_) => Ty::F32,
        Expr::Splat(_) => Ty::F32x4,
        Expr::Load { ty, .. } => *ty,
        Expr::Var(v) => kernel.vars.get(v.0 as usize).copied().unwrap_or(Ty::F32),
        Expr::Unary(_, x) | Expr::Binary(_, x, _) | Expr::Fma(x, _, _) => type_of(kernel, x),
        Expr::Select { lhs, .. } => type_of(kernel, lhs),
    }
}
