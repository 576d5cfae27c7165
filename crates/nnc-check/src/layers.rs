//! The builtin layers: each one's argument schema and shape rule together.
//!
//! [`Checker::make_builtin`] reads a call's arguments into a validated
//! [`LayerKind`] (kinds E0108, ranges E0109, options E0110, argument
//! binding E0104-E0107); [`Checker::apply_builtin`] computes the output
//! shape for given inputs (E0201, E0203-E0207, W0101, W0103) and adds the
//! node. A field that is `None` held an invalid argument: the layer still
//! checks its input's rank, but its output is unknown.
//!
//! The windowed layers' shape rules live in `spatial.rs` (`conv2d`, the
//! pools), those of the layers that make images larger in `transpose.rs`.

use crate::args::Params;
use crate::builder::{LayerDraft, OutAct};
use crate::checker::Checker;
use crate::init::InitArg;
use crate::program::{Activation, Init, MathFn, Op, Param, PoolKind, Rounding, Shape, Upsampling};
use crate::recurrent::{RecurrentSpec, GRU_ARGS, LSTM_ARGS, RECURRENT_REQUIRED, RNN_ARGS};
use crate::scope::Place;
use crate::shape::element_count;
use crate::value::{ArgValue, LayerFn, Tensor, Value};
use nnc_diag::check::{
    Bound, CheckError, Derivation, Expected, Num, OptionKind, ParamKind, Range, RankNeed,
    ShapeProblem, Subject,
};
use nnc_diag::Span;
use nnc_syntax::ast::Ident;
use std::rc::Rc;

/// A builtin layer with its arguments read.
#[derive(Clone, Debug)]
pub(crate) struct BuiltinLayer {
    /// The callee as written (`dense`, `max_pool`).
    pub name: String,
    /// The call (or the bare name).
    pub span: Span,
    pub kind: LayerKind,
    /// Input tensors given in the call, after the piped one (`add(y)`).
    pub bound: Vec<Tensor>,
}

#[derive(Clone, Debug)]
pub(crate) enum LayerKind {
    Dense(DenseSpec),
    Conv(ConvSpec),
    ConvTranspose(ConvTransposeSpec),
    Upsample {
        factor: Option<[usize; 2]>,
        mode: Option<Upsampling>,
    },
    Pool(PoolSpec),
    Flatten,
    /// The target dimensions, `-1` for the inferred one.
    Reshape(Option<Vec<i64>>),
    Dropout(Option<f64>),
    MaskNoise(Option<f64>),
    GaussianNoise(Option<f64>),
    /// `leaky_relu(slope)`: `max(x, slope x)`, built of `Scale` and `Max`
    /// (its gradient comes with them); `None` when the slope was wrong.
    LeakyRelu(Option<f64>),
    Activation(Activation),
    Elementwise(Op),
    /// `exp(x)`, `pow(x, 2)`, ...; `None` when an argument was wrong.
    Math(Option<MathFn>),
    /// `rnn(units)`, `lstm(units)`, `gru(units)`.
    Recurrent(RecurrentSpec),
    /// `embed(vocabulary, dim, init: gaussian(1.0))`.
    Embed {
        vocabulary: Option<usize>,
        dim: Option<usize>,
        init: InitArg,
    },
    /// `sum(x)`, `mean(x, axis: 1)`; the axis when given (`None` inside
    /// when it was wrong).
    Reduce {
        mean: bool,
        axis: Option<Option<usize>>,
    },
}

impl LayerKind {
    /// How many input tensors the layer takes.
    pub fn arity(&self) -> usize {
        match self {
            LayerKind::Elementwise(_) => 2,
            _ => 1,
        }
    }
}

/// The slope of `leaky_relu` for negative inputs when none is given (as
/// PyTorch's `LeakyReLU`).
const LEAKY_RELU_SLOPE: f64 = 0.01;

#[derive(Clone, Debug)]
pub(crate) struct DenseSpec {
    pub units: Option<usize>,
    pub act: Option<Activation>,
    pub init: InitArg,
    pub bias_init: InitArg,
}

#[derive(Clone, Debug)]
pub(crate) struct ConvSpec {
    pub filters: Option<usize>,
    pub kernel: Option<[usize; 2]>,
    pub stride: Option<[usize; 2]>,
    pub padding: Option<Padding>,
    pub act: Option<Activation>,
    pub init: InitArg,
    pub bias_init: InitArg,
}

