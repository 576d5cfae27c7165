//! Games: several models trained against each other (`train g, d on data {
//! step d { ... } step g { ... } }`), through the library (each step's
//! update, the backends' agreement) and through the `nnc` binary (a short
//! GAN run, checkpoints and their resumption, `nnc sample`,
//! `nnc eval-samples`, `nnc summary`).

mod common;

use common::{nnc, root, text};
use nnc_check::program::{Program, TrainSpec};
use nnc_lower::backend::{Backend, Batch, Tensor, TrainSetup};
use nnc_train::Game;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    common::scratch("games", name)
}

/// A GAN on points of the plane: the real points are N((3, -2), 0.5²), the
/// generator maps 2 values of noise to a point, the discriminator a point
/// to a logit.
const TOY: &str = r#"model generator {
  input noise: [2]
  layers {
    dense(16)
    leaky_relu(0.2)
    dense(2)
  }
}

model discriminator {
  input point: [2]
  layers {
    dense(16)
    leaky_relu(0.2)
    dense(1)
  }
}

data points {
  train csv("points.csv", header: true)
  labels none
}

train generator, discriminator on points {
  batch_size 50
  epochs 30
  seed 1
  optimizer adam(beta1: 0.5, beta2: 0.999, eps: 1e-8)
  learning_rate 0.002

  step discriminator {
    let real_logit = discriminator(real)
    let fake_logit = discriminator(detach(generator(normal([2]))))
    cost softplus(-real_logit) + softplus(fake_logit)
    let d_real = sigmoid(real_logit)
    let d_fake = sigmoid(fake_logit)
    report d_real
    report d_fake
  }

  step generator {
    cost softplus(-discriminator(generator(normal([2]))))
  }
}
"#;

/// The 400 real points, from a fixed generator (a Box-Muller transform of
/// an LCG, so the file is the same on every machine).
fn points() -> Vec<[f32; 2]> {
    let mut state: u64 = 12345;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    (0..400)
        .map(|_| {
            let (u, v) = (uniform(), uniform());
            let r = (-2.0 * u.ln()).sqrt();
            let a = 2.0 * std::f64::consts::PI * v;
            [
                (3.0 + 0.5 * r * a.cos()) as f32,
                (-2.0 + 0.5 * r * a.sin()) as f32,
            ]
        })
        .collect()
}

/// Writes the toy game and its points into `dir`; returns the file.
fn toy_game(dir: &Path) -> String {
    let mut csv = String::from("x,y\n");
    for [x, y] in points() {
        csv.push_str(&format!("{x},{y}\n"));
    }
    std::fs::write(dir.join("points.csv"), csv).unwrap();
    let path = dir.join("toy.nnet");
    std::fs::write(&path, TOY).unwrap();
    path.display().to_string()
}

fn program(source: &str) -> Program {
    let (file, syntax) = nnc_syntax::parse(source);
    assert!(syntax.is_empty(), "{syntax:?}");
    let checked = nnc_check::check(&file);
    assert!(!checked.has_errors(), "{:?}", checked.errors);
    checked.program
}

/// Asserts that a run of `nnc` exited with `code` and said `says` on
/// stderr.
fn fails_with(out: &std::process::Output, code: i32, says: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(says), "{stderr}");
}

fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the log was written")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// A batch of the first `len` points.
fn batch_values(len: usize) -> Vec<f32> {
    points().iter().take(len).flatten().copied().collect()
}

/// Each step, run alone on its own backend, changes the parameters of the
/// model it names and leaves every bit of the other model's as it was.
#[test]
fn each_step_changes_only_its_models_parameters() {
    let program = program(TOY);
    let spec = &program.trains[0];
    let params = nnc_lower::init_params(spec.game_params().unwrap(), 3);
    let inputs = batch_values(50);
    for step in &spec.steps {
        let mut backend = nnc_cpu::JitBackend::new();
        let setup = TrainSetup {
            model: &step.graph,
            optimizer: &step.optimizer,
            batch_size: 50,
            train_size: 400,
            clip: Default::default(),
        };
        backend.configure(&setup).unwrap();
        backend.set_params(params.clone()).unwrap();
        let batch = Batch {
            inputs: &inputs,
            targets: &[],
            len: 50,
            noise_seed: 0,
        };
        backend.train_step(batch, 0.01, 7).unwrap();
        let after = backend.params();
        let specs = nnc_lower::param_specs(&step.graph);
        for ((spec, old), new) in specs.iter().zip(&params).zip(&after) {
            let own = spec.name.starts_with(&format!("{}.", step.model));
            let same_bits = old
                .data
                .iter()
                .zip(&new.data)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            if own {
                assert!(
                    !same_bits,
                    "step {} left {} unchanged",
                    step.model, spec.name
                );
            } else {
                assert!(same_bits, "step {} changed {}", step.model, spec.name);
            }
        }
    }
}

