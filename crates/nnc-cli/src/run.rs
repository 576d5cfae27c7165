//! `nnc run FILE`: check the file and its data, then train.
//!
//! The command strings the stages together: parse and check with data
//! inspection (diagnostics printed as `nnc check` prints them), pick the
//! train block, load the data, initialise the parameters from the seed, and
//! run the loop of `nnc-train` on the chosen backend. While it trains it
//! draws a progress bar on stderr (only on a terminal), prints one line per
//! epoch on stdout and, with `--log`, writes one JSON object per epoch.
//! `--quiet` (`-q`) keeps stdout to the end of the run: no bar, no epoch
//! or trace lines while training, then the last epoch's line (and why the
//! schedule stopped, if it did); warnings and errors still go to stderr,
//! and the log and plots are written as without it.
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

use crate::args::{make_backend, positive, BackendKind};
use crate::epoch_log::{epoch_line, log_object, JsonLog, Style};
use crate::failure::{train_failure, Failure};
use crate::plot::RunPlot;
use crate::prepare::{pick_train, plural, prepare, CheckedFile, Prepared};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use nnc_cpu::verify::{Verifier, VerifyError, VerifyReport, RTOL};
use nnc_lower::backend::{BackendError, Batch, TrainSetup};
use nnc_train::{
    EpochRecord, EpochStart, Examples, Observer, Overrides, Schedule, SplitKind, StepProgress,
    TrainError, TrainReport,
};
use serde_json::{json, Value};
use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

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
    /// Which train block to run (needed when the file has several): its
    /// model's name, `MODEL/DATA`, or its 1-based position in the file.
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
    /// Print only the end of the run: no progress bar and no line per
    /// epoch, then the last epoch's line (warnings and errors still go to
    /// stderr; `--log` keeps every epoch).
    #[arg(long, short = 'q')]
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

/// Runs `nnc run` and returns its exit code.
pub fn run(args: &RunArgs) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if failure.code == crate::checkpoint::EXIT_INTERRUPTED => {
            eprintln!("{}", failure.message);
            ExitCode::from(failure.code)
        }
        Err(failure) => failure.exit(),
    }
}

