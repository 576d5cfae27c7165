//! Train blocks of several models trained against each other (a GAN):
//! `train generator, discriminator on mnist { step discriminator { ... }
//! step generator { ... } }`.
//!
//! Each `step MODEL { ... }` becomes a model of its own ([`StepSpec::graph`])
//! whose inputs are `real` (the mini-batch) and, with one-hot data,
//! `labels`; whose layers are every player's, in the header's order, with
//! only `MODEL`'s trained; and whose costs are the step's `cost`
//! expressions. A call of a player, `discriminator(x)`, expands that
//! player's checked graph on `x` with the step's shared layers, so two
//! calls read the same weights (`players.rs`). Checks: a step names a model of the block
//! (E0101, E0408) once (E0103); its cost depends on that model's
//! parameters other than through `detach` (E0306); a player's input and
//! the tensor given to it agree in shape (E0212); `labels` needs one-hot
//! data (E0409); a player no step updates is W0107.

use crate::builder::{LayerDraft, OutAct};
use crate::checker::Checker;
use crate::data::DataInfo;
use crate::model::{defined_names, ModelInfo};
use crate::players::{Player, StepContext};
use crate::program::{MathFn, Model, NodeId, Op, Optimizer, Penalty, StepSpec, TrainSpec};
use crate::scope::{Binding, Place, Scope, ScopeKind};
use crate::settings::{GAME_KEYS, STEP_KEYS};
use crate::value::{Tensor, Value};
use nnc_diag::check::{BodyKind, CheckError, DefKind, Derivation, Expected, NameKind, Subject};
use nnc_diag::{suggestions, Span};
use nnc_syntax::ast::{ExprKind, Ident, Setting, SettingValue, Stmt, TrainItem};

/// A `step` section of the body, as written.
struct Section<'a> {
    name: &'a Ident,
    body: &'a [Stmt],
    span: Span,
}

