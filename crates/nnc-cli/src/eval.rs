//! `nnc eval FILE --weights CKPT`: measure trained weights on a split of
//! the model's data, with a confusion matrix for classifiers.
//!
//! The command checks the file, reads the checkpoint (`nnc-ckpt`), finds
//! the train block of the checkpoint's model, loads that block's data as
//! `nnc run` does, and runs the model's inference graph over the split
//! (`--split`, the test split by default) on any backend (`--backend`).
//! It prints the mean cost and the accuracy (for `labels value` and
//! autoencoders, the cost, MAE, MSE, RMSE and R²) and, for classifiers,
//! the confusion matrix: one row per true class, one column per predicted
//! class, with each class's recall and precision.
//!
//! `--corrupt mask(P)` / `gaussian(S)` (models that reconstruct their
//! input only) corrupts each input before the model sees it
//! ([`crate::corrupt`]) and compares the output with the clean input; the
//! in-graph cost, which compares with the corrupted one, is not reported.
//!
//! This module also holds what `nnc predict` shares with it:
//! - [`Opened`]: the file read and checked, its diagnostics printed;
//! - [`Weights`]: the checkpoint matched against the file. A checkpoint of
//!   another model (another name, or parameters of other names or shapes)
//!   is refused; a source that changed since the checkpoint was written
//!   only draws a warning, since the parameters still fit;
//! - [`Inference`]: the model's inference graph (`nnc_lower::compile_inference`,
//!   fused for the JIT) compiled once per batch size, with the weights
//!   bound once, run on batches of inputs. It reads the cost sum, the
//!   correct count and the predictions (the activations of the output the
//!   cost applies to) of every batch. No method is added to the `Backend`
//!   trait for this: the graphs are the backends' own.
//!
//! Invariants:
//! - The accuracy and the cost are those the training loop measures for
//!   the same weights and split: the same graph, the same batch size
//!   (the phase's, at least `nnc_train::MIN_EVAL_BATCH`), the same sums.
//! - The confusion matrix decides classes as the graph's correct count
//!   does (the first largest output; for a single output, above one half),
//!   so its diagonal sums to the correct count.
//!
//! Exit codes: 0 when the split was measured, 1 when the file, the
//! checkpoint or the data cannot be used (errors, another model, no such
//! split), 2 on usage errors and missing or unreadable files.

use crate::args::{make_backend, BackendKind};
use crate::corrupt::Corruption;
use crate::failure::Failure;
use crate::Format;
use clap::{Args, ValueEnum};
use nnc_check::program::{
    Activation, DataSpec, Labels, Measure, Model, NodeId, Op, Program, TrainSpec,
};
use nnc_ckpt::Checkpoint;
use nnc_cli::driver::{self, Options};
use nnc_data::{Dataset, SplitKind};
use nnc_diag::render;
use nnc_lower::backend::{Backend, BackendError, Batch, Tensor};
use nnc_train::{compared_output, reconstructed_output, OutputSums};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The arguments of `nnc eval`.
#[derive(Args)]
pub(crate) struct EvalArgs {
    /// The .nnet file the weights were trained from.
    pub file: PathBuf,
    /// The checkpoint: its .safetensors file, its .json sidecar, or a
    /// folder of checkpoints (its `best`, kept by `--keep-best`, else the
    /// newest).
    #[arg(long, value_name = "CKPT")]
    pub weights: PathBuf,
    /// The split of the data to measure.
    #[arg(long, value_enum, default_value_t = SplitChoice::Test)]
    pub split: SplitChoice,
    /// What runs the model.
    #[arg(long, value_enum, default_value_t = BackendKind::Jit)]
    pub backend: BackendKind,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also measure the top-K accuracy of a classifier: the share of
    /// examples whose class is among the K largest outputs (repeatable:
    /// `--top-k 3 --top-k 5`).
    #[arg(long = "top-k", value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    pub top_k: Vec<u32>,
    /// Seeds the noise a model draws in evaluation (`normal(shape)`,
    /// `uniform(shape)`, e.g. a VAE's code); by default the run's seed, so
    /// the figures are those the run reported.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Corrupt the inputs of a model that reconstructs them (an
    /// autoencoder) before it sees them: `mask(P)` sets each value to zero
    /// with probability P, `gaussian(S)` adds N(0, S²) noise; MAE, MSE,
    /// RMSE and R² then compare its output with the clean inputs. Drawn
    /// from `--seed` (by default the run's seed), so the figures repeat.
    #[arg(long, value_name = "CORRUPTION", value_parser = Corruption::parse)]
    pub corrupt: Option<Corruption>,
}

/// The splits `--split` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SplitChoice {
    Test,
    Validation,
    Train,
}

