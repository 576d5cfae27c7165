//! What the loop needs of a data split: its size, and a way to copy chosen
//! examples into a batch.

/// A split of examples the loop can draw batches from. The loaders of
/// `nnc-data` implement it; the tests use small in-memory tables.
pub trait Examples {
    /// Number of examples.
    fn len(&self) -> usize;

    /// Whether there are no examples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Replaces the contents of `inputs` and `targets` with the examples at
    /// `indices` (each below `len()`), one after another: the inputs already
    /// scaled, the targets as the cost reads them (one-hot rows, indices or
    /// values).
    fn fill_batch(&self, indices: &[usize], inputs: &mut Vec<f32>, targets: &mut Vec<f32>);

    /// A training batch: [`Examples::fill_batch`], then whatever random
    /// changes the data make to training inputs (augmentation), drawn from
    /// `seed`, the step's. Without augmentation, `fill_batch`.
    fn fill_train_batch(
        &self,
        indices: &[usize],
        inputs: &mut Vec<f32>,
        targets: &mut Vec<f32>,
        _seed: u64,
    ) {
        self.fill_batch(indices, inputs, targets);
    }
}

impl Examples for nnc_data::Dataset {
    fn len(&self) -> usize {
        nnc_data::Dataset::len(self)
    }

    fn fill_batch(&self, indices: &[usize], inputs: &mut Vec<f32>, targets: &mut Vec<f32>) {
        nnc_data::Dataset::fill_batch(self, indices, inputs, targets);
    }

    fn fill_train_batch(
        &self,
        indices: &[usize],
        inputs: &mut Vec<f32>,
        targets: &mut Vec<f32>,
        seed: u64,
    ) {
        nnc_data::Dataset::fill_train_batch(self, indices, inputs, targets, seed);
    }
}

/// The splits of one run. Only the training split is required.
#[derive(Clone, Copy)]
pub struct Splits<'a> {
    pub train: &'a dyn Examples,
    pub validation: Option<&'a dyn Examples>,
    pub test: Option<&'a dyn Examples>,
}

/// Which split a measurement is of (the data block's split).
pub use nnc_data::SplitKind;

/// A table of examples in memory: `input_size` values then `target_size`
/// values per example. Small and simple, for tests and for data built in
/// code.
#[derive(Clone, Debug, PartialEq)]
pub struct InMemory {
    pub input_size: usize,
    pub target_size: usize,
    pub inputs: Vec<f32>,
    pub targets: Vec<f32>,
}

impl Examples for InMemory {
    fn len(&self) -> usize {
        self.inputs.len().checked_div(self.input_size).unwrap_or(0)
    }

    fn fill_batch(&self, indices: &[usize], inputs: &mut Vec<f32>, targets: &mut Vec<f32>) {
        inputs.clear();
        targets.clear();
        for &i in indices {
            inputs.extend_from_slice(&self.inputs[i * self.input_size..][..self.input_size]);
            targets.extend_from_slice(&self.targets[i * self.target_size..][..self.target_size]);
        }
    }
}
