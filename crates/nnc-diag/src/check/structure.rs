//! What bodies hold (E0111-E0115, E0117): unknown and repeated settings,
//! statements out of place, blocks that recurse or expand too far, model
//! inputs and outputs.

use super::words::{plural, tick_list, with_did_you_mean};
use super::CellProblem;
use crate::{thousands, Diagnostic, Label, Span};

/// The kind of body a statement appears in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Model,
    Block,
    Data,
    Train,
    Phase,
    /// A train block of several models (`train g, d on data`).
    Game,
    /// A `step MODEL { ... }` section.
    Step,
    /// An `at epoch` phase inside a `step`.
    StepPhase,
}

impl BodyKind {
    pub(super) fn word(self) -> &'static str {
        match self {
            BodyKind::Model => "model",
            BodyKind::Block => "block",
            BodyKind::Data => "data block",
            BodyKind::Train => "train block",
            BodyKind::Phase => "`at epoch` phase",
            BodyKind::Game => "train block of several models",
            BodyKind::Step => "`step` section",
            BodyKind::StepPhase => "`at epoch` phase of a step",
        }
    }
}

/// A statement, for "not allowed here".
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    Input,
    Output,
    Let,
    Layer,
    Layers,
    At,
    Section,
    /// A setting with a known key that does not belong in this body.
    Setting {
        key: String,
    },
    /// A layer call written as a statement, `dense(30)`.
    LayerCall {
        name: String,
    },
}

impl StmtKind {
    pub(super) fn describe(&self) -> String {
        match self {
            StmtKind::Input => "`input`".into(),
            StmtKind::Output => "`output`".into(),
            StmtKind::Let => "`let`".into(),
            StmtKind::Layer => "`layer`".into(),
            StmtKind::Layers => "`layers`".into(),
            StmtKind::At => "`at epoch`".into(),
            StmtKind::Section => "a named section".into(),
            StmtKind::Setting { key } => format!("setting `{key}`"),
            StmtKind::LayerCall { name } => format!("the layer `{name}` as a statement"),
        }
    }
}

pub(super) fn unknown_setting(
    code: &'static str,
    body: BodyKind,
    key: &str,
    known: &[String],
    did_you_mean: &[String],
    span: Span,
) -> Diagnostic {
    with_did_you_mean(
        Diagnostic::error(
            code,
            format!("unknown setting `{key}` in a {}", body.word()),
            Label::new(span, "unknown setting"),
        ),
        did_you_mean,
    )
    .with_note(format!("a {} accepts {}", body.word(), tick_list(known)))
}

pub(super) fn not_allowed(
    code: &'static str,
    stmt: &StmtKind,
    body: BodyKind,
    span: Span,
) -> Diagnostic {
    let d = Diagnostic::error(
        code,
        format!("{} is not allowed in a {}", stmt.describe(), body.word()),
        Label::new(span, "not allowed here"),
    );
    let hint = match (stmt, body) {
        (StmtKind::LayerCall { .. }, _) => Some(
            "put layers inside `layers { ... }`, or apply them with `let h = x |> ...`".to_string(),
        ),
        (StmtKind::Setting { .. }, BodyKind::Phase) => Some(
            "only `learning_rate`, `batch_size` and `optimizer` can change in an `at epoch` phase"
                .to_string(),
        ),
        (StmtKind::Section, _) => {
            Some("named sections are reserved for training several models at once".to_string())
        }
        (
            StmtKind::Layers | StmtKind::Layer | StmtKind::Input | StmtKind::Output,
            BodyKind::Data | BodyKind::Train | BodyKind::Phase,
        ) => Some("layers and tensors belong in a `model` or `block`".to_string()),
        (StmtKind::At, _) => Some("`at epoch` phases belong in a `train` block".to_string()),
        (StmtKind::Setting { .. }, BodyKind::Block) => {
            Some("costs and regularizers belong to the model that uses the block".to_string())
        }
        _ => None,
    };
    match hint {
        Some(h) => d.with_hint(h),
        None => d,
    }
}

pub(super) fn recursive_block(
    code: &'static str,
    block: &str,
    cycle: &[String],
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("block `{block}` instantiates itself"),
        Label::new(span, "recursive use here"),
    )
    .with_note(format!("the chain is {}", cycle.join(" -> ")))
    .with_hint("blocks are expanded when the model is checked, so they cannot call themselves")
}

pub(super) fn blocks_too_deep(
    code: &'static str,
    block: &str,
    limit: usize,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("blocks are nested more than {limit} deep"),
        Label::new(span, format!("block `{block}` is expanded too deep here")),
    )
    .with_hint("flatten the nesting of blocks")
}

