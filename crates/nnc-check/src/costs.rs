//! Costs and regularizers of a model, and the lints that pair a cost with
//! the output activation: cross-entropy needs sigmoid outputs (E0301),
//! log-likelihood expects softmax (W0104), quadratic on sigmoid learns
//! slowly (W0102).

use crate::args::Params;
use crate::builder::OutAct;
use crate::checker::Checker;
use crate::program::{Activation, CostKind, Regularizer};
use crate::scope::Scope;
use crate::value::{ArgValue, Tensor, Value};
use nnc_diag::check::{CheckError, Expected, NameKind, Num, OptionKind, Range, Subject};
use nnc_diag::{suggestions, Span};
use nnc_syntax::ast::{Expr, ExprKind, Ident, Setting, SettingValue};
use std::collections::HashMap;

const COSTS: &[(&str, CostKind)] = &[
    ("quadratic", CostKind::Quadratic),
    ("cross_entropy", CostKind::CrossEntropy),
    ("log_likelihood", CostKind::LogLikelihood),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RegKind {
    L1,
    L2,
}

const REGULARIZERS: &[(&str, RegKind)] = &[("l1", RegKind::L1), ("l2", RegKind::L2)];

/// A model's cost before the graph is final.
#[derive(Clone, Debug)]
pub(crate) struct CostDraft {
    pub kind: CostKind,
    pub output: Tensor,
    /// `target: INPUT`: the model input compared with the output; `None`
    /// for the data's labels.
    pub target: Option<Tensor>,
    pub weight: f64,
    pub span: Span,
}

/// The expression of `cost EXPR` when it is not a named cost (`cost
/// quadratic`, `cost cross_entropy(output, ...)`): a penalty, with its name
/// when it is a tensor of the model's scope (`let kl = ...` then `cost
/// kl`).
pub(crate) fn penalty_expr<'e>(
    setting: &'e Setting,
    scope: &Scope,
) -> Option<(&'e Expr, Option<String>)> {
    let SettingValue::Expr(expr) = &setting.value else {
        return None;
    };
    let named = match &expr.kind {
        ExprKind::Name(id) => Some(id.name.as_str()),
        ExprKind::Call { callee, .. } => Some(callee.name.as_str()),
        _ => None,
    };
    match named {
        Some(name) if COSTS.iter().any(|(n, _)| *n == name) => None,
        Some(name) if matches!(expr.kind, ExprKind::Name(_)) => {
            // `cost mse` and other names that are no tensor: an unknown
            // cost, not a penalty.
            scope
                .is_tensor(name)
                .then(|| (expr, Some(name.to_string())))
        }
        _ => Some((expr, None)),
    }
}

/// Names that reports give measures beside the cost: a total cost cannot
/// take them (`topK_accuracy` is checked apart).
const REPORTED: &[&str] = &["cost", "accuracy", "mae", "rmse", "r2", "cost_terms"];

impl<'a> Checker<'a> {
    /// `cost_name NAME`: what reports call the total cost; E0305 for no
    /// plain name, or one that a measure or a cost term (`terms`: names
    /// and spans) has.
    pub(crate) fn cost_name(
        &mut self,
        setting: &Setting,
        terms: &[(String, Span)],
    ) -> Option<String> {
        let name = match &setting.value {
            SettingValue::Expr(Expr {
                kind: ExprKind::Name(id),
                ..
            }) => id.name.clone(),
            other => {
                let span = match other {
                    SettingValue::Expr(e) => e.span,
                    SettingValue::Args(_) => setting.span,
                };
                self.report(CheckError::CostName {
                    name: None,
                    term: None,
                    span,
                });
                return None;
            }
        };
        let term = terms.iter().find(|(n, _)| *n == name).map(|(_, s)| *s);
        let measure = REPORTED.contains(&name.as_str())
            || name
                .strip_prefix("top")
                .and_then(|rest| rest.strip_suffix("_accuracy"))
                .is_some_and(|k| k.parse::<usize>().is_ok());
        if term.is_some() || measure {
            let span = match &setting.value {
                SettingValue::Expr(e) => e.span,
                SettingValue::Args(_) => setting.span,
            };
            self.report(CheckError::CostName {
                name: Some(name),
                term,
                span,
            });
            return None;
        }
        Some(name)
    }

    /// `cost EXPR`: a tensor of one value per example (E0304 otherwise),
    /// evaluated in the model's scope.
    pub(crate) fn penalty(
        &mut self,
        scope: &mut Scope,
        expr: &'a Expr,
        span: Span,
    ) -> Option<Tensor> {
        let value = self.eval(scope, expr);
        let Value::Tensor(t) = value else {
            let subject = Subject::Setting { key: "cost".into() };
            self.wrong_kind(&value, expr.span, subject, Expected::Tensor);
            return None;
        };
        let shape = t.shape.clone()?;
        if shape != [1] {
            self.report(CheckError::PenaltyShape {
                shape,
                span,
                from: t.from,
            });
            return None;
        }
        Some(t)
    }

