//! `augment [...]` in a data block: the random changes made to training
//! inputs (shifts, rotations, flips, crops, noise), each checked for its
//! arguments, and the ones that move pixels for image data (E0118).

use crate::args::Params;
use crate::checker::Checker;
use crate::program::{AugmentOp, FlipAxis, Source, Split};
use crate::scope::Scope;
use crate::value::{ArgValue, Value};
use nnc_diag::check::{CheckError, Expected, Num, OptionKind, Range, Subject};
use nnc_diag::Span;
use nnc_syntax::ast::Setting;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Shift,
    Rotate,
    Flip,
    Crop,
    Noise,
}

const AUGMENTATIONS: &[(&str, Kind)] = &[
    ("shift", Kind::Shift),
    ("rotate", Kind::Rotate),
    ("flip", Kind::Flip),
    ("crop", Kind::Crop),
    ("noise", Kind::Noise),
];

const AXES: &[(&str, FlipAxis)] = &[
    ("horizontal", FlipAxis::Horizontal),
    ("vertical", FlipAxis::Vertical),
];

impl<'a> Checker<'a> {
    /// `augment OP` or `augment [OP, ...]`; `None` when an item had
    /// errors. Moving pixels needs a training split of images (E0118).
    pub(crate) fn augment_setting(
        &mut self,
        scope: &mut Scope,
        setting: &'a Setting,
        train: Option<&Split>,
    ) -> Option<Vec<AugmentOp>> {
        let (value, span) = self.setting_value_in(scope, setting);
        let items: Vec<(Value, Span)> = match value {
            Value::List(items) => items.into_iter().map(|i| (i.value, i.span)).collect(),
            Value::Call(_) | Value::Word(_) => vec![(value, span)],
            other => {
                let subject = Subject::Setting {
                    key: "augment".into(),
                };
                self.wrong_kind(&other, span, subject, Expected::Augmentations);
                return None;
            }
        };
        let mut ops = Vec::new();
        let mut ok = true;
        for (value, span) in items {
            match self.augmentation(value, span) {
                Some(op) => {
                    let misfit = match train.map(|t| &t.source) {
                        Some(Source::Csv { span: source, .. }) if op.is_spatial() => {
                            Some((*source, false))
                        }
                        Some(Source::Text { span: source, .. }) => Some((*source, true)),
                        _ => None,
                    };
                    if let Some((source_span, text)) = misfit {
                        self.report(CheckError::AugmentNeedsImages {
                            augmentation: augmentation_name(&op).to_string(),
                            span,
                            source_span,
                            text,
                        });
                        ok = false;
                    }
                    ops.push(op);
                }
                None => ok = false,
            }
        }
        ok.then_some(ops)
    }

    fn augmentation(&mut self, value: Value, span: Span) -> Option<AugmentOp> {
        let subject = Subject::Setting {
            key: "augment".into(),
        };
        let (kind, callee, args, call_span) = self.named_call(
            value,
            span,
            subject,
            OptionKind::Augmentation,
            AUGMENTATIONS,
        )?;
        let (names, required): (&[&str], &[bool]) = match kind {
            Kind::Shift => (&["pixels"], &[true]),
            Kind::Rotate => (&["degrees"], &[true]),
            Kind::Flip => (&["axis"], &[false]),
            Kind::Crop => (&["pad"], &[true]),
            Kind::Noise => (&["sigma"], &[true]),
        };
        let param = names[0];
        let arg: Option<ArgValue> = self
            .bind_args(&callee.name, call_span, Params { names, required }, args)
            .into_iter()
            .next()
            .flatten();
        let subject = Subject::Argument {
            callee: callee.name.clone(),
            param: param.into(),
        };
        let positive = Range::between(Num::Float(0.0), false, Num::Float(f64::INFINITY), false);
        match kind {
            Kind::Shift => {
                let arg = arg?;
                let pixels = self.positive_int(&arg.value, arg.span, subject)?;
                Some(AugmentOp::Shift { pixels })
            }
            Kind::Crop => {
                let arg = arg?;
                let pad = self.positive_int(&arg.value, arg.span, subject)?;
                Some(AugmentOp::Crop { pad })
            }
            Kind::Rotate => {
                let arg = arg?;
                let range = Range::between(Num::Float(0.0), false, Num::Float(180.0), true);
                let degrees = self.number_in(&arg.value, arg.span, subject, Some(range))?;
                Some(AugmentOp::Rotate { degrees })
            }
            Kind::Noise => {
                let arg = arg?;
                let sigma = self.number_in(&arg.value, arg.span, subject, Some(positive))?;
                Some(AugmentOp::Noise { sigma })
            }
            Kind::Flip => {
                let axis = match arg {
                    Some(arg) => {
                        self.option(&arg.value, arg.span, subject, OptionKind::FlipAxis, AXES)?
                    }
                    None => FlipAxis::Horizontal,
                };
                Some(AugmentOp::Flip { axis })
            }
        }
    }
}

/// The name an augmentation is written with.
fn augmentation_name(op: &AugmentOp) -> &'static str {
    match op {
        AugmentOp::Shift { .. } => "shift",
        AugmentOp::Rotate { .. } => "rotate",
        AugmentOp::Flip { .. } => "flip",
        AugmentOp::Crop { .. } => "crop",
        AugmentOp::Noise { .. } => "noise",
    }
}