pub(super) fn expansion_too_large(
    code: &'static str,
    model: &str,
    limit: usize,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!(
            "model `{model}` expands to more than {} nodes",
            thousands(limit as u64)
        ),
        Label::new(span, "expansion stopped here"),
    )
    .with_note("every block instantiation adds its own layers")
    .with_hint("use fewer nested block instantiations")
}

pub(super) fn layers_need_one_input(
    code: &'static str,
    model: &str,
    inputs: &[(String, Span)],
    span: Span,
) -> Diagnostic {
    if inputs.is_empty() {
        return Diagnostic::error(
            code,
            format!("`layers` needs an input, but model `{model}` has none"),
            Label::new(span, "applied to which input?"),
        )
        .with_hint("declare the input, e.g. `input image: [784]`");
    }
    let mut d = Diagnostic::error(
        code,
        format!(
            "`layers` needs exactly one model input, but model `{model}` has {}",
            inputs.len()
        ),
        Label::new(span, "applied to which input?"),
    );
    for (name, input_span) in inputs {
        d = d.with_secondary(*input_span, format!("input `{name}`"));
    }
    let first = inputs.first().map_or("x", |(name, _)| name.as_str());
    d.with_hint(format!(
        "with several inputs, say which one each layer takes: `let h = {first} |> dense(30)`"
    ))
}

pub(super) fn model_without_input(code: &'static str, model: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("model `{model}` has no input"),
        Label::new(span, "no `input` in this model"),
    )
    .with_hint("declare one, e.g. `input image: [784]`")
}

pub(super) fn input_without_shape(code: &'static str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("model input `{name}` has no shape"),
        Label::new(span, "shape missing"),
    )
    .with_hint(format!(
        "give its shape, e.g. `input {name}: [784]` or `input {name}: [1, 28, 28]`"
    ))
}

pub(super) fn layer_inputs(
    code: &'static str,
    layer: &str,
    expected: usize,
    given: usize,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!(
            "`{layer}` takes {expected} input tensor{} but {given} {} given",
            plural(expected),
            if given == 1 { "was" } else { "were" }
        ),
        Label::new(span, format!("{given} tensor{} here", plural(given))),
    )
    .with_hint(format!("pass the input tensors as the leading arguments, `{layer}(a, ...)`, or pipe one in with `|>`"))
}

pub(super) fn trained_model_inputs(
    code: &'static str,
    model: &str,
    inputs: usize,
    span: Span,
    model_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("model `{model}` has {inputs} inputs, but a data block feeds one"),
        Label::new(span, "trained here"),
    )
    .with_secondary(model_span, format!("`{model}` is defined here"))
}