    /// A setting's value, evaluated as a constant; the `key(args)` form is
    /// read as a call of the key itself.
    pub fn setting_value(&mut self, setting: &'a Setting) -> (Value, Span) {
        self.setting_value_in(&mut Scope::constant(), setting)
    }

    /// A setting's value evaluated in `scope`. A call at the top is kept as
    /// data whatever its callee, so that the setting reports an unknown
    /// option (`regularize l3(1)`: unknown regularizer) rather than an
    /// unknown function.
    pub fn setting_value_in(&mut self, scope: &mut Scope, setting: &'a Setting) -> (Value, Span) {
        match &setting.value {
            SettingValue::Expr(Expr {
                kind: ExprKind::Call { callee, args },
                span,
            }) => {
                let args = self.eval_args(scope, args);
                let call = crate::value::CallValue {
                    callee: callee.clone(),
                    args,
                    span: *span,
                };
                (Value::Call(std::rc::Rc::new(call)), *span)
            }
            SettingValue::Expr(expr) => (self.eval(scope, expr), expr.span),
            SettingValue::Args(args) => {
                let args = self.eval_args(scope, args);
                let call = crate::value::CallValue {
                    callee: setting.key.clone(),
                    args,
                    span: setting.span,
                };
                (Value::Call(std::rc::Rc::new(call)), setting.span)
            }
        }
    }

    /// A word or call naming one of `table`: its entry and arguments.
    pub fn named_call<T: Copy>(
        &mut self,
        value: Value,
        span: Span,
        subject: Subject,
        kind: OptionKind,
        table: &[(&str, T)],
    ) -> Option<(T, Ident, Vec<ArgValue>, Span)> {
        let (callee, args, call_span) = match value {
            Value::Word(w) => (w.ident.clone(), Vec::new(), w.ident.span),
            Value::Call(c) => {
                let c = std::rc::Rc::unwrap_or_clone(c);
                (c.callee, c.args, c.span)
            }
            other => {
                self.wrong_kind(&other, span, subject, Expected::Option(kind));
                return None;
            }
        };
        let word = Value::Word(crate::value::Word {
            ident: callee.clone(),
            near: Vec::new(),
            later: None,
        });
        let entry = self.option(&word, callee.span, subject, kind, table)?;
        Some((entry, callee, args, call_span))
    }

    /// `cost KIND` or `cost KIND(output)`.
    /// `cost KIND`, `cost KIND(output)`, `cost KIND(output, target: INPUT,
    /// weight: w)`.
    pub fn model_cost(
        &mut self,
        setting: &'a Setting,
        outputs: &[(String, Tensor)],
        inputs: &[(String, Tensor, Span)],
    ) -> Option<CostDraft> {
        let (value, span) = self.setting_value(setting);
        let subject = Subject::Setting { key: "cost".into() };
        let (kind, callee, args, call_span) =
            self.named_call(value, span, subject, OptionKind::Cost, COSTS)?;
        let params = Params {
            names: &["output", "target", "weight"],
            required: &[false, false, false],
        };
        let mut slots = self
            .bind_args(&callee.name, call_span, params, args)
            .into_iter();
        let (slot, target_slot, weight_slot) = (
            slots.next().flatten(),
            slots.next().flatten(),
            slots.next().flatten(),
        );
        let weight = match weight_slot {
            Some(arg) => {
                let subject = Subject::Argument {
                    callee: callee.name.clone(),
                    param: "weight".into(),
                };
                let positive =
                    Range::between(Num::Float(0.0), false, Num::Float(f64::INFINITY), false);
                self.number_in(&arg.value, arg.span, subject, Some(positive))
            }
            None => Some(1.0),
        };
        let target = match target_slot {
            Some(arg) => Some(self.cost_target(&callee.name, arg, inputs)?),
            None => None,
        };
        let output = match slot {
            Some(arg) => self.cost_output(&callee.name, arg, outputs)?,
            None => match outputs {
                [] => return None,
                [(_, t)] => t.clone(),
                _ => {
                    self.report(CheckError::CostNeedsOutput {
                        cost: callee.name.clone(),
                        outputs: outputs.iter().map(|(n, _)| n.clone()).collect(),
                        span: setting.span,
                    });
                    return None;
                }
            },
        };
        if let Some((target, name, target_span)) = &target {
            if let (Some(out), Some(tgt)) = (&output.shape, &target.shape) {
                if out != tgt {
                    let output_name = outputs
                        .iter()
                        .find(|(_, t)| t.node == output.node)
                        .map_or_else(|| "the output".to_string(), |(n, _)| n.clone());
                    self.report(CheckError::CostTargetShape {
                        output: output_name,
                        output_shape: out.clone(),
                        target: name.clone(),
                        target_shape: tgt.clone(),
                        span: setting.span,
                        target_span: *target_span,
                    });
                    return None;
                }
            }
        }
        Some(CostDraft {
            kind,
            output,
            target: target.map(|(t, _, _)| t),
            weight: weight?,
            span: setting.span,
        })
    }

