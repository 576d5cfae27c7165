//! nnc-wgsl: WGSL compute shaders for the fused graphs of nnc, the code
//! generator of the GPU backend.
//!
//! # Purpose
//!
//! [`emit`] turns a fused graph (`nnc_lower::compile_training_fused`,
//! `compile_inference_fused`, or any verified graph, whose plain nodes
//! are treated as one-op kernels) into a [`ShaderProgram`]: device
//! buffers, WGSL shader modules, and the ordered dispatches that compute
//! one training step or one evaluation batch. The wgpu executor
//! (`nnc-gpu`) creates one pipeline per kernel, encodes the dispatches of
//! a step into one command buffer and reads back only the metrics; `nnc
//! emit wgsl` prints the shaders. This crate never touches a device: it
//! is pure text generation plus [`validate`] (naga's parser and
//! validator), so it builds and tests on any machine.
//!
//! # How kernels become shaders
//!
//! The walk mirrors the CPU backend's lowering (`nnc-cpu/src/lower.rs`),
//! with WGSL instead of loop nests (module `emit`): elementwise chains
//! are one shader (module `group`), with `vec4` loads and stores where
//! the length and every broadcast allow; a matrix product carries the
//! pointwise ops that follow it (bias, activation, an activation's
//! derivative) in its epilogue, tiled through workgroup memory when every
//! dimension reaches the tile, one invocation per result otherwise; sums
//! over the batch (bias gradients), the cost's sum and the correct count
//! are workgroup tree reductions when sums are long; costs and softmax
//! are per-example row kernels with the interpreter's stable formulas;
//! convolutions, pooling and their gradients gather (one invocation per
//! value written, never atomics); an optimizer update is one pointwise
//! shader per parameter (split only where the device's storage-buffer
//! limit forces it, as Adam's eight buffers do under the default limit
//! of eight). Each shader records the variant chosen and the reason, with
//! the numbers that decided it.
//!
//! # Invariants
//!
//! - **Same formulas as the specification.** Every shader computes the
//!   interpreter's formula for its op (`nnc-interp/src/kernels`), in
//!   `f32`, with the stable forms of the CPU backend: softmax and the
//!   log-likelihood through the row maximum, the sigmoid cross-entropy as
//!   `max(z, 0) - y z + ln(1 + e^-|z|)`, tanh through `e^-2|x|`. Sums may
//!   add in another order (tree reductions).
//! - **Shaders are position-independent.** No shader text holds a buffer
//!   offset; every operand is a binding of a range, so identical
//!   computations share one shader module ([`ShaderProgram::kernels`] is
//!   deduplicated by source).
//! - **Bindings are valid for wgpu.** Every range starts at a multiple of
//!   the device's `min_storage_buffer_offset_alignment`, is non-empty and
//!   within `max_storage_buffer_binding_size`; a dispatch binds at most
//!   `max_storage_buffers_per_shader_stage` ranges, and no two of its
//!   ranges overlap where one is writable (the planner places values
//!   whose lifetimes overlap apart, and a kernel never writes what it
//!   reads). Bindings into the working memory are all `read_write`, since
//!   wgpu rejects one buffer bound read-only and read-write in one
//!   dispatch. [`ShaderProgram::check`] re-checks all of this.
//! - **Within limits or an error.** A tensor over the binding size, a
//!   working memory over the buffer size, or a grid over the workgroup
//!   count limit is an [`EmitError`] naming it, never a panic.
//! - **Reads follow writes.** Every dispatch reads only values an
//!   earlier dispatch of the run wrote, or the host provided (inputs,
//!   dropout masks); [`emit`] checks this before returning and reports a
//!   violation as an internal error. Dropout masks are uploads the host
//!   draws with the interpreter's generator; a mask the graph keeps (for
//!   the backward pass) is read from its upload buffer, never copied.
//! - **Deterministic.** The same graph and target give the same program
//!   and the same text.
//! - **Validated.** Every shader emitted for every model and fixture of
//!   the repository parses and validates with naga (`tests/validate.rs`).

mod assemble;
mod emit;
mod group;
mod kernels;
mod loc;
mod program;
mod validate;
mod wgsl;

pub use program::{
    BindingKind, BufferRole, BufferSpec, Dispatch, EmitError, Range, ShaderKernel, ShaderProgram,
    Target, Upload, UploadKind,
};
pub use validate::{validate, validate_kernel, validate_source, ValidationError};

use nnc_ir::plan::Outputs;
use nnc_ir::Graph;

/// Which values stay intact to the end of a run (and so appear in
/// `ShaderProgram::node_values`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmitOptions {
    /// The graph outputs read after the run; `None`: the default for the
    /// graph's kind (a training step keeps every output but the
    /// gradients, an inference graph keeps all).
    pub outputs: Option<Outputs>,
}

/// The shader program of `graph` for a device with `target`'s limits,
/// keeping the default outputs.
pub fn emit(graph: &Graph, target: &Target) -> Result<ShaderProgram, EmitError> {
    emit_with(graph, target, &EmitOptions::default())
}

/// [`emit`] with options.
pub fn emit_with(
    graph: &Graph,
    target: &Target,
    options: &EmitOptions,
) -> Result<ShaderProgram, EmitError> {
    let outputs = options
        .outputs
        .unwrap_or_else(|| emit::default_outputs(graph));
    emit::emit(graph, target, outputs)
}
