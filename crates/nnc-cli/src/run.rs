//! `nnc run FILE`: check the file and its data, then train.
//!
//! The command strings the stages together: parse and check with data
//! inspection (diagnostics printed as `nnc check` prints them), pick the
//! train block, load the data, initialise the parameters from the seed, and
//! run the loop of `nnc-train` on the chosen backend. While it trains it
//! draws a progress bar on stderr (only on a terminal, never with
//! `--quiet`), prints one line per epoch on stdout and, with `--log`, writes
//! one JSON object per epoch.
//!
//! The default backend is the JIT (`nnc-cpu`); `--backend interp` trains
//! on the reference interpreter instead. A model the JIT cannot lower
//! fails with an error naming the op and pointing at `--backend interp`.
//!
//! `--verify` first runs the first steps of the training (3, or
//! `--verify-steps N`, at most the first epoch's) on the JIT, with the
//! batches, seeds and initial parameters the training would use, and
//! compares the values of every fused kernel with the interpreter's for
//! the same inputs (`nnc_cpu::verify`); when they agree it prints one line
//! and goes on to train with `--backend`, when they do not it names the
//! first kernel that differs and exits 1. `--verify-only` stops after the
//! verification.
//!
//! Exit codes: 0 when training ran to its end (or stopped by its schedule),
//! 1 when the file, its data or the training failed (diagnostics, a
//! diverging cost, a backend error), 2 on usage errors and unwritable or
//! unreadable files, 130 when Ctrl-C stopped a run that saves checkpoints
//! (`--checkpoint`, `--resume`: see `checkpoint.rs`).

use clap::builder::RangedU64ValueParser;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use nnc_check::program::{Labels, Model, Program, TrainSpec};
use nnc_cli::driver::{self, Options};
use nnc_cpu::verify::{Verifier, VerifyError, VerifyReport, RTOL};
use nnc_data::Dataset;
use nnc_diag::render;
use nnc_ir::backend::{Backend, BackendError, Batch, TrainSetup};
use nnc_train::{
    EpochRecord, EpochStart, Examples, Observer, Overrides, Schedule, SplitKind, Splits,
    StepProgress, TrainError, TrainReport,
};
use serde_json::{json, Map, Value};
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::plot::RunPlot;

const EXIT_PROBLEMS: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// The arguments of `nnc run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The .nnet file to train.
    pub file: PathBuf,
    /// The backend that executes the training steps.
    #[arg(long, value_enum, default_value_t = BackendKind::Jit)]
    pub backend: BackendKind,
    /// Before training, run the first steps on the JIT and compare every
    /// kernel's values with the interpreter's for the same inputs (1e-4
    /// relative); stop (exit 1) naming the first kernel that differs, else
    /// train.
    #[arg(long)]
    pub verify: bool,
    /// How many steps `--verify` compares (3 by default, at most the first
    /// epoch's; implies `--verify`).
    #[arg(long, value_name = "N", value_parser = positive())]
    pub verify_steps: Option<usize>,
    /// Verify as `--verify` does, then stop without training.
    #[arg(long)]
    pub verify_only: bool,
    /// Which train block to run, by its model's name (needed when the file
    /// has several).
    #[arg(long, value_name = "MODEL")]
    pub train: Option<String>,
    /// Run this many epochs instead of the file's `epochs` (fewer truncate
    /// the schedule).
    #[arg(long, value_name = "N", value_parser = positive())]
    pub epochs: Option<usize>,
    /// Use this seed instead of the file's `seed`.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Train on the first N examples of the training split only (quick runs
    /// and tests).
    #[arg(long, value_name = "N", value_parser = positive())]
    pub train_limit: Option<usize>,
    /// Measure only the first N examples of the validation and test splits
    /// after each epoch (quick runs); by default they are measured whole.
    #[arg(long, value_name = "N", value_parser = positive())]
    pub eval_limit: Option<usize>,
    /// Write one JSON object per epoch to this file (JSON lines).
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// `--checkpoint DIR`, `--keep N`, `--resume CKPT`, `--force`.
    #[command(flatten)]
    pub checkpoints: crate::checkpoint::CheckpointArgs,
    /// Draw the run's plots into this folder as epochs end, each as PNG
    /// and SVG: cost, accuracy and (with gradient norms traced) each
    /// layer's learning speed.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Record more per epoch, printed and in the log: `grad-norms`, the
    /// L2 norms of dC/db and dC/dW of every layer (its learning speed) at
    /// initialisation and after every epoch, on the first 1,000 training
    /// examples.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub trace: Vec<crate::trace::TraceKind>,
    /// Check every value of every training step (activations, gradients,
    /// new parameters), not only the cost, and stop at the first NaN or
    /// infinity, naming the tensor. Slower: every value is read once more.
    #[arg(long)]
    pub check_numerics: bool,
}

