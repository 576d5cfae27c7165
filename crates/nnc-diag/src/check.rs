//! Check errors: the facts the checker (`nnc-check`) reports, and their
//! wording.
//!
//! Each [`CheckError`] variant carries spans, names copied from the source
//! and the actual numbers; [`CheckError::to_diagnostic`] is the only place
//! that turns them into a message, labels, notes (the arithmetic with the
//! real numbers) and hints (the concrete fix, "did you mean"). The severity
//! of a fact follows from its code: `W` codes are warnings (lints).

use crate::{shape_str, thousands, Diagnostic, Label, Severity, Span};

/// A static tensor shape without the batch dimension.
pub type Shape = Vec<usize>;

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

    fn describe(&self) -> String {
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
    fn describe(&self) -> String {
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
    /// A string or an integer (a CSV label column).
    Column,
    /// `[channels, height, width]`.
    ImageShape,
}

impl Expected {
    fn describe(&self) -> String {
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
            Expected::NumberOrTensor => "a number or a tensor".into(),
            Expected::Option(kind) => format!("{} {}", article(kind.word()), kind.word()),
            Expected::Name => "a name".into(),
            Expected::Metrics => "a metric or a list of metrics".into(),
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
    fn describe(&self) -> String {
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
}

impl OptionKind {
    fn word(self) -> &'static str {
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
        }
    }
}

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
}

impl DefKind {
    fn word(self) -> &'static str {
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
        }
    }
}

/// The kind of body a statement appears in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Model,
    Block,
    Data,
    Train,
    Phase,
}

impl BodyKind {
    fn word(self) -> &'static str {
        match self {
            BodyKind::Model => "model",
            BodyKind::Block => "block",
            BodyKind::Data => "data block",
            BodyKind::Train => "train block",
            BodyKind::Phase => "`at epoch` phase",
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
    /// A second `output` in a block.
    ExtraOutput,
}

impl StmtKind {
    fn describe(&self) -> String {
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
            StmtKind::ExtraOutput => "a second `output`".into(),
        }
    }
}

/// A spatial axis of a `[channels, height, width]` tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Height,
    Width,
}

impl Axis {
    fn word(self) -> &'static str {
        match self {
            Axis::Height => "height",
            Axis::Width => "width",
        }
    }

    fn lines(self) -> &'static str {
        match self {
            Axis::Height => "row",
            Axis::Width => "column",
        }
    }
}

/// The output-size arithmetic of a sliding window (convolution or pooling)
/// along one axis: `out = round((input + pad_before + pad_after - window) / stride) + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowArith {
    pub input: usize,
    pub pad_before: usize,
    pub pad_after: usize,
    pub window: usize,
    pub stride: usize,
    /// `round: ceil` (Caffe) instead of floor.
    pub ceil: bool,
    /// Ceil rounding only: the last window would start past the input and
    /// its first padding, so it was dropped (as Caffe and PyTorch do).
    pub clipped: bool,
    pub output: i128,
}

impl WindowArith {
    /// `floor((28 + 0 + 0 - 5) / 1) + 1 = 24`
    fn formula(&self) -> String {
        let rounded = format!(
            "{}(({} + {} + {} - {}) / {}) + 1",
            if self.ceil { "ceil" } else { "floor" },
            self.input,
            self.pad_before,
            self.pad_after,
            self.window,
            self.stride,
        );
        if self.clipped {
            format!(
                "{rounded} - 1 = {} (the last window would start in the padding)",
                self.output
            )
        } else {
            format!("{rounded} = {}", self.output)
        }
    }

    /// The largest window that still fits the padded input.
    fn padded_input(&self) -> u128 {
        self.input as u128 + self.pad_before as u128 + self.pad_after as u128
    }
}

/// How a tensor's shape was computed, for notes under shape errors.
#[derive(Clone, Debug, PartialEq)]
pub enum Derivation {
    /// A model or block input, declared with this shape.
    Input { name: String },
    /// A layer applied to inputs of these shapes; `windows` holds the
    /// sliding-window arithmetic of convolutions and pools.
    Layer {
        layer: String,
        inputs: Vec<Shape>,
        windows: Vec<(Axis, WindowArith)>,
    },
    /// Nothing more to say (an unknown origin).
    Opaque,
}

/// Which rank a layer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankNeed {
    /// `[n]`
    Vector,
    /// `[channels, height, width]`
    Image,
}

/// Which parameter of a layer an initialiser is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Weights,
    Bias,
}

/// What was wrong with a shape (E0209).
#[derive(Clone, Debug, PartialEq)]
pub enum ShapeProblem {
    /// `[]`
    Empty,
    /// A dimension that is zero or negative.
    NonPositive { value: i64 },
    /// The number of values does not fit a machine word.
    TooLarge { dims: Vec<u128> },
    /// `reshape` with more than one `-1`.
    SeveralInferred,
    /// `values([...])` whose nesting is not the parameter's shape.
    InitValues {
        param: ParamKind,
        expected: Shape,
        /// The shape found, when the list is rectangular.
        found: Option<Shape>,
    },
}

/// Why a data split is needed (E0403).
#[derive(Clone, Debug, PartialEq)]
pub enum SplitNeed {
    /// Training needs examples to train on.
    Training,
    /// A metric is measured on this split.
    Metric { metric: String },
}

