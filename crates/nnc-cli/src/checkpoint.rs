//! `nnc run --checkpoint DIR [--keep N] [--overwrite] [--resume CKPT]
//! [--force]`: saving a run as it goes, stopping it cleanly on Ctrl-C, and
//! continuing it.
//!
//! - A new run does not write into a folder that holds another run's
//!   checkpoints: it is refused (usage error) unless `--overwrite`, which
//!   deletes them first. Temporary files left there by a process killed
//!   while saving are deleted, with a note, before the first save.
//! - After every epoch the parameters, the optimizer state and the loop's
//!   state are saved as `DIR/epoch-0003.safetensors` with its sidecar
//!   `DIR/epoch-0003.json` (`nnc_ckpt`: atomic writes, the weights first and
//!   the sidecar last). `--keep N` then deletes all but the newest N; by
//!   default every checkpoint is kept.
//! - With checkpoints on, the first Ctrl-C (SIGINT) lets the current step
//!   finish, saves `DIR/epoch-0003-step-00120` (3 epochs done, 120 steps of
//!   the 4th) and exits with status 130 after printing the command line
//!   that resumes the run; a second Ctrl-C quits at once without saving.
//! - `--resume CKPT` (a checkpoint file or a directory: its newest) takes
//!   up the parameters, the optimizer state and the position, and goes on
//!   saving into `--checkpoint DIR` or, without it, into CKPT's directory.
//!   The seed, `--train-limit` and `--eval-limit` default to the saved
//!   run's. A model file whose text changed is refused unless `--force`.
//!   The earlier epochs' records are written to `--log` first, so the log
//!   of a resumed run is the log of the whole run.
//! - A run that fails (a diverging cost) never saves the broken weights:
//!   its error names the last good checkpoint and how to resume from it.

use crate::args::positive;
use crate::epoch_log::{log_object, Style};
use crate::failure::Failure;
use clap::Args;
use nnc_check::program::{Metric, Model};
use nnc_ckpt::{Checkpoint, Sidecar};
use nnc_lower::backend::{Backend, Tensor};
use nnc_train::{Checkpointer, LoopState, Resume, SaveKind, Schedule, Snapshot, TrainError};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells
/// report it.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// The checkpoint flags of `nnc run`.
#[derive(Args, Debug, Default)]
pub struct CheckpointArgs {
    /// Save a checkpoint (safetensors weights + JSON sidecar) into DIR
    /// after every epoch and on Ctrl-C, which then stops the run after the
    /// current step.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Keep only the newest N checkpoints of the checkpoint directory
    /// (default: keep all).
    #[arg(long, value_name = "N", value_parser = positive())]
    pub keep: Option<usize>,
    /// Continue the run saved in CKPT (a .safetensors checkpoint, its .json
    /// sidecar, or a directory: its newest checkpoint).
    #[arg(long, value_name = "CKPT")]
    pub resume: Option<PathBuf>,
    /// With `--resume`: continue even though the model file changed since
    /// the checkpoint was saved.
    #[arg(long, requires = "resume")]
    pub force: bool,
    /// Also keep the checkpoint of the best epoch so far by METRIC (any
    /// metric of the language: `validation_accuracy`, `validation_cost`,
    /// `test_rmse`, `validation_top5_accuracy`, ...; accuracies and R²
    /// higher, costs and errors lower) as `best.safetensors` + `best.json`,
    /// which `nnc eval` and `nnc predict` use when given the folder.
    /// Overrides the train block's `keep_best`.
    #[arg(long, value_name = "METRIC", value_parser = parse_metric)]
    pub keep_best: Option<Metric>,
    /// Start a new run in a `--checkpoint` folder that holds another run's
    /// checkpoints, deleting them first (without it such a folder is
    /// refused, so that no run's checkpoints are overwritten by mistake).
    #[arg(long, requires = "checkpoint")]
    pub overwrite: bool,
}

