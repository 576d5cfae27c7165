//! The steps every subcommand that trains or measures a file shares:
//! read and check the file (printing its diagnostics), pick its train
//! block, load the data.

use crate::failure::Failure;
use nnc_check::program::{Model, Program, TrainSpec};
use nnc_cli::driver::{self, Options};
use nnc_data::Dataset;
use nnc_diag::render;
use nnc_train::{Examples, Splits};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// A file read and checked with its data inspected; its diagnostics have
/// been printed on stderr, as `nnc check` prints them.
pub(crate) struct CheckedFile {
    name: String,
    pub(crate) source: String,
    base_dir: PathBuf,
    report: driver::Report,
    color: bool,
}

impl CheckedFile {
    /// Reads and checks `path`. Fails only when the file cannot be
    /// read (E0003, printed); a file with errors fails later, in [`CheckedFile::program`].
    pub(crate) fn open(path: &Path) -> Result<CheckedFile, Failure> {
        let name = path.display().to_string();
        let source = crate::failure::read_model(path)?;
        let base_dir = driver::base_dir(path).to_path_buf();
        let report = driver::check_source(&source, &base_dir, Options { inspect_data: true });
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        eprint!(
            "{}",
            render::to_text(&report.diagnostics, &name, &source, color)
        );
        Ok(CheckedFile {
            name,
            source,
            base_dir,
            report,
            color,
        })
    }

    /// The file's name as the user wrote it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The checked program, when the file has no errors.
    pub(crate) fn program(&self) -> Result<&Program, Failure> {
        self.report.clean_program().ok_or_else(|| {
            Failure::problem(format!(
                "`{}` has errors ({}); fix them to train",
                self.name,
                plural(self.report.error_count(), "error")
            ))
        })
    }

    fn render(&self, diagnostics: &[nnc_diag::Diagnostic]) -> String {
        render::to_text(diagnostics, &self.name, &self.source, self.color)
    }
}

/// The train block to run: the only one, or the one `--train` names: a
/// model (when one train block trains it), `MODEL/DATA`, or the block's
/// 1-based position in the file.
pub(crate) fn pick_train<'p>(
    program: &'p Program,
    file: &str,
    choice: Option<&str>,
) -> Result<&'p TrainSpec, Failure> {
    let blocks = || {
        program
            .trains
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "{}. `{}` on `{}` (`--train {}/{}`)",
                    i + 1,
                    t.model,
                    t.data,
                    t.model,
                    t.data
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let trains = program.trains.as_slice();
    let Some(choice) = choice else {
        return match trains {
            [] => Err(Failure::problem(format!(
                "`{file}` has no `train` block; add one, e.g. `train MODEL on DATA {{ ... }}`"
            ))),
            [only] => Ok(only),
            _ => Err(Failure::usage(format!(
                "`{file}` has {} train blocks: {}; choose one with `--train MODEL`, \
                 `--train MODEL/DATA` or `--train N`",
                trains.len(),
                blocks()
            ))),
        };
    };
    if trains.is_empty() {
        return Err(Failure::problem(format!(
            "`{file}` has no `train` block; add one, e.g. `train MODEL on DATA {{ ... }}`"
        )));
    }
    if let Ok(index) = choice.parse::<usize>() {
        return index
            .checked_sub(1)
            .and_then(|i| trains.get(i))
            .ok_or_else(|| {
                Failure::usage(format!(
                    "`{file}` has {} train blocks, so `--train {index}` names none: {}",
                    trains.len(),
                    blocks()
                ))
            });
    }
    let (model, data) = match choice.split_once('/') {
        Some((model, data)) => (model, Some(data)),
        None => (choice, None),
    };
    let mut matching = trains
        .iter()
        .filter(|t| t.model == model && data.is_none_or(|d| t.data == d));
    match (matching.next(), matching.next()) {
        (Some(spec), None) => Ok(spec),
        (Some(_), Some(_)) => Err(Failure::usage(format!(
            "`{file}` has several train blocks for model `{model}`: {}; choose one with \
             `--train MODEL/DATA` or `--train N`",
            blocks()
        ))),
        (None, _) => {
            let what = match data {
                Some(data) => format!("model `{model}` on data `{data}`"),
                None => format!("model `{model}`"),
            };
            Err(Failure::usage(format!(
                "`{file}` has no train block for {what}; its train blocks: {}",
                blocks()
            )))
        }
    }
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The model of a train block and its data, loaded.
pub(crate) struct Prepared<'p> {
    /// The trained model; for a game, every player's parameters
    /// (`TrainSpec::game_params`). Under `bptt`, the model that carries
    /// its recurrent state from batch to batch (`Model::carrying`).
    pub(crate) model: std::borrow::Cow<'p, Model>,
    pub(crate) spec: &'p TrainSpec,
    pub(crate) train: Dataset,
    validation: Option<Dataset>,
    test: Option<Dataset>,
}

