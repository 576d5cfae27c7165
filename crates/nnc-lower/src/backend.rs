//! The boundary between the training loop and the backends that execute
//! training steps (the reference interpreter now; the Cranelift JIT and wgpu
//! later). The loop never sees graphs or kernels: it hands a backend batches
//! and learning rates, and gets costs and counts back.
//!
//! Contract every backend keeps:
//! - Parameters and optimizer state live in the backend between calls; they
//!   survive `configure` (a phase change) unless the optimizer kind changes,
//!   in which case the optimizer state restarts at zero.
//! - A batch may be shorter than the phase's batch size (the last batch of an
//!   epoch); the mean over the batch is used, as the book does.
//! - Given the same parameters, batches, learning rates and step seeds, the
//!   results are bit-for-bit the same run after run (determinism).

use nnc_check::program::{Model, Optimizer};
use nnc_ir::graph::OutputKind;

/// A host tensor: row-major `f32` values and their shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }

    pub fn zeros(shape: Vec<usize>) -> Self {
        let len = shape.iter().product();
        Tensor {
            shape,
            data: vec![0.0; len],
        }
    }
}

/// Everything a backend needs to build the training step of one phase. The
/// cost and regularizers are the model's own (`Model::cost`,
/// `Model::regularizers`); a trained model always has a cost.
#[derive(Clone, Debug)]
pub struct TrainSetup<'a> {
    pub model: &'a Model,
    pub optimizer: &'a Optimizer,
    /// Examples per step in this phase.
    pub batch_size: usize,
    /// Size of the training split: the `n` of the book's `(1 - eta*lambda/n)`.
    pub train_size: usize,
    /// Gradient clipping (the train block's `clip_norm`, `clip_value`).
    pub clip: nnc_check::program::Clip,
}

/// Builds the (unfused) training-step graph of a setup for a batch size:
/// [`crate::compile_training`] with no `stop_after`, unless a test gives a
/// backend another (`InterpBackend::with_training_compiler`,
/// `JitBackend::with_training_compiler`) to run graphs that no layer of the
/// language produces yet, such as the forward update of state that is not
/// trained. Compiled backends fuse what it returns.
pub type TrainingCompiler =
    fn(&TrainSetup<'_>, usize) -> Result<nnc_ir::Graph, nnc_ir::CompileError>;

/// The default [`TrainingCompiler`].
pub fn compile_training_step(
    setup: &TrainSetup<'_>,
    batch_size: usize,
) -> Result<nnc_ir::Graph, nnc_ir::CompileError> {
    crate::compile_training(setup, batch_size, None)
}

/// One batch, examples stored one after another.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// `len * input_size` values: the model's input, already scaled.
    pub inputs: &'a [f32],
    /// `len * target_size` values: one-hot rows for classifiers, values for
    /// regression.
    pub targets: &'a [f32],
    /// Number of examples in the batch (at most the phase's batch size).
    pub len: usize,
    /// Drives the noise that a model draws in evaluation and inference
    /// (`normal(shape)`, `uniform(shape)`): the same seed draws the same
    /// values, so a measurement repeats. Training steps take their seed
    /// from `Backend::train_step` instead; models without noise ignore it.
    pub noise_seed: u64,
}

/// Checks parameter shapes against `model`: one tensor per parameter, in
/// `param_specs` order, each of its parameter's shape.
pub fn check_param_shapes(model: &Model, shapes: &[&[usize]]) -> Result<(), BackendError> {
    let specs = crate::params::param_specs(model);
    if specs.len() != shapes.len() {
        return Err(BackendError::Failed {
            message: format!(
                "model `{}` has {} parameter tensors, {} were given",
                model.name,
                specs.len(),
                shapes.len()
            ),
        });
    }
    for (spec, shape) in specs.iter().zip(shapes) {
        if spec.shape.as_slice() != *shape {
            return Err(BackendError::Failed {
                message: format!(
                    "parameter `{}` has shape {:?}, the value given has {:?}",
                    spec.name, spec.shape, shape
                ),
            });
        }
    }
    Ok(())
}

