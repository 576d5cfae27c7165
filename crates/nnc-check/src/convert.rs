//! Reading evaluated values as what an argument or setting needs: a
//! positive integer, a number in a range, an option word, a shape.
//!
//! Each reader reports what is wrong (E0108 wrong kind, E0109 out of range,
//! E0110 unknown option, E0209 invalid shape, E0101 for an unbound name) and
//! returns `None`; an `Unknown` value (an error already reported) is `None`
//! silently.

use crate::checker::Checker;
use crate::program::Shape;
use crate::scope::is_builtin_word;
use crate::shape::element_count;
use crate::value::{Item, LayerFn, Value, Word};
use nnc_diag::check::{
    Bound, CheckError, Expected, Found, NameKind, Num, OptionKind, Range, ShapeProblem, Subject,
};
use nnc_diag::Span;

/// Whether `x` lies in `range`.
fn in_range(x: f64, range: &Range) -> bool {
    let above = |b: &Bound| {
        let v = num_f64(b.value);
        if b.inclusive {
            x >= v
        } else {
            x > v
        }
    };
    let below = |b: &Bound| {
        let v = num_f64(b.value);
        if b.inclusive {
            x <= v
        } else {
            x < v
        }
    };
    range.min.as_ref().is_none_or(above) && range.max.as_ref().is_none_or(below)
}

fn num_f64(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(x) => x,
    }
}

impl<'a> Checker<'a> {
    /// Reports an unbound name as E0101 unless it is a builtin word or a
    /// block (then it is a value of the wrong kind). Returns whether it did.
    pub fn unknown_word(&mut self, word: &Word) -> bool {
        let name = &word.ident.name;
        if is_builtin_word(name) || self.block_of(name).is_some() {
            return false;
        }
        self.report(CheckError::UnknownName {
            name: name.clone(),
            kind: NameKind::Value,
            span: word.ident.span,
            did_you_mean: word.near.clone(),
            defined_later: word.later,
        });
        true
    }

    /// Reports `value` as not being what `subject` needs.
    pub fn wrong_kind(&mut self, value: &Value, span: Span, subject: Subject, expected: Expected) {
        match value {
            Value::Unknown => {}
            Value::Word(w) if self.unknown_word(w) => {}
            _ => self.report(CheckError::WrongKind {
                subject,
                expected,
                found: self.found(value),
                span,
            }),
        }
    }

    /// A value as a "found ..." fact; a `layer` instance by its name.
    pub fn found(&self, value: &Value) -> Found {
        match value {
            Value::Layer(LayerFn::Instance(i)) => {
                let name = self
                    .builder
                    .instances
                    .get(*i)
                    .map_or("layer", |inst| inst.name.as_str());
                Found::Layer(name.to_string())
            }
            other => other.found(),
        }
    }

    fn out_of_range(&mut self, subject: Subject, value: Num, range: Range, span: Span) {
        self.report(CheckError::OutOfRange {
            subject,
            value,
            range,
            span,
        });
    }

    /// An integer `>= 1`.
    pub fn positive_int(&mut self, value: &Value, span: Span, subject: Subject) -> Option<usize> {
        match value {
            Value::Int(i) if *i >= 1 => usize::try_from(*i).ok(),
            Value::Int(i) => {
                self.out_of_range(subject, Num::Int(*i), Range::at_least(Num::Int(1)), span);
                None
            }
            _ => {
                self.wrong_kind(value, span, subject, Expected::PositiveInt);
                None
            }
        }
    }

    /// An integer `>= 0`.
    pub fn non_negative_int(&mut self, value: &Value, span: Span, subject: Subject) -> Option<u64> {
        match value {
            Value::Int(i) if *i >= 0 => u64::try_from(*i).ok(),
            Value::Int(i) => {
                self.out_of_range(subject, Num::Int(*i), Range::at_least(Num::Int(0)), span);
                None
            }
            _ => {
                self.wrong_kind(value, span, subject, Expected::NonNegativeInt);
                None
            }
        }
    }

    /// An integer of any sign.
    pub fn int(&mut self, value: &Value, span: Span, subject: Subject) -> Option<i64> {
        match value {
            Value::Int(i) => Some(*i),
            _ => {
                self.wrong_kind(value, span, subject, Expected::Int);
                None
            }
        }
    }

