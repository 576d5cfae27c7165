//! Check errors: the facts the checker (`nnc-check`) reports, and their
//! wording.
//!
//! Each [`CheckError`] variant carries spans, names copied from the source
//! and the actual numbers; [`CheckError::to_diagnostic`] is the only place
//! that turns them into a message, labels, notes (the arithmetic with the
//! real numbers) and hints (the concrete fix, "did you mean"). The severity
//! of a fact follows from its code: `W` codes are warnings (lints).
//!
//! The facts are declared here; their parts and their wording live in one
//! module per family of codes: `names` (E0101-E0107), `values`
//! (E0108-E0110, E0116), `structure` (E0111-E0115, E0117), `shapes`
//! (E0201-E0210), `training` (E0301-E0302, E0401-E0406) and `lints`
//! (W0101-W0105). `wording` holds [`CheckError::to_diagnostic`], one
//! exhaustive match that hands each fact to its family's wording.

mod lints;
mod names;
mod shapes;
mod structure;
mod training;
mod values;
mod wording;
mod words;

pub use names::{DefKind, NameKind};
pub use shapes::{
    Axis, Derivation, ParamKind, RankNeed, Shape, ShapeProblem, TransposeArith, WindowArith,
};
pub use structure::{BodyKind, StmtKind};
pub use training::{MetricMisfit, SplitNeed};
pub use values::{Bound, Expected, Found, Num, OptionKind, Range, Subject};

