//! The pass pipeline. Every pass is a named function from graph to graph;
//! the two pipelines below are the whole list, in order, and the verifier
//! runs after each pass.
//!
//! | pass       | does                                                                 |
//! |------------|----------------------------------------------------------------------|
//! | `lower`    | checked model to forward graph: cost, (inference) accuracy, outputs  |
//! | `autodiff` | backward graph: `grad(NAME)` of the mean cost, per trained parameter |
//! | `update`   | optimizer step, regularization: `new(NAME)` of trained params, state |
//! | `simplify` | removes no-op nodes, merges duplicate nodes                          |
//! | `dce`      | removes nodes no output depends on                                   |
//! | `fuse`     | groups the ops into fused kernels (compiled backends only)           |
//!
//! Training graphs run the first five; inference graphs run `lower`,
//! `simplify` and `dce`. `stop_after: Some("autodiff")` returns the graph
//! as that pass left it (what `nnc emit ir FILE --after autodiff` prints).
//! The interpreter, the specification, runs these unfused graphs op by op.
//!
//! Compiled backends run the same pipelines followed by `fuse`
//! ([`JIT_TRAINING_PASSES`], [`JIT_INFERENCE_PASSES`], through
//! [`compile_training_fused`] and [`compile_inference_fused`]).

pub mod autodiff;
pub mod dce;
pub mod fuse;
pub mod lower;
mod rebuild;
pub mod simplify;
pub mod update;

use crate::backend::TrainSetup;
use crate::error::CompileError;
use crate::graph::{Graph, GraphKind};
use crate::verify::verify;
use lower::Lowering;
use nnc_check::program::Model;

/// The passes of a training-step graph, in order.
pub const TRAINING_PASSES: [&str; 5] = ["lower", "autodiff", "update", "simplify", "dce"];

/// The passes of an inference graph, in order.
pub const INFERENCE_PASSES: [&str; 3] = ["lower", "simplify", "dce"];

/// The passes of a training-step graph for a compiled backend, in order.
pub const JIT_TRAINING_PASSES: [&str; 6] =
    ["lower", "autodiff", "update", "simplify", "dce", "fuse"];

/// The passes of an inference graph for a compiled backend, in order.
pub const JIT_INFERENCE_PASSES: [&str; 4] = ["lower", "simplify", "dce", "fuse"];

/// The training-step graph of `setup` for batches of `batch_size` (which
/// may differ from `setup.batch_size`: the last batch of an epoch is
/// shorter). Stops after the pass named `stop_after`, if given.
pub fn compile_training(
    setup: &TrainSetup<'_>,
    batch_size: usize,
    stop_after: Option<&str>,
) -> Result<Graph, CompileError> {
    known_pass(stop_after, &TRAINING_PASSES)?;
    if setup.model.cost.is_none() {
        return Err(CompileError::NoCost {
            model: setup.model.name.clone(),
        });
    }
    let mode = Lowering::for_training(setup.optimizer);
    let graph = lower::lower(setup.model, mode, batch_size)?;
    compile_training_from(graph, setup, stop_after)
}

/// The rest of the training pipeline (`autodiff` to `dce`) on a forward
/// graph of `setup.model` as `lower` leaves it: [`compile_training`] is
/// `lower` then this. For forward graphs that a caller extends first, as
/// the tests of mechanisms that no layer of the language uses yet do (the
/// forward update of state that is not trained, [`Graph::add_param_update`]).
/// Verifies the graph it is given as the output of `lower`.
pub fn compile_training_from(
    mut graph: Graph,
    setup: &TrainSetup<'_>,
    stop_after: Option<&str>,
) -> Result<Graph, CompileError> {
    known_pass(stop_after, &TRAINING_PASSES)?;
    if graph.kind != GraphKind::Training {
        return Err(CompileError::Internal {
            what: "the training passes were given an inference graph".to_string(),
        });
    }
    if finished(&graph, "lower", stop_after)? {
        return Ok(graph);
    }
    autodiff::autodiff(&mut graph, &crate::params::param_specs(setup.model))?;
    if finished(&graph, "autodiff", stop_after)? {
        return Ok(graph);
    }
    update::update(&mut graph, setup)?;
    if finished(&graph, "update", stop_after)? {
        return Ok(graph);
    }
    let graph = simplify::simplify(&graph);
    if finished(&graph, "simplify", stop_after)? {
        return Ok(graph);
    }
    let graph = dce::dce(&graph);
    finished(&graph, "dce", stop_after)?;
    Ok(graph)
}