/// Checks tensors handed to `Backend::set_params`: their shapes against
/// `model` when one is configured, and that each holds as many values as
/// its shape.
pub fn check_params(model: Option<&Model>, params: &[Tensor]) -> Result<(), BackendError> {
    if let Some(model) = model {
        let shapes: Vec<&[usize]> = params.iter().map(|p| p.shape.as_slice()).collect();
        check_param_shapes(model, &shapes)?;
    }
    if params
        .iter()
        .any(|p| p.shape.iter().product::<usize>() != p.data.len())
    {
        return Err(BackendError::Failed {
            message: "a parameter's values do not fit its shape".into(),
        });
    }
    Ok(())
}

impl TrainSetup<'_> {
    /// The batch sizes of an epoch of this phase: the full batch, then the
    /// short last batch when the training split is not a multiple of it
    /// (never for a model that carries state: see `seeds::stream_order`).
    pub fn batch_sizes(&self) -> Vec<usize> {
        let batch = self.batch_size.max(1);
        let rest = self.train_size % batch;
        // A model that carries state trains on whole batches of streams.
        if rest == 0 || self.model.carry {
            vec![batch]
        } else {
            vec![batch, rest]
        }
    }
}

impl<'a> Batch<'a> {
    /// The values of model input `k` for every example, one example after
    /// another: the inputs themselves when the model has one input, else
    /// gathered into `scratch`. Checks that the batch holds `len` examples
    /// of all the model's inputs.
    pub fn input_values<'s>(
        &'s self,
        model: &Model,
        k: usize,
        scratch: &'s mut Vec<f32>,
    ) -> Result<&'s [f32], BackendError>
    where
        'a: 's,
    {
        // No allocation: a training step may not allocate.
        let size_of = |id| model.node(id).shape.iter().product::<usize>();
        let per_example: usize = model.inputs.iter().map(|&id| size_of(id)).sum();
        if self.inputs.len() != self.len * per_example {
            return Err(BackendError::Failed {
                message: format!(
                    "a batch of {} examples of {} input values needs {} values, it has {}",
                    self.len,
                    per_example,
                    self.len * per_example,
                    self.inputs.len()
                ),
            });
        }
        if model.inputs.len() == 1 {
            return Ok(self.inputs);
        }
        let offset: usize = model.inputs.iter().take(k).map(|&id| size_of(id)).sum();
        let size = model.inputs.get(k).map_or(0, |&id| size_of(id));
        scratch.clear();
        for example in self.inputs.chunks(per_example.max(1)) {
            scratch.extend_from_slice(&example[offset..offset + size]);
        }
        Ok(scratch)
    }

    /// The targets as `len` rows of `width` values: the targets themselves
    /// when they are rows, or class indices made one-hot in `scratch`
    /// (when `width > 1`). An index that is no class below `width`, or a
    /// count that fits neither form, is an error.
    pub fn target_rows<'s>(
        &'s self,
        width: usize,
        scratch: &'s mut Vec<f32>,
    ) -> Result<&'s [f32], BackendError>
    where
        'a: 's,
    {
        if self.targets.len() == self.len * width {
            return Ok(self.targets);
        }
        if width > 1 && self.targets.len() == self.len {
            scratch.clear();
            scratch.resize(self.len * width, 0.0);
            for (i, &label) in self.targets.iter().enumerate() {
                let class = label as usize;
                if label < 0.0 || label.fract() != 0.0 || class >= width {
                    return Err(BackendError::Failed {
                        message: format!(
                            "target {label} of example {i} is not a class index below {width}"
                        ),
                    });
                }
                scratch[i * width + class] = 1.0;
            }
            return Ok(scratch);
        }
        Err(BackendError::Failed {
            message: format!(
                "a batch of {} examples needs {} target values ({} per example), it has {}",
                self.len,
                self.len * width,
                width,
                self.targets.len()
            ),
        })
    }
}

/// What one training step reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// The mean cost of the batch before the update (data term only).
    pub cost: f64,
    /// For a backend that runs several optimizer steps per batch (the
    /// steps of a game, `nnc_train::game`), each one's mean cost, in step
    /// order; `None` otherwise.
    pub terms: Option<[f64; MAX_COST_TERMS]>,
}

impl StepStats {
    /// The stats of a step that reports its cost alone.
    pub fn cost(cost: f64) -> StepStats {
        StepStats { cost, terms: None }
    }
}

/// The most cost terms whose sums an evaluation reports one by one.
pub const MAX_COST_TERMS: usize = 8;

