//! Names people bring from other tools (Keras, PyTorch), with the nnc name
//! each means. A name of this table that the checker does not know is
//! answered with its nnc form first in the "did you mean" (the usual
//! spelling suggestions follow), and a required argument it stands for is
//! not reported missing as well.
//!
//! Habits without an nnc name (Keras `use_bias: false`: every nnc layer
//! has its bias; `lr` as an optimizer argument) get a hint that says what
//! to write instead, in `nnc_diag::check::names::unknown_argument`.

use nnc_diag::check::OptionKind;

/// What kind of name a habit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Habit {
    /// A call argument (`kernel_size: 3`).
    Argument,
    /// An option of a kind (`cost mse`).
    Option(OptionKind),
    /// A setting key (`lr 0.1`).
    Setting,
}

/// `(kind, their name, ours)`.
const HABITS: &[(Habit, &str, &str)] = &[
    (Habit::Argument, "kernel_size", "kernel"),
    (Habit::Argument, "activation", "act"),
    (Habit::Argument, "pool_size", "size"),
    (Habit::Argument, "strides", "stride"),
    (Habit::Argument, "rate", "p"),
    (Habit::Argument, "filters", "filters"),
    (Habit::Argument, "out_channels", "filters"),
    (Habit::Argument, "out_features", "units"),
    (Habit::Argument, "kernel_initializer", "init"),
    (Habit::Argument, "bias_initializer", "bias_init"),
    (
        Habit::Option(OptionKind::Cost),
        "categorical_crossentropy",
        "log_likelihood",
    ),
    (
        Habit::Option(OptionKind::Cost),
        "sparse_categorical_crossentropy",
        "log_likelihood",
    ),
    (
        Habit::Option(OptionKind::Cost),
        "cross_entropy_loss",
        "log_likelihood",
    ),
    (Habit::Option(OptionKind::Cost), "nll", "log_likelihood"),
    (
        Habit::Option(OptionKind::Cost),
        "nll_loss",
        "log_likelihood",
    ),
    (
        Habit::Option(OptionKind::Cost),
        "binary_crossentropy",
        "cross_entropy",
    ),
    (Habit::Option(OptionKind::Cost), "bce", "cross_entropy"),
    (Habit::Option(OptionKind::Cost), "mse", "quadratic"),
    (
        Habit::Option(OptionKind::Cost),
        "mean_squared_error",
        "quadratic",
    ),
    (Habit::Option(OptionKind::Cost), "mse_loss", "quadratic"),
    (
        Habit::Option(OptionKind::Metric),
        "val_loss",
        "validation_cost",
    ),
    (
        Habit::Option(OptionKind::Metric),
        "val_accuracy",
        "validation_accuracy",
    ),
    (
        Habit::Option(OptionKind::Metric),
        "val_acc",
        "validation_accuracy",
    ),
    (
        Habit::Option(OptionKind::Metric),
        "val_mae",
        "validation_mae",
    ),
    (Habit::Option(OptionKind::Metric), "loss", "train_cost"),
    (
        Habit::Option(OptionKind::Metric),
        "accuracy",
        "train_accuracy",
    ),
    (Habit::Option(OptionKind::Optimizer), "SGD", "sgd"),
    (Habit::Option(OptionKind::Optimizer), "Adam", "adam"),
    (Habit::Setting, "lr", "learning_rate"),
    (Habit::Setting, "learning_rate_init", "learning_rate"),
    (Habit::Setting, "epoch", "epochs"),
    (Habit::Setting, "n_epochs", "epochs"),
    (Habit::Setting, "num_epochs", "epochs"),
    (Habit::Setting, "batch", "batch_size"),
    (Habit::Setting, "loss", "cost"),
];

/// The "did you mean" list for `given` among `known`: the nnc name a
/// habit of this kind stands for (when it is among `known`), then the
/// spelling suggestions.
pub(crate) fn suggestions_for(habit: Habit, given: &str, known: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = HABITS
        .iter()
        .filter(|(kind, theirs, ours)| *kind == habit && *theirs == given && known.contains(ours))
        .map(|(_, _, ours)| ours.to_string())
        .collect();
    for s in nnc_diag::suggestions(given, known.iter().copied()) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_habit_comes_first_then_the_spellings() {
        let conv = crate::layers::CONV;
        assert_eq!(
            suggestions_for(Habit::Argument, "kernel_size", conv)[0],
            "kernel"
        );
        assert_eq!(
            suggestions_for(Habit::Argument, "activation", conv)[0],
            "act"
        );
        // Only names the callee takes.
        assert!(suggestions_for(Habit::Argument, "pool_size", conv).is_empty());
        let costs = ["quadratic", "cross_entropy", "log_likelihood"];
        let cost = Habit::Option(OptionKind::Cost);
        assert_eq!(
            suggestions_for(cost, "categorical_crossentropy", &costs),
            ["log_likelihood"]
        );
        assert_eq!(suggestions_for(cost, "mse", &costs), ["quadratic"]);
        let metrics = ["train_cost", "validation_cost", "validation_accuracy"];
        let metric = Habit::Option(OptionKind::Metric);
        assert_eq!(
            suggestions_for(metric, "val_loss", &metrics)[0],
            "validation_cost"
        );
        let keys = ["learning_rate", "epochs", "batch_size"];
        assert_eq!(
            suggestions_for(Habit::Setting, "lr", &keys),
            ["learning_rate"]
        );
    }
}
