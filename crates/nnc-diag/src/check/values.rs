//! Values (E0108-E0110, E0116): values of the wrong kind or out of range,
//! empty slices, unknown option words, and constant expressions that
//! cannot be evaluated.

use super::shapes::Shape;
use super::words::{article, float_str, plural, tick_list, with_did_you_mean};
use crate::{shape_str, Diagnostic, Label, Span};

/// A number as the user wrote it (integers stay integers in messages).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Int(i64),
    Float(f64),
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{}", float_str(*x)),
        }
    }
}

/// One end of a [`Range`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    pub value: Num,
    pub inclusive: bool,
}

/// The values an argument or setting accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    pub min: Option<Bound>,
    pub max: Option<Bound>,
}

impl Range {
    /// `>= value`.
    pub fn at_least(value: Num) -> Self {
        Range {
            min: Some(Bound {
                value,
                inclusive: true,
            }),
            max: None,
        }
    }

    /// `> value`.
    pub fn above(value: Num) -> Self {
        Range {
            min: Some(Bound {
                value,
                inclusive: false,
            }),
            max: None,
        }
    }

    /// `min <= x < max` style ranges with the inclusiveness given.
    pub fn between(min: Num, min_inclusive: bool, max: Num, max_inclusive: bool) -> Self {
        Range {
            min: Some(Bound {
                value: min,
                inclusive: min_inclusive,
            }),
            max: Some(Bound {
                value: max,
                inclusive: max_inclusive,
            }),
        }
    }

    pub(super) fn describe(&self) -> String {
        // Bounds read as math: `[0, 1)`, `greater than 0`.
        let b = |n: Num| match n {
            Num::Int(i) => i.to_string(),
            Num::Float(x) => x.to_string(),
        };
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!(
                "in {}{}, {}{}",
                if lo.inclusive { "[" } else { "(" },
                b(lo.value),
                b(hi.value),
                if hi.inclusive { "]" } else { ")" }
            ),
            (Some(lo), None) if lo.inclusive => format!("at least {}", b(lo.value)),
            (Some(lo), None) => format!("greater than {}", b(lo.value)),
            (None, Some(hi)) if hi.inclusive => format!("at most {}", b(hi.value)),
            (None, Some(hi)) => format!("less than {}", b(hi.value)),
            (None, None) => "a valid value".to_string(),
        }
    }
}

/// What a value was given for, in "`{subject}` must be ..." messages.
#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    /// Argument `param` of the call `callee(...)`.
    Argument { callee: String, param: String },
    /// The value of a setting, `learning_rate 0.1`.
    Setting { key: String },
    /// The value of `let name = ...`.
    Let { name: String },
    /// The value of `layer name = ...`.
    LayerDef { name: String },
    /// What `output name` refers to.
    Output { name: String },
    /// The value of `const name = ...`.
    Const { name: String },
    /// A dimension of a shape.
    Dimension,
    /// The shape of `input name: ...`.
    InputShape { name: String },
    /// The shape after `->`.
    AssertedShape,
    /// An operand of an arithmetic operator.
    Operand { op: String },
    /// A stage of a pipe or an item of a `layers` list: must be a layer.
    Stage,
    /// The start of a pipe, `x |> ...`: must be a tensor.
    PipeStart,
    /// A bound of a slice `src[a..b]`.
    SliceBound,
    /// The epoch of `at epoch N`.
    Epoch,
    /// A data split, `train src`.
    Split { split: String },
    /// An element of `values([...])`.
    InitValue,
    /// The number of channels of an image.
    Channels,
}

impl Subject {
    pub(super) fn describe(&self) -> String {
        match self {
            Subject::Argument { callee, param } => format!("argument `{param}` of `{callee}`"),
            Subject::Setting { key } => format!("setting `{key}`"),
            Subject::Let { name } => format!("`let {name}`"),
            Subject::LayerDef { name } => format!("`layer {name}`"),
            Subject::Output { name } => format!("output `{name}`"),
            Subject::Const { name } => format!("constant `{name}`"),
            Subject::Dimension => "a shape dimension".to_string(),
            Subject::InputShape { name } => format!("the shape of input `{name}`"),
            Subject::AssertedShape => "the asserted shape".to_string(),
            Subject::Operand { op } => format!("an operand of `{op}`"),
            Subject::Stage => "a pipe stage".to_string(),
            Subject::PipeStart => "the start of a pipe".to_string(),
            Subject::SliceBound => "a slice bound".to_string(),
            Subject::Epoch => "the epoch of `at epoch`".to_string(),
            Subject::Split { split } => format!("split `{split}`"),
            Subject::InitValue => "an element of `values`".to_string(),
            Subject::Channels => "the number of channels".to_string(),
        }
    }
}

