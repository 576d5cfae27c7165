//! Names and the arguments of calls (E0101-E0107): unknown names and
//! callees, duplicate definitions, unknown, missing, extra and repeated
//! arguments.

use super::words::{plural, takes_note, tick_list, with_did_you_mean};
use crate::{Diagnostic, Label, Span};

/// What kind of thing a name was expected to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// Anything in a model, block or data scope.
    Value,
    Model,
    Data,
    /// A data source bound with `let` in a data block.
    Source,
    /// An output of a model (named by `cost kind(output)`).
    Output,
    /// An input of a model (named by `cost kind(..., target: input)`).
    Input,
}

/// What kind of definition a name has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefKind {
    Const,
    Block,
    Model,
    Data,
    Input,
    Let,
    Layer,
    Output,
    Param,
    /// A `step MODEL` section (one per model).
    Step,
}

impl DefKind {
    pub(super) fn word(self) -> &'static str {
        match self {
            DefKind::Const => "constant",
            DefKind::Block => "block",
            DefKind::Model => "model",
            DefKind::Data => "data block",
            DefKind::Input => "input",
            DefKind::Let => "let binding",
            DefKind::Layer => "layer instance",
            DefKind::Output => "output",
            DefKind::Param => "parameter",
            DefKind::Step => "step",
        }
    }
}

pub(super) fn unknown_name(
    code: &'static str,
    name: &str,
    kind: NameKind,
    span: Span,
    did_you_mean: &[String],
    defined_later: Option<Span>,
) -> Diagnostic {
    let (message, label) = match kind {
        NameKind::Value => (
            format!("unknown name `{name}`"),
            "not defined in this scope",
        ),
        NameKind::Model => (format!("unknown model `{name}`"), "no model with this name"),
        NameKind::Data => (
            format!("unknown data block `{name}`"),
            "no data block with this name",
        ),
        NameKind::Source => (
            format!("unknown data source `{name}`"),
            "not a `let` of this data block",
        ),
        NameKind::Input => (
            format!("unknown input `{name}`"),
            "not an input of this model",
        ),
        NameKind::Output => (
            format!("unknown output `{name}`"),
            "not an output of this model",
        ),
    };
    let mut d = Diagnostic::error(code, message, Label::new(span, label));
    if let Some(later) = defined_later {
        d = d
            .with_secondary(later, format!("`{name}` is defined here, after its use"))
            .with_note("names in a model are visible from their definition on");
    }
    with_did_you_mean(d, did_you_mean)
}

pub(super) fn unknown_callee(
    code: &'static str,
    name: &str,
    span: Span,
    did_you_mean: &[String],
) -> Diagnostic {
    with_did_you_mean(
        Diagnostic::error(
            code,
            format!("unknown layer or function `{name}`"),
            Label::new(span, "not a layer, block or function"),
        ),
        did_you_mean,
    )
}

pub(super) fn duplicate(
    code: &'static str,
    name: &str,
    kind: DefKind,
    span: Span,
    first: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("the name `{name}` is defined more than once"),
        Label::new(span, format!("{} `{name}` redefined here", kind.word())),
    )
    .with_secondary(first, format!("first definition of `{name}` here"))
    .with_hint("rename one of them")
}

pub(super) fn unknown_argument(
    code: &'static str,
    callee: &str,
    name: &str,
    span: Span,
    did_you_mean: &[String],
    takes: &[String],
) -> Diagnostic {
    let d = with_did_you_mean(
        Diagnostic::error(
            code,
            format!("`{callee}` has no argument `{name}`"),
            Label::new(span, "unknown argument"),
        ),
        did_you_mean,
    )
    .with_note(takes_note(callee, takes));
    // Habits of other tools with no nnc name to suggest: the optimizer's
    // rate and momentum live elsewhere in a train block, and a layer's bias
    // cannot be turned off.
    let optimizer = matches!(callee, "sgd" | "momentum" | "nesterov" | "adam");
    match name {
        "lr" | "learning_rate" if optimizer => d.with_hint(
            "the learning rate is a setting of the train block, not an argument of the \
             optimizer: write `learning_rate 0.001` on its own line",
        ),
        // Keras `use_bias=False`, PyTorch `bias=False`: nnc has no layer
        // without a bias.
        "use_bias" | "bias" if takes.iter().any(|t| t == "bias_init") => d.with_hint(format!(
            "every `{callee}` layer has a bias, which cannot be left out: `bias_init: zeros` \
             starts it at zero, and training then updates it like the weights"
        )),
        "momentum" if callee == "sgd" => d.with_hint(
            "SGD with momentum is its own optimizer here: write `optimizer momentum(0.9)` (or \
             `nesterov(0.9)`)",
        ),
        _ => d,
    }
}

pub(super) fn missing_arguments(
    code: &'static str,
    callee: &str,
    names: &[String],
    span: Span,
    takes: &[String],
) -> Diagnostic {
    let (message, label) = if names.len() == 1 {
        let name = names.first().map(String::as_str).unwrap_or("?");
        (
            format!("missing argument `{name}` for `{callee}`"),
            format!("`{callee}` needs `{name}`"),
        )
    } else {
        (
            format!("missing arguments {} for `{callee}`", tick_list(names)),
            format!("`{callee}` needs {}", tick_list(names)),
        )
    };
    let d = Diagnostic::error(code, message, Label::new(span, label))
        .with_note(takes_note(callee, takes));
    if callee == "csv" && names == ["label"] {
        // Only labelled data needs it: a table without a label column is
        // read with `labels none`.
        return d.with_hint(
            "name the label column (`label: \"digit\"` or `label: 0`), or, for a table of \
             inputs alone (an autoencoder's), write `labels none`",
        );
    }
    d
}

pub(super) fn cost_needs_output(
    code: &'static str,
    cost: &str,
    outputs: &[String],
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("`{cost}` must name the output it applies to"),
        Label::new(span, format!("this model has {} outputs", outputs.len())),
    )
    .with_note(format!("the outputs are {}", tick_list(outputs)))
    .with_hint(format!(
        "write `cost {cost}({})`",
        outputs.first().map(String::as_str).unwrap_or("output")
    ))
}

pub(super) fn too_many_positional(
    code: &'static str,
    callee: &str,
    max: usize,
    given: usize,
    span: Span,
    takes: &[String],
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!(
            "`{callee}` takes {max} positional argument{} but {given} were given",
            plural(max)
        ),
        Label::new(span, "unexpected argument"),
    )
    .with_note(takes_note(callee, takes))
}

pub(super) fn argument_twice(
    code: &'static str,
    callee: &str,
    name: &str,
    span: Span,
    first: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("argument `{name}` of `{callee}` is given twice"),
        Label::new(span, "given again here"),
    )
    .with_secondary(first, "first given here")
}

pub(super) fn exclusive_arguments(
    code: &'static str,
    callee: &str,
    name: &str,
    other: &str,
    decides: &str,
    span: Span,
    other_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("`{name}` and `{other}` of `{callee}` cannot be given together"),
        Label::new(span, format!("this sets {decides}")),
    )
    .with_secondary(other_span, "and so does this")
    .with_hint(format!("keep one of them: remove `{name}` or `{other}`"))
}