    /// A number (an integer reads as a float) within `range`.
    pub fn number_in(
        &mut self,
        value: &Value,
        span: Span,
        subject: Subject,
        range: Option<Range>,
    ) -> Option<f64> {
        let Some(x) = value.as_number() else {
            self.wrong_kind(value, span, subject, Expected::Number);
            return None;
        };
        if let Some(range) = range {
            if !in_range(x, &range) {
                let shown = match value {
                    Value::Int(i) => Num::Int(*i),
                    _ => Num::Float(x),
                };
                self.out_of_range(subject, shown, range, span);
                return None;
            }
        }
        Some(x)
    }

    pub fn string(&mut self, value: &Value, span: Span, subject: Subject) -> Option<String> {
        match value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_kind(value, span, subject, Expected::Str);
                None
            }
        }
    }

    pub fn boolean(&mut self, value: &Value, span: Span, subject: Subject) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.wrong_kind(value, span, subject, Expected::Bool);
                None
            }
        }
    }

    /// One of the words of `table`; anything else is E0110 (with "did you
    /// mean") or E0108.
    pub fn option<T: Copy>(
        &mut self,
        value: &Value,
        span: Span,
        subject: Subject,
        kind: OptionKind,
        table: &[(&str, T)],
    ) -> Option<T> {
        let word = match value {
            Value::Word(w) => &w.ident,
            // `relu()`: a call without arguments names the option too.
            Value::Call(c) if c.args.is_empty() => &c.callee,
            _ => {
                self.wrong_kind(value, span, subject, Expected::Option(kind));
                return None;
            }
        };
        if let Some((_, v)) = table.iter().find(|(name, _)| *name == word.name) {
            return Some(*v);
        }
        let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        self.report(CheckError::UnknownOption {
            kind,
            given: word.name.clone(),
            options: names.iter().map(|n| n.to_string()).collect(),
            did_you_mean: crate::habits::suggestions_for(
                crate::habits::Habit::Option(kind),
                &word.name,
                &names,
            ),
            span: word.span,
        });
        None
    }

    /// A positive integer `n` (meaning `[n, n]`) or a list `[a, b]` of them.
    pub fn int_pair(&mut self, value: &Value, span: Span, subject: Subject) -> Option<[usize; 2]> {
        match value {
            Value::Int(_) => self.positive_int(value, span, subject).map(|n| [n, n]),
            Value::List(items) if items.len() == 2 => {
                let a = self.list_item_positive(items.first(), span, subject.clone());
                let b = self.list_item_positive(items.get(1), span, subject);
                Some([a?, b?])
            }
            _ => {
                self.wrong_kind(value, span, subject, Expected::IntOrPair);
                None
            }
        }
    }

    fn list_item_positive(
        &mut self,
        item: Option<&Item>,
        span: Span,
        subject: Subject,
    ) -> Option<usize> {
        let item = item?;
        let at = if item.span.is_empty() {
            span
        } else {
            item.span
        };
        self.positive_int(&item.value, at, subject)
    }

    /// A shape: a non-empty list of positive integers whose product fits a
    /// `usize`. Problems with the dimensions are E0209.
    pub fn shape(&mut self, value: &Value, span: Span, subject: Subject) -> Option<Shape> {
        let Value::List(items) = value else {
            self.wrong_kind(value, span, subject, Expected::Shape);
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
                Value::Int(i) if *i >= 1 => dims.push(usize::try_from(*i).unwrap_or(usize::MAX)),
                Value::Int(i) => {
                    self.report(CheckError::InvalidShape {
                        problem: ShapeProblem::NonPositive { value: *i },
                        span: item.span,
                    });
                    ok = false;
                }
                other => {
                    self.wrong_kind(other, item.span, Subject::Dimension, Expected::PositiveInt);
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        if element_count(&dims).is_none() {
            self.report(CheckError::InvalidShape {
                problem: ShapeProblem::TooLarge {
                    dims: dims.iter().map(|d| *d as u128).collect(),
                },
                span,
            });
            return None;
        }
        Some(dims)
    }
}
