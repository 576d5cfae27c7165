//! nnc-jit: native code for nnc's kernels, generated at run time with
//! Cranelift.
//!
//! # Purpose
//!
//! The reference interpreter runs a network op by op on ndarray. This crate
//! is the foundation of the fast path: small loop-nest kernels over `f32`
//! buffers, compiled once to machine code (with `f32x4` SIMD and FMA where
//! the host has them) and called many times. It does not know about nnc's
//! tensor IR; a later stage lowers fused IR kernels into this crate's
//! kernel IR.
//!
//! # Pipeline
//!
//! 1. **Kernel IR** ([`ir`]): buffers with static lengths, counted loops
//!    with constant bounds, typed variables (scalar or `f32x4`), loads and
//!    stores at affine indices, lane-wise arithmetic (including `exp`,
//!    `log`, `sigmoid`, `tanh` and compare/select), fused multiply-add and
//!    horizontal sums. Loops carry an unroll factor: Cranelift does almost
//!    no loop optimisation, so unrolling and register tiling are decided
//!    here, by the kernel builders.
//! 2. **Validation** ([`validate()`]): scoping, types, and a static bounds
//!    proof for every access.
//! 3. **Translation** (`codegen`): kernel IR to Cranelift IR; [`clif_text`]
//!    shows it.
//! 4. **Compilation** ([`compile`], [`compile_many`]): Cranelift's optimiser
//!    and register allocator, then cranelift-jit maps the code executable;
//!    [`machine_text`] shows the selected machine instructions.
//! 5. **Calls** ([`CompiledKernel::call`]): length checks, then one
//!    indirect call with a table of buffer pointers.
//!
//! Ready-made kernel builders live in [`kernels`]: elementwise chains with
//! broadcast operands, row and column sums, and a register-tiled matrix
//! product with a fused bias/activation epilogue.
//!
//! # Invariants
//!
//! * **Kernels never touch memory outside their buffers.** Every loop bound
//!   is a constant, so each loop variable ranges over a known interval and
//!   every affine index has an exact minimum and maximum. The validator
//!   rejects a kernel unless each access of `lanes` elements satisfies
//!   `0 <= min` and `max + lanes <= len`; code generation runs only on
//!   validated kernels and emits no other memory access than the loads and
//!   stores of the kernel (plus the read of the pointer table).
//! * **Buffer lengths are checked at the call.** [`CompiledKernel::call`]
//!   compares every slice with its declared length and refuses a mismatch,
//!   so the static proof applies to the memory actually passed.
//! * **No aliasing between written buffers.** Written buffers are passed as
//!   `&mut [f32]`, read ones as `&[f32]`, so Rust's borrow rules already
//!   exclude overlaps that would make the code's result order-dependent.
//! * **Determinism.** The code does the same operations in the same order on
//!   every call; results depend only on the inputs and on whether the host
//!   has FMA (detected once, by `cranelift-native` and the standard
//!   library's feature detection).
//! * **Scratch memory is private.** [`Access::Scratch`] buffers are
//!   allocated by the compiled kernel (at its declared length) and are
//!   never seen by the caller; they let a kernel pack operands.
//! * **Overlapping tiles store equal values.** Builders in [`kernels`]
//!   cover an edge that the tile width does not divide with one more tile
//!   ending exactly at the edge. They do so only where each output element
//!   is computed from inputs alone by the same instructions wherever it
//!   sits in a tile, so elements stored twice get identical bits.
//! * **Variables start at zero.** Every kernel variable is defined as zero
//!   at entry, so no read is ever undefined.
//!
//! The `unsafe` in this crate is confined to `jit.rs`: turning a finalized
//! code pointer into a function pointer, calling it, and freeing the code
//! memory when the last kernel that uses it is dropped. Each block states
//! its safety argument.

pub mod error;
pub mod ir;
pub mod kernels;

mod codegen;
mod jit;
mod math;
mod validate;

pub use error::JitError;
pub use ir::{
    Access, Affine, BinOp, BufId, BufferDecl, CmpOp, Expr, Kernel, Loop, LoopVar, Stmt, Ty, UnOp,
    VarId,
};
pub use jit::{clif_text, compile, compile_many, machine_text, CompiledKernel};
pub use validate::validate;