/// `conv2d_transpose`'s arguments: `conv2d`'s and the output padding.
#[derive(Clone, Debug)]
pub(crate) struct ConvTransposeSpec {
    pub conv: ConvSpec,
    pub output_padding: Option<[usize; 2]>,
}

#[derive(Clone, Debug)]
pub(crate) struct PoolSpec {
    pub kind: PoolKind,
    pub size: Option<[usize; 2]>,
    pub stride: Option<[usize; 2]>,
    pub padding: Option<Padding>,
    pub rounding: Option<Rounding>,
}

/// Padding as written: `valid`, `same`, or top, bottom, left, right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Padding {
    Valid,
    Same,
    Explicit([usize; 4]),
}

const DENSE: &[&str] = &["units", "act", "init", "bias_init"];

/// The biases' initialiser when `bias_init:` is not given: zeros for the
/// ReLU family (relu, softplus, silu), whose units a positive N(0, 1) bias
/// can leave all on or all off, as every current library starts them;
/// N(0, 1) otherwise, the book's default for its sigmoid and tanh networks
/// (whose experiments it reproduces).
pub(crate) fn default_bias_init(act: Option<Activation>) -> Init {
    match act {
        Some(Activation::Relu | Activation::Softplus | Activation::Silu) => Init::Zeros,
        _ => Init::Gaussian { std: 1.0 },
    }
}
const DENSE_REQUIRED: &[bool] = &[true, false, false, false];
pub(crate) const CONV: &[&str] = &[
    "filters",
    "kernel",
    "stride",
    "padding",
    "act",
    "init",
    "bias_init",
];
const CONV_REQUIRED: &[bool] = &[true, true, false, false, false, false, false];
pub(crate) const CONV_TRANSPOSE: &[&str] = &[
    "filters",
    "kernel",
    "stride",
    "padding",
    "output_padding",
    "act",
    "init",
    "bias_init",
];
const CONV_TRANSPOSE_REQUIRED: &[bool] = &[true, true, false, false, false, false, false, false];
const UPSAMPLINGS: &[(&str, Upsampling)] = &[
    ("nearest", Upsampling::Nearest),
    ("bilinear", Upsampling::Bilinear),
];
const POOL: &[&str] = &["size", "stride", "padding", "round"];
const POOL_REQUIRED: &[bool] = &[true, false, false, false];
const ONE: &[bool] = &[true];
const ROUNDINGS: &[(&str, Rounding)] = &[("floor", Rounding::Floor), ("ceil", Rounding::Ceil)];
const PADDINGS: &[(&str, Padding)] = &[("valid", Padding::Valid), ("same", Padding::Same)];

/// Reads the arguments of one call against its parameter list.
pub(crate) struct ArgReader<'c, 'a> {
    pub checker: &'c mut Checker<'a>,
    callee: String,
    slots: Vec<Option<ArgValue>>,
}

impl ArgReader<'_, '_> {
    pub(crate) fn take(&mut self, index: usize) -> Option<ArgValue> {
        self.slots.get_mut(index).and_then(Option::take)
    }

    /// Whether argument `index` was given (and not taken yet).
    pub(crate) fn has(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(Option::is_some)
    }

    /// Where argument `index` was given, if it was (and not taken yet).
    pub(crate) fn peek(&self, index: usize) -> Option<Span> {
        self.slots
            .get(index)
            .and_then(Option::as_ref)
            .map(|a| a.arg_span)
    }

    pub(crate) fn subject(&self, param: &str) -> Subject {
        Subject::Argument {
            callee: self.callee.clone(),
            param: param.to_string(),
        }
    }

    /// A positive integer; absent reads as `default`.
    pub(crate) fn positive(
        &mut self,
        index: usize,
        param: &str,
        default: Option<usize>,
    ) -> Option<usize> {
        let subject = self.subject(param);
        match self.take(index) {
            Some(arg) => self.checker.positive_int(&arg.value, arg.span, subject),
            None => default,
        }
    }

    fn pair(
        &mut self,
        index: usize,
        param: &str,
        default: Option<[usize; 2]>,
    ) -> Option<[usize; 2]> {
        let subject = self.subject(param);
        match self.take(index) {
            Some(arg) => self.checker.int_pair(&arg.value, arg.span, subject),
            None => default,
        }
    }

