//! The kernel IR: loop nests over `f32` buffers whose sizes are static.
//!
//! A [`Kernel`] names its buffers (each with a fixed length in elements and
//! an access mode), declares typed mutable variables (used as accumulators
//! and to share a value between several uses), and holds a body of
//! statements: counted loops, variable assignments and stores. Expressions
//! are trees over loads at affine indices, constants, variables and
//! arithmetic. Every loop bound is a constant, so the validator can compute
//! the exact range of every index and prove each access in bounds before a
//! single instruction is generated.

use std::fmt;

/// A buffer of a kernel, by its position in [`Kernel::buffers`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BufId(pub u32);

/// A mutable variable of a kernel, by its position in [`Kernel::vars`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VarId(pub u32);

/// A loop induction variable. Each loop of a kernel binds a distinct one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoopVar(pub u32);

/// How a kernel uses a buffer; decides whether the caller passes it as a
/// shared slice (`Read`), a mutable slice (`Write`), or not at all
/// (`Scratch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only loaded from.
    Read,
    /// Stored to (and possibly loaded from, e.g. an in-place update).
    Write,
    /// Working memory owned by the compiled kernel, not passed by the
    /// caller (e.g. a packed copy of a matrix panel). Its contents between
    /// calls are unspecified; a kernel must store before it loads.
    Scratch,
}

/// A buffer: `len` elements of `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct BufferDecl {
    /// A name for messages and the textual form.
    pub name: String,
    /// The exact number of `f32` elements the caller must pass.
    pub len: usize,
    /// Whether the kernel writes the buffer.
    pub access: Access,
}

/// The type of a value: one `f32` or four in a SIMD vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// A scalar `f32`.
    F32,
    /// A vector of four `f32` lanes.
    F32x4,
}

impl Ty {
    /// The number of `f32` elements a value of this type covers.
    pub fn lanes(self) -> usize {
        match self {
            Ty::F32 => 1,
            Ty::F32x4 => 4,
        }
    }
}

/// An index `offset + sum(coef * var)` in elements.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Affine {
    /// The constant part.
    pub offset: i64,
    /// The linear terms: a loop variable and its coefficient.
    pub terms: Vec<(LoopVar, i64)>,
}

impl Affine {
    /// The constant index `c`.
    pub fn constant(c: i64) -> Self {
        Affine {
            offset: c,
            terms: Vec::new(),
        }
    }

    /// The index `v`.
    pub fn var(v: LoopVar) -> Self {
        Affine {
            offset: 0,
            terms: vec![(v, 1)],
        }
    }

    /// This index plus `coef * v`.
    pub fn plus_term(mut self, v: LoopVar, coef: i64) -> Self {
        self.terms.push((v, coef));
        self
    }

    /// This index plus the constant `c`.
    pub fn plus(mut self, c: i64) -> Self {
        self.offset += c;
        self
    }

    /// This index times `f`.
    pub fn times(mut self, f: i64) -> Self {
        self.offset *= f;
        for (_, coef) in &mut self.terms {
            *coef *= f;
        }
        self
    }

    /// The sum of this index and `other`.
    pub fn plus_affine(mut self, other: &Affine) -> Self {
        self.offset += other.offset;
        self.terms.extend(other.terms.iter().copied());
        self
    }
}

/// Unary operations, applied lane by lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
    /// `sqrt(x)`.
    Sqrt,
    /// `e^x` by range reduction and a degree-6 polynomial (see `math.rs`).
    Exp,
    /// `ln x` for positive normal `x`, by splitting off the exponent and an
    /// odd series in `(m - 1) / (m + 1)` (see `math.rs`).
    Log,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
}

/// Binary operations, applied lane by lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// The smaller operand (NaN if either is NaN).
    Min,
    /// The larger operand (NaN if either is NaN).
    Max,
}

/// Comparisons for [`Expr::Select`]; ordered (false when a NaN is involved,
/// except `Ne`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
}

/// A value-producing expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A scalar constant.
    Const(f32),
    /// A scalar broadcast to all four lanes.
    Splat(Box<Expr>),
    /// `ty.lanes()` consecutive elements of `buf` starting at `index`.
    Load {
        /// The buffer read.
        buf: BufId,
        /// The first element read.
        index: Affine,
        /// Scalar or four-lane load.
        ty: Ty,
    },
    /// The current value of a variable (zero before its first assignment).
    Var(VarId),
    /// A unary operation.
    Unary(UnOp, Box<Expr>),
    /// A binary operation; both operands have the same type.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `a * b + c`, fused (one rounding) where the host has FMA.
    Fma(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Lane by lane, `if lhs cmp rhs { then } else { otherwise }`.
    Select {
        /// The comparison.
        cmp: CmpOp,
        /// Its left operand.
        lhs: Box<Expr>,
        /// Its right operand.
        rhs: Box<Expr>,
        /// The value where the comparison holds.
        then: Box<Expr>,
        /// The value where it does not.
        otherwise: Box<Expr>,
    },
    /// The sum of the four lanes of a vector, as a scalar.
    ReduceSum(Box<Expr>),
}

/// Shorthands that keep kernel builders readable. They build expression
/// nodes, they do not compute, so they are plain constructors rather than
/// `std::ops` implementations.
#[allow(clippy::should_implement_trait)]
impl Expr {
    /// A load of `ty` from `buf` at `index`.
    pub fn load(buf: BufId, index: Affine, ty: Ty) -> Expr {
        Expr::Load { buf, index, ty }
    }

    /// `a + b`.
    pub fn add(a: Expr, b: Expr) -> Expr {
        Expr::Binary(BinOp::Add, Box::new(a), Box::new(b))
    }

