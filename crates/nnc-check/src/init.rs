//! Initialisers: `init:` and `bias_init:` arguments, the explicit
//! `values([...])` check against the parameter's exact shape, and the
//! W0103 lint on wide gaussians over large fan-ins.

use crate::args::Params;
use crate::checker::Checker;
use crate::program::{Init, Shape};
use crate::value::{ArgValue, Item, Value};
use nnc_diag::check::{
    CheckError, Expected, Num, OptionKind, ParamKind, Range, ShapeProblem, Subject,
};
use nnc_diag::{suggestions, Span};

/// The initialiser names, for "did you mean".
const INIT_NAMES: &[&str] = &[
    "gaussian",
    "scaled_gaussian",
    "zeros",
    "constant",
    "values",
    "xavier",
    "he",
    "scaled_uniform",
];

/// The smallest gaussian standard deviation W0103 warns about.
const WIDE_STD: f64 = 0.5;
/// The smallest fan-in W0103 warns about.
const LARGE_FAN_IN: usize = 100;

/// An initialiser as given; `values` are checked once the shape is known.
#[derive(Clone, Debug)]
pub(crate) enum InitSpec {
    Ready(Init),
    Values { items: Vec<Item>, span: Span },
}

/// An `init:` argument: `None` when invalid (reported), with its span (the
/// layer call's for a default).
#[derive(Clone, Debug)]
pub(crate) struct InitArg {
    pub spec: Option<InitSpec>,
    pub span: Span,
}

impl InitArg {
    pub fn gaussian_std(&self) -> Option<f64> {
        match &self.spec {
            Some(InitSpec::Ready(Init::Gaussian { std })) => Some(*std),
            _ => None,
        }
    }
}

impl<'a> Checker<'a> {
    /// Reads an initialiser argument, or the default when absent.
    pub fn init_arg(
        &mut self,
        callee: &str,
        param: &str,
        slot: Option<ArgValue>,
        default: Init,
        call: Span,
    ) -> InitArg {
        match slot {
            None => InitArg {
                spec: Some(InitSpec::Ready(default)),
                span: call,
            },
            Some(arg) => InitArg {
                spec: self.parse_init(
                    &arg.value,
                    arg.span,
                    Subject::Argument {
                        callee: callee.to_string(),
                        param: param.to_string(),
                    },
                ),
                span: arg.span,
            },
        }
    }

    fn parse_init(&mut self, value: &Value, span: Span, subject: Subject) -> Option<InitSpec> {
        let (callee, args) = match value {
            Value::Word(w) => (&w.ident, None),
            Value::Call(c) => (&c.callee, Some(c.args.clone())),
            _ => {
                self.wrong_kind(value, span, subject, Expected::Option(OptionKind::Init));
                return None;
            }
        };
        let name = callee.name.as_str();
        let (param, required): (&[&str], &[bool]) = match name {
            "gaussian" => (&["std"], &[true]),
            "constant" => (&["value"], &[true]),
            "values" => (&["values"], &[true]),
            "scaled_gaussian" | "zeros" | "xavier" | "he" | "scaled_uniform" => (&[], &[]),
            _ => {
                self.report(CheckError::UnknownOption {
                    kind: OptionKind::Init,
                    given: name.to_string(),
                    options: INIT_NAMES.iter().map(|n| n.to_string()).collect(),
                    did_you_mean: suggestions(name, INIT_NAMES.iter().copied()),
                    span: callee.span,
                });
                return None;
            }
        };
        let call_span = match value {
            Value::Call(c) => c.span,
            _ => span,
        };
        let params = Params {
            names: param,
            required,
        };
        let slots = self.bind_args(name, call_span, params, args.unwrap_or_default());
        let first = slots.into_iter().next().flatten();
        let arg_subject = |p: &str| Subject::Argument {
            callee: name.to_string(),
            param: p.to_string(),
        };
        match name {
            "gaussian" => {
                let arg = first?;
                let std = self.number_in(
                    &arg.value,
                    arg.span,
                    arg_subject("std"),
                    Some(Range::at_least(Num::Float(0.0))),
                )?;
                Some(InitSpec::Ready(Init::Gaussian { std }))
            }
            "constant" => {
                let arg = first?;
                let v = self.number_in(&arg.value, arg.span, arg_subject("value"), None)?;
                Some(InitSpec::Ready(Init::Constant(v)))
            }
            "values" => {
                let arg = first?;
                match arg.value {
                    Value::List(items) => Some(InitSpec::Values {
                        items,
                        span: arg.span,
                    }),
                    other => {
                        self.wrong_kind(&other, arg.span, arg_subject("values"), Expected::Shape);
                        None
                    }
                }
            }
            "zeros" => Some(InitSpec::Ready(Init::Zeros)),
            "xavier" => Some(InitSpec::Ready(Init::Xavier)),
            "he" => Some(InitSpec::Ready(Init::He)),
            "scaled_uniform" => Some(InitSpec::Ready(Init::ScaledUniform)),
            _ => Some(InitSpec::Ready(Init::ScaledGaussian)),
        }
    }