/// A metric's name, as the language writes it.
fn parse_metric(name: &str) -> Result<Metric, String> {
    Metric::parse(name).ok_or_else(|| {
        format!(
            "`{name}` is not a metric: write SPLIT_MEASURE, SPLIT one of train, validation, \
             test and MEASURE one of cost, accuracy, mae, rmse, r2, topK_accuracy \
             (e.g. `validation_accuracy`, `test_rmse`, `validation_top5_accuracy`)"
        )
    })
}

/// Removes the temporary files a run killed while saving left in `dir`
/// (`nnc_ckpt::remove_stale_temporaries`), and says so.
fn clear_stale_temporaries(dir: &Path) -> Result<(), Failure> {
    let removed =
        nnc_ckpt::remove_stale_temporaries(dir).map_err(|e| Failure::usage(e.to_string()))?;
    if let Some(first) = removed.first() {
        let names: Vec<String> = removed
            .iter()
            .map(|p| format!("`{}`", p.display()))
            .collect();
        let (count, these) = if removed.len() == 1 {
            ("1 temporary file".to_string(), "it was")
        } else {
            (format!("{} temporary files", removed.len()), "they were")
        };
        eprintln!(
            "note: removed {count} left in `{}` by a run stopped while saving ({these} never \
             a checkpoint): {}",
            first.parent().unwrap_or(dir).display(),
            names.join(", ")
        );
    }
    Ok(())
}

/// A new run must not write into a folder holding another run's
/// checkpoints: its `epoch-0001` would replace theirs and `--resume DIR`
/// would mix the two. With `--overwrite` the old checkpoints are deleted
/// first.
fn refuse_another_run(dir: &Path, overwrite: bool) -> Result<(), Failure> {
    let existing = nnc_ckpt::list(dir).map_err(|e| Failure::usage(e.to_string()))?;
    let Some(newest) = existing.last() else {
        return Ok(());
    };
    let count = if existing.len() == 1 {
        "a checkpoint".to_string()
    } else {
        format!("{} checkpoints", existing.len())
    };
    if overwrite {
        nnc_ckpt::prune(dir, 0).map_err(|e| Failure::usage(e.to_string()))?;
        nnc_ckpt::remove_best(dir).map_err(|e| Failure::usage(e.to_string()))?;
        eprintln!(
            "note: deleted {count} of an earlier run from `{}` (`--overwrite`)",
            dir.display()
        );
        return Ok(());
    }
    Err(Failure::usage(format!(
        "`{dir}` already holds {count} of another run (the newest `{newest}`, epoch {epoch}); \
         a new run would overwrite them: continue that run with `--resume {dir}`, save into \
         another folder, or add `--overwrite` to delete them and start over",
        dir = dir.display(),
        newest = newest.weights.display(),
        epoch = newest.epoch,
    )))
}

/// Whether two paths name the same folder.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The checkpoints of one `nnc run`: what was resumed, where to save, the
/// Ctrl-C flag, and the records so far.
pub(crate) struct Session {
    dir: Option<PathBuf>,
    keep: Option<usize>,
    /// The checkpoint resumed from, with its loop state.
    resumed: Option<(Checkpoint, LoopState)>,
    model_file: String,
    model_hash: String,
    style: Style,
    backend: String,
    /// Set by the first Ctrl-C.
    stop: Arc<AtomicBool>,
    /// The log records of the epochs so far (the resumed run's first).
    metrics: Vec<Value>,
    /// The newest checkpoint known good: saved by this run, or resumed.
    last_good: Option<PathBuf>,
    /// `--keep-best METRIC` (or the file's `keep_best`, or the early stop
    /// metric of `restore_best`): the metric, and its best value so far.
    keep_best: Option<(Metric, Option<f64>)>,
    /// The training data's vocabulary (a text), saved with every checkpoint.
    pub(crate) vocabulary: Option<String>,
}