pub(super) fn block_outputs(
    code: &'static str,
    block: Option<&str>,
    outputs: &[String],
    given: Option<usize>,
    span: Span,
) -> Diagnostic {
    let listed = outputs
        .iter()
        .map(|o| format!("`{o}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let unpack = format!("let ({}) = ", outputs.join(", "));
    match (block, given) {
        (None, _) => Diagnostic::error(
            code,
            "`let (...) = ...` unpacks the outputs of a block",
            Label::new(span, "not a call of a block"),
        )
        .with_note("a dataflow block with several `output` statements gives one tensor per output")
        .with_hint("call such a block here, or bind one tensor with `let NAME = ...`"),
        (Some(block), None) => Diagnostic::error(
            code,
            format!(
                "block `{block}` has {} outputs and gives no one tensor",
                outputs.len()
            ),
            Label::new(
                span,
                format!("used here as one tensor; its outputs are {listed}"),
            ),
        )
        .with_hint(format!("unpack them: `{unpack}{block}(...)`")),
        (Some(block), Some(n)) => Diagnostic::error(
            code,
            format!(
                "block `{block}` has {} output{}, and {n} name{} unpack it",
                outputs.len(),
                if outputs.len() == 1 { "" } else { "s" },
                if n == 1 { "" } else { "s" }
            ),
            Label::new(span, format!("its outputs are {listed}")),
        )
        .with_hint(if outputs.len() == 1 {
            format!(
                "bind its one output with `let {} = {block}(...)`",
                outputs[0]
            )
        } else {
            format!("write one name per output, in the block's order: `{unpack}{block}(...)`")
        }),
    }
}

pub(super) fn no_output(
    code: &'static str,
    name: &str,
    block: bool,
    span: Span,
    last_let: Option<&(String, Span)>,
) -> Diagnostic {
    let what = if block { "block" } else { "model" };
    let d = Diagnostic::error(
        code,
        format!("{what} `{name}` has no output"),
        Label::new(span, "nothing is marked as output"),
    );
    if let Some((value, at)) = last_let {
        return d
            .with_secondary(*at, "the last value computed")
            .with_hint(format!(
                "did you mean `output {value}`? add it after this `let`, or write \
                 `output {value} = ...` in its place"
            ));
    }
    d.with_hint(if block {
        "end the block with `output y = ...`".to_string()
    } else {
        "add `layers { ... }` or `output y = ...`".to_string()
    })
}

pub(super) fn setting_twice(code: &'static str, key: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("setting `{key}` is given twice"),
        Label::new(span, "given again here"),
    )
    .with_secondary(first, "first given here")
    .with_hint("remove one of them")
}

pub(super) fn cell(
    code: &'static str,
    block: &str,
    problem: &CellProblem,
    span: Span,
    at: Span,
) -> Diagnostic {
    let shape = |s: &[usize]| {
        let dims: Vec<String> = s.iter().map(|d| d.to_string()).collect();
        format!("[{}]", dims.join(", "))
    };
    let cell_rule = "a cell's first input is the step's value; each further input is a state, and an output `STATE_next` gives its value for the next step";
    match problem {
        CellProblem::NotABlock { found } => Diagnostic::error(
            code,
            format!("`unroll` needs a cell (a dataflow block), found {found}"),
            Label::new(at, "not a dataflow block"),
        )
        .with_note(cell_rule)
        .with_hint("for the builtin cells, apply `rnn(units)`, `lstm(units)` or `gru(units)` to the sequence instead"),
        CellProblem::NoState { inputs } => Diagnostic::error(
            code,
            format!("block `{block}` has no state to carry from step to step"),
            Label::new(span, "unrolled here"),
        )
        .with_secondary(at, format!("its inputs: {}", names(inputs)))
        .with_note(cell_rule)
        .with_hint(format!("declare the state after the step's input, e.g. `input h: [units]`, and give `output h_next = ...` in `{block}`")),
        CellProblem::NoNext { state, outputs } => Diagnostic::error(
            code,
            format!("state `{state}` of cell `{block}` has no next value"),
            Label::new(at, format!("state `{state}` is declared here")),
        )
        .with_secondary(span, "unrolled here")
        .with_note(format!("the outputs of `{block}`: {}", names(outputs)))
        .with_hint(format!("add `output {state}_next = ...` to `{block}`: the value of `{state}` for the next step")),
        CellProblem::NoShape { state } => Diagnostic::error(
            code,
            format!("state `{state}` of cell `{block}` has no shape, so its zero initial value cannot be made"),
            Label::new(at, "no shape declared"),
        )
        .with_secondary(span, "unrolled here")
        .with_hint(format!("declare it, e.g. `input {state}: [units]`, or give the initial states: `unroll(..., state: [...])`")),
        CellProblem::StateShape {
            state,
            expected,
            found,
        } => Diagnostic::error(
            code,
            format!(
                "cell `{block}` gives `{state}_next` of shape {}, but state `{state}` is {}",
                shape(found),
                shape(expected)
            ),
            Label::new(span, "unrolled here"),
        )
        .with_secondary(at, format!("state `{state}` is {}", shape(expected)))
        .with_hint(format!("`{state}_next` must have the shape of `{state}`: it is `{state}` at the next step")),
        CellProblem::StateCount { expected, given } => Diagnostic::error(
            code,
            format!(
                "`state:` gives {given} initial value{} for the {} state{} of `{block}`",
                if *given == 1 { "" } else { "s" },
                expected.len(),
                if expected.len() == 1 { "" } else { "s" }
            ),
            Label::new(span, format!("{given} given")),
        )
        .with_secondary(at, format!("its states: {}", names(expected)))
        .with_hint("give one tensor per state, in the order the block declares them"),
    }
}

fn names(list: &[String]) -> String {
    if list.is_empty() {
        return "none".to_string();
    }
    list.iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn embed_input(code: &'static str, span: Span, input_from: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        "`embed` reads class indices, but this tensor is computed",
        Label::new(span, "needs the indices of a model input"),
    )
    .with_secondary(input_from, "computed here: its values are no indices")
    .with_note("an embedding looks up one row of its table per index; only the data gives indices (`text(...)` gives a character's index per step)")
    .with_hint("apply `embed` to a model input, e.g. `input text: [100]` then `text |> embed(65, 32)`")
}
