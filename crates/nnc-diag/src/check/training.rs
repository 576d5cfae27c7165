//! Costs and training (E0301-E0302, E0401-E0406): costs that need other
//! outputs, trained models without cost, phases out of range or order,
//! missing settings and data splits.

use super::words::{act_phrase, plural, tick_list};
use super::BpttProblem;
use crate::{Diagnostic, Label, Span};

/// Why a data split is needed (E0403).
#[derive(Clone, Debug, PartialEq)]
pub enum SplitNeed {
    /// Training needs examples to train on.
    Training,
    /// A metric is measured on this split.
    Metric { metric: String },
    /// `validation holdout(...)` draws from the training split.
    Holdout { split: String },
}

pub(super) fn cost_needs_sigmoid(
    code: &'static str,
    cost: &str,
    act: Option<&str>,
    cost_span: Span,
    output_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!(
            "`{cost}` needs sigmoid outputs, but the output {}",
            act_phrase(act)
        ),
        Label::new(cost_span, "cost chosen here"),
    )
    .with_secondary(output_span, "the output is computed here")
    .with_note("cross-entropy -[y ln a + (1 - y) ln(1 - a)] needs every output a in (0, 1), which sigmoid guarantees")
    .with_hint("use `act: sigmoid` on the output layer, or `cost log_likelihood` with a softmax output")
}

pub(super) fn no_cost(code: &'static str, model: &str, span: Span, model_span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("model `{model}` is trained but has no cost"),
        Label::new(span, "trained here"),
    )
    .with_secondary(model_span, format!("`{model}` is defined here"))
    .with_hint(format!(
        "add a cost to `{model}`: `cost cross_entropy` (sigmoid outputs), `cost log_likelihood` (softmax outputs) or `cost quadratic`"
    ))
}

pub(super) fn source_without_labels(
    code: &'static str,
    span: Span,
    labels: Option<Span>,
) -> Diagnostic {
    let d = Diagnostic::error(
        code,
        "these images have no labels file, but the data's examples need labels",
        Label::new(span, "images without `labels:`"),
    );
    let d = match labels {
        Some(labels) => d.with_secondary(labels, "labels are read as targets here"),
        None => d.with_note("without a `labels` setting, labels are `index`: they are read"),
    };
    d.with_hint(
        "add `labels: \"...-labels-idx1-ubyte.gz\"`, or write `labels none` for unlabelled \
         data (an autoencoder needs none)",
    )
}

pub(super) fn needs_labels(
    code: &'static str,
    model: &str,
    data: &str,
    span: Span,
    cost: Span,
    labels: Option<Span>,
) -> Diagnostic {
    let d = Diagnostic::error(
        code,
        format!("model `{model}` compares an output with labels, but data `{data}` has none"),
        Label::new(span, "trained here"),
    )
    .with_secondary(cost, "this cost reads the labels");
    let d = match labels {
        Some(labels) => d.with_secondary(labels, "`labels none`"),
        None => d,
    };
    d.with_hint(
        "give the data labels (`labels one_hot(10)`, ...), or compare the output with an input \
         (`cost cross_entropy(target: image)`)",
    )
}

pub(super) fn penalty_shape(
    code: &'static str,
    shape: &[usize],
    span: Span,
    from: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!(
            "a cost must be one value per example, but this expression is {}",
            crate::shape_str(shape)
        ),
        Label::new(span, "not one value per example"),
    )
    .with_secondary(from, format!("this is {}", crate::shape_str(shape)))
    .with_note("`cost EXPR` adds the expression's value to each example's cost")
    .with_hint("sum it (`sum(...)`) or average it (`mean(...)`) into one value")
}

pub(super) fn cost_name(
    code: &'static str,
    name: Option<&str>,
    term: Option<Span>,
    span: Span,
) -> Diagnostic {
    let Some(name) = name else {
        return Diagnostic::error(
            code,
            "`cost_name` takes a plain name",
            Label::new(span, "not a name"),
        )
        .with_note("reports call the model's total cost by this name (in JSON, its key)")
        .with_hint("write a name such as `cost_name negative_elbo`");
    };
    let diagnostic = Diagnostic::error(
        code,
        format!("`{name}` cannot name the total cost"),
        Label::new(span, "already the name of something reported"),
    );
    match term {
        Some(term) => diagnostic
            .with_secondary(term, format!("a cost term is called `{name}`"))
            .with_note("each cost term is reported under its own name beside the total"),
        None => diagnostic.with_note(format!(
            "`{name}` is a measure that reports give beside the cost (`cost`, `accuracy`, \
             `mae`, `rmse`, `r2`, `topK_accuracy`)"
        )),
    }
    .with_hint("choose another name, such as `negative_elbo` or `total_loss`")
}