impl SplitChoice {
    fn kind(self) -> SplitKind {
        match self {
            SplitChoice::Test => SplitKind::Test,
            SplitChoice::Validation => SplitKind::Validation,
            SplitChoice::Train => SplitKind::Train,
        }
    }
}

/// Runs `nnc eval` and returns its exit code.
pub(crate) fn eval(args: &EvalArgs) -> ExitCode {
    match eval_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}

fn eval_inner(args: &EvalArgs) -> Result<(), Failure> {
    let opened = Opened::open(&args.file, true)?;
    let program = opened.program("evaluate it")?;
    let weights = Weights::load(&opened, program, &args.weights)?;
    let regression = matches!(weights.data.labels, Labels::Value) || weights.model.reconstructs();
    if regression && !args.top_k.is_empty() {
        return Err(Failure::usage(format!(
            "`--top-k` measures classifiers; the data `{}` has real-valued labels \
             (`labels value`), measured by MAE, RMSE and R²",
            weights.data.name
        )));
    }
    if let Some(corruption) = &args.corrupt {
        refuse_corruption(weights.model, corruption)?;
    }
    let kind = args.split.kind();
    let loaded =
        nnc_data::load(weights.data, &opened.base_dir, Some(weights.model)).map_err(|errors| {
            let diagnostics: Vec<_> = errors.iter().map(|e| e.to_diagnostic()).collect();
            eprint!("{}", opened.render(&diagnostics));
            Failure::problem(format!(
                "cannot load the data `{}` ({} error{})",
                weights.data.name,
                diagnostics.len(),
                if diagnostics.len() == 1 { "" } else { "s" }
            ))
        })?;
    let Some(dataset) = loaded.split(kind) else {
        let present: Vec<&str> = [SplitKind::Train, SplitKind::Validation, SplitKind::Test]
            .into_iter()
            .filter(|k| loaded.split(*k).is_some())
            .map(SplitKind::name)
            .collect();
        return Err(Failure::problem(format!(
            "the data `{}` has no `{}` split; it has {}: choose one with `--split`",
            weights.data.name,
            kind.name(),
            if present.is_empty() {
                "none".to_string()
            } else {
                present.join(", ")
            }
        )));
    };
    if dataset.is_empty() {
        return Err(Failure::problem(format!(
            "the `{}` split of the data `{}` holds no examples",
            kind.name(),
            weights.data.name
        )));
    }
    let batch_size = weights.eval_batch_size();
    let measures: Vec<Measure> = if regression {
        vec![Measure::Mae, Measure::Rmse, Measure::R2]
    } else {
        args.top_k
            .iter()
            .map(|&k| Measure::TopK(k as usize))
            .collect()
    };
    let seed = args.seed.unwrap_or(weights.checkpoint.sidecar.seed);
    // Under `bptt`, measured as the run measured it: the state carried
    // along each stream of the split.
    let carrying = weights.spec.bptt.map(|_| weights.model.carrying());
    let model = carrying.as_ref().unwrap_or(weights.model);
    let mut inference = Inference::new(model, args.backend, weights.params.clone(), seed)?;
    let corrupt = args.corrupt.map(|c| (c, seed));
    let measured = measure(&mut inference, dataset, batch_size, &measures, corrupt)?;
    let restored = weights
        .checkpoint
        .sidecar
        .metrics
        .last()
        .and_then(|record| record.get("restored_epoch"))
        .and_then(Value::as_u64)
        .map(|e| e as usize);
    let report = EvalReport {
        steps: inference.steps(),
        file: opened.name.clone(),
        weights: weights.checkpoint.path.display().to_string(),
        epoch: weights.checkpoint.sidecar.epoch,
        restored,
        model: weights.model.name.clone(),
        data: weights.data.name.clone(),
        split: kind.name(),
        backend: inference.backend_name(),
        regression,
        class_names: class_names(dataset, measured.confusion.len()),
        terms: {
            let mut terms = weights.model.cost_terms();
            if terms.len() < 2 {
                terms.clear();
            }
            terms.truncate(nnc_lower::backend::MAX_COST_TERMS);
            terms
        },
        cost_name: weights.model.cost_name.clone(),
        corrupt: corrupt.map(|(c, seed)| (c.name(), seed)),
        measured,
    };
    let text = match args.format {
        Format::Text => report.text(),
        Format::Json => serde_json::to_string_pretty(&report.json()).unwrap_or_default() + "\n",
    };
    // A closed pipe (`nnc eval ... | head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

/// `--corrupt` needs a model whose output rebuilds its one input (an
/// autoencoder, `nnc_train::reconstructed_output`): anything else is a
/// usage error naming why the model is not one.
fn refuse_corruption(model: &Model, corruption: &Corruption) -> Result<(), Failure> {
    if reconstructed_output(model).is_some() {
        return Ok(());
    }
    let why = if model.cost.is_some() {
        "its cost compares an output with the data's labels".to_string()
    } else if model.inputs.len() != 1 {
        format!(
            "it has {} inputs, and the measures compare the output with the one input",
            model.inputs.len()
        )
    } else {
        "no cost of it compares an output with its input (`cost KIND(target: INPUT)`)".to_string()
    };
    Err(Failure::usage(format!(
        "`--corrupt {}` measures how a model rebuilds its clean inputs from corrupted ones, \
         and model `{}` does not reconstruct its input: {why}; evaluate it without `--corrupt`",
        corruption.name(),
        model.name
    )))
}

/// A `.nnet` file read and checked; its diagnostics have been printed on
/// stderr, as `nnc check` prints them.
pub(crate) struct Opened {
    pub(crate) name: String,
    pub(crate) source: String,
    pub(crate) base_dir: PathBuf,
    report: driver::Report,
    color: bool,
}

impl Opened {
    /// Reads and checks `path`, inspecting the data files when
    /// `inspect_data`. Fails only when the file cannot be read (E0003, printed).
    pub(crate) fn open(path: &Path, inspect_data: bool) -> Result<Opened, Failure> {
        let name = path.display().to_string();
        let source = crate::failure::read_model(path)?;
        let base_dir = driver::base_dir(path).to_path_buf();
        let report = driver::check_source(&source, &base_dir, Options { inspect_data });
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!(
            "{}",
            render::to_text(&report.diagnostics, &name, &source, color)
        );
        Ok(Opened {
            name,
            source,
            base_dir,
            report,
            color,
        })
    }

    /// The checked program, when the file has no errors; `purpose` ends
    /// the message otherwise ("fix them to {purpose}").
    pub(crate) fn program(&self, purpose: &str) -> Result<&Program, Failure> {
        self.report.clean_program().ok_or_else(|| {
            let n = self.report.error_count();
            Failure::problem(format!(
                "`{}` has errors ({n} error{}); fix them to {purpose}",
                self.name,
                if n == 1 { "" } else { "s" }
            ))
        })
    }

    fn render(&self, diagnostics: &[nnc_diag::Diagnostic]) -> String {
        render::to_text(diagnostics, &self.name, &self.source, self.color)
    }
}

/// A checkpoint matched against a checked file: the train block of its
/// model, the model, the block's data and the parameters in the model's
/// order.
pub(crate) struct Weights<'p> {
    pub(crate) spec: &'p TrainSpec,
    pub(crate) model: &'p Model,
    pub(crate) data: &'p DataSpec,
    pub(crate) checkpoint: Checkpoint,
    pub(crate) params: Vec<Tensor>,
}

