//! Evaluating expressions: literals, names, arithmetic, calls, pipes,
//! shape assertions and `layers { ... }` values.
//!
//! In constants and data blocks a call is kept as data ([`CallValue`]); in
//! models and blocks a call of a layer, a block or a `layer` instance makes
//! a layer, or applies it at once when its leading arguments are tensors
//! (`dense(x, 30)`, `relu(a + b)`, `add(a, b)`).

use crate::checker::Checker;
use crate::program::MathFn;
use crate::scope::{is_builtin_word, is_layer_name, Binding, Scope, FUNCTION_NAMES};
use crate::value::{ArgValue, Asserted, CallValue, Item, LayerFn, SliceValue, Tensor, Value, Word};
use nnc_diag::check::{CheckError, Expected, Subject};
use nnc_diag::Span;
use nnc_ir::rng::Noise;
use nnc_syntax::ast::{Arg, BinOp, Expr, ExprKind, Ident};
use std::rc::Rc;

impl<'a> Checker<'a> {
    pub fn eval(&mut self, scope: &mut Scope, expr: &'a Expr) -> Value {
        match &expr.kind {
            ExprKind::Int(i) => Value::Int(*i),
            ExprKind::Float { value, .. } => {
                let value = *value;
                self.finite(value, expr.span)
            }
            ExprKind::Str(s) => Value::Str(s.clone()),
            ExprKind::Bool(b) => Value::Bool(*b),
            ExprKind::Name(id) => self.eval_name(scope, id),
            ExprKind::Call { callee, args } => self.eval_call(scope, callee, args, expr.span),
            ExprKind::Slice { base, start, end } => {
                let base_value = self.eval_name(scope, base);
                if let Value::Tensor(t) = base_value {
                    return self.eval_tensor_slice(scope, t, start, end, expr.span);
                }
                let start = start.as_deref().map(|e| Item {
                    value: self.eval(scope, e),
                    span: e.span,
                });
                let end = end.as_deref().map(|e| Item {
                    value: self.eval(scope, e),
                    span: e.span,
                });
                Value::Slice(Rc::new(SliceValue {
                    base: base.clone(),
                    base_value,
                    start,
                    end,
                    span: expr.span,
                }))
            }
            ExprKind::List(items) => Value::List(
                items
                    .iter()
                    .map(|e| Item {
                        value: self.eval(scope, e),
                        span: e.span,
                    })
                    .collect(),
            ),
            ExprKind::Neg(inner) => self.eval_neg(scope, inner, expr.span),
            ExprKind::Binary { op, lhs, rhs } => self.eval_binary(scope, *op, lhs, rhs, expr.span),
            ExprKind::Pipe(stages) => self.eval_pipe(scope, stages),
            ExprKind::Assert { value, shape } => self.eval_assert(scope, value, shape),
            ExprKind::Layers(items) => Value::Layer(self.layer_list(scope, items)),
            ExprKind::Paren(inner) => self.eval(scope, inner),
        }
    }

    /// A name: a local, a constant, or else a bare [`Word`].
    pub fn eval_name(&mut self, scope: &mut Scope, id: &Ident) -> Value {
        if let Some(local) = scope.use_name(&id.name) {
            return match &local.binding {
                Binding::Value(v) => v.clone(),
                Binding::Tensor(t) => Value::Tensor(t.clone()),
                Binding::Instance(i) => Value::Layer(LayerFn::Instance(*i)),
            };
        }
        if let Some(&index) = self.const_index.get(&id.name) {
            return self.const_value(index, Some(id.span));
        }
        if self.labels_missing(id) {
            return Value::Unknown;
        }
        Value::Word(self.word(scope, id))
    }

    /// A bare name, with what a report about it would need.
    pub fn word(&self, scope: &Scope, id: &Ident) -> Word {
        let known = is_builtin_word(&id.name) || self.block_of(&id.name).is_some();
        Word {
            ident: id.clone(),
            near: if known {
                Vec::new()
            } else {
                self.near_values(scope, &id.name)
            },
            later: scope
                .later
                .get(&id.name)
                .copied()
                .filter(|s| s.start > id.span.start),
        }
    }

