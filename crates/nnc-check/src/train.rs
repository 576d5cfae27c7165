//! Train blocks: optimizer, learning rate, batch size, epochs, seed, the
//! `at epoch N { ... }` phases, plateau decay, early stopping and metrics;
//! and the checks that need both the model and the data: a cost (E0302),
//! one input (E0114), the splits the training and its metrics read (E0403),
//! and one-hot labels against the model's output size (E0208).

use crate::args::Params;
use crate::checker::Checker;
use crate::data::DataInfo;
use crate::model::ModelInfo;
use crate::program::{Clip, EarlyStop, Measure, Metric, Optimizer, Phase, PlateauDecay, TrainSpec};
use crate::scope::Scope;
use crate::settings::{SettingTable, PHASE_KEYS, TRAIN_KEYS};
use crate::shape::element_count;
use crate::value::{ArgValue, Value};
use nnc_diag::check::{
    BodyKind, BpttProblem, CheckError, Expected, MetricMisfit, NameKind, Num, OptionKind, Range,
    SplitNeed, Subject,
};
use nnc_diag::data::SplitKind;
use nnc_diag::{suggestions, Span};
use nnc_syntax::ast::{Expr, Ident, Setting, SettingValue, Stmt, TrainItem};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OptimizerKind {
    Sgd,
    Momentum,
    Nesterov,
    Adam,
}

const OPTIMIZERS: &[(&str, OptimizerKind)] = &[
    ("sgd", OptimizerKind::Sgd),
    ("momentum", OptimizerKind::Momentum),
    ("nesterov", OptimizerKind::Nesterov),
    ("adam", OptimizerKind::Adam),
];

const DECAYS: &[(&str, ())] = &[("on_plateau", ())];

const SPLIT_NAMES: [&str; 3] = ["train", "validation", "test"];

/// Which split a metric is measured on (index into [`SPLIT_NAMES`]).
fn metric_split(metric: Metric) -> usize {
    match metric.split {
        SplitKind::Train => 0,
        SplitKind::Validation => 1,
        SplitKind::Test => 2,
    }
}

/// The settings a phase can change.
#[derive(Clone, Debug)]
pub(crate) struct PhaseValues {
    pub optimizer: Option<Optimizer>,
    pub learning_rate: Option<f64>,
    pub batch_size: Option<usize>,
}

/// An `at epoch N { ... }` statement.
pub(crate) struct At<'a> {
    pub epoch: &'a Expr,
    pub body: &'a [Stmt],
    pub span: Span,
}