use crate::{Severity, Span};

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
    /// E0121: two arguments of one call that cannot be given together
    /// (`lstm(forget_bias: 1.0, bias_init: zeros)`: both set the biases).
    ExclusiveArguments {
        callee: String,
        name: String,
        other: String,
        /// What both would decide.
        decides: String,
        span: Span,
        other_span: Span,
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
        /// The body's last `let` (its name and where it is named), most
        /// likely the value meant as the output.
        last_let: Option<(String, Span)>,
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
    /// E0109: an axis (or a slice's end) beyond the tensor's shape.
    AxisOutOfRange {
        /// `sum`, `mean`, `concat`, or `slice`.
        callee: String,
        /// The axis asked for, or the slice's end.
        value: usize,
        shape: Shape,
        span: Span,
        from: Span,
    },
    /// E0120: `let (a, b) = VALUE` where the value is no call of a block,
    /// or a block of other many outputs (`given` names); or a block of
    /// several outputs used as one tensor (`given` is `None`).
    BlockOutputs {
        block: Option<String>,
        outputs: Vec<String>,
        given: Option<usize>,
        span: Span,
    },
    /// E0214: `embed` applied to a computed tensor: it reads class
    /// indices, which only the data gives (a model input).
    EmbedInput { span: Span, input_from: Span },
    /// E0213: a cell that `unroll` cannot run over a sequence.
    Cell {
        block: String,
        problem: CellProblem,
        /// The `unroll` call.
        span: Span,
        /// The block's definition, or the state's `input` statement.
        at: Span,
    },
    /// E0410: `bptt` that cannot carry state: see [`BpttProblem`].
    Bptt {
        problem: BpttProblem,
        /// The `bptt` setting.
        span: Span,
        /// What the problem is about (the model, the layer, the source).
        at: Span,
    },
    /// E0119: a source without labels in labelled data.
    SourceWithoutLabels {
        span: Span,
        /// Where `labels` is set, when it is.
        labels: Option<Span>,
    },
    /// E0407: a model whose cost reads labels, trained on `labels none`.
    NeedsLabels {
        model: String,
        data: String,
        span: Span,
        cost: Span,
        labels: Option<Span>,
    },
    /// E0304: `cost EXPR` that is not one value per example.
    PenaltyShape {
        shape: Shape,
        span: Span,
        from: Span,
    },
    /// E0305: `cost_name NAME` where NAME is a measure's or a cost term's
    /// name, or no plain name.
    CostName {
        name: Option<String>,
        /// The term of that name, when a cost term has it.
        term: Option<Span>,
        span: Span,
    },
    /// E0117: two costs that both read the data's labels.
    CostTwice { span: Span, first: Span },
    /// E0303: a cost's target input differs in shape from its output.
    CostTargetShape {
        output: String,
        output_shape: Shape,
        target: String,
        target_shape: Shape,
        span: Span,
        target_span: Span,
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
    /// E0211: `conv2d_transpose` arithmetic along one axis that gives no
    /// output, an output padding not smaller than the stride, or `padding:
    /// same` with a kernel (plus output padding) smaller than the stride.
    TransposeArith {
        layer: String,
        axis: Axis,
        arith: TransposeArith,
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
    /// E0406: a classification metric on real-valued labels, or a top-k
    /// accuracy with `k` at least the number of classes.
    MetricMisfit {
        metric: String,
        misfit: MetricMisfit,
        span: Span,
        data_span: Span,
    },
    /// E0118: an augmentation that moves pixels on data that are not
    /// images (a CSV table).
    AugmentNeedsImages {
        augmentation: String,
        span: Span,
        source_span: Span,
        /// The training data are a text (character indices), where no
        /// augmentation applies, not a table.
        text: bool,
    },
    /// E0404: `at epoch` phases not in increasing order.
    PhasesOutOfOrder {
        epoch: usize,
        previous: usize,
        span: Span,
        previous_span: Span,
    },
    /// E0405: `train a, b on d` without `step` sections.
    SeveralModels { count: usize, span: Span },
    /// E0212: a model called in a step on a tensor of another shape than
    /// its input (a generator's output given to a discriminator).
    PlayerInput {
        model: String,
        input: String,
        expected: Shape,
        /// Where the input is declared.
        expected_span: Span,
        given: Shape,
        /// Where the given tensor was computed.
        given_from: Span,
        span: Span,
    },
    /// E0306: a step whose cost does not depend on the parameters of the
    /// model it updates (`detached`: it does, but only through `detach`).
    StepIgnoresModel {
        model: String,
        span: Span,
        step_span: Span,
        detached: bool,
    },
    /// E0408: `step NAME` for a model the train block does not name.
    StepModelNotTrained {
        model: String,
        span: Span,
        header: Span,
    },
    /// E0409: `labels` in a step when the data has no one-hot labels.
    StepLabels {
        data: String,
        span: Span,
        data_span: Span,
    },
    /// W0107: a model of a train block that no step updates.
    NoStepUpdates { model: String, span: Span },
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
    /// W0106: a trained model's output that the cost does not reach: the
    /// layers only it uses get no gradient from the cost.
    OutputNotTrained {
        output: String,
        /// The output the cost applies to.
        cost_output: String,
        /// The layers that feed `output` but not the cost's output.
        layers: Vec<String>,
        span: Span,
        cost_span: Span,
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
            OutOfRange { .. } | EmptySlice { .. } | AxisOutOfRange { .. } => "E0109",
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
            SettingTwice { .. } | CostTwice { .. } => "E0117",
            CostTargetShape { .. } => "E0303",
            PenaltyShape { .. } => "E0304",
            CostName { .. } => "E0305",
            DenseNeedsVector { .. } => "E0201",
            AssertionFailed { .. } => "E0202",
            KernelTooLarge { .. } => "E0203",
            TransposeArith { .. } => "E0211",
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
            AugmentNeedsImages { .. } => "E0118",
            MetricMisfit { .. } => "E0406",
            SourceWithoutLabels { .. } => "E0119",
            BlockOutputs { .. } => "E0120",
            ExclusiveArguments { .. } => "E0121",
            Cell { .. } => "E0213",
            Bptt { .. } => "E0410",
            EmbedInput { .. } => "E0214",
            NeedsLabels { .. } => "E0407",
            PhasesOutOfOrder { .. } => "E0404",
            SeveralModels { .. } => "E0405",
            PlayerInput { .. } => "E0212",
            StepIgnoresModel { .. } => "E0306",
            StepModelNotTrained { .. } => "E0408",
            StepLabels { .. } => "E0409",
            NoStepUpdates { .. } => "W0107",
            StrideDropsPixels { .. } => "W0101",
            QuadraticSigmoid { .. } => "W0102",
            LargeInitStd { .. } => "W0103",
            LogLikelihoodWithoutSoftmax { .. } => "W0104",
            Unused { .. } => "W0105",
            OutputNotTrained { .. } => "W0106",
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

/// Why a train block's `bptt` cannot carry state from batch to batch.
#[derive(Clone, Debug, PartialEq)]
pub enum BpttProblem {
    /// The model has no recurrent layer and no state `unroll` starts at
    /// zero.
    NoState { model: String },
    /// A bidirectional layer: its backward direction starts at the end of
    /// the window.
    Bidirectional { layer: String },
    /// The training split's source does not continue from one example to
    /// the next (not a `text` source).
    NotText { data: String },
    /// The window differs from the text source's `context`.
    Length { bptt: usize, context: usize },
    /// A split drawn at random from the training windows leaves gaps in
    /// the training text's streams.
    Holdout { split: String },
}

/// What is wrong with a cell given to `unroll` (E0213).
#[derive(Clone, Debug, PartialEq)]
pub enum CellProblem {
    /// Not a dataflow block (a layer, a sequential block, a tensor).
    NotABlock { found: String },
    /// A block of one input: it has no state.
    NoState { inputs: Vec<String> },
    /// State `state` has no `STATE_next` output.
    NoNext { state: String, outputs: Vec<String> },
    /// State `state` declares no shape and no initial value is given.
    NoShape { state: String },
    /// The next value of `state` has another shape than the state.
    StateShape {
        state: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// `state:` lists `given` tensors for `expected` states.
    StateCount { expected: Vec<String>, given: usize },
}
