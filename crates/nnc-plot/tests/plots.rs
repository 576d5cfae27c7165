//! The figures of `nnc-plot`, checked as files: every PNG decodes and shows
//! several coloured lines on a mostly white ground; every SVG is one `<svg>`
//! element with one line per series and the title, axis labels and legend
//! as text.

use nnc_plot::{plot_compare, plot_run, read_log, PlotError, RunLog};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nnc-plot-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Ten epochs of a classifier with three layers traced (the last without a
/// bias), and the initial gradient norms as epoch 0.
fn classifier_log(name: &str, speed: f64) -> RunLog {
    let layers = |scale: f64| {
        json!([
            {"layer": "dense_1", "bias": 0.07 * scale, "weight": 1.5 * scale},
            {"layer": "dense_2", "bias": 0.31 * scale, "weight": 2.5 * scale},
            {"layer": "dense_3", "weight": 3.5 * scale},
        ])
    };
    let mut records = vec![json!({"epoch": 0, "grad_norms": layers(1.0)})];
    for epoch in 1..=10 {
        let e = f64::from(epoch) * speed;
        records.push(json!({
            "epoch": epoch, "phase": 1, "learning_rate": 0.1, "batch_size": 10,
            "train_cost": 1.0 / e, "validation_cost": 1.1 / e + 0.05, "test_cost": 1.2 / e + 0.04,
            "train_accuracy": 1.0 - 0.2 / e, "validation_accuracy": 0.97 - 0.2 / e,
            "test_accuracy": 0.96 - 0.2 / e, "decayed": false,
            "grad_norms": layers(1.0 / e),
        }));
    }
    RunLog::new(name, records)
}

/// A regression run: costs only, no accuracies, no gradient norms.
fn regression_log() -> RunLog {
    let records = (1..=5)
        .map(|epoch| {
            let e = f64::from(epoch);
            json!({"epoch": epoch, "train_cost": 2.0 / e, "test_cost": 2.5 / e})
        })
        .collect();
    RunLog::new("regression", records)
}

/// The colours of the lines: the plotting palette's first entries.
const SERIES_COLOURS: [[u8; 3]; 3] = [[31, 119, 180], [255, 127, 14], [44, 160, 44]];

struct Png {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

fn decode_png(path: &Path) -> Png {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
    buf.truncate(info.buffer_size());
    Png {
        width: info.width,
        height: info.height,
        rgb: buf,
    }
}

/// Checks a PNG: at least 800x600, between 3% and 60% non-white pixels,
/// and at least `lines` of the series colours drawn with 300+ pixels each.
fn check_png(path: &Path, lines: usize) {
    let png = decode_png(path);
    assert!(
        png.width >= 800 && png.height >= 600,
        "{}: {}x{}",
        path.display(),
        png.width,
        png.height
    );
    let pixels: Vec<[u8; 3]> = png
        .rgb
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let non_white = pixels.iter().filter(|p| **p != [255, 255, 255]).count();
    let share = non_white as f64 / pixels.len() as f64;
    assert!(
        (0.03..0.6).contains(&share),
        "{}: {:.1}% non-white",
        path.display(),
        100.0 * share
    );
    let coloured = SERIES_COLOURS
        .iter()
        .filter(|colour| pixels.iter().filter(|p| p == colour).count() >= 300)
        .count();
    assert!(
        coloured >= lines,
        "{}: {coloured} line colours, expected {lines}",
        path.display()
    );
}

/// Checks an SVG: one `<svg>` root closed at the end, `lines` polylines of
/// data (more than two points) in `colours` distinct colours, and every
/// text given.
fn check_svg(path: &Path, lines: usize, colours: usize, texts: &[&str]) {
    let svg = std::fs::read_to_string(path).unwrap();
    assert!(svg.starts_with("<svg "), "{}", path.display());
    assert!(svg.trim_end().ends_with("</svg>"), "{}", path.display());
    assert_eq!(svg.matches("<svg").count(), 1, "{}", path.display());
    assert_eq!(
        svg.matches("<text").count(),
        svg.matches("</text>").count(),
        "{}",
        path.display()
    );
    let data_lines: Vec<&str> = svg
        .split("<polyline")
        .skip(1)
        .filter_map(|rest| rest.split('>').next())
        .filter(|element| {
            let points = element
                .split("points=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or("");
            points.split_whitespace().count() > 2 && !element.contains("stroke=\"#000000\"")
        })
        .collect();
    assert_eq!(data_lines.len(), lines, "{}", path.display());
    let distinct: BTreeSet<&str> = data_lines
        .iter()
        .filter_map(|e| e.split("stroke=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(distinct.len(), colours, "{}", path.display());
    for text in texts {
        assert!(svg.contains(text), "{}: no `{text}`", path.display());
    }
}

fn names(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_classifier_run_gets_cost_accuracy_and_learning_speed_plots() {
    let dir = scratch("classifier");
    let files = plot_run(&classifier_log("mlp", 1.0), &dir.join("plots")).unwrap();
    assert_eq!(
        names(&files),
        [
            "cost.png",
            "cost.svg",
            "accuracy.png",
            "accuracy.svg",
            "learning_speed.png",
            "learning_speed.svg"
        ]
    );
    let plots = dir.join("plots");
    check_png(&plots.join("cost.png"), 3);
    check_png(&plots.join("accuracy.png"), 3);
    check_png(&plots.join("learning_speed.png"), 3);
    check_svg(
        &plots.join("cost.svg"),
        3,
        3,
        &[
            "Cost per epoch: mlp",
            "cost (mean per example)",
            ">\nepoch\n<",
            "validation",
            "test",
        ],
    );
    check_svg(
        &plots.join("accuracy.svg"),
        3,
        3,
        &["Accuracy per epoch: mlp", "accuracy (%)", "train"],
    );
    // Two bias lines (dense_3 has no bias) and three weight lines, a
    // layer in the same colour in both panels.
    check_svg(
        &plots.join("learning_speed.svg"),
        5,
        3,
        &[
            "Learning speed of each layer: mlp",
            "‖∂C/∂b‖ (L2 norm, log scale)",
            "‖∂C/∂W‖ (L2 norm, log scale)",
            "dense_1",
            "dense_3",
        ],
    );
    let leftovers: Vec<_> = std::fs::read_dir(&plots)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_regression_run_gets_a_cost_plot_only() {
    let dir = scratch("regression");
    let files = plot_run(&regression_log(), &dir).unwrap();
    assert_eq!(names(&files), ["cost.png", "cost.svg"]);
    check_png(&dir.join("cost.png"), 2);
    check_svg(&dir.join("cost.svg"), 2, 2, &["train", "test"]);
    let empty = plot_run(&RunLog::new("empty", vec![]), &dir.join("none")).unwrap();
    assert!(empty.is_empty());
}

#[test]
fn compare_overlays_one_line_per_run_named_in_the_legend() {
    let dir = scratch("compare");
    let logs = [
        classifier_log("batch_10", 1.0),
        classifier_log("batch_64", 0.7),
        classifier_log("batch_1024", 0.3),
    ];
    let png = plot_compare(&logs, "validation_accuracy", &dir.join("a.png")).unwrap();
    check_png(&png, 3);
    let svg = plot_compare(&logs, "train_cost", &dir.join("sub/b.svg")).unwrap();
    check_svg(
        &svg,
        3,
        3,
        &[
            "Train cost per epoch: 3 runs",
            "batch_10",
            "batch_64",
            "batch_1024",
        ],
    );
    assert_eq!(nnc_plot::default_metric(&logs), Some("validation_accuracy"));
    assert_eq!(
        nnc_plot::default_metric(&[regression_log()]),
        Some("train_cost")
    );
}

#[test]
fn an_unknown_metric_lists_the_metrics_the_logs_have() {
    let dir = scratch("unknown");
    let error = plot_compare(&[regression_log()], "accuracy", &dir.join("a.png")).unwrap_err();
    assert!(matches!(error, PlotError::UnknownMetric { .. }));
    assert_eq!(
        error.to_string(),
        "no log has the metric `accuracy`; the logs have: test_cost, train_cost"
    );
    let error = plot_compare(&[regression_log()], "train_cost", &dir.join("a.jpg")).unwrap_err();
    assert!(error
        .to_string()
        .contains("name the output `.png` or `.svg`"));
}

#[test]
fn logs_are_read_with_errors_naming_file_and_line() {
    let dir = scratch("read");
    let path = dir.join("run_7.jsonl");
    let lines: Vec<String> = classifier_log("x", 1.0)
        .records
        .iter()
        .map(Value::to_string)
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n\n").unwrap();
    let log = read_log(&path).unwrap();
    assert_eq!(log.name, "run_7");
    assert_eq!(log.records.len(), 11);

    std::fs::write(&path, "{\"epoch\": 1}\n{\"epoch\": 2,\n").unwrap();
    let message = read_log(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("`{}` line 2 is not a JSON object", path.display())),
        "{message}"
    );
    std::fs::write(&path, "[1, 2]\n").unwrap();
    assert!(read_log(&path).unwrap_err().to_string().contains("line 1"));

    let missing = dir.join("missing.jsonl");
    let message = read_log(&missing).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("cannot read the log `{}`", missing.display())),
        "{message}"
    );
}

#[test]
fn an_unwritable_folder_is_an_error_naming_the_path() {
    let dir = scratch("unwritable");
    // A file where the plot folder should be: creating it fails.
    let blocker = dir.join("plots");
    std::fs::write(&blocker, "not a folder").unwrap();
    let message = plot_run(&regression_log(), &blocker)
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(&format!(
            "cannot create the plot folder `{}`",
            blocker.display()
        )),
        "{message}"
    );
    let out = blocker.join("a.png");
    let message = plot_compare(&[regression_log()], "train_cost", &out)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&blocker.display().to_string()),
        "{message}"
    );
}

/// A game's log: a `cost_terms` figure with one line per step cost.
#[test]
fn cost_terms_figure_has_a_line_per_logged_term() {
    let dir = scratch("cost_terms");
    let records: Vec<Value> = (1..=4)
        .map(|epoch| {
            let e = f64::from(epoch);
            json!({
                "epoch": epoch,
                "train_cost": 2.0 / e,
                "train_cost_discriminator": 1.0 / e,
                "train_cost_generator": 1.0 + 0.1 * e,
                "test_cost_discriminator": 1.1 / e,
            })
        })
        .collect();
    let log = RunLog::new("game", records);
    let written = plot_run(&log, &dir).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"cost_terms.png".to_string()), "{names:?}");
    let svg = std::fs::read_to_string(dir.join("cost_terms.svg")).unwrap();
    for label in [
        "train discriminator",
        "train generator",
        "test discriminator",
    ] {
        assert!(svg.contains(label), "no line `{label}` in the legend");
    }
}
