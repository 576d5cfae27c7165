//! Why a subcommand stopped: the message and the exit code. Shared by
//! every subcommand that trains, measures or prints a model.

use nnc_lower::backend::BackendError;
use nnc_train::TrainError;

pub(crate) const EXIT_PROBLEMS: u8 = 1;
pub(crate) const EXIT_USAGE: u8 = 2;

/// Why a subcommand stopped: the message and the exit code.
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl Failure {
    pub(crate) fn problem(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_PROBLEMS,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: EXIT_USAGE,
        }
    }

    /// A failure whose message was already printed (a rendered
    /// diagnostic): only the exit code is left.
    pub(crate) fn reported(code: u8) -> Failure {
        Failure {
            message: String::new(),
            code,
        }
    }

    /// Prints the message (unless already printed) and gives the exit code.
    pub(crate) fn exit(self) -> std::process::ExitCode {
        if !self.message.is_empty() {
            eprintln!("error: {}", self.message);
        }
        std::process::ExitCode::from(self.code)
    }
}

/// Reads the model file `path`; when it cannot be read, prints the
/// diagnostic (E0003) and fails with exit status 1, as a file with errors.
pub(crate) fn read_model(path: &std::path::Path) -> Result<String, Failure> {
    nnc_cli::driver::read_source(path).map_err(|error| {
        let name = path.display().to_string();
        let color = std::io::IsTerminal::is_terminal(&std::io::stderr())
            && std::env::var_os("NO_COLOR").is_none();
        eprint!(
            "{}",
            nnc_diag::render::to_text(&[error.to_diagnostic()], &name, "", color)
        );
        Failure::reported(EXIT_PROBLEMS)
    })
}

/// The failure of a run that stopped with `error`. An op the backend
/// cannot run (the JIT lowers every op of the language, but a new op may
/// come to the interpreter first) points at the interpreter.
pub(crate) fn train_failure(error: TrainError) -> Failure {
    let unsupported = matches!(
        &error,
        TrainError::Configure {
            error: BackendError::Unsupported { .. },
            ..
        } | TrainError::Step {
            error: BackendError::Unsupported { .. },
            ..
        }
    );
    if unsupported {
        Failure::problem(format!(
            "{error}; the reference interpreter runs every op: train with `--backend interp`"
        ))
    } else {
        Failure::problem(error.to_string())
    }
}

/// Prints `line` on stdout. A closed pipe (`nnc ... | head -1`) is no
/// error worth a message, and never a panic.
pub(crate) fn print_line(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_op_the_backend_cannot_run_points_at_the_interpreter() {
        let error = TrainError::Configure {
            phase: 1,
            error: BackendError::Unsupported {
                what: "`lstm` (not lowered by the JIT backend yet)".to_string(),
            },
        };
        let failure = train_failure(error);
        assert_eq!(failure.code, EXIT_PROBLEMS);
        assert!(
            failure.message.ends_with("train with `--backend interp`"),
            "{}",
            failure.message
        );
        let other = train_failure(TrainError::NoTrainingExamples);
        assert!(!other.message.contains("--backend"), "{}", other.message);
    }
}