impl<'a> Checker<'a> {
    /// Checks a train block that names several models or has `step`
    /// sections; the spec is `None` when it had errors.
    pub fn check_game(
        &mut self,
        item: &'a TrainItem,
        models: &[ModelInfo],
        checked: &[Model],
        data: &[DataInfo],
    ) -> Option<TrainSpec> {
        let before = self.error_count();
        let header = match (item.models.first(), item.models.last()) {
            (Some(first), Some(last)) => first.span.to(last.span),
            _ => item.span,
        };
        let mut players: Vec<Player> = Vec::new();
        let mut known = true;
        for ident in &item.models {
            if players.iter().any(|p| p.model.name == ident.name) {
                let first = item
                    .models
                    .iter()
                    .find(|m| m.name == ident.name)
                    .map_or(ident.span, |m| m.span);
                self.report(CheckError::Duplicate {
                    name: ident.name.clone(),
                    kind: DefKind::Model,
                    span: ident.span,
                    first,
                });
                continue;
            }
            match checked.iter().find(|m| m.name == ident.name) {
                Some(model) => {
                    let offset = players.iter().map(|p| p.model.layers.len()).sum();
                    players.push(Player {
                        model: model.clone(),
                        offset,
                    });
                }
                None => {
                    // Unknown (reported here) or with errors (reported).
                    if !models.iter().any(|m| m.name == ident.name) {
                        self.report(CheckError::UnknownName {
                            name: ident.name.clone(),
                            kind: NameKind::Model,
                            span: ident.span,
                            did_you_mean: suggestions(
                                &ident.name,
                                models.iter().map(|m| m.name.as_str()),
                            ),
                            defined_later: None,
                        });
                    }
                    known = false;
                }
            }
        }
        let data_info = self.find_data(&item.data, data);
        let mut settings: Vec<&'a Setting> = Vec::new();
        let mut sections: Vec<Section<'a>> = Vec::new();
        for stmt in &item.body {
            match stmt {
                Stmt::Setting(s) => settings.push(s),
                Stmt::Section {
                    kind,
                    name,
                    body,
                    span,
                } if kind.name == "step" => sections.push(Section {
                    name,
                    body,
                    span: Span::new(span.start, name.span.end),
                }),
                other => self.not_allowed(other, BodyKind::Game),
            }
        }
        if sections.is_empty() {
            self.report(CheckError::SeveralModels {
                count: item.models.len(),
                span: header,
            });
            return None;
        }
        let table = self.collect_settings(BodyKind::Game, &settings, GAME_KEYS, &[]);
        let missing: Vec<String> = ["batch_size", "epochs"]
            .iter()
            .filter(|key| table.get(key).is_none())
            .map(|key| key.to_string())
            .collect();
        if !missing.is_empty() {
            self.report(CheckError::MissingSettings {
                keys: missing,
                span: Span::new(item.span.start, item.data.span.end.max(item.span.start)),
            });
        }
        let defaults = self.phase_defaults(&table);
        let batch_size = self.count_setting(&table, "batch_size");
        let epochs = self.count_setting(&table, "epochs");
        let seed = self.seed_setting(&table);
        let epochs_at = epochs.zip(table.get("epochs").map(|s| s.span));
        let mut steps: Vec<StepSpec> = Vec::new();
        let mut stepped: Vec<(String, Span)> = Vec::new();
        // A step naming no model may have meant one of the players: none
        // of them is then reported as updated by no step.
        let mut misnamed = false;
        for section in &sections {
            let name = &section.name.name;
            if let Some((_, first)) = stepped.iter().find(|(n, _)| n == name) {
                self.report(CheckError::Duplicate {
                    name: name.clone(),
                    kind: DefKind::Step,
                    span: section.name.span,
                    first: *first,
                });
                continue;
            }
            stepped.push((name.clone(), section.name.span));
            let Some(updated) = players.iter().position(|p| p.model.name == *name) else {
                if item.models.iter().any(|m| m.name == *name) {
                    continue; // a player with errors of its own
                }
                misnamed = true;
                if models.iter().any(|m| m.name == *name) {
                    self.report(CheckError::StepModelNotTrained {
                        model: name.clone(),
                        span: section.name.span,
                        header,
                    });
                } else {
                    self.report(CheckError::UnknownName {
                        name: name.clone(),
                        kind: NameKind::Model,
                        span: section.name.span,
                        did_you_mean: suggestions(
                            name,
                            item.models.iter().map(|m| m.name.as_str()),
                        ),
                        defined_later: None,
                    });
                }
                continue;
            };
            let context = StepContext {
                players: players.clone(),
                updated,
                monitors: Vec::new(),
                labels_missing: data_info
                    .as_ref()
                    .filter(|d| d.one_hot.is_none())
                    .map(|d| (d.name.clone(), item.data.span)),
            };
            let classes = data_info.as_ref().and_then(|d| d.one_hot.map(|(k, _)| k));
            let step = self.check_step(section, context, classes, &defaults, batch_size, epochs_at);
            steps.extend(step);
        }
        for (player, ident) in players.iter().zip(&item.models) {
            if !misnamed && !stepped.iter().any(|(n, _)| *n == player.model.name) {
                self.report(CheckError::NoStepUpdates {
                    model: player.model.name.clone(),
                    span: ident.span,
                });
            }
        }
        let clean = self.error_count() == before;
        let data_info = data_info?;
        if !clean || !known {
            return None;
        }
        let first = steps.first()?;
        let batch_size = batch_size?;
        let phase = crate::program::Phase {
            start_epoch: 1,
            optimizer: first.optimizer.clone(),
            learning_rate: first.rate_at(1),
            batch_size,
            span: item.span,
        };
        let metric = crate::program::Metric {
            split: if data_info.splits[2] {
                nnc_diag::data::SplitKind::Test
            } else if data_info.splits[1] {
                nnc_diag::data::SplitKind::Validation
            } else {
                nnc_diag::data::SplitKind::Train
            },
            measure: crate::program::Measure::Cost,
        };
        Some(TrainSpec {
            model: players.first()?.model.name.clone(),
            data: data_info.name.clone(),
            span: item.span,
            epochs: epochs?,
            clip: Default::default(),
            seed: seed?,
            phases: vec![phase],
            decay: None,
            early_stop: None,
            metrics: vec![metric],
            keep_best: None,
            players: players.iter().map(|p| p.model.name.clone()).collect(),
            steps,
            bptt: None,
        })
    }

