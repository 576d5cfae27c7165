//! Applying layers to tensors: the dispatch over [`LayerFn`], shared
//! weights of `layer` instances, node creation, elementwise arithmetic and
//! shape assertions.
//!
//! An unknown input (an error already reported) gives an unknown output
//! without any further report; that is how errors stay independent.

use crate::builder::{OutAct, NODE_LIMIT};
use crate::checker::Checker;
use crate::program::{NodeId, Op, Shape};
use crate::scope::Place;
use crate::shape::element_count;
use crate::value::{LayerFn, Tensor};
use nnc_diag::check::{CheckError, Derivation, ShapeProblem};
use nnc_diag::Span;
use nnc_ir::rng::Noise;
use nnc_syntax::ast::BinOp;
use std::rc::Rc;

impl<'a> Checker<'a> {
    /// How many more input tensors `f` needs; `None` when unknown.
    pub fn arity(&self, f: &LayerFn) -> Option<usize> {
        match f {
            LayerFn::Builtin(b) => Some(b.kind.arity().saturating_sub(b.bound.len())),
            LayerFn::Block(c) => {
                let total = self.blocks.get(c.block).map_or(1, |b| b.input_count());
                Some(total.saturating_sub(c.bound.len()))
            }
            LayerFn::Instance(i) => {
                let inner = self.builder.instances.get(*i).map(|inst| &inst.layer);
                inner.and_then(|f| self.arity(f))
            }
            LayerFn::Seq(fs) => fs.first().map_or(Some(1), |f| self.arity(f)),
            LayerFn::Asserted(a) => self.arity(&a.inner),
            LayerFn::Unknown => None,
        }
    }

    /// `f` with some of its inputs given (`add(y)` is `x -> x + y`).
    pub fn bind_inputs(&mut self, f: LayerFn, tensors: Vec<Tensor>) -> LayerFn {
        if tensors.is_empty() {
            return f;
        }
        match f {
            LayerFn::Builtin(b) => {
                let mut b = Rc::unwrap_or_clone(b);
                b.bound.extend(tensors);
                LayerFn::Builtin(Rc::new(b))
            }
            LayerFn::Block(c) => {
                let mut c = Rc::unwrap_or_clone(c);
                c.bound.extend(tensors);
                LayerFn::Block(Rc::new(c))
            }
            other => {
                let given = tensors.len();
                let span = tensors.first().map_or(Span::default(), |t| t.from);
                self.report(CheckError::LayerInputs {
                    layer: other.name(),
                    expected: self.arity(&other).unwrap_or(1),
                    given,
                    span,
                });
                LayerFn::Unknown
            }
        }
    }

    /// Applies `f` to `inputs`; `site` is where (the call or pipe stage).
    pub fn apply(
        &mut self,
        place: Place,
        f: &LayerFn,
        inputs: Vec<Tensor>,
        site: Option<Span>,
    ) -> Tensor {
        match f {
            LayerFn::Builtin(b) => self.apply_builtin(place, b, inputs, site, None),
            LayerFn::Block(call) => {
                let mut all = inputs;
                all.extend(call.bound.iter().cloned());
                let expected = self.blocks.get(call.block).map_or(1, |b| b.input_count());
                if all.len() != expected {
                    let span = site.unwrap_or(call.span);
                    return self.wrong_input_count(&call.callee.name, expected, all.len(), span);
                }
                self.expand_block(place, call, all)
            }
            LayerFn::Instance(i) => self.apply_instance(place, *i, inputs, site),
            LayerFn::Seq(fs) => {
                let mut current = inputs;
                for f in fs {
                    let t = self.apply(place, f, current, site);
                    current = vec![t];
                }
                match current.len() {
                    1 => current
                        .pop()
                        .unwrap_or_else(|| Tensor::unknown(site.unwrap_or_default())),
                    n => self.wrong_input_count("layers", 1, n, site.unwrap_or_default()),
                }
            }
            LayerFn::Asserted(a) => {
                let t = self.apply(place, &a.inner, inputs, site);
                self.check_assert(t, a.expected.clone(), a.shape_span, a.value_span)
            }
            LayerFn::Unknown => {
                Tensor::unknown(site.or(inputs.first().map(|t| t.from)).unwrap_or_default())
            }
        }
    }