impl RunArgs {
    /// The number of steps to verify, when a verification was asked for.
    fn verify_step_count(&self) -> Option<usize> {
        let asked = self.verify || self.verify_only || self.verify_steps.is_some();
        asked.then(|| self.verify_steps.unwrap_or(DEFAULT_VERIFY_STEPS))
    }
}

/// The steps `--verify` compares unless `--verify-steps` says otherwise.
pub(crate) const DEFAULT_VERIFY_STEPS: usize = 3;

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

/// Runs `nnc run` and returns its exit code.
pub fn run(args: &RunArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { message, code }) => {
            if code == crate::checkpoint::EXIT_INTERRUPTED {
                eprintln!("{message}");
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(code)
        }
    }
}

/// Why `nnc run` stopped: the message and the exit code.
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl Failure {
    pub(crate) fn problem(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_PROBLEMS,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }
}

fn run_inner(args: &RunArgs) -> Result<(), Failure> {
    let checked = CheckedFile::open(&args.file)?;
    let program = checked.program()?;
    let spec = pick_train(program, checked.name(), args.train.as_deref())?;
    let regression = program
        .data(&spec.data)
        .is_some_and(|d| matches!(d.labels, Labels::Value));
    let mut session = crate::checkpoint::Session::open(
        &args.checkpoints,
        checked.name(),
        &checked.source,
        regression,
    )?;
    let overrides = Overrides {
        epochs: args.epochs,
        seed: session.seed(args.seed),
    };
    let schedule = Schedule::new(spec, overrides);
    let log = args
        .log
        .as_deref()
        .map(JsonLog::create)
        .transpose()
        .map_err(Failure::usage)?;
    let plot = args
        .plot
        .as_deref()
        .map(|dir| RunPlot::create(dir, &run_name(&args.file)))
        .transpose()
        .map_err(Failure::usage)?;
    let options = nnc_train::Options {
        train_limit: session.train_limit(args.train_limit),
        eval_limit: session.eval_limit(args.eval_limit),
        eval_batch_size: None,
        skip_evaluation: false,
    };
    let prepared = prepare(&checked, program, spec)?;
    if let Some(steps) = args.verify_step_count() {
        let report = verify(&prepared, &schedule, &options, steps).map_err(verify_failure)?;
        println!("{}", verify_line(&report));
        if args.verify_only {
            return Ok(());
        }
    }
    let mut console = Console::new(!args.quiet, regression, log);
    if args.trace.contains(&crate::trace::TraceKind::GradNorms) {
        let limit = options.train_limit.unwrap_or(usize::MAX);
        let tracer = crate::trace::GradTracer::new(prepared.model, &prepared.train, limit)
            .map_err(Failure::problem)?;
        console.tracer = Some(tracer);
    }
    console.plot = plot;
    console.log_earlier(session.earlier_records());
    session.catch_interrupts()?;
    let report = train(
        &prepared,
        &schedule,
        &options,
        (args.backend, args.check_numerics),
        &mut console,
        &mut session,
    );
    console.finish();
    // The plots are drawn whether the run ended well or not.
    let plotted = console.plot.as_mut().map_or(Ok(()), RunPlot::finish);
    if let (Err(message), Err(_)) = (&plotted, &report) {
        eprintln!("error: {message}");
    }
    let report = report?;
    if let Some(error) = console.log_error() {
        return Err(Failure::usage(error));
    }
    plotted.map_err(Failure::usage)?;
    print_outcome(&report);
    Ok(())
}

