//! nnc-gpu: the wgpu executor. It runs the fused training step and the
//! evaluation of a model, as WGSL compute shaders emitted by `nnc-wgsl`, on
//! whatever adapter wgpu finds: a real GPU, or Mesa's lavapipe (software
//! Vulkan) on a machine without one, which is how CI tests it.
//!
//! The pipeline per phase, built once by [`GpuBackend`]'s `configure`:
//! `compile_training_fused` (the same fused graph the JIT lowers) ▶
//! `nnc_wgsl::emit(graph, target)` with the device's limits as the target
//! ▶ [`executable`]: device buffers, one compute pipeline per kernel (shared
//! between batch sizes when the WGSL is the same), one bind group per
//! dispatch. A step then only writes the batch, the learning rate and the
//! dropout masks, and submits.
//!
//! Invariants:
//! - **State stays on the device.** Parameters and optimizer state live in
//!   device buffers for the whole run; they are uploaded by `set_params`
//!   and downloaded only by `params()`. Activations and gradients live in
//!   each program's working-memory buffer and never leave the device.
//! - **One command buffer per step.** Every dispatch of a step is encoded
//!   into one compute pass of one command buffer, which also copies the
//!   cost (4 bytes) into a staging buffer; the backend reads it back, as
//!   the `Backend` contract returns the cost of each step. A second,
//!   copy-only command buffer then commits the new parameters and state,
//!   and only if that cost is finite, so a diverging step leaves the
//!   values before it (as the JIT does).
//! - **Same numbers as the interpreter, up to f32 rounding order.** The
//!   emitted kernels compute the fused graph's ops; dropout masks are drawn
//!   on the host exactly as the interpreter and the JIT draw them
//!   (`Rng::derive(step_seed, stream)`), so runs agree mask for mask
//!   (tested against `nnc_interp::InterpBackend` in `tests/agreement.rs`).
//! - **Errors, never panics.** wgpu's default for a validation error is to
//!   panic; here every group of calls runs inside error scopes and an
//!   uncaptured-error handler catches the rest, so problems come back as
//!   `BackendError`s: no adapter (saying what to install), a tensor over the
//!   device's limits (the emitter's error, naming it, its size and the
//!   limit), a lost device. After a loss, `params()` returns the values last
//!   read or set, the last checkpoint.
//!
//! The device is opened lazily (by `configure`, `set_params` or
//! [`GpuBackend::open`]), so constructing a backend never fails.

mod backend;
mod carry;
pub mod device;
mod executable;

pub use backend::GpuBackend;
pub use device::{adapters, AdapterSummary, Gpu, GpuError, NO_ADAPTER};
pub use executable::LoadedProgram;
