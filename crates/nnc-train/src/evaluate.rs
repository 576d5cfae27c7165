//! Measuring the model on a split: accuracy and mean cost, in inference
//! mode (no dropout), batch by batch in the split's own order; and, when
//! asked, the measures read from the outputs ([`crate::measures`]).

use crate::examples::Examples;
use crate::measures::OutputSums;
use crate::record::Score;
use crate::seeds::eval_noise_seed;
use nnc_check::program::{Measure, Model};
use nnc_lower::backend::{Backend, BackendError, Batch, EvalStats};

/// The measures of a split that need the model's outputs, and the output
/// they read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputMeasures {
    /// The index in `Model::outputs` of the output the cost compares.
    pub output: usize,
    /// The output is compared with the model's input (a model whose costs
    /// all compare with inputs), not with the targets.
    pub against_input: bool,
    /// Each at most once; none that the backend's sums give.
    pub measures: Vec<Measure>,
}

impl OutputMeasures {
    /// The measures of `measures` that read outputs, on `model`'s compared
    /// output; `None` when there are none or the model has no such output.
    pub fn new(model: &Model, measures: impl IntoIterator<Item = Measure>) -> Option<Self> {
        let mut wanted: Vec<Measure> = Vec::new();
        for m in measures {
            if m.needs_outputs() && !wanted.contains(&m) {
                wanted.push(m);
            }
        }
        let (output, against_input) = match compared_output(model) {
            Some(output) => (output, false),
            None => (reconstructed_output(model)?, true),
        };
        (!wanted.is_empty()).then_some(OutputMeasures {
            output,
            against_input,
            measures: wanted,
        })
    }
}

/// The index in `Model::outputs` of the output predictions are read from:
/// the one the cost applies to, or the only one.
pub fn compared_output(model: &Model) -> Option<usize> {
    match (&model.cost, model.outputs.as_slice()) {
        (Some(cost), outputs) => outputs.iter().position(|(_, id)| *id == cost.output),
        (None, [_]) if model.input_costs.is_empty() => Some(0),
        _ => None,
    }
}

/// For a model whose costs all compare outputs with inputs: the index in
/// `Model::outputs` of the first such cost's output, when its target is
/// the model's only input (what a batch's inputs hold).
pub fn reconstructed_output(model: &Model) -> Option<usize> {
    if !model.reconstructs() || model.inputs.len() != 1 {
        return None;
    }
    let cost = model.input_costs.first()?;
    if cost.target != model.inputs.first().copied() {
        return None;
    }
    model.outputs.iter().position(|(_, id)| *id == cost.output)
}

/// Accuracy and mean cost of the model on the first `count` examples of
/// `examples`, evaluated `batch_size` at a time, with the measures of
/// `extra` (read from the outputs, through `Backend::infer`) and the means
/// of the cost terms named `terms` (for a model of several; empty
/// otherwise). `None` for no examples. Noise that the model draws comes
/// from `seeds::eval_noise_seed(seed, first example of the batch)`.
/// With `streams` (a model that carries recurrent state, `bptt`), the
/// examples are visited in `batch_size` streams (`seeds::stream_order`),
/// each starting at zero state, and the examples past the last whole
/// batch are left out.
#[allow(clippy::too_many_arguments)]
pub fn evaluate<B: Backend + ?Sized>(
    backend: &mut B,
    examples: &dyn Examples,
    count: usize,
    batch_size: usize,
    extra: Option<&OutputMeasures>,
    terms: &[String],
    seed: u64,
    streams: bool,
) -> Result<Option<Score>, BackendError> {
    let count = count.min(examples.len());
    let batch_size = batch_size.max(1);
    let mut total = EvalStats::default();
    let mut sums: Option<OutputSums> = None;
    let mut inputs = Vec::new();
    let mut targets = Vec::new();
    let order: Vec<usize> = if streams {
        backend.reset_carry();
        crate::seeds::stream_order(count, batch_size)
    } else {
        (0..count).collect()
    };
    for (k, indices) in order.chunks(batch_size).enumerate() {
        let start = k * batch_size;
        examples.fill_batch(indices, &mut inputs, &mut targets);
        let batch = Batch {
            inputs: &inputs,
            targets: &targets,
            len: indices.len(),
            noise_seed: eval_noise_seed(seed, start),
        };
        let Some(extra) = extra else {
            total.add(backend.evaluate(batch)?);
            continue;
        };
        let inference = backend.infer(batch)?;
        let stats = inference.stats.ok_or_else(|| BackendError::Failed {
            message: "inference with targets gave no cost or correct count".into(),
        })?;
        total.add(stats);
        let output = inference
            .outputs
            .get(extra.output)
            .ok_or_else(|| BackendError::Failed {
                message: format!("inference gave no output {}", extra.output),
            })?;
        let width = output.data.len() / indices.len().max(1);
        let compared = if extra.against_input {
            &inputs
        } else {
            &targets
        };
        if width * indices.len() != compared.len() {
            return Err(BackendError::Failed {
                message: format!(
                    "the compared output has {width} values per example, its targets {}",
                    compared.len() / indices.len().max(1)
                ),
            });
        }
        sums.get_or_insert_with(|| OutputSums::new(width, &extra.measures))
            .add(&output.data, compared);
    }
    let measures = match (&sums, extra) {
        (Some(sums), Some(extra)) => extra
            .measures
            .iter()
            .filter_map(|m| sums.value(*m).map(|v| (*m, v)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(score(total, terms).map(|s| Score { measures, ..s }))
}

/// The fractions of summed statistics, with the means of the cost terms
/// named `terms`; `None` when nothing was counted.
pub fn score(stats: EvalStats, terms: &[String]) -> Option<Score> {
    (stats.count > 0).then(|| Score {
        accuracy: stats.correct / stats.count as f64,
        cost: stats.cost_sum / stats.count as f64,
        count: stats.count,
        measures: Vec::new(),
        terms: terms
            .iter()
            .zip(stats.terms)
            .map(|(name, t)| (name.clone(), t / stats.count as f64))
            .collect(),
    })
}