    /// Evaluates call arguments. A named argument that is a bare builtin
    /// word (`padding: same`, `act: relu`, `init: zeros`) is that word
    /// even where a `let` or output has the same name: named arguments
    /// never take tensors.
    pub fn eval_args(&mut self, scope: &mut Scope, args: &'a [Arg]) -> Vec<ArgValue> {
        args.iter()
            .map(|a| {
                let value = match (&a.name, &a.value.kind) {
                    (Some(_), ExprKind::Name(id)) if is_builtin_word(&id.name) => {
                        Value::Word(self.word(scope, id))
                    }
                    _ => self.eval(scope, &a.value),
                };
                ArgValue {
                    name: a.name.clone(),
                    value,
                    span: a.value.span,
                    arg_span: a.span,
                }
            })
            .collect()
    }

    fn eval_call(
        &mut self,
        scope: &mut Scope,
        callee: &Ident,
        args: &'a [Arg],
        span: Span,
    ) -> Value {
        let values = self.eval_args(scope, args);
        let name = callee.name.as_str();
        let local = scope.use_name(name).map(|l| l.binding.clone());
        let has_tensors = scope.kind.has_tensors();
        match local {
            Some(Binding::Instance(index)) if has_tensors => {
                let f = LayerFn::Instance(index);
                let inputs = self.arity(&f).unwrap_or(1);
                let (tensors, rest) = self.split_inputs(values, inputs, true);
                let mut args = tensors_as_args(tensors);
                args.extend(rest);
                return self.call_layer(scope, f, callee, args, span);
            }
            Some(_) => return self.not_callable(scope, callee, &values),
            None => {}
        }
        if let (Some(index), true) = (self.player_of(name), has_tensors) {
            return self.call_player(scope, index, args, values, span);
        }
        if name == "unroll" && has_tensors {
            return self.eval_unroll(scope, values, span);
        }
        if name == "concat" && has_tensors {
            return self.eval_concat(scope, values, span);
        }
        if let ("weight" | "bias", true) = (name, has_tensors) {
            return self.eval_param(scope, name, values, span);
        }
        if let ("batch_mean", true) = (name, has_tensors) {
            return self.eval_batch_mean(scope, values, span);
        }
        if let ("normal" | "uniform", true) = (name, has_tensors) {
            let noise = if name == "normal" {
                Noise::Normal
            } else {
                Noise::Uniform
            };
            return self.eval_noise(scope, noise, values, span);
        }
        if let Some(index) = self.block_of(name) {
            if has_tensors {
                let inputs = self.blocks.get(index).map_or(1, |b| b.input_count());
                let (tensors, rest) = self.split_inputs(values, inputs, false);
                let call = self.make_block_call(index, callee, rest, span);
                return self.call_layer(
                    scope,
                    LayerFn::Block(Rc::new(call)),
                    callee,
                    tensors_as_args(tensors),
                    span,
                );
            }
            self.mark_block_used(index);
            return call_value(callee, values, span);
        }
        if is_layer_name(name) {
            if has_tensors {
                let tensors_only = !matches!(
                    name,
                    "dense"
                        | "conv2d"
                        | "conv2d_transpose"
                        | "upsample"
                        | "max_pool"
                        | "avg_pool"
                        | "l2_pool"
                        | "reshape"
                        | "dropout"
                        | "mask_noise"
                        | "gaussian_noise"
                        | "leaky_relu"
                        | "pow"
                        | "sum"
                        | "mean"
                        | "rnn"
                        | "lstm"
                        | "gru"
                        | "embed"
                );
                let inputs = if matches!(name, "add" | "sub" | "mul" | "div" | "min" | "max") {
                    2
                } else {
                    1
                };
                let (tensors, rest) = self.split_inputs(values, inputs, tensors_only);
                let f = self.make_builtin(callee, rest, span);
                return self.call_layer(scope, f, callee, tensors_as_args(tensors), span);
            }
            return call_value(callee, values, span);
        }
        if FUNCTION_NAMES.contains(&name) {
            return call_value(callee, values, span);
        }
        self.not_callable(scope, callee, &values)
    }

