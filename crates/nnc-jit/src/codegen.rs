//! Kernel IR to Cranelift IR.
//!
//! The generated function has one parameter: a pointer to an array holding
//! one base pointer per buffer, in declaration order. Loads of the base
//! pointers happen once, in the entry block. Loops become a single block
//! that branches back to itself (bounds are constants, and the validator
//! guarantees at least one iteration for every emitted loop, so the test
//! sits at the bottom). Loop-carried values are Cranelift `Variable`s, so
//! the frontend's SSA construction inserts the block parameters.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    types, AbiParam, Function, InstBuilder, MemFlagsData, Signature, Type, UserFuncName, Value,
};
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};

use crate::error::JitError;
use crate::ir::{Access, Affine, BinOp, CmpOp, Expr, Kernel, Loop, LoopVar, Stmt, Ty, UnOp};
use crate::math::Math;
use crate::validate::{type_of, validate};

/// The signature of every kernel: `fn(buffers: *const *mut f32)`.
pub(crate) fn signature(isa: &dyn TargetIsa) -> Signature {
    let mut sig = Signature::new(isa.default_call_conv());
    sig.params.push(AbiParam::new(isa.pointer_type()));
    sig
}

/// Whether `isa` has fused multiply-add instructions, as detected by
/// cranelift-native: the `has_fma` flag on x86-64. The other Cranelift
/// backends have no such flag: their base instruction sets have FMA.
pub(crate) fn host_has_fma(isa: &dyn TargetIsa) -> bool {
    isa.isa_flags()
        .iter()
        .find(|f| f.name == "has_fma")
        .is_none_or(|f| f.as_bool().unwrap_or(false))
}