impl Session {
    /// Reads the checkpoint of `--resume` (checking that the model file is
    /// the one it was trained on, unless `--force`) and prepares saving.
    /// `keep_best` is the metric to keep the best epoch by when a folder is
    /// saved to: `--keep-best`, else the file's; without either, the early
    /// stop's metric when it restores the best (`restore_best`), as
    /// `auto_best`.
    pub(crate) fn open(
        args: &CheckpointArgs,
        file: &str,
        source: &str,
        style: Style,
        keep_best: Option<Metric>,
        auto_best: Option<Metric>,
    ) -> Result<Session, Failure> {
        let model_hash = nnc_ckpt::hash_source(source);
        let mut resumed = None;
        if let Some(path) = &args.resume {
            let ck = nnc_ckpt::load(path).map_err(|e| Failure::problem(e.to_string()))?;
            if ck.sidecar.model_hash != model_hash {
                let what = format!(
                    "the model file `{file}` has changed since checkpoint `{}` was saved \
                     (the file's hash is now {model_hash}, the checkpoint's is {})",
                    ck.path.display(),
                    ck.sidecar.model_hash
                );
                if !args.force {
                    return Err(Failure::problem(format!(
                        "{what}; restore the file, or resume anyway with `--force` \
                         (the parameters must still fit the model)"
                    )));
                }
                eprintln!("warning: {what}; resuming anyway (`--force`)");
            }
            let state: LoopState =
                serde_json::from_value(ck.sidecar.loop_state.clone()).map_err(|e| {
                    Failure::problem(format!(
                        "`{}` is not a valid checkpoint: its sidecar's `loop_state` is \
                         incomplete: {e}",
                        ck.path.with_extension("json").display()
                    ))
                })?;
            resumed = Some((ck, state));
        }
        let dir = args.checkpoint.clone().or_else(|| {
            resumed
                .as_ref()
                .map(|(ck, _)| ck.path.parent().unwrap_or(Path::new(".")).to_path_buf())
        });
        if let Some(dir) = dir.as_deref().filter(|d| d.is_dir()) {
            clear_stale_temporaries(dir)?;
            let resumed_here = resumed
                .as_ref()
                .is_some_and(|(ck, _)| same_dir(ck.path.parent().unwrap_or(Path::new(".")), dir));
            if !resumed_here {
                refuse_another_run(dir, args.overwrite)?;
            }
        }
        let metrics = resumed
            .as_ref()
            .map(|(ck, _)| ck.sidecar.metrics.clone())
            .unwrap_or_default();
        let last_good = resumed.as_ref().map(|(ck, _)| ck.path.clone());
        if args.keep_best.is_some() && dir.is_none() {
            return Err(Failure::usage(
                "`--keep-best` keeps a checkpoint: give `--checkpoint DIR` (or `--resume`)",
            ));
        }
        if let (Some(metric), None, None) = (keep_best, &args.keep_best, &dir) {
            eprintln!(
                "warning: `keep_best {metric}` keeps the best epoch's checkpoint, but no \
                 checkpoint is saved: give `--checkpoint DIR` to keep it"
            );
        }
        // A resumed run goes on from the best value its folder's `best`
        // holds (the last record of its metrics).
        let keep_best = args
            .keep_best
            .or(keep_best)
            .or(auto_best)
            .filter(|_| dir.is_some())
            .map(|metric| {
                let best = dir.as_deref().and_then(|d| best_so_far(d, metric));
                (metric, best)
            });
        Ok(Session {
            dir,
            keep: args.keep,
            resumed,
            model_file: file.to_string(),
            model_hash,
            style,
            backend: String::new(),
            stop: Arc::new(AtomicBool::new(false)),
            metrics,
            last_good,
            keep_best,
            vocabulary: None,
        })
    }

    /// The metric the best epoch is kept by, when one is kept.
    pub(crate) fn keep_best(&self) -> Option<Metric> {
        self.keep_best.as_ref().map(|(metric, _)| *metric)
    }

