//! Data blocks: sources (`idx`, `csv`, `folder`), the `train`,
//! `validation` and `test` splits with their slice bounds, `scale` and
//! `labels`. Files are not opened here (that is `nnc-data`); only the
//! structure is checked.

use crate::args::Params;
use crate::checker::Checker;
use crate::program::{DataSpec, Holdout, LabelColumn, Labels, SliceBound, Source, Split};
use crate::scope::{is_builtin_word, Binding, Place, Scope, ScopeKind};
use crate::settings::DATA_KEYS;
use crate::value::{CallValue, Item, Value};
use nnc_diag::check::{
    BodyKind, CheckError, DefKind, Expected, NameKind, Num, OptionKind, Range, SplitNeed, Subject,
};
use nnc_diag::Span;
use nnc_syntax::ast::{DataItem, Setting, Stmt};

/// The largest number of channels a `folder` image may have (RGBA).
const MAX_CHANNELS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SourceKind {
    Idx,
    Csv,
    Folder,
    Text,
}

const SOURCES: &[(&str, SourceKind)] = &[
    ("idx", SourceKind::Idx),
    ("csv", SourceKind::Csv),
    ("folder", SourceKind::Folder),
    ("text", SourceKind::Text),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LabelKind {
    OneHot,
    Index,
    Value,
    None,
}

const LABELS: &[(&str, LabelKind)] = &[
    ("one_hot", LabelKind::OneHot),
    ("index", LabelKind::Index),
    ("value", LabelKind::Value),
    ("none", LabelKind::None),
];

/// What a train block needs to know about a data block.
#[derive(Clone, Debug)]
pub(crate) struct DataInfo {
    pub name: String,
    pub name_span: Span,
    /// Whether `train`, `validation` and `test` are given.
    pub splits: [bool; 3],
    /// `one_hot(k)`: k and where.
    pub one_hot: Option<(usize, Span)>,
    /// Whether the labels are real-valued targets (`labels value`).
    pub regression: bool,
    /// Where `labels` is set, when it is.
    pub labels_span: Option<Span>,
    /// `labels none`: no targets.
    pub unlabelled: bool,
    /// When the training split's source is `text(path, context: T)`: `T`
    /// and the source's span (what `bptt` must match).
    pub text_context: Option<(usize, Span)>,
    /// The training split's span, when it has one.
    pub train_span: Option<Span>,
    /// A `validation` or `test` split drawn by `holdout(...)` from the
    /// training examples: its name and span.
    pub holdout: Option<(&'static str, Span)>,
}

impl<'a> Checker<'a> {
    /// Checks one data block; the spec is `None` when it had errors.
    pub fn check_data(&mut self, item: &'a DataItem) -> (Option<DataSpec>, DataInfo) {
        let before = self.error_count();
        let mut scope = Scope::new(
            ScopeKind::Data,
            Place {
                naming: 0,
                depth: 0,
            },
        );
        scope.later = crate::model::defined_names(&item.body);
        let mut settings: Vec<&'a Setting> = Vec::new();
        for stmt in &item.body {
            match stmt {
                Stmt::Let { name, value, .. } => {
                    let v = self.eval(&mut scope, value);
                    if let Value::Call(c) = &v {
                        self.source(c);
                    }
                    self.define_checked(&mut scope, name, DefKind::Let, Binding::Value(v));
                }
                Stmt::Setting(setting) => settings.push(setting),
                other => self.not_allowed(other, BodyKind::Data),
            }
        }
        let table = self.collect_settings(BodyKind::Data, &settings, DATA_KEYS, &[]);
        let mut splits: Vec<Option<Option<Split>>> = ["train", "validation", "test"]
            .iter()
            .map(|key| table.get(key).map(|s| self.split(&mut scope, s)))
            .collect();
        self.resolve_holdouts(item, &mut splits);
        let train_split = match splits.first() {
            Some(Some(Some(split))) => Some(split.clone()),
            _ => None,
        };
        let augment = match table.get("augment") {
            Some(s) => self.augment_setting(&mut scope, s, train_split.as_ref()),
            None => Some(Vec::new()),
        };
        let scale = match table.get("scale") {
            Some(s) => self.scale_setting(&mut scope, s),
            None => Some(1.0),
        };
        let labels = match table.get("labels") {
            Some(s) => self.labels_setting(&mut scope, s),
            None => Some(Labels::Index),
        };
        self.lint_unused_locals(&scope);
        let info = DataInfo {
            name: item.name.name.clone(),
            name_span: item.name.span,
            splits: [0, 1, 2].map(|i| matches!(splits.get(i), Some(Some(_)))),
            one_hot: match &labels {
                Some(Labels::OneHot { classes, span }) => Some((*classes, *span)),
                _ => None,
            },
            regression: matches!(labels, Some(Labels::Value)),
            labels_span: table.get("labels").map(|s| s.span),
            unlabelled: matches!(labels, Some(Labels::None)),
            text_context: match train_split.as_ref().map(|s| &s.source) {
                Some(Source::Text { context, span, .. }) => Some((*context, *span)),
                _ => None,
            },
            train_span: train_split.as_ref().map(|s| s.span),
            holdout: [(1, "validation"), (2, "test")].into_iter().find_map(
                |(i, name)| match splits.get(i) {
                    Some(Some(Some(split))) if split.holdout.is_some() => Some((name, split.span)),
                    _ => None,
                },
            ),
        };
        if !matches!(labels, Some(Labels::None) | None) || table.get("labels").is_none() {
            self.sources_have_labels(&splits, table.get("labels").map(|s| s.span));
        }
        let clean = self.error_count() == before;
        let spec = (|| {
            let mut splits = splits
                .into_iter()
                .map(|s| s.map_or(Some(None), |s| s.map(Some)));
            Some(DataSpec {
                name: item.name.name.clone(),
                span: item.span,
                train: splits.next()??,
                validation: splits.next()??,
                test: splits.next()??,
                scale: scale?,
                labels: labels?,
                augment: augment?,
            })
        })();
        (spec.filter(|_| clean), info)
    }

    /// E0119: a split whose source has no labels (an `idx` without
    /// `labels:`) in data whose `labels` is not `none`; E0105 for a `csv`
    /// without `label:` there (the argument is required unless `labels
    /// none`).
    fn sources_have_labels(&mut self, splits: &[Option<Option<Split>>], labels: Option<Span>) {
        let mut seen: Vec<Span> = Vec::new();
        for split in splits.iter().flatten().flatten() {
            let (span, error) = match &split.source {
                Source::Idx {
                    labels: None, span, ..
                } => (
                    *span,
                    CheckError::SourceWithoutLabels {
                        span: *span,
                        labels,
                    },
                ),
                Source::Csv {
                    label: None, span, ..
                } => (
                    *span,
                    CheckError::MissingArguments {
                        callee: "csv".into(),
                        names: vec!["label".into()],
                        span: *span,
                        takes: ["path", "label", "header"].map(String::from).to_vec(),
                    },
                ),
                _ => continue,
            };
            if !seen.contains(&span) {
                seen.push(span);
                self.report(error);
            }
        }
    }

    /// `validation holdout(...)` and `test holdout(...)` take the training
    /// split's source and range (E0403 without one).
    fn resolve_holdouts(&mut self, item: &DataItem, splits: &mut [Option<Option<Split>>]) {
        let train = match splits.first() {
            Some(Some(Some(train))) => Some(train.clone()),
            // A training split with errors: they are reported already.
            Some(Some(None)) => return,
            _ => None,
        };
        for (i, name) in [(1, "validation"), (2, "test")] {
            let Some(Some(Some(split))) = splits.get_mut(i) else {
                continue;
            };
            if split.holdout.is_none() {
                continue;
            }
            match &train {
                Some(train) => {
                    split.source = train.source.clone();
                    split.start = train.start;
                    split.end = train.end;
                }
                None => {
                    let span = split.span;
                    self.report(CheckError::MissingSplit {
                        split: "train".into(),
                        data: item.name.name.clone(),
                        need: SplitNeed::Holdout {
                            split: name.to_string(),
                        },
                        span,
                        data_span: item.name.span,
                    });
                    splits[i] = Some(None);
                }
            }
        }
    }

    /// `holdout(fraction, seed: s)`: a split of the training examples.
    fn holdout(&mut self, call: &CallValue, span: Span) -> Option<Split> {
        let params = Params {
            names: &["fraction", "seed"],
            required: &[true, false],
        };
        let mut slots = self
            .bind_args("holdout", call.span, params, call.args.clone())
            .into_iter();
        let subject = |param: &str| Subject::Argument {
            callee: "holdout".into(),
            param: param.into(),
        };
        let open_unit = Range::between(Num::Float(0.0), false, Num::Float(1.0), false);
        let fraction = match slots.next().flatten() {
            Some(arg) => self.number_in(&arg.value, arg.span, subject("fraction"), Some(open_unit)),
            None => None,
        };
        let seed = match slots.next().flatten() {
            Some(arg) => self.non_negative_int(&arg.value, arg.span, subject("seed")),
            None => Some(0),
        };
        Some(Split {
            // The training split's, filled in by `resolve_holdouts`.
            source: Source::Csv {
                path: String::new(),
                label: Some(LabelColumn::Index(0)),
                header: false,
                span,
            },
            start: None,
            end: None,
            span,
            holdout: Some(Holdout {
                fraction: fraction?,
                seed: seed?,
            }),
        })
    }

    /// `train SOURCE`, `train src[a..b]`, `validation holdout(0.1)`.
    fn split(&mut self, scope: &mut Scope, setting: &'a Setting) -> Option<Split> {
        let key = setting.key.name.clone();
        let (value, span) = match &setting.value {
            nnc_syntax::ast::SettingValue::Expr(e) => (self.eval(scope, e), e.span),
            nnc_syntax::ast::SettingValue::Args(_) => {
                let found = Value::Call(std::rc::Rc::new(CallValue {
                    callee: setting.key.clone(),
                    args: Vec::new(),
                    span: setting.span,
                }));
                self.wrong_kind(
                    &found,
                    setting.span,
                    Subject::Split { split: key },
                    Expected::Option(OptionKind::Source),
                );
                return None;
            }
        };
        match value {
            // `train holdout(...)` falls through: an unknown source.
            Value::Call(c) if c.callee.name == "holdout" && key != "train" => {
                self.holdout(&c, span)
            }
            Value::Call(c) => Some(Split {
                source: self.source(&c)?,
                start: None,
                end: None,
                span,
                holdout: None,
            }),
            Value::Slice(s) => {
                let source = self.source_value(&s.base_value, s.base.span, &key);
                let start = self.slice_bound(s.start.as_ref());
                let end = self.slice_bound(s.end.as_ref());
                let (start, end) = (start?, end?);
                let empty = match (start, end) {
                    (Some(SliceBound::Index(a)), Some(SliceBound::Index(b))) => {
                        (a >= b).then_some((a as u64, b as u64))
                    }
                    (Some(SliceBound::Fraction(a)), Some(SliceBound::Fraction(b))) if a >= b => {
                        Some(((a * 100.0) as u64, (b * 100.0) as u64))
                    }
                    _ => None,
                };
                if let Some((a, b)) = empty {
                    self.report(CheckError::EmptySlice {
                        start: a,
                        end: b,
                        span: s.span,
                    });
                    return None;
                }
                Some(Split {
                    source: source?,
                    start,
                    end,
                    span,
                    holdout: None,
                })
            }
            other => Some(Split {
                source: self.source_value(&other, span, &key)?,
                start: None,
                end: None,
                span,
                holdout: None,
            }),
        }
    }

    /// A slice bound: `Some(None)` when absent, `None` when invalid. A
    /// number in `(0, 1)` is a fraction of the source (`src[..0.9]`).
    fn slice_bound(&mut self, item: Option<&Item>) -> Option<Option<SliceBound>> {
        match item {
            None => Some(None),
            Some(Item {
                value: Value::Float(f),
                span,
            }) => {
                let range = Range::between(Num::Float(0.0), false, Num::Float(1.0), false);
                self.number_in(&Value::Float(*f), *span, Subject::SliceBound, Some(range))
                    .map(|f| Some(SliceBound::Fraction(f)))
            }
            Some(item) => self
                .non_negative_int(&item.value, item.span, Subject::SliceBound)
                .map(|i| Some(SliceBound::Index(usize::try_from(i).unwrap_or(usize::MAX)))),
        }
    }

    /// A value that should be a source (a `let` of the data block, usually).
    fn source_value(&mut self, value: &Value, span: Span, split: &str) -> Option<Source> {
        match value {
            Value::Call(c) => self.source(c),
            Value::Word(w) if !is_builtin_word(&w.ident.name) => {
                self.report(CheckError::UnknownName {
                    name: w.ident.name.clone(),
                    kind: NameKind::Source,
                    span: w.ident.span,
                    did_you_mean: w.near.clone(),
                    defined_later: w.later,
                });
                None
            }
            other => {
                let subject = Subject::Split {
                    split: split.to_string(),
                };
                self.wrong_kind(other, span, subject, Expected::Option(OptionKind::Source));
                None
            }
        }
    }

    /// `idx(images, labels: ...)`, `csv(path, label: ..., header: true)`,
    /// `folder(path, size: [c, h, w])`.
    fn source(&mut self, call: &CallValue) -> Option<Source> {
        let word = Value::Word(crate::value::Word {
            ident: call.callee.clone(),
            near: Vec::new(),
            later: None,
        });
        let subject = Subject::Setting {
            key: "source".into(),
        };
        let kind = self.option(
            &word,
            call.callee.span,
            subject,
            OptionKind::Source,
            SOURCES,
        )?;
        let (names, required): (&[&str], &[bool]) = match kind {
            SourceKind::Idx => (&["images", "labels"], &[true, false]),
            // `label` may be left out for `labels none` (checked once the
            // labels are known, by `sources_have_labels`).
            SourceKind::Csv => (&["path", "label", "header"], &[true, false, false]),
            SourceKind::Folder => (&["path", "size"], &[true, true]),
            SourceKind::Text => (&["path", "context"], &[true, true]),
        };
        let callee = call.callee.name.clone();
        let errors_before = self.error_count();
        let mut slots = self
            .bind_args(
                &callee,
                call.span,
                Params { names, required },
                call.args.clone(),
            )
            .into_iter();
        let mut next = || slots.next().flatten();
        let (first, second, third) = (next(), next(), next());
        let subject = |param: &str| Subject::Argument {
            callee: callee.clone(),
            param: param.to_string(),
        };
        let path = first.and_then(|a| {
            self.string(
                &a.value,
                a.span,
                subject(names.first().copied().unwrap_or("path")),
            )
        });
        let source = match kind {
            SourceKind::Idx => {
                let labels = match second {
                    Some(a) => Some(self.string(&a.value, a.span, subject("labels"))?),
                    None => None,
                };
                Source::Idx {
                    images: path?,
                    labels,
                    span: call.span,
                }
            }
            SourceKind::Csv => {
                // `None` inside: no label column (`labels none` only).
                let label = match second {
                    Some(a) => self
                        .label_column(&a.value, a.span, subject("label"))
                        .map(Some),
                    // A misspelt argument (reported) may have been meant.
                    None if self.error_count() > errors_before => None,
                    None => Some(None),
                };
                let header = match third {
                    Some(a) => self.boolean(&a.value, a.span, subject("header")),
                    None => Some(true),
                };
                Source::Csv {
                    path: path?,
                    label: label?,
                    header: header?,
                    span: call.span,
                }
            }
            SourceKind::Folder => {
                let size = second.and_then(|a| self.image_size(&a.value, a.span, subject("size")));
                Source::Folder {
                    path: path?,
                    size: size?,
                    span: call.span,
                }
            }
            SourceKind::Text => {
                let context =
                    second.and_then(|a| self.positive_int(&a.value, a.span, subject("context")));
                Source::Text {
                    path: path?,
                    context: context?,
                    span: call.span,
                }
            }
        };
        Some(source)
    }

    fn label_column(&mut self, value: &Value, span: Span, subject: Subject) -> Option<LabelColumn> {
        match value {
            Value::Str(s) => Some(LabelColumn::Name(s.clone())),
            Value::Int(_) => {
                let index = self.non_negative_int(value, span, subject)?;
                Some(LabelColumn::Index(usize::try_from(index).ok()?))
            }
            other => {
                self.wrong_kind(other, span, subject, Expected::Column);
                None
            }
        }
    }

    /// `size: [channels, height, width]` of a folder of images.
    fn image_size(&mut self, value: &Value, span: Span, subject: Subject) -> Option<Vec<usize>> {
        let size = self.shape(value, span, subject.clone())?;
        let [c, _, _] = size.as_slice() else {
            self.wrong_kind(value, span, subject, Expected::ImageShape);
            return None;
        };
        if *c > MAX_CHANNELS {
            let range = Range::between(Num::Int(1), true, Num::Int(MAX_CHANNELS as i64), true);
            let at = match value {
                Value::List(items) => items.first().map_or(span, |i| i.span),
                _ => span,
            };
            self.report(CheckError::OutOfRange {
                subject: Subject::Channels,
                value: Num::Int(i64::try_from(*c).unwrap_or(i64::MAX)),
                range,
                span: at,
            });
            return None;
        }
        Some(size)
    }

    /// `scale NUMBER`: a positive multiplier.
    fn scale_setting(&mut self, scope: &mut Scope, setting: &'a Setting) -> Option<f64> {
        let (value, span) = self.scoped_setting_value(scope, setting);
        let subject = Subject::Setting {
            key: "scale".into(),
        };
        self.number_in(&value, span, subject, Some(Range::above(Num::Float(0.0))))
    }

    /// `labels one_hot(k)`, `labels index`, `labels value`.
    fn labels_setting(&mut self, scope: &mut Scope, setting: &'a Setting) -> Option<Labels> {
        let (value, span) = self.scoped_setting_value(scope, setting);
        let subject = Subject::Setting {
            key: "labels".into(),
        };
        let (kind, callee, args, call_span) =
            self.named_call(value, span, subject, OptionKind::Labels, LABELS)?;
        let (names, required): (&[&str], &[bool]) = match kind {
            LabelKind::OneHot => (&["classes"], &[true]),
            _ => (&[], &[]),
        };
        let slot = self
            .bind_args(&callee.name, call_span, Params { names, required }, args)
            .into_iter()
            .next()
            .flatten();
        match kind {
            LabelKind::Index => Some(Labels::Index),
            LabelKind::Value => Some(Labels::Value),
            LabelKind::None => Some(Labels::None),
            LabelKind::OneHot => {
                let arg = slot?;
                let subject = Subject::Argument {
                    callee: callee.name.clone(),
                    param: "classes".into(),
                };
                let classes = match arg.value {
                    Value::Int(k) if k < 2 => {
                        self.report(CheckError::OutOfRange {
                            subject,
                            value: Num::Int(k),
                            range: Range::at_least(Num::Int(2)),
                            span: arg.span,
                        });
                        return None;
                    }
                    ref v => self.positive_int(v, arg.span, subject)?,
                };
                Some(Labels::OneHot {
                    classes,
                    span: call_span,
                })
            }
        }
    }

    /// A setting's value evaluated in a data block's scope (so its `let`s
    /// count as used).
    fn scoped_setting_value(&mut self, scope: &mut Scope, setting: &'a Setting) -> (Value, Span) {
        self.setting_value_in(scope, setting)
    }
}