impl<'p> Weights<'p> {
    /// Reads the checkpoint at `path` (a weights file, a sidecar or a
    /// folder) and matches it with `program`: the checkpoint's model must
    /// be a model of the file, trained by one of its train blocks, and its
    /// parameters must have the model's names and shapes. A source that
    /// differs from the one the checkpoint was trained from draws a
    /// warning only.
    pub(crate) fn load(
        opened: &Opened,
        program: &'p Program,
        path: &Path,
    ) -> Result<Weights<'p>, Failure> {
        let shown = path.display();
        if !path.exists() {
            return Err(Failure::usage(format!(
                "cannot find the weights `{shown}`: no such file or folder; pass a checkpoint \
                 written by `nnc run --checkpoint DIR` (its .safetensors file, its .json \
                 sidecar, or the folder for the newest)"
            )));
        }
        let checkpoint = nnc_ckpt::load_best_or_newest(path)
            .map_err(|e| Failure::problem(format!("cannot use the weights `{shown}`: {e}")))?;
        // A folder stands for its best or newest checkpoint: name that one.
        let shown = checkpoint.path.display();
        let sidecar = &checkpoint.sidecar;
        let wanted = sidecar.model.as_str();
        let trained_from = if sidecar.model_file.is_empty() {
            String::new()
        } else {
            format!(" (it was trained from `{}`)", sidecar.model_file)
        };
        if crate::game::game_of(program, &checkpoint).is_some() {
            return Err(Failure::problem(format!(
                "the checkpoint `{shown}` holds the game `{wanted}`, models trained against \
                 each other, not one model to measure or run; draw from its generator with \
                 `nnc sample` and measure the draws with `nnc eval-samples`"
            )));
        }
        let Some(model) = program.model(wanted) else {
            let models: Vec<String> = program
                .models
                .iter()
                .map(|m| format!("`{}`", m.name))
                .collect();
            return Err(Failure::problem(format!(
                "the checkpoint `{shown}` holds the weights of model `{wanted}`{trained_from}, \
                 and `{}` has no model `{wanted}` (its models: {}); use the file the \
                 weights were trained from",
                opened.name,
                if models.is_empty() {
                    "none".to_string()
                } else {
                    models.join(", ")
                }
            )));
        };
        let Some(spec) = program.trains.iter().find(|t| t.model == wanted) else {
            return Err(Failure::problem(format!(
                "`{}` has no train block for model `{wanted}`; its data (scale, labels, \
                 splits) come from `train {wanted} on DATA`, so add one",
                opened.name
            )));
        };
        let Some(data) = program.data(&spec.data) else {
            return Err(Failure::problem(format!(
                "`{}` has no data `{}`",
                opened.name, spec.data
            )));
        };
        let params = nnc_ckpt::model_params(model, &checkpoint).map_err(|e| {
            let problem = match e {
                nnc_ckpt::CkptError::Mismatch { problem, .. } => problem,
                other => other.to_string(),
            };
            Failure::problem(format!(
                "the checkpoint `{shown}` does not fit model `{wanted}` of `{}`{trained_from}: \
                 {problem}",
                opened.name
            ))
        })?;
        if nnc_ckpt::hash_source(&opened.source) != sidecar.model_hash {
            eprintln!(
                "warning: `{}` is not the source the checkpoint `{shown}` was trained from{}; \
                 its parameters fit model `{wanted}`, so they are used",
                opened.name,
                if sidecar.model_file.is_empty() {
                    String::new()
                } else {
                    format!(" (`{}`, since changed or another file)", sidecar.model_file)
                }
            );
        }
        Ok(Weights {
            spec,
            model,
            data,
            checkpoint,
            params,
        })
    }

    /// The batch size the training loop evaluates with in the checkpoint's
    /// phase: the phase's batch size, at least `MIN_EVAL_BATCH`.
    fn eval_batch_size(&self) -> usize {
        let phase = self.checkpoint.sidecar.phase.max(1);
        let batch = self
            .spec
            .phases
            .get(phase - 1)
            .or_else(|| self.spec.phases.first())
            .map_or(1, |p| p.batch_size);
        if self.spec.bptt.is_some() {
            // As many streams as training had.
            batch
        } else {
            batch.max(nnc_train::MIN_EVAL_BATCH)
        }
    }
}