/// Runs `steps` game steps of `spec` on backends from `make`, on the
/// first points, and returns the parameters and each step's costs.
/// The game of `spec` on backends from `make`, with the parameters seed 3
/// draws, configured for batches of 50 of the 400 points.
fn configured_game(spec: &TrainSpec, make: MakeBackend<'_>) -> Game {
    let mut game = Game::new(spec, make).unwrap();
    game.set_params(nnc_lower::init_params(spec.game_params().unwrap(), 3))
        .unwrap();
    let model = game.params_model().clone();
    let setup = TrainSetup {
        model: &model,
        optimizer: &spec.phases[0].optimizer,
        batch_size: 50,
        train_size: 400,
        clip: Default::default(),
    };
    game.configure(&setup).unwrap();
    game
}

/// Makes a fresh backend of one kind.
type MakeBackend<'a> = &'a dyn Fn() -> Box<dyn Backend>;

fn run_game(spec: &TrainSpec, make: MakeBackend<'_>, steps: usize) -> (Vec<Tensor>, Vec<Vec<f64>>) {
    let mut game = configured_game(spec, make);
    game.begin_epoch(1);
    let inputs = batch_values(400);
    let mut costs = Vec::new();
    for k in 0..steps {
        let chunk = &inputs[k * 100..(k + 1) * 100];
        let batch = Batch {
            inputs: chunk,
            targets: &[],
            len: 50,
            noise_seed: 0,
        };
        let stats = game.train_step(batch, 0.0, 100 + k as u64).unwrap();
        costs.push(stats.terms.unwrap()[..2].to_vec());
    }
    (game.params(), costs)
}