/// A file read and checked with its data inspected; its diagnostics have
/// been printed on stderr, as `nnc check` prints them.
pub(crate) struct CheckedFile {
    name: String,
    source: String,
    base_dir: PathBuf,
    report: driver::Report,
    color: bool,
}

impl CheckedFile {
    /// Reads and checks `path`. Fails (usage) only when the file cannot be
    /// read; a file with errors fails later, in [`CheckedFile::program`].
    pub(crate) fn open(path: &Path) -> Result<CheckedFile, Failure> {
        let name = path.display().to_string();
        let source = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("cannot read `{name}`: {e}")))?;
        let base_dir = driver::base_dir(path).to_path_buf();
        let report = driver::check_source(&source, &base_dir, Options { inspect_data: true });
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!(
            "{}",
            render::to_text(&report.diagnostics, &name, &source, color)
        );
        Ok(CheckedFile {
            name,
            source,
            base_dir,
            report,
            color,
        })
    }

    /// The file's name as the user wrote it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The checked program, when the file has no errors.
    pub(crate) fn program(&self) -> Result<&Program, Failure> {
        self.report.clean_program().ok_or_else(|| {
            Failure::problem(format!(
                "`{}` has errors ({}); fix them to train",
                self.name,
                plural(self.report.error_count(), "error")
            ))
        })
    }

    fn render(&self, diagnostics: &[nnc_diag::Diagnostic]) -> String {
        render::to_text(diagnostics, &self.name, &self.source, self.color)
    }
}

/// The train block to run: the only one, or the one of `--train MODEL`.
pub(crate) fn pick_train<'p>(
    program: &'p Program,
    file: &str,
    choice: Option<&str>,
) -> Result<&'p TrainSpec, Failure> {
    let blocks = || {
        program
            .trains
            .iter()
            .map(|t| format!("`{}` on `{}`", t.model, t.data))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (choice, program.trains.as_slice()) {
        (_, []) => Err(Failure::problem(format!(
            "`{file}` has no `train` block; add one, e.g. `train MODEL on DATA {{ ... }}`"
        ))),
        (None, [only]) => Ok(only),
        (None, _) => Err(Failure::usage(format!(
            "`{file}` has {} train blocks ({}); choose one with `--train MODEL`",
            program.trains.len(),
            blocks()
        ))),
        (Some(model), trains) => {
            let mut matching = trains.iter().filter(|t| t.model == model);
            match (matching.next(), matching.next()) {
                (Some(spec), None) => Ok(spec),
                (Some(_), Some(_)) => Err(Failure::usage(format!(
                    "`{file}` has several train blocks for model `{model}` ({}); \
                     keep one of them",
                    blocks()
                ))),
                (None, _) => Err(Failure::usage(format!(
                    "`{file}` has no train block for model `{model}`; its train blocks: {}",
                    blocks()
                ))),
            }
        }
    }
}

