//! `nnc bench FILE`: how fast a backend trains a file's model.
//!
//! The command trains the file's `train` block as `nnc run` does (same
//! checking, data, parameter initialisation, seeds and phases) for the
//! first N epochs of its schedule (3 by default), and reports how long the
//! training steps took: every epoch's seconds, their median and spread, the
//! examples per second at the median, and the compile time.
//!
//! Method:
//! - An epoch's time is the loop's `train_seconds`: the wall time of its
//!   training steps alone. Loading the data, drawing the parameters,
//!   configuring the backend and evaluating are outside it.
//! - Nothing is evaluated (`skip_evaluation`), and the file's plateau decay
//!   and early stopping are dropped, so every run trains exactly N epochs at
//!   the phases' learning rates and spends no time measuring.
//! - Compile time is the wall time of the backend's `configure` calls (one
//!   per phase), measured by [`Timed`], a wrapper any [`Backend`] plugs
//!   into. So that no graph is compiled while an epoch is timed, the
//!   wrapper configures the backend for the phase's short last batch too
//!   (when the training count is not a multiple of the batch size) before
//!   configuring it for the phase's batch size: the step of every batch
//!   length the epochs will use is built in `configure`, counted as compile
//!   time. (The interpreter keeps the graphs of every batch length of a
//!   setup; a backend that did not would build the short one again at the
//!   end of each epoch, which would then show in the epoch times.)
//! - The median of an even number of epochs is the mean of the two middle
//!   ones; examples per second is the epoch's examples over the median
//!   seconds.

use crate::args::{make_backend, positive, BackendKind};
use crate::failure::{train_failure, Failure};
use crate::prepare::{pick_train, prepare, CheckedFile};
use crate::Format;
use clap::Args;
use nnc_check::program::Model;
use nnc_lower::backend::{
    Backend, BackendError, Batch, EvalStats, Inference, StepStats, Tensor, TrainSetup,
};
use nnc_train::{EpochRecord, Observer, Overrides, Schedule, TrainReport};
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The arguments of `nnc bench`.
#[derive(Args)]
pub(crate) struct BenchArgs {
    /// The .nnet file whose training to time.
    pub file: PathBuf,
    /// The backend that executes the training steps.
    #[arg(long, value_enum, default_value_t = BackendKind::Jit)]
    pub backend: BackendKind,
    /// Which train block to time (needed when the file has several): its
    /// model's name, `MODEL/DATA`, or its 1-based position in the file.
    #[arg(long, value_name = "MODEL")]
    pub train: Option<String>,
    /// Time this many epochs: the first N of the file's schedule.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = positive())]
    pub epochs: usize,
    /// Train on the first N examples of the training split only (quick
    /// benches).
    #[arg(long, value_name = "N", value_parser = positive())]
    pub train_limit: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `nnc bench` and returns its exit code: 0 when every epoch ran, 1
/// when the file, its data or the training failed, 2 on usage errors.
pub(crate) fn bench(args: &BenchArgs) -> ExitCode {
    match bench_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}

fn bench_inner(args: &BenchArgs) -> Result<(), Failure> {
    let checked = CheckedFile::open(&args.file)?;
    let program = checked.program()?;
    let spec = pick_train(program, checked.name(), args.train.as_deref())?;
    let mut schedule = Schedule::new(
        spec,
        Overrides {
            epochs: Some(args.epochs),
            seed: None,
            keep_best: None,
        },
    );
    // Nothing is measured, so a plateau would only be imagined: every
    // epoch runs at its phase's rate and none stops the run.
    schedule.decay = None;
    schedule.early_stop = None;
    schedule.keep_best = None;
    let options = nnc_train::Options {
        train_limit: args.train_limit,
        skip_evaluation: true,
        ..nnc_train::Options::default()
    };
    let prepared = prepare(&checked, program, spec)?;
    prepared.warn_of_limits(&options);
    // On a GPU, the adapter the figures were measured on (opening the
    // device now also reports a missing adapter before any work). A game
    // times all its steps: one backend per step.
    let game = nnc_train::Game::new(spec, || make_backend(args.backend));
    let (mut backend, device) = match (game, args.backend) {
        (Some(game), _) => (Box::new(game) as Box<dyn Backend>, None),
        (None, BackendKind::Wgpu) => {
            let mut gpu = nnc_gpu::GpuBackend::new();
            gpu.open()
                .map_err(|e| Failure::problem(format!("cannot open a GPU: {e}")))?;
            let device = gpu.adapter().map(ToString::to_string);
            (Box::new(gpu) as Box<dyn Backend>, device)
        }
        (None, kind) => (make_backend(kind), None),
    };
    let backend_name = backend.name();
    let mut timed = Timed::new(backend.as_mut());
    nnc_train::init_params(&mut timed, &prepared.model, schedule.seed).map_err(train_failure)?;
    let mut progress = Progress {
        show: std::io::stderr().is_terminal(),
    };
    let report = nnc_train::train(
        &mut timed,
        &prepared.model,
        &schedule,
        prepared.splits(),
        &options,
        &mut progress,
    )
    .map_err(train_failure)?;
    let name = match spec.is_game() {
        true => crate::game::game_name(spec),
        false => spec.model.clone(),
    };
    let result = BenchResult::new(
        checked.name(),
        &name,
        backend_name,
        &report,
        timed.compile(),
        timed.configures(),
    )
    .ok_or_else(|| Failure::problem("no epoch was trained"))?
    .on_device(device);
    let text = match args.format {
        Format::Text => result.to_text(),
        Format::Json => serde_json::to_string_pretty(&result.to_json()).unwrap_or_default() + "\n",
    };
    // A closed pipe (`nnc bench f | head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

/// A backend whose `configure` calls are timed (the compile time), and
/// which builds, in `configure`, the step of the phase's short last batch
/// as well as the full one. Everything else is passed through untouched,
/// so the training is the one the inner backend would do alone.
pub(crate) struct Timed<'b> {
    inner: &'b mut dyn Backend,
    compile: Duration,
    configures: usize,
}

impl<'b> Timed<'b> {
    pub(crate) fn new(inner: &'b mut dyn Backend) -> Timed<'b> {
        Timed {
            inner,
            compile: Duration::ZERO,
            configures: 0,
        }
    }

    /// The wall time spent in `configure` so far.
    pub(crate) fn compile(&self) -> Duration {
        self.compile
    }

    /// How many times the loop configured the backend (once per phase).
    pub(crate) fn configures(&self) -> usize {
        self.configures
    }

    fn configure_all(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
        let batch_size = setup.batch_size.max(1);
        let tail = setup.train_size % batch_size;
        if tail != 0 {
            self.inner.configure(&TrainSetup {
                batch_size: tail,
                ..setup.clone()
            })?;
        }
        self.inner.configure(setup)
    }
}

impl Backend for Timed<'_> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
        let started = Instant::now();
        let result = self.configure_all(setup);
        self.compile += started.elapsed();
        self.configures += 1;
        result
    }

    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError> {
        self.inner.set_params(params)
    }

