//! The measures read from a model's outputs on the host: top-k accuracy
//! for classifiers, and mean absolute error, RMSE and R² for regression.
//!
//! Backends give the cost sum and the correct count of a batch; everything
//! else is summed here from the output the cost compares (`[len, width]`)
//! and the targets (`[len, width]`: one-hot rows, 0/1 for a single sigmoid
//! output, or real values), batch after batch, in `f64`.

use nnc_check::program::Measure;

/// Sums over the examples of a split, enough for every [`Measure`] that
/// needs outputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputSums {
    /// Values per example (the width of the compared output).
    width: usize,
    examples: usize,
    /// `|a - y|` over every value.
    abs_error: f64,
    /// `(a - y)²` over every value.
    sq_error: f64,
    /// `y` and `y²` per component, for the total sum of squares.
    target_at: Vec<f64>,
    target_sq_at: Vec<f64>,
    /// For each `k` asked for, the examples whose class is in the top `k`.
    top_k: Vec<(usize, usize)>,
}

impl OutputSums {
    /// Sums for `measures` (those that [`Measure::needs_outputs`]; others
    /// are ignored) of an output of `width` values per example.
    pub fn new(width: usize, measures: &[Measure]) -> OutputSums {
        let mut top_k: Vec<(usize, usize)> = measures
            .iter()
            .filter_map(|m| match m {
                Measure::TopK(k) => Some((*k, 0)),
                _ => None,
            })
            .collect();
        top_k.sort_unstable();
        top_k.dedup();
        OutputSums {
            width,
            target_at: vec![0.0; width],
            target_sq_at: vec![0.0; width],
            top_k,
            ..OutputSums::default()
        }
    }

    /// Adds a batch: `outputs` and `targets` hold `width` values per
    /// example, the same number of examples.
    pub fn add(&mut self, outputs: &[f32], targets: &[f32]) {
        let width = self.width.max(1);
        for (a, y) in outputs.chunks_exact(width).zip(targets.chunks_exact(width)) {
            self.examples += 1;
            for (j, (&a, &y)) in a.iter().zip(y).enumerate() {
                let (a, y) = (f64::from(a), f64::from(y));
                let e = a - y;
                self.abs_error += e.abs();
                self.sq_error += e * e;
                self.target_at[j] += y;
                self.target_sq_at[j] += y * y;
            }
            let rank = class_rank(a, y);
            for (k, hits) in &mut self.top_k {
                if rank < *k {
                    *hits += 1;
                }
            }
        }
    }

    /// The value of `measure`, when these sums give it: `None` for no
    /// examples, for measures not asked for or read elsewhere (cost,
    /// accuracy), and for R² when every target is the same.
    pub fn value(&self, measure: Measure) -> Option<f64> {
        if self.examples == 0 {
            return None;
        }
        let values = (self.examples * self.width.max(1)) as f64;
        match measure {
            Measure::Mae => Some(self.abs_error / values),
            Measure::Rmse => Some((self.sq_error / values).sqrt()),
            Measure::R2 => self.r2(),
            Measure::TopK(k) => self
                .top_k
                .iter()
                .find(|(kk, _)| *kk == k)
                .map(|(_, hits)| *hits as f64 / self.examples as f64),
            Measure::Cost | Measure::Accuracy => None,
        }
    }

    /// `1 - Σ SSE_j / Σ SST_j` over the components `j`: each component's
    /// squared error against its total sum of squares about its own mean
    /// (for one component, the usual R²; for images, the share of the
    /// pixels' variance explained, which pixels that hardly vary cannot
    /// swamp). `None` when no target varies.
    fn r2(&self) -> Option<f64> {
        let n = self.examples as f64;
        let mut total = 0.0;
        for j in 0..self.width {
            let mean = self.target_at[j] / n;
            total += (self.target_sq_at[j] - n * mean * mean).max(0.0);
        }
        (total > 1e-12 * n.max(1.0)).then(|| 1.0 - self.sq_error / total)
    }
}