/// The name of a run in its plots' titles: the model file's stem.
fn run_name(file: &Path) -> String {
    file.file_stem().map_or_else(
        || file.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn print_outcome(report: &TrainReport) {
    if let Some(stop) = report.stop {
        let epoch = report.last().map_or(0, |r| r.epoch);
        println!("stopped after epoch {epoch}: {stop}");
    }
}

/// Builds the backend, initialises the parameters and trains.
fn train(
    prepared: &Prepared<'_>,
    schedule: &Schedule,
    options: &nnc_train::Options,
    (backend, check_numerics): (BackendKind, bool),
    console: &mut Console,
    session: &mut crate::checkpoint::Session,
) -> Result<TrainReport, Failure> {
    let mut backend = make_backend(backend);
    backend.set_check_numerics(check_numerics);
    // A resumed run takes its parameters from the checkpoint.
    let resume = session.restore(backend.as_mut(), prepared.model, schedule)?;
    if resume.is_none() {
        nnc_train::init_params(backend.as_mut(), prepared.model, schedule.seed)
            .map_err(train_failure)?;
        console.trace_initial(backend.params());
    }
    let outcome = nnc_train::train_resumable(
        backend.as_mut(),
        prepared.model,
        schedule,
        prepared.splits(),
        options,
        console,
        resume,
        &mut session.saver(prepared.model, schedule),
    )
    .map_err(|e| session.train_failure(e))?;
    if outcome.interrupted.is_some() {
        return Err(session.interrupted());
    }
    Ok(outcome.report)
}

/// The model of a train block and its data, loaded.
pub(crate) struct Prepared<'p> {
    pub(crate) model: &'p Model,
    train: Dataset,
    validation: Option<Dataset>,
    test: Option<Dataset>,
}

impl Prepared<'_> {
    /// The splits the loop trains on and measures.
    pub(crate) fn splits(&self) -> Splits<'_> {
        Splits {
            train: &self.train,
            validation: self.validation.as_ref().map(|d| d as &dyn Examples),
            test: self.test.as_ref().map(|d| d as &dyn Examples),
        }
    }
}

/// Finds the model and data of `spec` and loads the data; a data error is
/// printed as a diagnostic. The data must have a training split.
pub(crate) fn prepare<'p>(
    checked: &CheckedFile,
    program: &'p Program,
    spec: &TrainSpec,
) -> Result<Prepared<'p>, Failure> {
    let (Some(model), Some(data)) = (program.model(&spec.model), program.data(&spec.data)) else {
        return Err(Failure::problem(format!(
            "`{}` has no model `{}` or no data `{}`",
            checked.name, spec.model, spec.data
        )));
    };
    let loaded = nnc_data::load(data, &checked.base_dir, Some(model)).map_err(|errors| {
        let diagnostics: Vec<_> = errors.iter().map(|e| e.to_diagnostic()).collect();
        eprint!("{}", checked.render(&diagnostics));
        Failure::problem(format!(
            "cannot load the data `{}` ({})",
            data.name,
            plural(diagnostics.len(), "error")
        ))
    })?;
    let Some(train) = loaded.train else {
        return Err(Failure::problem(format!(
            "the data `{}` has no `train` split to train on",
            data.name
        )));
    };
    Ok(Prepared {
        model,
        train,
        validation: loaded.validation,
        test: loaded.test,
    })
}

/// The failure of a run that stopped with `error`. An op the backend
/// cannot run (the JIT lowers every op of the language, but a new op may
/// come to the interpreter first) points at the interpreter.
pub(crate) fn train_failure(error: TrainError) -> Failure {
    let unsupported = matches!(
        &error,
        TrainError::Configure {
            error: BackendError::Unsupported { .. },
            ..
        } | TrainError::Step {
            error: BackendError::Unsupported { .. },
            ..
        }
    );
    if unsupported {
        Failure::problem(format!(
            "{error}; the reference interpreter runs every op: train with `--backend interp`"
        ))
    } else {
        Failure::problem(error.to_string())
    }
}