    /// `a - b`.
    pub fn sub(a: Expr, b: Expr) -> Expr {
        Expr::Binary(BinOp::Sub, Box::new(a), Box::new(b))
    }

    /// `a * b`.
    pub fn mul(a: Expr, b: Expr) -> Expr {
        Expr::Binary(BinOp::Mul, Box::new(a), Box::new(b))
    }

    /// `a / b`.
    pub fn div(a: Expr, b: Expr) -> Expr {
        Expr::Binary(BinOp::Div, Box::new(a), Box::new(b))
    }

    /// `max(a, b)`.
    pub fn max(a: Expr, b: Expr) -> Expr {
        Expr::Binary(BinOp::Max, Box::new(a), Box::new(b))
    }

    /// `min(a, b)`.
    pub fn min(a: Expr, b: Expr) -> Expr {
        Expr::Binary(BinOp::Min, Box::new(a), Box::new(b))
    }

    /// `a * b + c`.
    pub fn fma(a: Expr, b: Expr, c: Expr) -> Expr {
        Expr::Fma(Box::new(a), Box::new(b), Box::new(c))
    }

    /// A unary operation.
    pub fn unary(op: UnOp, a: Expr) -> Expr {
        Expr::Unary(op, Box::new(a))
    }

    /// The constant `c` as a value of type `ty`.
    pub fn constant(c: f32, ty: Ty) -> Expr {
        match ty {
            Ty::F32 => Expr::Const(c),
            Ty::F32x4 => Expr::Splat(Box::new(Expr::Const(c))),
        }
    }

    /// Lane by lane `if lhs cmp rhs { then } else { otherwise }`.
    pub fn select(cmp: CmpOp, lhs: Expr, rhs: Expr, then: Expr, otherwise: Expr) -> Expr {
        Expr::Select {
            cmp,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            then: Box::new(then),
            otherwise: Box::new(otherwise),
        }
    }
}

/// A counted loop `for var in start..end step step`, its body emitted
/// `unroll` times per iteration of the generated machine loop.
#[derive(Clone, Debug, PartialEq)]
pub struct Loop {
    /// The induction variable, bound inside `body` only.
    pub var: LoopVar,
    /// The first value of `var`.
    pub start: usize,
    /// The exclusive bound: `var` takes `start, start + step, ...` below `end`.
    pub end: usize,
    /// The increment, at least 1.
    pub step: usize,
    /// How many copies of the body one machine iteration runs (at least 1).
    /// Leftover iterations are emitted straight-line after the loop, and a
    /// loop whose trip count is at most `unroll` is emitted fully unrolled.
    pub unroll: usize,
    /// The statements run each iteration.
    pub body: Vec<Stmt>,
}

impl Loop {
    /// The number of iterations.
    pub fn trip_count(&self) -> usize {
        if self.end <= self.start || self.step == 0 {
            0
        } else {
            (self.end - self.start).div_ceil(self.step)
        }
    }
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// A counted loop.
    Loop(Loop),
    /// `var = value`; the types must agree.
    Assign {
        /// The variable written.
        var: VarId,
        /// Its new value.
        value: Expr,
    },
    /// Stores `value` (scalar or four lanes) to `buf` starting at `index`.
    Store {
        /// The buffer written; must have [`Access::Write`].
        buf: BufId,
        /// The first element written.
        index: Affine,
        /// The value stored.
        value: Expr,
    },
}

/// A kernel: a function of its buffers with no return value.
#[derive(Clone, Debug, PartialEq)]
pub struct Kernel {
    /// The symbol name (also used in messages).
    pub name: String,
    /// The buffer parameters, in call order.
    pub buffers: Vec<BufferDecl>,
    /// The types of the mutable variables.
    pub vars: Vec<Ty>,
    /// How many loop variables have been allocated.
    pub loop_vars: u32,
    /// The statements.
    pub body: Vec<Stmt>,
}

impl Kernel {
    /// An empty kernel named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Kernel {
            name: name.into(),
            buffers: Vec::new(),
            vars: Vec::new(),
            loop_vars: 0,
            body: Vec::new(),
        }
    }

    /// Declares a buffer of `len` elements.
    pub fn buffer(&mut self, name: impl Into<String>, len: usize, access: Access) -> BufId {
        self.buffers.push(BufferDecl {
            name: name.into(),
            len,
            access,
        });
        BufId(self.buffers.len() as u32 - 1)
    }

    /// Declares a variable of type `ty`.
    pub fn var(&mut self, ty: Ty) -> VarId {
        self.vars.push(ty);
        VarId(self.vars.len() as u32 - 1)
    }

    /// Allocates a fresh loop variable.
    pub fn loop_var(&mut self) -> LoopVar {
        self.loop_vars += 1;
        LoopVar(self.loop_vars - 1)
    }

    /// A loop over `start..end step step` with a fresh variable, its body
    /// built by `body` from that variable.
    pub fn for_loop(
        &mut self,
        start: usize,
        end: usize,
        step: usize,
        unroll: usize,
        body: impl FnOnce(&mut Kernel, LoopVar) -> Vec<Stmt>,
    ) -> Stmt {
        let var = self.loop_var();
        let body = body(self, var);
        Stmt::Loop(Loop {
            var,
            start,
            end,
            step,
            unroll,
            body,
        })
    }

    /// The total number of `f32` elements the buffers hold.
    pub fn total_elements(&self) -> usize {
        self.buffers.iter().map(|b| b.len).sum()
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::F32 => write!(f, "f32"),
            Ty::F32x4 => write!(f, "f32x4"),
        }
    }
}