    fn params(&self) -> Vec<Tensor> {
        self.inner.params()
    }

    fn read_params(&self, start: usize, out: &mut [Tensor]) -> Result<(), BackendError> {
        self.inner.read_params(start, out)
    }

    fn write_params(&mut self, start: usize, values: &[Tensor]) -> Result<(), BackendError> {
        self.inner.write_params(start, values)
    }

    fn train_step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<StepStats, BackendError> {
        self.inner.train_step(batch, learning_rate, step_seed)
    }

    fn configure_inference(&mut self, model: &Model) -> Result<(), BackendError> {
        self.inner.configure_inference(model)
    }

    fn infer(&mut self, batch: Batch<'_>) -> Result<Inference, BackendError> {
        self.inner.infer(batch)
    }

    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalStats, BackendError> {
        self.inner.evaluate(batch)
    }

    fn begin_epoch(&mut self, epoch: usize) {
        self.inner.begin_epoch(epoch);
    }

    fn reset_carry(&mut self) {
        self.inner.reset_carry();
    }

    fn carried(&self) -> Vec<Vec<f32>> {
        self.inner.carried()
    }

    fn set_carried(&mut self, values: Vec<Vec<f32>>) {
        self.inner.set_carried(values);
    }

    fn set_check_numerics(&mut self, on: bool) {
        self.inner.set_check_numerics(on);
    }

    fn optimizer_state(&self) -> Vec<Tensor> {
        self.inner.optimizer_state()
    }

    fn set_optimizer_state(&mut self, state: Vec<Tensor>) -> Result<(), BackendError> {
        self.inner.set_optimizer_state(state)
    }
}

/// One line on stderr per epoch, on a terminal only, so a long bench shows
/// it is alive.
struct Progress {
    show: bool,
}

impl Observer for Progress {
    fn epoch_finished(&mut self, r: &EpochRecord) {
        if self.show {
            eprintln!(
                "epoch {}: {:.3} s ({:.0} examples/s)",
                r.epoch, r.train_seconds, r.examples_per_second
            );
        }
    }
}

