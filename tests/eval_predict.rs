//! `nnc eval` and `nnc predict` on small classifiers trained in the test.
//!
//! Two models are trained once (in-process, on the JIT) and their weights
//! saved as checkpoints with `nnc_ckpt::save`, as `nnc run --checkpoint`
//! saves them:
//! - `blobs`: 4 x 4 grey pictures of three classes (a bright left band, a
//!   bright right band, a bright bottom band, on noise), read from IDX
//!   files with train, validation and test splits;
//! - `halves`: 8 x 8 grey PNG pictures in an image folder with the classes
//!   `left` and `right`, resized to 4 x 4 when loaded.
//!
//! The tests then run the `nnc` binary: `nnc eval` must report the
//! accuracy and cost training measured for the same split, with a
//! confusion matrix whose cells sum to the split and whose diagonal is the
//! correct count; `nnc predict` must give the same probabilities for one
//! example whether it comes as a PNG (grey or RGB), an IDX row or a CSV row,
//! probabilities that sum to 1, and classes that agree with `nnc eval`'s
//! correct count; bad inputs, missing weights and the weights of another
//! model must give clear errors and a non-zero exit, never a panic.

mod common;

use common::{gpu_available, nnc, scratch, Lcg};
use nnc_cli::driver::{self, Options};
use nnc_train::{Examples, Overrides, Schedule, Splits};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

const BLOBS: &str = r#"model blobs {
  input picture: [1, 4, 4]
  layers {
    flatten -> [16]
    dense(12, act: sigmoid)
    dense(3, act: softmax) -> [3]
  }
  cost log_likelihood
}

data bands {
  let train_file = idx("train-images.idx", labels: "train-labels.idx")
  train train_file[..240]
  validation train_file[240..]
  test idx("test-images.idx", labels: "test-labels.idx")
  scale 1 / 255
  labels one_hot(3)
}

train blobs on bands {
  optimizer sgd
  learning_rate 1.0
  batch_size 10
  epochs 6
  seed 5
}
"#;

const HALVES: &str = r#"model halves {
  input picture: [1, 4, 4]
  layers {
    flatten -> [16]
    dense(2, act: softmax) -> [2]
  }
  cost log_likelihood
}

data pictures {
  train folder("train", size: [1, 4, 4])
  test folder("test", size: [1, 4, 4])
  scale 1 / 255
  labels one_hot(2)
}

train halves on pictures {
  optimizer sgd
  learning_rate 1.0
  batch_size 10
  epochs 4
  seed 2
}
"#;

const POINTS: &str = r#"model points {
  input point: [2]
  layers {
    dense(3, act: softmax) -> [3]
  }
  cost log_likelihood
}

data clusters {
  let table = csv("points.csv", label: "cluster", header: true)
  train table[..150]
  test table[150..]
  labels one_hot(3)
}

train points on clusters {
  optimizer sgd
  learning_rate 0.5
  batch_size 10
  epochs 5
  seed 4
}
"#;

/// Writes `count` points around three centres as `dir/points.csv`
/// (columns `x`, `cluster`, `y`: the label in the middle); returns the
/// rows.
fn write_points(dir: &Path, count: usize, rng: &mut Lcg) -> Vec<[f64; 3]> {
    let centres = [(-2.0, 0.0), (2.0, 0.0), (0.0, 3.0)];
    let mut rows = Vec::new();
    let mut text = String::from("x,cluster,y\n");
    for i in 0..count {
        let class = i % 3;
        let (cx, cy) = centres[class];
        let jitter = |rng: &mut Lcg| f64::from(rng.range(0, 2000)) / 1000.0 - 1.0;
        let (x, y) = (cx + jitter(rng), cy + jitter(rng));
        text.push_str(&format!("{x},{class},{y}\n"));
        rows.push([x, class as f64, y]);
    }
    std::fs::write(dir.join("points.csv"), text).unwrap();
    rows
}

/// A 4 x 4 grey picture of class 0 (left band), 1 (right band) or 2
/// (bottom band): bright pixels in the band, dark ones elsewhere, both
/// noisy enough that a few pictures are hard.
fn band_picture(rng: &mut Lcg, class: u8) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(16);
    for y in 0..4 {
        for x in 0..4 {
            let bright = match class {
                0 => x < 2,
                1 => x >= 2,
                _ => y >= 2,
            };
            let value = if bright {
                rng.range(90, 256)
            } else {
                rng.range(0, 140)
            };
            pixels.push(value as u8);
        }
    }
    pixels
}

fn idx_file(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(values);
    out
}

/// Writes `count` pictures and their labels as IDX files `{stem}-images.idx`
/// and `{stem}-labels.idx`; returns the pictures and labels.
fn write_bands(dir: &Path, stem: &str, count: usize, rng: &mut Lcg) -> (Vec<Vec<u8>>, Vec<u8>) {
    let labels: Vec<u8> = (0..count).map(|i| (i % 3) as u8).collect();
    let pictures: Vec<Vec<u8>> = labels.iter().map(|c| band_picture(rng, *c)).collect();
    let flat: Vec<u8> = pictures.concat();
    std::fs::write(
        dir.join(format!("{stem}-images.idx")),
        idx_file(&[count as u32, 4, 4], &flat),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{stem}-labels.idx")),
        idx_file(&[count as u32], &labels),
    )
    .unwrap();
    (pictures, labels)
}

