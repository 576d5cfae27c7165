//! Examples in memory and the splits over them.
//!
//! A source is read once into [`Examples`]: its inputs kept compact (`u8`
//! pixels stay bytes; other values are `f32`), its labels as class indices
//! or real values. A [`Dataset`] is a range of one source's examples (a
//! split) that shares the source through an `Arc`, so `train src[..50_000]`
//! and `validation src[50_000..]` hold one copy of the pixels between them.
//! Inputs are scaled and targets built per batch, into buffers the caller
//! reuses.

use nnc_check::program::{AugmentOp, Labels};
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
    /// A text's next characters: a one-hot row of `classes` for each of
    /// the `steps` characters of the window.
    Steps { steps: usize, classes: usize },
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
            // No graph reads a target (the checker refuses a model whose
            // cost needs labels); one placeholder value per example keeps
            // batches "with targets", so evaluations report their costs.
            Labels::None => TargetKind::Values { width: 1 },
        }
    }

    /// Values per target row.
    pub fn width(self) -> usize {
        match self {
            TargetKind::OneHot { classes } => classes,
            TargetKind::Index => 1,
            TargetKind::Values { width } => width,
            TargetKind::Steps { steps, classes } => steps * classes,
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
    /// A text: example `k` is characters `k context ..` (as indices into
    /// the split's vocabulary), its targets the characters one further.
    Text {
        chars: Arc<Vec<char>>,
        context: usize,
    },
}

/// The labels of every example of a source.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum LabelValues {
    /// One class index per example (`labels one_hot(k)` and `labels index`).
    Classes(Vec<u32>),
    /// `width` real values per example (`labels value`).
    Values { values: Vec<f32>, width: usize },
    /// Each step's next character (read from the text itself).
    Text,
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
    /// `[c, h, w]` when the inputs are images (IDX images, folders).
    pub image: Option<[usize; 3]>,
}

