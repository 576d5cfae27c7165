//! The sequence builtins: the recurrent layers `rnn(units)`, `lstm(units)`
//! and `gru(units)` (their arguments and their shape rule; the layer is one
//! node of the model, [`Op::Recurrent`], which `nnc-lower` unrolls over the
//! sequence) and `embed(vocabulary, dim)`.

use crate::builder::{LayerDraft, OutAct};
use crate::checker::Checker;
use crate::init::InitArg;
use crate::layers::{Applied, ArgReader};
use crate::program::{recurrent_suffix, Activation, Cell, Init, Op, Param, ParamRole};
use crate::shape::element_count;
use crate::value::{Tensor, Value};
use nnc_diag::check::{CheckError, Expected, OptionKind, ParamKind, RankNeed, ShapeProblem};
use nnc_diag::Span;

/// The argument names of `rnn`, `lstm` and `gru`.
pub(crate) const RNN_ARGS: &[&str] = &[
    "units",
    "act",
    "return",
    "layers",
    "bidirectional",
    "init",
    "bias_init",
];
pub(crate) const LSTM_ARGS: &[&str] = &[
    "units",
    "return",
    "layers",
    "bidirectional",
    "forget_bias",
    "init",
    "bias_init",
];
pub(crate) const GRU_ARGS: &[&str] = &[
    "units",
    "return",
    "layers",
    "bidirectional",
    "init",
    "bias_init",
];
/// Only `units` is required.
pub(crate) const RECURRENT_REQUIRED: &[bool] = &[true, false, false, false, false, false, false];

const RETURNS: &[(&str, bool)] = &[("all", true), ("last", false)];

/// A recurrent builtin with its arguments read; `None` fields held an
/// invalid argument (already reported).
#[derive(Clone, Debug)]
pub(crate) struct RecurrentSpec {
    pub cell: Option<Cell>,
    pub units: Option<usize>,
    /// `return: all` (every step's state) or `last`.
    pub all: Option<bool>,
    pub layers: Option<usize>,
    pub bidirectional: Option<bool>,
    /// `lstm(forget_bias: v)`: biases zero but the forget gate's, `v`.
    pub forget_bias: Option<Option<f64>>,
    pub init: InitArg,
    pub bias_init: InitArg,
}

impl ArgReader<'_, '_> {
    /// Reads `rnn`, `lstm` or `gru`'s arguments (positions as in
    /// [`RNN_ARGS`], [`LSTM_ARGS`], [`GRU_ARGS`]).
    pub(crate) fn recurrent(&mut self, name: &str, span: Span) -> RecurrentSpec {
        let units = self.positive(0, "units", None);
        // The position of each argument after `units` in this builtin's list.
        let names: &[&str] = match name {
            "rnn" => RNN_ARGS,
            "lstm" => LSTM_ARGS,
            _ => GRU_ARGS,
        };
        let at = |arg: &str| names.iter().position(|n| *n == arg);
        let cell = match name {
            "rnn" => {
                let act = match at("act") {
                    Some(i) if self.has(i) => self.activation(i),
                    _ => Some(Activation::Tanh),
                };
                act.map(Cell::Rnn)
            }
            "lstm" => Some(Cell::Lstm),
            _ => Some(Cell::Gru),
        };
        let all = match at("return").and_then(|i| self.take(i)) {
            Some(arg) => {
                let subject = self.subject("return");
                self.checker
                    .option(&arg.value, arg.span, subject, OptionKind::Return, RETURNS)
            }
            None => Some(true),
        };
        let layers = match at("layers") {
            Some(i) => self.positive(i, "layers", Some(1)),
            None => Some(1),
        };
        let bidirectional = match at("bidirectional").and_then(|i| self.take(i)) {
            Some(arg) => match arg.value {
                Value::Bool(b) => Some(b),
                Value::Unknown => None,
                ref other => {
                    let subject = self.subject("bidirectional");
                    self.checker
                        .wrong_kind(other, arg.span, subject, Expected::Bool);
                    None
                }
            },
            None => Some(false),
        };
        let mut forget_span = None;
        let forget_bias = match at("forget_bias").and_then(|i| self.take(i)) {
            Some(arg) => {
                forget_span = Some(arg.arg_span);
                let subject = self.subject("forget_bias");
                Some(self.checker.number_in(&arg.value, arg.span, subject, None))
            }
            None => None,
        };
        let init_at = at("init").unwrap_or(names.len());
        let bias_at = at("bias_init").unwrap_or(names.len());
        if let (Some(_), Some(bias)) = (&forget_bias, self.peek(bias_at)) {
            let forget = forget_span.unwrap_or(span);
            self.checker.report(CheckError::ExclusiveArguments {
                callee: name.to_string(),
                name: "forget_bias".into(),
                other: "bias_init".into(),
                decides: "the biases' initial values".into(),
                span: forget,
                other_span: bias,
            });
        }
        RecurrentSpec {
            cell,
            units,
            all,
            layers,
            bidirectional,
            forget_bias,
            init: self.init(init_at, "init", Init::ScaledUniform, span),
            bias_init: self.init(bias_at, "bias_init", Init::ScaledUniform, span),
        }
    }
}

