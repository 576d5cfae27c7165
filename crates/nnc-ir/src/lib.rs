//! The tensor IR of nnc: a checked model becomes a graph of typed tensor
//! ops with static shapes, which passes extend (reverse-mode autodiff, the
//! optimizer step) and clean up, and which backends execute.
//!
//! The pipeline (`passes`): `lower` (model to forward graph), `autodiff`,
//! `update`, `simplify`, `dce`; [`compile_training`] and
//! [`compile_inference`] run it, verifying the graph after every pass, and
//! can stop after any pass by name. [`print`] gives the text form.
//! Compiled backends add the pass `fuse`, which groups the ops into fused
//! kernels ([`fused`]; [`compile_training_fused`],
//! [`compile_inference_fused`]). The analysis [`plan_memory`] places every
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
//! - **Verified between passes.** [`verify`] checks operands, shapes
//!   (against each op's shape rule), inputs and outputs; the driver runs it
//!   after every pass and turns a failure into an error naming the pass.
//! - **Deterministic.** Compiling the same model and setup gives the same
//!   graph and the same text; no pass iterates a hash map into its output.
//! - **Randomness only through [`rng::Rng`].** Parameter initialisation
//!   ([`init_params`]) and dropout masks draw from derived streams.
//!
//! The boundary with the training loop is [`backend`]: the loop hands a
//! backend batches and learning rates and never sees a graph.

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