fn write_png(path: &Path, width: u32, height: u32, color: png::ColorType, pixels: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(pixels).unwrap();
}

/// An 8 x 8 grey picture whose left (`left`) or right half is bright.
fn half_picture(rng: &mut Lcg, left: bool) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(64);
    for _ in 0..8 {
        for x in 0..8 {
            let bright = (x < 4) == left;
            pixels.push(if bright {
                rng.range(150, 256)
            } else {
                rng.range(0, 100)
            } as u8);
        }
    }
    pixels
}

/// What training a model reported for its last epoch.
struct Trained {
    file: PathBuf,
    checkpoint: PathBuf,
    validation: Option<nnc_train::Score>,
    test: nnc_train::Score,
}

struct Fixture {
    dir: PathBuf,
    blobs: Trained,
    halves: Trained,
    points: Trained,
    /// The rows of `points.csv`: x, the class, y.
    point_rows: Vec<[f64; 3]>,
    /// The test pictures of `blobs` and their labels.
    test_pictures: Vec<Vec<u8>>,
    test_labels: Vec<u8>,
}

/// Trains the model of `file` on the JIT as `nnc run` would, and saves
/// its final weights as checkpoint `epoch-N` in `dir/checkpoints`.
fn train_and_save(file: &Path) -> Trained {
    let source = std::fs::read_to_string(file).unwrap();
    let base_dir = file.parent().unwrap();
    let report = driver::check_source(&source, base_dir, Options::default());
    assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
    let program = report.program.expect("a program");
    let spec = &program.trains[0];
    let model = program.model(&spec.model).unwrap();
    let data = program.data(&spec.data).unwrap();
    let loaded = nnc_data::load(data, base_dir, Some(model)).expect("the data loads");
    let schedule = Schedule::new(spec, Overrides::default());
    let mut backend = nnc_cpu::JitBackend::new();
    nnc_train::init_params(&mut backend, model, schedule.seed).unwrap();
    let train = loaded.train.as_ref().unwrap();
    let splits = Splits {
        train,
        validation: loaded.validation.as_ref().map(|d| d as &dyn Examples),
        test: loaded.test.as_ref().map(|d| d as &dyn Examples),
    };
    let result = nnc_train::train(
        &mut backend,
        model,
        &schedule,
        splits,
        &nnc_train::Options::default(),
        &mut nnc_train::Silent,
    )
    .expect("training runs");
    let last = result.last().expect("an epoch").clone();
    let sidecar = nnc_ckpt::Sidecar {
        format: nnc_ckpt::FORMAT,
        model_file: file.display().to_string(),
        model_hash: nnc_ckpt::hash_source(&source),
        model: model.name.clone(),
        backend: "jit".to_string(),
        epoch: last.epoch,
        step: 0,
        phase: last.phase,
        seed: schedule.seed,
        params: nnc_lower::param_specs(model)
            .into_iter()
            .map(|s| s.name)
            .collect(),
        state: Vec::new(),
        loop_state: Value::Null,
        metrics: Vec::new(),
        vocabulary: None,
    };
    use nnc_lower::backend::Backend;
    let checkpoint = nnc_ckpt::save(
        &base_dir.join("checkpoints"),
        &format!("epoch-{}", last.epoch),
        &sidecar,
        &backend.params(),
        &[],
    )
    .expect("the checkpoint is saved");
    Trained {
        file: file.to_path_buf(),
        checkpoint,
        validation: last.validation,
        test: last.test.expect("a test score"),
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = scratch("eval-predict", "fixture");
        let mut rng = Lcg(11);
        let blobs_dir = dir.join("blobs");
        std::fs::create_dir_all(&blobs_dir).unwrap();
        write_bands(&blobs_dir, "train", 300, &mut rng);
        let (test_pictures, test_labels) = write_bands(&blobs_dir, "test", 90, &mut rng);
        std::fs::write(blobs_dir.join("blobs.nnet"), BLOBS).unwrap();
        let blobs = train_and_save(&blobs_dir.join("blobs.nnet"));

        let halves_dir = dir.join("halves");
        for (split, count) in [("train", 40), ("test", 10)] {
            for (class, left) in [("left", true), ("right", false)] {
                let folder = halves_dir.join(split).join(class);
                std::fs::create_dir_all(&folder).unwrap();
                for i in 0..count {
                    let pixels = half_picture(&mut rng, left);
                    write_png(
                        &folder.join(format!("{i:02}.png")),
                        8,
                        8,
                        png::ColorType::Grayscale,
                        &pixels,
                    );
                }
            }
        }
        std::fs::write(halves_dir.join("halves.nnet"), HALVES).unwrap();
        let halves = train_and_save(&halves_dir.join("halves.nnet"));

        let points_dir = dir.join("points");
        std::fs::create_dir_all(&points_dir).unwrap();
        let point_rows = write_points(&points_dir, 180, &mut rng);
        std::fs::write(points_dir.join("points.nnet"), POINTS).unwrap();
        let points = train_and_save(&points_dir.join("points.nnet"));
        Fixture {
            dir,
            blobs,
            halves,
            points,
            point_rows,
            test_pictures,
            test_labels,
        }
    })
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn run(args: &[&str]) -> Output {
    let out = nnc(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "nnc panicked: {stderr}");
    out
}

fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr of a command that must fail with `code`.
fn failed(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

fn eval_json(trained: &Trained, extra: &[&str]) -> Value {
    let (file, weights) = (path(&trained.file), path(&trained.checkpoint));
    let mut args = vec!["eval", &file, "--weights", &weights, "--format", "json"];
    args.extend_from_slice(extra);
    let text = succeeded(&run(&args));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}")) as usize
}

/// Checks the confusion matrix of an eval report against its counts.
fn check_confusion(report: &Value, classes: usize) {
    let matrix: Vec<Vec<usize>> = report["confusion"]
        .as_array()
        .expect("a confusion matrix")
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(usize_of).collect())
        .collect();
    assert_eq!(matrix.len(), classes);
    assert!(matrix.iter().all(|row| row.len() == classes));
    let total: usize = matrix.iter().flatten().sum();
    let diagonal: usize = (0..classes).map(|i| matrix[i][i]).sum();
    assert_eq!(total, usize_of(&report["examples"]), "{report}");
    assert_eq!(diagonal, usize_of(&report["correct"]), "{report}");
    let accuracy = report["accuracy"].as_f64().unwrap();
    assert_close(diagonal as f64 / total as f64, accuracy);
}

/// Equal up to the last bit JSON's number parsing may lose.
fn assert_close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn eval_reports_what_training_measured_with_a_confusion_matrix() {
    let f = fixture();
    let blobs = &f.blobs;
    // Training learned: chance is a third.
    assert!(
        blobs.test.accuracy > 0.8,
        "test accuracy {}",
        blobs.test.accuracy
    );

    let test = eval_json(blobs, &[]);
    assert_eq!(test["split"], "test");
    assert_eq!(test["model"], "blobs");
    assert_eq!(usize_of(&test["examples"]), 90);
    assert_close(test["accuracy"].as_f64().unwrap(), blobs.test.accuracy);
    assert_eq!(
        usize_of(&test["correct"]) as f64 / 90.0,
        blobs.test.accuracy,
        "the correct count is the one training measured"
    );
    let cost = test["cost"].as_f64().unwrap();
    assert!(
        (cost - blobs.test.cost).abs() <= 1e-9 * blobs.test.cost.abs().max(1.0),
        "eval cost {cost}, training measured {}",
        blobs.test.cost
    );
    check_confusion(&test, 3);
    assert_eq!(test["classes"], serde_json::json!(["0", "1", "2"]));
    let recall = test["recall"].as_array().unwrap();
    assert!(recall
        .iter()
        .all(|r| (0.0..=1.0).contains(&r.as_f64().unwrap())));

    let validation = eval_json(blobs, &["--split", "validation"]);
    let measured = blobs.validation.clone().expect("a validation score");
    assert_eq!(usize_of(&validation["examples"]), 60);
    assert_close(validation["accuracy"].as_f64().unwrap(), measured.accuracy);
    check_confusion(&validation, 3);

    let train = eval_json(blobs, &["--split", "train"]);
    assert_eq!(usize_of(&train["examples"]), 240);
    check_confusion(&train, 3);

    // The interpreter agrees with the JIT to float rounding.
    let interp = eval_json(blobs, &["--backend", "interp"]);
    let interp_cost = interp["cost"].as_f64().unwrap();
    assert!((interp_cost - cost).abs() <= 1e-4 * cost.abs().max(1.0));
    let (a, b) = (usize_of(&interp["correct"]), usize_of(&test["correct"]));
    assert!(a.abs_diff(b) <= 1, "interp {a} correct, jit {b}");

    // The text output: cost, accuracy and an aligned matrix.
    let text = succeeded(&run(&[
        "eval",
        &path(&blobs.file),
        "--weights",
        &path(&blobs.checkpoint),
    ]));
    let correct = usize_of(&test["correct"]);
    assert!(
        text.contains(&format!(
            "accuracy  {:.2}% ({correct} of 90)",
            100.0 * blobs.test.accuracy
        )),
        "{text}"
    );
    assert!(text.contains(&format!("cost      {cost:.6}")), "{text}");
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("confusion matrix"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 5, "{text}");
    assert!(rows[0].starts_with("true \\ predicted") && rows[0].ends_with("recall"));
    assert!(rows[4].starts_with("precision"));
    // Every row's cells end in the same columns.
    let width = rows[1].len();
    assert!(rows[1..4].iter().all(|r| r.len() == width), "{text}");

    // The folder model names its classes.
    let halves = eval_json(&f.halves, &[]);
    assert_eq!(halves["classes"], serde_json::json!(["left", "right"]));
    assert_close(halves["accuracy"].as_f64().unwrap(), f.halves.test.accuracy);
    check_confusion(&halves, 2);
}

