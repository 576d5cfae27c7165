//! Examples in memory and the splits over them.
//!
//! A source is read once into [`Examples`]: its inputs kept compact (`u8`
//! pixels stay bytes; other values are `f32`), its labels as class indices
//! or real values. A [`Dataset`] is a range of one source's examples (a
//! split) that shares the source through an `Arc`, so `train src[..50_000]`
//! and `validation src[50_000..]` hold one copy of the pixels between them.
//! Inputs are scaled and targets built per batch, into buffers the caller
//! reuses.

use nnc_check::program::Labels;
use std::ops::Range;
use std::sync::Arc;

/// What a target row is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// `classes` values: 1 at the class index, 0 elsewhere.
    OneHot { classes: usize },
    /// The class index itself, as one value: the 0/1 target of a single
    /// sigmoid output (two classes).
    Index,
    /// `width` real values, as read (`labels value`).
    Values { width: usize },
}

impl TargetKind {
    /// The target a data block's `labels` gives a model whose cost output
    /// has `output_units` values (`None` without a model). `value_width`
    /// is the number of label values per example the source holds.
    ///
    /// `labels index` trains a softmax of `k > 1` outputs against one-hot
    /// rows of `k` (the index picks the unit) and a single output against
    /// the index itself.
    pub fn for_labels(labels: &Labels, output_units: Option<usize>, value_width: usize) -> Self {
        match labels {
            Labels::OneHot { classes, .. } => TargetKind::OneHot { classes: *classes },
            Labels::Index => match output_units {
                Some(units) if units > 1 => TargetKind::OneHot { classes: units },
                _ => TargetKind::Index,
            },
            Labels::Value => TargetKind::Values { width: value_width },
        }
    }

    /// Values per target row.
    pub fn width(self) -> usize {
        match self {
            TargetKind::OneHot { classes } => classes,
            TargetKind::Index => 1,
            TargetKind::Values { width } => width,
        }
    }
}

/// The inputs of every example of a source, one example after another.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Inputs {
    /// Bytes (IDX `u8` images, decoded image folders), scaled per batch.
    Bytes(Vec<u8>),
    /// Any other values, scaled per batch.
    Floats(Vec<f32>),
}

/// The labels of every example of a source.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LabelValues {
    /// One class index per example (`labels one_hot(k)` and `labels index`).
    Classes(Vec<u32>),
    /// `width` real values per example (`labels value`).
    Values { values: Vec<f32>, width: usize },
}

/// Every example of one source, in memory.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Examples {
    pub inputs: Inputs,
    /// Values per example input.
    pub input_len: usize,
    pub count: usize,
    pub labels: LabelValues,
    /// The class names of an image folder (its subfolders, sorted).
    pub class_names: Option<Vec<String>>,
}

/// One split: a range of a source's examples, ready to be batched.
#[derive(Clone, Debug)]
pub struct Dataset {
    examples: Arc<Examples>,
    range: Range<usize>,
    scale: f64,
    /// `byte * scale` for every byte, rounded once to `f32`.
    byte_values: [f32; 256],
    target: TargetKind,
}