    /// One `step MODEL { ... }`.
    fn check_step(
        &mut self,
        section: &Section<'a>,
        context: StepContext,
        classes: Option<usize>,
        defaults: &StepDefaults,
        batch_size: Option<usize>,
        epochs_at: Option<(usize, Span)>,
    ) -> Option<StepSpec> {
        let before = self.error_count();
        let updated = context.updated;
        let player = context.players.get(updated)?.clone();
        let name = player.model.name.clone();
        self.model_name = format!("{name} step");
        self.builder = crate::builder::Builder::new();
        for (p, other) in context.players.iter().enumerate() {
            for layer in &other.model.layers {
                let mut params = layer.params.clone();
                for param in &mut params {
                    param.trained &= p == updated;
                }
                self.builder.layers.push(LayerDraft {
                    params,
                    fan_in: layer.fan_in,
                    fan_out: layer.fan_out,
                    span: layer.span,
                    name_hint: Some(format!("{}.{}", other.model.name, layer.name)),
                    first_node: None,
                });
            }
        }
        let place = Place {
            naming: 0,
            depth: 0,
        };
        let mut scope = Scope::new(ScopeKind::Model, place);
        scope.later = defined_names(section.body);
        // `real` is shaped as the input of the last model named, the one
        // that tells real examples from generated ones.
        let real_input = context.players.last().and_then(|p| {
            let node = p.model.node(*p.model.inputs.first()?);
            Some((node.shape.clone(), node.span, node.name.clone()))
        });
        // Reports about `real` point at the input it is shaped as.
        let real_span = real_input.as_ref().map_or(section.name.span, |r| r.1);
        let real_shape = real_input.as_ref().map(|r| r.0.clone());
        let real = self.step_input(&mut scope, "real", real_shape, real_span);
        let labels = classes
            .map(|k| self.step_input(&mut scope, "labels", Some(vec![k]), section.name.span));
        self.step = Some(context);
        let mut settings: Vec<&'a Setting> = Vec::new();
        let mut ats: Vec<crate::train::At<'a>> = Vec::new();
        for stmt in section.body {
            match stmt {
                Stmt::Let { name, value, .. } => self.let_stmt(&mut scope, name, value),
                Stmt::LetMany { names, value, .. } => self.let_many(&mut scope, names, value),
                Stmt::Setting(s) => settings.push(s),
                Stmt::At { epoch, body, span } => ats.push(crate::train::At {
                    epoch,
                    body,
                    span: Span::new(span.start, epoch.span.end),
                }),
                other => self.not_allowed(other, BodyKind::Step),
            }
        }
        let table =
            self.collect_settings(BodyKind::Step, &settings, STEP_KEYS, &["cost", "report"]);
        let mut costs: Vec<(Tensor, Option<String>, Span)> = Vec::new();
        for setting in table.all.iter().filter(|s| s.key.name == "cost") {
            let penalty = crate::costs::penalty_expr(setting, &scope);
            let Some((expr, label)) = penalty else {
                // `cost cross_entropy`: a named cost compares a model's
                // output with the labels, which a step has none of.
                self.report(CheckError::NotAllowed {
                    stmt: nnc_diag::check::StmtKind::Setting { key: "cost".into() },
                    body: BodyKind::Step,
                    span: setting.span,
                });
                continue;
            };
            if let Some(t) = self.penalty(&mut scope, expr, setting.span) {
                costs.push((t, label, setting.span));
            }
        }
        let reports = self.step_reports(&mut scope, &table);
        let mut context = self.step.take().unwrap_or_default();
        if !reports.is_empty() {
            context.monitors = reports;
        }
        if table.get("cost").is_none() {
            self.report(CheckError::MissingSettings {
                keys: vec!["cost".into()],
                span: section.span,
            });
        }
        let optimizer = match table.get("optimizer") {
            Some(s) => self.optimizer_setting(s),
            None => defaults.optimizer.clone().or(Some(Optimizer::Sgd)),
        };
        let rate = match table.get("learning_rate") {
            Some(s) => self.step_rate(s),
            None => defaults.learning_rate,
        };
        if table.get("learning_rate").is_none() && defaults.learning_rate.is_none() {
            self.report(CheckError::MissingSettings {
                keys: vec!["learning_rate".into()],
                span: section.span,
            });
        }
        let repeat = match table.get("repeat") {
            Some(s) => {
                let (value, span) = self.setting_value(s);
                self.positive_int(
                    &value,
                    span,
                    Subject::Setting {
                        key: "repeat".into(),
                    },
                )
            }
            None => Some(1),
        };
        let rates = self.step_rates(
            section,
            &ats,
            optimizer.clone(),
            rate,
            batch_size,
            epochs_at,
        );
        self.step_depends_on_model(&costs, &player, section.name.span);
        self.lint_unused_locals(&scope);
        let clean = self.error_count() == before;
        if !clean {
            return None;
        }
        let mut inputs = vec![real.node?];
        if let Some(labels) = labels {
            inputs.push(labels.node?);
        }
        let penalties: Option<Vec<Penalty>> = costs
            .iter()
            .map(|(t, label, span)| {
                Some(Penalty {
                    node: t.node?,
                    name: label.clone(),
                    span: *span,
                })
            })
            .collect();
        let outputs: Option<Vec<(String, NodeId)>> = context
            .monitors
            .iter()
            .map(|(label, t)| Some((label.clone(), t.node?)))
            .collect();
        let (nodes, layers) = self.builder.finish();
        Some(StepSpec {
            model: name.clone(),
            span: section.span,
            real_input: real_input.map(|r| r.2).unwrap_or_default(),
            repeat: repeat?,
            optimizer: optimizer?,
            rates: rates?,
            graph: Model {
                name: format!("{name} step"),
                span: section.span,
                inputs,
                outputs: outputs?,
                nodes,
                layers,
                cost: None,
                input_costs: Vec::new(),
                penalties: penalties?,
                regularizers: player.model.regularizers.clone(),
                cost_name: None,
                zero_states: Vec::new(),
                carry: false,
                unrolls: Vec::new(),
            },
        })
    }

