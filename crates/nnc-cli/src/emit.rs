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

use crate::failure::Failure;
use crate::prepare::pick_train;
use clap::{Args, Subcommand};
use nnc_check::program::{Program, Split, TrainSpec};
use nnc_cli::driver::{self, Options};
use nnc_cpu::Step;
use nnc_diag::render;
use nnc_ir::backend::TrainSetup;
use nnc_ir::Graph;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What `nnc emit` prints.
#[derive(Subcommand, Debug)]
pub enum EmitKind {
    /// The tensor IR: one node per line, with shapes and names.
    Ir(IrArgs),
    /// The Cranelift IR of every kernel the JIT backend compiles, in
    /// execution order.
    Clif(ClifArgs),
    /// The WGSL compute shaders of the GPU backend, with the variant chosen
    /// for each kernel and why.
    Wgsl(crate::emit_wgsl::WgslArgs),
}

/// Which graph of a file to build: shared by `emit ir` and `emit clif`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The .nnet file.
    pub file: PathBuf,
    /// Use the inference graph (no gradients, no update, no dropout).
    #[arg(long)]
    pub inference: bool,
    /// Which train block, by its model's name (when the file has several).
    #[arg(long, value_name = "MODEL")]
    pub train: Option<String>,
    /// The schedule phase whose settings to use (1 = the first).
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub phase: usize,
    /// The batch size of the graph (default: the phase's).
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// The training-set size `n` of the L2/L1 decay (default: from the data).
    #[arg(long, value_name = "N")]
    pub train_size: Option<usize>,
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
        EmitKind::Wgsl(args) => crate::emit_wgsl::emit_wgsl(args),
    };
    match result {
        Ok(text) => {
            // A closed pipe (`nnc emit ir f | head`) is not an error worth a message.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(Failure { message, code }) => {
            eprintln!("error: {message}");
            ExitCode::from(code)
        }
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

/// Checks `args.file` and builds the graph it asks for, stopped after the
/// pass `after` (`None`: every pass, `fuse` included). `what` names the
/// output in the error for a file with errors.
pub(crate) fn build_graph(
    args: &GraphArgs,
    after: Option<&str>,
    what: &str,
) -> Result<Graph, Failure> {
    let name = args.file.display().to_string();
    let source = std::fs::read_to_string(&args.file)
        .map_err(|e| Failure::usage(format!("cannot read `{name}`: {e}")))?;
    let base_dir = driver::base_dir(&args.file);
    let report = driver::check_source(&source, base_dir, Options::default());
    let Some(program) = report.clean_program() else {
        eprint!(
            "{}",
            render::to_text(&report.diagnostics, &name, &source, false)
        );
        return Err(Failure::problem(format!(
            "`{name}` has errors; fix them to see {what}"
        )));
    };
    let spec = pick_train(program, &name, args.train.as_deref())?;
    let model = program
        .model(&spec.model)
        .ok_or_else(|| Failure::problem(format!("no model `{}`", spec.model)))?;
    let phase = spec.phases.get(args.phase.wrapping_sub(1)).ok_or_else(|| {
        Failure::usage(format!(
            "phase {} does not exist: the schedule has {} phase(s)",
            args.phase,
            spec.phases.len()
        ))
    })?;
    let batch = args.batch.unwrap_or(phase.batch_size);
    if batch == 0 {
        return Err(Failure::usage("the batch size must be at least 1"));
    }
    let graph = if args.inference {
        nnc_ir::compile_inference_fused(model, batch, after)
    } else {
        let train_size = match args.train_size {
            Some(n) => n,
            None => training_set_size(program, spec, base_dir)?,
        };
        let setup = TrainSetup {
            model,
            optimizer: &phase.optimizer,
            batch_size: batch,
            train_size,
        };
        nnc_ir::compile_training_fused(&setup, batch, after)
    };
    graph.map_err(|e| Failure::usage(e.to_string()))
}

/// The `n` of the decay: the written bounds of the training split, or the
/// number of examples its data holds.
fn training_set_size(
    program: &Program,
    spec: &TrainSpec,
    base_dir: &Path,
) -> Result<usize, Failure> {
    let data = program
        .data(&spec.data)
        .ok_or_else(|| Failure::problem(format!("no data block `{}`", spec.data)))?;
    if let Some(Split {
        start,
        end: Some(end),
        ..
    }) = &data.train
    {
        return Ok(end.saturating_sub(start.unwrap_or(0)));
    }
    let model = program.model(&spec.model);
    let loaded = nnc_data::load(data, base_dir, model).map_err(|_| {
        Failure::problem(
            "the training-set size (the `n` of the L2/L1 decay) is not written in the file and \
             its data cannot be read; give it with `--train-size N`, or check the data with \
             `nnc check --data`",
        )
    })?;
    loaded
        .train
        .map(|d| d.len())
        .ok_or_else(|| Failure::problem(format!("data `{}` has no `train` split", spec.data)))
}