impl Prepared<'_> {
    /// Warns, on stderr, of a `--train-limit` or `--eval-limit` larger than
    /// the splits it limits (it then limits nothing).
    pub(crate) fn warn_of_limits(&self, options: &nnc_train::Options) {
        let examples = |n: usize| if n == 1 { "example" } else { "examples" };
        if let Some(limit) = options.train_limit.filter(|&l| l > self.train.len()) {
            let n = self.train.len();
            eprintln!(
                "warning: `--train-limit {limit}` is more than the training split holds \
                 ({n} {}); training on all {n}",
                examples(n)
            );
        }
        let measured = [&self.validation, &self.test]
            .into_iter()
            .flatten()
            .map(Dataset::len)
            .max();
        if let (Some(limit), Some(n)) = (options.eval_limit, measured) {
            if limit > n {
                eprintln!(
                    "warning: `--eval-limit {limit}` is more than the validation and test \
                     splits hold (at most {n} {}); measuring all of them",
                    examples(n)
                );
            }
        }
    }

    /// The split whose examples figures show: the test split, else the
    /// validation split, else the training split.
    pub(crate) fn shown(&self) -> &dyn Examples {
        self.test
            .as_ref()
            .or(self.validation.as_ref())
            .unwrap_or(&self.train)
    }

    /// The splits the loop trains on and measures.
    pub(crate) fn splits(&self) -> Splits<'_> {
        Splits {
            train: &self.train,
            validation: self.validation.as_ref().map(|d| d as &dyn Examples),
            test: self.test.as_ref().map(|d| d as &dyn Examples),
        }
    }
}

/// Finds the model and data of `spec` and loads the data; a data error is
/// printed as a diagnostic. The data must have a training split.
pub(crate) fn prepare<'p>(
    checked: &CheckedFile,
    program: &'p Program,
    spec: &'p TrainSpec,
) -> Result<Prepared<'p>, Failure> {
    let model = match spec.game_params() {
        Some(params) => Some(params),
        None => program.model(&spec.model),
    };
    let (Some(model), Some(data)) = (model, program.data(&spec.data)) else {
        return Err(Failure::problem(format!(
            "`{}` has no model `{}` or no data `{}`",
            checked.name, spec.model, spec.data
        )));
    };
    // A game's examples are `real`, shaped as its steps read them.
    let view = spec.data_view();
    let loaded = nnc_data::load(
        data,
        &checked.base_dir,
        Some(view.as_ref().unwrap_or(model)),
    );
    let loaded = loaded.map_err(|errors| {
        let diagnostics: Vec<_> = errors.iter().map(|e| e.to_diagnostic()).collect();
        eprint!("{}", checked.render(&diagnostics));
        Failure::problem(format!(
            "cannot load the data `{}` ({})",
            data.name,
            plural(diagnostics.len(), "error")
        ))
    })?;
    let Some(train) = loaded.train else {
        return Err(Failure::problem(format!(
            "the data `{}` has no `train` split to train on",
            data.name
        )));
    };
    let model = match spec.bptt {
        Some(_) => std::borrow::Cow::Owned(model.carrying()),
        None => std::borrow::Cow::Borrowed(model),
    };
    Ok(Prepared {
        model,
        spec,
        train,
        validation: loaded.validation,
        test: loaded.test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(models: &[&str]) -> Program {
        let source: String = models
            .iter()
            .map(|m| {
                format!(
                    "model {m} {{\n  input x: [2]\n  layers {{ dense(1, act: sigmoid) }}\n  cost cross_entropy\n}}\n\
                     train {m} on d {{\n  learning_rate 0.1\n  batch_size 1\n  epochs 1\n}}\n"
                )
            })
            .chain(["data d {\n  train csv(\"d.csv\", label: \"y\", header: true)\n}\n".into()])
            .collect();
        let report = driver::check_source(&source, Path::new("."), Options::default());
        assert_eq!(report.error_count(), 0, "{:?}", report.diagnostics);
        report.program.unwrap()
    }

    fn message(result: Result<&TrainSpec, Failure>) -> String {
        match result {
            Ok(spec) => format!("ok {}", spec.model),
            Err(f) => format!("{} {}", f.code, f.message),
        }
    }

    #[test]
    fn train_block_is_the_only_one_or_the_one_named() {
        let one = program(&["a"]);
        assert_eq!(message(pick_train(&one, "f.nnet", None)), "ok a");
        let two = program(&["a", "b"]);
        assert_eq!(message(pick_train(&two, "f.nnet", Some("b"))), "ok b");
        assert_eq!(message(pick_train(&two, "f.nnet", Some("b/d"))), "ok b");
        assert_eq!(message(pick_train(&two, "f.nnet", Some("2"))), "ok b");
        let listed = "1. `a` on `d` (`--train a/d`), 2. `b` on `d` (`--train b/d`)";
        assert_eq!(
            message(pick_train(&two, "f.nnet", None)),
            format!(
                "2 `f.nnet` has 2 train blocks: {listed}; choose one with `--train MODEL`, \
                 `--train MODEL/DATA` or `--train N`"
            )
        );
        assert_eq!(
            message(pick_train(&two, "f.nnet", Some("c"))),
            format!("2 `f.nnet` has no train block for model `c`; its train blocks: {listed}")
        );
    }
}