    /// The seed of the run: the command line's, else the resumed run's.
    pub(crate) fn seed(&self, given: Option<u64>) -> Option<u64> {
        given.or(self.resumed.as_ref().map(|(_, s)| s.seed))
    }

    /// `--train-limit`: the command line's, else the resumed run's count.
    pub(crate) fn train_limit(&self, given: Option<usize>) -> Option<usize> {
        given.or(self.resumed.as_ref().map(|(_, s)| s.train_count))
    }

    /// `--eval-limit`: the command line's, else the resumed run's.
    pub(crate) fn eval_limit(&self, given: Option<usize>) -> Option<usize> {
        given.or(self.resumed.as_ref().and_then(|(_, s)| s.eval_limit))
    }

    /// The log records of the epochs before the resumed position.
    pub(crate) fn earlier_records(&self) -> &[Value] {
        &self.metrics
    }

    /// Whether checkpoints are saved (and Ctrl-C is caught).
    fn saving(&self) -> bool {
        self.dir.is_some()
    }

    /// Catches Ctrl-C when checkpoints are saved: the first sets the stop
    /// flag the loop reads after every step; a second quits at once.
    pub(crate) fn catch_interrupts(&self) -> Result<(), Failure> {
        if !self.saving() {
            return Ok(());
        }
        let stop = Arc::clone(&self.stop);
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("\ninterrupted again: quitting without saving");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
            eprintln!(
                "\ninterrupted: finishing the current step and saving a checkpoint \
                 (Ctrl-C again quits without saving)"
            );
        })
        .map_err(|e| Failure::problem(format!("cannot catch Ctrl-C: {e}")))
    }

    /// Gives `backend` the resumed parameters and returns where the loop
    /// resumes; `None` for a fresh run (the caller initialises).
    pub(crate) fn restore(
        &mut self,
        backend: &mut dyn Backend,
        model: &Model,
        schedule: &Schedule,
        game: Option<&GameNames>,
    ) -> Result<Option<Resume>, Failure> {
        self.backend = backend.name().to_string();
        let Some((ck, state)) = &self.resumed else {
            return Ok(None);
        };
        if ck.sidecar.backend != self.backend {
            eprintln!(
                "warning: checkpoint `{}` was trained on the `{}` backend, this run uses `{}`: \
                 the metrics will not match the uninterrupted run's exactly",
                ck.path.display(),
                ck.sidecar.backend,
                self.backend
            );
        }
        let params =
            nnc_ckpt::model_params(model, ck).map_err(|e| Failure::problem(e.to_string()))?;
        let phase = schedule
            .phases
            .get(state.phase.wrapping_sub(1))
            .ok_or_else(|| {
                Failure::problem(format!(
                    "checkpoint `{}` was saved in phase {}, the schedule of this run has {} phases",
                    ck.path.display(),
                    state.phase,
                    schedule.phases.len()
                ))
            })?;
        let optimizer_state = match game {
            Some(game) => nnc_ckpt::named_state(ck, &game.state),
            None => nnc_ckpt::model_state(model, &phase.optimizer, ck),
        }
        .map_err(|e| Failure::problem(e.to_string()))?;
        backend.set_params(params).map_err(|e| {
            Failure::problem(format!(
                "cannot take up the parameters of `{}`: {e}",
                ck.path.display()
            ))
        })?;
        let position = if state.step == 0 {
            format!("after epoch {}", state.epoch)
        } else {
            format!("at epoch {}, step {}", state.epoch + 1, state.step)
        };
        eprintln!("resuming `{}` {position}", ck.path.display());
        Ok(Some(Resume {
            state: state.clone(),
            optimizer_state,
        }))
    }

    /// The loop's checkpointer for `model` trained by `schedule`.
    pub(crate) fn saver<'s>(
        &'s mut self,
        model: &'s Model,
        schedule: &'s Schedule,
        game: Option<&'s GameNames>,
    ) -> Saver<'s> {
        Saver {
            session: self,
            model,
            schedule,
            game,
        }
    }

    /// The message of a run stopped by Ctrl-C at `position` (whose
    /// checkpoint was saved), with the command line that resumes it.
    pub(crate) fn interrupted(&self) -> Failure {
        let mut message = String::from("interrupted");
        if let Some(path) = &self.last_good {
            message.push_str(&format!(
                "; saved checkpoint `{}`\nresume the run with:\n  {}",
                path.display(),
                resume_command(path)
            ));
        }
        Failure {
            message,
            code: EXIT_INTERRUPTED,
        }
    }

    /// `failure` with, when there is one, the last good checkpoint and how
    /// to resume from it.
    pub(crate) fn failed(&self, failure: Failure) -> Failure {
        match &self.last_good {
            Some(path) if self.saving() => Failure {
                message: format!(
                    "{}\nthe last good checkpoint is `{}`; after a fix, resume from it with:\n  {}",
                    failure.message,
                    path.display(),
                    resume_command(path)
                ),
                code: failure.code,
            },
            _ => failure,
        }
    }

    /// Whether Ctrl-C was pressed.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The failure of a run whose loop ended with `error`.
    pub(crate) fn train_failure(&self, error: TrainError) -> Failure {
        self.failed(crate::failure::train_failure(error))
    }
}

