//! Constants: `const` items, evaluated once, lazily and in any order, and
//! the arithmetic on numbers that every constant expression folds.
//!
//! Integer arithmetic is checked (overflow is E0116). Division of two
//! integers stays an integer when it is exact (`28 / 2` is `14`) and is a
//! float otherwise (`1 / 255`). Division by zero, results that are not
//! finite and arithmetic on non-numbers are E0116; a constant that depends
//! on itself is E0116 once, at the use that closes the cycle.

use crate::checker::{Checker, ConstState};
use crate::scope::Scope;
use crate::value::Value;
use nnc_diag::check::CheckError;
use nnc_diag::Span;
use nnc_syntax::ast::BinOp;

impl<'a> Checker<'a> {
    /// Evaluates every constant, so that errors in unused ones are reported too.
    pub fn evaluate_consts(&mut self) {
        for index in 0..self.consts.len() {
            self.const_value(index, None);
        }
    }

    /// The value of constant `index`; `use_span` is where it is referenced.
    pub fn const_value(&mut self, index: usize, use_span: Option<Span>) -> Value {
        let Some(def) = self.consts.get_mut(index) else {
            return Value::Unknown;
        };
        if use_span.is_some() {
            def.used = true;
        }
        let item = def.item;
        let state = std::mem::replace(&mut def.state, ConstState::Evaluating);
        match state {
            ConstState::Done(value) => {
                def.state = ConstState::Done(value.clone());
                value
            }
            ConstState::Evaluating => {
                self.report_const_cycle(index, use_span);
                Value::Unknown
            }
            ConstState::Pending => {
                self.const_stack.push(index);
                let value = self.eval(&mut Scope::constant(), &item.value);
                self.const_stack.pop();
                if let Some(def) = self.consts.get_mut(index) {
                    def.state = ConstState::Done(value.clone());
                }
                value
            }
        }
    }

    fn report_const_cycle(&mut self, index: usize, use_span: Option<Span>) {
        let start = self
            .const_stack
            .iter()
            .position(|&i| i == index)
            .unwrap_or(0);
        let mut cycle: Vec<String> = self
            .const_stack
            .iter()
            .skip(start)
            .filter_map(|&i| self.consts.get(i).map(|c| c.item.name.name.clone()))
            .collect();
        let name = self.consts.get(index).map(|c| c.item.name.clone());
        if let Some(name) = name {
            cycle.push(name.name.clone());
            self.report(CheckError::ConstCycle {
                cycle,
                span: use_span.unwrap_or(name.span),
            });
        }
    }

    /// `lhs op rhs` on two numbers; `None` when an operand is not a number.
    pub fn fold_numbers(
        &mut self,
        op: BinOp,
        lhs: &Value,
        rhs: &Value,
        rhs_span: Span,
        span: Span,
    ) -> Option<Value> {
        match (lhs, rhs) {
            (Value::Int(a), Value::Int(b)) => Some(self.fold_ints(op, *a, *b, rhs_span, span)),
            _ => {
                let (a, b) = (lhs.as_number()?, rhs.as_number()?);
                Some(self.fold_floats(op, a, b, rhs_span, span))
            }
        }
    }

    fn fold_ints(&mut self, op: BinOp, a: i64, b: i64, rhs_span: Span, span: Span) -> Value {
        let result = match op {
            BinOp::Add => a.checked_add(b),
            BinOp::Sub => a.checked_sub(b),
            BinOp::Mul => a.checked_mul(b),
            BinOp::Div => {
                if b == 0 {
                    self.report(CheckError::DivisionByZero {
                        span,
                        divisor: rhs_span,
                    });
                    return Value::Unknown;
                }
                if a.checked_rem(b) != Some(0) {
                    return Value::Float(a as f64 / b as f64);
                }
                a.checked_div(b)
            }
        };
        match result {
            Some(v) => Value::Int(v),
            None => {
                self.report(CheckError::ConstOverflow {
                    op: op.symbol().to_string(),
                    span,
                });
                Value::Unknown
            }
        }
    }

    fn fold_floats(&mut self, op: BinOp, a: f64, b: f64, rhs_span: Span, span: Span) -> Value {
        let result = match op {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => {
                if b == 0.0 {
                    self.report(CheckError::DivisionByZero {
                        span,
                        divisor: rhs_span,
                    });
                    return Value::Unknown;
                }
                a / b
            }
        };
        self.finite(result, span)
    }

    /// A float result, or E0116 if it is infinite or NaN.
    pub fn finite(&mut self, x: f64, span: Span) -> Value {
        if x.is_finite() {
            Value::Float(x)
        } else {
            self.report(CheckError::NotFinite { span });
            Value::Unknown
        }
    }

    /// `-value` for a number; `None` when it is not a number.
    pub fn negate_number(&mut self, value: &Value, span: Span) -> Option<Value> {
        match value {
            Value::Int(i) => Some(match i.checked_neg() {
                Some(v) => Value::Int(v),
                None => {
                    self.report(CheckError::ConstOverflow {
                        op: "-".into(),
                        span,
                    });
                    Value::Unknown
                }
            }),
            Value::Float(x) => Some(Value::Float(-x)),
            _ => None,
        }
    }
}
