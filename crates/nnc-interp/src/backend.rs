//! [`InterpBackend`]: the reference backend. It compiles the training-step
//! graph of a phase (once per batch size: the last batch of an epoch may be
//! shorter) and the inference graph (once per batch size), runs them on the
//! interpreter in `f32`, and keeps the parameters and optimizer state
//! between calls.
//!
//! Batches (see `nnc_lower::backend::Batch`), beyond the contract:
//! - a model with several inputs reads each example's values as its inputs
//!   one after another, in declaration order;
//! - targets are either rows of the compared output's size (one-hot rows,
//!   values), or, for an output of several values, one class index per
//!   example, which the backend turns into a one-hot row.

use crate::interpreter::{InterpError, Interpreter};
use ndarray::{ArrayD, IxDyn};
use nnc_check::program::{Model, Optimizer};
use nnc_ir::{InputKind, OutputKind};
use nnc_lower::backend::{
    carry_inputs, carry_outputs, check_param_shapes, check_params, check_state, collect_outputs,
    compile_training_step, read_held, write_held, Backend, BackendError, Batch, Carried, EvalStats,
    Inference, Reuse, StepStats, Tensor, TrainSetup, TrainingCompiler,
};
use nnc_lower::{compile_inference, optimizer_state, param_specs};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The reference interpreter as a training backend.
#[derive(Debug, Default)]
pub struct InterpBackend {
    /// The model of the last `configure`.
    model: Option<Arc<Model>>,
    optimizer: Option<Optimizer>,
    train_size: usize,
    clip: nnc_check::program::Clip,
    /// Parameters in `param_specs` order; empty until `set_params`.
    params: Vec<ArrayD<f32>>,
    /// Optimizer state in `optimizer_state` order.
    state: Vec<ArrayD<f32>>,
    /// Training-step interpreters by batch size, for the configured setup.
    train: BTreeMap<usize, Interpreter<f32>>,
    /// Inference interpreters by batch size.
    eval: BTreeMap<usize, Interpreter<f32>>,
    /// Reused buffers for batches that need rearranging.
    scratch: Scratch,
    /// `set_check_numerics`: check every value of every step.
    check_numerics: bool,
    /// Builds the training-step graphs; `None`: `compile_training`.
    compiler: Option<TrainingCompiler>,
    /// The recurrent state carried from batch to batch (`Model::carry`).
    carried: Carried,
}

#[derive(Debug, Default)]
struct Scratch {
    inputs: Vec<f32>,
    targets: Vec<f32>,
}

impl InterpBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend that builds its training-step graphs with `compile`
    /// instead of `compile_training`: for tests of graph-level mechanisms
    /// that no layer of the language uses yet (see [`TrainingCompiler`]).
    pub fn with_training_compiler(compile: TrainingCompiler) -> Self {
        InterpBackend {
            compiler: Some(compile),
            ..Self::default()
        }
    }

    /// The training-step graph the backend runs for batches of `batch_size`
    /// (compiled on first use), for inspection.
    pub fn training_graph(&self, batch_size: usize) -> Option<&nnc_ir::Graph> {
        self.train.get(&batch_size).map(Interpreter::graph)
    }

    fn model(&self) -> Result<Arc<Model>, BackendError> {
        self.model.clone().ok_or_else(not_configured)
    }

    fn ensure_params(&self) -> Result<(), BackendError> {
        if self.params.is_empty() && !param_specs(&*self.model()?).is_empty() {
            return Err(failed(
                "no parameters were set; call `set_params` before training",
            ));
        }
        Ok(())
    }

    /// Runs the inference graph for a batch of `batch.len` (compiled on
    /// first use) with the current parameters, binding the targets when
    /// `with_targets`.
    fn run_inference(
        &mut self,
        batch: &Batch<'_>,
        with_targets: bool,
    ) -> Result<&Interpreter<f32>, BackendError> {
        self.ensure_params()?;
        let model = self.model()?;
        let interp = match self.eval.entry(batch.len) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => slot.insert(inference_interpreter(&model, batch.len)?),
        };
        bind_inputs(interp, &model, batch, &mut self.scratch)?;
        if with_targets {
            bind_targets(interp, batch, &mut self.scratch)?;
        }
        bind_tensors(interp, &self.params, InputKind::Param)?;
        bind_carried(interp, &mut self.carried)?;
        interp.run(batch.noise_seed);
        keep_carried(interp, &mut self.carried);
        Ok(interp)
    }
}