impl Checker<'_> {
    /// A recurrent layer on a sequence `[T, features]` (E0205 for any
    /// other rank).
    pub(crate) fn apply_recurrent(&mut self, ctx: &Applied<'_>, spec: &RecurrentSpec) -> Tensor {
        let [steps, features] = ctx.shape.as_slice() else {
            return self.wrong_rank(ctx, RankNeed::Sequence);
        };
        let (Some(cell), Some(units), Some(all), Some(layers), Some(bidirectional)) = (
            spec.cell,
            spec.units,
            spec.all,
            spec.layers,
            spec.bidirectional,
        ) else {
            return Tensor::unknown(ctx.span);
        };
        let dirs = if bidirectional { 2 } else { 1 };
        let gates = cell.gates();
        let rows = gates.checked_mul(units);
        let width = units.checked_mul(dirs);
        let (Some(rows), Some(width)) = (rows, width) else {
            return self.recurrent_too_large(ctx, vec![gates, units]);
        };
        let mut params = Vec::new();
        for layer in 0..layers {
            let inputs = if layer == 0 { *features } else { width };
            for reverse in [false, true].into_iter().take(dirs) {
                let suffix = recurrent_suffix(layer, reverse);
                for (name, shape) in [
                    (format!("weight_ih{suffix}"), vec![rows, inputs]),
                    (format!("weight_hh{suffix}"), vec![rows, units]),
                ] {
                    if element_count(&shape).is_none() {
                        return self.recurrent_too_large(ctx, shape);
                    }
                    let init = self.resolve_init(&spec.init, &shape, ParamKind::Weights);
                    let Some(init) = init else {
                        return Tensor::unknown(ctx.span);
                    };
                    params.push(Param {
                        name,
                        role: ParamRole::Weight,
                        shape,
                        init,
                        decay: true,
                        trained: true,
                    });
                }
                for name in cell.bias_names(&suffix) {
                    let shape = vec![rows];
                    let init = match spec.forget_bias {
                        Some(Some(v)) => {
                            let mut values = vec![0.0; rows];
                            values[units..2 * units].fill(v);
                            Init::Values(values)
                        }
                        Some(None) => return Tensor::unknown(ctx.span),
                        None => {
                            let init = self.resolve_init(&spec.bias_init, &shape, ParamKind::Bias);
                            let Some(init) = init else {
                                return Tensor::unknown(ctx.span);
                            };
                            init
                        }
                    };
                    params.push(Param {
                        name,
                        role: ParamRole::Bias,
                        shape,
                        init,
                        decay: false,
                        trained: true,
                    });
                }
            }
        }
        let draft = LayerDraft {
            params,
            // PyTorch's initialisation: U(-1/sqrt(units), 1/sqrt(units)).
            fan_in: units,
            fan_out: rows,
            span: ctx.span,
            name_hint: None,
            first_node: None,
        };
        let Some(layer) = self.register_layer(draft, ctx.span) else {
            return Tensor::unknown(ctx.span);
        };
        let op = Op::Recurrent {
            layer,
            cell,
            units,
            layers,
            bidirectional,
            all,
        };
        let shape = if all {
            vec![*steps, width]
        } else {
            vec![width]
        };
        self.simple_node(ctx, op, shape, OutAct::Plain)
    }

    fn recurrent_too_large(&mut self, ctx: &Applied<'_>, dims: Vec<usize>) -> Tensor {
        self.report(CheckError::InvalidShape {
            problem: ShapeProblem::TooLarge {
                dims: dims.iter().map(|d| *d as u128).collect(),
            },
            span: ctx.span,
        });
        Tensor::unknown(ctx.span)
    }
}

impl Checker<'_> {
    /// `embed(vocabulary, dim)` on indices `[n]`: `[n, dim]`. The indices
    /// must be a model input (E0214): only the data gives indices.
    pub(crate) fn apply_embed(
        &mut self,
        ctx: &Applied<'_>,
        vocabulary: Option<usize>,
        dim: Option<usize>,
        init: &InitArg,
    ) -> Tensor {
        let [n] = ctx.shape.as_slice() else {
            return self.wrong_rank(ctx, RankNeed::Vector);
        };
        let is_input = ctx
            .x
            .node
            .and_then(|id| self.builder.node(id))
            .is_some_and(|node| matches!(node.op, Op::Input));
        if !is_input {
            self.report(CheckError::EmbedInput {
                span: ctx.span,
                input_from: ctx.x.from,
            });
            return Tensor::unknown(ctx.span);
        }
        let (Some(vocabulary), Some(dim)) = (vocabulary, dim) else {
            return Tensor::unknown(ctx.span);
        };
        let shape = vec![vocabulary, dim];
        if element_count(&shape).is_none() {
            return self.recurrent_too_large(ctx, shape);
        }
        let Some(init) = self.resolve_init(init, &shape, ParamKind::Weights) else {
            return Tensor::unknown(ctx.span);
        };
        let draft = LayerDraft {
            params: vec![Param {
                name: "weight".into(),
                role: ParamRole::Weight,
                shape,
                init,
                decay: true,
                trained: true,
            }],
            fan_in: 1,
            fan_out: dim,
            span: ctx.span,
            name_hint: None,
            first_node: None,
        };
        let Some(layer) = self.register_layer(draft, ctx.span) else {
            return Tensor::unknown(ctx.span);
        };
        let op = Op::Embed {
            layer,
            vocabulary,
            dim,
        };
        self.simple_node(ctx, op, vec![*n, dim], OutAct::Plain)
    }
}
