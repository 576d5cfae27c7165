//! Command-line values shared by several subcommands: counts of at least
//! 1 and the backend to run on.

use clap::builder::RangedU64ValueParser;
use clap::ValueEnum;
use nnc_lower::backend::Backend;

/// Parses a count of at least 1.
pub(crate) fn positive() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..)
}

/// The backends `nnc run` and `nnc bench` can train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// The reference interpreter (ndarray, op by op).
    Interp,
    /// Fused kernels compiled with Cranelift, matrix products by shape
    /// (JIT micro-kernels or a library GEMM).
    Jit,
    /// WGSL compute shaders on a GPU through wgpu (Vulkan; lavapipe on a
    /// machine without a GPU).
    Wgpu,
}

/// A fresh backend of `kind`.
pub(crate) fn make_backend(kind: BackendKind) -> Box<dyn Backend> {
    match kind {
        BackendKind::Interp => Box::new(nnc_interp::InterpBackend::new()),
        BackendKind::Jit => Box::new(nnc_cpu::JitBackend::new()),
        BackendKind::Wgpu => Box::new(nnc_gpu::GpuBackend::new()),
    }
}
