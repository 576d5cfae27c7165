//! Plots from the command line: `nnc plot LOG.jsonl... -o FILE.png` overlays
//! one metric of several runs, and [`RunPlot`] keeps the figures of `nnc run
//! --plot DIR` up to date while a run trains.
//!
//! Both draw with `nnc-plot` from the records `nnc run --log` writes, so a
//! figure drawn during a run and one drawn later from its log are the same.
//!
//! Exit codes of `nnc plot`: 0 when the figure was written, 1 when a log is
//! not a JSON-lines log, 2 on usage errors (unknown metric, output that is
//! not `.png` or `.svg`) and unreadable logs or unwritable outputs.

use clap::Args;
use nnc_plot::{PlotError, RunLog};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const EXIT_PROBLEMS: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// The arguments of `nnc plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// The JSON-lines logs of `nnc run --log`; each is one line of the
    /// figure, named after the log file.
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<PathBuf>,
    /// The figure to write: `.png` or `.svg`.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// The log key to draw against the epoch (default: `validation_accuracy`
    /// when the logs have it, else `test_accuracy`, else `train_cost`).
    #[arg(long, value_name = "KEY")]
    pub metric: Option<String>,
}

/// Runs `nnc plot` and returns its exit code.
pub fn plot(args: &PlotArgs) -> ExitCode {
    match plot_inner(args) {
        Ok(line) => {
            crate::failure::print_line(line);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            let code = match error {
                PlotError::BadLine { .. } => EXIT_PROBLEMS,
                _ => EXIT_USAGE,
            };
            ExitCode::from(code)
        }
    }
}

/// Reads the logs and writes the figure; returns the line to print.
fn plot_inner(args: &PlotArgs) -> Result<String, PlotError> {
    let logs = read_logs(&args.logs)?;
    let metric = match &args.metric {
        Some(metric) => metric.clone(),
        None => nnc_plot::default_metric(&logs)
            .ok_or_else(|| PlotError::UnknownMetric {
                metric: "validation_accuracy".to_string(),
                available: nnc_plot::metric_keys(&logs),
            })?
            .to_string(),
    };
    let out = nnc_plot::plot_compare(&logs, &metric, &args.output)?;
    let (with, without): (Vec<&RunLog>, Vec<&RunLog>) = logs
        .iter()
        .partition(|log| !log.metric_points(&metric).is_empty());
    for (log, path) in logs.iter().zip(&args.logs) {
        if without.iter().any(|w| std::ptr::eq(*w, log)) {
            eprintln!(
                "warning: `{}` has no `{metric}`, so run `{}` is not in the figure",
                path.display(),
                log.name
            );
        }
    }
    let drawn = with.len();
    Ok(format!(
        "wrote `{}`: {metric} of {drawn} run{}",
        out.display(),
        if drawn == 1 { "" } else { "s" }
    ))
}

/// Reads every log; runs whose file stems coincide (`a/log.jsonl` and
/// `b/log.jsonl`) are named by their paths instead, so the legend tells them
/// apart.
fn read_logs(paths: &[PathBuf]) -> Result<Vec<RunLog>, PlotError> {
    let mut logs = paths
        .iter()
        .map(|path| nnc_plot::read_log(path))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = logs.iter().map(|log| log.name.clone()).collect();
    for (log, path) in logs.iter_mut().zip(paths) {
        if names.iter().filter(|name| **name == log.name).count() > 1 {
            log.name = path.display().to_string();
        }
    }
    Ok(logs)
}

/// The figures of `nnc run --plot DIR`: the run's records, drawn into the
/// folder as epochs end.
///
/// Drawing takes time, so a run of many short epochs does not redraw after
/// every one: a redraw waits until four times the last drawing's duration
/// has passed since it, which keeps drawing under a fifth of the run's time.
/// [`RunPlot::finish`] draws what is still pending, whether the run ended
/// well or not. The first error (an unwritable folder, a full disk) stops
/// the drawing and is reported by `finish`.
pub(crate) struct RunPlot {
    dir: PathBuf,
    log: RunLog,
    /// Records added since the last drawing.
    pending: bool,
    last_drawn: Option<(Instant, Duration)>,
    error: Option<String>,
}

impl RunPlot {
    /// Plots for the run `name` into `dir`, which is created now so that an
    /// unusable folder stops the run before it trains.
    pub(crate) fn create(dir: &Path, name: &str) -> Result<RunPlot, String> {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the plot folder `{}`: {e}; choose a writable folder with `--plot DIR`",
                dir.display()
            )
        })?;
        Ok(RunPlot {
            dir: dir.to_path_buf(),
            log: RunLog::new(name, Vec::new()),
            pending: false,
            last_drawn: None,
            error: None,
        })
    }

    /// Adds a record (a `--log` object) and redraws when it is time.
    pub(crate) fn record(&mut self, object: Value) {
        self.log.records.push(object);
        self.pending = true;
        let due = self
            .last_drawn
            .is_none_or(|(at, took)| at.elapsed() >= 4 * took);
        if due {
            self.draw();
        }
    }

    /// Draws what is pending and returns the first error, if any.
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        if self.pending {
            self.draw();
        }
        self.error.clone().map_or(Ok(()), Err)
    }

    fn draw(&mut self) {
        if self.error.is_some() {
            return;
        }
        let started = Instant::now();
        match nnc_plot::plot_run(&self.log, &self.dir) {
            Ok(_) => {
                self.pending = false;
                self.last_drawn = Some((Instant::now(), started.elapsed()));
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_run_plot_draws_its_records_and_reports_an_unwritable_folder() {
        let dir = std::env::temp_dir().join(format!("nnc-cli-runplot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut plot = RunPlot::create(&dir, "run").unwrap();
        plot.record(json!({"epoch": 1, "train_cost": 0.5, "test_accuracy": 0.8}));
        plot.record(json!({"epoch": 2, "train_cost": 0.4, "test_accuracy": 0.85}));
        assert_eq!(plot.finish(), Ok(()));
        for name in ["cost.png", "cost.svg", "accuracy.png", "accuracy.svg"] {
            assert!(dir.join(name).is_file(), "no {name}");
        }
        // A file where the folder should be makes every write fail.
        let blocked = dir.join("cost.png");
        let mut plot = RunPlot::create(&dir, "run").unwrap();
        plot.dir = blocked.clone();
        plot.record(json!({"epoch": 1, "train_cost": 0.5}));
        let message = plot.finish().unwrap_err();
        assert!(
            message.contains(&blocked.display().to_string()),
            "{message}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
