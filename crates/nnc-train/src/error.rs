//! Why a run failed.

use crate::examples::SplitKind;
use nnc_lower::backend::BackendError;

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
                    (None, Some(t)) => match layer_of(t) {
                        Some(layer) => {
                            format!("`{t}` (layer `{layer}`) became NaN or infinite")
                        }
                        None => format!("`{t}` became NaN or infinite"),
                    },
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

/// The layer a tensor's name belongs to: `dense_2` for `dense_2.z (%9)`,
/// `conv_pool_1.conv2d` for `grad(conv_pool_1.conv2d.weight)`; `None` for
/// a name without a layer part (`cost`).
fn layer_of(tensor: &str) -> Option<&str> {
    let name = tensor.split(" (%").next().unwrap_or(tensor);
    let name = name
        .strip_prefix("grad(")
        .and_then(|n| n.strip_suffix(')'))
        .unwrap_or(name);
    name.rsplit_once('.').map(|(layer, _)| layer)
}

#[cfg(test)]
mod layer_tests {
    use super::layer_of;

    #[test]
    fn tensor_names_give_their_layer() {
        assert_eq!(layer_of("dense_2.z (%9)"), Some("dense_2"));
        assert_eq!(
            layer_of("grad(conv_pool_1.conv2d.weight) (%40)"),
            Some("conv_pool_1.conv2d")
        );
        assert_eq!(layer_of("cost"), None);
    }
}