/// `--verify`: runs the first `steps` training steps of the first epoch
/// (the batches, learning rate and step seeds the loop would use, from the
/// parameters the seed draws) on the JIT, comparing every kernel's values
/// with the interpreter's for the same inputs (`nnc_cpu::verify`).
fn verify(
    prepared: &Prepared<'_>,
    schedule: &Schedule,
    options: &nnc_train::Options,
    steps: usize,
) -> Result<VerifyReport, VerifyFailure> {
    let phase = schedule
        .phases
        .get(schedule.phase_index(1))
        .ok_or(VerifyFailure::Train(TrainError::NoPhases))?;
    let train = &prepared.train;
    let count = options
        .train_limit
        .map_or(train.len(), |limit| limit.min(train.len()));
    if count == 0 {
        return Err(VerifyFailure::Train(TrainError::NoTrainingExamples));
    }
    let batch_size = phase.batch_size.max(1);
    let setup = TrainSetup {
        model: prepared.model,
        optimizer: &phase.optimizer,
        batch_size,
        train_size: count,
    };
    let params = nnc_ir::init_params(prepared.model, schedule.seed);
    let mut verifier = Verifier::new(&setup, params).map_err(VerifyFailure::Verify)?;
    let order = nnc_train::seeds::epoch_order(schedule.seed, 1, count);
    let (mut inputs, mut targets) = (Vec::new(), Vec::new());
    for (step, indices) in order.chunks(batch_size).take(steps).enumerate() {
        Examples::fill_batch(train, indices, &mut inputs, &mut targets);
        let batch = Batch {
            inputs: &inputs,
            targets: &targets,
            len: indices.len(),
        };
        let seed = nnc_train::seeds::step_seed(schedule.seed, 1, step);
        verifier
            .step(batch, phase.learning_rate as f32, seed)
            .map_err(VerifyFailure::Verify)?;
    }
    Ok(verifier.report().clone())
}

/// Why `--verify` failed.
enum VerifyFailure {
    /// The run could not start (no phase, no examples).
    Train(TrainError),
    /// The JIT and the interpreter disagree, or one could not run.
    Verify(VerifyError),
}

fn verify_failure(failure: VerifyFailure) -> Failure {
    match failure {
        VerifyFailure::Train(error) => train_failure(error),
        VerifyFailure::Verify(VerifyError::Mismatch(m)) => {
            Failure::problem(format!("verification failed at {m}"))
        }
        VerifyFailure::Verify(VerifyError::Backend(e)) => {
            let hint = if matches!(e, BackendError::Unsupported { .. }) {
                "; `--verify` needs a model the JIT lowers"
            } else {
                ""
            };
            Failure::problem(format!("cannot verify the JIT: {e}{hint}"))
        }
    }
}

/// The line `--verify` prints when the JIT agrees with the interpreter.
fn verify_line(report: &VerifyReport) -> String {
    let largest = match &report.largest {
        Some(l) => format!(
            "largest relative error {:.1e} (`{}`, step {})",
            l.relative_error, l.name, l.step
        ),
        None => "largest relative error 0".to_string(),
    };
    format!(
        "verify: the JIT agrees with the interpreter on {}: {} compared ({}), {largest}, tolerance {RTOL:.0e}",
        plural(report.steps, "step"),
        plural(report.kernels, "kernel run"),
        plural(report.values, "value"),
    )
}

/// A fresh backend of `kind`.
pub(crate) fn make_backend(kind: BackendKind) -> Box<dyn Backend> {
    match kind {
        BackendKind::Interp => Box::new(nnc_interp::InterpBackend::new()),
        BackendKind::Jit => Box::new(nnc_cpu::JitBackend::new()),
        BackendKind::Wgpu => Box::new(nnc_gpu::GpuBackend::new()),
    }
}

/// The observer of `nnc run`: progress bar, epoch lines and the JSON log.
struct Console {
    progress: bool,
    regression: bool,
    bar: Option<ProgressBar>,
    /// When the bar's message was last refreshed (`None`: not yet this epoch).
    last_draw: Option<Instant>,
    log: Option<JsonLog>,
    /// `--trace grad-norms`: the tracer, and the norms of the epoch that
    /// just ended (printed and logged with its record).
    tracer: Option<crate::trace::GradTracer>,
    norms: Option<Vec<crate::trace::LayerNorms>>,
    /// `--plot DIR`: the run's figures, fed the same records as the log.
    plot: Option<RunPlot>,
}

/// How often the running cost on the bar is refreshed.
const REFRESH: Duration = Duration::from_millis(100);

impl Console {
    fn new(progress: bool, regression: bool, log: Option<JsonLog>) -> Console {
        Console {
            progress: progress && std::io::stderr().is_terminal(),
            regression,
            bar: None,
            last_draw: None,
            log,
            tracer: None,
            norms: None,
            plot: None,
        }
    }

