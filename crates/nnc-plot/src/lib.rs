//! Plots of training runs: the figures `nnc run --plot DIR` and `nnc plot`
//! draw from the JSON-lines records of `nnc run --log`.
//!
//! The input is a [`RunLog`]: a run's name (the log file's stem) and its
//! records, one JSON object per line, as `nnc run` writes them. Three
//! figures describe one run ([`plot_run`]):
//!
//! - `cost`: the train cost per epoch, with the validation and test cost
//!   when they were measured;
//! - `accuracy`: train, validation and test accuracy per epoch in percent,
//!   when any was measured (never for regression, whose records carry no
//!   accuracy);
//! - `learning_speed`: the L2 norm of dC/db of every layer against the epoch
//!   (0 is the initialisation), log-scaled, with the norms of dC/dW in a
//!   second panel; only when the records carry `grad_norms`
//!   (`--trace grad-norms`).
//!
//! [`plot_compare`] overlays one metric of several runs (the book's
//! batch-size figures, chapters 37-38), one line per run.
//!
//! [`write_image_grid`] tiles small images (samples drawn from a model,
//! test inputs beside their reconstructions) into one picture, written as
//! `.png` and as an `.svg` that embeds the same PNG.
//!
//! Invariants:
//! - Reading is tolerant of what a log may lack: a record without a key, a
//!   key that is `null` (a non-finite value serialised by serde_json) or not
//!   a number contributes no point. Only a line that is not a JSON object is
//!   an error, and it names the file and the line.
//! - Every figure is written twice, as `.png` and as `.svg`, except in
//!   [`plot_compare`] where the output's extension chooses. Each file is
//!   written atomically: a temporary file in the same folder, synced, then
//!   renamed over the target, so a reader never sees half a plot. Every
//!   write error names the path.
//! - Text is drawn with the DejaVu Sans font embedded in the binary
//!   (registered once with plotters' ab_glyph support); no system font is
//!   ever looked up, so plots render the same on a bare CI machine.
//! - Nothing here panics on user input: an empty log, a metric no record
//!   has, or an unwritable folder are [`PlotError`]s.

mod error;
mod figure;
mod grid;
mod log;
mod write;

pub use error::PlotError;
pub use grid::{write_image_grid, GridSpec};
pub use log::{read_log, RunLog};

use figure::{Figure, Legend, Panel, Series};
use std::path::{Path, PathBuf};

/// The splits whose metrics the run figures show, in legend order.
const SPLITS: [&str; 3] = ["train", "validation", "test"];