/// Validates `kernel` and translates it into a Cranelift function.
pub(crate) fn translate(
    kernel: &Kernel,
    isa: &dyn TargetIsa,
    has_fma: bool,
) -> Result<Function, JitError> {
    validate(kernel)?;
    let mut func = Function::with_name_signature(UserFuncName::user(0, 0), signature(isa));
    let mut fctx = FunctionBuilderContext::new();
    let mut b = FunctionBuilder::new(&mut func, &mut fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let ptr_ty = isa.pointer_type();
    let table = b.block_params(entry)[0];
    let table_flags = MemFlagsData::trusted().with_readonly();
    let bases = (0..kernel.buffers.len())
        .map(|i| {
            b.ins().load(
                ptr_ty,
                table_flags,
                table,
                (i * ptr_ty.bytes() as usize) as i32,
            )
        })
        .collect();
    let zero = b.ins().f32const(0.0);
    let zero4 = b.ins().splat(types::F32X4, zero);
    let vars = kernel
        .vars
        .iter()
        .map(|ty| {
            let (t, init) = match ty {
                Ty::F32 => (types::F32, zero),
                Ty::F32x4 => (types::F32X4, zero4),
            };
            let v = b.declare_var(t);
            b.def_var(v, init);
            v
        })
        .collect();
    let mut e = Emitter {
        b,
        kernel,
        bases,
        vars,
        loops: HashMap::new(),
        depth: 0,
        has_fma,
        ptr_ty,
    };
    e.stmts(&kernel.body);
    e.b.ins().return_(&[]);
    e.b.seal_all_blocks();
    e.b.finalize(isa.frontend_config());
    Ok(func)
}

struct Emitter<'a, 'k> {
    b: FunctionBuilder<'a>,
    kernel: &'k Kernel,
    bases: Vec<Value>,
    vars: Vec<Variable>,
    /// The binding of each loop variable in scope.
    loops: HashMap<LoopVar, Binding>,
    /// The loop nesting depth at the current point.
    depth: usize,
    has_fma: bool,
    ptr_ty: Type,
}

/// The value of a loop variable in one copy of a loop body: a
/// pointer-sized induction value (absent in fully unrolled code) plus a
/// constant, and the depth of its loop.
#[derive(Clone, Copy)]
struct Binding {
    value: Option<Value>,
    offset: i64,
    depth: usize,
}

fn clif_ty(ty: Ty) -> Type {
    match ty {
        Ty::F32 => types::F32,
        Ty::F32x4 => types::F32X4,
    }
}

impl<'a> Emitter<'a, '_> {
    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Loop(l) => self.emit_loop(l),
            Stmt::Assign { var, value } => {
                let v = self.expr(value);
                self.b.def_var(self.vars[var.0 as usize], v);
            }
            Stmt::Store { buf, index, value } => {
                let v = self.expr(value);
                let (addr, off) = self.address(buf.0 as usize, index);
                self.b
                    .ins()
                    .store(MemFlagsData::new().with_notrap(), v, addr, off);
            }
        }
    }

    /// Emits the body once with the loop variable bound to `value + offset`
    /// (`value` absent: the constant `offset`). Keeping the constant apart
    /// lets unrolled copies share one address and differ in the immediate
    /// offset of their loads and stores.
    fn body_at(&mut self, l: &Loop, value: Option<Value>, offset: i64) {
        let saved = self.loops.insert(
            l.var,
            Binding {
                value,
                offset,
                depth: self.depth,
            },
        );
        self.depth += 1;
        self.stmts(&l.body);
        self.depth -= 1;
        match saved {
            Some(v) => self.loops.insert(l.var, v),
            None => self.loops.remove(&l.var),
        };
    }

    fn emit_loop(&mut self, l: &Loop) {
        let trips = l.trip_count();
        if trips == 0 {
            return;
        }
        let unroll = l.unroll.max(1);
        if trips <= unroll {
            // Fully unrolled: each copy sees its index as a constant.
            for t in 0..trips {
                self.body_at(l, None, (l.start + t * l.step) as i64);
            }
            return;
        }
        let groups = trips / unroll;
        let rest = trips % unroll;
        let iv = self.b.declare_var(self.ptr_ty);
        let start = self.b.ins().iconst(self.ptr_ty, l.start as i64);
        self.b.def_var(iv, start);
        let body = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(body, &[]);
        self.b.switch_to_block(body);
        let i = self.b.use_var(iv);
        for k in 0..unroll {
            self.body_at(l, Some(i), (k * l.step) as i64);
        }
        let stride = (unroll * l.step) as i64;
        let next = self.b.ins().iadd_imm_s(i, stride);
        self.b.def_var(iv, next);
        let bound = (l.start + groups * unroll * l.step) as i64;
        let more = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedLessThan, next, bound);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(exit);
        for t in 0..rest {
            self.body_at(l, None, (l.start + (groups * unroll + t) * l.step) as i64);
        }
    }

    /// The address of element `index` of buffer `buf`, as a base value and
    /// a constant byte offset. Variable terms are added outermost loop
    /// first, so the partial sums that do not depend on inner loops are
    /// loop-invariant and Cranelift hoists them.
    fn address(&mut self, buf: usize, index: &Affine) -> (Value, i32) {
        let mut bytes = index.offset * 4;
        let mut terms: Vec<(usize, Value, i64)> = Vec::new();
        for (var, coef) in &index.terms {
            let bind = self.loops[var];
            bytes += coef * bind.offset * 4;
            if let Some(v) = bind.value {
                match terms.iter_mut().find(|t| t.1 == v) {
                    Some(t) => t.2 += coef,
                    None => terms.push((bind.depth, v, *coef)),
                }
            }
        }
        terms.sort_by_key(|t| t.0);
        let mut addr = self.bases[buf];
        for (_, v, coef) in terms {
            if coef != 0 {
                let scaled = self.b.ins().imul_imm_s(v, coef * 4);
                addr = self.b.ins().iadd(addr, scaled);
            }
        }
        match i32::try_from(bytes) {
            Ok(off) => (addr, off),
            Err(_) => (self.b.ins().iadd_imm_s(addr, bytes), 0),
        }
    }

    fn math(&mut self, ty: Ty) -> Math<'_, 'a> {
        Math {
            b: &mut self.b,
            ty: clif_ty(ty),
            has_fma: self.has_fma,
        }
    }

    fn expr(&mut self, e: &Expr) -> Value {
        match e {
            Expr::Const(c) => self.b.ins().f32const(*c),
            Expr::Splat(x) => {
                let v = self.expr(x);
                self.b.ins().splat(types::F32X4, v)
            }
            Expr::Load { buf, index, ty } => {
                let (addr, off) = self.address(buf.0 as usize, index);
                let mut flags = MemFlagsData::new().with_notrap();
                if self.kernel.buffers[buf.0 as usize].access == Access::Read {
                    // Read buffers arrive as shared slices that nothing can
                    // write during the call.
                    flags = flags.with_readonly();
                }
                self.b.ins().load(clif_ty(*ty), flags, addr, off)
            }
            Expr::Var(v) => self.b.use_var(self.vars[v.0 as usize]),
            Expr::Unary(op, x) => {
                let ty = type_of(self.kernel, x);
                let v = self.expr(x);
                match op {
                    UnOp::Neg => self.b.ins().fneg(v),
                    UnOp::Abs => self.b.ins().fabs(v),
                    UnOp::Sqrt => self.b.ins().sqrt(v),
                    UnOp::Exp => self.math(ty).exp(v),
                    UnOp::Log => self.math(ty).log(v),
                    UnOp::Sigmoid => self.math(ty).sigmoid(v),
                    UnOp::Tanh => self.math(ty).tanh(v),
                }
            }
            Expr::Binary(op, a, b) => {
                let a = self.expr(a);
                let b = self.expr(b);
                let ins = self.b.ins();
                match op {
                    BinOp::Add => ins.fadd(a, b),
                    BinOp::Sub => ins.fsub(a, b),
                    BinOp::Mul => ins.fmul(a, b),
                    BinOp::Div => ins.fdiv(a, b),
                    BinOp::Min => ins.fmin(a, b),
                    BinOp::Max => ins.fmax(a, b),
                }
            }
            Expr::Fma(a, b, c) => {
                let ty = type_of(self.kernel, a);
                let a = self.expr(a);
                let b = self.expr(b);
                let c = self.expr(c);
                self.math(ty).mul_add(a, b, c)
            }
            Expr::Select {
                cmp,
                lhs,
                rhs,
                then,
                otherwise,
            } => {
                let ty = type_of(self.kernel, lhs);
                let l = self.expr(lhs);
                let r = self.expr(rhs);
                let t = self.expr(then);
                let o = self.expr(otherwise);
                let cc = match cmp {
                    CmpOp::Lt => FloatCC::LessThan,
                    CmpOp::Le => FloatCC::LessThanOrEqual,
                    CmpOp::Gt => FloatCC::GreaterThan,
                    CmpOp::Ge => FloatCC::GreaterThanOrEqual,
                    CmpOp::Eq => FloatCC::Equal,
                    CmpOp::Ne => FloatCC::NotEqual,
                };
                let c = self.b.ins().fcmp(cc, l, r);
                self.math(ty).select(c, t, o)
            }
            Expr::ReduceSum(x) => {
                let v = self.expr(x);
                let l0 = self.b.ins().extractlane(v, 0);
                let l1 = self.b.ins().extractlane(v, 1);
                let l2 = self.b.ins().extractlane(v, 2);
                let l3 = self.b.ins().extractlane(v, 3);
                let s01 = self.b.ins().fadd(l0, l1);
                let s23 = self.b.ins().fadd(l2, l3);
                self.b.ins().fadd(s01, s23)
            }
        }
    }
}
