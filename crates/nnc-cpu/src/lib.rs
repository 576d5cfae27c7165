//! nnc-cpu: the CPU backend of nnc, running training steps as native code
//! generated with Cranelift (through `nnc-jit`).
//!
//! # Purpose
//!
//! The reference interpreter (`nnc-interp`) runs the unfused graph op by
//! op. This crate runs the *fused* graph (`nnc_lower::compile_training_fused`,
//! `nnc_lower::compile_inference_fused`): each fused kernel is lowered to a
//! few `nnc-jit` loop nests, compiled once per graph, and called every
//! step. [`JitBackend`] implements `nnc_lower::backend::Backend`, so the
//! training loop can drive it exactly as it drives the interpreter; the
//! command line offers it as `nnc run --backend jit` and shows its kernels
//! with `nnc emit clif`.
//!
//! # Pipeline
//!
//! 1. `nnc-ir` builds the training (or inference) graph and fuses it.
//! 2. [`lower()`] walks the fused graph and turns each kernel into
//!    actions (module `lower`): pointwise groups become one loop nest each
//!    (module `pointwise`), matrix products use `nnc-jit`'s tiled builder
//!    with the bias and activation fused into its epilogue where possible;
//!    large products are computed by nnc's own AVX2 product ([`sgemm`],
//!    on two threads through module `pair`) or the `gemm` library (module
//!    `gemm`), with the bias and activation in the pointwise kernel that
//!    follows; a large weight gradient read only by a plain SGD update is
//!    that update, in place (module `fold`); sums over the batch become
//!    column sums, per-example costs, softmax and the softmax
//!    log-likelihood gradient are row kernels (module `rows`). All kernels
//!    of a graph are compiled together into one module.
//! 3. [`Program::run`] runs the actions in order over memory allocated
//!    once, at lowering (module `program`).
//!
//! # Coverage (this first slice)
//!
//! Lowered: the elementwise ops, the activations and their gradients,
//! bias adds and other broadcasts along the batch or feature axis, scalar
//! arithmetic (the optimizers' constants, Adam's bias corrections), matrix
//! products in all four transpose combinations, sums over leading or
//! trailing axes, all five costs and their gradients, softmax and its
//! gradient, the correct count, reshapes, dropout masks, `log`; hence dense
//! networks with any cost, dropout, L1/L2 decay, and the sgd, momentum,
//! Nesterov and Adam updates.
//!
//! Convolutions and their two gradients, pooling (max, average, L2, any
//! window, stride and padding, floor or ceil rounding) and its gradient,
//! and a convolution's bias (added along the channel axis of a rank-4
//! tensor, summed over the other axes for its gradient) are one kernel
//! each (module `lower_conv`, kernels in `nnc_jit::kernels::conv` and
//! `pool`); hence the book's convolutional networks. Where the processor
//! has AVX2 and the measured table says it pays (`ConvGemm::pays`), a
//! convolution's passes are products over unfolded windows instead
//! (module `conv_gemm`), a `conv+epilogue` kernel (convolution, bias,
//! ReLU, max pooling) one action that finishes each example while it is
//! in cache, and a `pool_grad+epilogue` kernel (max pooling's gradient,
//! ReLU's derivative, the bias gradient) one pass (module `pool_grad`);
//! `LowerOptions` can keep every convolution direct, to measure the
//! choice. An op the lowering
//! does not handle would be reported as `BackendError::Unsupported`
//! naming it (never a panic).
//!
//! Host ops: the softmax gradient and the correct count (rows of a few
//! values per example), reshapes (a copy) and dropout masks (drawn with
//! the interpreter's generator, so masks are identical) run in plain Rust
//! (module `host`), as actions between kernels.
//!
//! # Invariants
//!
//! * **Same arithmetic as the specification.** Every lowered op computes
//!   the interpreter's formula; results differ only by rounding (operation
//!   order in sums and products, fused multiply-adds) and by `nnc-jit`'s
//!   `exp`/`log`/`sigmoid`/`tanh`, which are accurate to a few units in
//!   the last place. The tests hold the JIT to the interpreter within
//!   `1e-4` relative on costs and parameters after several steps (Adam
//!   with a small extra allowance, see `tests/agreement.rs`).
//! * **No allocation in a step.** Each program's memory is allocated at
//!   lowering: one arena laid out by `nnc_ir::plan_memory_with` (gradients
//!   die after the update reads them; the temporaries that are not
//!   pointwise have scratch slots), a small auxiliary buffer for what the
//!   lowering adds inside a kernel (transposed operands, the pointwise
//!   temporaries it stores between loop nests), the packing buffers of our
//!   own products, and one vector per graph input. On W2 (batch 64) the
//!   arena holds 2.9M values where one buffer per value would take 6.2M.
//!   Parameters and optimizer state are swapped in as input vectors; new
//!   values are copied out of the arena, except those a folded update
//!   wrote in place. Neither this crate nor `nnc-jit` allocates during a
//!   step; the one exception is inside the `gemm` library, which
//!   allocates its packing buffers on each call of a mid-sized product
//!   (module `gemm`); `tests/allocations.rs` counts.
//! * **In-place updates read nothing stale.** A folded update
//!   writes its parameter in place as soon as the gradient is known,
//!   which lowering allows only when nothing after it reads the old
//!   values; a step whose cost turns out not to be finite has therefore
//!   already changed those parameters (the training loop stops on it, and
//!   the last checkpoint is the one to resume from).
//! * **Actions never read what they write.** The plan keeps a step's
//!   inputs and outputs apart; [`Program::run`] cuts the written buffers
//!   out of the arena as disjoint mutable slices and finds every read
//!   buffer in the pieces between them, so an overlap would be an error,
//!   never a data race.
//! * **Errors are values.** An op the lowering cannot handle is
//!   [`LowerError::Unsupported`]; a kernel the JIT rejects is
//!   [`LowerError::Jit`]; neither panics.
//! * **Determinism.** Kernels run in a fixed order and each does the same
//!   operations in the same order every call (products on two threads
//!   too: each block of the result is summed by one thread, whichever
//!   thread that is).

mod backend;
mod batched;
mod conv_gemm;
mod conv_pass;
mod error;
mod fold;
mod gemm;
mod host;
mod lower;
mod lower_conv;
mod lower_tensor;
mod pair;
mod pending;
mod pointwise;
mod pool_grad;
mod program;
mod rows;
pub mod sgemm;
pub mod verify;

pub use backend::JitBackend;
pub use error::LowerError;
pub use lower::{lower, lower_with, LowerOptions};
pub use program::{Program, Step};
pub use verify::{Mismatch, Verifier, VerifyError, VerifyReport};