/// The checkpoint at `path` when it is a game's, with the game's train
/// block; `None` for any other checkpoint (which `Weights::load` reads).
pub(crate) fn game_checkpoint<'p>(
    opened: &Opened,
    program: &'p Program,
    path: &Path,
) -> Result<Option<(&'p TrainSpec, Checkpoint)>, Failure> {
    if !path.exists() {
        return Ok(None);
    }
    let Ok(ck) = nnc_ckpt::load_best_or_newest(path) else {
        return Ok(None);
    };
    let Some(spec) = crate::game::game_of(program, &ck) else {
        return Ok(None);
    };
    if nnc_ckpt::hash_source(&opened.source) != ck.sidecar.model_hash {
        eprintln!(
            "warning: `{}` is not the source the checkpoint `{}` was trained from; its \
             parameters fit the game's models, so they are used",
            opened.name,
            ck.path.display()
        );
    }
    Ok(Some((spec, ck)))
}

/// The parameters of `model`, one player of the game saved in `ck`.
pub(crate) fn player_params(model: &Model, ck: &Checkpoint) -> Result<Vec<Tensor>, Failure> {
    nnc_ckpt::player_params(model, ck).map_err(|e| {
        Failure::problem(format!(
            "the checkpoint `{}` does not fit model `{}`: {e}",
            ck.path.display(),
            model.name
        ))
    })
}

/// The activation that produces node `id` (`Identity` for nodes without
/// one: pooling, reshapes, arithmetic).
pub(crate) fn activation_of(model: &Model, id: NodeId) -> Activation {
    match &model.node(id).op {
        Op::Dense { act, .. } | Op::Conv2d { act, .. } => *act,
        Op::Activation(act) => *act,
        _ => Activation::Identity,
    }
}

/// The model run in inference mode on a [`Backend`] (`configure_inference`,
/// then `infer`), with the weights set once.
pub(crate) struct Inference<'m> {
    model: &'m Model,
    kind: BackendKind,
    backend: Box<dyn Backend>,
    /// The index in `Model::outputs` of the output predictions are read
    /// from.
    compared: usize,
    /// Values per example of the predictions.
    width: usize,
    /// The run's seed: noise that the model draws (`normal(shape)`) comes
    /// from `nnc_train::seeds::eval_noise_seed(seed, first example)`, as in
    /// the run's own evaluations.
    seed: u64,
    /// Examples run so far: the first example of the next batch.
    examples_run: usize,
}

/// What running a batch gives.
pub(crate) struct Outputs {
    /// The sum of the per-example costs (0 for a model without a cost).
    pub(crate) cost_sum: f64,
    /// The examples classified right (meaningful with targets only).
    pub(crate) correct: f64,
    /// `len * width` activations of the compared output, example by example.
    pub(crate) predictions: Vec<f32>,
    /// The sums of the cost terms of a model of several.
    pub(crate) terms: [f64; nnc_lower::backend::MAX_COST_TERMS],
}