/// Every fact the checker reports.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckError {
    /// E0101: a name that is not defined.
    UnknownName {
        name: String,
        kind: NameKind,
        span: Span,
        did_you_mean: Vec<String>,
        /// The definition, when it comes after the use.
        defined_later: Option<Span>,
    },
    /// E0102: a call of something that is neither layer, block nor function.
    UnknownCallee {
        name: String,
        span: Span,
        did_you_mean: Vec<String>,
    },
    /// E0103: a name defined twice in one namespace.
    Duplicate {
        name: String,
        kind: DefKind,
        span: Span,
        first: Span,
    },
    /// E0104: a named argument the callee does not take.
    UnknownArgument {
        callee: String,
        name: String,
        span: Span,
        did_you_mean: Vec<String>,
        takes: Vec<String>,
    },
    /// E0105: required arguments not given.
    MissingArguments {
        callee: String,
        names: Vec<String>,
        span: Span,
        takes: Vec<String>,
    },
    /// E0105: a cost on a model with several outputs that does not say which.
    CostNeedsOutput {
        cost: String,
        outputs: Vec<String>,
        span: Span,
    },
    /// E0106: more positional arguments than the callee takes.
    TooManyPositional {
        callee: String,
        max: usize,
        given: usize,
        span: Span,
        takes: Vec<String>,
    },
    /// E0107: one argument given twice (by position and name, or by name twice).
    ArgumentTwice {
        callee: String,
        name: String,
        span: Span,
        first: Span,
    },
    /// E0108: a value of the wrong kind.
    WrongKind {
        subject: Subject,
        expected: Expected,
        found: Found,
        span: Span,
    },
    /// E0109: a value outside its range.
    OutOfRange {
        subject: Subject,
        value: Num,
        range: Range,
        span: Span,
    },
    /// E0109: a slice `src[a..b]` with `a >= b`.
    EmptySlice { start: u64, end: u64, span: Span },
    /// E0110: an option word that is not one of the known ones.
    UnknownOption {
        kind: OptionKind,
        given: String,
        options: Vec<String>,
        did_you_mean: Vec<String>,
        span: Span,
    },
    /// E0111: a setting key this body does not know.
    UnknownSetting {
        body: BodyKind,
        key: String,
        known: Vec<String>,
        did_you_mean: Vec<String>,
        span: Span,
    },
    /// E0112: a statement this body may not hold.
    NotAllowed {
        stmt: StmtKind,
        body: BodyKind,
        span: Span,
    },
    /// E0113: a block that (indirectly) instantiates itself.
    RecursiveBlock {
        block: String,
        /// The chain of blocks, starting and ending with `block`.
        cycle: Vec<String>,
        span: Span,
    },
    /// E0113: blocks nested deeper than the checker expands.
    BlocksTooDeep {
        block: String,
        limit: usize,
        span: Span,
    },
    /// E0113: a model whose blocks expand to too many nodes.
    ExpansionTooLarge {
        model: String,
        limit: usize,
        span: Span,
    },
    /// E0114: `layers` in a model without exactly one input.
    LayersNeedOneInput {
        model: String,
        inputs: Vec<(String, Span)>,
        span: Span,
    },
    /// E0114: a model that declares no input.
    ModelWithoutInput { model: String, span: Span },
    /// E0114: a model input without a shape.
    InputWithoutShape { name: String, span: Span },
    /// E0114: a layer or block applied to the wrong number of tensors.
    LayerInputs {
        layer: String,
        expected: usize,
        given: usize,
        span: Span,
    },
    /// E0114: a trained model with several inputs (one data block feeds one input).
    TrainedModelInputs {
        model: String,
        inputs: usize,
        span: Span,
        model_span: Span,
    },
    /// E0115: a model or block without output.
    NoOutput {
        name: String,
        block: bool,
        span: Span,
    },
    /// E0116: division by zero in a constant expression.
    DivisionByZero { span: Span, divisor: Span },
    /// E0116: constants that depend on themselves.
    ConstCycle { cycle: Vec<String>, span: Span },
    /// E0116: integer overflow in a constant expression.
    ConstOverflow { op: String, span: Span },
    /// E0116: a constant expression that is not a finite number.
    NotFinite { span: Span },
    /// E0116: arithmetic on something that is not a number.
    ConstOperand {
        op: String,
        found: Found,
        span: Span,
    },
    /// E0117: a setting given twice in one body.
    SettingTwice {
        key: String,
        span: Span,
        first: Span,
    },
    /// E0201: dense on a tensor that is not a vector.
    DenseNeedsVector {
        input: Shape,
        /// The number of values, if it fits a machine word.
        size: Option<usize>,
        span: Span,
        input_from: Span,
    },
    /// E0202: a shape assertion `-> [...]` that does not hold.
    AssertionFailed {
        expected: Shape,
        actual: Shape,
        span: Span,
        value_span: Span,
        derivation: Derivation,
    },
    /// E0203: a convolution kernel larger than its (padded) input.
    KernelTooLarge {
        layer: String,
        /// The axes whose window does not fit (height, width or both).
        axes: Vec<(Axis, WindowArith)>,
        input: Shape,
        span: Span,
        input_from: Span,
    },
    /// E0204: a pooling window larger than its (padded) input.
    PoolTooLarge {
        layer: String,
        /// The axes whose window does not fit (height, width or both).
        axes: Vec<(Axis, WindowArith)>,
        input: Shape,
        span: Span,
        input_from: Span,
    },
    /// E0205: an input of the wrong rank.
    WrongRank {
        layer: String,
        need: RankNeed,
        actual: Shape,
        span: Span,
        input_from: Span,
    },
    /// E0206: elementwise operands of different shapes.
    ShapeMismatch {
        op: String,
        lhs: Shape,
        rhs: Shape,
        span: Span,
        lhs_from: Span,
        rhs_from: Span,
    },
    /// E0207: a reshape that changes the number of values.
    ReshapeCount {
        from: Shape,
        from_count: usize,
        to: Vec<i64>,
        /// The product of the known target dimensions.
        to_count: u128,
        inferred: bool,
        span: Span,
    },
    /// E0208: `labels one_hot(k)` against a model output of another size.
    ClassesMismatch {
        classes: usize,
        model: String,
        output: Shape,
        output_size: usize,
        labels_span: Span,
        output_span: Span,
        train_span: Span,
    },
    /// E0209: an invalid shape.
    InvalidShape { problem: ShapeProblem, span: Span },
    /// E0210: a shared `layer` instance used on inputs that need other weights.
    SharedLayerShape {
        name: String,
        first: Shape,
        now: Shape,
        span: Span,
        first_span: Span,
    },
    /// E0301: a cost that needs another output activation.
    CostNeedsSigmoid {
        cost: String,
        act: Option<String>,
        cost_span: Span,
        output_span: Span,
    },
    /// E0302: a trained model without cost.
    NoCost {
        model: String,
        span: Span,
        model_span: Span,
    },
    /// E0401: `at epoch N` outside `1..=epochs`.
    PhaseEpochOutOfRange {
        epoch: i64,
        /// The number of epochs and where it is set, when known.
        epochs: Option<(usize, Span)>,
        span: Span,
    },
    /// E0402: required training settings not given.
    MissingSettings { keys: Vec<String>, span: Span },
    /// E0403: a data split that is needed but not defined.
    MissingSplit {
        split: String,
        data: String,
        need: SplitNeed,
        span: Span,
        data_span: Span,
    },
    /// E0404: `at epoch` phases not in increasing order.
    PhasesOutOfOrder {
        epoch: usize,
        previous: usize,
        span: Span,
        previous_span: Span,
    },
    /// E0405: `train a, b on d`.
    SeveralModels { count: usize, span: Span },
    /// W0101: a stride that leaves the last rows or columns uncovered.
    StrideDropsPixels {
        layer: String,
        /// Each axis that drops lines, with its arithmetic and the count.
        axes: Vec<(Axis, WindowArith, usize)>,
        span: Span,
    },
    /// W0102: quadratic cost with sigmoid outputs.
    QuadraticSigmoid { cost_span: Span, output_span: Span },
    /// W0103: a wide gaussian initialisation on a large fan-in.
    LargeInitStd {
        std: f64,
        fan_in: usize,
        /// The standard deviation of the bias, when it is gaussian.
        bias_std: Option<f64>,
        span: Span,
        layer_span: Span,
    },
    /// W0104: log-likelihood cost without softmax outputs.
    LogLikelihoodWithoutSoftmax {
        act: Option<String>,
        cost_span: Span,
        output_span: Span,
    },
    /// W0105: a definition that is never used.
    Unused {
        kind: DefKind,
        name: String,
        span: Span,
    },
    /// Any fact found while expanding one instantiation of a block: the
    /// fact, with the instantiation it happened in.
    InBlock {
        block: String,
        site: Span,
        error: Box<CheckError>,
    },
}

