//! The kernel plan: one walk over a fused kernel's body that every
//! compiled backend renders.
//!
//! [`plan_kernel`] turns a [`FusedKernel`](crate::FusedKernel) into a list of [`Step`]s, in
//! the order they run:
//! - [`Step::Group`]: a pointwise group, a run of pointwise body ops of
//!   one output shape computed in one loop (one JIT kernel, one shader).
//!   Pointwise ops gather into open groups, one per shape; a group is
//!   closed when an op of another kind, or of another shape, reads one of
//!   its values, or at the end of the kernel. Only the members read
//!   outside the group, or yielded by the kernel, are stored
//!   ([`Group::stores`]); a group that stores nothing is dropped.
//! - [`Step::Product`]: a matrix product with the pointwise ops it absorbs
//!   into its epilogue (a [`Group`] whose members may read the product's
//!   value, [`Operand::Product`]).
//! - [`Step::Single`]: any other op, alone: a sum over axes
//!   ([`OpClass::Reduction`]), a per-example row kernel
//!   ([`OpClass::Row`]), a sliding-window kernel ([`OpClass::Spatial`]),
//!   a dropout mask ([`OpClass::Random`]), or a pointwise op the target's
//!   groups cannot compute (the CPU's channel bias).
//!
//! What differs between backends is one [`Target`] value: whether scalar
//! ops are virtual (computed inline by every group that reads them
//! instead of stored), whether dropout masks are uploads ready before the
//! kernel, which pointwise ops a group computes, and how much of a
//! product's candidate epilogue the backend absorbs ([`Epilogue`]).
//!
//! The backends keep everything about memory and code: buffer
//! assignment, kernel and shader text, splitting a group over a binding
//! limit or over threads, and whole-kernel patterns they recognise before
//! asking for a plan (the CPU's convolution kernels).

mod walk;

#[cfg(test)]
mod tests;

use crate::fused::Arg;
use crate::ops::{Op, OpClass, OperandRead};
use std::fmt;

pub use walk::plan_kernel;

/// How a group reads an operand at element `[r, c]` of its `rows x cols`
/// domain (see [`domain`]), or at flat position `i = r cols + c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Read {
    /// The element itself (`i`).
    Full,
    /// Element `c`, the same for every row: a bias, an `expand` over the
    /// batch (`i % cols`).
    Row,
    /// Element `r`, the same for every column: one value per example
    /// (`i / cols`).
    Col,
    /// `(i / inner) % channels`: a bias along the channel axis of
    /// `[b, c, h, w]`, or any other contiguous block of axes.
    Channel { inner: usize, channels: usize },
    /// Element `0`.
    Scalar,
}

impl Read {
    /// The read of `access` (from [`Op::operand_access`]) in a group whose
    /// value has shape `out`.
    pub fn of(access: OperandRead, out: &[usize]) -> Read {
        let (rows, cols) = domain(out);
        match access {
            OperandRead::Full => Read::Full,
            OperandRead::Scalar => Read::Scalar,
            OperandRead::Strided { inner: 1, len } if len == cols && out.len() >= 2 => Read::Row,
            OperandRead::Strided { inner, len } if inner == cols && len == rows => Read::Col,
            OperandRead::Strided { inner, len } => Read::Channel {
                inner,
                channels: len,
            },
        }
    }
}

/// `(rows, cols)` of the loop domain of a value of `shape`: `[b, ...]` is
/// `b` rows of the rest, `[n]` one row, a scalar one element.
pub fn domain(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (1, *n),
        [b, rest @ ..] => (*b, rest.iter().product()),
    }
}

/// An operand of a group member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// Read `k` of the group ([`Group::reads`]).
    Read(usize),
    /// The value of member `l` of the group (an earlier one).
    Member(usize),
    /// Virtual scalar `v` of the group ([`Group::virtuals`]).
    Virtual(usize),
    /// The product's value (epilogues only).
    Product,
}

/// One op of a group: the body value it computes, its op, its operands.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub value: usize,
    pub op: Op,
    pub operands: Vec<Operand>,
}

/// A pointwise group (or a product's epilogue).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The shape of every member's value.
    pub shape: Vec<usize>,
    /// The distinct values read from memory (kernel inputs and stored
    /// body values) and how, in order of first use.
    pub reads: Vec<(Arg, Read)>,
    /// Virtual scalars the members read, in dependency order; their
    /// operands are reads (as [`Read::Scalar`]) and earlier virtuals.
    pub virtuals: Vec<Member>,
    /// The members in body order.
    pub members: Vec<Member>,
    /// The members (indices into `members`) whose values are stored:
    /// yielded by the kernel or read outside the group (in an epilogue:
    /// yielded, or the last member).
    pub stores: Vec<usize>,
}

impl Group {
    /// The body values the group stores.
    pub fn stored_values(&self) -> impl Iterator<Item = usize> + '_ {
        self.stores.iter().map(|&l| self.members[l].value)
    }
}