/// The kind of value a place accepts.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    PositiveInt,
    NonNegativeInt,
    Int,
    Number,
    Str,
    Bool,
    /// An integer or `[a, b]`.
    IntOrPair,
    /// `valid`, `same`, an integer, `[a, b]` or `[top, bottom, left, right]`.
    Padding,
    /// A list of positive integers.
    Shape,
    /// A list of positive integers, one of which may be `-1`.
    ReshapeShape,
    Tensor,
    Layer,
    /// A number (to scale by) or a tensor of the same shape.
    NumberOrTensor,
    /// One of a fixed set of words; the kind names the set.
    Option(OptionKind),
    /// A name (of an output, a data source).
    Name,
    /// A list of metrics or one metric.
    Metrics,
    /// A list of augmentations (`[shift(1), noise(0.1)]`) or one.
    Augmentations,
    /// A string or an integer (a CSV label column).
    Column,
    /// `[channels, height, width]`.
    ImageShape,
    /// A `layer` instance of one dense or convolution layer, applied
    /// (`weight(enc)`).
    LayerInstance,
}

impl Expected {
    pub(super) fn describe(&self) -> String {
        match self {
            Expected::PositiveInt => "a positive integer".into(),
            Expected::NonNegativeInt => "a non-negative integer".into(),
            Expected::Int => "an integer".into(),
            Expected::Number => "a number".into(),
            Expected::Str => "a string".into(),
            Expected::Bool => "`true` or `false`".into(),
            Expected::IntOrPair => "an integer or a list of 2 integers".into(),
            Expected::Padding => {
                "`valid`, `same`, an integer, `[rows, columns]` or `[top, bottom, left, right]`"
                    .into()
            }
            Expected::Shape => "a list of positive integers".into(),
            Expected::ReshapeShape => "a list of positive integers (one may be -1)".into(),
            Expected::Tensor => "a tensor".into(),
            Expected::Layer => "a layer".into(),
            Expected::LayerInstance => {
                "a `layer` instance of one dense or convolution layer, applied before".into()
            }
            Expected::NumberOrTensor => "a number or a tensor".into(),
            Expected::Option(kind) => format!("{} {}", article(kind.word()), kind.word()),
            Expected::Name => "a name".into(),
            Expected::Metrics => "a metric or a list of metrics".into(),
            Expected::Augmentations => {
                "an augmentation or a list of them (`[shift(1), noise(0.1)]`)".into()
            }
            Expected::Column => "a column name (string) or a column index (integer)".into(),
            Expected::ImageShape => "a shape [channels, height, width]".into(),
        }
    }
}

/// A value as found, for "found ..." labels.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// A list with this many elements.
    List(usize),
    /// A bare word such as `relu` or `same`.
    Word(String),
    /// A call such as `gaussian(1.0)`, by its callee.
    Call(String),
    /// A tensor, with its shape if known.
    Tensor(Option<Shape>),
    /// A layer (a builtin, a block, a `layer` instance).
    Layer(String),
    /// A slice `src[a..b]` of a data source.
    Slice(String),
}

impl Found {
    pub(super) fn describe(&self) -> String {
        match self {
            Found::Int(i) => format!("`{i}`"),
            Found::Float(x) => format!("`{}`", float_str(*x)),
            Found::Str(s) => format!("the string \"{s}\""),
            Found::Bool(b) => format!("`{b}`"),
            Found::List(n) => format!("a list of {n} element{}", plural(*n)),
            Found::Word(w) => format!("`{w}`"),
            Found::Call(c) => format!("`{c}(...)`"),
            Found::Tensor(Some(shape)) => format!("a tensor of shape {}", shape_str(shape)),
            Found::Tensor(None) => "a tensor".to_string(),
            Found::Layer(name) => format!("the layer `{name}`"),
            Found::Slice(base) => format!("a slice of `{base}`"),
        }
    }
}

/// A set of option words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    Activation,
    Padding,
    Init,
    Rounding,
    Optimizer,
    Cost,
    Regularizer,
    Metric,
    Labels,
    Decay,
    Source,
    Augmentation,
    FlipAxis,
    Upsampling,
    /// What a recurrent layer returns: `all` or `last`.
    Return,
}