impl CheckError {
    /// The fact itself, without the blocks it was found in.
    pub fn innermost(&self) -> &CheckError {
        match self {
            CheckError::InBlock { error, .. } => error.innermost(),
            other => other,
        }
    }

    /// The stable code of this fact.
    pub fn code(&self) -> &'static str {
        use CheckError::*;
        match self {
            InBlock { error, .. } => error.code(),
            UnknownName { .. } => "E0101",
            UnknownCallee { .. } => "E0102",
            Duplicate { .. } => "E0103",
            UnknownArgument { .. } => "E0104",
            MissingArguments { .. } | CostNeedsOutput { .. } => "E0105",
            TooManyPositional { .. } => "E0106",
            ArgumentTwice { .. } => "E0107",
            WrongKind { .. } => "E0108",
            OutOfRange { .. } | EmptySlice { .. } => "E0109",
            UnknownOption { .. } => "E0110",
            UnknownSetting { .. } => "E0111",
            NotAllowed { .. } => "E0112",
            RecursiveBlock { .. } | BlocksTooDeep { .. } | ExpansionTooLarge { .. } => "E0113",
            LayersNeedOneInput { .. }
            | ModelWithoutInput { .. }
            | InputWithoutShape { .. }
            | LayerInputs { .. }
            | TrainedModelInputs { .. } => "E0114",
            NoOutput { .. } => "E0115",
            DivisionByZero { .. }
            | ConstCycle { .. }
            | ConstOverflow { .. }
            | NotFinite { .. }
            | ConstOperand { .. } => "E0116",
            SettingTwice { .. } => "E0117",
            DenseNeedsVector { .. } => "E0201",
            AssertionFailed { .. } => "E0202",
            KernelTooLarge { .. } => "E0203",
            PoolTooLarge { .. } => "E0204",
            WrongRank { .. } => "E0205",
            ShapeMismatch { .. } => "E0206",
            ReshapeCount { .. } => "E0207",
            ClassesMismatch { .. } => "E0208",
            InvalidShape { .. } => "E0209",
            SharedLayerShape { .. } => "E0210",
            CostNeedsSigmoid { .. } => "E0301",
            NoCost { .. } => "E0302",
            PhaseEpochOutOfRange { .. } => "E0401",
            MissingSettings { .. } => "E0402",
            MissingSplit { .. } => "E0403",
            PhasesOutOfOrder { .. } => "E0404",
            SeveralModels { .. } => "E0405",
            StrideDropsPixels { .. } => "W0101",
            QuadraticSigmoid { .. } => "W0102",
            LargeInitStd { .. } => "W0103",
            LogLikelihoodWithoutSoftmax { .. } => "W0104",
            Unused { .. } => "W0105",
        }
    }

    /// Warnings are the `W` codes; everything else is an error.
    pub fn severity(&self) -> Severity {
        if self.code().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// The primary span: where the fact is reported.
    pub fn span(&self) -> Span {
        self.to_diagnostic().primary.span
    }

    /// Words the fact: message, labels, notes and hints.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let code = self.code();
        let d = match self {
            CheckError::InBlock { block, site, error } => error
                .to_diagnostic()
                .with_secondary(*site, format!("in this use of block `{block}`")),
            CheckError::UnknownName {
                name,
                kind,
                span,
                did_you_mean,
                defined_later,
            } => unknown_name(code, name, *kind, *span, did_you_mean, *defined_later),
            CheckError::UnknownCallee {
                name,
                span,
                did_you_mean,
            } => with_did_you_mean(
                Diagnostic::error(
                    code,
                    format!("unknown layer or function `{name}`"),
                    Label::new(*span, "not a layer, block or function"),
                ),
                did_you_mean,
            ),
            CheckError::Duplicate { name, kind, span, first } => Diagnostic::error(
                code,
                format!("the name `{name}` is defined more than once"),
                Label::new(*span, format!("{} `{name}` redefined here", kind.word())),
            )
            .with_secondary(*first, format!("first definition of `{name}` here"))
            .with_hint("rename one of them"),
            CheckError::UnknownArgument {
                callee,
                name,
                span,
                did_you_mean,
                takes,
            } => with_did_you_mean(
                Diagnostic::error(
                    code,
                    format!("`{callee}` has no argument `{name}`"),
                    Label::new(*span, "unknown argument"),
                ),
                did_you_mean,
            )
            .with_note(takes_note(callee, takes)),
            CheckError::MissingArguments {
                callee,
                names,
                span,
                takes,
            } => missing_arguments(code, callee, names, *span, takes),
            CheckError::CostNeedsOutput { cost, outputs, span } => Diagnostic::error(
                code,
                format!("`{cost}` must name the output it applies to"),
                Label::new(*span, format!("this model has {} outputs", outputs.len())),
            )
            .with_note(format!("the outputs are {}", tick_list(outputs)))
            .with_hint(format!(
                "write `cost {cost}({})`",
                outputs.first().map(String::as_str).unwrap_or("output")
            )),
            CheckError::TooManyPositional {
                callee,
                max,
                given,
                span,
                takes,
            } => Diagnostic::error(
                code,
                format!(
                    "`{callee}` takes {max} positional argument{} but {given} were given",
                    plural(*max)
                ),
                Label::new(*span, "unexpected argument"),
            )
            .with_note(takes_note(callee, takes)),
            CheckError::ArgumentTwice {
                callee,
                name,
                span,
                first,
            } => Diagnostic::error(
                code,
                format!("argument `{name}` of `{callee}` is given twice"),
                Label::new(*span, "given again here"),
            )
            .with_secondary(*first, "first given here"),
            CheckError::WrongKind {
                subject,
                expected,
                found,
                span,
            } => wrong_kind(code, subject, expected, found, *span),
            CheckError::OutOfRange {
                subject,
                value,
                range,
                span,
            } => Diagnostic::error(
                code,
                format!("{} must be {}", subject.describe(), range.describe()),
                Label::new(*span, format!("this is {value}")),
            ),
            CheckError::EmptySlice { start, end, span } => Diagnostic::error(
                code,
                format!("slice `[{start}..{end}]` is empty"),
                Label::new(*span, "selects no examples"),
            )
            .with_note("a slice `[a..b]` takes examples a (inclusive) to b (exclusive), so a must be less than b"),
            CheckError::UnknownOption {
                kind,
                given,
                options,
                did_you_mean,
                span,
            } => with_did_you_mean(
                Diagnostic::error(
                    code,
                    format!("unknown {} `{given}`", kind.word()),
                    Label::new(*span, format!("not a known {}", kind.word())),
                ),
                did_you_mean,
            )
            .with_note(format!("expected one of {}", tick_list(options))),
            CheckError::UnknownSetting {
                body,
                key,
                known,
                did_you_mean,
                span,
            } => with_did_you_mean(
                Diagnostic::error(
                    code,
                    format!("unknown setting `{key}` in a {}", body.word()),
                    Label::new(*span, "unknown setting"),
                ),
                did_you_mean,
            )
            .with_note(format!("a {} accepts {}", body.word(), tick_list(known))),
            CheckError::NotAllowed { stmt, body, span } => not_allowed(code, stmt, *body, *span),
            CheckError::RecursiveBlock { block, cycle, span } => Diagnostic::error(
                code,
                format!("block `{block}` instantiates itself"),
                Label::new(*span, "recursive use here"),
            )
            .with_note(format!("the chain is {}", cycle.join(" -> ")))
            .with_hint("blocks are expanded when the model is checked, so they cannot call themselves"),
            CheckError::BlocksTooDeep { block, limit, span } => Diagnostic::error(
                code,
                format!("blocks are nested more than {limit} deep"),
                Label::new(*span, format!("block `{block}` is expanded too deep here")),
            )
            .with_hint("flatten the nesting of blocks"),
            CheckError::ExpansionTooLarge { model, limit, span } => Diagnostic::error(
                code,
                format!("model `{model}` expands to more than {} nodes", thousands(*limit as u64)),
                Label::new(*span, "expansion stopped here"),
            )
            .with_note("every block instantiation adds its own layers")
            .with_hint("use fewer nested block instantiations"),
            CheckError::LayersNeedOneInput { model, inputs, span } => layers_need_one_input(code, model, inputs, *span),
            CheckError::ModelWithoutInput { model, span } => Diagnostic::error(
                code,
                format!("model `{model}` has no input"),
                Label::new(*span, "no `input` in this model"),
            )
            .with_hint("declare one, e.g. `input image: [784]`"),
            CheckError::InputWithoutShape { name, span } => Diagnostic::error(
                code,
                format!("model input `{name}` has no shape"),
                Label::new(*span, "shape missing"),
            )
            .with_hint(format!("give its shape, e.g. `input {name}: [784]` or `input {name}: [1, 28, 28]`")),
            CheckError::LayerInputs {
                layer,
                expected,
                given,
                span,
            } => Diagnostic::error(
                code,
                format!(
                    "`{layer}` takes {expected} input tensor{} but {given} {} given",
                    plural(*expected),
                    if *given == 1 { "was" } else { "were" }
                ),
                Label::new(*span, format!("{given} tensor{} here", plural(*given))),
            )
            .with_hint(format!("pass the input tensors as the leading arguments, `{layer}(a, ...)`, or pipe one in with `|>`")),
            CheckError::TrainedModelInputs {
                model,
                inputs,
                span,
                model_span,
            } => Diagnostic::error(
                code,
                format!("model `{model}` has {inputs} inputs, but a data block feeds one"),
                Label::new(*span, "trained here"),
            )
            .with_secondary(*model_span, format!("`{model}` is defined here")),
            CheckError::NoOutput { name, block, span } => {
                let what = if *block { "block" } else { "model" };
                Diagnostic::error(
                    code,
                    format!("{what} `{name}` has no output"),
                    Label::new(*span, "nothing is marked as output"),
                )
                .with_hint(if *block {
                    "end the block with `output y = ...`".to_string()
                } else {
                    "add `layers { ... }` or `output y = ...`".to_string()
                })
            }
            CheckError::DivisionByZero { span, divisor } => Diagnostic::error(
                code,
                "division by zero in a constant expression",
                Label::new(*span, "divides by zero"),
            )
            .with_secondary(*divisor, "this is 0"),
            CheckError::ConstCycle { cycle, span } => Diagnostic::error(
                code,
                format!(
                    "constant `{}` depends on itself",
                    cycle.first().map(String::as_str).unwrap_or("?")
                ),
                Label::new(*span, "cyclic use here"),
            )
            .with_note(format!("the chain is {}", cycle.join(" -> "))),
            CheckError::ConstOverflow { op, span } => Diagnostic::error(
                code,
                format!("integer overflow in `{op}`"),
                Label::new(*span, "the result does not fit a 64-bit integer"),
            ),
            CheckError::NotFinite { span } => Diagnostic::error(
                code,
                "constant expression is not a finite number",
                Label::new(*span, "overflows to infinity"),
            ),
            CheckError::ConstOperand { op, found, span } => Diagnostic::error(
                code,
                format!("`{op}` needs numbers, found {}", found.describe()),
                Label::new(*span, "not a number"),
            )
            .with_note("constant arithmetic works on integers and floats; tensors combine with `+`, `-` and `*` inside a model"),
            CheckError::SettingTwice { key, span, first } => Diagnostic::error(
                code,
                format!("setting `{key}` is given twice"),
                Label::new(*span, "given again here"),
            )
            .with_secondary(*first, "first given here")
            .with_hint("remove one of them"),
            CheckError::DenseNeedsVector {
                input,
                size,
                span,
                input_from,
            } => dense_needs_vector(code, input, *size, *span, *input_from),
            CheckError::AssertionFailed {
                expected,
                actual,
                span,
                value_span,
                derivation,
            } => {
                let mut d = Diagnostic::error(
                    code,
                    format!(
                        "shape assertion failed: expected {}, found {}",
                        shape_str(expected),
                        shape_str(actual)
                    ),
                    Label::new(*span, format!("expected {}", shape_str(expected))),
                )
                .with_secondary(*value_span, format!("this has shape {}", shape_str(actual)));
                for note in derivation_notes(derivation, actual) {
                    d = d.with_note(note);
                }
                d
            }
            CheckError::KernelTooLarge {
                layer,
                axes,
                input,
                span,
                input_from,
            } => window_too_large(code, "kernel", layer, axes, input, *span, *input_from, true),
            CheckError::PoolTooLarge {
                layer,
                axes,
                input,
                span,
                input_from,
            } => window_too_large(code, "pooling window", layer, axes, input, *span, *input_from, false),
            CheckError::WrongRank {
                layer,
                need,
                actual,
                span,
                input_from,
            } => wrong_rank(code, layer, *need, actual, *span, *input_from),
            CheckError::ShapeMismatch {
                op,
                lhs,
                rhs,
                span,
                lhs_from,
                rhs_from,
            } => Diagnostic::error(
                code,
                format!(
                    "operands of `{op}` differ in shape: {} and {}",
                    shape_str(lhs),
                    shape_str(rhs)
                ),
                Label::new(*span, "elementwise operation on different shapes"),
            )
            .with_secondary(*lhs_from, format!("this is {}", shape_str(lhs)))
            .with_secondary(*rhs_from, format!("this is {}", shape_str(rhs)))
            .with_note("elementwise operations need operands of exactly the same shape"),
            CheckError::ReshapeCount {
                from,
                from_count,
                to,
                to_count,
                inferred,
                span,
            } => reshape_count(code, from, *from_count, to, *to_count, *inferred, *span),
            CheckError::ClassesMismatch {
                classes,
                model,
                output,
                output_size,
                labels_span,
                output_span,
                train_span,
            } => Diagnostic::error(
                code,
                format!(
                    "model `{model}` has {output_size} output{} but the labels have {classes} classes",
                    plural(*output_size)
                ),
                Label::new(*labels_span, format!("{classes} classes")),
            )
            .with_secondary(
                *output_span,
                format!(
                    "the output has shape {} = {} value{}",
                    shape_str(output),
                    output_size,
                    plural(*output_size)
                ),
            )
            .with_secondary(*train_span, "model and data are paired here")
            .with_note("one-hot labels need one output per class")
            .with_hint(format!(
                "give the last layer {classes} units, or use `one_hot({output_size})` if there are {output_size} classes"
            )),
            CheckError::InvalidShape { problem, span } => invalid_shape(code, problem, *span),
            CheckError::SharedLayerShape {
                name,
                first,
                now,
                span,
                first_span,
            } => Diagnostic::error(
                code,
                format!("shared layer `{name}` is used on inputs that need different weights"),
                Label::new(*span, format!("this use needs weights {}", shape_str(now))),
            )
            .with_secondary(*first_span, format!("first used here, with weights {}", shape_str(first)))
            .with_note("a `layer` instance has one set of weights, so every use needs inputs of the same size"),
            CheckError::CostNeedsSigmoid {
                cost,
                act,
                cost_span,
                output_span,
            } => Diagnostic::error(
                code,
                format!(
                    "`{cost}` needs sigmoid outputs, but the output {}",
                    act_phrase(act.as_deref())
                ),
                Label::new(*cost_span, "cost chosen here"),
            )
            .with_secondary(*output_span, "the output is computed here")
            .with_note("cross-entropy -[y ln a + (1 - y) ln(1 - a)] needs every output a in (0, 1), which sigmoid guarantees")
            .with_hint("use `act: sigmoid` on the output layer, or `cost log_likelihood` with a softmax output"),
            CheckError::NoCost {
                model,
                span,
                model_span,
            } => Diagnostic::error(
                code,
                format!("model `{model}` is trained but has no cost"),
                Label::new(*span, "trained here"),
            )
            .with_secondary(*model_span, format!("`{model}` is defined here"))
            .with_hint(format!(
                "add a cost to `{model}`: `cost cross_entropy` (sigmoid outputs), `cost log_likelihood` (softmax outputs) or `cost quadratic`"
            )),
            CheckError::PhaseEpochOutOfRange { epoch, epochs, span } => {
                let d = match epochs {
                    Some((n, _)) if *epoch >= 1 => Diagnostic::error(
                        code,
                        format!("`at epoch {epoch}` is beyond the last epoch ({n})"),
                        Label::new(*span, "this phase never starts"),
                    ),
                    _ => Diagnostic::error(
                        code,
                        format!("`at epoch {epoch}` is before the first epoch"),
                        Label::new(*span, "epochs are numbered from 1"),
                    ),
                };
                match epochs {
                    Some((n, epochs_span)) => d
                        .with_secondary(*epochs_span, format!("training runs for {n} epoch{}", plural(*n)))
                        .with_hint(format!("use an epoch from 1 to {n}")),
                    None => d,
                }
            }
            CheckError::MissingSettings { keys, span } => {
                let examples: Vec<String> = keys.iter().map(|k| format!("`{k} {}`", setting_example(k))).collect();
                Diagnostic::error(
                    code,
                    format!("missing setting{} {}", plural(keys.len()), tick_list(keys)),
                    Label::new(*span, format!("this train block has no {}", tick_list(keys))),
                )
                .with_hint(format!("add e.g. {}", examples.join(", ")))
            }
            CheckError::MissingSplit {
                split,
                data,
                need,
                span,
                data_span,
            } => {
                let label = match need {
                    SplitNeed::Training => "training needs it".to_string(),
                    SplitNeed::Metric { metric } => format!("metric `{metric}` is measured on it"),
                };
                Diagnostic::error(
                    code,
                    format!("data `{data}` has no `{split}` split"),
                    Label::new(*span, label),
                )
                .with_secondary(*data_span, format!("`{data}` is defined here"))
                .with_hint(format!("add `{split} SOURCE` to data `{data}`"))
            }
            CheckError::PhasesOutOfOrder {
                epoch,
                previous,
                span,
                previous_span,
            } => Diagnostic::error(
                code,
                format!("`at epoch {epoch}` must come after epoch {previous}"),
                Label::new(*span, "out of order"),
            )
            .with_secondary(*previous_span, format!("the previous phase starts at epoch {previous}"))
            .with_hint("list phases in strictly increasing epoch order"),
            CheckError::SeveralModels { count, span } => Diagnostic::error(
                code,
                format!("a train block trains one model, found {count}"),
                Label::new(*span, "several models"),
            )
            .with_note("training several models against each other (e.g. GANs) is planned but not supported yet"),
            CheckError::StrideDropsPixels { layer, axes, span } => stride_drops(code, layer, axes, *span),
            CheckError::QuadraticSigmoid { cost_span, output_span } => Diagnostic::warning(
                code,
                "quadratic cost on sigmoid outputs learns slowly",
                Label::new(*cost_span, "quadratic cost"),
            )
            .with_secondary(*output_span, "sigmoid output")
            .with_note("the output error is (a - y) * sigma'(z); sigma'(z) is near 0 when the output saturates near 0 or 1, so badly wrong outputs learn slowest")
            .with_hint("use `cost cross_entropy`: its output error is a - y, without the sigma'(z) factor"),
            CheckError::LargeInitStd {
                std,
                fan_in,
                bias_std,
                span,
                layer_span,
            } => large_init(code, *std, *fan_in, *bias_std, *span, *layer_span),
            CheckError::LogLikelihoodWithoutSoftmax {
                act,
                cost_span,
                output_span,
            } => Diagnostic::warning(
                code,
                format!(
                    "`log_likelihood` without a softmax output: the output {}",
                    act_phrase(act.as_deref())
                ),
                Label::new(*cost_span, "log-likelihood cost"),
            )
            .with_secondary(*output_span, "the output is computed here")
            .with_note("the log-likelihood -ln a_y reads the outputs as a probability distribution, which softmax guarantees")
            .with_hint("use `act: softmax` on the output layer"),
            CheckError::Unused { kind, name, span } => Diagnostic::warning(
                code,
                format!("unused {} `{name}`", kind.word()),
                Label::new(*span, "never used"),
            )
            .with_hint(format!("remove it, or name it `_{name}` to silence this warning")),
        };
        debug_assert_eq!(d.severity, self.severity());
        d
    }
}

