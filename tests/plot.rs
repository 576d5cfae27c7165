//! `nnc run --plot DIR` and `nnc plot`, end to end: a small classifier on
//! two clusters of points (made here, as CSV) trains for three epochs with
//! its plots drawn, twice with different batch sizes, and `nnc plot`
//! overlays the two logs, as the book's batch-size figures do.

mod common;

use common::{nnc, text};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    common::scratch("plot", name)
}

/// Writes the data and a model file training with `batch_size`; returns
/// the file's path.
fn model_file(dir: &Path, name: &str, batch_size: usize) -> String {
    for (split, count, seed) in [("train", 200, 1), ("validation", 60, 2), ("test", 60, 3)] {
        std::fs::write(
            dir.join(format!("{split}.csv")),
            common::points_csv(count, seed, 2.8),
        )
        .unwrap();
    }
    let source = format!(
        r#"model blobs {{
  input x: [2]
  layers {{
    dense(8, act: sigmoid)
    dense(2, act: softmax)
  }}
  cost log_likelihood
}}

data points {{
  train csv("train.csv", label: "y", header: true)
  validation csv("validation.csv", label: "y", header: true)
  test csv("test.csv", label: "y", header: true)
  labels one_hot(classes: 2)
}}

train blobs on points {{
  optimizer sgd
  learning_rate 0.5
  batch_size {batch_size}
  epochs 10
  seed 1
}}
"#
    );
    let path = dir.join(name);
    std::fs::write(&path, source).unwrap();
    path.display().to_string()
}

fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Decodes a PNG and returns its size and the distinct saturated colours
/// (line colours, not the greys of text and grid) with 200+ pixels each.
fn png_colours(path: &Path) -> ((u32, u32), usize) {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let mut counts = std::collections::HashMap::new();
    let mut non_white = 0usize;
    for p in buf.chunks_exact(3) {
        if p != [255, 255, 255] {
            non_white += 1;
        }
        let spread = p.iter().max().unwrap() - p.iter().min().unwrap();
        if spread > 80 {
            *counts.entry([p[0], p[1], p[2]]).or_insert(0usize) += 1;
        }
    }
    let share = non_white as f64 / (buf.len() / 3) as f64;
    assert!(
        share > 0.03,
        "{}: {:.1}% non-white",
        path.display(),
        100.0 * share
    );
    let colours = counts.values().filter(|&&n| n >= 200).count();
    ((info.width, info.height), colours)
}

/// The data lines of an SVG: polylines of more than two points that are
/// not black (axes and ticks are black; legend samples have two points).
fn svg_data_lines(svg: &str) -> Vec<String> {
    svg.split("<polyline")
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
        .map(str::to_string)
        .collect()
}