    /// The model input named by `target: NAME` (E0101 if there is none),
    /// with its name and where it is declared.
    fn cost_target(
        &mut self,
        cost: &str,
        arg: ArgValue,
        inputs: &[(String, Tensor, Span)],
    ) -> Option<(Tensor, String, Span)> {
        let Value::Word(w) = &arg.value else {
            let subject = Subject::Argument {
                callee: cost.to_string(),
                param: "target".into(),
            };
            self.wrong_kind(&arg.value, arg.span, subject, Expected::Name);
            return None;
        };
        if let Some((name, t, span)) = inputs.iter().find(|(n, _, _)| *n == w.ident.name) {
            return Some((t.clone(), name.clone(), *span));
        }
        self.report(CheckError::UnknownName {
            name: w.ident.name.clone(),
            kind: NameKind::Input,
            span: w.ident.span,
            did_you_mean: suggestions(&w.ident.name, inputs.iter().map(|(n, _, _)| n.as_str())),
            defined_later: None,
        });
        None
    }

    /// The output named by `cost kind(name)` (E0101 if there is none).
    fn cost_output(
        &mut self,
        cost: &str,
        arg: ArgValue,
        outputs: &[(String, Tensor)],
    ) -> Option<Tensor> {
        let Value::Word(w) = &arg.value else {
            let subject = Subject::Argument {
                callee: cost.to_string(),
                param: "output".into(),
            };
            self.wrong_kind(&arg.value, arg.span, subject, Expected::Name);
            return None;
        };
        if let Some((_, t)) = outputs.iter().find(|(n, _)| *n == w.ident.name) {
            return Some(t.clone());
        }
        self.report(CheckError::UnknownName {
            name: w.ident.name.clone(),
            kind: NameKind::Output,
            span: w.ident.span,
            did_you_mean: suggestions(&w.ident.name, outputs.iter().map(|(n, _)| n.as_str())),
            defined_later: None,
        });
        None
    }

    /// E0301, W0102, W0104: the cost against the output's activation.
    pub fn cost_lints(&mut self, cost: &CostDraft) {
        let act = match self.out_act(&cost.output) {
            OutAct::Unknown => return,
            OutAct::Plain => None,
            OutAct::Act(a) => Some(a),
        };
        let name = act.map(|a| a.name().to_string());
        let (cost_span, output_span) = (cost.span, cost.output.from);
        match cost.kind {
            CostKind::CrossEntropy if act != Some(Activation::Sigmoid) => {
                self.report(CheckError::CostNeedsSigmoid {
                    cost: "cross_entropy".into(),
                    act: name,
                    cost_span,
                    output_span,
                })
            }
            CostKind::LogLikelihood if act != Some(Activation::Softmax) => {
                self.report(CheckError::LogLikelihoodWithoutSoftmax {
                    act: name,
                    cost_span,
                    output_span,
                })
            }
            CostKind::Quadratic if act == Some(Activation::Sigmoid) => {
                self.report(CheckError::QuadraticSigmoid {
                    cost_span,
                    output_span,
                })
            }
            _ => {}
        }
    }

    /// `regularize l2(lambda)` / `regularize l1(lambda)`, each kind once.
    /// `None` when one was invalid.
    pub fn regularizers(&mut self, settings: &[&'a Setting]) -> Option<Vec<Regularizer>> {
        let mut out = Vec::new();
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut ok = true;
        for setting in settings {
            let (value, span) = self.setting_value(setting);
            let subject = Subject::Setting {
                key: "regularize".into(),
            };
            let Some((kind, callee, args, call_span)) =
                self.named_call(value, span, subject, OptionKind::Regularizer, REGULARIZERS)
            else {
                ok = false;
                continue;
            };
            let key = if kind == RegKind::L1 { "l1" } else { "l2" };
            if let Some(first) = seen.get(key) {
                self.report(CheckError::SettingTwice {
                    key: key.into(),
                    span: callee.span,
                    first: *first,
                });
                ok = false;
                continue;
            }
            seen.insert(key, callee.span);
            let params = Params {
                names: &["lambda"],
                required: &[true],
            };
            let slot = self
                .bind_args(&callee.name, call_span, params, args)
                .into_iter()
                .next()
                .flatten();
            let lambda = slot.and_then(|arg| {
                let subject = Subject::Argument {
                    callee: callee.name.clone(),
                    param: "lambda".into(),
                };
                self.number_in(
                    &arg.value,
                    arg.span,
                    subject,
                    Some(Range::at_least(Num::Float(0.0))),
                )
            });
            match lambda {
                Some(lambda) => out.push(match kind {
                    RegKind::L1 => Regularizer::L1 {
                        lambda,
                        span: setting.span,
                    },
                    RegKind::L2 => Regularizer::L2 {
                        lambda,
                        span: setting.span,
                    },
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}