    /// A non-negative integer or `[rows, columns]` of them; `[0, 0]` when
    /// absent (`output_padding`).
    fn non_negative_pair(&mut self, index: usize, param: &str) -> Option<[usize; 2]> {
        let subject = self.subject(param);
        let Some(arg) = self.take(index) else {
            return Some([0, 0]);
        };
        match &arg.value {
            Value::Int(_) => self
                .non_negative(&arg.value, arg.span, &subject)
                .map(|n| [n, n]),
            Value::List(items) if items.len() == 2 => {
                let a = self.non_negative(&items[0].value, items[0].span, &subject);
                let b = self.non_negative(&items[1].value, items[1].span, &subject);
                Some([a?, b?])
            }
            other => {
                self.checker
                    .wrong_kind(other, arg.span, subject, Expected::IntOrPair);
                None
            }
        }
    }

    pub(crate) fn activation(&mut self, index: usize) -> Option<Activation> {
        let subject = self.subject("act");
        match self.take(index) {
            Some(arg) => self.checker.option(
                &arg.value,
                arg.span,
                subject,
                OptionKind::Activation,
                &Activation::ALL,
            ),
            None => Some(Activation::Identity),
        }
    }

    pub(crate) fn init(&mut self, index: usize, param: &str, default: Init, call: Span) -> InitArg {
        let slot = self.take(index);
        let callee = self.callee.clone();
        self.checker.init_arg(&callee, param, slot, default, call)
    }

    /// `padding`: a word, an integer, `[rows, columns]` or four sides.
    /// `window`, when known, bounds explicit pooling padding (pad < size).
    fn padding(
        &mut self,
        index: usize,
        default: Padding,
        window: Option<[usize; 2]>,
    ) -> Option<Padding> {
        let subject = self.subject("padding");
        let Some(arg) = self.take(index) else {
            return Some(default);
        };
        let padding = match &arg.value {
            Value::Word(_) => self.checker.option(
                &arg.value,
                arg.span,
                subject.clone(),
                OptionKind::Padding,
                PADDINGS,
            )?,
            Value::Int(_) => {
                let p = self.non_negative(&arg.value, arg.span, &subject)?;
                Padding::Explicit([p, p, p, p])
            }
            Value::List(items) if items.len() == 2 || items.len() == 4 => {
                let mut sides = Vec::with_capacity(4);
                for item in items {
                    sides.push(self.non_negative(&item.value, item.span, &subject));
                }
                let sides: Option<Vec<usize>> = sides.into_iter().collect();
                match sides?.as_slice() {
                    [h, w] => Padding::Explicit([*h, *h, *w, *w]),
                    [t, b, l, r] => Padding::Explicit([*t, *b, *l, *r]),
                    _ => return None,
                }
            }
            other => {
                self.checker
                    .wrong_kind(other, arg.span, subject, Expected::Padding);
                return None;
            }
        };
        if let (Padding::Explicit(pads), Some([wh, ww])) = (padding, window) {
            let limits = [wh, wh, ww, ww];
            if let Some((pad, limit)) = pads.iter().zip(limits).find(|(p, l)| **p >= *l) {
                self.checker.report(CheckError::OutOfRange {
                    subject,
                    value: Num::Int(i64::try_from(*pad).unwrap_or(i64::MAX)),
                    range: Range {
                        min: None,
                        max: Some(Bound {
                            value: Num::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
                            inclusive: false,
                        }),
                    },
                    span: arg.span,
                });
                return None;
            }
        }
        Some(padding)
    }

    /// The first argument, `p`, as a probability in `[0, 1)` (dropout's
    /// and masking noise's).
    fn probability(&mut self) -> Option<f64> {
        let subject = self.subject("p");
        let arg = self.take(0)?;
        let range = Range::between(Num::Float(0.0), true, Num::Float(1.0), false);
        self.checker
            .number_in(&arg.value, arg.span, subject, Some(range))
    }

    fn non_negative(&mut self, value: &Value, span: Span, subject: &Subject) -> Option<usize> {
        let n = self
            .checker
            .non_negative_int(value, span, subject.clone())?;
        usize::try_from(n).ok()
    }
}