impl Dataset {
    /// The examples `range` of a source. The range must lie within the
    /// source (the loader checks splits first).
    pub(crate) fn new(
        examples: Arc<Examples>,
        range: Range<usize>,
        scale: f64,
        target: TargetKind,
    ) -> Self {
        let mut byte_values = [0f32; 256];
        for (b, slot) in byte_values.iter_mut().enumerate() {
            *slot = (b as f64 * scale) as f32;
        }
        Dataset {
            examples,
            range,
            scale,
            byte_values,
            target,
        }
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.range.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// Values per example input (the product of the model input shape).
    pub fn input_len(&self) -> usize {
        self.examples.input_len
    }

    /// Values per target row.
    pub fn target_len(&self) -> usize {
        self.target.width()
    }

    pub fn target_kind(&self) -> TargetKind {
        self.target
    }

    /// The factor inputs are multiplied by (`scale` of the data block).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// The examples of the source this split takes (`50_000..60_000`).
    pub fn source_range(&self) -> Range<usize> {
        self.range.clone()
    }

    /// Writes the examples at `indices` (0-based within the split, in that
    /// order) into `inputs` (`indices.len() * input_len()` scaled values)
    /// and `targets` (`indices.len() * target_len()` values). Both buffers
    /// are cleared first and reused: once they have grown to a batch, no
    /// call allocates.
    ///
    /// # Panics
    /// If an index is not below [`Dataset::len`] (a bug in the caller, not
    /// a problem with the data).
    pub fn fill_batch(&self, indices: &[usize], inputs: &mut Vec<f32>, targets: &mut Vec<f32>) {
        inputs.clear();
        targets.clear();
        inputs.reserve(indices.len() * self.input_len());
        targets.reserve(indices.len() * self.target_len());
        for &index in indices {
            let example = self.example(index);
            self.push_input(example, inputs);
            self.push_target(example, targets);
        }
    }

    /// The class index of example `index` of the split; `None` with
    /// `labels value`.
    pub fn class(&self, index: usize) -> Option<usize> {
        match &self.examples.labels {
            LabelValues::Classes(classes) => classes.get(self.example(index)).map(|c| *c as usize),
            LabelValues::Values { .. } => None,
        }
    }

    /// The class indices of the split's examples, in order; `None` with
    /// `labels value`.
    pub fn class_labels(&self) -> Option<&[u32]> {
        match &self.examples.labels {
            LabelValues::Classes(classes) => classes.get(self.range.clone()),
            LabelValues::Values { .. } => None,
        }
    }

    /// The names of the classes of an image folder (its subfolders,
    /// sorted; class `i` is `names[i]`); `None` for other sources.
    pub fn class_names(&self) -> Option<&[String]> {
        self.examples.class_names.as_deref()
    }

    /// Whether two splits hold the same copy of their source.
    #[cfg(test)]
    pub(crate) fn shares_examples(&self, other: &Dataset) -> bool {
        Arc::ptr_eq(&self.examples, &other.examples)
    }

    /// The position in the source of example `index` of the split.
    fn example(&self, index: usize) -> usize {
        assert!(
            index < self.len(),
            "example {index} is outside a split of {} examples",
            self.len()
        );
        self.range.start + index
    }

    fn push_input(&self, example: usize, out: &mut Vec<f32>) {
        let n = self.examples.input_len;
        let row = example * n..(example + 1) * n;
        match &self.examples.inputs {
            Inputs::Bytes(bytes) => {
                let row = bytes.get(row).unwrap_or(&[]);
                out.extend(row.iter().map(|b| self.byte_values[usize::from(*b)]));
            }
            Inputs::Floats(values) => {
                let row = values.get(row).unwrap_or(&[]);
                out.extend(row.iter().map(|v| (f64::from(*v) * self.scale) as f32));
            }
        }
    }

    fn push_target(&self, example: usize, out: &mut Vec<f32>) {
        let start = out.len();
        let width = self.target.width();
        match &self.examples.labels {
            LabelValues::Classes(classes) => {
                let class = classes.get(example).map_or(0, |c| *c as usize);
                match self.target {
                    TargetKind::OneHot { classes } => {
                        out.resize(start + classes, 0.0);
                        if let Some(slot) = out.get_mut(start + class) {
                            *slot = 1.0;
                        }
                    }
                    TargetKind::Index | TargetKind::Values { .. } => out.push(class as f32),
                }
            }
            LabelValues::Values { values, width: w } => {
                let row = values.get(example * w..(example + 1) * w).unwrap_or(&[]);
                out.extend_from_slice(row);
            }
        }
        // Every row has the target's width, whatever the labels held.
        out.resize(start + width, 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Arc<Examples> {
        Arc::new(Examples {
            inputs: Inputs::Bytes(vec![0, 255, 10, 20, 30, 40]),
            input_len: 2,
            count: 3,
            labels: LabelValues::Classes(vec![2, 0, 1]),
            class_names: None,
        })
    }

    #[test]
    fn batches_scale_inputs_and_one_hot_targets() {
        let data = Dataset::new(examples(), 1..3, 0.5, TargetKind::OneHot { classes: 3 });
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        data.fill_batch(&[1, 0], &mut inputs, &mut targets);
        assert_eq!(inputs, vec![15.0, 20.0, 5.0, 10.0]);
        assert_eq!(targets, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(data.class_labels(), Some(&[0u32, 1][..]));
        assert_eq!(data.class(1), Some(1));
        let capacity = (inputs.capacity(), targets.capacity());
        data.fill_batch(&[0], &mut inputs, &mut targets);
        assert_eq!(inputs, vec![5.0, 10.0]);
        assert_eq!((inputs.capacity(), targets.capacity()), capacity);
    }

    #[test]
    fn index_targets_are_one_value() {
        let data = Dataset::new(examples(), 0..3, 1.0, TargetKind::Index);
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        data.fill_batch(&[0, 1, 2], &mut inputs, &mut targets);
        assert_eq!(targets, vec![2.0, 0.0, 1.0]);
        assert_eq!(data.target_len(), 1);
    }

    #[test]
    fn target_kinds_follow_labels_and_output() {
        let one_hot = Labels::OneHot {
            classes: 10,
            span: nnc_diag::Span::new(0, 1),
        };
        assert_eq!(
            TargetKind::for_labels(&one_hot, Some(10), 1),
            TargetKind::OneHot { classes: 10 }
        );
        assert_eq!(
            TargetKind::for_labels(&Labels::Index, Some(4), 1),
            TargetKind::OneHot { classes: 4 }
        );
        assert_eq!(
            TargetKind::for_labels(&Labels::Index, Some(1), 1),
            TargetKind::Index
        );
        assert_eq!(
            TargetKind::for_labels(&Labels::Index, None, 1),
            TargetKind::Index
        );
        assert_eq!(
            TargetKind::for_labels(&Labels::Value, Some(3), 3),
            TargetKind::Values { width: 3 }
        );
    }
}
