//! The records of a run and the series read from them.
//!
//! A record is one JSON object of `nnc run --log`: `epoch` plus metrics
//! (`train_cost`, `validation_accuracy`, ...) and, with `--trace
//! grad-norms`, `grad_norms`: a list of `{"layer", "bias", "weight"}`
//! objects in network order. A series is the list of `(epoch, value)`
//! points of the records that have the value as a finite number, in the
//! records' order.

use crate::PlotError;
use serde_json::Value;
use std::path::Path;

/// One run: its name (shown in legends and titles) and its records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunLog {
    /// The run's name, e.g. the log file's stem.
    pub name: String,
    /// The JSON objects of the log, in order.
    pub records: Vec<Value>,
}

/// Reads a JSON-lines log; the run is named after the file's stem. Blank
/// lines are skipped; any other line must be a JSON object.
pub fn read_log(path: &Path) -> Result<RunLog, PlotError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlotError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| PlotError::BadLine {
            path: path.to_path_buf(),
            line: index + 1,
            message,
        };
        match serde_json::from_str::<Value>(line) {
            Ok(object @ Value::Object(_)) => records.push(object),
            Ok(_) => return Err(bad("a JSON value that is not an object".to_string())),
            Err(e) => return Err(bad(e.to_string())),
        }
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    Ok(RunLog { name, records })
}

impl RunLog {
    /// A run named `name` with these records.
    pub fn new(name: impl Into<String>, records: Vec<Value>) -> RunLog {
        RunLog {
            name: name.into(),
            records,
        }
    }

    /// The `(epoch, value)` points of `key`, from the records that have
    /// both as finite numbers.
    pub fn metric_points(&self, key: &str) -> Vec<(f64, f64)> {
        self.records
            .iter()
            .filter_map(|r| Some((number(r.get("epoch"))?, number(r.get(key))?)))
            .collect()
    }

    /// The keys with a number in some record, except `epoch`.
    pub fn numeric_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .records
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|object| object.iter())
            .filter(|(key, value)| *key != "epoch" && number(Some(value)).is_some())
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The layers named in `grad_norms`, in the order they first appear
    /// (network order).
    pub fn grad_norm_layers(&self) -> Vec<String> {
        let mut layers: Vec<String> = Vec::new();
        for entry in self.records.iter().flat_map(grad_norms) {
            if let Some(layer) = entry.get("layer").and_then(Value::as_str) {
                if !layers.iter().any(|l| l == layer) {
                    layers.push(layer.to_string());
                }
            }
        }
        layers
    }

    /// The `(epoch, norm)` points of one layer's `part` (`"bias"` or
    /// `"weight"`), from the records whose `grad_norms` have it.
    pub fn grad_norm_points(&self, layer: &str, part: &str) -> Vec<(f64, f64)> {
        self.records
            .iter()
            .filter_map(|record| {
                let epoch = number(record.get("epoch"))?;
                let entry = grad_norms(record)
                    .find(|e| e.get("layer").and_then(Value::as_str) == Some(layer))?;
                Some((epoch, number(entry.get(part))?))
            })
            .collect()
    }
}

/// The entries of a record's `grad_norms` list (none when it has none).
fn grad_norms(record: &Value) -> impl Iterator<Item = &Value> {
    record
        .get("grad_norms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// A finite number, or `None` for anything else (missing, `null`, text).
fn number(value: Option<&Value>) -> Option<f64> {
    value.and_then(Value::as_f64).filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn log() -> RunLog {
        RunLog::new(
            "run",
            vec![
                json!({"epoch": 0, "grad_norms": [
                    {"layer": "dense_1", "bias": 0.07, "weight": 1.5},
                    {"layer": "dense_2", "bias": 0.31, "weight": 2.5},
                ]}),
                json!({"epoch": 1, "train_cost": 0.5, "validation_accuracy": 0.9,
                       "decayed": false, "grad_norms": [
                    {"layer": "dense_1", "bias": 0.05, "weight": 1.0},
                    {"layer": "dense_2", "weight": 2.0},
                ]}),
                json!({"epoch": 2, "train_cost": null, "validation_accuracy": 0.95}),
            ],
        )
    }

    #[test]
    fn series_skip_records_without_a_finite_value() {
        let log = log();
        assert_eq!(log.metric_points("train_cost"), vec![(1.0, 0.5)]);
        assert_eq!(
            log.metric_points("validation_accuracy"),
            vec![(1.0, 0.9), (2.0, 0.95)]
        );
        assert!(log.metric_points("test_accuracy").is_empty());
        assert_eq!(
            log.numeric_keys(),
            vec!["train_cost".to_string(), "validation_accuracy".to_string()]
        );
    }

    #[test]
    fn grad_norms_are_read_per_layer_in_network_order() {
        let log = log();
        assert_eq!(log.grad_norm_layers(), vec!["dense_1", "dense_2"]);
        assert_eq!(
            log.grad_norm_points("dense_1", "bias"),
            vec![(0.0, 0.07), (1.0, 0.05)]
        );
        assert_eq!(log.grad_norm_points("dense_2", "bias"), vec![(0.0, 0.31)]);
        assert_eq!(
            log.grad_norm_points("dense_2", "weight"),
            vec![(0.0, 2.5), (1.0, 2.0)]
        );
    }
}