/// `nnc eval` and `nnc predict` run on every backend through the
/// `Backend` trait's inference entry point, and the backends agree: the
/// same cost to float rounding, the same correct count within one
/// example, the same probabilities to 1e-4.
#[test]
fn eval_and_predict_agree_on_every_backend() {
    let f = fixture();
    let blobs = &f.blobs;
    let idx = path(&f.dir.join("blobs").join("test-images.idx"));
    let jit = eval_json(blobs, &["--backend", "jit"]);
    assert_eq!(jit["backend"], "jit");
    let jit_cost = jit["cost"].as_f64().unwrap();
    let jit_predicted = predict_json(blobs, &[&idx, "--backend", "jit"]);
    assert_eq!(jit_predicted.len(), 90);
    let mut backends = vec!["interp"];
    if gpu_available("eval_and_predict_agree_on_every_backend") {
        backends.push("wgpu");
    }
    for backend in backends {
        let other = eval_json(blobs, &["--backend", backend]);
        assert_eq!(other["backend"], backend);
        let cost = other["cost"].as_f64().unwrap();
        assert!(
            (cost - jit_cost).abs() <= 1e-4 * jit_cost.abs().max(1.0),
            "{backend}: cost {cost}, jit {jit_cost}"
        );
        let (a, b) = (usize_of(&other["correct"]), usize_of(&jit["correct"]));
        assert!(a.abs_diff(b) <= 1, "{backend} {a} correct, jit {b}");
        let predicted = predict_json(blobs, &[&idx, "--backend", backend]);
        assert_eq!(predicted.len(), jit_predicted.len(), "{backend}");
        for (p, q) in predicted.iter().zip(&jit_predicted) {
            for (x, y) in probabilities(p).iter().zip(probabilities(q)) {
                assert!((x - y).abs() <= 1e-4, "{backend}: {p} against jit {q}");
            }
        }
    }
}

#[test]
fn eval_refuses_missing_splits_missing_weights_and_other_models() {
    let f = fixture();
    let (blobs_file, blobs_weights) = (path(&f.blobs.file), path(&f.blobs.checkpoint));
    let halves_file = path(&f.halves.file);

    // The folder data has no validation split.
    let out = run(&[
        "eval",
        &halves_file,
        "--weights",
        &path(&f.halves.checkpoint),
        "--split",
        "validation",
    ]);
    let stderr = failed(&out, 1);
    assert!(
        stderr.contains("the data `pictures` has no `validation` split; it has train, test"),
        "{stderr}"
    );

    // No such weights file.
    let missing = path(&f.dir.join("nowhere/epoch-9.safetensors"));
    let stderr = failed(&run(&["eval", &blobs_file, "--weights", &missing]), 2);
    assert!(
        stderr.contains(&format!("cannot find the weights `{missing}`")),
        "{stderr}"
    );

    // A damaged weights file.
    let damaged_dir = f.dir.join("damaged");
    std::fs::create_dir_all(&damaged_dir).unwrap();
    let weights = std::fs::read(&f.blobs.checkpoint).unwrap();
    let damaged = damaged_dir.join("epoch-6.safetensors");
    std::fs::write(&damaged, &weights[..weights.len() / 2]).unwrap();
    std::fs::copy(
        f.blobs.checkpoint.with_extension("json"),
        damaged.with_extension("json"),
    )
    .unwrap();
    let stderr = failed(
        &run(&["eval", &blobs_file, "--weights", &path(&damaged)]),
        1,
    );
    assert!(stderr.contains("cannot use the weights"), "{stderr}");

    // The weights of another model.
    let halves_weights = path(&f.halves.checkpoint);
    let stderr = failed(
        &run(&["eval", &blobs_file, "--weights", &halves_weights]),
        1,
    );
    assert!(
        stderr.contains("holds the weights of model `halves`")
            && stderr.contains("has no model `halves` (its models: `blobs`)"),
        "{stderr}"
    );

    // A model of the same name with other shapes.
    let wide = f.dir.join("blobs").join("wide.nnet");
    std::fs::write(&wide, BLOBS.replace("dense(12", "dense(20")).unwrap();
    let stderr = failed(
        &run(&["eval", &path(&wide), "--weights", &blobs_weights]),
        1,
    );
    assert!(
        stderr.contains("does not fit model `blobs`") && stderr.contains("[20, 16]"),
        "{stderr}"
    );

    // A changed source whose parameters still fit: a warning only.
    let changed = f.dir.join("blobs").join("changed.nnet");
    std::fs::write(&changed, format!("// A comment.\n{BLOBS}")).unwrap();
    let out = run(&[
        "eval",
        &path(&changed),
        "--weights",
        &blobs_weights,
        "--format",
        "json",
    ]);
    succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("is not the source the checkpoint"),
        "{stderr}"
    );

    // The checkpoint's folder picks its newest checkpoint.
    let folder = path(f.blobs.checkpoint.parent().unwrap());
    succeeded(&run(&["eval", &blobs_file, "--weights", &folder]));
}

/// The JSON predictions of `inputs`.
fn predict_json(trained: &Trained, inputs: &[&str]) -> Vec<Value> {
    let (file, weights) = (path(&trained.file), path(&trained.checkpoint));
    let mut args = vec!["predict", &file, "--weights", &weights, "--format", "json"];
    args.extend_from_slice(inputs);
    let text = succeeded(&run(&args));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    value.as_array().expect("an array").clone()
}

fn probabilities(prediction: &Value) -> Vec<f64> {
    prediction["probabilities"]
        .as_array()
        .expect("probabilities")
        .iter()
        .map(|p| p.as_f64().unwrap())
        .collect()
}