    /// `report NAME`: the tensors a step reports the mean of after each
    /// epoch, by name (`report EXPR` is named `report_K`).
    fn step_reports(
        &mut self,
        scope: &mut Scope,
        table: &crate::settings::SettingTable<'a>,
    ) -> Vec<(String, Tensor)> {
        let mut reports = Vec::new();
        let settings = table.all.iter().filter(|s| s.key.name == "report");
        for (k, setting) in settings.enumerate() {
            let SettingValue::Expr(expr) = &setting.value else {
                continue;
            };
            let label = match &expr.kind {
                ExprKind::Name(id) => id.name.clone(),
                _ => format!("report_{}", k + 1),
            };
            match self.eval(scope, expr) {
                Value::Tensor(t) => reports.push((label, t)),
                other => {
                    let subject = Subject::Setting {
                        key: "report".into(),
                    };
                    self.wrong_kind(&other, expr.span, subject, Expected::Tensor);
                }
            }
        }
        reports
    }

    /// `real` or `labels`: an input node of the step, bound and marked
    /// used (a step need not read either).
    fn step_input(
        &mut self,
        scope: &mut Scope,
        name: &str,
        shape: Option<Vec<usize>>,
        span: Span,
    ) -> Tensor {
        let Some(shape) = shape else {
            return Tensor::unknown(span);
        };
        let t = self.new_node(
            scope.place,
            name,
            Op::Input,
            &[],
            shape,
            span,
            Derivation::Input {
                name: name.to_string(),
            },
            OutAct::Plain,
        );
        let ident = Ident {
            name: name.to_string(),
            span,
        };
        self.define_checked(scope, &ident, DefKind::Input, Binding::Tensor(t.clone()));
        scope.use_name(name);
        t
    }