/// What a game's checkpoints call it and its optimizer state.
pub(crate) struct GameNames {
    /// `generator, discriminator` (`crate::game::game_name`).
    pub(crate) name: String,
    /// Every step's optimizer state, step after step: name and shape.
    pub(crate) state: Vec<(String, Vec<usize>)>,
}

/// The checkpointer the loop calls: saves and prunes.
pub(crate) struct Saver<'s> {
    session: &'s mut Session,
    model: &'s Model,
    schedule: &'s Schedule,
    /// A game's name and optimizer state (every step's, named by step).
    game: Option<&'s GameNames>,
}

impl Checkpointer for Saver<'_> {
    fn stop_requested(&self) -> bool {
        self.session.stop_requested()
    }

    fn saves_epochs(&self) -> bool {
        self.session.saving()
    }

    /// The `best` checkpoint's parameters, when it holds `epoch`'s.
    fn best_params(&mut self, epoch: usize) -> Option<Vec<Tensor>> {
        let dir = self.session.dir.as_deref()?;
        let ck = nnc_ckpt::load(&nnc_ckpt::checkpoint_files(dir, nnc_ckpt::BEST).0).ok()?;
        (ck.sidecar.epoch == epoch).then_some(ck.params)
    }

    fn save(&mut self, snapshot: &Snapshot<'_>) -> Result<(), String> {
        let session = &mut *self.session;
        let Some(dir) = session.dir.clone() else {
            return Ok(());
        };
        if let Some(record) = snapshot.record {
            session.metrics.push(log_object(record, &session.style));
        }
        let state = &snapshot.state;
        let optimizer = &self.schedule.phases[state.phase.max(1) - 1].optimizer;
        let loop_state = serde_json::to_value(state).map_err(|e| e.to_string())?;
        let sidecar = Sidecar {
            format: nnc_ckpt::FORMAT,
            model_file: session.model_file.clone(),
            model_hash: session.model_hash.clone(),
            model: self
                .game
                .map_or_else(|| self.model.name.clone(), |g| g.name.clone()),
            backend: session.backend.clone(),
            epoch: state.epoch,
            step: state.step,
            phase: state.phase,
            seed: state.seed,
            params: nnc_lower::params::param_specs(self.model)
                .into_iter()
                .map(|s| s.name)
                .collect(),
            state: match self.game {
                Some(game) => game.state.iter().map(|(name, _)| name.clone()).collect(),
                None => nnc_lower::params::optimizer_state(self.model, optimizer)
                    .into_iter()
                    .map(|s| s.name)
                    .collect(),
            },
            loop_state,
            metrics: session.metrics.clone(),
            vocabulary: session.vocabulary.clone(),
        };
        let name = checkpoint_name(state.epoch, state.step);
        let path = nnc_ckpt::save(
            &dir,
            &name,
            &sidecar,
            &snapshot.params,
            &snapshot.optimizer_state,
        )
        .map_err(|e| e.to_string())?;
        session.last_good = Some(path);
        if snapshot.kind == SaveKind::Epoch {
            if let Some(keep) = session.keep {
                nnc_ckpt::prune(&dir, keep).map_err(|e| e.to_string())?;
            }
            if let (Some((metric, best)), Some(record)) =
                (&mut session.keep_best, session.metrics.last())
            {
                let value = record.get(metric.name().as_str()).and_then(Value::as_f64);
                if let Some(value) = value.filter(|v| improves(*metric, *v, *best)) {
                    nnc_ckpt::save(
                        &dir,
                        nnc_ckpt::BEST,
                        &sidecar,
                        &snapshot.params,
                        &snapshot.optimizer_state,
                    )
                    .map_err(|e| e.to_string())?;
                    *best = Some(value);
                }
            }
        }
        Ok(())
    }
}

