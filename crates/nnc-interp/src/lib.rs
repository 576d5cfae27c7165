//! The reference interpreter of nnc: executes any IR graph op by op on
//! ndarray tensors, and, as [`InterpBackend`], trains models through the
//! `nnc_lower::backend::Backend` contract.
//!
//! It is the specification the compiled backends must match, so it is
//! written to be obviously right rather than fast: no fusion, no
//! reordering, one kernel per op, each a direct transcription of the op's
//! definition in `nnc_ir::ops`. It is still quick enough to train the
//! book's `[784, 30, 10]` network on MNIST: buffers are allocated once per
//! graph, matrix products use ndarray's `general_mat_mul`, and a backend
//! compiles each graph once per batch size.
//!
//! Invariants:
//! - **Generic over the element type.** [`Interpreter<T>`] runs in `f32`
//!   (backends) or `f64` (gradient checks); kernels are written once.
//! - **Deterministic.** A run is a pure function of the graph, the bound
//!   inputs and the step seed: no threads, no hash-map order, dropout masks
//!   from `nnc_ir::rng::Rng`.
//! - **Graphs are verified before they run** ([`Interpreter::new`]); the
//!   kernels rely on the verified shapes.

mod backend;
mod interpreter;
mod kernels;
mod real;

pub use backend::InterpBackend;
pub use interpreter::{InterpError, Interpreter};
pub use real::Real;