/// The sums of an inference run with targets bound.
fn eval_stats(interp: &Interpreter<f32>, len: usize) -> EvalStats {
    let scalar = |kind| {
        interp
            .output_of(kind)
            .and_then(|v| v.iter().next().copied())
    };
    EvalStats {
        cost_sum: scalar(OutputKind::CostSum).unwrap_or(0.0) as f64,
        correct: f64::from(scalar(OutputKind::Correct).unwrap_or(0.0)),
        count: len,
        terms: EvalStats::term_sums(scalar),
    }
}

fn not_configured() -> BackendError {
    failed("the interpreter backend was not configured; call `configure` first")
}

fn failed(message: impl Into<String>) -> BackendError {
    BackendError::Failed {
        message: message.into(),
    }
}

fn interp_error(e: InterpError) -> BackendError {
    failed(e.to_string())
}

impl Backend for InterpBackend {
    fn name(&self) -> &'static str {
        "interp"
    }

    fn set_check_numerics(&mut self, on: bool) {
        self.check_numerics = on;
    }

    fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
        let reuse = Reuse::between(
            self.model.as_deref(),
            self.optimizer.as_ref(),
            self.train_size,
            self.clip,
            setup,
        );
        if reuse.model_changed {
            self.model = Some(Arc::new(setup.model.clone()));
            self.eval.clear();
        }
        if !reuse.steps_kept {
            self.train.clear();
        }
        if !reuse.state_kept {
            self.state = optimizer_state(setup.model, setup.optimizer)
                .iter()
                .map(|s| ArrayD::zeros(IxDyn(&s.shape)))
                .collect();
        }
        self.optimizer = Some(setup.optimizer.clone());
        self.train_size = setup.train_size;
        self.clip = setup.clip;
        if !self.params.is_empty() {
            let shapes: Vec<&[usize]> = self.params.iter().map(|p| p.shape()).collect();
            check_param_shapes(setup.model, &shapes)?;
        }
        let batch = setup.batch_size.max(1);
        if let Entry::Vacant(slot) = self.train.entry(batch) {
            slot.insert(training_interpreter(
                self.compiler,
                setup.model,
                setup.optimizer,
                setup.train_size,
                setup.clip,
                batch,
            )?);
        }
        Ok(())
    }

    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError> {
        check_params(self.model.as_deref(), &params)?;
        self.params = params
            .into_iter()
            .map(|t| {
                ArrayD::from_shape_vec(IxDyn(&t.shape), t.data)
                    .map_err(|e| failed(format!("a parameter's values do not fit its shape: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    fn params(&self) -> Vec<Tensor> {
        self.params
            .iter()
            .map(|p| Tensor::new(p.shape().to_vec(), p.iter().copied().collect()))
            .collect()
    }

    fn read_params(&self, start: usize, out: &mut [Tensor]) -> Result<(), BackendError> {
        let held: Option<Vec<&[f32]>> = self.params.iter().map(|p| p.as_slice()).collect();
        let held = held.ok_or_else(|| failed("a parameter is not laid out in order"))?;
        read_held(held.into_iter(), start, out)
    }

    fn write_params(&mut self, start: usize, values: &[Tensor]) -> Result<(), BackendError> {
        let held: Option<Vec<&mut [f32]>> =
            self.params.iter_mut().map(|p| p.as_slice_mut()).collect();
        let held = held.ok_or_else(|| failed("a parameter is not laid out in order"))?;
        write_held(held.into_iter(), start, values)
    }

    fn train_step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<StepStats, BackendError> {
        self.ensure_params()?;
        let model = self.model()?;
        let optimizer = self.optimizer.clone().ok_or_else(not_configured)?;
        if batch.len == 0 {
            return Err(failed("a training batch needs at least one example"));
        }
        let interp = match self.train.entry(batch.len) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => slot.insert(training_interpreter(
                self.compiler,
                &model,
                &optimizer,
                self.train_size,
                self.clip,
                batch.len,
            )?),
        };
        bind_batch(interp, &model, &batch, &mut self.scratch)?;
        bind_tensors(interp, &self.params, InputKind::Param)?;
        bind_tensors(interp, &self.state, InputKind::State)?;
        bind_carried(interp, &mut self.carried)?;
        interp
            .set_input(InputKind::LearningRate, &[learning_rate])
            .map_err(interp_error)?;
        interp.run(step_seed);
        if self.check_numerics {
            // Every computed value, in graph order (the interpreter keeps
            // them all); the parameters stay the old ones.
            let graph = interp.graph();
            for id in graph.ids() {
                let node = graph.node(id);
                if matches!(node.op, nnc_ir::Op::Input { .. }) {
                    continue;
                }
                if interp.value(id).iter().any(|v| !v.is_finite()) {
                    return Err(BackendError::NonFinite {
                        tensor: format!("{} (%{})", node.name, id.index()),
                    });
                }
            }
        }
        let cost = interp
            .output_of(OutputKind::Cost)
            .and_then(|c| c.iter().next().copied())
            .ok_or_else(|| failed("the training graph has no cost"))?;
        if !cost.is_finite() {
            return Err(BackendError::NonFinite {
                tensor: "cost".to_string(),
            });
        }
        take_outputs(interp, &mut self.params, OutputKind::NewParam);
        take_outputs(interp, &mut self.state, OutputKind::NewState);
        keep_carried(interp, &mut self.carried);
        Ok(StepStats::cost(cost as f64))
    }

    fn reset_carry(&mut self) {
        self.carried.reset();
    }

    fn carried(&self) -> Vec<Vec<f32>> {
        self.carried.values().to_vec()
    }

    fn set_carried(&mut self, values: Vec<Vec<f32>>) {
        self.carried.replace(values);
    }

    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalStats, BackendError> {
        if batch.len == 0 {
            self.ensure_params()?;
            return Ok(EvalStats::default());
        }
        let interp = self.run_inference(&batch, true)?;
        Ok(eval_stats(interp, batch.len))
    }

    fn configure_inference(&mut self, model: &Model) -> Result<(), BackendError> {
        if self.model.as_deref() != Some(model) {
            self.model = Some(Arc::new(model.clone()));
            self.eval.clear();
            self.train.clear();
            self.optimizer = None;
            self.state.clear();
        }
        if !self.params.is_empty() {
            let shapes: Vec<&[usize]> = self.params.iter().map(|p| p.shape()).collect();
            check_param_shapes(model, &shapes)?;
        }
        Ok(())
    }

    fn infer(&mut self, batch: Batch<'_>) -> Result<Inference, BackendError> {
        let model = self.model()?;
        let has_targets = !batch.targets.is_empty();
        if batch.len == 0 {
            self.ensure_params()?;
            return Ok(Inference::empty(&model, has_targets));
        }
        let interp = self.run_inference(&batch, has_targets)?;
        let outputs = collect_outputs(&model, batch.len, |name| {
            Ok(interp.output(name).map(|v| v.iter().copied().collect()))
        })?;
        Ok(Inference {
            stats: has_targets.then(|| eval_stats(interp, batch.len)),
            outputs,
        })
    }

    fn optimizer_state(&self) -> Vec<Tensor> {
        self.state
            .iter()
            .map(|s| Tensor::new(s.shape().to_vec(), s.iter().copied().collect()))
            .collect()
    }

    fn set_optimizer_state(&mut self, state: Vec<Tensor>) -> Result<(), BackendError> {
        let model = self.model()?;
        let optimizer = self.optimizer.as_ref().ok_or_else(not_configured)?;
        check_state(&model, optimizer, &state)?;
        self.state = state
            .into_iter()
            .map(|t| {
                ArrayD::from_shape_vec(IxDyn(&t.shape), t.data).map_err(|e| {
                    failed(format!(
                        "an optimizer state's values do not fit its shape: {e}"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

/// Binds each carried-state input of the graph to its state.
fn bind_carried(interp: &mut Interpreter<f32>, carried: &mut Carried) -> Result<(), BackendError> {
    for (k, len) in carry_inputs(interp.graph()) {
        interp
            .set_input(InputKind::Carry(k), carried.start(k, len))
            .map_err(interp_error)?;
    }
    Ok(())
}

/// Keeps the state each carried-state output ended the batch with.
fn keep_carried(interp: &Interpreter<f32>, carried: &mut Carried) {
    for k in carry_outputs(interp.graph()) {
        if let Some(end) = interp.output_of(OutputKind::Carry(k)) {
            match end.as_slice() {
                Some(values) => carried.keep(k, values),
                None => carried.keep(k, &end.iter().copied().collect::<Vec<_>>()),
            }
        }
    }
}

/// Compiles and prepares a training-step graph.
fn training_interpreter(
    compiler: Option<TrainingCompiler>,
    model: &Model,
    optimizer: &Optimizer,
    train_size: usize,
    clip: nnc_check::program::Clip,
    batch_size: usize,
) -> Result<Interpreter<f32>, BackendError> {
    let setup = TrainSetup {
        model,
        optimizer,
        batch_size,
        train_size,
        clip,
    };
    let compile = compiler.unwrap_or(compile_training_step);
    let graph = compile(&setup, batch_size).map_err(|e| failed(e.to_string()))?;
    Interpreter::new(graph).map_err(interp_error)
}

/// Compiles and prepares an inference graph.
fn inference_interpreter(
    model: &Model,
    batch_size: usize,
) -> Result<Interpreter<f32>, BackendError> {
    let graph = compile_inference(model, batch_size, None).map_err(|e| failed(e.to_string()))?;
    Interpreter::new(graph).map_err(interp_error)
}

/// Binds the inputs and targets of `batch`.
fn bind_batch(
    interp: &mut Interpreter<f32>,
    model: &Model,
    batch: &Batch<'_>,
    scratch: &mut Scratch,
) -> Result<(), BackendError> {
    bind_inputs(interp, model, batch, scratch)?;
    bind_targets(interp, batch, scratch)
}

/// Binds the batch's values of every model input.
fn bind_inputs(
    interp: &mut Interpreter<f32>,
    model: &Model,
    batch: &Batch<'_>,
    scratch: &mut Scratch,
) -> Result<(), BackendError> {
    for k in 0..model.inputs.len() {
        let values = batch.input_values(model, k, &mut scratch.inputs)?;
        interp
            .set_input(InputKind::Data(k), values)
            .map_err(interp_error)?;
    }
    Ok(())
}

/// Binds the batch's targets, as rows of the graph's target input.
fn bind_targets(
    interp: &mut Interpreter<f32>,
    batch: &Batch<'_>,
    scratch: &mut Scratch,
) -> Result<(), BackendError> {
    let Some(target) = interp.input_node(InputKind::Target) else {
        return Ok(());
    };
    let width = interp.graph().node(target).shape.iter().product::<usize>() / batch.len.max(1);
    let rows = batch.target_rows(width, &mut scratch.targets)?;
    interp
        .set_input(InputKind::Target, rows)
        .map_err(interp_error)?;
    Ok(())
}

/// Binds parameter or state tensors by index.
fn bind_tensors(
    interp: &mut Interpreter<f32>,
    tensors: &[ArrayD<f32>],
    kind: fn(usize) -> InputKind,
) -> Result<(), BackendError> {
    for (k, tensor) in tensors.iter().enumerate() {
        let values = tensor
            .as_slice()
            .ok_or_else(|| failed("a parameter is not contiguous"))?;
        interp.set_input(kind(k), values).map_err(interp_error)?;
    }
    Ok(())
}

/// Moves the new values of parameters or state out of the interpreter
/// (a swap of buffers; the interpreter overwrites them next run).
fn take_outputs(
    interp: &mut Interpreter<f32>,
    tensors: &mut [ArrayD<f32>],
    kind: fn(usize) -> OutputKind,
) {
    for (k, tensor) in tensors.iter_mut().enumerate() {
        if let Some(node) = interp.graph().output_of(kind(k)).map(|o| o.node) {
            std::mem::swap(tensor, interp.value_mut(node));
        }
    }
}