    /// The initialiser for a parameter of `shape`; `values` must have
    /// exactly that shape (E0209) and hold numbers (E0108).
    pub fn resolve_init(&mut self, arg: &InitArg, shape: &Shape, param: ParamKind) -> Option<Init> {
        match arg.spec.as_ref()? {
            InitSpec::Ready(init) => Some(init.clone()),
            InitSpec::Values { items, span } => {
                let found = nested_shape(items);
                if found.as_ref() != Some(shape) {
                    self.report(CheckError::InvalidShape {
                        problem: ShapeProblem::InitValues {
                            param,
                            expected: shape.clone(),
                            found,
                        },
                        span: *span,
                    });
                    return None;
                }
                let mut out = Vec::new();
                self.collect_numbers(items, &mut out)
                    .then_some(Init::Values(out))
            }
        }
    }

    /// Appends the leaves of a nested list; false if one is not a number.
    fn collect_numbers(&mut self, items: &[Item], out: &mut Vec<f64>) -> bool {
        let mut ok = true;
        for item in items {
            match &item.value {
                Value::List(inner) => ok &= self.collect_numbers(inner, out),
                other => match other.as_number() {
                    Some(x) => out.push(x),
                    None => {
                        self.wrong_kind(other, item.span, Subject::InitValue, Expected::Number);
                        ok = false;
                    }
                },
            }
        }
        ok
    }

    /// W0103: `gaussian(s)` with s >= 0.5 on a layer with fan-in >= 100.
    pub fn lint_wide_gaussian(
        &mut self,
        init: &InitArg,
        bias: &InitArg,
        fan_in: usize,
        layer_span: Span,
    ) {
        let Some(std) = init.gaussian_std() else {
            return;
        };
        if std >= WIDE_STD && fan_in >= LARGE_FAN_IN {
            self.report(CheckError::LargeInitStd {
                std,
                fan_in,
                bias_std: bias.gaussian_std(),
                span: init.span,
                layer_span,
            });
        }
    }
}

/// The shape of a rectangular nested list (`[[1, 2, 3], [4, 5, 6]]` is
/// `[2, 3]`); `None` if it is ragged or empty somewhere.
fn nested_shape(items: &[Item]) -> Option<Shape> {
    let first = items.first()?;
    let inner = match &first.value {
        Value::List(sub) => Some(nested_shape(sub)?),
        _ => None,
    };
    for item in items {
        let same = match (&item.value, &inner) {
            (Value::List(sub), Some(shape)) => nested_shape(sub).as_ref() == Some(shape),
            (Value::List(_), None) | (_, Some(_)) => false,
            (_, None) => true,
        };
        if !same {
            return None;
        }
    }
    let mut shape = vec![items.len()];
    shape.extend(inner.unwrap_or_default());
    Some(shape)
}