/// The JIT and wgpu take the interpreter's game steps: after four
/// mini-batches (eight optimizer steps) every parameter agrees to 1e-4
/// relative, and each step's cost too.
#[test]
fn game_steps_agree_on_every_backend() {
    let program = program(TOY);
    let spec = &program.trains[0];
    let interp = || Box::new(nnc_interp::InterpBackend::new()) as Box<dyn Backend>;
    let jit = || Box::new(nnc_cpu::JitBackend::new()) as Box<dyn Backend>;
    let gpu = || Box::new(nnc_gpu::GpuBackend::new()) as Box<dyn Backend>;
    let (reference, reference_costs) = run_game(spec, &interp, 4);
    let mut others: Vec<(&str, MakeBackend<'_>)> = vec![("jit", &jit)];
    if common::gpu_available("game_steps_agree_on_every_backend") {
        others.push(("wgpu", &gpu));
    }
    for (name, make) in others {
        let (params, costs) = run_game(spec, make, 4);
        for (a, b) in reference.iter().zip(&params) {
            let scale = a.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for (x, y) in a.data.iter().zip(&b.data) {
                assert!(
                    (x - y).abs() <= 1e-4 * (x.abs() + scale / 100.0) + 1e-6,
                    "{name}: {x} vs the interpreter's {y}"
                );
            }
        }
        for (a, b) in reference_costs.iter().flatten().zip(costs.iter().flatten()) {
            assert!((a - b).abs() <= 1e-4 * a.abs(), "{name}: cost {b} vs {a}");
        }
    }
}

/// A short GAN run on the interpreter: the discriminator first learns to
/// tell the real points from the generated ones (its mean probability on
/// real points rises above the one on generated points), then the
/// generator catches up and the two come back together.
#[test]
fn the_discriminator_pulls_apart_then_the_generator_catches_up() {
    let dir = scratch("dynamics");
    let file = toy_game(&dir);
    let log = dir.join("run.jsonl");
    let out = nnc(&[
        "run",
        &file,
        "-q",
        "--backend",
        "interp",
        "--log",
        &log.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records = read_log(&log);
    assert_eq!(records.len(), 30);
    let gaps: Vec<f64> = records
        .iter()
        .map(|r| r["train_d_real"].as_f64().unwrap() - r["train_d_fake"].as_f64().unwrap())
        .collect();
    let (peak, &widest) = gaps
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap();
    let last = *gaps.last().unwrap();
    assert!(
        peak > 2 && peak < 25,
        "the widest gap is at epoch {}: {gaps:?}",
        peak + 1
    );
    assert!(widest > 0.1, "the discriminator never separated: {gaps:?}");
    assert!(widest - gaps[0] > 0.3, "no pulling apart: {gaps:?}");
    assert!(last.abs() < widest / 2.0, "no catching up: {gaps:?}");
    for r in &records {
        for key in ["train_cost_discriminator", "train_cost_generator"] {
            assert!(r[key].as_f64().is_some_and(f64::is_finite), "{key}: {r}");
        }
    }
}

/// A run stopped after one epoch and resumed gives the uninterrupted
/// run's second epoch, bit for bit: every model's parameters and every
/// step's optimizer state.
#[test]
fn a_resumed_game_takes_the_same_steps() {
    let dir = scratch("resume");
    let file = toy_game(&dir);
    let whole = dir.join("whole");
    let parts = dir.join("parts");
    let run = |args: &[&str]| {
        let out = nnc(args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    let (whole_s, parts_s) = (whole.display().to_string(), parts.display().to_string());
    run(&[
        "run",
        &file,
        "-q",
        "--epochs",
        "2",
        "--checkpoint",
        &whole_s,
    ]);
    run(&[
        "run",
        &file,
        "-q",
        "--epochs",
        "1",
        "--checkpoint",
        &parts_s,
    ]);
    let first = parts.join("epoch-0001.json").display().to_string();
    run(&[
        "run",
        &file,
        "-q",
        "--epochs",
        "2",
        "--resume",
        &first,
        "--checkpoint",
        &parts_s,
    ]);
    let a = std::fs::read(whole.join("epoch-0002.safetensors")).unwrap();
    let b = std::fs::read(parts.join("epoch-0002.safetensors")).unwrap();
    assert!(a == b, "the resumed run's weights differ");
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(parts.join("epoch-0002.json")).unwrap()).unwrap();
    assert_eq!(sidecar["model"], "generator, discriminator");
    let state: Vec<&str> = sidecar["state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(state.contains(&"discriminator_step.adam.step"), "{state:?}");
    assert!(state.contains(&"generator_step.adam.step"), "{state:?}");
}

/// `nnc summary` says which step updates which parameters.
#[test]
fn summary_lists_what_each_step_updates_and_reads() {
    let out = nnc(&["summary", "models/gan_mnist.nnet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let step = |name: &str| {
        let start = shown
            .find(&format!("step {name}:"))
            .unwrap_or_else(|| panic!("{shown}"));
        shown[start..]
            .lines()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let d = step("discriminator");
    assert!(
        d.contains("updates 533,505 values: discriminator.dense_1.weight"),
        "{d}"
    );
    assert!(
        d.contains("reads, unchanged, 559,632 values: generator.dense_1.weight"),
        "{d}"
    );
    let g = step("generator");
    assert!(
        g.contains("updates 559,632 values: generator.dense_1.weight"),
        "{g}"
    );
    assert!(
        g.contains("reads, unchanged, 533,505 values: discriminator"),
        "{g}"
    );
}

/// The shipped model `name` copied into `dir` (its MNIST paths made
/// absolute) and trained one epoch on `examples` images with a checkpoint:
/// the file and the checkpoint folder.
fn shipped_briefly_trained(dir: &Path, name: &str, examples: usize) -> (String, String) {
    let source = std::fs::read_to_string(root().join(format!("models/{name}.nnet")))
        .unwrap()
        .replace(
            "\"../data/mnist/",
            &format!("\"{}/", root().join("data/mnist").display()),
        );
    let file = dir.join(format!("{name}.nnet"));
    std::fs::write(&file, source).unwrap();
    let file = file.display().to_string();
    let ckpt = dir.join(format!("{name}_ckpt")).display().to_string();
    let limit = examples.to_string();
    let out = nnc(&[
        "run",
        &file,
        "-q",
        "--epochs",
        "1",
        "--train-limit",
        &limit,
        "--eval-limit",
        "200",
        "--checkpoint",
        &ckpt,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (file, ckpt)
}

/// A conditional GAN trained briefly on MNIST: `nnc sample --label K`
/// draws a grid, and `nnc eval-samples` measures the draws with a
/// classifier trained here, reporting the share of each class and of the
/// class drawn; a label the generator does not know is refused.
#[test]
fn sample_and_eval_samples_read_a_games_checkpoint() {
    let dir = scratch("sample");
    let (file, ckpt) = shipped_briefly_trained(&dir, "gan_conditional", 640);
    let grid = dir.join("sevens.png").display().to_string();
    let out = nnc(&[
        "sample",
        &file,
        "--weights",
        &ckpt,
        "--label",
        "7",
        "--count",
        "9",
        "-o",
        &grid,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.join("sevens.png").exists() && dir.join("sevens.svg").exists());
    let out = nnc(&[
        "sample",
        &file,
        "--weights",
        &ckpt,
        "--label",
        "10",
        "-o",
        &grid,
    ]);
    fails_with(&out, 2, "knows 10 classes, 0 to 9");

    // A quick classifier of the 28x28 digits.
    let (clf, clf_ckpt) = shipped_briefly_trained(&dir, "mnist_784_30_10", 2000);
    let out = nnc(&[
        "eval-samples",
        &file,
        "--weights",
        &ckpt,
        "--classifier",
        &clf,
        "--classifier-weights",
        &clf_ckpt,
        "--count",
        "300",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let measured: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(measured["count"], 300);
    let classes: Vec<f64> = measured["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(classes.len(), 10);
    assert!((classes.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    let confident = measured["confident"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confident));
    let per_class = measured["matched"]["per_class"].as_array().unwrap();
    assert_eq!(
        per_class.len(),
        10,
        "the classes in turn: each drawn 30 times"
    );
    // A checkpoint of one model is no game's.
    let out = nnc(&[
        "eval-samples",
        &clf,
        "--weights",
        &clf_ckpt,
        "--classifier",
        &clf,
        "--classifier-weights",
        &clf_ckpt,
    ]);
    fails_with(&out, 1, "holds no game's weights");
}

/// A backend that counts its training steps and their seeds, and runs
/// them on the JIT.
struct Counting {
    inner: nnc_cpu::JitBackend,
    seeds: std::rc::Rc<std::cell::RefCell<Vec<(String, u64, f32)>>>,
    model: String,
}

impl Backend for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn configure(
        &mut self,
        setup: &TrainSetup<'_>,
    ) -> Result<(), nnc_lower::backend::BackendError> {
        self.model = setup.model.name.clone();
        self.inner.configure(setup)
    }
    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), nnc_lower::backend::BackendError> {
        self.inner.set_params(params)
    }
    fn params(&self) -> Vec<Tensor> {
        self.inner.params()
    }
    fn train_step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<nnc_lower::backend::StepStats, nnc_lower::backend::BackendError> {
        self.seeds
            .borrow_mut()
            .push((self.model.clone(), step_seed, learning_rate));
        self.inner.train_step(batch, learning_rate, step_seed)
    }
    fn evaluate(
        &mut self,
        batch: Batch<'_>,
    ) -> Result<nnc_lower::backend::EvalStats, nnc_lower::backend::BackendError> {
        self.inner.evaluate(batch)
    }
    fn configure_inference(
        &mut self,
        model: &nnc_check::program::Model,
    ) -> Result<(), nnc_lower::backend::BackendError> {
        self.inner.configure_inference(model)
    }
    fn infer(
        &mut self,
        batch: Batch<'_>,
    ) -> Result<nnc_lower::backend::Inference, nnc_lower::backend::BackendError> {
        self.inner.infer(batch)
    }
}

/// `repeat 3` runs the discriminator's step three times per mini-batch,
/// each with its own seed (fresh noise), before the generator's one; each
/// step takes its own learning rate, and its `at epoch` phase.
#[test]
fn repeat_runs_a_step_several_times_per_batch_with_its_own_rate() {
    let source = TOY
        .replace(
            "  step discriminator {\n",
            "  step discriminator {\n    repeat 3\n    learning_rate 0.001\n    at epoch 2 {\n      learning_rate 0.0005\n    }\n",
        );
    let program = program(&source);
    let spec = &program.trains[0];
    let seeds = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let make = || {
        Box::new(Counting {
            inner: nnc_cpu::JitBackend::new(),
            seeds: seeds.clone(),
            model: String::new(),
        }) as Box<dyn Backend>
    };
    let mut game = configured_game(spec, &make);
    let inputs = batch_values(50);
    let batch = Batch {
        inputs: &inputs,
        targets: &[],
        len: 50,
        noise_seed: 0,
    };
    game.begin_epoch(1);
    game.train_step(batch, 0.0, 11).unwrap();
    game.begin_epoch(2);
    game.train_step(batch, 0.0, 12).unwrap();
    let seen = seeds.borrow();
    let order: Vec<&str> = seen.iter().map(|(m, _, _)| m.as_str()).collect();
    let d = "discriminator step";
    let g = "generator step";
    assert_eq!(order, [d, d, d, g, d, d, d, g]);
    let mut distinct: Vec<u64> = seen.iter().map(|(_, s, _)| *s).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        8,
        "every step and repetition has its own seed"
    );
    let rates: Vec<f32> = seen.iter().map(|(_, _, r)| *r).collect();
    assert_eq!(
        rates,
        [0.001, 0.001, 0.001, 0.002, 0.0005, 0.0005, 0.0005, 0.002]
    );
}

/// The other tools on a game: `nnc emit ir --step` prints one step's
/// graph (gradients of its model's parameters only), `nnc bench` times
/// every step, `nnc run --verify-only` checks every step's kernels, and
/// `nnc eval` refuses a game's checkpoint, pointing at the tools for it.
#[test]
fn the_other_tools_take_a_game() {
    let dir = scratch("tools");
    let file = toy_game(&dir);
    let out = nnc(&[
        "emit",
        "ir",
        &file,
        "--step",
        "generator",
        "--train-size",
        "400",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ir = text(&out.stdout);
    assert!(ir.contains("output grad(generator.dense_1.weight)"), "{ir}");
    assert!(ir.contains("output new(generator.dense_1.weight)"), "{ir}");
    assert!(!ir.contains("output grad(discriminator."), "{ir}");
    assert!(!ir.contains("output new(discriminator."), "{ir}");
    let out = nnc(&["emit", "ir", &file, "--step", "critic"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the game's steps update `discriminator`, `generator`"));

    let out = nnc(&["bench", &file, "--epochs", "1", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bench: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(bench["model"], "generator, discriminator", "{bench}");

    let out = nnc(&["run", &file, "--verify-only", "--verify-steps", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("agrees with the interpreter on 4 steps"));

    let ckpt = dir.join("ckpt").display().to_string();
    let out = nnc(&["run", &file, "-q", "--epochs", "1", "--checkpoint", &ckpt]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for refused in [["--trace", "grad-norms"], ["--keep-best", "train_cost"]] {
        let mut args = vec!["run", &file, "--epochs", "1", "--checkpoint", &ckpt];
        args.extend(refused);
        let out = nnc(&args);
        fails_with(&out, 2, "a game");
    }
    let out = nnc(&["eval", &file, "--weights", &ckpt]);
    fails_with(&out, 1, "`nnc eval-samples`");
}

/// Stops the loop after `after` training steps and keeps the snapshot
/// saved there.
struct StopAfter {
    after: usize,
    steps: std::cell::Cell<usize>,
    saved: Option<(nnc_train::LoopState, Vec<Tensor>, Vec<Tensor>)>,
}

impl nnc_train::Checkpointer for StopAfter {
    fn stop_requested(&self) -> bool {
        self.steps.set(self.steps.get() + 1);
        self.steps.get() == self.after
    }
    fn saves_epochs(&self) -> bool {
        false
    }
    fn save(&mut self, snapshot: &nnc_train::Snapshot<'_>) -> Result<(), String> {
        self.saved = Some((
            snapshot.state.clone(),
            snapshot.params.clone(),
            snapshot.optimizer_state.clone(),
        ));
        Ok(())
    }
}

/// A game interrupted in the middle of an epoch and resumed from the
/// snapshot ends where the uninterrupted game ends, bit for bit, with the
/// same records: the steps' mean costs of the interrupted epoch included.
#[test]
fn a_game_resumed_mid_epoch_ends_as_the_uninterrupted_one() {
    let program = program(&TOY.replace("epochs 30", "epochs 2"));
    let spec = &program.trains[0];
    let examples = nnc_train::InMemory {
        input_size: 2,
        target_size: 0,
        inputs: batch_values(400),
        targets: Vec::new(),
    };
    let splits = || nnc_train::Splits {
        train: &examples,
        validation: None,
        test: None,
    };
    let schedule = nnc_train::Schedule::new(spec, nnc_train::Overrides::default());
    let options = nnc_train::Options::default();
    let jit = || Box::new(nnc_cpu::JitBackend::new()) as Box<dyn Backend>;
    let params_model = spec.game_params().unwrap();
    let fresh = || {
        let mut game = Game::new(spec, jit).unwrap();
        nnc_train::init_params(&mut game, params_model, schedule.seed).unwrap();
        game
    };
    let mut whole = fresh();
    let uninterrupted = nnc_train::train(
        &mut whole,
        params_model,
        &schedule,
        splits(),
        &options,
        &mut nnc_train::Silent,
    )
    .unwrap();

    // Stopped within epoch 2 (8 steps an epoch; the stop is also asked
    // after each epoch), then resumed.
    let mut first = fresh();
    let mut stopper = StopAfter {
        after: 11,
        steps: std::cell::Cell::new(0),
        saved: None,
    };
    let outcome = nnc_train::train_resumable(
        &mut first,
        params_model,
        &schedule,
        splits(),
        &options,
        &mut nnc_train::Silent,
        None,
        &mut stopper,
    )
    .unwrap();
    assert!(outcome.interrupted.is_some());
    let (state, params, optimizer_state) = stopper.saved.expect("a snapshot");
    assert_eq!((state.epoch, state.step), (1, 2));
    assert!(state.term_sums.is_some(), "the steps' cost sums are kept");
    let mut second = Game::new(spec, jit).unwrap();
    second.set_params(params).unwrap();
    let resumed = nnc_train::train_resumable(
        &mut second,
        params_model,
        &schedule,
        splits(),
        &options,
        &mut nnc_train::Silent,
        Some(nnc_train::Resume {
            state,
            optimizer_state,
        }),
        &mut nnc_train::NoCheckpoints,
    )
    .unwrap();
    let bits = |p: Vec<Tensor>| -> Vec<u32> {
        p.iter()
            .flat_map(|t| t.data.iter().map(|v| v.to_bits()))
            .collect()
    };
    assert!(
        bits(whole.params()) == bits(second.params()),
        "parameters differ"
    );
    assert!(
        whole.optimizer_state() == second.optimizer_state(),
        "optimizer state differs"
    );
    let last = |r: &nnc_train::TrainReport| r.epochs.last().unwrap().without_timings();
    assert_eq!(last(&uninterrupted), last(&resumed.report));
    assert_eq!(last(&resumed.report).train_terms.len(), 2);
}

/// Data that do not fit `real` are reported against the model and input
/// `real` is shaped as: the discriminator's, as it is declared.
#[test]
fn data_that_do_not_fit_real_name_the_discriminators_input() {
    let dir = scratch("misfit");
    let file = toy_game(&dir);
    let source = TOY
        .replace("    dense(2)\n", "    dense(3)\n")
        .replace("input point: [2]", "input point: [3]");
    std::fs::write(&file, source).unwrap();
    let out = nnc(&["check", "--data", &file]);
    fails_with(&out, 1, "do not fit the input of model `discriminator`");
    assert!(
        text(&out.stderr).contains("declare `input point: [2]`"),
        "{}",
        text(&out.stderr)
    );
}