/// Draws the figures of one run into `dir` (created when missing) and
/// returns the files written, each figure as `NAME.png` and `NAME.svg`:
/// `cost` always (when any record has a cost), `cost_terms` when the
/// records carry terms of the cost (`SPLIT_cost_TERM`: a VAE's terms, a
/// game's step costs), `accuracy` when any accuracy was measured,
/// `learning_speed` when the records carry gradient norms. A
/// log with no epoch records yet writes nothing.
pub fn plot_run(log: &RunLog, dir: &Path) -> Result<Vec<PathBuf>, PlotError> {
    let figures: Vec<(&str, Figure)> = [
        ("cost", cost_figure(log)),
        ("cost_terms", cost_terms_figure(log)),
        ("accuracy", accuracy_figure(log)),
        ("learning_speed", learning_speed_figure(log)),
    ]
    .into_iter()
    .filter_map(|(name, figure)| figure.map(|f| (name, f)))
    .collect();
    if figures.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).map_err(|source| PlotError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for (name, figure) in &figures {
        for format in [figure::Format::Png, figure::Format::Svg] {
            let path = dir.join(format!("{name}.{}", format.extension()));
            figure::save(figure, format, &path)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// Overlays `metric` of several runs in one figure written to `out`, PNG or
/// SVG by its extension; the legend names each run. Runs without the
/// metric are left out; when none has it the error lists the metrics the
/// logs do have.
pub fn plot_compare(logs: &[RunLog], metric: &str, out: &Path) -> Result<PathBuf, PlotError> {
    let format = figure::Format::of(out)?;
    let series: Vec<Series> = logs
        .iter()
        .map(|log| Series::new(&log.name, scaled(log.metric_points(metric), metric)))
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        return Err(PlotError::UnknownMetric {
            metric: metric.to_string(),
            available: metric_keys(logs),
        });
    }
    let figure = Figure {
        title: format!(
            "{} per epoch: {}",
            capitalised(&metric_title(metric)),
            plural(series.len(), "run")
        ),
        panels: vec![Panel {
            title: None,
            y_label: metric_axis_label(metric),
            log_y: false,
            legend: legend_for(metric),
            series,
        }],
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| PlotError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    figure::save(&figure, format, out)?;
    Ok(out.to_path_buf())
}

/// The metric `nnc plot` shows unless told otherwise: the validation
/// accuracy when any log has it, else the test accuracy, else the train
/// cost; `None` when the logs have none of these.
pub fn default_metric(logs: &[RunLog]) -> Option<&'static str> {
    ["validation_accuracy", "test_accuracy", "train_cost"]
        .into_iter()
        .find(|key| logs.iter().any(|log| !log.metric_points(key).is_empty()))
}

/// The metrics the logs can be compared on: every key with a number in
/// some record, except `epoch` (the horizontal axis), sorted.
pub fn metric_keys(logs: &[RunLog]) -> Vec<String> {
    let mut keys: Vec<String> = logs.iter().flat_map(RunLog::numeric_keys).collect();
    keys.sort();
    keys.dedup();
    keys
}

fn cost_figure(log: &RunLog) -> Option<Figure> {
    let series: Vec<Series> = SPLITS
        .iter()
        .map(|split| Series::new(split, log.metric_points(&format!("{split}_cost"))))
        .filter(|s| !s.points.is_empty())
        .collect();
    cost_panel(format!("Cost per epoch: {}", log.name), series)
}

/// A figure of costs per epoch in one panel; `None` without any series.
fn cost_panel(title: String, series: Vec<Series>) -> Option<Figure> {
    (!series.is_empty()).then(|| Figure {
        title,
        panels: vec![Panel {
            title: None,
            y_label: metric_axis_label("train_cost"),
            log_y: false,
            legend: Legend::UpperRight,
            series,
        }],
    })
}

/// The terms of the cost, one line per logged `SPLIT_cost_TERM`: a VAE's
/// reconstruction and KL terms, or each step's cost in a game (the
/// discriminator's and the generator's losses).
fn cost_terms_figure(log: &RunLog) -> Option<Figure> {
    let series: Vec<Series> = log
        .numeric_keys()
        .into_iter()
        .filter(|key| {
            SPLITS
                .iter()
                .any(|split| key.starts_with(&format!("{split}_cost_")))
        })
        .map(|key| {
            let points = log.metric_points(&key);
            let label = key.replacen("_cost_", " ", 1);
            Series::new(&label, points)
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    cost_panel(format!("Cost terms per epoch: {}", log.name), series)
}

fn accuracy_figure(log: &RunLog) -> Option<Figure> {
    let series: Vec<Series> = SPLITS
        .iter()
        .map(|split| {
            let key = format!("{split}_accuracy");
            Series::new(split, scaled(log.metric_points(&key), &key))
        })
        .filter(|s| !s.points.is_empty())
        .collect();
    (!series.is_empty()).then(|| Figure {
        title: format!("Accuracy per epoch: {}", log.name),
        panels: vec![Panel {
            title: None,
            y_label: metric_axis_label("validation_accuracy"),
            log_y: false,
            legend: Legend::LowerRight,
            series,
        }],
    })
}

/// The learning speed of every layer (the book's chapter 34 figure): the
/// norms of dC/db in one panel and of dC/dW in a second, log-scaled, so
/// layers that learn ten times slower sit a decade lower.
fn learning_speed_figure(log: &RunLog) -> Option<Figure> {
    let layers = log.grad_norm_layers();
    let panel = |part: &str, title: &str, y_label: &str| {
        let series: Vec<Series> = layers
            .iter()
            .map(|layer| Series::new(layer, log.grad_norm_points(layer, part)))
            .filter(|s| !s.points.is_empty())
            .collect();
        (!series.is_empty()).then(|| Panel {
            title: Some(title.to_string()),
            y_label: y_label.to_string(),
            log_y: true,
            legend: Legend::UpperRight,
            series,
        })
    };
    let panels: Vec<Panel> = [
        panel(
            "bias",
            "Bias gradients ‖∂C/∂b‖ per layer",
            "‖∂C/∂b‖ (L2 norm, log scale)",
        ),
        panel(
            "weight",
            "Weight gradients ‖∂C/∂W‖ per layer",
            "‖∂C/∂W‖ (L2 norm, log scale)",
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!panels.is_empty()).then(|| Figure {
        title: format!("Learning speed of each layer: {}", log.name),
        panels,
    })
}

/// Accuracies are logged as fractions and shown in percent.
fn scaled(points: Vec<(f64, f64)>, metric: &str) -> Vec<(f64, f64)> {
    if is_accuracy(metric) {
        points.into_iter().map(|(x, y)| (x, 100.0 * y)).collect()
    } else {
        points
    }
}

fn is_accuracy(metric: &str) -> bool {
    metric.ends_with("_accuracy")
}

/// Accuracies rise, so their legend sits low; everything else (costs,
/// norms) falls, so its legend sits high.
fn legend_for(metric: &str) -> Legend {
    if is_accuracy(metric) {
        Legend::LowerRight
    } else {
        Legend::UpperRight
    }
}

/// The metric's name in words: `validation_accuracy` reads "validation
/// accuracy".
fn metric_title(metric: &str) -> String {
    metric.replace('_', " ")
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The vertical axis label of a metric, with its unit.
fn metric_axis_label(metric: &str) -> String {
    let words = metric_title(metric);
    if is_accuracy(metric) {
        format!("{words} (%)")
    } else if metric.ends_with("_cost") {
        "cost (mean per example)".to_string()
    } else if metric == "learning_rate" {
        "learning rate (η)".to_string()
    } else if metric.ends_with("seconds") {
        format!("{words} (s)")
    } else if metric == "examples_per_second" {
        "examples per second (1/s)".to_string()
    } else {
        words
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels_carry_units() {
        assert_eq!(
            metric_axis_label("validation_accuracy"),
            "validation accuracy (%)"
        );
        assert_eq!(metric_axis_label("test_cost"), "cost (mean per example)");
        assert_eq!(metric_axis_label("train_seconds"), "train seconds (s)");
        assert_eq!(capitalised("validation accuracy"), "Validation accuracy");
    }

    #[test]
    fn accuracies_are_shown_in_percent() {
        assert_eq!(scaled(vec![(1.0, 0.5)], "test_accuracy"), vec![(1.0, 50.0)]);
        assert_eq!(scaled(vec![(1.0, 0.5)], "test_cost"), vec![(1.0, 0.5)]);
    }
}