/// What `nnc bench` reports.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BenchResult {
    pub file: String,
    pub model: String,
    pub backend: String,
    /// The batch sizes of the epochs run, each once, in order.
    pub batch_sizes: Vec<usize>,
    /// Training examples per epoch.
    pub examples: usize,
    /// The seconds of each epoch's training steps.
    pub epoch_seconds: Vec<f64>,
    pub median_seconds: f64,
    pub min_seconds: f64,
    pub max_seconds: f64,
    /// `examples / median_seconds`.
    pub examples_per_second: f64,
    /// Wall time of the backend's `configure` calls.
    pub compile_seconds: f64,
    pub configures: usize,
    /// The GPU adapter, for `wgpu`.
    pub device: Option<String>,
}

impl BenchResult {
    /// The result measured on `device` (a GPU adapter's description).
    pub(crate) fn on_device(mut self, device: Option<String>) -> BenchResult {
        self.device = device;
        self
    }

    /// The result of `report`; `None` when no epoch ran.
    pub(crate) fn new(
        file: &str,
        model: &str,
        backend: &str,
        report: &TrainReport,
        compile: Duration,
        configures: usize,
    ) -> Option<BenchResult> {
        let epoch_seconds: Vec<f64> = report.epochs.iter().map(|r| r.train_seconds).collect();
        let median_seconds = median(&epoch_seconds)?;
        let min_seconds = epoch_seconds.iter().copied().fold(f64::INFINITY, f64::min);
        let max_seconds = epoch_seconds.iter().copied().fold(0.0, f64::max);
        let mut batch_sizes: Vec<usize> = Vec::new();
        for record in &report.epochs {
            if !batch_sizes.contains(&record.batch_size) {
                batch_sizes.push(record.batch_size);
            }
        }
        let examples = report.epochs.first().map_or(0, |r| r.examples);
        Some(BenchResult {
            file: file.to_string(),
            model: model.to_string(),
            backend: backend.to_string(),
            batch_sizes,
            examples,
            epoch_seconds,
            median_seconds,
            min_seconds,
            max_seconds,
            examples_per_second: examples as f64 / median_seconds.max(1e-9),
            compile_seconds: compile.as_secs_f64(),
            configures,
            device: None,
        })
    }

    pub(crate) fn to_text(&self) -> String {
        let sizes: Vec<String> = self.batch_sizes.iter().map(usize::to_string).collect();
        let epochs: Vec<String> = self
            .epoch_seconds
            .iter()
            .map(|s| format!("{s:.3} s"))
            .collect();
        let rows = [
            ("model", format!("{} ({})", self.model, self.file)),
            (
                "backend",
                match &self.device {
                    Some(device) => format!("{} on {device}", self.backend),
                    None => self.backend.clone(),
                },
            ),
            ("batch size", sizes.join(", ")),
            ("examples", format!("{} per epoch", self.examples)),
            (
                "epochs",
                format!("{}: {}", self.epoch_seconds.len(), epochs.join(", ")),
            ),
            (
                "median",
                format!(
                    "{:.3} s per epoch (min {:.3} s, max {:.3} s)",
                    self.median_seconds, self.min_seconds, self.max_seconds
                ),
            ),
            (
                "throughput",
                format!("{:.0} examples/s at the median", self.examples_per_second),
            ),
            (
                "compile",
                format!(
                    "{:.1} ms ({} configure call{})",
                    self.compile_seconds * 1e3,
                    self.configures,
                    if self.configures == 1 { "" } else { "s" }
                ),
            ),
        ];
        rows.iter()
            .map(|(label, value)| format!("{label:<10}  {value}\n"))
            .collect()
    }

    /// The JSON form; its keys are documented in `docs/language.md`.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "file": self.file,
            "model": self.model,
            "backend": self.backend,
            "batch_sizes": self.batch_sizes,
            "examples": self.examples,
            "epochs": self.epoch_seconds.len(),
            "epoch_seconds": self.epoch_seconds,
            "median_seconds": self.median_seconds,
            "min_seconds": self.min_seconds,
            "max_seconds": self.max_seconds,
            "examples_per_second": self.examples_per_second,
            "compile_ms": self.compile_seconds * 1e3,
            "configures": self.configures,
            "device": self.device,
        })
    }
}

