//! `nnc emit ir FILE`: print the tensor IR of a model, after any pass;
//! `nnc emit clif FILE`: print the Cranelift IR of every kernel the JIT
//! backend compiles for it.
//!
//! By default this is the training-step graph of the first phase of the
//! file's train block (forward, backward and optimizer update) at that
//! phase's batch size, as the interpreter runs it; `--inference` prints the
//! evaluation graph instead, and `--after PASS` stops the pipeline after the
//! named pass (`nnc emit ir FILE --after autodiff`), or goes one further to
//! the fused kernels (`--after fuse`). The update pass bakes in the training-set size `n` of
//! the L2/L1 decay: it is read from the split's bounds when they are written
//! (`train_file[..50_000]`), otherwise from the data files, or given with
//! `--train-size`.
//!
//! `nnc emit clif` builds the same graph through every pass (fused, as the
//! JIT backend runs it), lowers it with `nnc_cpu::lower`, and prints each
//! action in execution order: a header `; kernel N: NAME (jit)` followed by
//! the kernel's Cranelift IR as handed to the code generator
//! (`nnc_jit::clif_text`), or a single comment line for a host op or a
//! product computed by the `gemm` library (no Cranelift IR for those). The
//! text is the host's: on a host without FMA, multiply-adds appear as an
//! `fmul` and an `fadd`.

use crate::emit_graph::{build_graph, GraphArgs};
use crate::emit_wgsl::{emit_wgsl, WgslArgs};
use crate::failure::Failure;
use clap::{Args, Subcommand};
use nnc_cpu::Step;
use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

/// What `nnc emit` prints.
#[derive(Subcommand, Debug)]
pub enum EmitKind {
    /// The tensor IR: one node per line, with shapes and names.
    #[command(after_help = crate::help::EMIT_IR)]
    Ir(IrArgs),
    /// The Cranelift IR of every kernel the JIT backend compiles, in
    /// execution order.
    #[command(after_help = crate::help::EMIT_CLIF)]
    Clif(ClifArgs),
    /// The WGSL compute shaders of the GPU backend, with the variant chosen
    /// for each kernel and why.
    #[command(after_help = crate::help::EMIT_WGSL)]
    Wgsl(WgslArgs),
}

#[derive(Args, Debug)]
pub struct IrArgs {
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Stop after this pass (training: lower, autodiff, update, simplify, dce,
    /// fuse; inference: lower, simplify, dce, fuse). Without it, the graph
    /// after `dce`, as the interpreter runs it.
    #[arg(long, value_name = "PASS")]
    pub after: Option<String>,
}

#[derive(Args, Debug)]
pub struct ClifArgs {
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs `nnc emit` and returns its exit code.
pub fn emit(kind: &EmitKind) -> ExitCode {
    let result = match kind {
        EmitKind::Ir(args) => emit_ir(args),
        EmitKind::Clif(args) => emit_clif(args),
        EmitKind::Wgsl(args) => emit_wgsl(args),
    };
    match result {
        Ok(text) => {
            // A closed pipe (`nnc emit ir f | head`) is not an error worth a message.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(failure) => failure.exit(),
    }
}

fn emit_ir(args: &IrArgs) -> Result<String, Failure> {
    // The interpreter runs the graph after `dce`; `fuse` (the kernels the JIT
    // compiles) is shown only when asked for.
    let after = args.after.as_deref().or(Some("dce"));
    build_graph(&args.graph, after, "its IR").map(|g| nnc_ir::print(&g))
}

fn emit_clif(args: &ClifArgs) -> Result<String, Failure> {
    // The JIT backend lowers the graph after every pass, `fuse` included.
    let graph = build_graph(&args.graph, None, "its Cranelift IR")?;
    let program = nnc_cpu::lower(&graph).map_err(|e| Failure::problem(e.to_string()))?;
    let mut text = String::new();
    for (n, step) in program.steps().enumerate() {
        match step {
            Step::Jit(kernel) => {
                let clif = nnc_jit::clif_text(kernel)
                    .map_err(|e| Failure::problem(format!("kernel `{}`: {e}", kernel.name)))?;
                let _ = writeln!(text, "; kernel {n}: {} (jit)", kernel.name);
                text.push_str(&clif);
                if !clif.ends_with('\n') {
                    text.push('\n');
                }
            }
            Step::Host(what) => {
                let _ = writeln!(
                    text,
                    "; kernel {n}: {what} (host): plain Rust, no Cranelift IR"
                );
            }
            Step::Library(what) => {
                let _ = writeln!(
                    text,
                    "; kernel {n}: matrix product (library): {what}; no Cranelift IR"
                );
            }
            Step::Native(what) => {
                let _ = writeln!(
                    text,
                    "; kernel {n}: {what} (native): plain Rust, no Cranelift IR"
                );
            }
        }
        text.push('\n');
    }
    Ok(text)
}