impl<'m> Inference<'m> {
    /// An inference runner for `model` with `params` (in `param_specs`
    /// order, as `nnc_ckpt::model_params` gives them) on a backend of
    /// `kind`; `seed` drives the noise that the model draws (the run's
    /// seed, so figures match the run's own).
    pub(crate) fn new(
        model: &'m Model,
        kind: BackendKind,
        params: Vec<Tensor>,
        seed: u64,
    ) -> Result<Inference<'m>, Failure> {
        // An autoencoder's predictions are its reconstruction.
        let Some(compared) = compared_output(model).or_else(|| reconstructed_output(model)) else {
            return Err(Failure::problem(format!(
                "model `{}` has several outputs and no cost to say which one predicts",
                model.name
            )));
        };
        let width = model.node(model.outputs[compared].1).shape.iter().product();
        let mut backend = make_backend(kind);
        let prepared = backend
            .configure_inference(model)
            .and_then(|()| backend.set_params(params));
        let inference = Inference {
            model,
            kind,
            backend,
            compared,
            width,
            seed,
            examples_run: 0,
        };
        prepared.map_err(|e| inference.failed("prepare", &e))?;
        Ok(inference)
    }

    /// The recurrent state the backend carries (`Backend::carried`).
    pub(crate) fn carried(&self) -> Vec<Vec<f32>> {
        self.backend.carried()
    }

    /// Puts back a carried state (`Backend::set_carried`).
    pub(crate) fn set_carried(&mut self, values: Vec<Vec<f32>>) {
        self.backend.set_carried(values);
    }

    /// The steps of the compared output: `T` for a sequence `[T, classes]`
    /// (every step predicted), else 1.
    pub(crate) fn steps(&self) -> usize {
        let shape = &self.model.node(self.model.outputs[self.compared].1).shape;
        match shape.as_slice() {
            [steps, _] => (*steps).max(1),
            _ => 1,
        }
    }

    /// Values per example of the predictions.
    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// The name of the backend in reports (`jit`, `interp`, `wgpu`).
    pub(crate) fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Runs the model on `len` examples: `inputs` as a `Batch` holds them
    /// (every model input of an example, one example after another), and
    /// the targets as the training loop gives them (none for predictions
    /// alone: the cost and correct count are then 0).
    pub(crate) fn run(
        &mut self,
        inputs: &[f32],
        targets: Option<&[f32]>,
        len: usize,
    ) -> Result<Outputs, Failure> {
        let batch = Batch {
            inputs,
            targets: targets.unwrap_or(&[]),
            len,
            noise_seed: nnc_train::seeds::eval_noise_seed(self.seed, self.examples_run),
        };
        self.examples_run += len;
        let inferred = match self.backend.infer(batch) {
            Ok(inferred) => inferred,
            Err(e) => return Err(self.failed("run", &e)),
        };
        let stats = inferred.stats.unwrap_or_default();
        let predictions = inferred
            .outputs
            .into_iter()
            .nth(self.compared)
            .map(|t| t.data)
            .unwrap_or_default();
        Ok(Outputs {
            cost_sum: stats.cost_sum,
            correct: stats.correct,
            predictions,
            terms: stats.terms,
        })
    }

    /// The failure of `doing` (`prepare`, `run`) the model on the backend,
    /// with a hint towards the reference interpreter, which runs every op,
    /// when another backend failed.
    fn failed(&self, doing: &str, error: &BackendError) -> Failure {
        let hint = if self.kind == BackendKind::Interp {
            String::new()
        } else {
            "; the reference interpreter runs every op: try `--backend interp`".to_string()
        };
        Failure::problem(format!(
            "cannot {doing} model `{}` on the {} backend: {error}{hint}",
            self.model.name,
            self.backend.name()
        ))
    }
}