    /// Writes the records of a resumed run's earlier epochs to the log, so
    /// that it holds the whole run.
    fn log_earlier(&mut self, records: &[Value]) {
        if let Some(log) = &mut self.log {
            for record in records {
                log.write(record);
            }
        }
        // A resumed run's figures start at its first epoch too.
        if let Some(plot) = &mut self.plot {
            for record in records {
                plot.record(record.clone());
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn log_error(&self) -> Option<String> {
        self.log.as_ref().and_then(|log| log.error.clone())
    }

    fn new_bar(start: &EpochStart) -> ProgressBar {
        let style = ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} examples, {rate}, ETA {eta}, {msg}",
        )
        .map(|s| {
            s.progress_chars("=> ").with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn fmt::Write| {
                    let _ = write!(w, "{:.0} examples/s", state.per_sec());
                },
            )
        })
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        ProgressBar::with_draw_target(
            Some(start.examples as u64),
            ProgressDrawTarget::stderr_with_hz(10),
        )
        .with_style(style)
        .with_prefix(format!("{}/{}", start.epoch, start.epochs))
        .with_message(format!("batch 0/{}", start.steps))
    }
}

impl Console {
    /// `--trace grad-norms` at initialisation: printed, and logged as a
    /// record of epoch 0.
    fn trace_initial(&mut self, params: Vec<nnc_ir::backend::Tensor>) {
        let Some(tracer) = &mut self.tracer else {
            return;
        };
        match tracer.measure(&params) {
            Ok(norms) => {
                println!("{}", crate::trace::norms_line("initial", &norms));
                if let Some(log) = &mut self.log {
                    log.write(&json!({"epoch": 0, "grad_norms": crate::trace::norms_json(&norms)}));
                }
                if let Some(plot) = &mut self.plot {
                    plot.record(
                        json!({"epoch": 0, "grad_norms": crate::trace::norms_json(&norms)}),
                    );
                }
            }
            Err(e) => eprintln!("warning: {e}"),
        }
    }
}

impl Observer for Console {
    fn wants_params(&self) -> bool {
        self.tracer.is_some()
    }

    fn epoch_params(&mut self, _epoch: usize, params: Vec<nnc_ir::backend::Tensor>) {
        if let Some(tracer) = &mut self.tracer {
            match tracer.measure(&params) {
                Ok(norms) => self.norms = Some(norms),
                Err(e) => eprintln!("warning: {e}"),
            }
        }
    }

    fn epoch_started(&mut self, start: &EpochStart) {
        if self.progress {
            self.bar = Some(Console::new_bar(start));
            self.last_draw = None;
        }
    }

    fn step_finished(&mut self, p: &StepProgress) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(p.examples_done as u64);
        let due = self.last_draw.is_none_or(|t| t.elapsed() >= REFRESH);
        if due || p.step == p.steps {
            self.last_draw = Some(Instant::now());
            bar.set_message(format!(
                "batch {}/{}, cost {:.4}",
                p.step, p.steps, p.running_cost
            ));
        }
    }

    fn evaluating(&mut self, _epoch: usize, split: SplitKind) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("evaluating {}", split.name()));
        }
    }

    fn epoch_finished(&mut self, record: &EpochRecord) {
        self.finish();
        let line = epoch_line(record, self.regression);
        let mut out = std::io::stdout().lock();
        // A closed pipe (`nnc run f | head`) must not stop training.
        let _ = writeln!(out, "{line}");
        let norms = self.norms.take();
        if let Some(norms) = &norms {
            let _ = writeln!(out, "{}", crate::trace::norms_line("  ", norms));
        }
        let _ = out.flush();
        if let Some(log) = &mut self.log {
            let mut object = log_object(record, self.regression);
            if let (Some(norms), Value::Object(map)) = (&norms, &mut object) {
                map.insert("grad_norms".into(), crate::trace::norms_json(norms));
            }
            log.write(&object);
        }
        if let Some(plot) = &mut self.plot {
            let mut object = log_object(record, self.regression);
            if let (Some(norms), Value::Object(map)) = (&norms, &mut object) {
                map.insert("grad_norms".into(), crate::trace::norms_json(norms));
            }
            plot.record(object);
        }
    }
}