/// The median of `values`: the middle one, or the mean of the two middle
/// ones; `None` when empty.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nnc_check::program::Optimizer;

    #[test]
    fn median_is_the_middle_or_the_mean_of_the_two_middle() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[4.0]), Some(4.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    /// Records the batch sizes it is configured for.
    #[derive(Default)]
    struct Recorder {
        configured: Vec<(usize, usize)>,
        steps: usize,
    }

    impl Backend for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }

        fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
            self.configured.push((setup.batch_size, setup.train_size));
            Ok(())
        }

        fn set_params(&mut self, _params: Vec<Tensor>) -> Result<(), BackendError> {
            Ok(())
        }

        fn params(&self) -> Vec<Tensor> {
            Vec::new()
        }

        fn train_step(
            &mut self,
            _batch: Batch<'_>,
            _learning_rate: f32,
            _step_seed: u64,
        ) -> Result<StepStats, BackendError> {
            self.steps += 1;
            Ok(StepStats::cost(1.0))
        }

        fn configure_inference(&mut self, _model: &Model) -> Result<(), BackendError> {
            Ok(())
        }

        fn infer(&mut self, _batch: Batch<'_>) -> Result<Inference, BackendError> {
            Err(BackendError::Unsupported {
                what: "inference (a test double)".to_string(),
            })
        }

        fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalStats, BackendError> {
            Ok(EvalStats {
                count: batch.len,
                ..EvalStats::default()
            })
        }
    }

    fn model() -> Model {
        let source =
            "model m {\n  input x: [2]\n  layers { dense(1, act: sigmoid) }\n  cost quadratic\n}\n";
        let report = nnc_cli::driver::check_source(
            source,
            std::path::Path::new("."),
            nnc_cli::driver::Options::default(),
        );
        assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
        report.program.unwrap().models.remove(0)
    }

    #[test]
    fn timed_configures_the_short_last_batch_before_the_full_one() {
        let model = model();
        let mut inner = Recorder::default();
        let mut timed = Timed::new(&mut inner);
        let setup = |batch_size, train_size| TrainSetup {
            model: &model,
            optimizer: &Optimizer::Sgd,
            batch_size,
            train_size,
            clip: Default::default(),
        };
        timed.configure(&setup(10, 25)).unwrap();
        timed.configure(&setup(5, 25)).unwrap();
        let batch = Batch {
            inputs: &[0.0; 4],
            targets: &[0.0; 2],
            len: 2,
            noise_seed: 0,
        };
        timed.train_step(batch, 0.1, 7).unwrap();
        assert_eq!(timed.configures(), 2);
        assert!(timed.compile() > Duration::ZERO);
        assert_eq!(timed.name(), "recorder");
        assert_eq!(inner.configured, [(5, 25), (10, 25), (5, 25)]);
        assert_eq!(inner.steps, 1, "steps pass through");
    }

    #[test]
    fn interpreter_behind_timed_has_every_batch_length_compiled_before_stepping() {
        let model = model();
        let mut interp = nnc_interp::InterpBackend::new();
        let mut timed = Timed::new(&mut interp);
        let setup = TrainSetup {
            model: &model,
            optimizer: &Optimizer::Sgd,
            batch_size: 10,
            train_size: 25,
            clip: Default::default(),
        };
        timed.configure(&setup).unwrap();
        assert!(interp.training_graph(10).is_some());
        assert!(
            interp.training_graph(5).is_some(),
            "the short last batch is compiled in configure, not in the timed epoch"
        );
    }

    fn record(epoch: usize, batch_size: usize, seconds: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            phase: 1,
            learning_rate: 0.1,
            batch_size,
            steps: 100,
            examples: 1000,
            train_cost: 0.5,
            train_terms: Vec::new(),
            train: None,
            validation: None,
            test: None,
            seconds,
            train_seconds: seconds,
            examples_per_second: 1000.0 / seconds,
            decayed: false,
            stop: None,
            restored: None,
        }
    }

    #[test]
    fn result_has_median_spread_throughput_and_compile_time() {
        let report = TrainReport {
            epochs: vec![record(1, 10, 2.0), record(2, 10, 0.5), record(3, 20, 1.0)],
            stop: None,
        };
        let result = BenchResult::new(
            "f.nnet",
            "net",
            "interp",
            &report,
            Duration::from_millis(12),
            2,
        )
        .unwrap();
        assert_eq!(result.batch_sizes, [10, 20]);
        assert_eq!(result.median_seconds, 1.0);
        assert_eq!((result.min_seconds, result.max_seconds), (0.5, 2.0));
        assert_eq!(result.examples_per_second, 1000.0);
        assert_eq!(
            result.to_text(),
            "model       net (f.nnet)\n\
             backend     interp\n\
             batch size  10, 20\n\
             examples    1000 per epoch\n\
             epochs      3: 2.000 s, 0.500 s, 1.000 s\n\
             median      1.000 s per epoch (min 0.500 s, max 2.000 s)\n\
             throughput  1000 examples/s at the median\n\
             compile     12.0 ms (2 configure calls)\n"
        );
        let json = result.to_json();
        assert_eq!(json["epochs"], 3);
        assert_eq!(json["compile_ms"], 12.0);
        assert_eq!(json["batch_sizes"], json!([10, 20]));
        let empty = TrainReport {
            epochs: Vec::new(),
            stop: None,
        };
        assert_eq!(
            BenchResult::new("f", "m", "b", &empty, Duration::ZERO, 0),
            None
        );
    }
}