impl<'a> Checker<'a> {
    /// A builtin layer from a call's arguments (input tensors removed).
    pub fn make_builtin(&mut self, callee: &Ident, args: Vec<ArgValue>, span: Span) -> LayerFn {
        let name = callee.name.as_str();
        let (names, required): (&[&str], &[bool]) = match name {
            "dense" => (DENSE, DENSE_REQUIRED),
            "conv2d" => (CONV, CONV_REQUIRED),
            "conv2d_transpose" => (CONV_TRANSPOSE, CONV_TRANSPOSE_REQUIRED),
            "upsample" => (&["factor", "mode"], &[true, false]),
            "max_pool" | "avg_pool" | "l2_pool" => (POOL, POOL_REQUIRED),
            "reshape" => (&["shape"], ONE),
            "dropout" => (&["p"], ONE),
            "mask_noise" => (&["p"], ONE),
            "gaussian_noise" => (&["std"], ONE),
            "leaky_relu" => (&["slope"], &[false]),
            "pow" => (&["p"], ONE),
            "sum" | "mean" => (&["axis"], &[false]),
            "rnn" => (RNN_ARGS, RECURRENT_REQUIRED),
            "lstm" => (LSTM_ARGS, RECURRENT_REQUIRED),
            "gru" => (GRU_ARGS, &RECURRENT_REQUIRED[..6]),
            "embed" => (&["vocabulary", "dim", "init"], &[true, true, false]),
            _ => (&[], &[]),
        };
        let slots = self.bind_args(name, span, Params { names, required }, args);
        let mut reader = ArgReader {
            checker: self,
            callee: name.to_string(),
            slots,
        };
        let kind = match name {
            "dense" => {
                let units = reader.positive(0, "units", None);
                let act = reader.activation(1);
                LayerKind::Dense(DenseSpec {
                    units,
                    act,
                    init: reader.init(2, "init", Init::ScaledGaussian, span),
                    bias_init: reader.init(3, "bias_init", default_bias_init(act), span),
                })
            }
            "conv2d" => {
                let filters = reader.positive(0, "filters", None);
                let kernel = reader.pair(1, "kernel", None);
                let stride = reader.pair(2, "stride", Some([1, 1]));
                let padding = reader.padding(3, Padding::Valid, None);
                let act = reader.activation(4);
                LayerKind::Conv(ConvSpec {
                    filters,
                    kernel,
                    stride,
                    padding,
                    act,
                    init: reader.init(5, "init", Init::ScaledGaussian, span),
                    bias_init: reader.init(6, "bias_init", default_bias_init(act), span),
                })
            }
            "conv2d_transpose" => {
                let filters = reader.positive(0, "filters", None);
                let kernel = reader.pair(1, "kernel", None);
                let stride = reader.pair(2, "stride", Some([1, 1]));
                let padding = reader.padding(3, Padding::Valid, None);
                let output_padding = reader.non_negative_pair(4, "output_padding");
                let act = reader.activation(5);
                LayerKind::ConvTranspose(ConvTransposeSpec {
                    conv: ConvSpec {
                        filters,
                        kernel,
                        stride,
                        padding,
                        act,
                        init: reader.init(6, "init", Init::ScaledGaussian, span),
                        bias_init: reader.init(7, "bias_init", default_bias_init(act), span),
                    },
                    output_padding,
                })
            }
            "upsample" => {
                let factor = reader.pair(0, "factor", None);
                let mode = match reader.take(1) {
                    Some(arg) => {
                        let subject = reader.subject("mode");
                        reader.checker.option(
                            &arg.value,
                            arg.span,
                            subject,
                            OptionKind::Upsampling,
                            UPSAMPLINGS,
                        )
                    }
                    None => Some(Upsampling::Nearest),
                };
                LayerKind::Upsample { factor, mode }
            }
            "max_pool" | "avg_pool" | "l2_pool" => {
                let size = reader.pair(0, "size", None);
                let stride = reader.pair(1, "stride", size);
                LayerKind::Pool(PoolSpec {
                    kind: match name {
                        "max_pool" => PoolKind::Max,
                        "avg_pool" => PoolKind::Average,
                        _ => PoolKind::L2,
                    },
                    size,
                    stride,
                    padding: reader.padding(2, Padding::Explicit([0; 4]), size),
                    rounding: match reader.take(3) {
                        Some(arg) => {
                            let subject = reader.subject("round");
                            reader.checker.option(
                                &arg.value,
                                arg.span,
                                subject,
                                OptionKind::Rounding,
                                ROUNDINGS,
                            )
                        }
                        None => Some(Rounding::Floor),
                    },
                })
            }
            "reshape" => {
                let arg = reader.take(0);
                LayerKind::Reshape(
                    arg.and_then(|a| reader.checker.reshape_target(&a.value, a.span)),
                )
            }
            "dropout" => LayerKind::Dropout(reader.probability()),
            "mask_noise" => LayerKind::MaskNoise(reader.probability()),
            "gaussian_noise" => {
                let subject = reader.subject("std");
                let std = reader.take(0).and_then(|a| {
                    let range = Range::at_least(Num::Float(0.0));
                    reader
                        .checker
                        .number_in(&a.value, a.span, subject, Some(range))
                });
                LayerKind::GaussianNoise(std)
            }
            "leaky_relu" => {
                let subject = reader.subject("slope");
                let slope = match reader.take(0) {
                    Some(a) => {
                        let range = Range::between(Num::Float(0.0), true, Num::Float(1.0), false);
                        reader
                            .checker
                            .number_in(&a.value, a.span, subject, Some(range))
                    }
                    None => Some(LEAKY_RELU_SLOPE),
                };
                LayerKind::LeakyRelu(slope)
            }
            "rnn" | "lstm" | "gru" => LayerKind::Recurrent(reader.recurrent(name, span)),
            "embed" => LayerKind::Embed {
                vocabulary: reader.positive(0, "vocabulary", None),
                dim: reader.positive(1, "dim", None),
                init: reader.init(2, "init", Init::Gaussian { std: 1.0 }, span),
            },
            "add" => LayerKind::Elementwise(Op::Add),
            "sub" => LayerKind::Elementwise(Op::Sub),
            "mul" => LayerKind::Elementwise(Op::Mul),
            "div" => LayerKind::Elementwise(Op::Div),
            "min" => LayerKind::Elementwise(Op::Min),
            "max" => LayerKind::Elementwise(Op::Max),
            "pow" => {
                let subject = reader.subject("p");
                let p = reader
                    .take(0)
                    .and_then(|a| reader.checker.number_in(&a.value, a.span, subject, None));
                LayerKind::Math(p.map(MathFn::Pow))
            }
            "sum" | "mean" => {
                let subject = reader.subject("axis");
                let axis = reader.take(0).map(|a| {
                    reader
                        .checker
                        .non_negative_int(&a.value, a.span, subject)
                        .and_then(|n| usize::try_from(n).ok())
                });
                LayerKind::Reduce {
                    mean: name == "mean",
                    axis,
                }
            }
            other if MathFn::NAMED.iter().any(|(n, _)| *n == other) => LayerKind::Math(
                MathFn::NAMED
                    .iter()
                    .find(|(n, _)| *n == other)
                    .map(|(_, f)| *f),
            ),
            "flatten" => LayerKind::Flatten,
            other => match Activation::ALL.iter().find(|(n, _)| *n == other) {
                Some((_, act)) => LayerKind::Activation(*act),
                None => LayerKind::Flatten,
            },
        };
        LayerFn::Builtin(Rc::new(BuiltinLayer {
            name: callee.name.clone(),
            span,
            kind,
            bound: Vec::new(),
        }))
    }

