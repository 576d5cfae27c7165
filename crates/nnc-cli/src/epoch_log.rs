//! What a training prints and logs after each epoch: the line on stdout
//! and the JSON object of `--log` (also kept in checkpoints' sidecars).

use nnc_check::program::{DataSpec, Labels, Measure, Model};
use nnc_train::EpochRecord;
use serde_json::{json, Map, Value};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// How a run's epochs are reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Style {
    /// No accuracy: real-valued labels, or a model that reads no labels.
    pub(crate) regression: bool,
    /// The model's `cost_name` (a VAE's `negative_elbo`): the line shows
    /// the total cost under it, and the log has `SPLIT_NAME` beside
    /// `SPLIT_cost`.
    pub(crate) cost_name: Option<String>,
    /// For a game, its steps: the first terms of a split are the steps'
    /// costs, the rest the values they report (`report`).
    pub(crate) game: Option<GameSteps>,
    /// A character model (`text(...)` training data): costs are nats per
    /// character, shown in bits per character too.
    pub(crate) per_char: bool,
}

impl Style {
    /// The style of training `model` on `data`.
    pub(crate) fn of(model: Option<&Model>, data: Option<&DataSpec>) -> Style {
        Style {
            regression: data.is_some_and(|d| matches!(d.labels, Labels::Value))
                || model.is_some_and(|m| m.reconstructs()),
            cost_name: model.and_then(|m| m.cost_name.clone()),
            game: None,
            per_char: data.is_some_and(|d| {
                matches!(
                    d.train.as_ref().map(|s| &s.source),
                    Some(nnc_check::program::Source::Text { .. })
                )
            }),
        }
    }

    /// The style of a game: each step's cost, learning rate and reported
    /// values, no accuracy.
    pub(crate) fn game(spec: &nnc_check::program::TrainSpec) -> Style {
        Style {
            regression: true,
            cost_name: None,
            per_char: false,
            game: Some(GameSteps {
                rates: spec
                    .steps
                    .iter()
                    .map(|s| (s.model.clone(), s.rates.clone()))
                    .collect(),
            }),
        }
    }
}

/// The steps of a game, as reports need them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct GameSteps {
    /// Each step's model and learning-rate schedule (first epoch, rate).
    pub(crate) rates: Vec<(String, Vec<(usize, f64)>)>,
}

impl GameSteps {
    /// Each step's model and learning rate in `epoch`.
    fn rates_at(&self, epoch: usize) -> Vec<(&str, f64)> {
        self.rates
            .iter()
            .map(|(model, rates)| {
                let rate = rates
                    .iter()
                    .rev()
                    .find(|(start, _)| *start <= epoch)
                    .or(rates.first())
                    .map_or(0.0, |(_, r)| *r);
                (model.as_str(), rate)
            })
            .collect()
    }
}