/// What evaluating a batch reports (sums, so batches can be added up).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvalStats {
    /// Sum over the examples of the cost (data term only).
    pub cost_sum: f64,
    /// Examples whose arg-max output equals the arg-max target; for a
    /// sequence output (`[T, classes]`), the sum over the examples of the
    /// share of their steps classified right, so a fraction. Not rounded:
    /// sums of batches are exact.
    pub correct: f64,
    pub count: usize,
    /// For a model of several cost terms (`Model::cost_terms`), the sum
    /// of each over the examples (`OutputKind::CostTermSum`); zeros past
    /// the model's terms and for a model of one.
    pub terms: [f64; MAX_COST_TERMS],
}

impl EvalStats {
    pub fn add(&mut self, other: EvalStats) {
        self.cost_sum += other.cost_sum;
        self.correct += other.correct;
        self.count += other.count;
        for (a, b) in self.terms.iter_mut().zip(other.terms) {
            *a += b;
        }
    }

    /// The term sums a graph's `CostTermSum` outputs give, read by `read`.
    pub fn term_sums(mut read: impl FnMut(OutputKind) -> Option<f32>) -> [f64; MAX_COST_TERMS] {
        let mut terms = [0.0; MAX_COST_TERMS];
        for (k, slot) in terms.iter_mut().enumerate() {
            *slot = read(OutputKind::CostTermSum(k)).unwrap_or(0.0) as f64;
        }
        terms
    }
}

/// What [`Backend::infer`] gives for one batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inference {
    /// The cost sum and the correct count, as [`Backend::evaluate`] gives
    /// them, when the batch has targets; `None` for a batch of inputs only
    /// (`Batch::targets` empty: `nnc predict`).
    pub stats: Option<EvalStats>,
    /// The value of every model output, one tensor per output in
    /// `Model::outputs` order, each `[len, ...]` (the output's shape after
    /// the batch).
    pub outputs: Vec<Tensor>,
}

impl Inference {
    /// What inference of an empty batch gives: no examples of any output
    /// (each `[0, ...]`), and zero sums when the batch has targets.
    pub fn empty(model: &Model, has_targets: bool) -> Inference {
        Inference {
            stats: has_targets.then(EvalStats::default),
            outputs: (0..model.outputs.len())
                .map(|k| Tensor::zeros(output_shape(model, k, 0)))
                .collect(),
        }
    }
}

/// The shape of model output `k` for a batch of `len`: `[len, ...]`.
pub fn output_shape(model: &Model, k: usize, len: usize) -> Vec<usize> {
    let mut shape = vec![len];
    if let Some((_, id)) = model.outputs.get(k) {
        shape.extend_from_slice(&model.node(*id).shape);
    }
    shape
}

/// Collects the outputs of an inference run: for each model output, in
/// order, the values `read` gives for its graph output name
/// (`lower::prediction_name`), checked against the output's shape.
pub fn collect_outputs(
    model: &Model,
    len: usize,
    mut read: impl FnMut(&str) -> Result<Option<Vec<f32>>, BackendError>,
) -> Result<Vec<Tensor>, BackendError> {
    let mut outputs = Vec::with_capacity(model.outputs.len());
    for (k, (name, _)) in model.outputs.iter().enumerate() {
        let graph_name = crate::lower::prediction_name(name);
        let shape = output_shape(model, k, len);
        let values = read(&graph_name)?.ok_or_else(|| BackendError::Failed {
            message: format!("the inference graph does not keep output `{graph_name}`"),
        })?;
        if values.len() != shape.iter().product::<usize>() {
            return Err(BackendError::Failed {
                message: format!(
                    "output `{name}` has {} values, its shape {shape:?} needs {}",
                    values.len(),
                    shape.iter().product::<usize>()
                ),
            });
        }
        outputs.push(Tensor::new(shape, values));
    }
    Ok(outputs)
}

/// Why a backend could not do what was asked.
#[derive(Clone, Debug, PartialEq)]
pub enum BackendError {
    /// The model or settings use something this backend cannot run.
    Unsupported { what: String },
    /// A value became NaN or infinite (`tensor` names where, when known).
    NonFinite { tensor: String },
    /// Anything else, described.
    Failed { message: String },
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Unsupported { what } => write!(f, "this backend cannot run {what}"),
            BackendError::NonFinite { tensor } => write!(f, "`{tensor}` became NaN or infinite"),
            BackendError::Failed { message } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for BackendError {}

/// A backend executes training steps and evaluations of one model.
pub trait Backend {
    /// A short name, e.g. `interp`.
    fn name(&self) -> &'static str;