    /// The target of `reshape`: positive integers and at most one `-1`.
    fn reshape_target(&mut self, value: &Value, span: Span) -> Option<Vec<i64>> {
        let Value::List(items) = value else {
            let subject = Subject::Argument {
                callee: "reshape".into(),
                param: "shape".into(),
            };
            self.wrong_kind(value, span, subject, Expected::ReshapeShape);
            return None;
        };
        if items.is_empty() {
            self.report(CheckError::InvalidShape {
                problem: ShapeProblem::Empty,
                span,
            });
            return None;
        }
        let mut dims = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match &item.value {
                Value::Int(d) if *d >= 1 || *d == -1 => dims.push(*d),
                Value::Int(d) => {
                    self.report(CheckError::InvalidShape {
                        problem: ShapeProblem::NonPositive { value: *d },
                        span: item.span,
                    });
                    ok = false;
                }
                other => {
                    self.wrong_kind(other, item.span, Subject::Dimension, Expected::Int);
                    ok = false;
                }
            }
        }
        if dims.iter().filter(|d| **d == -1).count() > 1 {
            self.report(CheckError::InvalidShape {
                problem: ShapeProblem::SeveralInferred,
                span,
            });
            ok = false;
        }
        ok.then_some(dims)
    }

    /// Applies a builtin layer. `base` names the node (a `layer` instance's
    /// name), `site` is where it is applied.
    pub fn apply_builtin(
        &mut self,
        place: Place,
        b: &BuiltinLayer,
        inputs: Vec<Tensor>,
        site: Option<Span>,
        base: Option<&str>,
    ) -> Tensor {
        let span = self.site_override.unwrap_or(b.span);
        let mut all = inputs;
        all.extend(b.bound.iter().cloned());
        let expected = b.kind.arity();
        if all.len() != expected {
            return self.wrong_input_count(&b.name, expected, all.len(), site.unwrap_or(b.span));
        }
        let base = base.unwrap_or(&b.name);
        let mut all = all.into_iter();
        let (Some(x), second) = (all.next(), all.next()) else {
            return Tensor::unknown(span);
        };
        match &b.kind {
            LayerKind::Elementwise(op) => match second {
                Some(y) => self.elementwise_named(place, op.clone(), base, &b.name, x, y, span),
                None => Tensor::unknown(span),
            },
            kind => {
                let Some(shape) = x.shape.clone() else {
                    return Tensor::unknown(span);
                };
                let ctx = Applied {
                    place,
                    name: &b.name,
                    base,
                    span,
                    x: &x,
                    shape: &shape,
                };
                match kind {
                    LayerKind::Dense(spec) => self.apply_dense(&ctx, spec),
                    LayerKind::Conv(spec) => self.apply_conv(&ctx, spec),
                    LayerKind::ConvTranspose(spec) => self.apply_conv_transpose(&ctx, spec),
                    LayerKind::Upsample { factor, mode } => {
                        self.apply_upsample(&ctx, *factor, *mode)
                    }
                    LayerKind::Pool(spec) => self.apply_pool(&ctx, spec),
                    LayerKind::Flatten => self.apply_flatten(&ctx),
                    LayerKind::Reshape(target) => self.apply_reshape(&ctx, target.as_deref()),
                    LayerKind::Dropout(p) => match p {
                        Some(p) => self.simple_node(
                            &ctx,
                            Op::Dropout { p: *p },
                            shape.clone(),
                            self.out_act(&x),
                        ),
                        None => Tensor::unknown(span),
                    },
                    LayerKind::MaskNoise(p) => match p {
                        Some(p) => self.simple_node(
                            &ctx,
                            Op::MaskNoise { p: *p },
                            shape.clone(),
                            self.out_act(&x),
                        ),
                        None => Tensor::unknown(span),
                    },
                    // Noise leaves an activation's range: the values are
                    // plain afterwards.
                    LayerKind::GaussianNoise(std) => match std {
                        Some(std) => self.simple_node(
                            &ctx,
                            Op::GaussianNoise { std: *std },
                            shape.clone(),
                            OutAct::Plain,
                        ),
                        None => Tensor::unknown(span),
                    },
                    LayerKind::LeakyRelu(slope) => match slope {
                        Some(slope) => {
                            let scaled = self.simple_node(
                                &ctx,
                                Op::Scale(*slope),
                                shape.clone(),
                                OutAct::Plain,
                            );
                            self.elementwise_named(
                                place,
                                Op::Max,
                                base,
                                &b.name,
                                x.clone(),
                                scaled,
                                span,
                            )
                        }
                        None => Tensor::unknown(span),
                    },
                    LayerKind::Activation(act) => self.apply_activation(&ctx, *act),
                    LayerKind::Elementwise(_) => Tensor::unknown(span),
                    LayerKind::Math(f) => match f {
                        Some(f) => {
                            self.simple_node(&ctx, Op::Math(*f), shape.clone(), OutAct::Plain)
                        }
                        None => Tensor::unknown(span),
                    },
                    LayerKind::Reduce { mean, axis } => self.apply_reduce(&ctx, *mean, *axis),
                    LayerKind::Recurrent(spec) => self.apply_recurrent(&ctx, spec),
                    LayerKind::Embed {
                        vocabulary,
                        dim,
                        init,
                    } => self.apply_embed(&ctx, *vocabulary, *dim, init),
                }
            }
        }
    }

    /// `sum(x)` / `mean(x)` over every axis of the example (`[1]` left),
    /// or over `axis` (E0109 past the last axis).
    fn apply_reduce(
        &mut self,
        ctx: &Applied<'_>,
        mean: bool,
        axis: Option<Option<usize>>,
    ) -> Tensor {
        let rank = ctx.shape.len();
        let axes: Vec<usize> = match axis {
            None => (0..rank).collect(),
            Some(None) => return Tensor::unknown(ctx.span),
            Some(Some(a)) if a < rank => vec![a],
            Some(Some(a)) => {
                self.report(CheckError::AxisOutOfRange {
                    callee: ctx.name.to_string(),
                    value: a,
                    shape: ctx.shape.clone(),
                    span: ctx.span,
                    from: ctx.x.from,
                });
                return Tensor::unknown(ctx.span);
            }
        };
        let mut shape: Shape = (0..rank)
            .filter(|i| !axes.contains(i))
            .map(|i| ctx.shape[i])
            .collect();
        if shape.is_empty() {
            shape.push(1);
        }
        self.simple_node(ctx, Op::Reduce { axes, mean }, shape, OutAct::Plain)
    }

    /// A node whose derivation is just "this layer on that input".
    pub(crate) fn simple_node(
        &mut self,
        ctx: &Applied<'_>,
        op: Op,
        shape: Shape,
        act: OutAct,
    ) -> Tensor {
        let derivation = Derivation::Layer {
            layer: ctx.name.to_string(),
            inputs: vec![ctx.shape.clone()],
            windows: Vec::new(),
        };
        self.new_node(
            ctx.place,
            ctx.base,
            op,
            &[ctx.x],
            shape,
            ctx.span,
            derivation,
            act,
        )
    }

    fn apply_dense(&mut self, ctx: &Applied<'_>, spec: &DenseSpec) -> Tensor {
        // A sequence `[T, n]` is transformed step by step.
        let shape = match ctx.shape.as_slice() {
            [n] => Some((None, n)),
            [t, n] => Some((Some(*t), n)),
            _ => None,
        };
        let Some((steps, n)) = shape else {
            self.report(CheckError::DenseNeedsVector {
                input: ctx.shape.clone(),
                size: element_count(ctx.shape),
                span: ctx.span,
                input_from: ctx.x.from,
            });
            return Tensor::unknown(ctx.span);
        };
        let Some(units) = spec.units else {
            return Tensor::unknown(ctx.span);
        };
        let weights = vec![units, *n];
        let bias = vec![units];
        self.lint_wide_gaussian(&spec.init, &spec.bias_init, *n, ctx.span);
        let Some(layer) = self.params(
            ctx,
            &spec.init,
            &spec.bias_init,
            weights,
            bias,
            *n,
            Some(units),
        ) else {
            return Tensor::unknown(ctx.span);
        };
        let op = Op::Dense {
            layer,
            units,
            act: spec.act.unwrap_or(Activation::Identity),
        };
        let shape = match steps {
            Some(t) => vec![t, units],
            None => vec![units],
        };
        self.simple_node(ctx, op, shape, act_of(spec.act))
    }

    /// Checks and registers the parameters of a dense or conv2d layer (a
    /// weight, then a bias).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn params(
        &mut self,
        ctx: &Applied<'_>,
        init: &InitArg,
        bias_init: &InitArg,
        weights: Shape,
        bias: Shape,
        fan_in: usize,
        fan_out: Option<usize>,
    ) -> Option<crate::program::LayerId> {
        let counts = element_count(&weights).and_then(|w| w.checked_add(*bias.first()?));
        let (Some(_), Some(fan_out)) = (counts, fan_out) else {
            self.report(CheckError::InvalidShape {
                problem: ShapeProblem::TooLarge {
                    dims: weights.iter().map(|d| *d as u128).collect(),
                },
                span: ctx.span,
            });
            return None;
        };
        let weight_init = self.resolve_init(init, &weights, ParamKind::Weights);
        let bias_init = self.resolve_init(bias_init, &bias, ParamKind::Bias);
        // Dense and conv2d layers declare a weight, then a bias: the order of
        // their tensors (and of every checkpoint of them).
        let draft = LayerDraft {
            params: vec![
                Param::weight(weights, weight_init?),
                Param::bias(bias, bias_init?),
            ],
            fan_in,
            fan_out,
            span: ctx.span,
            name_hint: None,
            first_node: None,
        };
        self.register_layer(draft, ctx.span)
    }

    /// E0205: the layer's input has a rank it does not take.
    pub(crate) fn wrong_rank(&mut self, ctx: &Applied<'_>, need: RankNeed) -> Tensor {
        self.report(CheckError::WrongRank {
            layer: ctx.name.to_string(),
            need,
            actual: ctx.shape.clone(),
            span: ctx.span,
            input_from: ctx.x.from,
        });
        Tensor::unknown(ctx.span)
    }

    /// Registers a layer's parameters: a new set, or in a `layer`
    /// instance the shared set of its first use (E0210 when the shapes
    /// differ from that use's).
    pub(crate) fn register_layer(
        &mut self,
        draft: LayerDraft,
        span: Span,
    ) -> Option<crate::program::LayerId> {
        match self.builder.param_layer(draft, span) {
            Ok(id) => Some(id),
            Err(mismatch) => {
                self.report(CheckError::SharedLayerShape {
                    name: mismatch.name,
                    first: mismatch.first,
                    now: mismatch.now,
                    span,
                    first_span: mismatch.first_span,
                });
                None
            }
        }
    }

    fn apply_flatten(&mut self, ctx: &Applied<'_>) -> Tensor {
        let Some(n) = element_count(ctx.shape) else {
            return Tensor::unknown(ctx.span);
        };
        let act = self.out_act(ctx.x);
        self.simple_node(ctx, Op::Flatten, vec![n], act)
    }

    fn apply_reshape(&mut self, ctx: &Applied<'_>, target: Option<&[i64]>) -> Tensor {
        let (Some(target), Some(count)) = (target, element_count(ctx.shape)) else {
            return Tensor::unknown(ctx.span);
        };
        let known: u128 = target.iter().filter(|d| **d != -1).fold(1u128, |acc, d| {
            acc.saturating_mul(u128::try_from(*d).unwrap_or(0))
        });
        let inferred = target.contains(&-1);
        let fits = if inferred {
            known != 0 && (count as u128).is_multiple_of(known)
        } else {
            known == count as u128
        };
        if !fits {
            self.report(CheckError::ReshapeCount {
                from: ctx.shape.clone(),
                from_count: count,
                to: target.to_vec(),
                to_count: known,
                inferred,
                span: ctx.span,
            });
            return Tensor::unknown(ctx.span);
        }
        let fill = (count as u128)
            .checked_div(known)
            .and_then(|f| usize::try_from(f).ok())
            .unwrap_or(0);
        let shape: Shape = target
            .iter()
            .map(|d| {
                if *d == -1 {
                    fill
                } else {
                    usize::try_from(*d).unwrap_or(0)
                }
            })
            .collect();
        let act = self.out_act(ctx.x);
        self.simple_node(ctx, Op::Reshape, shape, act)
    }

    fn apply_activation(&mut self, ctx: &Applied<'_>, act: Activation) -> Tensor {
        // A sequence's softmax is per step (over its last axis).
        if act == Activation::Softmax && !matches!(ctx.shape.len(), 1 | 2) {
            return self.wrong_rank(ctx, RankNeed::Vector);
        }
        self.simple_node(
            ctx,
            Op::Activation(act),
            ctx.shape.clone(),
            OutAct::Act(act),
        )
    }
}

/// What every shape rule needs about one application.
pub(crate) struct Applied<'c> {
    pub place: Place,
    /// The layer's name as written (for messages).
    pub name: &'c str,
    /// The node's base name.
    pub base: &'c str,
    pub span: Span,
    pub x: &'c Tensor,
    pub shape: &'c Shape,
}

pub(crate) fn act_of(act: Option<Activation>) -> OutAct {
    act.map_or(OutAct::Unknown, OutAct::Act)
}