pub(super) fn cost_twice(code: &'static str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        "two costs compare outputs with the data's labels",
        Label::new(span, "this cost reads the labels too"),
    )
    .with_secondary(first, "the first cost reads the labels")
    .with_note("the data give one target per example: the labels, for one cost")
    .with_hint(
        "compare the other output with a model input (`target: image`, as an autoencoder's \
         reconstruction), or remove one cost",
    )
}

pub(super) fn cost_target_shape(
    code: &'static str,
    (output, output_shape): (&str, &[usize]),
    (target, target_shape): (&str, &[usize]),
    span: Span,
    target_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!(
            "the cost compares `{output}` {} with input `{target}` {}",
            crate::shape_str(output_shape),
            crate::shape_str(target_shape)
        ),
        Label::new(span, "shapes differ"),
    )
    .with_secondary(
        target_span,
        format!("`{target}` is {}", crate::shape_str(target_shape)),
    )
    .with_note("a cost compares its output with its target value by value")
    .with_hint(format!(
        "make `{output}` {} (e.g. `reshape` it), or compare it with another input",
        crate::shape_str(target_shape)
    ))
}

pub(super) fn phase_epoch_out_of_range(
    code: &'static str,
    epoch: i64,
    epochs: Option<(usize, Span)>,
    span: Span,
) -> Diagnostic {
    let d = match epochs {
        Some((n, _)) if epoch >= 1 => Diagnostic::error(
            code,
            format!("`at epoch {epoch}` is beyond the last epoch ({n})"),
            Label::new(span, "this phase never starts"),
        ),
        _ => Diagnostic::error(
            code,
            format!("`at epoch {epoch}` is before the first epoch"),
            Label::new(span, "epochs are numbered from 1"),
        ),
    };
    match epochs {
        Some((n, epochs_span)) => d
            .with_secondary(
                epochs_span,
                format!("training runs for {n} epoch{}", plural(n)),
            )
            .with_hint(format!("use an epoch from 1 to {n}")),
        None => d,
    }
}

pub(super) fn missing_settings(code: &'static str, keys: &[String], span: Span) -> Diagnostic {
    let examples: Vec<String> = keys
        .iter()
        .map(|k| format!("`{k} {}`", setting_example(k)))
        .collect();
    Diagnostic::error(
        code,
        format!("missing setting{} {}", plural(keys.len()), tick_list(keys)),
        Label::new(span, format!("this train block has no {}", tick_list(keys))),
    )
    .with_hint(format!("add e.g. {}", examples.join(", ")))
}

fn setting_example(key: &str) -> &'static str {
    match key {
        "learning_rate" => "0.1",
        "batch_size" => "10",
        "epochs" => "30",
        "seed" => "1",
        "optimizer" => "sgd",
        _ => "...",
    }
}

pub(super) fn augment_needs_images(
    code: &'static str,
    augmentation: &str,
    span: Span,
    source_span: Span,
    text: bool,
) -> Diagnostic {
    if text {
        return Diagnostic::error(
            code,
            format!("`{augmentation}` changes inputs, but the training data are characters"),
            Label::new(span, "no augmentation applies to a text"),
        )
        .with_secondary(source_span, "a text: each input is a character's index")
        .with_note("an index moved or blurred is another character, or none")
        .with_hint("remove `augment` from a data block of `text(...)`");
    }
    Diagnostic::error(
        code,
        format!("`{augmentation}` moves pixels, but the training data are not images"),
        Label::new(span, "needs images"),
    )
    .with_secondary(
        source_span,
        "a table of numbers: no rows and columns of pixels",
    )
    .with_note("shift, rotate, flip and crop need the images of `idx(...)` or `folder(...)`")
    .with_hint("keep `noise(sigma)`, which works on any values, or train from images")
}

/// Why a metric does not fit the data's labels (E0406).
#[derive(Clone, Debug, PartialEq)]
pub enum MetricMisfit {
    /// An accuracy on real-valued targets (`labels value`).
    Regression { data: String },
    /// `topK_accuracy` with `K` at least the number of classes.
    TopKOfClasses { k: usize, classes: usize },
    /// An accuracy of a model whose costs all compare outputs with its
    /// inputs (an autoencoder): it reads no labels.
    Reconstruction,
}