    /// Builds (or rebuilds, at a phase change) the training step for
    /// `setup`. Parameters given earlier to `set_params` are kept.
    fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError>;

    /// Replaces all parameters, trained or not, in `params::param_specs`
    /// order (each layer's declarations, layer after layer).
    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError>;

    /// The current parameters, in the order `set_params` takes them.
    fn params(&self) -> Vec<Tensor>;

    /// Copies the current values of parameters `start..start + out.len()`
    /// into `out`, whose tensors have those parameters' shapes: what a
    /// holder that keeps other backends in step reads after a step (the
    /// steps of a game), without copying every parameter. The default
    /// reads them all; backends that keep parameters on the host copy only
    /// those asked for.
    fn read_params(&self, start: usize, out: &mut [Tensor]) -> Result<(), BackendError> {
        let all = self.params();
        let values = all
            .get(start..start + out.len())
            .ok_or_else(|| BackendError::Failed {
                message: format!(
                    "parameters {start}..{} asked for, the backend holds {}",
                    start + out.len(),
                    all.len()
                ),
            })?;
        for (o, v) in out.iter_mut().zip(values) {
            o.clone_from(v);
        }
        Ok(())
    }

    /// Replaces parameters `start..start + values.len()` (each of its
    /// parameter's shape), keeping the others. The default goes through
    /// `params` and `set_params`.
    fn write_params(&mut self, start: usize, values: &[Tensor]) -> Result<(), BackendError> {
        let mut all = self.params();
        let slots =
            all.get_mut(start..start + values.len())
                .ok_or_else(|| BackendError::Failed {
                    message: format!(
                        "parameters {start}..{} given, the backend holds fewer",
                        start + values.len()
                    ),
                })?;
        for (slot, v) in slots.iter_mut().zip(values) {
            if slot.shape != v.shape {
                return Err(BackendError::Failed {
                    message: format!(
                        "a parameter of shape {:?} was given for one of shape {:?}",
                        v.shape, slot.shape
                    ),
                });
            }
            slot.clone_from(v);
        }
        self.set_params(all)
    }

    /// One step of the optimizer on `batch` at this learning rate. The
    /// `step_seed` drives dropout masks, so the step is reproducible.
    fn train_step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<StepStats, BackendError>;

    /// Called by the loop before the first training step of each epoch
    /// (1-based). A backend that schedules learning rates of its own (the
    /// steps of a game) picks them here; others ignore it.
    fn begin_epoch(&mut self, _epoch: usize) {}

    /// Forgets the recurrent state carried from batch to batch (a model
    /// with `Model::carry`, `bptt`): the next training step or evaluation
    /// starts every stream at zero. The loop calls it at the start of
    /// each epoch and of each evaluated split. Backends that run such
    /// models keep the state of each `InputKind::Carry` input (see
    /// [`Carried`]); the default, for backends that never carry, does
    /// nothing.
    fn reset_carry(&mut self) {}

    /// The carried recurrent state, one vector per `InputKind::Carry(k)`
    /// (empty for one never carried): what a caller that runs windows
    /// out of order keeps and puts back ([`Backend::set_carried`]), as
    /// `nnc sample` does to write a text one character at a time. The
    /// default, for backends that never carry, has none.
    fn carried(&self) -> Vec<Vec<f32>> {
        Vec::new()
    }

    /// Replaces the carried recurrent state with `values`, as
    /// [`Backend::carried`] gave them.
    fn set_carried(&mut self, _values: Vec<Vec<f32>>) {}

    /// Runs the model in inference mode (no dropout) on `batch`.
    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalStats, BackendError>;

    /// Prepares `model` for inference alone (`nnc eval`, `nnc predict`):
    /// no training step is built and no optimizer is configured. Parameters
    /// given earlier to `set_params` are kept when they fit the model; a
    /// different model drops everything compiled for the old one. Then
    /// `set_params`, `evaluate` and `infer` work; `train_step` needs
    /// `configure`.
    fn configure_inference(&mut self, model: &Model) -> Result<(), BackendError>;