/// The line printed after each epoch.
fn epoch_line(r: &EpochRecord, regression: bool) -> String {
    let mut parts = vec![
        format!("epoch {}", r.epoch),
        format!("phase {}", r.phase),
        format!("lr {}", r.learning_rate),
        format!("batch {}", r.batch_size),
        format!("train cost {:.4}", r.train_cost),
    ];
    let splits = [
        ("train", r.train),
        ("validation", r.validation),
        ("test", r.test),
    ];
    for (name, score) in splits {
        let Some(score) = score else { continue };
        parts.push(if regression {
            format!("{name} cost {:.4}", score.cost)
        } else {
            format!("{name} {:.2}%", 100.0 * score.accuracy)
        });
    }
    parts.push(format!(
        "{:.1} s ({:.0} examples/s)",
        r.seconds, r.examples_per_second
    ));
    let mut line = parts.join("  ");
    if r.decayed {
        line.push_str("  (learning rate decayed)");
    }
    line
}

/// The JSON object logged for an epoch. Accuracies are fractions; they are
/// left out for regression (`labels value`), where only costs mean anything.
pub(crate) fn log_object(r: &EpochRecord, regression: bool) -> Value {
    let mut object = Map::new();
    let mut put = |key: &str, value: Value| {
        object.insert(key.to_string(), value);
    };
    put("epoch", json!(r.epoch));
    put("phase", json!(r.phase));
    put("learning_rate", json!(r.learning_rate));
    put("batch_size", json!(r.batch_size));
    put("steps", json!(r.steps));
    put("examples", json!(r.examples));
    put("train_cost", json!(r.train_cost));
    let splits = [
        ("train", r.train),
        ("validation", r.validation),
        ("test", r.test),
    ];
    for (name, score) in splits {
        let Some(score) = score else { continue };
        if !regression {
            put(&format!("{name}_accuracy"), json!(score.accuracy));
        }
        put(&format!("{name}_cost"), json!(score.cost));
    }
    put("seconds", json!(r.seconds));
    put("train_seconds", json!(r.train_seconds));
    put("examples_per_second", json!(r.examples_per_second));
    put("decayed", json!(r.decayed));
    if let Some(stop) = r.stop {
        put("stop", json!(stop.to_string()));
    }
    Value::Object(object)
}

/// `--log PATH`: one JSON object per line, flushed as each epoch ends. A
/// write error is kept and reported when training ends.
struct JsonLog {
    path: PathBuf,
    out: BufWriter<File>,
    error: Option<String>,
}

impl JsonLog {
    fn create(path: &Path) -> Result<JsonLog, String> {
        let file = File::create(path)
            .map_err(|e| format!("cannot write the log `{}`: {e}", path.display()))?;
        Ok(JsonLog {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            error: None,
        })
    }