pub(super) fn metric_misfit(
    code: &'static str,
    metric: &str,
    misfit: &MetricMisfit,
    span: Span,
    data_span: Span,
) -> Diagnostic {
    let split = metric.split('_').next().unwrap_or("validation");
    match misfit {
        MetricMisfit::Regression { data } => Diagnostic::error(
            code,
            format!("`{metric}` counts classes, but data `{data}` has real-valued labels"),
            Label::new(span, "a classification metric"),
        )
        .with_secondary(data_span, "`labels value`: regression targets")
        .with_hint(format!(
            "measure a regression by `{split}_mae`, `{split}_rmse`, `{split}_r2` or `{split}_cost`"
        )),
        MetricMisfit::Reconstruction => Diagnostic::error(
            code,
            format!("`{metric}` counts classes, but the model reads no labels"),
            Label::new(span, "a classification metric"),
        )
        .with_secondary(
            data_span,
            "every cost of this model compares an output with an input",
        )
        .with_hint(format!(
            "measure the reconstruction by `{split}_rmse`, `{split}_mae` or `{split}_cost`"
        )),
        MetricMisfit::TopKOfClasses { k, classes } => Diagnostic::error(
            code,
            format!("`{metric}` is always 100%: there are only {classes} classes"),
            Label::new(span, format!("every class is among the top {k}")),
        )
        .with_secondary(data_span, format!("{classes} classes"))
        .with_hint(format!(
            "use a `k` below {classes}, e.g. `{split}_top{}_accuracy`, or `{split}_accuracy`",
            (*classes - 1).clamp(1, 5)
        )),
    }
}

pub(super) fn missing_split(
    code: &'static str,
    split: &str,
    data: &str,
    need: &SplitNeed,
    span: Span,
    data_span: Span,
) -> Diagnostic {
    let label = match need {
        SplitNeed::Training => "training needs it".to_string(),
        SplitNeed::Metric { metric } => format!("metric `{metric}` is measured on it"),
        SplitNeed::Holdout { split } => format!("`{split} holdout(...)` draws from it"),
    };
    Diagnostic::error(
        code,
        format!("data `{data}` has no `{split}` split"),
        Label::new(span, label),
    )
    .with_secondary(data_span, format!("`{data}` is defined here"))
    .with_hint(format!("add `{split} SOURCE` to data `{data}`"))
}

pub(super) fn phases_out_of_order(
    code: &'static str,
    epoch: usize,
    previous: usize,
    span: Span,
    previous_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("`at epoch {epoch}` must come after epoch {previous}"),
        Label::new(span, "out of order"),
    )
    .with_secondary(
        previous_span,
        format!("the previous phase starts at epoch {previous}"),
    )
    .with_hint("list phases in strictly increasing epoch order")
}

pub(super) fn several_models(code: &'static str, count: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("a train block of {count} models needs a `step` section for each model it updates"),
        Label::new(span, "several models"),
    )
    .with_note(
        "models trained against each other (a GAN) take turns: each `step MODEL { ... }` has \
         its own optimizer, learning rate and cost, and updates that model only",
    )
    .with_hint(
        "add a `step MODEL { cost ... }` section for each model (with its `optimizer` and \
         `learning_rate`), or train one model per train block",
    )
}

pub(super) fn player_input(
    code: &'static str,
    model: &str,
    input: &str,
    (expected, expected_span): (&[usize], Span),
    (given, given_from): (&[usize], Span),
    span: Span,
) -> Diagnostic {
    let expected_str = crate::shape_str(expected);
    let given_str = crate::shape_str(given);
    let count = |s: &[usize]| s.iter().product::<usize>();
    let note = if count(expected) == count(given) {
        format!(
            "both hold {} values per example, laid out differently",
            count(given)
        )
    } else {
        format!(
            "{given_str} holds {} values per example, {expected_str} holds {}",
            count(given),
            count(expected)
        )
    };
    let hint = if count(expected) == count(given) {
        format!("reshape it first: `reshape({expected_str})`, or change `{input}`'s shape")
    } else {
        format!(
            "make the model that computes it give {expected_str}, or declare `input {input}: \
             {given_str}`"
        )
    };
    let d = Diagnostic::error(
        code,
        format!("`{model}` takes `{input}` of shape {expected_str}, but this is {given_str}"),
        Label::new(span, format!("this is {given_str}")),
    );
    let d = if given_from == span {
        d
    } else {
        d.with_secondary(given_from, format!("{given_str} computed here"))
    };
    d.with_secondary(expected_span, format!("`{input}` is {expected_str}"))
        .with_note(note)
        .with_hint(hint)
}