/// Whether `value` of `metric` beats `best`: higher for accuracies and R²,
/// lower for costs and errors; anything finite beats nothing.
fn improves(metric: Metric, value: f64, best: Option<f64>) -> bool {
    match best {
        None => value.is_finite(),
        Some(best) if metric.higher_is_better() => value > best,
        Some(best) => value < best,
    }
}

/// The value of `metric` in the `best` checkpoint of `dir` (its last
/// record), if it has one.
fn best_so_far(dir: &Path, metric: Metric) -> Option<f64> {
    let ck = nnc_ckpt::load(&nnc_ckpt::checkpoint_files(dir, nnc_ckpt::BEST).0).ok()?;
    ck.sidecar
        .metrics
        .last()?
        .get(metric.name().as_str())?
        .as_f64()
}

/// `epoch-0003` at an epoch's end, `epoch-0003-step-00120` 120 steps into
/// the 4th epoch: names that sort as the positions do.
pub(crate) fn checkpoint_name(epochs_completed: usize, step: usize) -> String {
    if step == 0 {
        format!("epoch-{epochs_completed:04}")
    } else {
        format!("epoch-{epochs_completed:04}-step-{step:05}")
    }
}

/// The command line that resumes this run from `checkpoint`: this
/// process's own arguments, without an earlier `--resume`, with
/// `--resume CHECKPOINT` added.
fn resume_command(checkpoint: &Path) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut args = std::env::args();
    while let Some(arg) = args.next() {
        if arg == "--resume" {
            args.next();
            continue;
        }
        if arg.starts_with("--resume=") {
            continue;
        }
        words.push(arg);
    }
    words.push("--resume".to_string());
    words.push(checkpoint.display().to_string());
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as a POSIX shell reads it back: unchanged when it holds only
/// safe characters, else in single quotes.
fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_positions() {
        let mut names = vec![
            checkpoint_name(10, 0),
            checkpoint_name(3, 120),
            checkpoint_name(3, 0),
            checkpoint_name(2, 7),
        ];
        names.sort();
        assert_eq!(
            names,
            [
                "epoch-0002-step-00007",
                "epoch-0003",
                "epoch-0003-step-00120",
                "epoch-0010"
            ]
        );
    }

    #[test]
    fn words_are_quoted_for_the_shell_only_when_needed() {
        assert_eq!(
            shell_quote("ckpt/epoch-0003.safetensors"),
            "ckpt/epoch-0003.safetensors"
        );
        assert_eq!(shell_quote("my model.nnet"), "'my model.nnet'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