impl<'a> Checker<'a> {
    /// Checks one train block; the spec is `None` when it had errors.
    pub fn check_train(
        &mut self,
        item: &'a TrainItem,
        models: &[ModelInfo],
        checked: &[crate::program::Model],
        data: &[DataInfo],
    ) -> Option<TrainSpec> {
        let steps = item
            .body
            .iter()
            .any(|s| matches!(s, Stmt::Section { kind, .. } if kind.name == "step"));
        if item.models.len() > 1 || steps {
            return self.check_game(item, models, checked, data);
        }
        let before = self.error_count();
        let header = Span::new(item.span.start, item.data.span.end.max(item.span.start));
        let model_ident = item.models.first();
        let model = model_ident.and_then(|m| self.find_model(m, models));
        let data_info = self.find_data(&item.data, data);
        let mut settings: Vec<&'a Setting> = Vec::new();
        let mut ats: Vec<At<'a>> = Vec::new();
        for stmt in &item.body {
            match stmt {
                Stmt::Setting(s) => settings.push(s),
                Stmt::At { epoch, body, span } => ats.push(At {
                    epoch,
                    body,
                    span: Span::new(span.start, epoch.span.end),
                }),
                other => self.not_allowed(other, BodyKind::Train),
            }
        }
        let table = self.collect_settings(BodyKind::Train, &settings, TRAIN_KEYS, &[]);
        // A required setting an unknown one was meant for (`lr` for
        // `learning_rate`) is not reported missing as well.
        let meant: Vec<String> = settings
            .iter()
            .filter(|s| !TRAIN_KEYS.contains(&s.key.name.as_str()))
            .filter_map(|s| {
                crate::habits::suggestions_for(
                    crate::habits::Habit::Setting,
                    &s.key.name,
                    TRAIN_KEYS,
                )
                .into_iter()
                .next()
            })
            .collect();
        let missing: Vec<String> = ["learning_rate", "batch_size", "epochs"]
            .iter()
            .filter(|key| table.get(key).is_none() && !meant.iter().any(|m| m == *key))
            .map(|key| key.to_string())
            .collect();
        if !missing.is_empty() {
            self.report(CheckError::MissingSettings {
                keys: missing,
                span: header,
            });
        }
        let base = self.phase_values(&table, true);
        let epochs = self.count_setting(&table, "epochs");
        let seed = self.seed_setting(&table);
        let epochs_at = epochs.zip(table.get("epochs").map(|s| s.span));
        let phases = self.phases(base, &ats, epochs_at, header);
        let decay = table.get("decay").map(|s| self.decay_setting(s));
        let early_stop = table.get("early_stop").map(|s| self.early_stop_setting(s));
        let metrics = table.get("metrics").map(|s| self.metrics_setting(s));
        let keep_best = table.get("keep_best").map(|s| self.keep_best_setting(s));
        let clip_norm = self.positive_number_setting(&table, "clip_norm");
        let clip_value = self.positive_number_setting(&table, "clip_value");
        let bptt = self.count_setting(&table, "bptt");

        let mut used: Vec<(Metric, Span)> = Vec::new();
        if let Some(Some((d, span))) = &decay {
            used.push((d.metric, *span));
        }
        if let Some(Some((e, span))) = &early_stop {
            used.push((e.metric, *span));
        }
        if let Some(Some(list)) = &metrics {
            used.extend(list.iter().copied());
        }
        if let Some(Some(best)) = &keep_best {
            used.push(*best);
        }
        // With several models (E0405), which one fits the data is moot.
        let single = item.models.len() == 1;
        if let (Some(m), Some(ident), true) = (&model, model_ident, single) {
            self.model_fits_training(m, ident);
        }
        if let (Some(d), Some(m), true) = (&data_info, &model, single) {
            if let (true, Some(cost)) = (d.unlabelled, m.label_cost) {
                self.report(CheckError::NeedsLabels {
                    model: m.name.clone(),
                    data: d.name.clone(),
                    span: item.data.span,
                    cost,
                    labels: d.labels_span,
                });
            }
        }
        if let Some(d) = &data_info {
            // The model's name, when its costs all compare with inputs.
            let reconstructs = model
                .as_ref()
                .filter(|m| single && m.reconstructs)
                .map(|m| m.name_span);
            self.data_fits_training(d, &item.data, &used, reconstructs);
            if let (Some(m), true) = (&model, single) {
                self.classes_fit_output(m, d, header);
            }
        }
        if let (Some(setting), Some(window), true) = (table.get("bptt"), bptt, single) {
            let trained = model
                .as_ref()
                .and_then(|m| checked.iter().find(|c| c.name == m.name));
            self.bptt_fits(
                window,
                setting.span,
                trained,
                model.as_ref(),
                data_info.as_ref(),
            );
        }
        let clean = self.error_count() == before;
        let (model, data_info) = (model?, data_info?);
        let metrics = match metrics {
            Some(list) => list?.into_iter().map(|(m, _)| m).collect(),
            None => default_metrics(&data_info, model.reconstructs),
        };
        let spec = TrainSpec {
            model: model.name.clone(),
            data: data_info.name.clone(),
            span: item.span,
            epochs: epochs?,
            seed: seed?,
            phases: phases?,
            decay: decay.map_or(Some(None), |d| d.map(|(d, _)| Some(d)))?,
            early_stop: early_stop.map_or(Some(None), |e| e.map(|(e, _)| Some(e)))?,
            metrics,
            keep_best: keep_best.map_or(Some(None), |k| k.map(|(m, _)| Some(m)))?,
            clip: Clip {
                norm: clip_norm?,
                value: clip_value?,
            },
            players: vec![model.name.clone()],
            steps: Vec::new(),
            bptt,
        };
        clean.then_some(spec)
    }