fn unknown_name(
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

fn missing_arguments(
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
    Diagnostic::error(code, message, Label::new(span, label)).with_note(takes_note(callee, takes))
}

fn wrong_kind(
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
        (Subject::Stage, _, Found::Tensor(_)) => {
            d = d.with_hint("a tensor can only start a pipe; to combine tensors use `+`, `-`, `*`, `add(a, b)` or `mul(a, b)`");
        }
        _ => {}
    }
    d
}

fn not_allowed(code: &'static str, stmt: &StmtKind, body: BodyKind, span: Span) -> Diagnostic {
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
        (StmtKind::ExtraOutput, _) => Some("a block has exactly one output".to_string()),
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

fn layers_need_one_input(
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

fn dense_needs_vector(
    code: &'static str,
    input: &[usize],
    size: Option<usize>,
    span: Span,
    input_from: Span,
) -> Diagnostic {
    let shape = shape_str(input);
    let mut d = Diagnostic::error(
        code,
        "dense layer needs a vector input",
        Label::new(span, format!("`dense` applied to a {shape} tensor")),
    )
    .with_secondary(input_from, format!("this produces {shape}"));
    match size {
        Some(n) => {
            d = d
                .with_note(format!(
                    "the input has rank {} and {n} values; `dense` takes a vector [n]",
                    input.len()
                ))
                .with_hint(format!(
                    "insert `flatten` before this layer: the previous layer produces {shape} = {n} values"
                ));
        }
        None => {
            d = d.with_hint("insert `flatten` before this layer");
        }
    }
    d
}

fn derivation_notes(derivation: &Derivation, actual: &[usize]) -> Vec<String> {
    match derivation {
        Derivation::Input { name } => vec![format!(
            "{} is the declared shape of input `{name}`",
            shape_str(actual)
        )],
        Derivation::Layer {
            layer,
            inputs,
            windows,
        } => {
            let ins: Vec<String> = inputs.iter().map(|s| shape_str(s)).collect();
            let mut notes = vec![format!(
                "{} is the output of `{layer}` applied to {}",
                shape_str(actual),
                ins.join(" and ")
            )];
            for (axis, arith) in windows {
                notes.push(format!("{}: {}", axis.word(), arith.formula()));
            }
            notes
        }
        Derivation::Opaque => Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn window_too_large(
    code: &'static str,
    what: &str,
    layer: &str,
    axes: &[(Axis, WindowArith)],
    input: &[usize],
    span: Span,
    input_from: Span,
    is_conv: bool,
) -> Diagnostic {
    let fits: Vec<String> = axes
        .iter()
        .map(|(axis, arith)| {
            format!(
                "{} {} (padded: {})",
                axis.word(),
                arith.input,
                arith.padded_input()
            )
        })
        .collect();
    let window = axes.first().map_or(0, |(_, a)| a.window);
    let mut d = Diagnostic::error(
        code,
        format!("{what} of `{layer}` is larger than its input"),
        Label::new(
            span,
            format!("{what} {window} does not fit the {}", fits.join(" or the ")),
        ),
    )
    .with_secondary(
        input_from,
        format!("the input {} comes from here", shape_str(input)),
    );
    for (axis, arith) in axes {
        let prefix = if axes.len() > 1 {
            format!("{}: ", axis.word())
        } else {
            String::new()
        };
        d = d.with_note(format!("{prefix}out = {}", arith.formula()));
    }
    let largest = axes
        .iter()
        .map(|(_, a)| a.padded_input())
        .min()
        .unwrap_or(0);
    if is_conv {
        d.with_hint(format!(
            "use `padding: same` to keep the size, or a kernel of at most {largest}"
        ))
    } else {
        d.with_hint(format!(
            "use a window of at most {largest} or `padding: same`, or pool earlier while the input is larger"
        ))
    }
}

fn wrong_rank(
    code: &'static str,
    layer: &str,
    need: RankNeed,
    actual: &[usize],
    span: Span,
    input_from: Span,
) -> Diagnostic {
    let (wanted, rank) = match need {
        RankNeed::Vector => ("a vector [n]", 1),
        RankNeed::Image => ("a [channels, height, width] tensor", 3),
    };
    let d = Diagnostic::error(
        code,
        format!("`{layer}` needs {wanted}, found {}", shape_str(actual)),
        Label::new(
            span,
            format!("needs rank {rank}, the input has rank {}", actual.len()),
        ),
    )
    .with_secondary(input_from, format!("this produces {}", shape_str(actual)));
    match need {
        RankNeed::Vector => d.with_hint("insert `flatten` before this layer"),
        RankNeed::Image => match image_side(actual) {
            Some((c, side)) => d.with_hint(format!(
                "reshape it first, e.g. `reshape([{c}, {side}, {side}])`, or declare the input as an image: `input x: [{c}, {side}, {side}]`"
            )),
            None if actual.len() == 2 => {
                let h = actual.first().copied().unwrap_or(1);
                let w = actual.get(1).copied().unwrap_or(1);
                d.with_hint(format!("add a channel dimension: `reshape([1, {h}, {w}])`"))
            }
            None => d.with_hint("reshape it to [channels, height, width] first"),
        },
    }
}

/// For a vector whose size is a perfect square (times 1 or 3 channels),
/// the natural image shape: `[784]` -> `(1, 28)`.
fn image_side(actual: &[usize]) -> Option<(usize, usize)> {
    let [n] = actual else { return None };
    for c in [1usize, 3] {
        if n % c != 0 {
            continue;
        }
        let per = n / c;
        let side = (per as f64).sqrt().round() as usize;
        if side > 1 && side.checked_mul(side) == Some(per) {
            return Some((c, side));
        }
    }
    None
}

fn reshape_count(
    code: &'static str,
    from: &[usize],
    from_count: usize,
    to: &[i64],
    to_count: u128,
    inferred: bool,
    span: Span,
) -> Diagnostic {
    let target: Vec<String> = to.iter().map(|d| d.to_string()).collect();
    let target = format!("[{}]", target.join(", "));
    if inferred {
        Diagnostic::error(
            code,
            format!(
                "cannot reshape {} ({from_count} values) into {target}",
                shape_str(from)
            ),
            Label::new(span, "no whole number fits the `-1`"),
        )
        .with_note(format!(
            "{from_count} is not a multiple of {to_count}, the product of the other dimensions"
        ))
    } else {
        Diagnostic::error(
            code,
            "reshape changes the number of values",
            Label::new(span, format!("{target} holds {to_count} values")),
        )
        .with_note(format!(
            "the input {} holds {from_count} values",
            shape_str(from)
        ))
        .with_hint("write `-1` for one dimension to infer it")
    }
}

fn invalid_shape(code: &'static str, problem: &ShapeProblem, span: Span) -> Diagnostic {
    match problem {
        ShapeProblem::Empty => Diagnostic::error(
            code,
            "a shape needs at least one dimension",
            Label::new(span, "empty shape"),
        )
        .with_hint("write e.g. `[784]` or `[1, 28, 28]`"),
        ShapeProblem::NonPositive { value } => Diagnostic::error(
            code,
            format!("shape dimension {value} is not positive"),
            Label::new(span, "dimensions must be at least 1"),
        ),
        ShapeProblem::TooLarge { dims } => {
            let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            Diagnostic::error(
                code,
                "shape holds more values than can be counted",
                Label::new(
                    span,
                    format!("[{}] overflows a 64-bit count", inner.join(", ")),
                ),
            )
        }
        ShapeProblem::SeveralInferred => Diagnostic::error(
            code,
            "only one dimension of a reshape can be `-1`",
            Label::new(span, "several `-1`"),
        ),
        ShapeProblem::InitValues {
            param,
            expected,
            found,
        } => {
            let what = match param {
                ParamKind::Weights => "weights",
                ParamKind::Bias => "bias",
            };
            let label = match found {
                Some(shape) => format!("these values have shape {}", shape_str(shape)),
                None => "these values are not a rectangular nested list".to_string(),
            };
            Diagnostic::error(
                code,
                format!("`values` for the {what} must have shape {}", shape_str(expected)),
                Label::new(span, label),
            )
            .with_note("dense weights are [units][n_in], conv weights [filters][channels][kh][kw], biases [units] or [filters]")
        }
    }
}

fn stride_drops(
    code: &'static str,
    layer: &str,
    axes: &[(Axis, WindowArith, usize)],
    span: Span,
) -> Diagnostic {
    let parts: Vec<String> = axes
        .iter()
        .map(|(axis, _, dropped)| lines_word(*axis, *dropped))
        .collect();
    let stride = axes.first().map_or(1, |(_, a, _)| a.stride);
    let mut d = Diagnostic::warning(
        code,
        format!(
            "stride {stride} of `{layer}` drops the last {}",
            parts.join(" and the last ")
        ),
        Label::new(span, "never covered by a window"),
    );
    let mut divisors = Vec::new();
    for (axis, arith, dropped) in axes {
        let covered = arith.padded_input().saturating_sub(arith.window as u128);
        d = d.with_note(format!(
            "{}: ({} + {} + {} - {}) / {} = {} / {} leaves {dropped} over, so {}",
            axis.word(),
            arith.input,
            arith.pad_before,
            arith.pad_after,
            arith.window,
            arith.stride,
            covered,
            arith.stride,
            arith.formula()
        ));
        divisors.push(covered.to_string());
    }
    divisors.dedup();
    d.with_hint(format!(
        "pad the input, pick a stride that divides {}, or use `round: ceil` (pooling)",
        divisors.join(" and ")
    ))
}

/// `1 row`, `2 columns`
fn lines_word(axis: Axis, n: usize) -> String {
    if n == 1 {
        format!("1 {}", axis.lines())
    } else {
        format!("{n} {}s", axis.lines())
    }
}

fn large_init(
    code: &'static str,
    std: f64,
    fan_in: usize,
    bias_std: Option<f64>,
    span: Span,
    layer_span: Span,
) -> Diagnostic {
    let half = fan_in / 2;
    let b = bias_std.unwrap_or(0.0);
    let z_std = ((half as f64) * std * std + b * b).sqrt();
    let scaled = 1.0 / (fan_in as f64).sqrt();
    Diagnostic::warning(
        code,
        format!("`gaussian({})` on {} inputs makes weighted inputs saturate", float_str(std), thousands(fan_in as u64)),
        Label::new(span, format!("std {} per weight", float_str(std))),
    )
    .with_secondary(layer_span, format!("this layer has {} inputs per unit", thousands(fan_in as u64)))
    .with_note(format!(
        "with half of the {fan_in} inputs on, z = w.x + b has std sqrt({half} * {}^2 + {}^2) = {:.1}, so sigmoid units start saturated and learn slowly",
        float_str(std),
        float_str(b),
        z_std
    ))
    .with_hint(format!(
        "use `init: scaled_gaussian` (std 1/sqrt({fan_in}) = {scaled:.3}), or `he` for relu layers"
    ))
}

fn act_phrase(act: Option<&str>) -> String {
    match act {
        Some(a) => format!("uses `{a}`"),
        None => "has no activation".to_string(),
    }
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

fn with_did_you_mean(d: Diagnostic, did_you_mean: &[String]) -> Diagnostic {
    match did_you_mean {
        [] => d,
        [one] => d.with_hint(format!("did you mean `{one}`?")),
        many => d.with_hint(format!("did you mean one of {}?", tick_list(many))),
    }
}

fn takes_note(callee: &str, takes: &[String]) -> String {
    if takes.is_empty() {
        format!("`{callee}` takes no arguments")
    } else {
        format!("`{callee}` takes {}", tick_list(takes))
    }
}

/// `a`, `b` and `c`
fn tick_list(names: &[String]) -> String {
    let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match ticked.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Floats as users write them: `1.0`, `0.5`, `1e-8`.
fn float_str(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arith(input: usize, window: usize, stride: usize, output: i128) -> WindowArith {
        WindowArith {
            input,
            pad_before: 0,
            pad_after: 0,
            window,
            stride,
            ceil: false,
            clipped: false,
            output,
        }
    }

    #[test]
    fn kernel_too_large_shows_the_arithmetic() {
        let e = CheckError::KernelTooLarge {
            layer: "conv2d".into(),
            axes: vec![(Axis::Height, arith(28, 31, 1, -2))],
            input: vec![1, 28, 28],
            span: Span::new(10, 20),
            input_from: Span::new(0, 5),
        };
        let d = e.to_diagnostic();
        assert_eq!(d.code, "E0203");
        assert!(
            d.notes
                .iter()
                .any(|n| n == "out = floor((28 + 0 + 0 - 31) / 1) + 1 = -2"),
            "{d:?}"
        );
        assert!(d.hints.iter().any(|h| h.contains("padding: same")), "{d:?}");
        assert_eq!(d.secondary.len(), 1);
    }

    #[test]
    fn dense_needs_vector_suggests_flatten() {
        let e = CheckError::DenseNeedsVector {
            input: vec![20, 12, 12],
            size: Some(2880),
            span: Span::new(10, 20),
            input_from: Span::new(0, 5),
        };
        let d = e.to_diagnostic();
        assert!(d
            .hints
            .contains(&"insert `flatten` before this layer: the previous layer produces [20, 12, 12] = 2880 values".to_string()));
    }

    #[test]
    fn large_init_reproduces_the_book() {
        let e = CheckError::LargeInitStd {
            std: 1.0,
            fan_in: 1000,
            bias_std: Some(1.0),
            span: Span::new(0, 1),
            layer_span: Span::new(0, 1),
        };
        let d = e.to_diagnostic();
        assert_eq!(d.severity, Severity::Warning);
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("sqrt(500 * 1.0^2 + 1.0^2) = 22.4")),
            "{d:?}"
        );
    }

    #[test]
    fn ranges_read_naturally() {
        assert_eq!(Range::at_least(Num::Int(1)).describe(), "at least 1");
        assert_eq!(
            Range::between(Num::Float(0.0), true, Num::Float(1.0), false).describe(),
            "in [0, 1)"
        );
    }

    #[test]
    fn image_side_finds_mnist() {
        assert_eq!(image_side(&[784]), Some((1, 28)));
        assert_eq!(image_side(&[3072]), Some((3, 32)));
        assert_eq!(image_side(&[10]), None);
    }

    #[test]
    fn severity_follows_code() {
        let w = CheckError::Unused {
            kind: DefKind::Let,
            name: "h".into(),
            span: Span::new(0, 1),
        };
        assert!(!w.is_error());
        let e = CheckError::ModelWithoutInput {
            model: "m".into(),
            span: Span::new(0, 1),
        };
        assert!(e.is_error());
    }
}