    /// E0114 for a layer given the wrong number of tensors.
    pub fn wrong_input_count(
        &mut self,
        layer: &str,
        expected: usize,
        given: usize,
        span: Span,
    ) -> Tensor {
        self.report(CheckError::LayerInputs {
            layer: layer.to_string(),
            expected,
            given,
            span,
        });
        Tensor::unknown(span)
    }

    /// A `layer` instance: its parameter sets are shared by all uses, and
    /// its nodes point at the use.
    fn apply_instance(
        &mut self,
        place: Place,
        index: usize,
        inputs: Vec<Tensor>,
        site: Option<Span>,
    ) -> Tensor {
        let Some(inst) = self.builder.instances.get(index).cloned() else {
            return Tensor::unknown(site.unwrap_or_default());
        };
        let span = site.unwrap_or(inst.span);
        let outermost = self.site_override.is_none();
        if outermost {
            self.site_override = Some(span);
        }
        self.builder.start_instance(index);
        let t = match &inst.layer {
            LayerFn::Builtin(b) => {
                self.apply_builtin(place, b, inputs, Some(span), Some(&inst.name))
            }
            other => {
                let naming = self.builder.child_scope(place.naming, &inst.name);
                let inner = Place { naming, ..place };
                self.apply(inner, other, inputs, Some(span))
            }
        };
        self.builder.end_instance();
        if outermost {
            self.site_override = None;
        }
        t
    }

    /// Adds a node whose inputs are all known. Reports shapes too large to
    /// count (E0209) and models that expand past the node limit (E0113).
    #[allow(clippy::too_many_arguments)]
    pub fn new_node(
        &mut self,
        place: Place,
        base: &str,
        op: Op,
        inputs: &[&Tensor],
        shape: Shape,
        span: Span,
        derivation: Derivation,
        act: OutAct,
    ) -> Tensor {
        let span = self.site_override.unwrap_or(span);
        if element_count(&shape).is_none() {
            self.report(CheckError::InvalidShape {
                problem: ShapeProblem::TooLarge {
                    dims: shape.iter().map(|d| *d as u128).collect(),
                },
                span,
            });
            return Tensor::unknown(span);
        }
        if self.builder.full() {
            if !self.builder.limit_hit {
                self.builder.limit_hit = true;
                self.report(CheckError::ExpansionTooLarge {
                    model: self.model_name.clone(),
                    limit: NODE_LIMIT,
                    span,
                });
            }
            return Tensor::unknown(span);
        }
        let ids: Vec<NodeId> = inputs.iter().filter_map(|t| t.node).collect();
        let id = self.builder.add_node(
            place.naming,
            base,
            op,
            ids,
            shape.clone(),
            span,
            derivation,
            act,
        );
        Tensor {
            node: Some(id),
            shape: Some(shape),
            from: span,
        }
    }

    /// The activation a tensor's values went through last.
    pub fn out_act(&self, t: &Tensor) -> OutAct {
        t.node
            .and_then(|id| self.builder.node(id))
            .map_or(OutAct::Unknown, |n| n.act)
    }

