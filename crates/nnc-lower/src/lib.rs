//! From a checked model to graphs: the compiler pipelines that start at
//! `nnc_check::program::Model` and end in a verified `nnc_ir::Graph`, and
//! the boundary between the training loop and the backends that run those
//! graphs.
//!
//! This crate sits between the checker and the IR: the IR knows tensors
//! and ops, not models; the checker knows models, not graphs. What needs
//! both lives here:
//! - [`lower`]: the pass `lower` (a model to its forward graph: cost,
//!   accuracy, outputs; running statistics of state that is not trained);
//! - [`update`]: the pass `update` (the optimizer step and regularizers);
//! - [`params`]: the layout of parameters and optimizer state that the
//!   layers' declarations give; [`init`]: their initial values;
//! - [`backend`]: the `Backend` trait, host tensors and batches, which the
//!   trainer (`nnc-train`) and the tools (`nnc eval`, `nnc predict`) drive,
//!   and the backends (`nnc-interp`, `nnc-cpu`, `nnc-gpu`) implement.
//!
//! The pipelines (the entry points [`compile_training`] and
//! [`compile_inference`]):
//!
//! | pass       | crate    | does                                                                 |
//! |------------|----------|----------------------------------------------------------------------|
//! | `lower`    | here     | checked model to forward graph: cost, (inference) accuracy, outputs  |
//! | `autodiff` | `nnc-ir` | backward graph: `grad(NAME)` of the mean cost, per trained parameter |
//! | `update`   | here     | optimizer step, regularization: `new(NAME)` of trained params, state |
//! | `simplify` | `nnc-ir` | removes no-op nodes, merges duplicate nodes                          |
//! | `dce`      | `nnc-ir` | removes nodes no output depends on                                   |
//! | `fuse`     | `nnc-ir` | groups the ops into fused kernels (compiled backends only)           |
//!
//! Training graphs run the first five; inference graphs run `lower`,
//! `simplify` and `dce`. `stop_after: Some("autodiff")` returns the graph
//! as that pass left it (what `nnc emit ir FILE --after autodiff` prints).
//! The interpreter, the specification, runs these unfused graphs op by op.
//! The verifier (`nnc_ir::verify`) runs after every pass.
//!
//! Compiled backends run the same pipelines followed by `fuse`
//! ([`JIT_TRAINING_PASSES`], [`JIT_INFERENCE_PASSES`], through
//! [`compile_training_fused`] and [`compile_inference_fused`]).

pub mod backend;
pub mod init;
pub mod lower;
pub mod params;
pub mod update;

pub use init::init_params;
pub use params::{optimizer_state, param_specs, ParamRole, ParamSpec, StateSpec};

use backend::TrainSetup;
use lower::Lowering;
use nnc_check::program::Model;
use nnc_ir::passes::{dce, fuse_verified, known_pass, simplify, verified};
use nnc_ir::{CompileError, Graph, GraphKind};

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
    if !setup.model.has_cost() {
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
    if verified(&graph, "lower", stop_after)? {
        return Ok(graph);
    }
    let trained: Vec<bool> = param_specs(setup.model).iter().map(|p| p.trained).collect();
    nnc_ir::passes::autodiff::autodiff(&mut graph, &trained)?;
    if verified(&graph, "autodiff", stop_after)? {
        return Ok(graph);
    }
    update::update(&mut graph, setup)?;
    if verified(&graph, "update", stop_after)? {
        return Ok(graph);
    }
    let graph = simplify::simplify(&graph);
    if verified(&graph, "simplify", stop_after)? {
        return Ok(graph);
    }
    let graph = dce::dce(&graph);
    verified(&graph, "dce", stop_after)?;
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
    if verified(&graph, "lower", stop_after)? {
        return Ok(graph);
    }
    let graph = simplify::simplify(&graph);
    if verified(&graph, "simplify", stop_after)? {
        return Ok(graph);
    }
    let graph = dce::dce(&graph);
    verified(&graph, "dce", stop_after)?;
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
    fuse_verified(&compile_inference(model, batch_size, None)?)
}