#[test]
fn predict_reads_png_idx_and_csv_inputs_alike() {
    let f = fixture();
    let dir = f.dir.join("blobs").join("inputs");
    std::fs::create_dir_all(&dir).unwrap();
    let blobs_dir = f.dir.join("blobs");

    // Every test picture through its IDX file: the classes agree with the
    // correct count of `nnc eval`.
    let from_idx = predict_json(&f.blobs, &[&path(&blobs_dir.join("test-images.idx"))]);
    assert_eq!(from_idx.len(), 90);
    let right = from_idx
        .iter()
        .zip(&f.test_labels)
        .filter(|(p, label)| usize_of(&p["class"]) == usize::from(**label))
        .count();
    let eval = eval_json(&f.blobs, &[]);
    assert_eq!(right, usize_of(&eval["correct"]));
    for (i, p) in from_idx.iter().enumerate() {
        assert_eq!(usize_of(&p["index"]), i);
        let probs = probabilities(p);
        assert_eq!(probs.len(), 3);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{p}");
        let best = (0..3)
            .max_by(|a, b| probs[*a].total_cmp(&probs[*b]))
            .unwrap();
        assert_eq!(best, usize_of(&p["class"]));
    }

    // The first three pictures as grey and RGB PNGs and as CSV rows (with
    // and without a header) give the same probabilities.
    let mut inputs = Vec::new();
    let mut csv = String::new();
    let mut csv_header = (0..16)
        .map(|i| format!("p{i}"))
        .collect::<Vec<_>>()
        .join(",");
    csv_header.push('\n');
    for (i, picture) in f.test_pictures.iter().take(3).enumerate() {
        let grey = dir.join(format!("grey{i}.png"));
        write_png(&grey, 4, 4, png::ColorType::Grayscale, picture);
        let rgb = dir.join(format!("rgb{i}.png"));
        let triples: Vec<u8> = picture.iter().flat_map(|v| [*v, *v, *v]).collect();
        write_png(&rgb, 4, 4, png::ColorType::Rgb, &triples);
        inputs.push(path(&grey));
        inputs.push(path(&rgb));
        let row: Vec<String> = picture.iter().map(u8::to_string).collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    let plain = dir.join("rows.csv");
    std::fs::write(&plain, &csv).unwrap();
    let headed = dir.join("headed.csv");
    std::fs::write(&headed, format!("{csv_header}{csv}")).unwrap();
    inputs.push(path(&plain));
    inputs.push(path(&headed));
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let predictions = predict_json(&f.blobs, &refs);
    assert_eq!(predictions.len(), 6 + 3 + 3);
    let same = |a: &Value, b: &Value| {
        let (pa, pb) = (probabilities(a), probabilities(b));
        assert!(
            pa.iter().zip(&pb).all(|(x, y)| (x - y).abs() < 1e-6),
            "{a} differs from {b}"
        );
        assert_eq!(a["class"], b["class"]);
    };
    for i in 0..3 {
        let reference = &from_idx[i];
        same(&predictions[2 * i], reference);
        same(&predictions[2 * i + 1], reference);
        same(&predictions[6 + i], reference);
        same(&predictions[9 + i], reference);
        assert_eq!(usize_of(&predictions[6 + i]["index"]), i);
        assert_eq!(predictions[2 * i]["input"], inputs[2 * i].as_str());
    }

    // The text output lists the top classes, most probable first.
    let text = succeeded(&run(&[
        "predict",
        &path(&f.blobs.file),
        "--weights",
        &path(&f.blobs.checkpoint),
        "--top",
        "2",
        &inputs[0],
        &path(&plain),
    ]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    let class = usize_of(&from_idx[0]["class"]);
    let first = format!("{}: {class} ", inputs[0]);
    assert!(lines[0].starts_with(&first), "{text}");
    assert_eq!(lines[0].matches('%').count(), 2, "{text}");
    assert!(
        lines[1].starts_with(&format!("{}[0]: {class} ", path(&plain))),
        "{text}"
    );
}

#[test]
fn predict_names_the_classes_of_an_image_folder() {
    let f = fixture();
    let dir = f.dir.join("halves").join("inputs");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Lcg(99);
    let left = dir.join("left.png");
    write_png(
        &left,
        8,
        8,
        png::ColorType::Grayscale,
        &half_picture(&mut rng, true),
    );
    // A larger colour picture is converted and resized as training
    // pictures were.
    let right = dir.join("right.png");
    let mut pixels = Vec::new();
    for _ in 0..16 {
        for x in 0..16 {
            let v: u8 = if x >= 8 { 230 } else { 20 };
            pixels.extend([v, v / 2, v]);
        }
    }
    write_png(&right, 16, 16, png::ColorType::Rgb, &pixels);
    let predictions = predict_json(&f.halves, &[&path(&left), &path(&right)]);
    assert_eq!(predictions[0]["class_name"], "left");
    assert_eq!(predictions[0]["class"], 0);
    assert_eq!(predictions[1]["class_name"], "right");
    for p in &predictions {
        assert!((probabilities(p).iter().sum::<f64>() - 1.0).abs() < 1e-5);
    }
    let text = succeeded(&run(&[
        "predict",
        &path(&f.halves.file),
        "--weights",
        &path(&f.halves.checkpoint),
        &path(&left),
    ]));
    assert!(
        text.starts_with(&format!("{}: left ", path(&left))),
        "{text}"
    );
}

#[test]
fn predict_rejects_inputs_it_cannot_use() {
    let f = fixture();
    let dir = f.dir.join("blobs").join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let (file, weights) = (path(&f.blobs.file), path(&f.blobs.checkpoint));
    let predict = |inputs: &[&str]| {
        let mut args = vec!["predict", file.as_str(), "--weights", weights.as_str()];
        args.extend_from_slice(inputs);
        run(&args)
    };

    let small = dir.join("small.png");
    write_png(&small, 5, 5, png::ColorType::Grayscale, &[128; 25]);
    let stderr = failed(&predict(&[&path(&small)]), 1);
    assert!(
        stderr.contains(&format!("`{}` is an image of shape [5, 5]", path(&small)))
            && stderr.contains("model `blobs` wants input [1, 4, 4]"),
        "{stderr}"
    );

    let idx = dir.join("nine.idx");
    std::fs::write(&idx, idx_file(&[2, 3, 3], &[7; 18])).unwrap();
    let stderr = failed(&predict(&[&path(&idx)]), 1);
    assert!(
        stderr.contains(&format!("`{}` holds examples of shape [3, 3]", path(&idx)))
            && stderr.contains("[1, 4, 4]"),
        "{stderr}"
    );

    let csv = dir.join("ten.csv");
    std::fs::write(&csv, "1,2,3,4,5,6,7,8,9,10\n").unwrap();
    let stderr = failed(&predict(&[&path(&csv)]), 1);
    assert!(
        stderr.contains(&format!("`{}` has rows of 10 values", path(&csv)))
            && stderr.contains("16 features"),
        "{stderr}"
    );

    let text = dir.join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let stderr = failed(&predict(&[&path(&text)]), 2);
    assert!(stderr.contains("cannot tell what"), "{stderr}");

    let fake = dir.join("fake.png");
    std::fs::write(&fake, "not a picture").unwrap();
    let stderr = failed(&predict(&[&path(&fake)]), 1);
    assert!(stderr.contains("neither a PNG nor a JPEG"), "{stderr}");

    let missing = path(&dir.join("missing.png"));
    let stderr = failed(&predict(&[&missing]), 2);
    assert!(
        stderr.contains(&format!("cannot find the input `{missing}`")),
        "{stderr}"
    );

    // Every bad input is named, and nothing is printed.
    let out = predict(&[&path(&small), &path(&csv)]);
    let stderr = failed(&out, 1);
    assert!(out.stdout.is_empty());
    assert!(stderr.contains("2 of 2 inputs cannot be used"), "{stderr}");

    // Weights of another model.
    let stderr = failed(
        &run(&[
            "predict",
            &file,
            "--weights",
            &path(&f.halves.checkpoint),
            &path(&small),
        ]),
        1,
    );
    assert!(
        stderr.contains("holds the weights of model `halves`"),
        "{stderr}"
    );
}

#[test]
fn predict_leaves_out_the_label_column_of_the_training_csv() {
    let f = fixture();
    let points_dir = f.dir.join("points");
    // The training table itself: its `cluster` column is found by name in
    // the header and left out.
    let from_table = predict_json(&f.points, &[&path(&points_dir.join("points.csv"))]);
    assert_eq!(from_table.len(), f.point_rows.len());
    // The same points without the label and without a header.
    let features: String = f
        .point_rows
        .iter()
        .map(|[x, _, y]| format!("{x},{y}\n"))
        .collect();
    let bare = points_dir.join("bare.csv");
    std::fs::write(&bare, features).unwrap();
    let from_bare = predict_json(&f.points, &[&path(&bare)]);
    for (a, b) in from_table.iter().zip(&from_bare) {
        assert_eq!(a["class"], b["class"]);
        assert_eq!(a["probabilities"], b["probabilities"]);
    }
    // The test rows' classes agree with the correct count of `nnc eval`.
    let eval = eval_json(&f.points, &[]);
    let right = from_table[150..]
        .iter()
        .zip(&f.point_rows[150..])
        .filter(|(p, row)| usize_of(&p["class"]) as f64 == row[1])
        .count();
    assert_eq!(right, usize_of(&eval["correct"]));
    assert!(f.points.test.accuracy > 0.9, "{}", f.points.test.accuracy);
    check_confusion(&eval, 3);
}

#[test]
fn eval_agrees_with_the_log_of_nnc_run_on_its_checkpoints() {
    let f = fixture();
    // A copy of the file, so that this run's checkpoints stay apart.
    let dir = f.dir.join("blobs");
    let file = dir.join("logged.nnet");
    std::fs::write(&file, BLOBS).unwrap();
    let (checkpoints, log) = (dir.join("logged-checkpoints"), dir.join("logged.jsonl"));
    succeeded(&run(&[
        "run",
        &path(&file),
        "--quiet",
        "--checkpoint",
        &path(&checkpoints),
        "--log",
        &path(&log),
    ]));
    let text = std::fs::read_to_string(&log).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().expect("a logged epoch")).unwrap();
    // The folder stands for its newest checkpoint: the last epoch's.
    let trained = Trained {
        file: file.clone(),
        checkpoint: checkpoints,
        validation: None,
        test: nnc_train::Score {
            accuracy: last["test_accuracy"].as_f64().unwrap(),
            cost: last["test_cost"].as_f64().unwrap(),
            count: 90,
            measures: Vec::new(),
            terms: Vec::new(),
        },
    };
    let eval = eval_json(&trained, &[]);
    assert_eq!(eval["epoch"], last["epoch"]);
    assert_close(eval["accuracy"].as_f64().unwrap(), trained.test.accuracy);
    let cost = eval["cost"].as_f64().unwrap();
    assert!(
        (cost - trained.test.cost).abs() <= 1e-9 * trained.test.cost.max(1.0),
        "eval cost {cost}, the log says {}",
        trained.test.cost
    );
    let validation = eval_json(&trained, &["--split", "validation"]);
    assert_close(
        validation["accuracy"].as_f64().unwrap(),
        last["validation_accuracy"].as_f64().unwrap(),
    );
}

/// `nnc predict` on CSV rows of a regression model of one, two and five
/// features: rows of the features alone, with or without a header, and
/// rows with the label column (found by its header name) give the same
/// outputs; a one-feature model takes one-column rows.
#[test]
fn predict_reads_csv_rows_of_one_two_and_many_features() {
    let f = fixture();
    for features in [1usize, 2, 5] {
        let dir = f.dir.join(format!("regression-{features}"));
        std::fs::create_dir_all(&dir).unwrap();
        let names: Vec<String> = (0..features).map(|i| format!("x{i}")).collect();
        let mut rng = Lcg(7 + features as u64);
        let mut table = format!("{},y\n", names.join(","));
        let mut rows = Vec::new();
        for _ in 0..120 {
            let xs: Vec<f64> = (0..features)
                .map(|_| f64::from(rng.range(0, 10_000)) / 10_000.0)
                .collect();
            let y: f64 = 1.0
                + xs.iter()
                    .enumerate()
                    .map(|(i, x)| (i + 1) as f64 * x)
                    .sum::<f64>();
            let cells: Vec<String> = xs.iter().map(|x| format!("{x:.4}")).collect();
            table.push_str(&format!("{},{y:.4}\n", cells.join(",")));
            rows.push(cells);
        }
        std::fs::write(dir.join("train.csv"), &table).unwrap();
        let file = dir.join("reg.nnet");
        std::fs::write(
            &file,
            format!(
                "model reg {{\n  input x: [{features}]\n  layers {{ dense(1) }}\n  cost quadratic\n}}\n\
                 data table {{\n  train csv(\"train.csv\", label: \"y\", header: true)\n  labels value\n}}\n\
                 train reg on table {{\n  optimizer sgd\n  learning_rate 0.1\n  batch_size 10\n  epochs 2\n}}\n"
            ),
        )
        .unwrap();
        let ckpt = dir.join("ckpt");
        succeeded(&run(&[
            "run",
            &path(&file),
            "--quiet",
            "--checkpoint",
            &path(&ckpt),
            "--overwrite",
        ]));
        let bare: String = rows.iter().map(|r| r.join(",") + "\n").collect();
        let forms = [
            ("bare.csv", bare.clone()),
            ("header.csv", format!("{}\n{bare}", names.join(","))),
            ("labelled.csv", table.clone()),
        ];
        let mut outputs: Vec<Vec<Value>> = Vec::new();
        for (name, text) in forms {
            let input = dir.join(name);
            std::fs::write(&input, text).unwrap();
            let out = succeeded(&run(&[
                "predict",
                &path(&file),
                "--weights",
                &path(&ckpt),
                &path(&input),
                "--format",
                "json",
            ]));
            let doc: Value = serde_json::from_str(&out).unwrap();
            let values: Vec<Value> = doc
                .as_array()
                .expect("an array")
                .iter()
                .map(|p| p["outputs"].clone())
                .collect();
            assert_eq!(values.len(), 120, "{features} features, {name}");
            outputs.push(values);
        }
        assert_eq!(outputs[0], outputs[1], "{features} features: header");
        assert_eq!(outputs[0], outputs[2], "{features} features: label column");
    }
}

/// `nnc eval --top-k`: the share of examples whose class is among the K
/// largest outputs; top-1 is the accuracy, and with as many as the
/// classes, every example.
#[test]
fn eval_reports_top_k_accuracies() {
    let f = fixture();
    let report = eval_json(&f.blobs, &["--top-k", "1", "--top-k", "2", "--top-k", "3"]);
    let accuracy = report["accuracy"].as_f64().unwrap();
    let top = |k: u32| report[format!("top{k}_accuracy")].as_f64().unwrap();
    assert_eq!(top(1), accuracy);
    assert!(top(2) >= top(1) && top(2) <= 1.0, "{report}");
    assert_eq!(top(3), 1.0);
    let (file, weights) = (path(&f.blobs.file), path(&f.blobs.checkpoint));
    let text = succeeded(&run(&[
        "eval",
        &file,
        "--weights",
        &weights,
        "--top-k",
        "2",
    ]));
    assert!(
        text.contains(&format!("top-2     {:.2}%\n", 100.0 * top(2))),
        "{text}"
    );
}

/// A regression run reports the cost, RMSE and R² of each evaluation split
/// by default (MAE when asked), in the epoch line and the log, and `nnc
/// eval` gives the same MAE, RMSE and R² for the saved weights. The RMSE
/// read from the outputs agrees with the backend's cost (½ the squared
/// error), and a linear target is learnt (R² near 1).
#[test]
fn regression_runs_report_rmse_and_r2_and_eval_agrees() {
    let f = fixture();
    let dir = f.dir.join("regression-metrics");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Lcg(31);
    let mut table = String::from("x,y\n");
    for _ in 0..160 {
        let x = f64::from(rng.range(0, 10_000)) / 10_000.0;
        let noise = (f64::from(rng.range(0, 1000)) / 1000.0 - 0.5) * 0.1;
        table.push_str(&format!("{x:.4},{:.4}\n", 1.0 + 2.0 * x + noise));
    }
    std::fs::write(dir.join("line.csv"), &table).unwrap();
    let file = dir.join("line.nnet");
    std::fs::write(
        &file,
        "model line {\n  input x: [1]\n  layers { dense(1) }\n  cost quadratic\n}\n\
         data table {\n  let rows = csv(\"line.csv\", label: \"y\", header: true)\n  \
         train rows[..120]\n  validation rows[120..]\n  labels value\n}\n\
         train line on table {\n  optimizer adam\n  learning_rate 0.05\n  batch_size 10\n  \
         epochs 40\n  seed 3\n  metrics [validation_cost, validation_rmse, validation_r2, validation_mae]\n}\n",
    )
    .unwrap();
    let (log, ckpt) = (dir.join("run.jsonl"), dir.join("ckpt"));
    let out = run(&[
        "run",
        &path(&file),
        "--log",
        &path(&log),
        "--checkpoint",
        &path(&ckpt),
        "--keep",
        "1",
    ]);
    let stdout = succeeded(&out);
    let last_line = stdout.lines().rfind(|l| l.starts_with("epoch 40")).unwrap();
    assert!(
        last_line.contains("validation cost ")
            && last_line.contains(" rmse ")
            && last_line.contains(" r2 ")
            && last_line.contains(" mae "),
        "{last_line}"
    );
    let records: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = records.last().unwrap();
    let get = |key: &str| {
        last[key]
            .as_f64()
            .unwrap_or_else(|| panic!("no {key}: {last}"))
    };
    assert!(last.get("validation_accuracy").is_none());
    let (cost, rmse, r2, mae) = (
        get("validation_cost"),
        get("validation_rmse"),
        get("validation_r2"),
        get("validation_mae"),
    );
    assert!(
        (rmse - (2.0 * cost).sqrt()).abs() < 1e-5,
        "{rmse} vs cost {cost}"
    );
    assert!(mae <= rmse + 1e-12 && mae > 0.0, "{mae} {rmse}");
    assert!(r2 > 0.95, "a line with small noise is learnt: R² {r2}");
    let first_r2 = records[0]["validation_r2"].as_f64().unwrap();
    assert!(first_r2 < r2, "{first_r2} -> {r2}");

    let weights = ckpt.join("epoch-0040.safetensors");
    let report = {
        let text = succeeded(&run(&[
            "eval",
            &path(&file),
            "--weights",
            &path(&weights),
            "--split",
            "validation",
            "--format",
            "json",
        ]));
        serde_json::from_str::<Value>(&text).unwrap()
    };
    for (key, logged) in [("rmse", rmse), ("r2", r2), ("mae", mae)] {
        let measured = report[key].as_f64().unwrap();
        assert!(
            (measured - logged).abs() < 1e-6,
            "{key}: {measured} vs {logged}"
        );
    }
    let refused = run(&[
        "eval",
        &path(&file),
        "--weights",
        &path(&weights),
        "--top-k",
        "2",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("`--top-k` measures classifiers"));
}

/// `--corrupt` measures a model that rebuilds its input from corrupted
/// copies: a classifier is refused (a usage error naming why, nothing on
/// stdout), and so is a corruption that is not `mask(P)` or `gaussian(S)`.
#[test]
fn eval_refuses_corrupt_for_a_classifier_and_bad_corruptions() {
    let f = fixture();
    let (file, weights) = (path(&f.blobs.file), path(&f.blobs.checkpoint));
    let out = run(&[
        "eval",
        &file,
        "--weights",
        &weights,
        "--corrupt",
        "mask(0.3)",
    ]);
    let stderr = failed(&out, 2);
    assert!(
        stderr.contains("`--corrupt mask(0.3)` measures how a model rebuilds its clean inputs")
            && stderr.contains("model `blobs` does not reconstruct its input")
            && stderr.contains("its cost compares an output with the data's labels"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    for (bad, says) in [
        ("mask(1.5)", "must be a number from 0 to 1, not `1.5`"),
        ("gaussian(-1)", "must be a number of at least 0, not `-1`"),
        ("blur(2)", "unknown corruption `blur`"),
        ("mask", "write `mask(P)`"),
    ] {
        let out = run(&["eval", &file, "--weights", &weights, "--corrupt", bad]);
        let stderr = failed(&out, 2);
        assert!(stderr.contains(says), "{bad}: {stderr}");
    }
}