    /// `x * t`: a `Scale` node.
    pub fn scale(&mut self, place: Place, t: Tensor, x: f64, span: Span) -> Tensor {
        let Some(shape) = t.shape.clone() else {
            return Tensor::unknown(span);
        };
        let derivation = Derivation::Layer {
            layer: "*".into(),
            inputs: vec![shape.clone()],
            windows: Vec::new(),
        };
        self.new_node(
            place,
            "scale",
            Op::Scale(x),
            &[&t],
            shape,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// `concat(a, b, ..., axis: k)`: tensors of one rank that agree on every
    /// axis but `k` (E0206 otherwise), joined along `k`.
    pub fn concat_tensors(
        &mut self,
        place: Place,
        parts: &[Tensor],
        axis: usize,
        span: Span,
    ) -> Tensor {
        let Some(shapes) = parts
            .iter()
            .map(|t| t.shape.clone())
            .collect::<Option<Vec<Shape>>>()
        else {
            return Tensor::unknown(span);
        };
        let Some(first) = shapes.first() else {
            return Tensor::unknown(span);
        };
        if axis >= first.len() {
            self.report(CheckError::AxisOutOfRange {
                callee: "concat".into(),
                value: axis,
                shape: first.clone(),
                span,
                from: parts[0].from,
            });
            return Tensor::unknown(span);
        }
        let others = |s: &Shape| -> Vec<usize> {
            s.iter()
                .enumerate()
                .filter(|(i, _)| *i != axis)
                .map(|(_, d)| *d)
                .collect()
        };
        for (k, shape) in shapes.iter().enumerate().skip(1) {
            if shape.len() != first.len() || others(shape) != others(first) {
                self.report(CheckError::ShapeMismatch {
                    op: format!("concat along axis {axis}"),
                    lhs: first.clone(),
                    rhs: shape.clone(),
                    span,
                    lhs_from: parts[0].from,
                    rhs_from: parts[k].from,
                });
                return Tensor::unknown(span);
            }
        }
        let mut shape = first.clone();
        shape[axis] = shapes.iter().map(|s| s[axis]).sum();
        let derivation = Derivation::Layer {
            layer: "concat".into(),
            inputs: shapes,
            windows: Vec::new(),
        };
        let inputs: Vec<&Tensor> = parts.iter().collect();
        self.new_node(
            place,
            "concat",
            Op::Concat { axis },
            &inputs,
            shape,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// `batch_mean(x)`: `x`'s mean over the batch, of `x`'s shape.
    pub fn batch_mean(&mut self, place: Place, x: &Tensor, span: Span) -> Tensor {
        let Some(shape) = x.shape.clone() else {
            return Tensor::unknown(span);
        };
        let derivation = Derivation::Layer {
            layer: "batch_mean".into(),
            inputs: vec![shape.clone()],
            windows: Vec::new(),
        };
        let act = self.out_act(x);
        self.new_node(
            place,
            "batch_mean",
            Op::BatchMean,
            &[x],
            shape,
            span,
            derivation,
            act,
        )
    }

    /// `weight(enc)`: declaration `decl` of `layer`, an op of no operands.
    pub fn param_tensor(
        &mut self,
        place: Place,
        name: &str,
        layer: crate::program::LayerId,
        decl: usize,
        shape: Shape,
        span: Span,
    ) -> Tensor {
        let derivation = Derivation::Layer {
            layer: name.into(),
            inputs: Vec::new(),
            windows: Vec::new(),
        };
        self.new_node(
            place,
            name,
            Op::Param { layer, decl },
            &[],
            shape,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// `normal(shape)`, `uniform(shape)`: a noise source, an op of no
    /// operands.
    pub fn noise(&mut self, place: Place, noise: Noise, shape: Shape, span: Span) -> Tensor {
        let derivation = Derivation::Layer {
            layer: noise.name().into(),
            inputs: Vec::new(),
            windows: Vec::new(),
        };
        self.new_node(
            place,
            noise.name(),
            Op::Noise(noise),
            &[],
            shape,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// `x[a..b]`: positions `a` (default 0) to `b` (default the end) of
    /// the example's first axis; an empty or too long slice is E0109.
    pub fn slice_tensor(
        &mut self,
        place: Place,
        t: Tensor,
        start: Option<usize>,
        end: Option<usize>,
        span: Span,
    ) -> Tensor {
        let Some(shape) = t.shape.clone() else {
            return Tensor::unknown(span);
        };
        let Some(&size) = shape.first() else {
            return Tensor::unknown(span);
        };
        let (a, b) = (start.unwrap_or(0), end.unwrap_or(size));
        if b > size {
            self.report(CheckError::AxisOutOfRange {
                callee: "slice".into(),
                value: b,
                shape,
                span,
                from: t.from,
            });
            return Tensor::unknown(span);
        }
        if a >= b {
            self.report(CheckError::EmptySlice {
                start: a as u64,
                end: b as u64,
                span,
            });
            return Tensor::unknown(span);
        }
        let mut out = shape.clone();
        out[0] = b - a;
        let derivation = Derivation::Layer {
            layer: "slice".into(),
            inputs: vec![shape],
            windows: Vec::new(),
        };
        self.new_node(
            place,
            "slice",
            Op::Slice {
                start: a,
                len: b - a,
            },
            &[&t],
            out,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// An elementwise function of a tensor written with an operator and a
    /// number (`x + 1`, `1 - x`, `2 / x`).
    pub fn math(
        &mut self,
        place: Place,
        t: Tensor,
        f: crate::program::MathFn,
        symbol: &str,
        span: Span,
    ) -> Tensor {
        let Some(shape) = t.shape.clone() else {
            return Tensor::unknown(span);
        };
        let derivation = Derivation::Layer {
            layer: symbol.into(),
            inputs: vec![shape.clone()],
            windows: Vec::new(),
        };
        self.new_node(
            place,
            "math",
            Op::Math(f),
            &[&t],
            shape,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// `a + b`, `a - b`, `a * b`, `a / b` on tensors of one shape (E0206
    /// otherwise).
    pub fn elementwise(
        &mut self,
        place: Place,
        op: BinOp,
        a: Tensor,
        b: Tensor,
        span: Span,
    ) -> Tensor {
        let (node_op, base) = match op {
            BinOp::Add => (Op::Add, "add"),
            BinOp::Sub => (Op::Sub, "sub"),
            BinOp::Mul => (Op::Mul, "mul"),
            BinOp::Div => (Op::Div, "div"),
        };
        self.elementwise_named(place, node_op, base, op.symbol(), a, b, span)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn elementwise_named(
        &mut self,
        place: Place,
        op: Op,
        base: &str,
        symbol: &str,
        a: Tensor,
        b: Tensor,
        span: Span,
    ) -> Tensor {
        let (Some(lhs), Some(rhs)) = (a.shape.clone(), b.shape.clone()) else {
            return Tensor::unknown(span);
        };
        if lhs != rhs {
            self.report(CheckError::ShapeMismatch {
                op: symbol.to_string(),
                lhs,
                rhs,
                span,
                lhs_from: a.from,
                rhs_from: b.from,
            });
            return Tensor::unknown(span);
        }
        let derivation = Derivation::Layer {
            layer: symbol.to_string(),
            inputs: vec![lhs.clone(), rhs],
            windows: Vec::new(),
        };
        self.new_node(
            place,
            base,
            op,
            &[&a, &b],
            lhs,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// Checks `t` against an asserted shape (E0202). A failed assertion
    /// leaves the tensor unknown, so that later layers do not report the
    /// same mistake again.
    pub fn check_assert(
        &mut self,
        t: Tensor,
        expected: Option<Shape>,
        shape_span: Span,
        value_span: Span,
    ) -> Tensor {
        let (Some(actual), Some(expected)) = (&t.shape, expected) else {
            return t;
        };
        if *actual == expected {
            return t;
        }
        let derivation = t
            .node
            .and_then(|id| self.builder.node(id))
            .map_or(Derivation::Opaque, |n| n.derivation.clone());
        self.report(CheckError::AssertionFailed {
            expected,
            actual: actual.clone(),
            span: shape_span,
            value_span,
            derivation,
        });
        Tensor::unknown(t.from)
    }
}