fn run_inner(args: &RunArgs) -> Result<(), Failure> {
    let checked = CheckedFile::open(&args.file)?;
    let program = checked.program()?;
    let spec = pick_train(program, checked.name(), args.train.as_deref())?;
    // No accuracy is shown for real-valued labels, nor for a model that
    // reads no labels (its costs compare outputs with its inputs).
    if spec.is_game() {
        game_options(args)?;
    }
    let style = match spec.is_game() {
        true => Style::game(spec),
        false => Style::of(program.model(&spec.model), program.data(&spec.data)),
    };
    let restores = spec.early_stop.as_ref().filter(|e| e.restore_best);
    let mut session = crate::checkpoint::Session::open(
        &args.checkpoints,
        checked.name(),
        &checked.source,
        style.clone(),
        spec.keep_best,
        restores.map(|e| e.metric),
    )?;
    let overrides = Overrides {
        epochs: args.epochs,
        seed: session.seed(args.seed),
        keep_best: session.keep_best(),
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
    session.vocabulary = prepared.train.vocabulary().map(|v| v.iter().collect());
    prepared.warn_of_limits(&options);
    if let Some(steps) = args.verify_step_count() {
        let report = verify(&prepared, &schedule, &options, steps).map_err(verify_failure)?;
        crate::failure::print_line(verify_line(&report));
        if args.verify_only {
            return Ok(());
        }
    }
    let mut console = Console::new(!args.quiet, style, log);
    console.quiet = args.quiet;
    if args.trace.contains(&crate::trace::TraceKind::GradNorms) {
        let limit = options.train_limit.unwrap_or(usize::MAX);
        let tracer = crate::trace::GradTracer::new(&prepared.model, &prepared.train, limit)
            .map_err(Failure::problem)?;
        console.tracer = Some(tracer);
    }
    console.plot = plot;
    if let Some(dir) = &args.plot {
        if spec.is_game() {
            console.samples = crate::game::SamplePlot::new(program, spec, dir, args.backend);
        }
        console.reconstructions = crate::images::ReconstructionPlot::new(
            &prepared.model,
            prepared.shown(),
            dir,
            args.backend,
            schedule.seed,
        );
    }
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
    if args.quiet {
        if let Some(last) = report.last() {
            crate::failure::print_line(epoch_line(last, &console.style));
        }
    }
    print_outcome(&report);
    Ok(())
}

/// The options of `nnc run` that measure one model's cost or metric, which
/// a game (one cost per step, no metric) does not have: refused, with why.
fn game_options(args: &RunArgs) -> Result<(), Failure> {
    if !args.trace.is_empty() {
        return Err(Failure::usage(
            "`--trace grad-norms` traces the gradients of one model's cost, and a game has a \
             cost per step; `nnc emit ir FILE --step MODEL` shows each step's gradients",
        ));
    }
    if let Some(metric) = args.checkpoints.keep_best {
        return Err(Failure::usage(format!(
            "`--keep-best {metric}` keeps the best epoch by one model's metric, and a game has \
             none; its checkpoints are kept by epoch (`--keep N`)"
        )));
    }
    Ok(())
}

/// The name of a run in its plots' titles: the model file's stem.
fn run_name(file: &Path) -> String {
    file.file_stem().map_or_else(
        || file.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

fn print_outcome(report: &TrainReport) {
    if let Some(stop) = report.stop {
        let epoch = report.last().map_or(0, |r| r.epoch);
        crate::failure::print_line(format!("stopped after epoch {epoch}: {stop}"));
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
    let game = nnc_train::Game::new(prepared.spec, || make_backend(backend));
    let game_names = prepared
        .spec
        .is_game()
        .then(|| crate::checkpoint::GameNames {
            name: crate::game::game_name(prepared.spec),
            state: nnc_train::game::game_state_specs(prepared.spec),
        });
    let mut backend: Box<dyn nnc_train::Backend> = match game {
        Some(game) => Box::new(game),
        None => make_backend(backend),
    };
    backend.set_check_numerics(check_numerics);
    // A resumed run takes its parameters from the checkpoint.
    let resume = session.restore(
        backend.as_mut(),
        &prepared.model,
        schedule,
        game_names.as_ref(),
    )?;
    if resume.is_none() {
        nnc_train::init_params(backend.as_mut(), &prepared.model, schedule.seed)
            .map_err(train_failure)?;
        console.trace_initial(backend.params());
    }
    let outcome = nnc_train::train_resumable(
        backend.as_mut(),
        &prepared.model,
        schedule,
        prepared.splits(),
        options,
        console,
        resume,
        &mut session.saver(&prepared.model, schedule, game_names.as_ref()),
    )
    .map_err(|e| session.train_failure(e))?;
    if outcome.interrupted.is_some() {
        return Err(session.interrupted());
    }
    Ok(outcome.report)
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
    // A game verifies each step's graph in turn, from the same start.
    let graphs: Vec<(&nnc_check::program::Model, _, f64, Option<_>)> = if prepared.spec.is_game() {
        prepared
            .spec
            .steps
            .iter()
            .map(|s| (&s.graph, &s.optimizer, s.rate_at(1), Some(s)))
            .collect()
    } else {
        vec![(
            &*prepared.model,
            &phase.optimizer,
            phase.learning_rate,
            None,
        )]
    };
    let mut total = VerifyReport::default();
    for (model, optimizer, rate, step_spec) in graphs {
        let setup = TrainSetup {
            model,
            optimizer,
            batch_size,
            train_size: count,
            clip: schedule.clip,
        };
        let params = nnc_lower::init_params(&prepared.model, schedule.seed);
        let mut verifier = Verifier::new(&setup, params).map_err(VerifyFailure::Verify)?;
        let order = if model.carry {
            nnc_train::seeds::stream_order(count, batch_size)
        } else {
            nnc_train::seeds::epoch_order(schedule.seed, 1, count)
        };
        let (mut inputs, mut targets, mut own) = (Vec::new(), Vec::new(), Vec::new());
        for (step, indices) in order.chunks(batch_size).take(steps).enumerate() {
            let seed = nnc_train::seeds::step_seed(schedule.seed, 1, step);
            Examples::fill_train_batch(train, indices, &mut inputs, &mut targets, seed);
            let batch = Batch {
                inputs: &inputs,
                targets: &targets,
                len: indices.len(),
                noise_seed: 0,
            };
            let batch = match step_spec {
                Some(spec) => {
                    nnc_train::game::batch_of_step(spec, &batch, &mut own).map_err(|e| {
                        VerifyFailure::Train(TrainError::Step {
                            epoch: 1,
                            batch: step + 1,
                            error: e,
                        })
                    })?
                }
                None => batch,
            };
            verifier
                .step(batch, rate as f32, seed)
                .map_err(VerifyFailure::Verify)?;
        }
        total.merge(verifier.report());
    }
    Ok(total)
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

/// The observer of `nnc run`: progress bar, epoch lines and the JSON log.
struct Console {
    progress: bool,
    /// `--quiet`: no epoch or trace lines while training.
    quiet: bool,
    style: Style,
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
    /// `--plot DIR` for a model that reconstructs image inputs: the grid
    /// of inputs and reconstructions, drawn after every epoch.
    reconstructions: Option<crate::images::ReconstructionPlot>,
    /// `--plot` on a game: its generator's images on a fixed noise, drawn
    /// after every epoch.
    samples: Option<crate::game::SamplePlot>,
}

/// How often the running cost on the bar is refreshed.
const REFRESH: Duration = Duration::from_millis(100);

impl Console {
    fn new(progress: bool, style: Style, log: Option<JsonLog>) -> Console {
        Console {
            progress: progress && std::io::stderr().is_terminal(),
            quiet: false,
            style,
            bar: None,
            last_draw: None,
            log,
            tracer: None,
            norms: None,
            plot: None,
            reconstructions: None,
            samples: None,
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
    fn trace_initial(&mut self, params: Vec<nnc_lower::backend::Tensor>) {
        let Some(tracer) = &mut self.tracer else {
            return;
        };
        match tracer.measure(&params) {
            Ok(norms) => {
                if !self.quiet {
                    crate::failure::print_line(crate::trace::norms_line("initial", &norms));
                }
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
        self.tracer.is_some() || self.reconstructions.is_some() || self.samples.is_some()
    }

    fn epoch_params(&mut self, epoch: usize, params: Vec<nnc_lower::backend::Tensor>) {
        if let Some(tracer) = &mut self.tracer {
            match tracer.measure(&params) {
                Ok(norms) => self.norms = Some(norms),
                Err(e) => eprintln!("warning: {e}"),
            }
        }
        if let Some(plot) = &self.samples {
            if let Err(e) = plot.draw(epoch, &params) {
                eprintln!("warning: cannot draw the samples of epoch {epoch}: {e}");
            }
        }
        if let Some(plot) = &self.reconstructions {
            if let Err(e) = plot.draw(epoch, params) {
                eprintln!("warning: cannot draw the reconstructions of epoch {epoch}: {e}");
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
        let norms = self.norms.take();
        if !self.quiet {
            let line = epoch_line(record, &self.style);
            let mut out = std::io::stdout().lock();
            // A closed pipe (`nnc run f | head`) must not stop training.
            let _ = writeln!(out, "{line}");
            if let Some(norms) = &norms {
                let _ = writeln!(out, "{}", crate::trace::norms_line("  ", norms));
            }
            let _ = out.flush();
        }
        if let Some(log) = &mut self.log {
            let mut object = log_object(record, &self.style);
            if let (Some(norms), Value::Object(map)) = (&norms, &mut object) {
                map.insert("grad_norms".into(), crate::trace::norms_json(norms));
            }
            log.write(&object);
        }
        if let Some(plot) = &mut self.plot {
            let mut object = log_object(record, &self.style);
            if let (Some(norms), Value::Object(map)) = (&norms, &mut object) {
                map.insert("grad_norms".into(), crate::trace::norms_json(norms));
            }
            plot.record(object);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