/// The inference graph of `model` for batches of `batch_size`: no dropout;
/// outputs `cost_sum` (when the model has a cost), `correct` and
/// `prediction(NAME)` for each model output.
pub fn compile_inference(
    model: &Model,
    batch_size: usize,
    stop_after: Option<&str>,
) -> Result<Graph, CompileError> {
    known_pass(stop_after, &INFERENCE_PASSES)?;
    let mode = Lowering {
        training: false,
        nesterov_mu: None,
    };
    let graph = lower::lower(model, mode, batch_size)?;
    if finished(&graph, "lower", stop_after)? {
        return Ok(graph);
    }
    let graph = simplify::simplify(&graph);
    if finished(&graph, "simplify", stop_after)? {
        return Ok(graph);
    }
    let graph = dce::dce(&graph);
    finished(&graph, "dce", stop_after)?;
    Ok(graph)
}

/// The training-step graph of `setup` in fused kernels: the passes of
/// [`JIT_TRAINING_PASSES`]. Stops after the pass named `stop_after` (one
/// of that list), if given.
pub fn compile_training_fused(
    setup: &TrainSetup<'_>,
    batch_size: usize,
    stop_after: Option<&str>,
) -> Result<Graph, CompileError> {
    known_pass(stop_after, &JIT_TRAINING_PASSES)?;
    if stop_after.is_some_and(|pass| pass != "fuse") {
        return compile_training(setup, batch_size, stop_after);
    }
    fuse_verified(&compile_training(setup, batch_size, None)?)
}

/// Pass `fuse` on a finished graph (after `dce`), verified: what compiled
/// backends run, whoever built the graph (see
/// `nnc_ir::backend::TrainingCompiler`).
pub fn fuse_verified(graph: &Graph) -> Result<Graph, CompileError> {
    let graph = fuse::fuse(graph);
    finished(&graph, "fuse", None)?;
    Ok(graph)
}

/// The inference graph of `model` in fused kernels: the passes of
/// [`JIT_INFERENCE_PASSES`].
pub fn compile_inference_fused(
    model: &Model,
    batch_size: usize,
    stop_after: Option<&str>,
) -> Result<Graph, CompileError> {
    known_pass(stop_after, &JIT_INFERENCE_PASSES)?;
    if stop_after.is_some_and(|pass| pass != "fuse") {
        return compile_inference(model, batch_size, stop_after);
    }
    let graph = fuse::fuse(&compile_inference(model, batch_size, None)?);
    finished(&graph, "fuse", stop_after)?;
    Ok(graph)
}

/// Rejects a `stop_after` that names no pass of `passes`.
fn known_pass(stop_after: Option<&str>, passes: &[&'static str]) -> Result<(), CompileError> {
    match stop_after {
        Some(name) if !passes.contains(&name) => Err(CompileError::UnknownPass {
            name: name.to_string(),
            known: passes.to_vec(),
        }),
        _ => Ok(()),
    }
}

/// Verifies the graph `pass` produced; true when the pipeline stops here.
fn finished(
    graph: &Graph,
    pass: &'static str,
    stop_after: Option<&str>,
) -> Result<bool, CompileError> {
    verify(graph).map_err(|errors| CompileError::Verify { pass, errors })?;
    Ok(stop_after == Some(pass))
}