/// A matrix product `op(a) op(b)` of `[m, k] x [k, n]` and its epilogue.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    /// The product's body value.
    pub value: usize,
    pub a: Arg,
    pub b: Arg,
    pub ta: bool,
    pub tb: bool,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// The absorbed pointwise ops, each the sole reader of the value
    /// before it; empty when the product stores its own value.
    pub epilogue: Group,
}

impl Product {
    /// The body value the product's kernel ends with: the last absorbed
    /// op, or the product itself.
    pub fn last(&self) -> usize {
        self.epilogue.members.last().map_or(self.value, |m| m.value)
    }
}

/// One step of a kernel plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Group(Group),
    Product(Product),
    /// Body value `value` computed alone by an op of class `class`.
    Single {
        value: usize,
        class: OpClass,
    },
}

/// A fused kernel's plan: its steps and what the walk decided about each
/// body value.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelPlan {
    pub steps: Vec<Step>,
    /// Whether the kernel yields body value `j`.
    pub yielded: Vec<bool>,
    /// Whether body value `j` is a virtual scalar.
    pub virtuals: Vec<bool>,
    /// The dropout masks that are uploads, ready before the kernel runs
    /// (where [`Target::masks_ready`]); no step computes them.
    pub masks: Vec<usize>,
}

/// How much of a product's candidate epilogue a backend absorbs. The
/// candidates are the pointwise ops after the product, each the sole
/// reader of the value before it (the product itself must not be
/// yielded; a later one may be, and is then stored on the way), of the
/// product's shape, with every other operand ready before the product (a
/// kernel input, an earlier body value, or a mask upload).
#[derive(Clone, Copy)]
pub enum Epilogue<'a> {
    /// Only a `bias_add` of the product (its first operand), then at most
    /// one of `sigmoid`, `tanh`, `relu` when the bias sum is not yielded;
    /// nothing when `library(m, k, n)` says the product goes to a library
    /// that writes its own result (the CPU).
    BiasActivation {
        library: &'a dyn Fn(usize, usize, usize) -> bool,
    },
    /// The longest prefix of the candidates whose every prefix `fits`
    /// (given the product with that prefix as its epilogue): WGSL, whose
    /// limit is the number of storage buffers a shader may bind.
    Chain { fits: &'a dyn Fn(&Product) -> bool },
}

/// What a backend can do, as far as the plan is concerned.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// Scalar pointwise ops whose operands are scalars and which are not
    /// yielded are virtual: every group reading one computes it inline
    /// ([`Group::virtuals`]); a step that is not a group and reads one
    /// gets it stored first, by a one-member group (WGSL). When false
    /// they are group members like any other op (CPU).
    pub virtual_scalars: bool,
    /// Dropout masks are uploads filled before the kernel runs: no step
    /// computes them and an epilogue may read them (WGSL). When false a
    /// mask is a [`Step::Single`] of class [`OpClass::Random`] (CPU).
    pub masks_ready: bool,
    /// Whether a group reads an operand along a block of axes that is not
    /// the rows or the columns of its domain ([`Read::Channel`]). When
    /// false (CPU), a pointwise op with such an operand, or with one no
    /// group can read, is a [`Step::Single`] (the CPU runs it as a host
    /// step, by its formula), and so is a `bias_add` over a tensor of rank
    /// above 2 (a spatial kernel of its own).
    pub channel_reads: bool,
    pub epilogue: Epilogue<'a>,
}

impl Target<'_> {
    /// Whether a group of this target computes pointwise `op` whose
    /// operands have shapes `args` and whose value has shape `out`.
    pub fn groups(&self, op: &Op, args: &[&[usize]], out: &[usize]) -> bool {
        // An operand along axes that are no one block of the value's axes
        // is read by no group: the op runs alone on every target.
        let any_read = args
            .iter()
            .enumerate()
            .all(|(index, arg)| op.operand_access(index, arg, out).is_some());
        if !any_read {
            return false;
        }
        if self.channel_reads {
            return true;
        }
        let channel_bias = matches!(op, Op::BiasAdd) && args.first().is_some_and(|x| x.len() > 2);
        let readable = args.iter().enumerate().all(|(index, arg)| {
            op.operand_access(index, arg, out)
                .is_some_and(|a| !matches!(Read::of(a, out), Read::Channel { .. }))
        });
        readable && !channel_bias
    }
}

/// Why a kernel has no plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// A group cannot read operand `operand` of body value `value`: its
    /// axes are no contiguous block of the value's axes.
    Unreadable { value: usize, operand: usize },
    /// The kernel breaks an invariant of [`crate::fused`].
    Internal(&'static str),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Unreadable { value, operand } => {
                write!(
                    f,
                    "operand {operand} of body value ${value} cannot be read by a group"
                )
            }
            PlanError::Internal(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for PlanError {}