    /// E0410: `bptt window` (at `span`) needs a model with recurrent state
    /// none of whose layers reads backward, trained on a text source
    /// whose examples are windows of the same length.
    fn bptt_fits(
        &mut self,
        window: usize,
        span: Span,
        trained: Option<&crate::program::Model>,
        model: Option<&ModelInfo>,
        data: Option<&DataInfo>,
    ) {
        let report = |checker: &mut Self, problem, at| {
            checker.report(CheckError::Bptt { problem, span, at });
        };
        if let (Some(trained), Some(info)) = (trained, model) {
            if !trained.has_recurrent_state() {
                let problem = BpttProblem::NoState {
                    model: trained.name.clone(),
                };
                report(self, problem, info.name_span);
            }
            let backward = trained.nodes.iter().find(|n| {
                matches!(
                    n.op,
                    crate::program::Op::Recurrent {
                        bidirectional: true,
                        ..
                    }
                )
            });
            if let Some(node) = backward {
                let problem = BpttProblem::Bidirectional {
                    layer: node.name.clone(),
                };
                report(self, problem, node.span);
            }
        }
        let Some(data) = data else {
            return;
        };
        if let Some((split, at)) = data.holdout {
            let problem = BpttProblem::Holdout {
                split: split.to_string(),
            };
            report(self, problem, at);
        }
        match data.text_context {
            Some((context, _)) if context == window => {}
            Some((context, source)) => {
                report(
                    self,
                    BpttProblem::Length {
                        bptt: window,
                        context,
                    },
                    source,
                );
            }
            None => {
                let problem = BpttProblem::NotText {
                    data: data.name.clone(),
                };
                report(self, problem, data.train_span.unwrap_or(data.name_span));
            }
        }
    }

    fn find_model(&mut self, ident: &Ident, models: &[ModelInfo]) -> Option<ModelInfo> {
        let found = models.iter().find(|m| m.name == ident.name).cloned();
        if found.is_none() {
            self.report(CheckError::UnknownName {
                name: ident.name.clone(),
                kind: NameKind::Model,
                span: ident.span,
                did_you_mean: suggestions(&ident.name, models.iter().map(|m| m.name.as_str())),
                defined_later: None,
            });
        }
        found
    }

    pub(crate) fn find_data(&mut self, ident: &Ident, data: &[DataInfo]) -> Option<DataInfo> {
        let found = data.iter().find(|d| d.name == ident.name).cloned();
        if found.is_none() {
            self.report(CheckError::UnknownName {
                name: ident.name.clone(),
                kind: NameKind::Data,
                span: ident.span,
                did_you_mean: suggestions(&ident.name, data.iter().map(|d| d.name.as_str())),
                defined_later: None,
            });
        }
        found
    }

    /// E0114 (several inputs), E0302 (no cost) and W0106 (outputs the cost
    /// does not reach) for the trained model.
    fn model_fits_training(&mut self, model: &ModelInfo, ident: &Ident) {
        if model.inputs > 1 {
            self.report(CheckError::TrainedModelInputs {
                model: model.name.clone(),
                inputs: model.inputs,
                span: ident.span,
                model_span: model.name_span,
            });
        }
        if !model.cost_given {
            self.report(CheckError::NoCost {
                model: model.name.clone(),
                span: ident.span,
                model_span: model.name_span,
            });
        }
        for lint in &model.untrained {
            self.report(lint.clone());
        }
    }

    /// E0403: the training split, and every split a metric is measured on.
    fn data_fits_training(
        &mut self,
        data: &DataInfo,
        ident: &Ident,
        metrics: &[(Metric, Span)],
        reconstructs: Option<Span>,
    ) {
        if !data.splits[0] {
            self.missing_split(data, 0, SplitNeed::Training, ident.span);
        }
        for (metric, span) in metrics {
            let split = metric_split(*metric);
            if split != 0 && !data.splits.get(split).copied().unwrap_or(true) {
                let need = SplitNeed::Metric {
                    metric: metric.name(),
                };
                self.missing_split(data, split, need, *span);
            }
            self.metric_fits_labels(data, *metric, *span, reconstructs);
        }
    }

