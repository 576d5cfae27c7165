//! The tensor IR of nnc: graphs of typed tensor ops with static shapes,
//! which passes extend (reverse-mode autodiff) and clean up, and which
//! backends execute. The IR knows tensors and ops, not models: a checked
//! model becomes a graph in `nnc-lower` (passes `lower` and `update`, and
//! the pipelines `nnc_lower::compile_training`/`compile_inference`).
//!
//! The passes here (`passes`) map graphs to graphs: `autodiff`, `simplify`,
//! `dce`, and `fuse`, which groups the ops into fused kernels for compiled
//! backends ([`fused`], [`fuse_verified`]); [`verify()`] runs after each.
//! [`print()`] gives the text form; [`window`] holds the window arithmetic of
//! convolutions and pooling that the checker's diagnostics share. The
//! analysis [`plan_memory`] places every
//! value of a finished graph in one arena, reusing memory between values
//! whose lifetimes do not overlap ([`plan`]). The [`kernel_plan`] is the
//! walk over a fused kernel's body that every compiled backend renders:
//! pointwise groups, products with their epilogues, single ops, for a
//! backend's capabilities.
//!
//! Invariants:
//! - **Static shapes, explicit batch.** Every node has a shape fixed at
//!   compile time; `[batch, ...]` tensors carry the batch dimension first,
//!   and a graph is built for one batch size (a shorter last batch gets its
//!   own graph). Scalars have shape `[]`.
//! - **Arena order is topological.** Nodes live in one arena addressed by
//!   [`NodeId`]; every operand comes before the node reading it, so
//!   running the nodes in order is always correct.
//! - **Each op in one place.** The op table ([`ops::table`], `Op::def`)
//!   declares every op's mnemonic, arity, class, fusion role, shape rule,
//!   gradient rule and, for pointwise ops, its [`scalar`] formula; every
//!   pass and backend reads it. An op family's module in `ops/` holds the
//!   shape and gradient rules the table names.
//! - **Verified between passes.** [`verify()`] checks operands, shapes
//!   (against each op's shape rule), inputs and outputs; the driver runs it
//!   after every pass and turns a failure into an error naming the pass.
//! - **Deterministic.** Compiling the same model and setup gives the same
//!   graph and the same text; no pass iterates a hash map into its output.
//! - **Randomness only through [`rng::Rng`].** Parameter initialisation
//!   (`nnc_lower::init_params`) and dropout masks draw from derived
//!   streams.

pub mod composite;
pub mod error;
pub mod fused;
pub mod graph;
pub mod kernel_plan;
pub mod ops;
pub mod passes;
pub mod plan;
pub mod print;
pub mod rng;
pub mod scalar;
pub mod verify;
pub mod window;

pub use error::CompileError;
pub use fused::{Arg, FusedKernel, FusedOp, KernelKind};
pub use graph::{Graph, GraphKind, InputKind, Node, NodeId, Output, OutputKind, Shape};
pub use ops::{
    CostFn, Fusion, GeluForm, Gradient, Op, OpClass, OpDef, OperandRead, PoolGeometry, ShapeError,
};
pub use passes::fuse_verified;
pub use plan::{
    plan_memory, plan_memory_with, Buffer, BufferKind, Lifetime, MemoryPlan, PlanError, PlanOptions,
};
pub use print::print;
pub use scalar::Scalar;
pub use verify::{verify, VerifyError};
