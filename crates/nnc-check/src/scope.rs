//! Scopes: the names a body binds, and the builtin names every body knows.
//!
//! Each model, block instantiation, data block and constant has its own
//! flat [`Scope`]; scopes do not nest (a block sees its parameters, the
//! constants and the builtins, never the model that uses it). Lookups fall
//! back to the file's constants, then blocks, then builtins.

use crate::program::Activation;
use crate::value::{Tensor, Value};
use nnc_diag::check::DefKind;
use nnc_diag::Span;
use std::collections::HashMap;

/// Builtin layers that are not activations.
const STRUCTURAL_LAYERS: &[&str] = &[
    "dense",
    "conv2d",
    "conv2d_transpose",
    "upsample",
    "max_pool",
    "avg_pool",
    "l2_pool",
    "flatten",
    "reshape",
    "dropout",
    "mask_noise",
    "gaussian_noise",
    "leaky_relu",
    "exp",
    "log",
    "sqrt",
    "abs",
    "square",
    "detach",
    "pow",
    "sum",
    "mean",
    "rnn",
    "lstm",
    "gru",
    "embed",
];

/// Builtin elementwise layers of two operands.
const ELEMENTWISE_LAYERS: &[&str] = &["add", "sub", "mul", "div", "min", "max"];

/// Builtin layers, usable as stack items, pipe stages and calls: the
/// structural layers, every activation of [`Activation::ALL`] (the one
/// list of activation names), and the elementwise layers.
pub(crate) fn layer_names() -> impl Iterator<Item = &'static str> {
    STRUCTURAL_LAYERS
        .iter()
        .copied()
        .chain(Activation::ALL.iter().map(|(name, _)| *name))
        .chain(ELEMENTWISE_LAYERS.iter().copied())
}

/// Whether `name` is a builtin layer (see [`layer_names`]).
pub(crate) fn is_layer_name(name: &str) -> bool {
    layer_names().any(|n| n == name)
}

/// Builtin functions: calls that describe a value (an initialiser, a data
/// source, an optimizer...) rather than a layer.
pub(crate) const FUNCTION_NAMES: &[&str] = &[
    "gaussian",
    "scaled_gaussian",
    "scaled_uniform",
    "zeros",
    "constant",
    "values",
    "xavier",
    "he",
    "idx",
    "csv",
    "folder",
    "text",
    "holdout",
    "concat",
    "unroll",
    "normal",
    "uniform",
    "weight",
    "bias",
    "batch_mean",
    "shift",
    "rotate",
    "flip",
    "crop",
    "noise",
    "one_hot",
    "sgd",
    "momentum",
    "nesterov",
    "adam",
    "on_plateau",
    "early_stop",
    "l1",
    "l2",
    "quadratic",
    "cross_entropy",
    "log_likelihood",
];

/// Option words that are neither layers nor functions.
const OPTION_WORDS: &[&str] = &[
    "valid",
    "same",
    "floor",
    "ceil",
    "index",
    "value",
    "none",
    "horizontal",
    "vertical",
];

/// Whether `name` means something to nnc without being defined: a layer, a
/// function or an option word. Such a name in the wrong place is a value of
/// the wrong kind, not an unknown name.
pub(crate) fn is_builtin_word(name: &str) -> bool {
    is_layer_name(name)
        || FUNCTION_NAMES.contains(&name)
        || OPTION_WORDS.contains(&name)
        || crate::program::Metric::parse(name).is_some()
}

/// What kind of body a scope belongs to; it decides what calls mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    /// A constant: no tensors; layer calls stay data.
    Const,
    /// A data block: like a constant, with `let` sources.
    Data,
    /// A model body: tensors and layers.
    Model,
    /// A block instantiation (or a block checked on its own).
    Block,
}

impl ScopeKind {
    /// Whether tensors exist here, so that calls of layers build graph nodes.
    pub fn has_tensors(self) -> bool {
        matches!(self, ScopeKind::Model | ScopeKind::Block)
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Binding {
    Value(Value),
    Tensor(Tensor),
    /// A `layer` instance (index into the model builder).
    Instance(usize),
}

#[derive(Clone, Debug)]
pub(crate) struct Local {
    pub name: String,
    pub span: Span,
    pub kind: DefKind,
    pub binding: Binding,
    pub used: bool,
}

/// Where nodes built in a scope go: their naming scope and block depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Place {
    /// Index of the naming scope in the model builder.
    pub naming: usize,
    /// How many block expansions deep this scope is.
    pub depth: usize,
}

#[derive(Debug)]
pub(crate) struct Scope {
    pub kind: ScopeKind,
    pub locals: Vec<Local>,
    /// Every name the body defines, with its definition: a use before the
    /// definition is reported with a pointer to it.
    pub later: HashMap<String, Span>,
    pub place: Place,
}

impl Scope {
    pub fn new(kind: ScopeKind, place: Place) -> Scope {
        Scope {
            kind,
            locals: Vec::new(),
            later: HashMap::new(),
            place,
        }
    }

    /// A scope for a constant expression.
    pub fn constant() -> Scope {
        Scope::new(
            ScopeKind::Const,
            Place {
                naming: 0,
                depth: 0,
            },
        )
    }

    /// The latest binding of `name`, marked as used.
    pub fn use_name(&mut self, name: &str) -> Option<&Local> {
        let local = self.locals.iter_mut().rev().find(|l| l.name == name)?;
        local.used = true;
        Some(local)
    }

    /// Binds `name`; returns the span of an earlier binding of the same
    /// name in this scope (a duplicate), which is marked used so that it is
    /// not also reported as unused.
    pub fn define(
        &mut self,
        name: &str,
        span: Span,
        kind: DefKind,
        binding: Binding,
    ) -> Option<Span> {
        let earlier = self
            .locals
            .iter_mut()
            .rev()
            .find(|l| l.name == name)
            .map(|l| {
                l.used = true;
                l.span
            });
        let used = matches!(kind, DefKind::Input | DefKind::Output | DefKind::Param)
            || name.starts_with('_');
        self.locals.push(Local {
            name: name.to_string(),
            span,
            kind,
            binding,
            used,
        });
        earlier
    }

    /// Whether `name` is bound to a tensor here (a `let` of a model).
    pub fn is_tensor(&self, name: &str) -> bool {
        self.locals
            .iter()
            .rev()
            .find(|l| l.name == name)
            .is_some_and(|l| matches!(l.binding, Binding::Tensor(_)))
    }

    /// Marks the latest binding as used.
    pub fn mark_last_used(&mut self) {
        if let Some(last) = self.locals.last_mut() {
            last.used = true;
        }
    }

    /// Names bound here, for "did you mean".
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.locals.iter().map(|l| l.name.as_str())
    }

    /// `let` and `layer` bindings never used, in definition order.
    pub fn unused(&self) -> impl Iterator<Item = &Local> {
        self.locals
            .iter()
            .filter(|l| !l.used && matches!(l.kind, DefKind::Let | DefKind::Layer))
    }
}