pub(super) fn step_ignores_model(
    code: &'static str,
    model: &str,
    span: Span,
    step_span: Span,
    detached: bool,
) -> Diagnostic {
    let note = if detached {
        format!(
            "the cost reads `{model}` only through `detach(...)`, which passes no gradient back: \
             the step would leave `{model}` unchanged"
        )
    } else {
        format!(
            "a step updates `{model}` by the gradient of its cost; a cost that never calls \
             `{model}` has none, so the step would leave it unchanged"
        )
    };
    let hint = if detached {
        format!("remove the `detach` around what `{model}` computes in this step")
    } else {
        format!("write the cost with `{model}(...)`, as in `cost -mean(log({model}(real)))`")
    };
    Diagnostic::error(
        code,
        format!("the cost of step `{model}` does not depend on `{model}`'s parameters"),
        Label::new(span, "this cost"),
    )
    .with_secondary(step_span, format!("this step updates `{model}`"))
    .with_note(note)
    .with_hint(hint)
}

pub(super) fn step_model_not_trained(
    code: &'static str,
    model: &str,
    span: Span,
    header: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("step `{model}` updates a model this train block does not train"),
        Label::new(span, "not in the train block's models"),
    )
    .with_secondary(header, "the models this block trains")
    .with_hint(format!("add `{model}` to the models after `train`"))
}

pub(super) fn step_labels(
    code: &'static str,
    data: &str,
    span: Span,
    data_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("`labels` needs one-hot labels, and data `{data}` has no `labels one_hot(k)`"),
        Label::new(span, "the mini-batch's labels"),
    )
    .with_secondary(data_span, "the data")
    .with_note("in a step, `labels` is the one-hot class of each real example, `[k]`")
    .with_hint(format!(
        "add `labels one_hot(10)` (the number of classes) to data `{data}`"
    ))
}

pub(super) fn bptt(code: &'static str, problem: &BpttProblem, span: Span, at: Span) -> Diagnostic {
    let rule = "`bptt T` trains on consecutive windows of T steps of each stream of the text, and each window starts from the recurrent state the one before it ended with";
    match problem {
        BpttProblem::NoState { model } => Diagnostic::error(
            code,
            format!("`bptt` carries recurrent state, but model `{model}` has none"),
            Label::new(span, "nothing to carry"),
        )
        .with_secondary(at, format!("`{model}` has no `rnn`, `lstm` or `gru` layer and no `unroll` that starts at zero"))
        .with_note(rule)
        .with_hint("remove `bptt`, or give the model a recurrent layer"),
        BpttProblem::Bidirectional { layer } => Diagnostic::error(
            code,
            format!("`bptt` cannot carry the state of bidirectional layer `{layer}`"),
            Label::new(at, "reads each window backward too"),
        )
        .with_secondary(span, "state carried here")
        .with_note("the backward direction of a window starts at the window's end, where the next window, not the one before, would give its state")
        .with_hint(format!("remove `bidirectional: true` from `{layer}`, or remove `bptt`")),
        BpttProblem::NotText { data } => Diagnostic::error(
            code,
            format!("`bptt` needs examples that continue one another, but the training split of `{data}` is not a `text` source"),
            Label::new(span, "state carried here"),
        )
        .with_secondary(at, "the training split's source")
        .with_note(rule)
        .with_hint("train on a `text(path, context: T)` source, or remove `bptt`"),
        BpttProblem::Length { bptt, context } => Diagnostic::error(
            code,
            format!("`bptt {bptt}` does not match the text's windows of {context} characters"),
            Label::new(span, format!("{bptt} steps")),
        )
        .with_secondary(at, format!("`context: {context}`: each example is the next {context} characters"))
        .with_note(format!("the state is carried from each example of a stream to the next, so each window is one example of {context} characters, not {bptt}"))
        .with_hint(format!("write `bptt {context}`, or `context: {bptt}` with a model input of [{bptt}]")),
        BpttProblem::Holdout { split } => Diagnostic::error(
            code,
            format!("`bptt` needs the training text whole, but the `{split}` split holds out windows of it at random"),
            Label::new(span, "state carried here"),
        )
        .with_secondary(at, "windows drawn from the training split")
        .with_note("a stream would go on from a window to the one after a held-out gap, as if they were consecutive")
        .with_hint(format!("give `{split}` a slice of the text of its own: `train t[..0.9]` and `{split} t[0.9..]`, `t` the `text(...)` source")),
    }
}
