//! Measuring the model on a split: accuracy and mean cost, in inference
//! mode (no dropout), batch by batch in the split's own order.

use crate::examples::Examples;
use crate::record::Score;
use nnc_lower::backend::{Backend, BackendError, Batch, EvalStats};

/// Accuracy and mean cost of the model on the first `count` examples of
/// `examples`, evaluated `batch_size` at a time. `None` for no examples.
pub fn evaluate<B: Backend + ?Sized>(
    backend: &mut B,
    examples: &dyn Examples,
    count: usize,
    batch_size: usize,
) -> Result<Option<Score>, BackendError> {
    let count = count.min(examples.len());
    let batch_size = batch_size.max(1);
    let mut total = EvalStats::default();
    let mut inputs = Vec::new();
    let mut targets = Vec::new();
    let mut indices = Vec::with_capacity(batch_size);
    for start in (0..count).step_by(batch_size) {
        indices.clear();
        indices.extend(start..(start + batch_size).min(count));
        examples.fill_batch(&indices, &mut inputs, &mut targets);
        let batch = Batch {
            inputs: &inputs,
            targets: &targets,
            len: indices.len(),
        };
        total.add(backend.evaluate(batch)?);
    }
    Ok(score(total))
}

/// The fractions of summed statistics; `None` when nothing was counted.
pub fn score(stats: EvalStats) -> Option<Score> {
    (stats.count > 0).then(|| Score {
        accuracy: stats.correct as f64 / stats.count as f64,
        cost: stats.cost_sum / stats.count as f64,
        count: stats.count,
    })
}