/// The class a row of predictions picks, as the graph's correct count
/// decides it: the first largest value, or, for a single output, whether
/// it lies above one half.
pub(crate) fn predicted_class(row: &[f32]) -> usize {
    if let [single] = row {
        return usize::from(*single > 0.5);
    }
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

/// The number of classes a prediction row of `width` values tells apart.
pub(crate) fn class_count(width: usize) -> usize {
    if width == 1 {
        2
    } else {
        width
    }
}

/// What measuring a split gives.
struct Measured {
    examples: usize,
    cost_sum: f64,
    correct: f64,
    /// `confusion[true][predicted]`; empty for regression.
    confusion: Vec<Vec<usize>>,
    /// The measures read from the outputs (MAE, RMSE, R², top-k), in the
    /// order asked.
    measures: Vec<(Measure, f64)>,
    /// The mean squared error per output value (RMSE²), when RMSE is
    /// measured.
    mse: Option<f64>,
    /// The sums of the cost terms of a model of several.
    term_sums: [f64; nnc_lower::backend::MAX_COST_TERMS],
}

/// Runs the model over every example of `dataset`, `batch_size` at a
/// time, in the split's order (in streams, for a model that carries
/// state). With `corrupt` (a corruption and its
/// seed), the model sees corrupted inputs and its output is compared with
/// the clean ones.
fn measure(
    inference: &mut Inference<'_>,
    dataset: &Dataset,
    batch_size: usize,
    measures: &[Measure],
    corrupt: Option<(Corruption, u64)>,
) -> Result<Measured, Failure> {
    let width = inference.width();
    // A model that reads no labels has no classes to confuse; its
    // reconstruction is compared with its input.
    let reconstructs = inference.model.reconstructs();
    let classified = dataset.is_classified() && !reconstructs;
    // The steps of a sequence output (`[T, classes]`), each classified.
    let steps = inference.steps();
    let row_width = (width / steps).max(1);
    let classes = class_count(row_width);
    let mut measured = Measured {
        examples: 0,
        cost_sum: 0.0,
        correct: 0.0,
        confusion: if classified {
            vec![vec![0; classes]; classes]
        } else {
            Vec::new()
        },
        measures: Vec::new(),
        mse: None,
        term_sums: [0.0; nnc_lower::backend::MAX_COST_TERMS],
    };
    let mut sums = OutputSums::new(width, measures);
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    let mut corrupted: Vec<f32> = Vec::new();
    // A model that carries state reads the split in streams, each from
    // zero state (the examples past the last whole batch left out).
    let batch_size = batch_size.max(1);
    let order: Vec<usize> = if inference.model.carry {
        nnc_train::seeds::stream_order(dataset.len(), batch_size)
    } else {
        (0..dataset.len()).collect()
    };
    for (k, indices) in order.chunks(batch_size).enumerate() {
        let start = k * batch_size;
        dataset.fill_batch(indices, &mut inputs, &mut targets);
        let seen = match corrupt {
            Some((corruption, seed)) => {
                corrupted.clone_from(&inputs);
                let input_len = inputs.len() / indices.len().max(1);
                corruption.apply(seed, start, input_len, &mut corrupted);
                &corrupted
            }
            None => &inputs,
        };
        let out = inference.run(seen, Some(&targets), indices.len())?;
        measured.examples += indices.len();
        measured.cost_sum += out.cost_sum;
        for (sum, term) in measured.term_sums.iter_mut().zip(out.terms) {
            *sum += term;
        }
        measured.correct += out.correct;
        sums.add(
            &out.predictions,
            if reconstructs { &inputs } else { &targets },
        );
        if !classified {
            continue;
        }
        // A sequence output classifies every step: its targets are a
        // class index (or a one-hot row) per step.
        let per_example = targets.len() / indices.len().max(1);
        for (e, (&index, example)) in indices
            .iter()
            .zip(out.predictions.chunks(width.max(1)))
            .enumerate()
        {
            for (t, row) in example.chunks(row_width).enumerate() {
                let truth = if steps == 1 {
                    dataset.class(index)
                } else {
                    let target = &targets[e * per_example..(e + 1) * per_example];
                    match per_example / steps {
                        1 => target.get(t).map(|&c| c as usize),
                        w if w == row_width => Some(predicted_class(&target[t * w..(t + 1) * w])),
                        _ => None,
                    }
                };
                let Some(truth) = truth else {
                    continue;
                };
                if let Some(cell) = measured
                    .confusion
                    .get_mut(truth)
                    .and_then(|r| r.get_mut(predicted_class(row)))
                {
                    *cell += 1;
                }
            }
        }
    }
    measured.measures = measures
        .iter()
        .filter_map(|m| sums.value(*m).map(|v| (*m, v)))
        .collect();
    measured.mse = measures
        .contains(&Measure::Rmse)
        .then(|| sums.value(Measure::Rmse))
        .flatten()
        .map(|rmse| rmse * rmse);
    Ok(measured)
}

/// The names of the classes: the image folder's, a text's characters
/// (quoted: `'a'`, `' '`, `'\n'`), else the indices.
fn class_names(dataset: &Dataset, classes: usize) -> Vec<String> {
    (0..classes)
        .map(|i| {
            if let Some(c) = dataset.vocabulary().and_then(|v| v.get(i)) {
                return format!("{c:?}");
            }
            dataset
                .class_names()
                .and_then(|names| names.get(i))
                .cloned()
                .unwrap_or_else(|| i.to_string())
        })
        .collect()
}

/// The most classes whose confusion matrix the text report shows.
const MAX_SHOWN_CLASSES: usize = 32;

/// Everything `nnc eval` prints.
struct EvalReport {
    /// The steps of a sequence output, each classified (1 otherwise).
    steps: usize,
    file: String,
    weights: String,
    epoch: usize,
    /// The epoch whose parameters the checkpoint holds, when early
    /// stopping restored an earlier one (`restore_best`).
    restored: Option<usize>,
    model: String,
    data: String,
    split: &'static str,
    backend: &'static str,
    regression: bool,
    class_names: Vec<String>,
    /// The names of the cost terms of a model of several; empty otherwise.
    terms: Vec<String>,
    /// The model's `cost_name` (a VAE's `negative_elbo`), shown in place
    /// of `cost` and, in JSON, given beside it.
    cost_name: Option<String>,
    /// `--corrupt`: the corruption as written and its seed. The in-graph
    /// cost compares with the corrupted inputs, so it is not reported.
    corrupt: Option<(String, u64)>,
    measured: Measured,
}

impl EvalReport {
    fn cost(&self) -> f64 {
        self.measured.cost_sum / self.measured.examples.max(1) as f64
    }

    /// Each cost term's name and mean per example, for a model of several.
    fn terms(&self) -> Vec<(String, f64)> {
        let names = self.terms.clone();
        let n = self.measured.examples.max(1) as f64;
        names
            .into_iter()
            .zip(self.measured.term_sums)
            .map(|(name, sum)| (name, sum / n))
            .collect()
    }

    fn accuracy(&self) -> f64 {
        self.measured.correct / self.measured.examples.max(1) as f64
    }

    /// Recall of each class: the share of its examples predicted as it
    /// (`None` for a class without examples).
    fn recalls(&self) -> Vec<Option<f64>> {
        let m = &self.measured.confusion;
        m.iter()
            .enumerate()
            .map(|(i, row)| {
                let total: usize = row.iter().sum();
                (total > 0).then(|| row[i] as f64 / total as f64)
            })
            .collect()
    }

    /// Precision of each class: the share of the examples predicted as it
    /// that are of it (`None` for a class never predicted).
    fn precisions(&self) -> Vec<Option<f64>> {
        let m = &self.measured.confusion;
        (0..m.len())
            .map(|j| {
                let total: usize = m.iter().map(|row| row[j]).sum();
                (total > 0).then(|| m[j][j] as f64 / total as f64)
            })
            .collect()
    }

    fn text(&self) -> String {
        let m = &self.measured;
        let epoch = match self.restored {
            Some(best) => format!(
                "epoch {}, parameters of epoch {best} restored by early stopping",
                self.epoch
            ),
            None => format!("epoch {}", self.epoch),
        };
        let mut out = format!(
            "model     {} (weights `{}`, {epoch})\n\
             split     {} of `{}`, {} examples\n\
             backend   {}\n",
            self.model, self.weights, self.split, self.data, m.examples, self.backend,
        );
        match &self.corrupt {
            Some((corruption, seed)) => out.push_str(&format!(
                "corrupt   {corruption} (seed {seed}): measured against the clean inputs; \
                 the cost (against the corrupted ones) is left out\n"
            )),
            None => {
                out.push_str(&format!(
                    "{:<9} {:.6}\n",
                    self.cost_name.as_deref().unwrap_or("cost"),
                    self.cost()
                ));
                for (name, value) in self.terms() {
                    out.push_str(&format!("  {name}: {value:.6}\n"));
                }
            }
        }
        if self.regression {
            for (measure, value) in &m.measures {
                out.push_str(&format!("{:<9} {value:.6}\n", measure.name()));
                if let (Measure::Mae, Some(mse)) = (measure, m.mse) {
                    out.push_str(&format!("{:<9} {mse:.6}\n", "mse"));
                }
            }
            return out;
        }
        if self.steps > 1 {
            // Every step of every example is classified.
            let total: usize = m.confusion.iter().flatten().sum();
            let right: usize = (0..m.confusion.len()).map(|i| m.confusion[i][i]).sum();
            out.push_str(&format!(
                "accuracy  {:.2}% ({right} of {total} steps)\n",
                100.0 * self.accuracy(),
            ));
        } else {
            out.push_str(&format!(
                "accuracy  {:.2}% ({} of {})\n",
                100.0 * self.accuracy(),
                m.correct,
                m.examples
            ));
        }
        for (measure, value) in &m.measures {
            if let Measure::TopK(k) = measure {
                out.push_str(&format!(
                    "{:<9} {:.2}%\n",
                    format!("top-{k}"),
                    100.0 * value
                ));
            }
        }
        if m.confusion.len() > MAX_SHOWN_CLASSES {
            out.push_str(&format!(
                "\nconfusion matrix: {} classes, too many to show here; `--format json` gives it\n",
                m.confusion.len()
            ));
        } else if !m.confusion.is_empty() {
            out.push('\n');
            out.push_str(&confusion_table(
                &m.confusion,
                &self.class_names,
                &self.recalls(),
                &self.precisions(),
            ));
        }
        out
    }

    fn json(&self) -> Value {
        let m = &self.measured;
        let mut object = json!({
            "file": self.file,
            "weights": self.weights,
            "epoch": self.epoch,
            "model": self.model,
            "data": self.data,
            "split": self.split,
            "backend": self.backend,
            "examples": m.examples,
        });
        if let Some((corruption, seed)) = &self.corrupt {
            // The in-graph cost compares with the corrupted inputs: left out.
            object["corrupt"] = json!(corruption);
            object["corrupt_seed"] = json!(seed);
        } else {
            object["cost"] = json!(self.cost());
        }
        if let (Some(name), None) = (&self.cost_name, &self.corrupt) {
            object["cost_name"] = json!(name);
            object[name.as_str()] = json!(self.cost());
        }
        let terms = self.terms();
        if !terms.is_empty() && self.corrupt.is_none() {
            object["cost_terms"] = terms
                .into_iter()
                .map(|(name, value)| (name, json!(value)))
                .collect::<serde_json::Map<String, Value>>()
                .into();
        }
        if !self.regression {
            object["accuracy"] = json!(self.accuracy());
            // A whole count as an integer; a sequence output's shares of
            // steps may sum to a fraction.
            object["correct"] = if m.correct.fract() == 0.0 {
                json!(m.correct as u64)
            } else {
                json!(m.correct)
            };
        }
        for (measure, value) in &m.measures {
            object[measure.name()] = json!(value);
        }
        if let Some(mse) = m.mse {
            object["mse"] = json!(mse);
        }
        if let Some(best) = self.restored {
            object["restored_epoch"] = json!(best);
        }
        if !m.confusion.is_empty() {
            object["classes"] = json!(self.class_names);
            object["confusion"] = json!(m.confusion);
            object["recall"] = json!(self.recalls());
            object["precision"] = json!(self.precisions());
        }
        object
    }
}

/// The confusion matrix as an aligned table: a row per true class with its
/// recall, a column per predicted class, precisions below.
fn confusion_table(
    matrix: &[Vec<usize>],
    names: &[String],
    recalls: &[Option<f64>],
    precisions: &[Option<f64>],
) -> String {
    let percent =
        |v: &Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", 100.0 * v));
    let corner = "true \\ predicted";
    let first = names
        .iter()
        .map(|n| n.chars().count())
        .chain([corner.len(), "precision".len()])
        .max()
        .unwrap_or(0);
    let cell = matrix
        .iter()
        .flatten()
        .map(|c| c.to_string().len())
        .chain(names.iter().map(|n| n.chars().count()))
        .chain(["100.0%".len()])
        .max()
        .unwrap_or(0);
    let recall_width = "recall".len().max("100.0%".len());
    let mut out = String::from("confusion matrix (rows: true class, columns: predicted class)\n");
    let mut line = format!("{corner:<first$}");
    for name in names {
        line.push_str(&format!("  {name:>cell$}"));
    }
    line.push_str(&format!("  {:>recall_width$}", "recall"));
    out.push_str(line.trim_end());
    out.push('\n');
    for ((row, name), recall) in matrix.iter().zip(names).zip(recalls) {
        let mut line = format!("{name:<first$}");
        for count in row {
            line.push_str(&format!("  {count:>cell$}"));
        }
        line.push_str(&format!("  {:>recall_width$}", percent(recall)));
        out.push_str(&line);
        out.push('\n');
    }
    let mut line = format!("{:<first$}", "precision");
    for precision in precisions {
        line.push_str(&format!("  {:>cell$}", percent(precision)));
    }
    out.push_str(&line);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_decided_as_the_correct_count_decides_them() {
        assert_eq!(predicted_class(&[0.1, 0.7, 0.7]), 1);
        assert_eq!(predicted_class(&[0.6]), 1);
        assert_eq!(predicted_class(&[0.5]), 0);
        assert_eq!(class_count(1), 2);
        assert_eq!(class_count(10), 10);
    }

    #[test]
    fn confusion_table_is_aligned_with_recall_and_precision() {
        let matrix = vec![vec![48, 2], vec![3, 47]];
        let names = vec!["disc".to_string(), "square".to_string()];
        let table = confusion_table(
            &matrix,
            &names,
            &[Some(0.96), Some(0.94)],
            &[Some(48.0 / 51.0), None],
        );
        let expected = "\
confusion matrix (rows: true class, columns: predicted class)
true \\ predicted    disc  square  recall
disc                  48       2   96.0%
square                 3      47   94.0%
precision          94.1%       -
";
        assert_eq!(table, expected);
    }
}