    /// E0406: accuracies need classes, and a top-k accuracy fewer than `k`
    /// of them.
    fn metric_fits_labels(
        &mut self,
        data: &DataInfo,
        metric: Metric,
        span: Span,
        reconstructs: Option<Span>,
    ) {
        let misfit = match metric.measure {
            m if m.classifies() && reconstructs.is_some() => MetricMisfit::Reconstruction,
            m if m.classifies() && data.regression => MetricMisfit::Regression {
                data: data.name.clone(),
            },
            Measure::TopK(k) => match data.one_hot {
                Some((classes, _)) if k >= classes => MetricMisfit::TopKOfClasses { k, classes },
                _ => return,
            },
            _ => return,
        };
        let data_span = match (&misfit, data.one_hot) {
            (MetricMisfit::TopKOfClasses { .. }, Some((_, span))) => span,
            (MetricMisfit::Reconstruction, _) => reconstructs.unwrap_or(data.name_span),
            _ => data.labels_span.unwrap_or(data.name_span),
        };
        self.report(CheckError::MetricMisfit {
            metric: metric.name(),
            misfit,
            span,
            data_span,
        });
    }

    fn missing_split(&mut self, data: &DataInfo, split: usize, need: SplitNeed, span: Span) {
        self.report(CheckError::MissingSplit {
            split: SPLIT_NAMES
                .get(split)
                .copied()
                .unwrap_or("train")
                .to_string(),
            data: data.name.clone(),
            need,
            span,
            data_span: data.name_span,
        });
    }

    /// E0208: `labels one_hot(k)` needs k outputs.
    fn classes_fit_output(&mut self, model: &ModelInfo, data: &DataInfo, header: Span) {
        let (Some((classes, labels_span)), Some((shape, output_span))) =
            (data.one_hot, &model.output)
        else {
            return;
        };
        let Some(size) = element_count(shape) else {
            return;
        };
        if size != classes {
            self.report(CheckError::ClassesMismatch {
                classes,
                model: model.name.clone(),
                output: shape.clone(),
                output_size: size,
                labels_span,
                output_span: *output_span,
                train_span: header,
            });
        }
    }

    /// `learning_rate`, `batch_size`, `optimizer` of a body; the train
    /// body (`base`) defaults the optimizer to `sgd`.
    fn phase_values(&mut self, table: &SettingTable<'a>, base: bool) -> PhaseValues {
        let optimizer = match table.get("optimizer") {
            Some(s) => self.optimizer_setting(s),
            None => base.then_some(Optimizer::Sgd),
        };
        let learning_rate = match table.get("learning_rate") {
            Some(s) => {
                let (value, span) = self.setting_value(s);
                let subject = Subject::Setting {
                    key: "learning_rate".into(),
                };
                self.number_in(&value, span, subject, Some(Range::above(Num::Float(0.0))))
            }
            None => None,
        };
        let batch_size = self.count_setting(table, "batch_size");
        PhaseValues {
            optimizer,
            learning_rate,
            batch_size,
        }
    }

    /// `seed N` (0 when absent); `None` when invalid.
    pub(crate) fn seed_setting(&mut self, table: &SettingTable<'a>) -> Option<u64> {
        let Some(s) = table.get("seed") else {
            return Some(0);
        };
        let (value, span) = self.setting_value(s);
        self.non_negative_int(&value, span, Subject::Setting { key: "seed".into() })
    }

    /// A positive number setting: `Some(None)` when absent, `None` when
    /// invalid.
    pub(crate) fn positive_number_setting(
        &mut self,
        table: &SettingTable<'a>,
        key: &str,
    ) -> Option<Option<f64>> {
        let Some(setting) = table.get(key) else {
            return Some(None);
        };
        let (value, span) = self.setting_value(setting);
        let range = Range::between(Num::Float(0.0), false, Num::Float(f64::INFINITY), false);
        self.number_in(
            &value,
            span,
            Subject::Setting {
                key: key.to_string(),
            },
            Some(range),
        )
        .map(Some)
    }

    /// A positive integer setting; `None` when absent or invalid.
    pub(crate) fn count_setting(&mut self, table: &SettingTable<'a>, key: &str) -> Option<usize> {
        let setting = table.get(key)?;
        let (value, span) = self.setting_value(setting);
        self.positive_int(
            &value,
            span,
            Subject::Setting {
                key: key.to_string(),
            },
        )
    }

