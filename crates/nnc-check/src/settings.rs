//! Settings (`key value` statements) and which statements each body allows.
//!
//! Every body has a fixed list of setting keys. A key of another body is
//! "not allowed here" (E0112), a layer written as a statement too; any
//! other key is unknown (E0111, with "did you mean"). A key given twice is
//! E0117 unless the body allows repeating it (`regularize`).

use crate::checker::Checker;
use crate::scope::is_layer_name;
use nnc_diag::check::{BodyKind, CheckError, StmtKind};
use nnc_diag::Span;
use nnc_syntax::ast::{Setting, Stmt};
use std::collections::HashMap;

pub(crate) const MODEL_KEYS: &[&str] = &["cost", "cost_name", "regularize"];
pub(crate) const DATA_KEYS: &[&str] =
    &["train", "validation", "test", "scale", "labels", "augment"];
pub(crate) const TRAIN_KEYS: &[&str] = &[
    "optimizer",
    "learning_rate",
    "batch_size",
    "epochs",
    "seed",
    "decay",
    "early_stop",
    "metrics",
    "keep_best",
    "clip_norm",
    "clip_value",
    "bptt",
];
/// The settings of a train block of several models: what every step
/// shares, and defaults for the steps' optimizer and learning rate.
pub(crate) const GAME_KEYS: &[&str] =
    &["batch_size", "epochs", "seed", "optimizer", "learning_rate"];

/// The settings of a `step MODEL { ... }` section.
pub(crate) const STEP_KEYS: &[&str] = &["optimizer", "learning_rate", "repeat", "cost", "report"];

pub(crate) const PHASE_KEYS: &[&str] = &["learning_rate", "batch_size", "optimizer"];

/// The known settings of one body, first occurrence of each key.
pub(crate) struct SettingTable<'a> {
    first: HashMap<&'a str, &'a Setting>,
    /// Every accepted setting in order (repeatable ones included).
    pub all: Vec<&'a Setting>,
}

impl<'a> SettingTable<'a> {
    pub fn get(&self, key: &str) -> Option<&'a Setting> {
        self.first.get(key).copied()
    }
}

impl<'a> Checker<'a> {
    /// Sorts a body's settings into known ones, reporting the others.
    pub fn collect_settings(
        &mut self,
        body: BodyKind,
        settings: &[&'a Setting],
        known: &[&str],
        repeatable: &[&str],
    ) -> SettingTable<'a> {
        let mut table = SettingTable {
            first: HashMap::new(),
            all: Vec::new(),
        };
        for setting in settings {
            let key = setting.key.name.as_str();
            if !known.contains(&key) {
                self.foreign_setting(body, setting, known);
                continue;
            }
            if !repeatable.contains(&key) {
                if let Some(first) = table.first.get(key) {
                    self.report(CheckError::SettingTwice {
                        key: key.to_string(),
                        span: setting.key.span,
                        first: first.key.span,
                    });
                    continue;
                }
            }
            table.first.entry(key).or_insert(setting);
            table.all.push(setting);
        }
        table
    }

    /// A setting this body does not know: E0112 if it belongs elsewhere
    /// (or is a layer), E0111 otherwise.
    fn foreign_setting(&mut self, body: BodyKind, setting: &Setting, known: &[&str]) {
        let key = setting.key.name.as_str();
        let elsewhere = [MODEL_KEYS, DATA_KEYS, TRAIN_KEYS]
            .iter()
            .any(|keys| keys.contains(&key));
        if elsewhere || self.is_layer_name(key) {
            self.report(CheckError::NotAllowed {
                stmt: self.setting_kind(key),
                body,
                span: setting.key.span,
            });
            return;
        }
        self.report(CheckError::UnknownSetting {
            body,
            key: key.to_string(),
            known: known.iter().map(|k| k.to_string()).collect(),
            did_you_mean: crate::habits::suggestions_for(crate::habits::Habit::Setting, key, known),
            span: setting.key.span,
        });
    }

    fn is_layer_name(&self, name: &str) -> bool {
        is_layer_name(name) || self.block_of(name).is_some()
    }

    fn setting_kind(&self, key: &str) -> StmtKind {
        if self.is_layer_name(key) {
            StmtKind::LayerCall {
                name: key.to_string(),
            }
        } else {
            StmtKind::Setting {
                key: key.to_string(),
            }
        }
    }

    /// E0112 for a statement the body does not allow.
    pub fn not_allowed(&mut self, stmt: &Stmt, body: BodyKind) {
        let (kind, span) = match stmt {
            Stmt::Input { name, span, .. } => {
                (StmtKind::Input, Span::new(span.start, name.span.end))
            }
            Stmt::Output { name, span, .. } => {
                (StmtKind::Output, Span::new(span.start, name.span.end))
            }
            Stmt::Let { name, span, .. } => (StmtKind::Let, Span::new(span.start, name.span.end)),
            Stmt::LetMany { names, span, .. } => (
                StmtKind::Let,
                Span::new(span.start, names.last().map_or(span.end, |n| n.span.end)),
            ),
            Stmt::Layer { name, span, .. } => {
                (StmtKind::Layer, Span::new(span.start, name.span.end))
            }
            Stmt::Layers { span, .. } => (StmtKind::Layers, keyword(*span, "layers")),
            Stmt::At { epoch, span, .. } => (StmtKind::At, Span::new(span.start, epoch.span.end)),
            Stmt::Section { kind, name, .. } => (StmtKind::Section, kind.span.to(name.span)),
            Stmt::Setting(setting) => (self.setting_kind(&setting.key.name), setting.key.span),
        };
        self.report(CheckError::NotAllowed {
            stmt: kind,
            body,
            span,
        });
    }
}

/// The span of a statement's leading keyword.
pub(crate) fn keyword(span: Span, word: &str) -> Span {
    Span::new(span.start, (span.start + word.len()).min(span.end))
}