    /// Runs the model in inference mode (no dropout) on `batch`, with the
    /// current parameters, after `configure` or `configure_inference`, and
    /// returns the values of every model output and, when the batch has
    /// targets, the same sums as `evaluate`. A batch without targets
    /// (`targets` empty) needs only the inputs.
    fn infer(&mut self, batch: Batch<'_>) -> Result<Inference, BackendError>;

    /// With `on`, every later training step checks every value it computes
    /// (activations, gradients, new parameters and state, not only the
    /// cost) and fails with [`BackendError::NonFinite`] naming the first
    /// tensor, in graph order, that holds a NaN or an infinity
    /// (`nnc run --check-numerics`). The step's new parameters are then not
    /// kept where the backend can avoid it. Off by default: the check reads
    /// every value once more (on a GPU, downloads it). The interpreter,
    /// the JIT and the GPU backend implement it and wrappers delegate; the
    /// default, for test doubles, checks nothing.
    fn set_check_numerics(&mut self, _on: bool) {}

    /// The optimizer state of the configured phase, in
    /// `params::optimizer_state(model, optimizer)` order (Adam's step count
    /// last, as a scalar): what a checkpoint keeps so that a resumed run
    /// takes the very same steps. A backend that keeps optimizer state
    /// overrides this and [`Backend::set_optimizer_state`]; the default
    /// suits backends without state (and wrappers that never checkpoint).
    fn optimizer_state(&self) -> Vec<Tensor> {
        Vec::new()
    }

    /// Replaces the optimizer state of the configured phase, in the order
    /// `optimizer_state` returns it. Call it after `configure`: configuring
    /// a phase whose optimizer has another state layout restarts the state
    /// at zero (see the contract above).
    fn set_optimizer_state(&mut self, state: Vec<Tensor>) -> Result<(), BackendError> {
        if state.is_empty() {
            Ok(())
        } else {
            Err(BackendError::Unsupported {
                what: format!("restoring optimizer state ({} tensors)", state.len()),
            })
        }
    }
}

/// The recurrent state a backend carries from one batch to the next
/// (`Model::carry`), kept on the host: for each `InputKind::Carry(k)`, the
/// values of output `OutputKind::Carry(k)` after the last run. A state is
/// zero after [`Carried::reset`], and also when the next graph's input has
/// another size (a batch of another size: the streams differ).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Carried {
    values: Vec<Vec<f32>>,
}

impl Carried {
    /// The values to bind to carry input `k`, of `len` values.
    pub fn start(&mut self, k: usize, len: usize) -> &[f32] {
        if self.values.len() <= k {
            self.values.resize_with(k + 1, Vec::new);
        }
        let values = &mut self.values[k];
        if values.len() != len {
            values.clear();
            values.resize(len, 0.0);
        }
        values
    }

    /// Keeps `end`, the value of output `Carry(k)` after a run, for the
    /// next batch.
    pub fn keep(&mut self, k: usize, end: &[f32]) {
        if self.values.len() <= k {
            self.values.resize_with(k + 1, Vec::new);
        }
        self.values[k].clear();
        self.values[k].extend_from_slice(end);
    }

    /// Every state back to zero.
    pub fn reset(&mut self) {
        self.values.clear();
    }

    /// The states, by `k` (`Backend::carried`).
    pub fn values(&self) -> &[Vec<f32>] {
        &self.values
    }

    /// Replaces every state (`Backend::set_carried`).
    pub fn replace(&mut self, values: Vec<Vec<f32>>) {
        self.values = values;
    }
}

/// The `InputKind::Carry(k)` inputs of a graph: each `k` and its number
/// of values, in graph order.
pub fn carry_inputs(graph: &nnc_ir::Graph) -> Vec<(usize, usize)> {
    graph
        .inputs()
        .into_iter()
        .filter_map(|(kind, id)| match kind {
            nnc_ir::InputKind::Carry(k) => Some((k, graph.shape(id).iter().product())),
            _ => None,
        })
        .collect()
}

/// The numbers `k` of a graph's `OutputKind::Carry(k)` outputs, in order.
pub fn carry_outputs(graph: &nnc_ir::Graph) -> Vec<usize> {
    graph
        .outputs
        .iter()
        .filter_map(|o| match o.kind {
            OutputKind::Carry(k) => Some(k),
            _ => None,
        })
        .collect()
}

/// `Backend::read_params` for a backend that keeps each parameter's values
/// on the host as one slice: copies `held[start..]` into `out`, checking
/// that the parameters exist and have the sizes of `out`'s tensors.
pub fn read_held<'h>(
    held: impl ExactSizeIterator<Item = &'h [f32]>,
    start: usize,
    out: &mut [Tensor],
) -> Result<(), BackendError> {
    let count = held.len();
    if start + out.len() > count {
        return Err(held_error(start, out.len(), count));
    }
    for (o, values) in out.iter_mut().zip(held.skip(start)) {
        if o.data.len() != values.len() {
            return Err(BackendError::Failed {
                message: "a parameter asked for into a tensor of another size".into(),
            });
        }
        o.data.copy_from_slice(values);
    }
    Ok(())
}