/// The epoch line of a game: each step's mean cost over the epoch's
/// batches, then on each measured split each step's cost and each
/// reported value.
fn game_line(r: &EpochRecord, game: &GameSteps) -> String {
    let values = |terms: &[(String, f64)]| -> String {
        terms
            .iter()
            .map(|(name, value)| format!("{name} {value:.4}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rates = game.rates_at(r.epoch);
    let lr = match rates.as_slice() {
        [(_, first), rest @ ..] if rest.iter().all(|(_, r)| r == first) => format!("lr {first}"),
        _ => {
            let each: Vec<String> = rates.iter().map(|(m, r)| format!("{m} {r}")).collect();
            format!("lr {}", each.join(" "))
        }
    };
    let mut parts = vec![
        format!("epoch {}", r.epoch),
        lr,
        format!("batch {}", r.batch_size),
        format!("train: {}", values(&r.train_terms)),
    ];
    let splits = [
        ("train", &r.train),
        ("validation", &r.validation),
        ("test", &r.test),
    ];
    for (name, score) in splits {
        if let Some(score) = score {
            parts.push(format!("{name}: {}", values(&score.terms)));
        }
    }
    parts.push(format!(
        "{:.1} s ({:.0} examples/s)",
        r.seconds, r.examples_per_second
    ));
    parts.join("  ")
}

/// The line printed after each epoch.
pub(crate) fn epoch_line(r: &EpochRecord, style: &Style) -> String {
    if let Some(game) = &style.game {
        return game_line(r, game);
    }
    let regression = style.regression;
    let mut parts = vec![
        format!("epoch {}", r.epoch),
        format!("phase {}", r.phase),
        format!("lr {}", r.learning_rate),
        format!("batch {}", r.batch_size),
        match style.per_char {
            true => format!("train cost {}", nats_and_bits(r.train_cost)),
            false => format!("train cost {:.4}", r.train_cost),
        },
    ];
    let splits = [
        ("train", &r.train),
        ("validation", &r.validation),
        ("test", &r.test),
    ];
    for (name, score) in splits {
        let Some(score) = score else { continue };
        // The train cost shown is the mean of the epoch's steps (above).
        let mut part = match (regression, name) {
            (true, "train") => name.to_string(),
            (true, _) => format!("{name} cost {:.4}", score.cost),
            (false, "train") if style.per_char => format!("{name} {:.2}%", 100.0 * score.accuracy),
            (false, _) if style.per_char => format!(
                "{name} {} {:.2}%",
                nats_and_bits(score.cost),
                100.0 * score.accuracy
            ),
            (false, _) => format!("{name} {:.2}%", 100.0 * score.accuracy),
        };
        for (measure, value) in &score.measures {
            part.push(' ');
            part.push_str(&measure_text(*measure, *value));
        }
        if !score.terms.is_empty() {
            let terms: Vec<String> = score
                .terms
                .iter()
                .map(|(name, value)| format!("{name} {value:.4}"))
                .collect();
            let total = style.cost_name.as_deref().unwrap_or("cost");
            part.push_str(&format!(
                " ({total} {:.4}: {})",
                score.cost,
                terms.join(", ")
            ));
        }
        parts.push(part);
    }
    parts.push(format!(
        "{:.1} s ({:.0} examples/s)",
        r.seconds, r.examples_per_second
    ));
    let mut line = parts.join("  ");
    if r.decayed {
        line.push_str("  (learning rate decayed)");
    }
    if let Some(epoch) = r.restored {
        line.push_str(&format!("  (parameters of epoch {epoch} restored)"));
    }
    line
}

/// A cost in nats per character with its value in bits: `1.4638 nats
/// (2.112 bits)`.
fn nats_and_bits(nats: f64) -> String {
    format!("{nats:.4} nats ({:.3} bits)", nats / std::f64::consts::LN_2)
}

/// A measure read from the outputs, as the epoch line and `nnc eval` show
/// it: `top5 99.12%`, `mae 0.0312`, `rmse 0.0451`, `r2 0.9712`.
pub(crate) fn measure_text(measure: Measure, value: f64) -> String {
    match measure {
        Measure::TopK(k) => format!("top{k} {:.2}%", 100.0 * value),
        Measure::Accuracy => format!("{:.2}%", 100.0 * value),
        other => format!("{} {value:.4}", other.name()),
    }
}

/// The JSON object logged for an epoch. Accuracies are fractions; they are
/// left out for regression (`labels value`), where only costs mean anything.
pub(crate) fn log_object(r: &EpochRecord, style: &Style) -> Value {
    let regression = style.regression;
    let mut object = Map::new();
    let mut put = |key: &str, value: Value| {
        object.insert(key.to_string(), value);
    };
    put("epoch", json!(r.epoch));
    put("phase", json!(r.phase));
    match &style.game {
        Some(game) => {
            for (model, rate) in game.rates_at(r.epoch) {
                put(&format!("learning_rate_{model}"), json!(rate));
            }
        }
        None => put("learning_rate", json!(r.learning_rate)),
    }
    put("batch_size", json!(r.batch_size));
    put("steps", json!(r.steps));
    put("examples", json!(r.examples));
    put("train_cost", json!(r.train_cost));
    for (term, value) in &r.train_terms {
        put(&format!("train_cost_{term}"), json!(value));
    }
    let splits = [
        ("train", &r.train),
        ("validation", &r.validation),
        ("test", &r.test),
    ];
    for (name, score) in splits {
        let Some(score) = score else { continue };
        if !regression {
            put(&format!("{name}_accuracy"), json!(score.accuracy));
        }
        // `train_cost` is the mean of the epoch's steps: the train split's
        // cost measured after the epoch does not replace it.
        if name != "train" {
            put(&format!("{name}_cost"), json!(score.cost));
            if let Some(total) = &style.cost_name {
                put(&format!("{name}_{total}"), json!(score.cost));
            }
        }
        for (measure, value) in &score.measures {
            put(&format!("{name}_{}", measure.name()), json!(value));
        }
        let costs = style
            .game
            .as_ref()
            .map_or(score.terms.len(), |g| g.rates.len());
        for (k, (term, value)) in score.terms.iter().enumerate() {
            if k < costs {
                put(&format!("{name}_cost_{term}"), json!(value));
            } else {
                put(&format!("{name}_{term}"), json!(value));
            }
        }
    }
    put("seconds", json!(r.seconds));
    put("train_seconds", json!(r.train_seconds));
    put("examples_per_second", json!(r.examples_per_second));
    put("decayed", json!(r.decayed));
    if let Some(stop) = r.stop {
        put("stop", json!(stop.to_string()));
    }
    if let Some(epoch) = r.restored {
        put("restored_epoch", json!(epoch));
    }
    Value::Object(object)
}

/// `--log PATH`: one JSON object per line, flushed as each epoch ends. A
/// write error is kept and reported when training ends.
pub(crate) struct JsonLog {
    path: PathBuf,
    out: BufWriter<File>,
    pub(crate) error: Option<String>,
}

impl JsonLog {
    pub(crate) fn create(path: &Path) -> Result<JsonLog, String> {
        let file = File::create(path)
            .map_err(|e| format!("cannot write the log `{}`: {e}", path.display()))?;
        Ok(JsonLog {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            error: None,
        })
    }

    pub(crate) fn write(&mut self, object: &Value) {
        if self.error.is_some() {
            return;
        }
        let written = writeln!(self.out, "{object}").and_then(|()| self.out.flush());
        if let Err(e) = written {
            self.error = Some(format!(
                "cannot write the log `{}`: {e}",
                self.path.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nnc_train::{Score, Stop};

    const REGRESSION: Style = Style {
        regression: true,
        cost_name: None,
        game: None,
        per_char: false,
    };

    fn record() -> EpochRecord {
        EpochRecord {
            epoch: 3,
            phase: 2,
            learning_rate: 0.05,
            batch_size: 10,
            steps: 5000,
            examples: 50_000,
            train_cost: 0.123456,
            train_terms: Vec::new(),
            train: None,
            validation: Some(Score {
                accuracy: 0.9312,
                cost: 0.3,
                count: 10_000,
                measures: vec![(Measure::TopK(5), 0.9987)],
                terms: Vec::new(),
            }),
            test: None,
            seconds: 12.34,
            train_seconds: 10.0,
            examples_per_second: 5000.0,
            decayed: true,
            stop: Some(Stop::EarlyStop {
                metric: nnc_check::program::Metric::VALIDATION_ACCURACY,
                patience: 10,
            }),
            restored: Some(1),
        }
    }

    #[test]
    fn epoch_line_shows_settings_metrics_and_time() {
        assert_eq!(
            epoch_line(&record(), &Style::default()),
            "epoch 3  phase 2  lr 0.05  batch 10  train cost 0.1235  validation 93.12% top5 99.87%  \
             12.3 s (5000 examples/s)  (learning rate decayed)  (parameters of epoch 1 restored)"
        );
        let mut regression = record();
        regression.validation.as_mut().unwrap().measures = vec![
            (Measure::Rmse, 0.04567),
            (Measure::R2, 0.98765),
            (Measure::Mae, 0.031),
        ];
        assert!(epoch_line(&regression, &REGRESSION)
            .contains("validation cost 0.3000 rmse 0.0457 r2 0.9877 mae 0.0310  12.3 s"));
    }

    #[test]
    fn log_object_has_the_keys_of_the_splits_measured() {
        let object = log_object(&record(), &Style::default());
        assert_eq!(object["epoch"], 3);
        assert_eq!(object["phase"], 2);
        assert_eq!(object["learning_rate"], 0.05);
        assert_eq!(object["validation_accuracy"], 0.9312);
        assert_eq!(object["validation_cost"], 0.3);
        assert_eq!(object["validation_top5_accuracy"], 0.9987);
        assert_eq!(object["restored_epoch"], 1);
        assert!(object.get("test_accuracy").is_none());
        assert!(object.get("train_accuracy").is_none());
        assert_eq!(
            object["stop"],
            "early stop: validation_accuracy has not improved for 10 epochs"
        );
        let regression = log_object(&record(), &REGRESSION);
        assert!(regression.get("validation_accuracy").is_none());
        assert_eq!(regression["validation_cost"], 0.3);
        // The train split measured after the epoch keeps `train_cost` the
        // mean of the steps.
        let mut measured = record();
        measured.train = Some(Score {
            accuracy: 0.5,
            cost: 9.0,
            count: 10,
            measures: vec![(Measure::Rmse, 0.25)],
            terms: Vec::new(),
        });
        let object = log_object(&measured, &REGRESSION);
        assert_eq!(object["train_cost"], 0.123456);
        assert_eq!(object["train_rmse"], 0.25);
        assert!(
            epoch_line(&measured, &REGRESSION).contains("train cost 0.1235  train rmse 0.2500  ")
        );
    }

    /// A model of several cost terms with a `cost_name`: the line names
    /// the total by it, and the log gives it beside `SPLIT_cost`.
    #[test]
    fn a_named_total_cost_is_shown_and_logged_under_its_name() {
        let style = Style {
            regression: true,
            cost_name: Some("negative_elbo".into()),
            game: None,
            per_char: false,
        };
        let mut r = record();
        r.validation.as_mut().unwrap().terms =
            vec![("reconstruction".into(), 0.25), ("kl".into(), 0.05)];
        assert!(epoch_line(&r, &style)
            .contains("validation cost 0.3000 top5 99.87% (negative_elbo 0.3000: reconstruction 0.2500, kl 0.0500)"));
        let object = log_object(&r, &style);
        assert_eq!(object["validation_negative_elbo"], 0.3);
        assert_eq!(object["validation_cost"], 0.3);
        assert_eq!(object["validation_cost_kl"], 0.05);
    }

    /// A character model's costs in nats and bits per character.
    #[test]
    fn a_character_models_costs_are_shown_in_nats_and_bits() {
        let style = Style {
            regression: false,
            cost_name: None,
            game: None,
            per_char: true,
        };
        let mut r = record();
        r.train_cost = 1.3862943611198906;
        r.validation.as_mut().unwrap().cost = std::f64::consts::LN_2;
        let line = epoch_line(&r, &style);
        assert!(
            line.contains("train cost 1.3863 nats (2.000 bits)"),
            "{line}"
        );
        assert!(
            line.contains("validation 0.6931 nats (1.000 bits)"),
            "{line}"
        );
    }

    /// A game: the steps' rates (one when they agree), each step's mean
    /// cost, and each measured split's costs and reported values; the log
    /// has one learning rate per step, the costs as `SPLIT_cost_STEP` and
    /// the reported values as `SPLIT_NAME`.
    #[test]
    fn a_game_shows_each_steps_rate_cost_and_reported_values() {
        let style = Style {
            regression: true,
            cost_name: None,
            per_char: false,
            game: Some(GameSteps {
                rates: vec![
                    ("discriminator".into(), vec![(1, 0.0002), (21, 0.0001)]),
                    ("generator".into(), vec![(1, 0.0002)]),
                ],
            }),
        };
        let mut r = record();
        r.epoch = 21;
        r.train_terms = vec![("discriminator".into(), 1.25), ("generator".into(), 0.75)];
        r.validation = None;
        r.test = Some(Score {
            accuracy: 0.0,
            cost: 2.0,
            count: 100,
            measures: Vec::new(),
            terms: vec![
                ("discriminator".into(), 1.2),
                ("generator".into(), 0.8),
                ("d_real".into(), 0.6),
                ("d_fake".into(), 0.3),
            ],
        });
        assert_eq!(
            epoch_line(&r, &style),
            "epoch 21  lr discriminator 0.0001 generator 0.0002  batch 10  train: discriminator \
             1.2500 generator 0.7500  test: discriminator 1.2000 generator 0.8000 d_real 0.6000 \
             d_fake 0.3000  12.3 s (5000 examples/s)"
        );
        let object = log_object(&r, &style);
        assert_eq!(object["learning_rate_discriminator"], 0.0001);
        assert_eq!(object["learning_rate_generator"], 0.0002);
        assert!(object.get("learning_rate").is_none());
        assert_eq!(object["train_cost_generator"], 0.75);
        assert_eq!(object["test_cost_discriminator"], 1.2);
        assert_eq!(object["test_d_fake"], 0.3);
        assert!(object.get("test_accuracy").is_none());
        r.epoch = 3;
        assert!(epoch_line(&r, &style).starts_with("epoch 3  lr 0.0002  batch 10"));
    }
}