/// One split: a range of a source's examples (or, for a holdout and what
/// it leaves, chosen examples of that range), ready to be batched.
#[derive(Clone, Debug)]
pub struct Dataset {
    examples: Arc<Examples>,
    range: Range<usize>,
    /// The positions in the source of the split's examples, ascending,
    /// when they are not the whole `range`.
    picked: Option<Arc<Vec<usize>>>,
    /// The training split's `augment [...]`, and the image shape it works
    /// on.
    augment: Option<Arc<(Vec<AugmentOp>, [usize; 3])>>,
    scale: f64,
    /// `byte * scale` for every byte, rounded once to `f32`.
    byte_values: [f32; 256],
    target: TargetKind,
    /// A text's classes, sorted: character `vocabulary[i]` is class `i`.
    vocabulary: Option<Arc<Vec<char>>>,
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
            picked: None,
            augment: None,
            scale,
            byte_values,
            target,
            vocabulary: None,
        }
    }

    /// Splits the examples in two by a shuffle seeded with `seed`: a share
    /// `fraction` of them (rounded, at least one and leaving at least one
    /// when there are two or more) and the rest, each in source order.
    /// Returns `(rest, held out)`.
    pub(crate) fn hold_out(&self, fraction: f64, seed: u64) -> (Dataset, Dataset) {
        let n = self.len();
        let mut order: Vec<usize> = (0..n).map(|i| self.example(i)).collect();
        let mut rng = crate::augment::Rng::new(seed);
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let held = if n >= 2 {
            ((fraction * n as f64).round() as usize).clamp(1, n - 1)
        } else {
            0
        };
        let mut taken = order[..held].to_vec();
        let mut rest = order[held..].to_vec();
        taken.sort_unstable();
        rest.sort_unstable();
        let pick = |positions: Vec<usize>| Dataset {
            picked: Some(Arc::new(positions)),
            ..self.clone()
        };
        (pick(rest), pick(taken))
    }

    /// The dataset with `ops` made to the inputs of
    /// [`Dataset::fill_train_batch`]; data that are not images are one
    /// row of values.
    pub(crate) fn with_augment(self, ops: &[AugmentOp]) -> Dataset {
        if ops.is_empty() {
            return self;
        }
        let shape = self
            .examples
            .image
            .unwrap_or([1, 1, self.examples.input_len]);
        Dataset {
            augment: Some(Arc::new((ops.to_vec(), shape))),
            ..self
        }
    }

    /// Whether training batches are augmented.
    pub fn augments(&self) -> bool {
        self.augment.is_some()
    }

    /// [`Dataset::fill_batch`], then the data block's `augment [...]`
    /// made to each input (for the training split), drawn from `seed` (the
    /// step's) and the example's place in the batch.
    pub fn fill_train_batch(
        &self,
        indices: &[usize],
        inputs: &mut Vec<f32>,
        targets: &mut Vec<f32>,
        seed: u64,
    ) {
        self.fill_batch(indices, inputs, targets);
        let Some(augment) = &self.augment else {
            return;
        };
        let (ops, shape) = &**augment;
        let mut scratch = Vec::new();
        let n = self.input_len().max(1);
        for (k, input) in inputs.chunks_exact_mut(n).enumerate() {
            crate::augment::augment(
                ops,
                *shape,
                input,
                &mut scratch,
                &mut crate::augment::example_rng(seed, k),
            );
        }
    }

    /// Sets a text split's vocabulary; returns the first character of the
    /// split outside it and its position in the text, if any.
    pub(crate) fn set_vocabulary(&mut self, vocabulary: Arc<Vec<char>>) -> Option<(char, usize)> {
        if let Inputs::Text { chars, context } = &self.examples.inputs {
            let first = (self.range.start * context).min(chars.len());
            let last = (self.range.end * context + 1).min(chars.len());
            let unknown = chars[first..last]
                .iter()
                .position(|c| vocabulary.binary_search(c).is_err())
                .map(|at| (chars[first + at], first + at));
            if unknown.is_some() {
                return unknown;
            }
        }
        self.vocabulary = Some(vocabulary);
        None
    }

    /// A text split's vocabulary (its classes, sorted).
    pub fn vocabulary(&self) -> Option<&[char]> {
        self.vocabulary.as_deref().map(Vec::as_slice)
    }

    /// The class of character `c` in the vocabulary (`None` outside it).
    fn char_class(&self, c: char) -> Option<usize> {
        self.vocabulary.as_ref()?.binary_search(&c).ok()
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.picked.as_ref().map_or(self.range.len(), |p| p.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
            LabelValues::Values { .. } | LabelValues::Text => None,
        }
    }

    /// The class indices of the split's examples, in order; `None` with
    /// `labels value`.
    pub fn class_labels(&self) -> Option<Vec<u32>> {
        match &self.examples.labels {
            LabelValues::Classes(classes) => (0..self.len())
                .map(|i| classes.get(self.example(i)).copied())
                .collect(),
            LabelValues::Values { .. } | LabelValues::Text => None,
        }
    }

    /// Whether the labels are classes (not `labels value`).
    pub fn is_classified(&self) -> bool {
        matches!(
            self.examples.labels,
            LabelValues::Classes(_) | LabelValues::Text
        )
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
        match &self.picked {
            Some(picked) => picked[index],
            None => self.range.start + index,
        }
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
            // Character indices (never scaled); one outside the vocabulary
            // (none: `set_vocabulary` refuses such splits) would read -1.
            Inputs::Text { chars, .. } => {
                let row = chars.get(row).unwrap_or(&[]);
                out.extend(
                    row.iter()
                        .map(|c| self.char_class(*c).map_or(-1.0, |i| i as f32)),
                );
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
                    TargetKind::Index | TargetKind::Values { .. } | TargetKind::Steps { .. } => {
                        out.push(class as f32)
                    }
                }
            }
            LabelValues::Values { values, width: w } => {
                let row = values.get(example * w..(example + 1) * w).unwrap_or(&[]);
                out.extend_from_slice(row);
            }
            LabelValues::Text => {
                if let (Inputs::Text { chars, context }, TargetKind::Steps { steps, classes }) =
                    (&self.examples.inputs, self.target)
                {
                    out.resize(start + steps * classes, 0.0);
                    let first = example * context + 1;
                    for step in 0..steps.min(*context) {
                        let class = chars.get(first + step).and_then(|c| self.char_class(*c));
                        if let Some(k) = class.filter(|k| *k < classes) {
                            out[start + step * classes + k] = 1.0;
                        }
                    }
                }
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
            image: None,
        })
    }

    #[test]
    fn batches_scale_inputs_and_one_hot_targets() {
        let data = Dataset::new(examples(), 1..3, 0.5, TargetKind::OneHot { classes: 3 });
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        data.fill_batch(&[1, 0], &mut inputs, &mut targets);
        assert_eq!(inputs, vec![15.0, 20.0, 5.0, 10.0]);
        assert_eq!(targets, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(data.class_labels(), Some(vec![0u32, 1]));
        assert_eq!(data.class(1), Some(1));
        let capacity = (inputs.capacity(), targets.capacity());
        data.fill_batch(&[0], &mut inputs, &mut targets);
        assert_eq!(inputs, vec![5.0, 10.0]);
        assert_eq!((inputs.capacity(), targets.capacity()), capacity);
    }

    #[test]
    fn a_holdout_is_a_seeded_share_and_the_rest_keeps_the_others() {
        let count = 200;
        let examples = Arc::new(Examples {
            inputs: Inputs::Floats((0..count).map(|i| i as f32).collect()),
            input_len: 1,
            count,
            labels: LabelValues::Classes((0..count as u32).map(|i| i % 3).collect()),
            class_names: None,
            image: None,
        });
        // The training split takes examples 20..200 of the source.
        let train = Dataset::new(examples, 20..count, 1.0, TargetKind::Index);
        let inputs_of = |d: &Dataset| {
            let (mut inputs, mut targets) = (Vec::new(), Vec::new());
            let all: Vec<usize> = (0..d.len()).collect();
            d.fill_batch(&all, &mut inputs, &mut targets);
            inputs
                .into_iter()
                .map(|v| v as usize)
                .collect::<Vec<usize>>()
        };
        let (rest, held) = train.hold_out(0.1, 7);
        assert_eq!((rest.len(), held.len()), (162, 18));
        let (rest_inputs, held_inputs) = (inputs_of(&rest), inputs_of(&held));
        // Disjoint, together the training split, each in source order.
        let mut all: Vec<usize> = rest_inputs.iter().chain(&held_inputs).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (20..count).collect::<Vec<_>>());
        assert!(held_inputs.windows(2).all(|w| w[0] < w[1]));
        assert!(rest_inputs.windows(2).all(|w| w[0] < w[1]));
        // Drawn from the whole split, not its end.
        assert!(held_inputs.iter().any(|&i| i < 110) && held_inputs.iter().any(|&i| i >= 110));
        // The same seed picks the same examples; another seed others.
        assert_eq!(inputs_of(&train.hold_out(0.1, 7).1), held_inputs);
        assert_ne!(inputs_of(&train.hold_out(0.1, 8).1), held_inputs);
        // Class labels follow the picked examples.
        let classes: Vec<u32> = held_inputs.iter().map(|&i| (i % 3) as u32).collect();
        assert_eq!(held.class_labels(), Some(classes));
        // A holdout of a holdout's rest stays disjoint from the first.
        let (_, second) = rest.hold_out(0.5, 1);
        assert!(inputs_of(&second).iter().all(|i| !held_inputs.contains(i)));
        // Tiny splits: at least one each way from two examples.
        let two = Dataset::new(train.examples.clone(), 0..2, 1.0, TargetKind::Index);
        let (a, b) = two.hold_out(0.01, 0);
        assert_eq!((a.len(), b.len()), (1, 1));
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