/// `Backend::write_params` for such a backend: copies `values` into
/// `held[start..]`, checking sizes.
pub fn write_held<'h>(
    held: impl ExactSizeIterator<Item = &'h mut [f32]>,
    start: usize,
    values: &[Tensor],
) -> Result<(), BackendError> {
    let count = held.len();
    if start + values.len() > count {
        return Err(held_error(start, values.len(), count));
    }
    for (slot, v) in held.skip(start).zip(values) {
        if slot.len() != v.data.len() {
            return Err(BackendError::Failed {
                message: "a parameter given with another number of values".into(),
            });
        }
        slot.copy_from_slice(&v.data);
    }
    Ok(())
}

fn held_error(start: usize, len: usize, count: usize) -> BackendError {
    BackendError::Failed {
        message: format!(
            "parameters {start}..{} asked for or given, the backend holds {count}",
            start + len
        ),
    }
}

/// Checks tensors handed to `Backend::set_optimizer_state`: one per tensor
/// of `params::optimizer_state(model, optimizer)`, each of its shape and
/// holding as many values as its shape.
pub fn check_state(
    model: &Model,
    optimizer: &Optimizer,
    state: &[Tensor],
) -> Result<(), BackendError> {
    let specs = crate::params::optimizer_state(model, optimizer);
    if specs.len() != state.len() {
        return Err(BackendError::Failed {
            message: format!(
                "model `{}` under this optimizer has {} optimizer state tensors, {} were given",
                model.name,
                specs.len(),
                state.len()
            ),
        });
    }
    for (spec, tensor) in specs.iter().zip(state) {
        if spec.shape != tensor.shape || tensor.shape.iter().product::<usize>() != tensor.data.len()
        {
            return Err(BackendError::Failed {
                message: format!(
                    "optimizer state `{}` has shape {:?}, the value given has {:?} ({} values)",
                    spec.name,
                    spec.shape,
                    tensor.shape,
                    tensor.data.len()
                ),
            });
        }
    }
    Ok(())
}

/// What a backend keeps across a `configure` call, by the contract at the
/// top of this module. Every backend decides with this one function, so they
/// cannot disagree about when optimizer state restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reuse {
    /// The model differs from the last configured one: everything compiled
    /// for it is stale.
    pub model_changed: bool,
    /// The optimizer state keeps its values: same model, and an optimizer
    /// with the same state layout (momentum to nesterov keeps the velocity;
    /// sgd to adam restarts at zero).
    pub state_kept: bool,
    /// The compiled training steps stay valid: state kept, the very same
    /// optimizer settings and the same training-set size (the `n` of the
    /// decay is baked into the step).
    pub steps_kept: bool,
}

impl Reuse {
    /// Compares the last configuration (model, optimizer, training-set size),
    /// if any, with `next`.
    pub fn between(
        model: Option<&Model>,
        optimizer: Option<&Optimizer>,
        train_size: usize,
        clip: nnc_check::program::Clip,
        next: &TrainSetup<'_>,
    ) -> Reuse {
        let model_changed = model != Some(next.model);
        let state_kept = !model_changed
            && optimizer.is_some_and(|old| crate::params::same_state_layout(old, next.optimizer));
        let steps_kept = state_kept
            && optimizer == Some(next.optimizer)
            && train_size == next.train_size
            && clip == next.clip;
        Reuse {
            model_changed,
            state_kept,
            steps_kept,
        }
    }
}