impl OptionKind {
    pub(super) fn word(self) -> &'static str {
        match self {
            OptionKind::Activation => "activation",
            OptionKind::Padding => "padding",
            OptionKind::Init => "initialiser",
            OptionKind::Rounding => "rounding mode",
            OptionKind::Optimizer => "optimizer",
            OptionKind::Cost => "cost",
            OptionKind::Regularizer => "regularizer",
            OptionKind::Metric => "metric",
            OptionKind::Labels => "label encoding",
            OptionKind::Decay => "decay schedule",
            OptionKind::Source => "data source",
            OptionKind::Augmentation => "augmentation",
            OptionKind::FlipAxis => "flip axis",
            OptionKind::Upsampling => "upsampling mode",
            OptionKind::Return => "recurrent output (what the layer returns)",
        }
    }
}

pub(super) fn wrong_kind(
    code: &'static str,
    subject: &Subject,
    expected: &Expected,
    found: &Found,
    span: Span,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        code,
        format!("{} must be {}", subject.describe(), expected.describe()),
        Label::new(span, format!("found {}", found.describe())),
    );
    match (subject, expected, found) {
        (Subject::Let { name }, _, Found::Layer(_) | Found::Word(_) | Found::Call(_)) => {
            d = d.with_hint(format!(
                "`let` names a tensor: apply the layer to one (`let {name} = x |> ...`), or name the layer with `layer {name} = ...`"
            ));
        }
        (Subject::LayerDef { name }, _, Found::Tensor(_)) => {
            d = d.with_hint(format!(
                "`layer` names a layer; to name a tensor write `let {name} = ...`"
            ));
        }
        (_, Expected::PositiveInt | Expected::NonNegativeInt | Expected::Int, Found::Float(x))
            if x.fract() == 0.0 && x.abs() < 1e15 =>
        {
            d = d.with_hint(format!("write it as an integer: `{}`", *x as i64));
        }
        (Subject::InputShape { name }, Expected::Shape, Found::Int(n)) if *n > 0 => {
            d = d.with_hint(format!(
                "a shape is a list, even of one axis: did you mean `input {name}: [{n}]`?"
            ));
        }
        (Subject::Stage, _, Found::Tensor(_)) => {
            d = d.with_hint("a tensor can only start a pipe; to combine tensors use `+`, `-`, `*`, `add(a, b)` or `mul(a, b)`");
        }
        _ => {}
    }
    d
}

pub(super) fn out_of_range(
    code: &'static str,
    subject: &Subject,
    value: Num,
    range: &Range,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("{} must be {}", subject.describe(), range.describe()),
        Label::new(span, format!("this is {value}")),
    )
}

pub(super) fn empty_slice(code: &'static str, start: u64, end: u64, span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("slice `[{start}..{end}]` is empty"),
        Label::new(span, "selects no examples"),
    )
    .with_note(
        "a slice `[a..b]` takes examples a (inclusive) to b (exclusive), so a must be less than b",
    )
}

pub(super) fn unknown_option(
    code: &'static str,
    kind: OptionKind,
    given: &str,
    options: &[String],
    did_you_mean: &[String],
    span: Span,
) -> Diagnostic {
    with_did_you_mean(
        Diagnostic::error(
            code,
            format!("unknown {} `{given}`", kind.word()),
            Label::new(span, format!("not a known {}", kind.word())),
        ),
        did_you_mean,
    )
    .with_note(format!("expected one of {}", tick_list(options)))
}

pub(super) fn division_by_zero(code: &'static str, span: Span, divisor: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        "division by zero in a constant expression",
        Label::new(span, "divides by zero"),
    )
    .with_secondary(divisor, "this is 0")
}

pub(super) fn const_cycle(code: &'static str, cycle: &[String], span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!(
            "constant `{}` depends on itself",
            cycle.first().map(String::as_str).unwrap_or("?")
        ),
        Label::new(span, "cyclic use here"),
    )
    .with_note(format!("the chain is {}", cycle.join(" -> ")))
}

pub(super) fn const_overflow(code: &'static str, op: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("integer overflow in `{op}`"),
        Label::new(span, "the result does not fit a 64-bit integer"),
    )
}

pub(super) fn not_finite(code: &'static str, span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        "constant expression is not a finite number",
        Label::new(span, "overflows to infinity"),
    )
}

pub(super) fn const_operand(code: &'static str, op: &str, found: &Found, span: Span) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("`{op}` needs numbers, found {}", found.describe()),
        Label::new(span, "not a number"),
    )
    .with_note("constant arithmetic works on integers and floats; tensors combine with `+`, `-` and `*` inside a model")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_naturally() {
        assert_eq!(Range::at_least(Num::Int(1)).describe(), "at least 1");
        assert_eq!(
            Range::between(Num::Float(0.0), true, Num::Float(1.0), false).describe(),
            "in [0, 1)"
        );
    }
}
