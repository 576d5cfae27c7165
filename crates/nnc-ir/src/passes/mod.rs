//! The graph-to-graph passes of the pipeline: each a named function from
//! graph to graph, verified after it runs. The pipelines that start from a
//! checked model (`lower`, then these, and `update`) are `nnc-lower`'s
//! (`nnc_lower::compile_training`, `nnc_lower::compile_inference`).
//!
//! | pass       | does                                                                 |
//! |------------|----------------------------------------------------------------------|
//! | `autodiff` | backward graph: `grad(NAME)` of the mean cost, per trained parameter |
//! | `simplify` | removes no-op nodes, merges duplicate nodes                          |
//! | `dce`      | removes nodes no output depends on                                   |
//! | `fuse`     | groups the ops into fused kernels (compiled backends only)           |

pub mod autodiff;
pub mod dce;
pub mod fuse;
mod rebuild;
pub mod simplify;

use crate::error::CompileError;
use crate::graph::Graph;
use crate::verify::verify;

/// Pass `fuse` on a finished graph (after `dce`), verified: what compiled
/// backends run, whoever built the graph (see
/// `nnc_lower::backend::TrainingCompiler`).
pub fn fuse_verified(graph: &Graph) -> Result<Graph, CompileError> {
    let graph = fuse::fuse(graph);
    verified(&graph, "fuse", None)?;
    Ok(graph)
}

/// Rejects a `stop_after` that names no pass of `passes`.
pub fn known_pass(stop_after: Option<&str>, passes: &[&'static str]) -> Result<(), CompileError> {
    match stop_after {
        Some(name) if !passes.contains(&name) => Err(CompileError::UnknownPass {
            name: name.to_string(),
            known: passes.to_vec(),
        }),
        _ => Ok(()),
    }
}

/// Verifies the graph `pass` produced; true when the pipeline stops here.
pub fn verified(
    graph: &Graph,
    pass: &'static str,
    stop_after: Option<&str>,
) -> Result<bool, CompileError> {
    verify(graph).map_err(|errors| CompileError::Verify { pass, errors })?;
    Ok(stop_after == Some(pass))
}