    /// Phase 0 (from epoch 1) and one phase per `at epoch`, each inheriting
    /// the settings of the one before. `at epoch 1` changes phase 0.
    pub(crate) fn phases(
        &mut self,
        base: PhaseValues,
        ats: &[At<'a>],
        epochs: Option<(usize, Span)>,
        header: Span,
    ) -> Option<Vec<Phase>> {
        let mut ok = true;
        let mut phases: Vec<(usize, PhaseValues, Span)> = vec![(1, base, header)];
        let mut previous: Option<(usize, Span)> = None;
        for at in ats {
            let value = self.eval(&mut Scope::constant(), at.epoch);
            let epoch = self.int(&value, at.epoch.span, Subject::Epoch);
            let changes = self.phase_body(at.body);
            let Some(epoch) = epoch else {
                ok = false;
                continue;
            };
            let beyond =
                epochs.is_some_and(|(n, _)| usize::try_from(epoch).map_or(true, |e| e > n));
            if epoch < 1 || beyond {
                self.report(CheckError::PhaseEpochOutOfRange {
                    epoch,
                    epochs,
                    span: at.span,
                });
                ok = false;
                continue;
            }
            let epoch = usize::try_from(epoch).unwrap_or(usize::MAX);
            if let Some((p, p_span)) = previous {
                if epoch <= p {
                    self.report(CheckError::PhasesOutOfOrder {
                        epoch,
                        previous: p,
                        span: at.span,
                        previous_span: p_span,
                    });
                    ok = false;
                    continue;
                }
            }
            previous = Some((epoch, at.span));
            let Some((_, last, _)) = phases.last() else {
                continue;
            };
            let values = PhaseValues {
                optimizer: changes.optimizer.or_else(|| last.optimizer.clone()),
                learning_rate: changes.learning_rate.or(last.learning_rate),
                batch_size: changes.batch_size.or(last.batch_size),
            };
            if epoch == 1 {
                phases.clear();
            }
            phases.push((epoch, values, at.span));
        }
        let phases: Option<Vec<Phase>> = phases
            .into_iter()
            .map(|(start_epoch, v, span)| {
                Some(Phase {
                    start_epoch,
                    optimizer: v.optimizer?,
                    learning_rate: v.learning_rate?,
                    batch_size: v.batch_size?,
                    span,
                })
            })
            .collect();
        if ok {
            phases
        } else {
            None
        }
    }

    /// The settings of one `at epoch` body.
    fn phase_body(&mut self, body: &'a [Stmt]) -> PhaseValues {
        let mut settings: Vec<&'a Setting> = Vec::new();
        for stmt in body {
            match stmt {
                Stmt::Setting(s) => settings.push(s),
                other => self.not_allowed(other, BodyKind::Phase),
            }
        }
        let table = self.collect_settings(BodyKind::Phase, &settings, PHASE_KEYS, &[]);
        self.phase_values(&table, false)
    }

    /// `sgd`, `momentum(mu)`, `nesterov(mu)`, `adam(beta1, beta2, eps)`.
    pub(crate) fn optimizer_setting(&mut self, setting: &'a Setting) -> Option<Optimizer> {
        let (value, span) = self.setting_value(setting);
        let subject = Subject::Setting {
            key: "optimizer".into(),
        };
        let (kind, callee, args, call_span) =
            self.named_call(value, span, subject, OptionKind::Optimizer, OPTIMIZERS)?;
        let (names, required): (&[&str], &[bool]) = match kind {
            OptimizerKind::Sgd => (&[], &[]),
            OptimizerKind::Momentum | OptimizerKind::Nesterov => (&["mu"], &[true]),
            OptimizerKind::Adam => (&["beta1", "beta2", "eps"], &[false, false, false]),
        };
        let slots = self.bind_args(&callee.name, call_span, Params { names, required }, args);
        let mut reader = NumberReader {
            checker: self,
            callee: &callee.name,
            slots: slots.into_iter(),
        };
        let unit = Range::between(Num::Float(0.0), true, Num::Float(1.0), true);
        let below_one = Range::between(Num::Float(0.0), true, Num::Float(1.0), false);
        match kind {
            OptimizerKind::Sgd => Some(Optimizer::Sgd),
            OptimizerKind::Momentum => Some(Optimizer::Momentum {
                mu: reader.next("mu", None, unit)?,
            }),
            OptimizerKind::Nesterov => Some(Optimizer::Nesterov {
                mu: reader.next("mu", None, unit)?,
            }),
            OptimizerKind::Adam => {
                let beta1 = reader.next("beta1", Some(0.9), below_one);
                let beta2 = reader.next("beta2", Some(0.999), below_one);
                let eps = reader.next("eps", Some(1e-8), Range::above(Num::Float(0.0)));
                Some(Optimizer::Adam {
                    beta1: beta1?,
                    beta2: beta2?,
                    eps: eps?,
                })
            }
        }
    }

    /// `decay on_plateau(metric, factor, patience, stop_below)`; with the
    /// span its metric is reported at.
    fn decay_setting(&mut self, setting: &'a Setting) -> Option<(PlateauDecay, Span)> {
        let (value, span) = self.setting_value(setting);
        let subject = Subject::Setting {
            key: "decay".into(),
        };
        let ((), callee, args, call_span) =
            self.named_call(value, span, subject, OptionKind::Decay, DECAYS)?;
        let params = Params {
            names: &["metric", "factor", "patience", "stop_below"],
            required: &[false, false, false, false],
        };
        let mut slots = self
            .bind_args(&callee.name, call_span, params, args)
            .into_iter();
        let metric = self.metric_arg(&callee.name, slots.next().flatten(), setting.span);
        let mut reader = NumberReader {
            checker: self,
            callee: &callee.name,
            slots,
        };
        let open_unit = Range::between(Num::Float(0.0), false, Num::Float(1.0), false);
        let factor = reader.next("factor", Some(0.5), open_unit);
        let patience = reader.count("patience", 10);
        let stop_below = match reader.slots.next().flatten() {
            Some(arg) => Some(reader.checker.number_in(
                &arg.value,
                arg.span,
                reader.subject("stop_below"),
                Some(open_unit),
            )?),
            None => None,
        };
        let (metric, metric_span) = metric?;
        Some((
            PlateauDecay {
                metric,
                factor: factor?,
                patience: patience?,
                stop_below,
                span: setting.span,
            },
            metric_span,
        ))
    }

    /// `early_stop(metric, patience)` (also `early_stop METRIC`).
    fn early_stop_setting(&mut self, setting: &'a Setting) -> Option<(EarlyStop, Span)> {
        let args: Vec<ArgValue> = match &setting.value {
            SettingValue::Args(args) => self.eval_args(&mut Scope::constant(), args),
            SettingValue::Expr(e) => vec![ArgValue {
                name: None,
                value: self.eval(&mut Scope::constant(), e),
                span: e.span,
                arg_span: e.span,
            }],
        };
        let params = Params {
            names: &["metric", "patience", "restore_best"],
            required: &[false, false, false],
        };
        let mut slots = self
            .bind_args("early_stop", setting.span, params, args)
            .into_iter();
        let metric = self.metric_arg("early_stop", slots.next().flatten(), setting.span);
        let patience = match slots.next().flatten() {
            Some(arg) => self.positive_int(
                &arg.value,
                arg.span,
                Subject::Argument {
                    callee: "early_stop".into(),
                    param: "patience".into(),
                },
            ),
            None => Some(10),
        };
        let restore_best = match slots.next().flatten() {
            Some(arg) => self.boolean(
                &arg.value,
                arg.span,
                Subject::Argument {
                    callee: "early_stop".into(),
                    param: "restore_best".into(),
                },
            ),
            None => Some(false),
        };
        let (metric, metric_span) = metric?;
        Some((
            EarlyStop {
                metric,
                patience: patience?,
                restore_best: restore_best?,
                span: setting.span,
            },
            metric_span,
        ))
    }

    /// A `metric:` argument, `validation_accuracy` by default.
    fn metric_arg(
        &mut self,
        callee: &str,
        arg: Option<ArgValue>,
        default_span: Span,
    ) -> Option<(Metric, Span)> {
        let Some(arg) = arg else {
            return Some((Metric::VALIDATION_ACCURACY, default_span));
        };
        let subject = Subject::Argument {
            callee: callee.to_string(),
            param: "metric".into(),
        };
        let metric = self.metric_option(&arg.value, arg.span, subject)?;
        Some((metric, arg.span))
    }

    /// A metric's name: `SPLIT_MEASURE`, any `topK_accuracy` included.
    fn metric_option(&mut self, value: &Value, span: Span, subject: Subject) -> Option<Metric> {
        if let Value::Word(w) = value {
            if let Some(metric) = Metric::parse(&w.ident.name) {
                return Some(metric);
            }
        }
        let names = Metric::names();
        let table: Vec<(&str, Metric)> = names.iter().map(|(n, m)| (n.as_str(), *m)).collect();
        self.option(value, span, subject, OptionKind::Metric, &table)
    }

    /// `keep_best METRIC`: the checkpoint of the best epoch by `METRIC`.
    fn keep_best_setting(&mut self, setting: &'a Setting) -> Option<(Metric, Span)> {
        let (value, span) = self.setting_value(setting);
        let subject = Subject::Setting {
            key: "keep_best".into(),
        };
        let metric = self.metric_option(&value, span, subject)?;
        Some((metric, span))
    }

    /// `metrics NAME` or `metrics [NAME, ...]`.
    fn metrics_setting(&mut self, setting: &'a Setting) -> Option<Vec<(Metric, Span)>> {
        let (value, span) = self.setting_value(setting);
        let subject = Subject::Setting {
            key: "metrics".into(),
        };
        let items: Vec<(Value, Span)> = match value {
            Value::List(items) => items.into_iter().map(|i| (i.value, i.span)).collect(),
            Value::Word(_) => vec![(value, span)],
            other => {
                self.wrong_kind(&other, span, subject, Expected::Metrics);
                return None;
            }
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (value, span) in items {
            match self.metric_option(&value, span, subject.clone()) {
                Some(m) => out.push((m, span)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

/// Reads numeric arguments one after the other.
struct NumberReader<'c, 'a, I: Iterator<Item = Option<ArgValue>>> {
    checker: &'c mut Checker<'a>,
    callee: &'c str,
    slots: I,
}

impl<I: Iterator<Item = Option<ArgValue>>> NumberReader<'_, '_, I> {
    fn subject(&self, param: &str) -> Subject {
        Subject::Argument {
            callee: self.callee.to_string(),
            param: param.to_string(),
        }
    }

    /// The next argument as a number in `range`, or `default`.
    fn next(&mut self, param: &str, default: Option<f64>, range: Range) -> Option<f64> {
        match self.slots.next().flatten() {
            Some(arg) => {
                let subject = self.subject(param);
                self.checker
                    .number_in(&arg.value, arg.span, subject, Some(range))
            }
            None => default,
        }
    }

    /// The next argument as a positive integer, or `default`.
    fn count(&mut self, param: &str, default: usize) -> Option<usize> {
        match self.slots.next().flatten() {
            Some(arg) => {
                let subject = self.subject(param);
                self.checker.positive_int(&arg.value, arg.span, subject)
            }
            None => Some(default),
        }
    }
}

/// Without `metrics`: the accuracy of each evaluation split (for
/// regression, `labels value`: its cost, RMSE and R²), or of the training
/// split when there is none.
fn default_metrics(data: &DataInfo, reconstructs: bool) -> Vec<Metric> {
    let measures: &[Measure] = if reconstructs || data.regression {
        &[Measure::Cost, Measure::Rmse, Measure::R2]
    } else {
        &[Measure::Accuracy]
    };
    let mut splits: Vec<SplitKind> = [(1, SplitKind::Validation), (2, SplitKind::Test)]
        .into_iter()
        .filter(|(i, _)| data.splits[*i])
        .map(|(_, split)| split)
        .collect();
    if splits.is_empty() {
        splits.push(SplitKind::Train);
    }
    splits
        .into_iter()
        .flat_map(|split| measures.iter().map(move |m| Metric::new(split, *m)))
        .collect()
}