    /// E0102 for a call of something that is not callable. The result is
    /// an unknown tensor when a tensor was passed in (so later uses know
    /// its kind), otherwise unknown.
    fn not_callable(&mut self, scope: &Scope, callee: &Ident, values: &[ArgValue]) -> Value {
        self.report(CheckError::UnknownCallee {
            name: callee.name.clone(),
            span: callee.span,
            did_you_mean: self.near_callees(scope, &callee.name),
        });
        if values.iter().any(|a| matches!(a.value, Value::Tensor(_))) {
            Value::Tensor(Tensor::unknown(callee.span))
        } else {
            Value::Unknown
        }
    }

    /// Applies `f` to the tensors among `args` (all leading positional
    /// tensors), or returns it as a layer, with the tensors bound, when it
    /// needs more inputs than given (`x |> add(y)`). Other arguments of a
    /// `layer` instance call are errors: an instance takes tensors only.
    fn call_layer(
        &mut self,
        scope: &mut Scope,
        f: LayerFn,
        callee: &Ident,
        args: Vec<ArgValue>,
        span: Span,
    ) -> Value {
        let (tensors, rest) = split_tensors(args);
        if let Some(extra) = rest.first() {
            if let Some(name) = &extra.name {
                self.report(CheckError::UnknownArgument {
                    callee: callee.name.clone(),
                    name: name.name.clone(),
                    span: name.span,
                    did_you_mean: Vec::new(),
                    takes: Vec::new(),
                });
            } else {
                self.report(CheckError::TooManyPositional {
                    callee: callee.name.clone(),
                    max: 0,
                    given: rest.len(),
                    span: extra.arg_span,
                    takes: Vec::new(),
                });
            }
        }
        let arity = self.arity(&f);
        if tensors.is_empty() || arity.is_some_and(|n| tensors.len() < n) {
            return Value::Layer(self.bind_inputs(f, tensors));
        }
        let place = scope.place;
        Value::Tensor(self.apply(place, &f, tensors, Some(span)))
    }

    fn eval_neg(&mut self, scope: &mut Scope, inner: &'a Expr, span: Span) -> Value {
        let value = self.eval(scope, inner);
        if let Some(v) = self.negate_number(&value, span) {
            return v;
        }
        match value {
            Value::Unknown => Value::Unknown,
            Value::Tensor(t) => {
                let place = scope.place;
                Value::Tensor(self.scale(place, t, -1.0, span))
            }
            other => {
                self.bad_operand(&other, inner.span, "-");
                Value::Unknown
            }
        }
    }

    /// E0116 for arithmetic on a non-number (or E0101 for an unknown name).
    fn bad_operand(&mut self, value: &Value, span: Span, op: &str) {
        match value {
            Value::Unknown => {}
            Value::Word(w) if self.unknown_word(w) => {}
            other => self.report(CheckError::ConstOperand {
                op: op.to_string(),
                found: self.found(other),
                span,
            }),
        }
    }