/// How many classes rank before the true one: outputs larger than the true
/// class's, or equal and at a lower index (the tie rule of the accuracy's
/// first arg-max). The true class is the target's first arg-max; a single
/// output is a two-class sigmoid (rank 0 when it falls on the target's side
/// of one half).
fn class_rank(outputs: &[f32], target: &[f32]) -> usize {
    if let ([a], [y]) = (outputs, target) {
        return usize::from((*a > 0.5) != (*y > 0.5));
    }
    let class = first_argmax(target);
    let Some(&score) = outputs.get(class) else {
        return usize::MAX;
    };
    outputs
        .iter()
        .enumerate()
        .filter(|&(i, &a)| a > score || (a == score && i < class))
        .count()
}

fn first_argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_measures_follow_their_formulas() {
        // Targets 1, 2, 3, 4 (mean 2.5, SST 5); errors 0.5, -0.5, 1, 0.
        let mut sums = OutputSums::new(1, &[Measure::Mae, Measure::Rmse, Measure::R2]);
        sums.add(&[1.5, 1.5], &[1.0, 2.0]);
        sums.add(&[4.0, 4.0], &[3.0, 4.0]);
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        assert!(close(sums.value(Measure::Mae), 2.0 / 4.0));
        assert!(close(sums.value(Measure::Rmse), (1.5f64 / 4.0).sqrt()));
        assert!(close(sums.value(Measure::R2), 1.0 - 1.5 / 5.0));
        assert_eq!(sums.value(Measure::Cost), None);
    }

    #[test]
    fn r2_pools_the_components_squared_errors_and_variances() {
        // Component 0: perfect (SSE 0, SST 2); component 1: predicts the
        // mean (SSE 2, SST 2); component 2: a constant target, predicted
        // exactly (SSE 0, SST 0): 1 - 2/4.
        let mut sums = OutputSums::new(3, &[Measure::R2]);
        sums.add(
            &[1.0, 2.0, 7.0, 3.0, 2.0, 7.0],
            &[1.0, 1.0, 7.0, 3.0, 3.0, 7.0],
        );
        assert_eq!(sums.value(Measure::R2), Some(0.5));
        let mut flat = OutputSums::new(1, &[Measure::R2]);
        flat.add(&[1.0, 2.0], &[5.0, 5.0]);
        assert_eq!(flat.value(Measure::R2), None);
    }

    #[test]
    fn top_k_counts_ranks_with_the_first_argmax_tie_rule() {
        let measures = [Measure::TopK(1), Measure::TopK(2), Measure::TopK(3)];
        let mut sums = OutputSums::new(3, &measures);
        let one_hot = |c: usize| {
            let mut t = [0.0; 3];
            t[c] = 1.0;
            t
        };
        // Class 2 ranks third; class 1 second; class 0 first; a tie
        // between classes 0 and 1 ranks class 1 second.
        for (outputs, class) in [
            ([0.5, 0.3, 0.2], 2),
            ([0.5, 0.3, 0.2], 1),
            ([0.5, 0.3, 0.2], 0),
            ([0.4, 0.4, 0.2], 1),
        ] {
            sums.add(&outputs, &one_hot(class));
        }
        assert_eq!(sums.value(Measure::TopK(1)), Some(0.25));
        assert_eq!(sums.value(Measure::TopK(2)), Some(0.75));
        assert_eq!(sums.value(Measure::TopK(3)), Some(1.0));
        assert_eq!(sums.value(Measure::TopK(4)), None);
    }

    #[test]
    fn a_single_sigmoid_output_is_two_classes() {
        let mut sums = OutputSums::new(1, &[Measure::TopK(1), Measure::TopK(2)]);
        sums.add(&[0.9, 0.2, 0.7], &[1.0, 1.0, 0.0]);
        assert_eq!(sums.value(Measure::TopK(1)), Some(1.0 / 3.0));
        assert_eq!(sums.value(Measure::TopK(2)), Some(1.0));
    }
}
