//! The values the checker computes while it evaluates expressions.
//!
//! One evaluator serves constants, data blocks, models and blocks; what an
//! expression means is decided by its consumer. A bare name that is not
//! bound is a [`Word`] (an option such as `relu`, or a typo the consumer
//! reports); a call of a function such as `gaussian(1.0)` stays an
//! uninterpreted [`CallValue`] until an argument schema reads it. Inside
//! models and blocks, tensors and layers are values too.
//!
//! `Unknown` is the value of anything whose error was already reported: every
//! consumer accepts it silently, which is how one error never cascades.

use crate::layers::BuiltinLayer;
use crate::program::{NodeId, Shape};
use nnc_diag::check::Found;
use nnc_diag::Span;
use nnc_syntax::ast::Ident;
use std::rc::Rc;

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    List(Vec<Item>),
    Word(Word),
    Call(Rc<CallValue>),
    Slice(Rc<SliceValue>),
    Tensor(Tensor),
    Layer(LayerFn),
    /// A value whose error has been reported already.
    Unknown,
}

/// A list element with the span of its expression.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub value: Value,
    pub span: Span,
}

/// A bare name without a binding.
#[derive(Clone, Debug)]
pub(crate) struct Word {
    pub ident: Ident,
    /// Bound names close to this one, for "did you mean".
    pub near: Vec<String>,
    /// The definition of this name, when it comes later in the body.
    pub later: Option<Span>,
}

/// A call kept as data: `gaussian(1.0)`, `idx("a", labels: "b")`.
#[derive(Clone, Debug)]
pub(crate) struct CallValue {
    pub callee: Ident,
    pub args: Vec<ArgValue>,
    pub span: Span,
}

/// `src[a..b]`.
#[derive(Clone, Debug)]
pub(crate) struct SliceValue {
    pub base: Ident,
    pub base_value: Value,
    pub start: Option<Item>,
    pub end: Option<Item>,
    pub span: Span,
}

/// An evaluated call argument.
#[derive(Clone, Debug)]
pub(crate) struct ArgValue {
    pub name: Option<Ident>,
    pub value: Value,
    /// The span of the value expression.
    pub span: Span,
    /// The span of the whole argument, `name: value`.
    pub arg_span: Span,
}

/// A tensor of a model or block. `node` and `shape` are both known or both
/// unknown; an unknown tensor comes from an error already reported, or from
/// an unknown input while a block is checked on its own.
#[derive(Clone, Debug)]
pub(crate) struct Tensor {
    pub node: Option<NodeId>,
    pub shape: Option<Shape>,
    /// Where the tensor was produced (a layer call, an input).
    pub from: Span,
}

impl Tensor {
    pub fn unknown(from: Span) -> Tensor {
        Tensor {
            node: None,
            shape: None,
            from,
        }
    }
}

/// A layer: something that maps tensors to a tensor.
#[derive(Clone, Debug)]
pub(crate) enum LayerFn {
    Builtin(Rc<BuiltinLayer>),
    Block(Rc<BlockCall>),
    /// A `layer` instance of the current model (index into the builder).
    Instance(usize),
    /// Layers applied one after the other (`layers { ... }`, or a pipe of layers).
    Seq(Vec<LayerFn>),
    /// A layer whose output shape is asserted, `conv2d(20, 5) -> [20, 24, 24]`.
    Asserted(Rc<Asserted>),
    /// A layer whose error has been reported already.
    Unknown,
}

/// A block with its arguments bound.
#[derive(Clone, Debug)]
pub(crate) struct BlockCall {
    /// Index into the checker's blocks.
    pub block: usize,
    pub callee: Ident,
    pub span: Span,
    /// One value per parameter; `None` takes the default.
    pub params: Vec<Option<Value>>,
    /// Input tensors given in the call; a piped input goes before them.
    pub bound: Vec<Tensor>,
}

#[derive(Clone, Debug)]
pub(crate) struct Asserted {
    pub inner: LayerFn,
    pub expected: Option<Shape>,
    pub shape_span: Span,
    pub value_span: Span,
}

impl Value {
    /// The value as a "found ..." fact. `Unknown` never reaches a report.
    pub fn found(&self) -> Found {
        match self {
            Value::Int(i) => Found::Int(*i),
            Value::Float(x) => Found::Float(*x),
            Value::Str(s) => Found::Str(s.clone()),
            Value::Bool(b) => Found::Bool(*b),
            Value::List(items) => Found::List(items.len()),
            Value::Word(w) => Found::Word(w.ident.name.clone()),
            Value::Call(c) => Found::Call(c.callee.name.clone()),
            Value::Slice(s) => Found::Slice(s.base.name.clone()),
            Value::Tensor(t) => Found::Tensor(t.shape.clone()),
            Value::Layer(f) => Found::Layer(f.name()),
            Value::Unknown => Found::Word("?".into()),
        }
    }

    /// An integer or float as a float.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }
}

impl LayerFn {
    /// A short name for messages: the callee as written.
    pub fn name(&self) -> String {
        match self {
            LayerFn::Builtin(b) => b.name.clone(),
            LayerFn::Block(c) => c.callee.name.clone(),
            LayerFn::Instance(_) => "layer".into(),
            LayerFn::Seq(_) => "layers".into(),
            LayerFn::Asserted(a) => a.inner.name(),
            LayerFn::Unknown => "?".into(),
        }
    }
}