    fn write(&mut self, object: &Value) {
        if self.error.is_some() {
            return;
        }
        let written = writeln!(self.out, "{object}").and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.error = Some(format!(
                "cannot write the log `{}`: {e}",
                self.path.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nnc_train::{Score, Stop};

    fn record() -> EpochRecord {
        EpochRecord {
            epoch: 3,
            phase: 2,
            learning_rate: 0.05,
            batch_size: 10,
            steps: 5000,
            examples: 50_000,
            train_cost: 0.123456,
            train: None,
            validation: Some(Score {
                accuracy: 0.9312,
                cost: 0.3,
                count: 10_000,
            }),
            test: None,
            seconds: 12.34,
            train_seconds: 10.0,
            examples_per_second: 5000.0,
            decayed: true,
            stop: Some(Stop::EarlyStop {
                metric: nnc_check::program::Metric::ValidationAccuracy,
                patience: 10,
            }),
        }
    }

    #[test]
    fn epoch_line_shows_settings_metrics_and_time() {
        assert_eq!(
            epoch_line(&record(), false),
            "epoch 3  phase 2  lr 0.05  batch 10  train cost 0.1235  validation 93.12%  \
             12.3 s (5000 examples/s)  (learning rate decayed)"
        );
        assert!(epoch_line(&record(), true).contains("validation cost 0.3000"));
    }

    #[test]
    fn log_object_has_the_keys_of_the_splits_measured() {
        let object = log_object(&record(), false);
        assert_eq!(object["epoch"], 3);
        assert_eq!(object["phase"], 2);
        assert_eq!(object["learning_rate"], 0.05);
        assert_eq!(object["validation_accuracy"], 0.9312);
        assert_eq!(object["validation_cost"], 0.3);
        assert!(object.get("test_accuracy").is_none());
        assert!(object.get("train_accuracy").is_none());
        assert_eq!(
            object["stop"],
            "early stop: validation_accuracy has not improved for 10 epochs"
        );
        let regression = log_object(&record(), true);
        assert!(regression.get("validation_accuracy").is_none());
        assert_eq!(regression["validation_cost"], 0.3);
    }

    #[test]
    fn an_op_the_backend_cannot_run_points_at_the_interpreter() {
        let error = TrainError::Configure {
            phase: 1,
            error: BackendError::Unsupported {
                what: "`lstm` (not lowered by the JIT backend yet)".to_string(),
            },
        };
        let failure = train_failure(error);
        assert_eq!(failure.code, EXIT_PROBLEMS);
        assert!(
            failure.message.ends_with("train with `--backend interp`"),
            "{}",
            failure.message
        );
        let other = train_failure(TrainError::NoTrainingExamples);
        assert!(!other.message.contains("--backend"), "{}", other.message);
    }

    #[test]
    fn verify_line_states_steps_kernels_and_the_largest_error() {
        let report = VerifyReport {
            steps: 3,
            kernels: 27,
            tensors: 30,
            values: 1234,
            largest: Some(nnc_cpu::verify::Largest {
                relative_error: 1.25e-5,
                step: 2,
                node: nnc_ir::NodeId::new(8),
                name: "dense_2.z".to_string(),
            }),
        };
        assert_eq!(
            verify_line(&report),
            "verify: the JIT agrees with the interpreter on 3 steps: 27 kernel runs compared \
             (1234 values), largest relative error 1.2e-5 (`dense_2.z`, step 2), tolerance 1e-4"
        );
    }

    fn program(models: &[&str]) -> Program {
        let source: String = models
            .iter()
            .map(|m| {
                format!(
                    "model {m} {{\n  input x: [2]\n  layers {{ dense(1, act: sigmoid) }}\n  cost cross_entropy\n}}\n\
                     train {m} on d {{\n  learning_rate 0.1\n  batch_size 1\n  epochs 1\n}}\n"
                )
            })
            .chain(["data d {\n  train csv(\"d.csv\", label: \"y\", header: true)\n}\n".into()])
            .collect();
        let report = driver::check_source(&source, Path::new("."), Options::default());
        assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
        report.program.unwrap()
    }

    fn message(result: Result<&TrainSpec, Failure>) -> String {
        match result {
            Ok(spec) => format!("ok {}", spec.model),
            Err(f) => format!("{} {}", f.code, f.message),
        }
    }

    #[test]
    fn train_block_is_the_only_one_or_the_one_named() {
        let one = program(&["a"]);
        assert_eq!(message(pick_train(&one, "f.nnet", None)), "ok a");
        let two = program(&["a", "b"]);
        assert_eq!(message(pick_train(&two, "f.nnet", Some("b"))), "ok b");
        assert_eq!(
            message(pick_train(&two, "f.nnet", None)),
            "2 `f.nnet` has 2 train blocks (`a` on `d`, `b` on `d`); choose one with `--train MODEL`"
        );
        assert_eq!(
            message(pick_train(&two, "f.nnet", Some("c"))),
            "2 `f.nnet` has no train block for model `c`; its train blocks: `a` on `d`, `b` on `d`"
        );
    }
}
