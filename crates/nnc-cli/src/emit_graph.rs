//! Which graph of a file the `nnc emit` subcommands print: the file
//! checked, its train block picked, and the training-step (or inference)
//! graph built up to the pass asked for. Shared by `emit ir`, `emit clif`
//! and `emit wgsl`.

use crate::failure::Failure;
use crate::prepare::pick_train;
use clap::Args;
use nnc_check::program::{Program, SliceBound, Split, TrainSpec};
use nnc_cli::driver::{self, Options};
use nnc_diag::render;
use nnc_ir::Graph;
use nnc_lower::backend::TrainSetup;
use std::path::{Path, PathBuf};

/// Which graph of a file to build: shared by `emit ir` and `emit clif`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The .nnet file.
    pub file: PathBuf,
    /// Use the inference graph (no gradients, no update, no dropout).
    #[arg(long)]
    pub inference: bool,
    /// Which train block (when the file has several): its model's name,
    /// `MODEL/DATA`, or its 1-based position in the file.
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
    /// For a game (a train block of `step` sections): the step whose graph
    /// to build, by the model it updates (default: the first step).
    #[arg(long, value_name = "MODEL")]
    pub step: Option<String>,
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
    let source = crate::failure::read_model(&args.file)?;
    let base_dir = driver::base_dir(&args.file);
    let report = driver::check_source(&source, base_dir, Options::default());
    // A step's inference graph comes from its train block, below.
    if args.inference && args.step.is_none() {
        if let Some(graph) = inference_graph(&report, args, after)? {
            return Ok(graph);
        }
    }
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
    let step = pick_step(spec, args.step.as_deref())?;
    let model = match step {
        Some(step) => &step.graph,
        None => program
            .model(&spec.model)
            .ok_or_else(|| Failure::problem(format!("no model `{}`", spec.model)))?,
    };
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
        nnc_lower::compile_inference_fused(model, batch, after)
    } else {
        let train_size = match args.train_size {
            Some(n) => n,
            None => training_set_size(program, spec, base_dir)?,
        };
        let setup = TrainSetup {
            model,
            optimizer: step.map_or(&phase.optimizer, |s| &s.optimizer),
            batch_size: batch,
            train_size,
            clip: spec.clip,
        };
        nnc_lower::compile_training_fused(&setup, batch, after)
    };
    graph.map_err(|e| Failure::usage(e.to_string()))
}

/// The step `--step` names in a game (the first when none is named);
/// `None` for a train block of one model, where `--step` is a usage error.
fn pick_step<'s>(
    spec: &'s TrainSpec,
    wanted: Option<&str>,
) -> Result<Option<&'s nnc_check::program::StepSpec>, Failure> {
    if !spec.is_game() {
        return match wanted {
            Some(name) => Err(Failure::usage(format!(
                "`--step {name}`: the train block of `{}` has no steps; `--step` picks one \
                 step of a train block of several models",
                spec.model
            ))),
            None => Ok(None),
        };
    }
    let Some(name) = wanted else {
        return Ok(spec.steps.first());
    };
    spec.steps
        .iter()
        .find(|s| s.model == name)
        .map(Some)
        .ok_or_else(|| {
            let steps: Vec<String> = spec
                .steps
                .iter()
                .map(|s| format!("`{}`", s.model))
                .collect();
            Failure::usage(format!(
                "`--step {name}`: the game's steps update {}",
                steps.join(", ")
            ))
        })
}

/// `--inference` needs a model, not a train block: the model `--train
/// MODEL` names, else the one model of the file's one train block, else the
/// file's one model, among the models that check clean (errors elsewhere
/// in the file do not matter to it). The batch is `--batch`, else the
/// train block's phase's, else 1. `None` when no model can be told apart
/// this way (the caller then reports why).
fn inference_graph(
    report: &driver::Report,
    args: &GraphArgs,
    after: Option<&str>,
) -> Result<Option<Graph>, Failure> {
    let Some(program) = report.program.as_ref() else {
        return Ok(None);
    };
    let wanted = args
        .train
        .clone()
        .or_else(|| match program.trains.as_slice() {
            [only] => Some(only.model.clone()),
            _ => None,
        });
    let model = match &wanted {
        Some(wanted) => program.models.iter().find(|m| &m.name == wanted),
        None => match program.models.as_slice() {
            [only] => Some(only),
            _ => None,
        },
    };
    let Some(model) = model else {
        return Ok(None);
    };
    let phase_batch = program
        .trains
        .iter()
        .find(|t| t.model == model.name)
        .and_then(|t| t.phases.get(args.phase.wrapping_sub(1)))
        .map(|p| p.batch_size);
    let batch = args.batch.or(phase_batch).unwrap_or(1);
    if batch == 0 {
        return Err(Failure::usage("the batch size must be at least 1"));
    }
    nnc_lower::compile_inference_fused(model, batch, after)
        .map(Some)
        .map_err(|e| Failure::usage(e.to_string()))
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
        end: Some(SliceBound::Index(end)),
        ..
    }) = &data.train
    {
        if let None | Some(SliceBound::Index(_)) = start {
            let start = start.map_or(0, |b| b.resolve(*end));
            return Ok(end.saturating_sub(start));
        }
    }
    let view = spec.data_view();
    let model = view.as_ref().or_else(|| program.model(&spec.model));
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