#[test]
fn run_plots_its_epochs_and_plot_overlays_two_runs() {
    let dir = scratch("run");
    let small = model_file(&dir, "batch_10.nnet", 10);
    let large = model_file(&dir, "batch_50.nnet", 50);
    let plots = dir.join("plots");
    let (log_small, log_large) = (dir.join("batch_10.jsonl"), dir.join("batch_50.jsonl"));
    let out = nnc(&[
        "run",
        &small,
        "--epochs",
        "3",
        "--quiet",
        "--trace",
        "grad-norms",
        "--plot",
        &plots.display().to_string(),
        "--log",
        &log_small.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let records = read_log(&log_small);
    let last = records.last().unwrap();
    assert_eq!(last["epoch"], 3);
    // Two overlapping clusters (so that validation and test accuracy
    // differ and show as two lines): three epochs learn most of them.
    let accuracy = last["validation_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.8, "validation accuracy {accuracy}");

    let mut names: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "accuracy.png",
            "accuracy.svg",
            "cost.png",
            "cost.svg",
            "learning_speed.png",
            "learning_speed.svg"
        ]
    );
    for figure in ["cost", "accuracy", "learning_speed"] {
        let (size, colours) = png_colours(&plots.join(format!("{figure}.png")));
        assert!(size.0 >= 800 && size.1 >= 600, "{figure}: {size:?}");
        assert!(colours >= 2, "{figure}.png: {colours} line colours");
    }
    let cost = std::fs::read_to_string(plots.join("cost.svg")).unwrap();
    assert!(cost.starts_with("<svg ") && cost.trim_end().ends_with("</svg>"));
    assert!(cost.contains("Cost per epoch: batch_10"), "{cost}");
    // The train, validation and test costs, one line each over 3 epochs.
    assert_eq!(svg_data_lines(&cost).len(), 3);
    let speed = std::fs::read_to_string(plots.join("learning_speed.svg")).unwrap();
    // Two layers, bias and weight panels, from epoch 0 to 3.
    let lines = svg_data_lines(&speed);
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.matches(',').count() == 4),
        "{lines:?}"
    );

    let out = nnc(&[
        "run",
        &large,
        "--epochs",
        "3",
        "--quiet",
        "--log",
        &log_large.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let logs = [
        log_small.display().to_string(),
        log_large.display().to_string(),
    ];
    let png = dir.join("compare.png");
    let out = nnc(&["plot", &logs[0], &logs[1], "-o", &png.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("wrote `{}`: validation_accuracy of 2 runs", png.display())
    );
    let (_, colours) = png_colours(&png);
    assert!(colours >= 2, "compare.png: {colours} line colours");

    let svg = dir.join("compare.svg");
    let out = nnc(&[
        "plot",
        &logs[0],
        &logs[1],
        "--metric",
        "train_cost",
        "-o",
        &svg.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let svg = std::fs::read_to_string(&svg).unwrap();
    let lines = svg_data_lines(&svg);
    assert_eq!(lines.len(), 2);
    let colours: BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l.split("stroke=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(colours.len(), 2);
    for text in [
        "Train cost per epoch: 2 runs",
        "batch_10",
        "batch_50",
        "epoch",
    ] {
        assert!(svg.contains(text), "no `{text}`");
    }

    let out = nnc(&["plot", &logs[0], "--metric", "nope", "-o", "x.png"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no log has the metric `nope`; the logs have: ")
            && stderr.contains("train_cost"),
        "{stderr}"
    );
}

#[test]
fn plot_usage_errors_name_the_file() {
    let dir = scratch("errors");
    let file = model_file(&dir, "m.nnet", 10);
    // A file where the plot folder should be: refused before training.
    let blocker = dir.join("plots");
    std::fs::write(&blocker, "").unwrap();
    let out = nnc(&[
        "run",
        &file,
        "--epochs",
        "1",
        "--quiet",
        "--plot",
        &blocker.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot create the plot folder `{}`",
            blocker.display()
        )),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "trained anyway: {}",
        text(&out.stdout)
    );

    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"epoch\": 1, \"train_cost\": 0.5}\nnot json\n").unwrap();
    let out = nnc(&["plot", &bad.display().to_string(), "-o", "x.png"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("`{}` line 2 is not a JSON object", bad.display())),
        "{}",
        text(&out.stderr)
    );
    let missing = dir.join("missing.jsonl");
    let out = nnc(&["plot", &missing.display().to_string(), "-o", "x.png"]);
    assert_eq!(out.status.code(), Some(2));
    let good = dir.join("good.jsonl");
    std::fs::write(&good, "{\"epoch\": 1, \"train_cost\": 0.5}\n").unwrap();
    let out = nnc(&["plot", &good.display().to_string(), "-o", "x.gif"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot tell the format of `x.gif`"),
        "{}",
        text(&out.stderr)
    );
}

/// A log without the metric drawn is named on stderr (it is left out of
/// the figure), and the others are drawn.
#[test]
fn plot_names_a_log_that_lacks_the_metric() {
    let dir = scratch("lacking");
    let with = dir.join("with.jsonl");
    let without = dir.join("without.jsonl");
    std::fs::write(
        &with,
        "{\"epoch\":1,\"train_cost\":0.5,\"validation_accuracy\":0.8}\n\
         {\"epoch\":2,\"train_cost\":0.4,\"validation_accuracy\":0.85}\n",
    )
    .unwrap();
    std::fs::write(
        &without,
        "{\"epoch\":1,\"train_cost\":0.6}\n{\"epoch\":2,\"train_cost\":0.5}\n",
    )
    .unwrap();
    let out_file = dir.join("figure.svg");
    let out = nnc(&[
        "plot",
        &with.display().to_string(),
        &without.display().to_string(),
        "-o",
        &out_file.display().to_string(),
        "--metric",
        "validation_accuracy",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr).replace(&dir.display().to_string(), "DIR");
    assert_eq!(
        stderr,
        "warning: `DIR/without.jsonl` has no `validation_accuracy`, so run `without` is not in \
         the figure\n"
    );
    assert!(text(&out.stdout).contains("validation_accuracy of 1 run"));
}