    fn eval_binary(
        &mut self,
        scope: &mut Scope,
        op: BinOp,
        lhs: &'a Expr,
        rhs: &'a Expr,
        span: Span,
    ) -> Value {
        let l = self.eval(scope, lhs);
        let r = self.eval(scope, rhs);
        let place = scope.place;
        match (l, r) {
            (Value::Tensor(a), Value::Tensor(b)) => {
                Value::Tensor(self.elementwise(place, op, a, b, span))
            }
            (Value::Tensor(t), n) if is_number_or_unknown(&n) => {
                Value::Tensor(self.scale_by(place, op, t, &n, true, lhs.span, rhs.span, span))
            }
            (n, Value::Tensor(t)) if is_number_or_unknown(&n) => {
                Value::Tensor(self.scale_by(place, op, t, &n, false, lhs.span, rhs.span, span))
            }
            (Value::Tensor(_), other) => {
                self.wrong_kind(
                    &other,
                    rhs.span,
                    Subject::Operand {
                        op: op.symbol().into(),
                    },
                    Expected::NumberOrTensor,
                );
                Value::Tensor(Tensor::unknown(span))
            }
            (other, Value::Tensor(_)) => {
                self.wrong_kind(
                    &other,
                    lhs.span,
                    Subject::Operand {
                        op: op.symbol().into(),
                    },
                    Expected::NumberOrTensor,
                );
                Value::Tensor(Tensor::unknown(span))
            }
            (l, r) => {
                if let Some(v) = self.fold_numbers(op, &l, &r, rhs.span, span) {
                    return v;
                }
                if matches!(l, Value::Unknown) || matches!(r, Value::Unknown) {
                    return Value::Unknown;
                }
                if l.as_number().is_none() {
                    self.bad_operand(&l, lhs.span, op.symbol());
                } else {
                    self.bad_operand(&r, rhs.span, op.symbol());
                }
                Value::Unknown
            }
        }
    }

