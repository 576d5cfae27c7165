//! `nnc emit wgsl FILE`: the WGSL compute shaders of the GPU backend for a
//! model's training step (or, with `--inference`, its evaluation batch),
//! as `nnc_wgsl::emit` makes them for wgpu's default limits.
//!
//! Default output: every kernel (distinct shader module) in order of first
//! use, each under a header comment giving its name, the variant chosen,
//! the reason, its workgroup size and the dispatches that run it (graph
//! node and workgroup counts). `--list` prints one line per kernel
//! instead; `-o DIR` writes one `NAME.VARIANT.wgsl` file per kernel
//! (header comment included) and lists the files written. Every shader is
//! validated with naga before anything is printed.

use crate::emit_graph::{build_graph, GraphArgs};
use crate::failure::Failure;
use clap::Args;
use nnc_wgsl::{ShaderProgram, Target};
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct WgslArgs {
    #[command(flatten)]
    pub graph: GraphArgs,
    /// One line per kernel: name, variant, reason, workgroups.
    #[arg(long)]
    pub list: bool,
    /// Write one `.wgsl` file per kernel variant into this folder.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The text `nnc emit wgsl` prints.
pub fn emit_wgsl(args: &WgslArgs) -> Result<String, Failure> {
    let graph = build_graph(&args.graph, None, "its WGSL")?;
    let target = Target::default();
    let program = nnc_wgsl::emit(&graph, &target).map_err(|e| Failure::problem(e.to_string()))?;
    // A shader naga rejects is a compiler bug; say so rather than print it.
    nnc_wgsl::validate(&program).map_err(|e| Failure::problem(e.to_string()))?;
    if args.list {
        return Ok(list(&program));
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(format!("cannot create `{}`: {e}", dir.display())))?;
        let mut text = String::new();
        for (k, kernel) in program.kernels.iter().enumerate() {
            let path = dir.join(format!("{}.{}.wgsl", kernel.name, kernel.variant));
            let body = format!("{}{}", header(&program, k), kernel.source);
            std::fs::write(&path, body)
                .map_err(|e| Failure::problem(format!("cannot write `{}`: {e}", path.display())))?;
            let _ = writeln!(text, "{}", path.display());
        }
        return Ok(text);
    }
    let mut text = String::new();
    for (k, kernel) in program.kernels.iter().enumerate() {
        text.push_str(&header(&program, k));
        text.push_str(&kernel.source);
        text.push('\n');
    }
    Ok(text)
}

/// The workgroup counts of every dispatch of kernel `k`, with the graph
/// node each computes: `%12 [4, 1, 1]`.
fn dispatches(program: &ShaderProgram, k: usize) -> Vec<String> {
    program
        .dispatches
        .iter()
        .filter(|d| d.kernel == k)
        .map(|d| {
            let [x, y, z] = d.workgroups;
            format!("{} [{x}, {y}, {z}]", d.origin)
        })
        .collect()
}

fn header(program: &ShaderProgram, k: usize) -> String {
    let kernel = &program.kernels[k];
    let [x, y, z] = kernel.workgroup_size;
    format!(
        "// kernel {k}: {}\n// variant: {}\n// reason: {}\n// workgroup size: [{x}, {y}, {z}]\n// dispatches: {}\n",
        kernel.name,
        kernel.variant,
        kernel.reason,
        dispatches(program, k).join(", ")
    )
}

fn list(program: &ShaderProgram) -> String {
    let mut text = String::new();
    for (k, kernel) in program.kernels.iter().enumerate() {
        let _ = writeln!(
            text,
            "{k:>3}  {:<28} {:<36} workgroups {}  // {}",
            kernel.name,
            kernel.variant,
            dispatches(program, k).join(", "),
            kernel.reason
        );
    }
    let _ = writeln!(
        text,
        "{} kernels, {} dispatches, {} buffers, {} uploads",
        program.kernels.len(),
        program.dispatches.len(),
        program.buffers.len(),
        program.uploads.len()
    );
    text
}
