//! `nnc run --checkpoint DIR [--keep N] [--resume CKPT] [--force]`, end to
//! end: a small classifier with dropout, trained with Adam and then
//! momentum (so optimizer state and step seeds both matter), under a
//! plateau decay (so the loop's counters matter), on two clusters of points
//! made here as CSV.
//!
//! - A run resumed from an epoch's checkpoint logs the very records of the
//!   uninterrupted run (timings aside), on the JIT and on the interpreter,
//!   and ends with the same weights.
//! - A real SIGINT stops a run after a step, with exit status 130 and the
//!   command line that resumes it; that command finishes the run as if it
//!   had never stopped.
//! - A changed model file is refused, and accepted with `--force`; a
//!   damaged checkpoint is a clear error; a diverging run keeps its last
//!   good checkpoint and says how to resume from it.

mod common;

use common::{nnc, text};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    common::scratch("checkpoint", name)
}

/// Writes the data (`train` training points) and the model file; returns
/// the file's path. `extra` goes into the train block.
fn model_file(dir: &Path, train: usize, epochs: usize, extra: &str) -> String {
    for (split, count, seed) in [("train", train, 1), ("validation", 60, 2), ("test", 60, 3)] {
        std::fs::write(
            dir.join(format!("{split}.csv")),
            common::points_csv(count, seed, 2.0),
        )
        .unwrap();
    }
    let source = format!(
        r#"model blobs {{
  input x: [2]
  layers {{
    dense(16, act: relu)
    dropout(0.3)
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
  optimizer adam
  learning_rate 0.01
  batch_size 10
  epochs {epochs}
  seed 5
  at epoch 3 {{ optimizer momentum(0.9)  learning_rate 0.05 }}
  decay on_plateau(metric: validation_accuracy, factor: 0.5, patience: 1)
{extra}
}}
"#
    );
    let path = dir.join("blobs.nnet");
    std::fs::write(&path, source).unwrap();
    path.display().to_string()
}

fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The records without their timings.
fn untimed(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let map = r.as_object_mut().unwrap();
            for key in ["seconds", "train_seconds", "examples_per_second"] {
                map.remove(key);
            }
            r
        })
        .collect()
}

fn path_str(path: &Path) -> String {
    path.display().to_string()
}

fn run(args: &[&str]) -> Output {
    let out = nnc(args);
    assert!(
        !text(&out.stderr).contains("panicked"),
        "{}",
        text(&out.stderr)
    );
    out
}

fn assert_ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The file names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn resume_equals_uninterrupted(backend: &str) {
    let dir = scratch(&format!("resume-{backend}"));
    let file = model_file(&dir, 200, 4, "");
    let full_dir = dir.join("full");
    let full_log = dir.join("full.jsonl");
    let out = run(&[
        "run",
        &file,
        "--backend",
        backend,
        "--quiet",
        "--checkpoint",
        &path_str(&full_dir),
        "--log",
        &path_str(&full_log),
    ]);
    assert_ok(&out);
    let full = read_log(&full_log);
    assert_eq!(full.len(), 4);
    assert_eq!(
        names(&full_dir),
        [
            "epoch-0001.json",
            "epoch-0001.safetensors",
            "epoch-0002.json",
            "epoch-0002.safetensors",
            "epoch-0003.json",
            "epoch-0003.safetensors",
            "epoch-0004.json",
            "epoch-0004.safetensors"
        ]
    );
    // The checkpoint holds Adam's state in phase 1, momentum's in phase 2.
    let adam = nnc_ckpt::load(&full_dir.join("epoch-0002.safetensors")).unwrap();
    assert!(adam.sidecar.state.contains(&"adam.step".to_string()));
    assert_eq!(
        adam.state.last().unwrap().data,
        [40.0],
        "2 epochs of 20 steps"
    );
    assert_eq!(adam.sidecar.metrics, full[..2]);
    assert_eq!(adam.sidecar.backend, backend);

    // Resumed at the end of epoch 2 (Adam's moments carried over, then the
    // phase change to momentum) and of epoch 3 (velocities carried over).
    for at in [2, 3] {
        let resumed_dir = dir.join(format!("resumed-{at}"));
        let resumed_log = dir.join(format!("resumed-{at}.jsonl"));
        let checkpoint = full_dir.join(format!("epoch-{at:04}.safetensors"));
        let out = run(&[
            "run",
            &file,
            "--backend",
            backend,
            "--resume",
            &path_str(&checkpoint),
            "--checkpoint",
            &path_str(&resumed_dir),
            "--log",
            &path_str(&resumed_log),
        ]);
        assert_ok(&out);
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with(&format!("epoch {}", at + 1)), "{stdout}");
        let resumed = read_log(&resumed_log);
        assert_eq!(
            untimed(&resumed),
            untimed(&full),
            "resumed after epoch {at}"
        );
        let a = nnc_ckpt::load(&full_dir.join("epoch-0004.safetensors")).unwrap();
        let b = nnc_ckpt::load(&resumed_dir.join("epoch-0004.safetensors")).unwrap();
        assert_eq!(a.params, b.params, "the final weights");
        assert_eq!(a.state, b.state, "the final optimizer state");
    }
    // The records differ from epoch to epoch (the test compares something).
    assert_ne!(full[2]["train_cost"], full[3]["train_cost"]);
}

