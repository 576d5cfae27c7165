//! Why a run failed.

use crate::examples::SplitKind;
use nnc_ir::backend::BackendError;

/// A failed run. Each variant names where in the run it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// The training split has no examples (or `--train-limit 0`).
    NoTrainingExamples,
    /// The train block has no phase (the checker always gives one).
    NoPhases,
    /// The cost became NaN or infinite: training diverged.
    Diverged {
        epoch: usize,
        /// 1-based.
        batch: usize,
        batches: usize,
        learning_rate: f64,
        /// The tensor the backend saw go non-finite, when it said.
        tensor: Option<String>,
        /// The cost reported for the batch, when there was one.
        cost: Option<f64>,
    },
    /// The backend could not set the parameters.
    SetParams(BackendError),
    /// The backend could not build the training step of a phase.
    Configure { phase: usize, error: BackendError },
    /// A training step failed for another reason than a non-finite value.
    Step {
        epoch: usize,
        batch: usize,
        error: BackendError,
    },
    /// Evaluating a split failed.
    Evaluate {
        epoch: usize,
        split: SplitKind,
        error: BackendError,
    },
    /// A saved position cannot be resumed by this run (another seed or
    /// number of examples, a phase the schedule lacks, optimizer state the
    /// backend refuses).
    Resume { problem: String },
    /// A checkpoint could not be saved; `epoch` epochs were completed and
    /// `step` steps done in the next.
    Checkpoint {
        epoch: usize,
        step: usize,
        message: String,
    },
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::NoTrainingExamples => {
                write!(f, "the training split has no examples to train on")
            }
            TrainError::NoPhases => write!(f, "the train block has no training settings"),
            TrainError::Diverged {
                epoch,
                batch,
                batches,
                learning_rate,
                tensor,
                cost,
            } => {
                let what = match (cost, tensor) {
                    (Some(c), _) => format!("the cost became {c}"),
                    (None, Some(t)) if t == "cost" => "the cost became NaN or infinite".to_string(),
                    (None, Some(t)) => format!("`{t}` became NaN or infinite"),
                    (None, None) => "the cost became NaN or infinite".to_string(),
                };
                write!(
                    f,
                    "training diverged: {what} at epoch {epoch}, batch {batch} of {batches} \
                     (learning rate {learning_rate}); try a lower learning rate"
                )
            }
            TrainError::SetParams(error) => {
                write!(f, "cannot set the initial parameters: {error}")
            }
            TrainError::Configure { phase, error } => {
                write!(
                    f,
                    "cannot build the training step of phase {phase}: {error}"
                )
            }
            TrainError::Step {
                epoch,
                batch,
                error,
            } => write!(
                f,
                "training step failed at epoch {epoch}, batch {batch}: {error}"
            ),
            TrainError::Evaluate {
                epoch,
                split,
                error,
            } => write!(
                f,
                "evaluating the {} split after epoch {epoch} failed: {error}",
                split.name()
            ),
            TrainError::Resume { problem } => write!(f, "cannot resume the run: {problem}"),
            TrainError::Checkpoint {
                epoch,
                step,
                message,
            } => {
                if *step == 0 {
                    write!(
                        f,
                        "cannot save the checkpoint after epoch {epoch}: {message}"
                    )
                } else {
                    write!(
                        f,
                        "cannot save the checkpoint at epoch {}, step {step}: {message}",
                        epoch + 1
                    )
                }
            }
        }
    }
}

impl std::error::Error for TrainError {}