    /// `x[a..b]` on a tensor: a slice of its first axis.
    fn eval_tensor_slice(
        &mut self,
        scope: &mut Scope,
        t: Tensor,
        start: &'a Option<Box<Expr>>,
        end: &'a Option<Box<Expr>>,
        span: Span,
    ) -> Value {
        let mut bound = |e: &'a Option<Box<Expr>>| -> Option<Option<usize>> {
            match e.as_deref() {
                None => Some(None),
                Some(e) => {
                    let v = self.eval(scope, e);
                    self.non_negative_int(&v, e.span, Subject::SliceBound)
                        .and_then(|n| usize::try_from(n).ok())
                        .map(Some)
                }
            }
        };
        let (a, b) = (bound(start), bound(end));
        let (Some(a), Some(b)) = (a, b) else {
            return Value::Tensor(Tensor::unknown(span));
        };
        Value::Tensor(self.slice_tensor(scope.place, t, a, b, span))
    }

    /// `weight(enc)`, `bias(enc)`: a parameter of the one layer of an
    /// applied `layer` instance, as a tensor the same for every example.
    fn eval_param(
        &mut self,
        scope: &mut Scope,
        name: &str,
        values: Vec<ArgValue>,
        span: Span,
    ) -> Value {
        let subject = Subject::Argument {
            callee: name.into(),
            param: "layer".into(),
        };
        let found = match values.as_slice() {
            [ArgValue {
                name: None,
                value: Value::Layer(LayerFn::Instance(i)),
                ..
            }] => self
                .builder
                .instances
                .get(*i)
                .and_then(|inst| match inst.weights.as_slice() {
                    [(layer, shapes, _)] => Some((*layer, shapes.clone())),
                    _ => None,
                }),
            _ => None,
        };
        let decl_and_shape = found.and_then(|(layer, shapes)| {
            let decl = self
                .builder
                .layers
                .get(layer.0)?
                .params
                .iter()
                .position(|p| p.name == name)?;
            Some((layer, decl, shapes.get(decl)?.clone()))
        });
        let Some((layer, decl, shape)) = decl_and_shape else {
            let (value, at) = values
                .first()
                .map_or((Value::Unknown, span), |a| (a.value.clone(), a.span));
            self.wrong_kind(&value, at, subject, Expected::LayerInstance);
            return Value::Tensor(Tensor::unknown(span));
        };
        Value::Tensor(self.param_tensor(scope.place, name, layer, decl, shape, span))
    }

    /// `batch_mean(x)`: the mean of tensor `x` over the batch's examples.
    fn eval_batch_mean(&mut self, scope: &mut Scope, values: Vec<ArgValue>, span: Span) -> Value {
        match values.as_slice() {
            [ArgValue {
                name: None,
                value: Value::Tensor(t),
                ..
            }] => Value::Tensor(self.batch_mean(scope.place, t, span)),
            _ => {
                let (value, at) = values
                    .first()
                    .map_or((Value::Unknown, span), |a| (a.value.clone(), a.span));
                let subject = Subject::Argument {
                    callee: "batch_mean".into(),
                    param: "x".into(),
                };
                self.wrong_kind(&value, at, subject, Expected::Tensor);
                Value::Tensor(Tensor::unknown(span))
            }
        }
    }

    /// `normal(shape)`, `uniform(shape)`: noise of `shape` per example.
    fn eval_noise(
        &mut self,
        scope: &mut Scope,
        noise: Noise,
        values: Vec<ArgValue>,
        span: Span,
    ) -> Value {
        let subject = Subject::Argument {
            callee: noise.name().into(),
            param: "shape".into(),
        };
        let [arg] = values.as_slice() else {
            self.wrong_kind(&Value::Unknown, span, subject, Expected::Shape);
            return Value::Tensor(Tensor::unknown(span));
        };
        let Some(shape) = self.shape(&arg.value, arg.span, subject) else {
            return Value::Tensor(Tensor::unknown(span));
        };
        Value::Tensor(self.noise(scope.place, noise, shape, span))
    }

    /// `concat(a, b, ..., axis: k)`: the positional tensors joined along
    /// axis `k` of the example (default 0).
    fn eval_concat(&mut self, scope: &mut Scope, values: Vec<ArgValue>, span: Span) -> Value {
        let mut parts = Vec::new();
        let mut axis = Some(0usize);
        for arg in values {
            match (&arg.name, arg.value) {
                (Some(name), value) if name.name == "axis" => {
                    axis = self
                        .non_negative_int(
                            &value,
                            arg.span,
                            Subject::Argument {
                                callee: "concat".into(),
                                param: "axis".into(),
                            },
                        )
                        .and_then(|n| usize::try_from(n).ok());
                }
                (None, Value::Tensor(t)) => parts.push(t),
                (_, other) => {
                    self.wrong_kind(
                        &other,
                        arg.span,
                        Subject::Operand {
                            op: "concat".into(),
                        },
                        Expected::Tensor,
                    );
                    return Value::Tensor(Tensor::unknown(span));
                }
            }
        }
        let Some(axis) = axis else {
            return Value::Tensor(Tensor::unknown(span));
        };
        if parts.len() < 2 {
            self.wrong_kind(
                &Value::Unknown,
                span,
                Subject::Operand {
                    op: "concat".into(),
                },
                Expected::Tensor,
            );
            return Value::Tensor(Tensor::unknown(span));
        }
        Value::Tensor(self.concat_tensors(scope.place, &parts, axis, span))
    }

    /// A tensor and a number: `n * t`, `t * n`, `t / n` scale; `t + n`,
    /// `n + t`, `t - n` and `n - t` add to every value; `n / t` divides
    /// the number by every value.
    #[allow(clippy::too_many_arguments)]
    fn scale_by(
        &mut self,
        place: crate::scope::Place,
        op: BinOp,
        t: Tensor,
        n: &Value,
        tensor_first: bool,
        lhs_span: Span,
        rhs_span: Span,
        span: Span,
    ) -> Tensor {
        let number_span = if tensor_first { rhs_span } else { lhs_span };
        let Some(x) = n.as_number() else {
            return Tensor::unknown(span);
        };
        let symbol = op.symbol();
        match op {
            BinOp::Mul => self.scale(place, t, x, span),
            BinOp::Div if tensor_first => {
                if x == 0.0 {
                    self.report(CheckError::DivisionByZero {
                        span,
                        divisor: number_span,
                    });
                    return Tensor::unknown(span);
                }
                self.scale(place, t, 1.0 / x, span)
            }
            BinOp::Div => {
                let inverse = self.math(place, t, MathFn::Pow(-1.0), symbol, span);
                self.scale(place, inverse, x, span)
            }
            BinOp::Add => self.math(place, t, MathFn::AddConst(x), symbol, span),
            BinOp::Sub if tensor_first => self.math(place, t, MathFn::AddConst(-x), symbol, span),
            BinOp::Sub => {
                let negated = self.math(place, t, MathFn::Neg, symbol, span);
                self.math(place, negated, MathFn::AddConst(x), symbol, span)
            }
        }
    }

    fn eval_pipe(&mut self, scope: &mut Scope, stages: &'a [Expr]) -> Value {
        let Some((first, rest)) = stages.split_first() else {
            return Value::Unknown;
        };
        let start = self.eval(scope, first);
        let mut value = match start {
            Value::Tensor(_) | Value::Layer(_) | Value::Unknown => start,
            other if self.is_layer_value(&other) => {
                Value::Layer(self.layer_of(scope, other, first.span))
            }
            other => {
                self.wrong_kind(&other, first.span, Subject::PipeStart, Expected::Tensor);
                Value::Tensor(Tensor::unknown(first.span))
            }
        };
        for stage in rest {
            let f = self.stage_layer(scope, stage);
            value = match value {
                Value::Tensor(t) => {
                    let place = scope.place;
                    Value::Tensor(self.apply(place, &f, vec![t], Some(stage.span)))
                }
                Value::Layer(g) => Value::Layer(LayerFn::Seq(vec![g, f])),
                _ => Value::Unknown,
            };
        }
        value
    }

    /// Whether a word or call names a layer (a builtin layer or a block).
    fn is_layer_value(&self, value: &Value) -> bool {
        let name = match value {
            Value::Word(w) => &w.ident.name,
            Value::Call(c) => &c.callee.name,
            _ => return false,
        };
        is_layer_name(name.as_str()) || self.block_of(name).is_some()
    }

    fn eval_assert(&mut self, scope: &mut Scope, value: &'a Expr, shape: &'a Expr) -> Value {
        let v = self.eval(scope, value);
        let shape_value = self.eval(scope, shape);
        let expected = self.shape(&shape_value, shape.span, Subject::AssertedShape);
        match v {
            Value::Tensor(t) => {
                Value::Tensor(self.check_assert(t, expected, shape.span, value.span))
            }
            Value::Unknown => Value::Unknown,
            other if matches!(other, Value::Layer(_)) || self.is_layer_value(&other) => {
                let inner = self.layer_of(scope, other, value.span);
                Value::Layer(LayerFn::Asserted(Rc::new(Asserted {
                    inner,
                    expected,
                    shape_span: shape.span,
                    value_span: value.span,
                })))
            }
            other => {
                self.wrong_kind(&other, value.span, Subject::Stage, Expected::Layer);
                Value::Unknown
            }
        }
    }

    /// `layers { ... }`: its items applied one after the other.
    pub fn layer_list(&mut self, scope: &mut Scope, items: &'a [Expr]) -> LayerFn {
        LayerFn::Seq(items.iter().map(|e| self.stage_layer(scope, e)).collect())
    }

    /// An item of a layer list or a pipe stage, as a layer.
    pub fn stage_layer(&mut self, scope: &mut Scope, expr: &'a Expr) -> LayerFn {
        let value = self.eval(scope, expr);
        self.layer_of(scope, value, expr.span)
    }

    /// Reads a value as a layer: a layer, a builtin layer or block by name
    /// (`flatten`, `conv_pool`), or a call of one kept as data in a constant.
    pub fn layer_of(&mut self, scope: &Scope, value: Value, span: Span) -> LayerFn {
        match value {
            Value::Layer(f) => f,
            Value::Unknown => LayerFn::Unknown,
            Value::Word(w) => {
                self.call_as_layer(scope, &w.ident, Vec::new(), w.ident.span, Some(&w))
            }
            Value::Call(c) => {
                let c = Rc::unwrap_or_clone(c);
                self.call_as_layer(scope, &c.callee, c.args, c.span, None)
            }
            other => {
                self.wrong_kind(&other, span, Subject::Stage, Expected::Layer);
                LayerFn::Unknown
            }
        }
    }

    fn call_as_layer(
        &mut self,
        scope: &Scope,
        callee: &Ident,
        args: Vec<ArgValue>,
        span: Span,
        word: Option<&Word>,
    ) -> LayerFn {
        if let Some(index) = self.block_of(&callee.name) {
            return LayerFn::Block(Rc::new(self.make_block_call(index, callee, args, span)));
        }
        if is_layer_name(callee.name.as_str()) {
            return self.make_builtin(callee, args, span);
        }
        if is_builtin_word(&callee.name) {
            let found = match word {
                Some(w) => Value::Word(w.clone()),
                None => call_value(callee, args, span),
            };
            self.wrong_kind(&found, span, Subject::Stage, Expected::Layer);
            return LayerFn::Unknown;
        }
        self.report(CheckError::UnknownCallee {
            name: callee.name.clone(),
            span: callee.span,
            did_you_mean: self.near_layers(scope, &callee.name),
        });
        LayerFn::Unknown
    }
}