    /// The learning rate of each phase of a step: `learning_rate`, then
    /// each `at epoch N { learning_rate ... }`. A step's phases change the
    /// rate only: its optimizer and the block's batch size hold throughout.
    fn step_rates(
        &mut self,
        section: &Section<'a>,
        ats: &[crate::train::At<'a>],
        optimizer: Option<Optimizer>,
        rate: Option<f64>,
        batch_size: Option<usize>,
        epochs_at: Option<(usize, Span)>,
    ) -> Option<Vec<(usize, f64)>> {
        for at in ats {
            for stmt in at.body {
                if let Stmt::Setting(s) = stmt {
                    if s.key.name != "learning_rate" {
                        self.not_allowed(stmt, BodyKind::StepPhase);
                    }
                }
            }
        }
        let base = crate::train::PhaseValues {
            optimizer: optimizer.clone(),
            learning_rate: rate,
            batch_size: batch_size.or(Some(1)),
        };
        let phases = self.phases(base, ats, epochs_at, section.span)?;
        Some(
            phases
                .into_iter()
                .map(|p| (p.start_epoch, p.learning_rate))
                .collect(),
        )
    }

    /// E0306: some cost of the step reaches the updated model's
    /// parameters without passing a `detach`.
    fn step_depends_on_model(
        &mut self,
        costs: &[(Tensor, Option<String>, Span)],
        player: &Player,
        step_span: Span,
    ) {
        let known: Vec<NodeId> = costs.iter().filter_map(|(t, _, _)| t.node).collect();
        if known.is_empty() || known.len() < costs.len() {
            return;
        }
        let layers = player.offset..player.offset + player.model.layers.len();
        let nodes = &self.builder.nodes;
        // 0: not reached, 1: reached through a detach, 2: reached.
        let mut reach = vec![0u8; nodes.len()];
        for id in &known {
            if let Some(r) = reach.get_mut(id.0) {
                *r = 2;
            }
        }
        let mut direct = false;
        let mut detached = false;
        for i in (0..nodes.len()).rev() {
            let r = reach[i];
            if r == 0 {
                continue;
            }
            let node = &nodes[i];
            let own = match &node.op {
                Op::Param { layer, .. } => layers.contains(&layer.0),
                op => op.layer().is_some_and(|l| layers.contains(&l.0)),
            };
            if own {
                if r == 2 {
                    direct = true;
                } else {
                    detached = true;
                }
            }
            let next = if matches!(node.op, Op::Math(MathFn::Detach)) {
                1
            } else {
                r
            };
            for input in &node.inputs {
                if let Some(slot) = reach.get_mut(input.0) {
                    *slot = (*slot).max(next);
                }
            }
        }
        if !direct {
            let span = costs.first().map_or(step_span, |(_, _, s)| *s);
            self.report(CheckError::StepIgnoresModel {
                model: player.model.name.clone(),
                span,
                step_span,
                detached,
            });
        }
    }
}

/// The settings a game's train block gives every step that does not set
/// them.
pub(crate) struct StepDefaults {
    optimizer: Option<Optimizer>,
    learning_rate: Option<f64>,
}

impl<'a> Checker<'a> {
    fn phase_defaults(&mut self, table: &crate::settings::SettingTable<'a>) -> StepDefaults {
        let optimizer = table
            .get("optimizer")
            .and_then(|s| self.optimizer_setting(s));
        let learning_rate = table.get("learning_rate").and_then(|s| self.step_rate(s));
        StepDefaults {
            optimizer,
            learning_rate,
        }
    }

    /// A positive learning rate.
    fn step_rate(&mut self, setting: &'a Setting) -> Option<f64> {
        let (value, span) = self.setting_value(setting);
        let subject = Subject::Setting {
            key: "learning_rate".into(),
        };
        self.number_in(
            &value,
            span,
            subject,
            Some(nnc_diag::check::Range::above(nnc_diag::check::Num::Float(
                0.0,
            ))),
        )
    }
}