#[test]
fn a_resumed_run_ends_as_the_uninterrupted_run_on_the_jit() {
    resume_equals_uninterrupted("jit");
}

#[test]
fn a_resumed_run_ends_as_the_uninterrupted_run_on_the_interpreter() {
    resume_equals_uninterrupted("interp");
}

/// On wgpu too, where parameters and optimizer state live in device
/// buffers (lavapipe in CI). Skipped without a device, unless
/// `NNC_REQUIRE_GPU=1` demands one.
#[test]
fn a_resumed_run_ends_as_the_uninterrupted_run_on_wgpu() {
    if let Err(error) = nnc_gpu::Gpu::acquire() {
        assert!(
            !std::env::var("NNC_REQUIRE_GPU").is_ok_and(|v| v == "1"),
            "NNC_REQUIRE_GPU=1 but no GPU device could be opened: {error}"
        );
        let line =
            format!("SKIPPED a_resumed_run_ends_as_the_uninterrupted_run_on_wgpu: {error}\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        return;
    }
    resume_equals_uninterrupted("wgpu");
}

#[test]
fn keep_prunes_to_the_newest_checkpoints() {
    let dir = scratch("keep");
    let file = model_file(&dir, 40, 4, "");
    let ckpt = dir.join("ckpt");
    let out = run(&[
        "run",
        &file,
        "--quiet",
        "--checkpoint",
        &path_str(&ckpt),
        "--keep",
        "2",
    ]);
    assert_ok(&out);
    assert_eq!(
        names(&ckpt),
        [
            "epoch-0003.json",
            "epoch-0003.safetensors",
            "epoch-0004.json",
            "epoch-0004.safetensors"
        ]
    );
    // Resuming a finished run (the directory: its newest) trains nothing.
    let out = run(&["run", &file, "--quiet", "--resume", &path_str(&ckpt)]);
    assert_ok(&out);
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
}

#[test]
fn a_changed_model_is_refused_unless_forced() {
    let dir = scratch("changed");
    let file = model_file(&dir, 40, 4, "");
    let ckpt = dir.join("ckpt");
    assert_ok(&run(&[
        "run",
        &file,
        "--quiet",
        "--epochs",
        "1",
        "--checkpoint",
        &path_str(&ckpt),
    ]));
    let saved_hash = nnc_ckpt::hash_source(&std::fs::read_to_string(&file).unwrap());
    // A comment changes the text, not the shapes.
    let changed = std::fs::read_to_string(&file).unwrap() + "// tuned\n";
    std::fs::write(&file, &changed).unwrap();
    let new_hash = nnc_ckpt::hash_source(&changed);
    let checkpoint = path_str(&ckpt.join("epoch-0001.safetensors"));

    let out = run(&["run", &file, "--quiet", "--resume", &checkpoint]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("has changed since checkpoint"), "{stderr}");
    assert!(stderr.contains(&saved_hash), "{stderr}");
    assert!(stderr.contains(&new_hash), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(text(&out.stdout).is_empty());

    let out = run(&["run", &file, "--resume", &checkpoint, "--force"]);
    assert_ok(&out);
    assert!(
        text(&out.stderr).contains("warning: the model file"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("epoch 2"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_damaged_checkpoint_is_a_clear_error() {
    let dir = scratch("damaged");
    let file = model_file(&dir, 40, 4, "");
    let ckpt = dir.join("ckpt");
    assert_ok(&run(&[
        "run",
        &file,
        "--quiet",
        "--epochs",
        "1",
        "--checkpoint",
        &path_str(&ckpt),
    ]));
    let weights = ckpt.join("epoch-0001.safetensors");
    let bytes = std::fs::read(&weights).unwrap();

    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&["run", &file, "--resume", &path_str(&weights)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&path_str(&weights)), "{stderr}");
    assert!(stderr.contains("is not a valid checkpoint"), "{stderr}");

    std::fs::write(&weights, &bytes).unwrap();
    let sidecar = ckpt.join("epoch-0001.json");
    std::fs::write(&sidecar, "{ not json").unwrap();
    let out = run(&["run", &file, "--resume", &path_str(&weights)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&path_str(&sidecar)), "{stderr}");
    assert!(stderr.contains("not valid JSON"), "{stderr}");

    std::fs::remove_file(&sidecar).unwrap();
    let out = run(&["run", &file, "--resume", &path_str(&weights)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("the sidecar is missing"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_diverging_run_keeps_its_last_good_checkpoint() {
    let dir = scratch("diverging");
    // Epoch 5 trains with a learning rate that blows the weights up.
    let file = model_file(&dir, 40, 6, "  at epoch 5 { learning_rate 1e30 }");
    let ckpt = dir.join("ckpt");
    let out = run(&["run", &file, "--quiet", "--checkpoint", &path_str(&ckpt)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    let last_good = ckpt.join("epoch-0004.safetensors");
    assert!(stderr.contains("training diverged"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the last good checkpoint is `{}`",
            last_good.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--resume"), "{stderr}");
    assert!(
        !names(&ckpt).iter().any(|n| n.starts_with("epoch-0005")),
        "{:?}",
        names(&ckpt)
    );
    let good = nnc_ckpt::load(&last_good).unwrap();
    assert!(good
        .params
        .iter()
        .all(|t| t.data.iter().all(|v| v.is_finite())));
}

/// Starts `nnc run` with `args` as a child process, from the workspace
/// root, with its output captured.
fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_nnc"))
        .args(args)
        .current_dir(common::root())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nnc starts")
}

#[test]
fn sigint_saves_a_checkpoint_and_the_printed_command_resumes_the_run() {
    let dir = scratch("sigint");
    // Epochs of 3,000 steps: the signal lands inside one.
    let file = model_file(&dir, 30_000, 8, "");
    let ckpt = dir.join("ckpt");
    let log = dir.join("run.jsonl");
    let args = [
        "run",
        &file,
        "--backend",
        "interp",
        "--quiet",
        "--checkpoint",
        &path_str(&ckpt),
        "--log",
        &path_str(&log),
    ];
    let child = spawn(&args);
    // Interrupt once the first epoch is saved: the run is then training.
    let started = Instant::now();
    while !ckpt.join("epoch-0001.json").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: `kill` only sends a signal to the child started above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let command = stderr
        .lines()
        .skip_while(|l| !l.starts_with("resume the run with:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no resume command in: {stderr}"))
        .trim()
        .to_string();
    let newest = nnc_ckpt::load(&ckpt).unwrap();
    assert!(
        command.ends_with(&format!("--resume {}", newest.path.display())),
        "{command}"
    );
    assert!(newest.sidecar.epoch < 8, "the run was cut short");
    eprintln!(
        "interrupted at epoch {}, step {}",
        newest.sidecar.epoch, newest.sidecar.step
    );

    // The printed command finishes the run.
    let words: Vec<&str> = command.split_whitespace().collect();
    let out = Command::new(words[0])
        .args(&words[1..])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert_ok(&out);
    let resumed = read_log(&log);

    let whole_log = dir.join("whole.jsonl");
    let out = run(&[
        "run",
        &file,
        "--backend",
        "interp",
        "--quiet",
        "--log",
        &path_str(&whole_log),
    ]);
    assert_ok(&out);
    assert_eq!(untimed(&resumed), untimed(&read_log(&whole_log)));
}

/// `stderr` with the scratch folder written as `DIR` and process ids as
/// `PID`, for snapshots.
fn normalised(stderr: &str, dir: &Path) -> String {
    let text = stderr.replace(&path_str(dir), "DIR");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(".tmp-") {
        out.push_str(&rest[..at + 5]);
        rest = &rest[at + 5..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        out.push_str("PID");
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// A new run into a folder that holds another run's checkpoints is refused
/// (exit 2) with a message naming the folder, its newest checkpoint and the
/// ways on; `--overwrite` deletes the old checkpoints and starts over;
/// resuming into the folder of the checkpoint is no new run and goes on.
#[test]
fn a_new_run_into_a_used_checkpoint_folder_is_refused() {
    let dir = scratch("used-folder");
    let file = model_file(&dir, 60, 3, "");
    let ckpt = dir.join("ckpt");
    let first = run(&["run", &file, "--quiet", "--checkpoint", &path_str(&ckpt)]);
    assert_ok(&first);
    let before = names(&ckpt);
    assert_eq!(before.len(), 6, "{before:?}");

    let again = run(&[
        "run",
        &file,
        "--quiet",
        "--epochs",
        "1",
        "--checkpoint",
        &path_str(&ckpt),
    ]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(text(&again.stdout).is_empty());
    insta::assert_snapshot!(
        "used_checkpoint_folder_refused",
        normalised(&text(&again.stderr), &dir)
    );
    assert_eq!(names(&ckpt), before, "nothing was touched");

    // Resuming there is the same run.
    let resumed = run(&["run", &file, "--quiet", "--resume", &path_str(&ckpt)]);
    assert_ok(&resumed);

    let over = run(&[
        "run",
        &file,
        "--quiet",
        "--epochs",
        "1",
        "--checkpoint",
        &path_str(&ckpt),
        "--overwrite",
    ]);
    assert_ok(&over);
    insta::assert_snapshot!(
        "used_checkpoint_folder_overwritten",
        normalised(&text(&over.stderr), &dir)
    );
    assert_eq!(names(&ckpt), ["epoch-0001.json", "epoch-0001.safetensors"]);
}

/// Temporary files left by a process killed while saving are removed by
/// the next run that saves into the folder, which says so; a temporary
/// file of a running process stays.
#[test]
fn stale_temporary_files_are_removed_by_the_next_run() {
    let dir = scratch("stale-temporaries");
    let file = model_file(&dir, 60, 3, "");
    let ckpt = dir.join("ckpt");
    std::fs::create_dir_all(&ckpt).unwrap();
    // No process has this id (Linux ids stay below 2^22); process 1 runs.
    let dead = ckpt.join(".epoch-0002.safetensors.tmp-4999999");
    let live = ckpt.join(".epoch-0009.json.tmp-1");
    std::fs::write(&dead, b"half a checkpoint").unwrap();
    std::fs::write(&live, b"being written").unwrap();
    let out = run(&[
        "run",
        &file,
        "--quiet",
        "--epochs",
        "1",
        "--checkpoint",
        &path_str(&ckpt),
    ]);
    assert_ok(&out);
    if Path::new("/proc/self").exists() {
        assert!(!dead.exists());
        insta::assert_snapshot!(
            "stale_temporaries_removed",
            normalised(&text(&out.stderr), &dir)
        );
    }
    assert!(live.exists());
    let left = names(&ckpt);
    assert!(
        left.contains(&"epoch-0001.safetensors".to_string()),
        "{left:?}"
    );
}

/// `--keep-best validation_accuracy` keeps the best epoch's checkpoint as
/// `best` (the first of the highest accuracy, whichever epoch that is),
/// beside the newest that `--keep 1` leaves; `--resume` ignores it;
/// `nnc eval --weights DIR` uses it.
#[test]
fn keep_best_keeps_the_best_epoch_for_eval() {
    let dir = scratch("keep-best");
    let file = model_file(&dir, 60, 6, "");
    let ckpt = dir.join("ckpt");
    let log = dir.join("run.jsonl");
    let out = run(&[
        "run",
        &file,
        "-q",
        "--checkpoint",
        &path_str(&ckpt),
        "--keep",
        "1",
        "--keep-best",
        "validation_accuracy",
        "--log",
        &path_str(&log),
    ]);
    assert_ok(&out);
    let records = read_log(&log);
    let accuracies: Vec<f64> = records
        .iter()
        .map(|r| r["validation_accuracy"].as_f64().unwrap())
        .collect();
    let best_epoch =
        1 + (0..accuracies.len()).fold(0, |b, i| if accuracies[i] > accuracies[b] { i } else { b });
    let sidecar: Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("best.json")).unwrap()).unwrap();
    assert_eq!(sidecar["epoch"], best_epoch, "{accuracies:?}");
    assert_eq!(
        names(&ckpt),
        [
            "best.json",
            "best.safetensors",
            "epoch-0006.json",
            "epoch-0006.safetensors"
        ]
    );
    // `nnc eval` on the folder measures the best epoch's weights.
    let out = run(&[
        "eval",
        &file,
        "--weights",
        &path_str(&ckpt),
        "--split",
        "validation",
        "--format",
        "json",
    ]);
    assert_ok(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["epoch"], best_epoch);
    let measured = report["accuracy"].as_f64().unwrap();
    assert!(
        (measured - accuracies[best_epoch - 1]).abs() < 1e-9,
        "{measured} vs {accuracies:?}"
    );
    // Resuming the folder takes up the newest position, not `best`.
    let resumed = run(&[
        "run",
        &file,
        "-q",
        "--resume",
        &path_str(&ckpt),
        "--epochs",
        "7",
        "--keep-best",
        "validation_accuracy",
    ]);
    assert_ok(&resumed);
    assert!(
        text(&resumed.stdout).starts_with("epoch 7"),
        "{}",
        text(&resumed.stdout)
    );
}

/// The epoch (1-based) of the first best `key` in `records`: the lowest,
/// or with `highest` the highest.
fn best_epoch(records: &[Value], key: &str, highest: bool) -> usize {
    let values: Vec<f64> = records.iter().map(|r| r[key].as_f64().unwrap()).collect();
    let better = |a: f64, b: f64| if highest { a > b } else { a < b };
    1 + (0..values.len()).fold(0, |b, i| if better(values[i], values[b]) { i } else { b })
}

/// `nnc eval --format json` of `weights` on the validation split.
fn eval_validation(file: &str, weights: &Path) -> Value {
    let out = run(&[
        "eval",
        file,
        "--weights",
        &path_str(weights),
        "--split",
        "validation",
        "--format",
        "json",
    ]);
    assert_ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn early_stop_with_restore_best_leaves_the_best_epochs_parameters() {
    let dir = scratch("restore-best");
    // Validation accuracy reaches 100% early and cannot improve on it, while
    // the cost goes on falling: the cost tells the epochs' parameters apart.
    let extra = "  early_stop(metric: validation_accuracy, patience: 2, restore_best: true)";
    let file = model_file(&dir, 60, 30, extra);
    let ckpt = dir.join("ckpt");
    let log = dir.join("run.jsonl");
    let out = run(&[
        "run",
        &file,
        "--checkpoint",
        &path_str(&ckpt),
        "--log",
        &path_str(&log),
    ]);
    assert_ok(&out);
    let records = read_log(&log);
    let last = records.last().unwrap();
    let stop_epoch = records.len();
    assert!(stop_epoch < 30, "the run should stop early: {records:?}");
    assert!(last["stop"]
        .as_str()
        .unwrap()
        .contains("validation_accuracy"));
    let best = best_epoch(&records, "validation_accuracy", true);
    assert!(best < stop_epoch);
    assert_eq!(last["restored_epoch"], best);
    assert!(
        text(&out.stdout).contains(&format!("(parameters of epoch {best} restored)")),
        "{}",
        text(&out.stdout)
    );
    // The newest checkpoint and the best one (kept by the early stop's
    // metric) both hold the best epoch's parameters.
    let best_cost = records[best - 1]["validation_cost"].as_f64().unwrap();
    let last_cost = last["validation_cost"].as_f64().unwrap();
    assert!(
        (best_cost - last_cost).abs() > 1e-4,
        "{best_cost} vs {last_cost}"
    );
    let newest = ckpt.join(format!("epoch-{stop_epoch:04}.safetensors"));
    for weights in [newest.clone(), ckpt.join("best.safetensors")] {
        let report = eval_validation(&file, &weights);
        let cost = report["cost"].as_f64().unwrap();
        assert!((cost - best_cost).abs() < 1e-9, "{cost} vs {best_cost}");
    }
    let newest_report = eval_validation(&file, &newest);
    assert_eq!(newest_report["epoch"], stop_epoch);
    assert_eq!(newest_report["restored_epoch"], best);

    // A run resumed after its best epoch restores it from the folder's
    // best checkpoint: the same parameters as the uninterrupted run.
    let ckpt2 = dir.join("ckpt2");
    let first = run(&[
        "run",
        &file,
        "-q",
        "--checkpoint",
        &path_str(&ckpt2),
        "--epochs",
        &(best + 1).to_string(),
    ]);
    assert_ok(&first);
    let resumed = run(&["run", &file, "-q", "--resume", &path_str(&ckpt2)]);
    assert_ok(&resumed);
    let again = eval_validation(
        &file,
        &ckpt2.join(format!("epoch-{stop_epoch:04}.safetensors")),
    );
    assert_eq!(again["restored_epoch"], best);
    assert_eq!(again["cost"], newest_report["cost"]);
}

#[test]
fn keep_best_in_the_train_block_keeps_the_best_epoch() {
    let dir = scratch("keep-best-file");
    let file = model_file(&dir, 60, 5, "  keep_best validation_cost");
    let ckpt = dir.join("ckpt");
    let log = dir.join("run.jsonl");
    let out = run(&[
        "run",
        &file,
        "-q",
        "--checkpoint",
        &path_str(&ckpt),
        "--log",
        &path_str(&log),
    ]);
    assert_ok(&out);
    let best = best_epoch(&read_log(&log), "validation_cost", false);
    let sidecar: Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("best.json")).unwrap()).unwrap();
    assert_eq!(sidecar["epoch"], best);
    // Without a folder there is nothing to keep: a warning, and the run.
    let out = run(&["run", &file, "-q", "--epochs", "1"]);
    assert_ok(&out);
    assert!(
        text(&out.stderr).contains("warning: `keep_best validation_cost` keeps the best epoch's checkpoint, but no checkpoint is saved: give `--checkpoint DIR` to keep it"),
        "{}",
        text(&out.stderr)
    );
}