impl<'a> Checker<'a> {
    /// Splits off the leading positional tensor arguments of a call that
    /// takes `inputs` tensors. An unknown name in that run is reported
    /// (E0101) and taken for an unknown tensor when it must be one: when the
    /// callee takes only tensors (`relu(imag)`), or when more positional
    /// arguments follow it (`dense(imag, 30)`, but not `dense(HIDEN)`).
    fn split_inputs(
        &mut self,
        args: Vec<ArgValue>,
        inputs: usize,
        tensors_only: bool,
    ) -> (Vec<Tensor>, Vec<ArgValue>) {
        let positional = args.iter().filter(|a| a.name.is_none()).count();
        let mut tensors = Vec::new();
        let mut rest = Vec::new();
        for (i, arg) in args.into_iter().enumerate() {
            let leading = arg.name.is_none() && rest.is_empty();
            match arg.value {
                Value::Tensor(t) if leading => tensors.push(t),
                Value::Word(ref w)
                    if leading
                        && !is_builtin_word(&w.ident.name)
                        && self.block_of(&w.ident.name).is_none()
                        && (tensors_only || (tensors.len() < inputs && i + 1 < positional)) =>
                {
                    self.unknown_word(w);
                    tensors.push(Tensor::unknown(w.ident.span));
                }
                _ => rest.push(arg),
            }
        }
        (tensors, rest)
    }
}

/// Splits off the leading positional tensor arguments.
fn split_tensors(args: Vec<ArgValue>) -> (Vec<Tensor>, Vec<ArgValue>) {
    let mut tensors = Vec::new();
    let mut rest = Vec::new();
    for arg in args {
        match arg.value {
            Value::Tensor(t) if arg.name.is_none() && rest.is_empty() => tensors.push(t),
            _ => rest.push(arg),
        }
    }
    (tensors, rest)
}

/// Tensors as positional arguments again (for [`Checker::call_layer`]).
fn tensors_as_args(tensors: Vec<Tensor>) -> Vec<ArgValue> {
    tensors
        .into_iter()
        .map(|t| ArgValue {
            name: None,
            span: t.from,
            arg_span: t.from,
            value: Value::Tensor(t),
        })
        .collect()
}

fn call_value(callee: &Ident, args: Vec<ArgValue>, span: Span) -> Value {
    Value::Call(Rc::new(CallValue {
        callee: callee.clone(),
        args,
        span,
    }))
}

fn is_number_or_unknown(value: &Value) -> bool {
    value.as_number().is_some() || matches!(value, Value::Unknown)
}
