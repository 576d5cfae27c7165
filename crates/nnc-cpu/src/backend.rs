//! `JitBackend`: the [`Backend`] contract on lowered, JIT-compiled
//! programs.
//!
//! Parameters and optimizer state live here as flat vectors. A step swaps
//! each of them in as the program's input vector, runs the program, swaps
//! them back, and copies the new values out of the program's arena into
//! them: nothing is allocated.

use crate::lower::lower;
use crate::program::Program;
use nnc_check::program::{Model, Optimizer};
use nnc_ir::{fuse_verified, InputKind, OutputKind};
use nnc_lower::backend::{
    check_params, check_state, collect_outputs, read_held, write_held, Backend, BackendError,
    Batch, Carried, EvalStats, Inference, Reuse, StepStats, Tensor, TrainSetup, TrainingCompiler,
};
use nnc_lower::{compile_inference_fused, compile_training_fused, optimizer_state, param_specs};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The Cranelift JIT backend (see the crate documentation for what it
/// lowers so far).
#[derive(Debug, Default)]
pub struct JitBackend {
    model: Option<Arc<Model>>,
    optimizer: Option<Optimizer>,
    train_size: usize,
    clip: nnc_check::program::Clip,
    params: Vec<Vec<f32>>,
    state: Vec<Vec<f32>>,
    /// Training programs by batch size.
    train: BTreeMap<usize, Program>,
    /// Inference programs by batch size.
    eval: BTreeMap<usize, Program>,
    /// `set_check_numerics`: check every value of every step.
    check_numerics: bool,
    /// Builds the (unfused) training-step graphs; `None`:
    /// `compile_training_fused`.
    compiler: Option<TrainingCompiler>,
    /// The recurrent state carried from batch to batch (`Model::carry`).
    carried: Carried,
}

fn failed(message: impl Into<String>) -> BackendError {
    BackendError::Failed {
        message: message.into(),
    }
}

fn not_configured() -> BackendError {
    failed("the JIT backend was not configured; call `configure` or `configure_inference` first")
}

impl JitBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend that builds its training-step graphs with `compile` (then
    /// fuses them) instead of `compile_training`: for tests of graph-level
    /// mechanisms that no layer of the language uses yet (see
    /// [`TrainingCompiler`]).
    pub fn with_training_compiler(compile: TrainingCompiler) -> Self {
        JitBackend {
            compiler: Some(compile),
            ..Self::default()
        }
    }

    /// The training program for batches of `batch_size`, if compiled.
    pub fn training_program(&self, batch_size: usize) -> Option<&Program> {
        self.train.get(&batch_size)
    }

    fn ensure_params(&self, model: &Model) -> Result<(), BackendError> {
        if self.params.is_empty() && !param_specs(model).is_empty() {
            return Err(failed(
                "no parameters were set; call `set_params` before training",
            ));
        }
        Ok(())
    }

    /// Parameters set earlier must fit `model`.
    fn check_param_sizes(&self, model: &Model) -> Result<(), BackendError> {
        if self.params.is_empty() {
            return Ok(());
        }
        let specs = param_specs(model);
        if specs.len() != self.params.len()
            || specs
                .iter()
                .zip(&self.params)
                .any(|(s, p)| s.shape.iter().product::<usize>() != p.len())
        {
            return Err(failed("the parameters set do not fit the model"));
        }
        Ok(())
    }

    /// Runs the inference program for a batch of `batch.len` (compiled on
    /// first use) with the current parameters, binding the targets when
    /// `with_targets`.
    fn run_inference(
        &mut self,
        model: &Model,
        batch: &Batch<'_>,
        with_targets: bool,
    ) -> Result<&Program, BackendError> {
        let program = match self.eval.entry(batch.len) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => {
                let graph = compile_inference_fused(model, batch.len, None)
                    .map_err(|e| failed(e.to_string()))?;
                slot.insert(lower(&graph)?)
            }
        };
        if with_targets {
            bind_batch(program, model, batch)?;
        } else {
            bind_inputs(program, model, batch)?;
        }
        swap_in(program, &mut self.params, InputKind::Param);
        bind_carried(program, &mut self.carried);
        let ran = program.run(batch.noise_seed);
        swap_in(program, &mut self.params, InputKind::Param);
        ran.map_err(BackendError::from)?;
        keep_carried(program, &mut self.carried);
        Ok(program)
    }

    fn training(
        compiler: Option<TrainingCompiler>,
        model: &Model,
        optimizer: &Optimizer,
        train_size: usize,
        clip: nnc_check::program::Clip,
        batch_size: usize,
    ) -> Result<Program, BackendError> {
        let setup = TrainSetup {
            model,
            optimizer,
            batch_size,
            train_size,
            clip,
        };
        let graph = match compiler {
            None => compile_training_fused(&setup, batch_size, None),
            Some(compile) => compile(&setup, batch_size).and_then(|g| fuse_verified(&g)),
        }
        .map_err(|e| failed(e.to_string()))?;
        Ok(lower(&graph)?)
    }
}

/// Runs `program`, checking the values of every graph node (and of its
/// kernel outputs) as soon as its last action is done, before later nodes
/// reuse the memory; stops at the first node holding a NaN or an infinity
/// and names it in `bad` (`NAME (%N)`).
fn run_checked(
    program: &mut Program,
    step_seed: u64,
    bad: &mut Option<String>,
) -> Result<bool, crate::LowerError> {
    // The kernel-output nodes of each node.
    let graph = program.graph();
    let mut outputs: Vec<Vec<nnc_ir::NodeId>> = vec![Vec::new(); graph.len()];
    for id in graph.ids() {
        if let nnc_ir::Op::KernelOutput { .. } = graph.node(id).op {
            if let Some(kernel) = graph.node(id).inputs.first() {
                outputs[kernel.index()].push(id);
            }
        }
    }
    program.run_observed(step_seed, |node, program| {
        let ids = std::iter::once(node).chain(outputs[node.index()].iter().copied());
        for id in ids {
            if program
                .value(id)
                .is_some_and(|values| values.iter().any(|v| !v.is_finite()))
            {
                let name = &program.graph().node(id).name;
                *bad = Some(format!("{name} (%{})", id.index()));
                return false;
            }
        }
        true
    })
}

impl Backend for JitBackend {
    fn set_check_numerics(&mut self, on: bool) {
        self.check_numerics = on;
    }

    fn name(&self) -> &'static str {
        "jit"
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
                .map(|s| vec![0.0; s.shape.iter().product()])
                .collect();
        }
        self.optimizer = Some(setup.optimizer.clone());
        self.train_size = setup.train_size;
        self.clip = setup.clip;
        self.check_param_sizes(setup.model)?;
        // The full batch and the short last batch of an epoch.
        for size in setup.batch_sizes() {
            if let Entry::Vacant(slot) = self.train.entry(size) {
                slot.insert(Self::training(
                    self.compiler,
                    setup.model,
                    setup.optimizer,
                    setup.train_size,
                    setup.clip,
                    size,
                )?);
            }
        }
        Ok(())
    }

    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError> {
        check_params(self.model.as_deref(), &params)?;
        self.params = params.into_iter().map(|t| t.data).collect();
        Ok(())
    }

    fn params(&self) -> Vec<Tensor> {
        let Some(model) = &self.model else {
            return self
                .params
                .iter()
                .map(|p| Tensor::new(vec![p.len()], p.clone()))
                .collect();
        };
        param_specs(model)
            .into_iter()
            .zip(&self.params)
            .map(|(spec, p)| Tensor::new(spec.shape.clone(), p.clone()))
            .collect()
    }

    fn read_params(&self, start: usize, out: &mut [Tensor]) -> Result<(), BackendError> {
        read_held(self.params.iter().map(Vec::as_slice), start, out)
    }

    fn write_params(&mut self, start: usize, values: &[Tensor]) -> Result<(), BackendError> {
        write_held(self.params.iter_mut().map(Vec::as_mut_slice), start, values)
    }

    fn train_step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<StepStats, BackendError> {
        let model = self.model.clone().ok_or_else(not_configured)?;
        let optimizer = self.optimizer.clone().ok_or_else(not_configured)?;
        self.ensure_params(&model)?;
        if batch.len == 0 {
            return Err(failed("a training batch needs at least one example"));
        }
        let program = match self.train.entry(batch.len) {
            Entry::Occupied(slot) => slot.into_mut(),
            Entry::Vacant(slot) => slot.insert(Self::training(
                self.compiler,
                &model,
                &optimizer,
                self.train_size,
                self.clip,
                batch.len,
            )?),
        };
        bind_batch(program, &model, &batch)?;
        if let Some(lr) = program.input_mut(InputKind::LearningRate) {
            lr.fill(learning_rate);
        }
        swap_in(program, &mut self.params, InputKind::Param);
        swap_in(program, &mut self.state, InputKind::State);
        bind_carried(program, &mut self.carried);
        let mut bad = None;
        let ran = if self.check_numerics {
            run_checked(program, step_seed, &mut bad).map(|_| ())
        } else {
            program.run(step_seed)
        };
        // The inputs go back first, so that on an error the old values stay
        // (a plain SGD update folded into its product has already written
        // its parameter in place).
        swap_in(program, &mut self.params, InputKind::Param);
        swap_in(program, &mut self.state, InputKind::State);
        ran.map_err(BackendError::from)?;
        if let Some(tensor) = bad {
            return Err(BackendError::NonFinite { tensor });
        }
        let cost = program
            .scalar(OutputKind::Cost)
            .ok_or_else(|| failed("the training graph has no cost"))?;
        if !cost.is_finite() {
            return Err(BackendError::NonFinite {
                tensor: "cost".to_string(),
            });
        }
        copy_out(program, &mut self.params, OutputKind::NewParam);
        copy_out(program, &mut self.state, OutputKind::NewState);
        keep_carried(program, &mut self.carried);
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
        let model = self.model.clone().ok_or_else(not_configured)?;
        self.ensure_params(&model)?;
        if batch.len == 0 {
            return Ok(EvalStats::default());
        }
        let program = self.run_inference(&model, &batch, true)?;
        Ok(eval_stats(program, batch.len))
    }

    fn configure_inference(&mut self, model: &Model) -> Result<(), BackendError> {
        if self.model.as_deref() != Some(model) {
            self.model = Some(Arc::new(model.clone()));
            self.eval.clear();
            self.train.clear();
            self.optimizer = None;
            self.state.clear();
        }
        self.check_param_sizes(model)
    }

    fn infer(&mut self, batch: Batch<'_>) -> Result<Inference, BackendError> {
        let model = self.model.clone().ok_or_else(not_configured)?;
        self.ensure_params(&model)?;
        let has_targets = !batch.targets.is_empty();
        if batch.len == 0 {
            return Ok(Inference::empty(&model, has_targets));
        }
        let program = self.run_inference(&model, &batch, has_targets)?;
        let outputs = collect_outputs(&model, batch.len, |name| {
            Ok(program
                .graph()
                .output(name)
                .and_then(|o| program.value(o.node))
                .map(<[f32]>::to_vec))
        })?;
        Ok(Inference {
            stats: has_targets.then(|| eval_stats(program, batch.len)),
            outputs,
        })
    }

    fn optimizer_state(&self) -> Vec<Tensor> {
        let (Some(model), Some(optimizer)) = (&self.model, &self.optimizer) else {
            return Vec::new();
        };
        optimizer_state(model, optimizer)
            .into_iter()
            .zip(&self.state)
            .map(|(spec, values)| Tensor::new(spec.shape, values.clone()))
            .collect()
    }

    fn set_optimizer_state(&mut self, state: Vec<Tensor>) -> Result<(), BackendError> {
        let model = self.model.as_deref().ok_or_else(not_configured)?;
        let optimizer = self.optimizer.as_ref().ok_or_else(not_configured)?;
        // The shapes are checked, so each vector keeps the length of the
        // program input it is swapped with.
        check_state(model, optimizer, &state)?;
        self.state = state.into_iter().map(|t| t.data).collect();
        Ok(())
    }
}

/// The sums of an inference run with targets bound.
fn eval_stats(program: &Program, len: usize) -> EvalStats {
    EvalStats {
        cost_sum: program.scalar(OutputKind::CostSum).unwrap_or(0.0) as f64,
        correct: f64::from(program.scalar(OutputKind::Correct).unwrap_or(0.0)),
        count: len,
        terms: EvalStats::term_sums(|kind| program.scalar(kind)),
    }
}

/// Exchanges each vector of `values` with the program's input buffer of
/// `kind(k)` (both have the same length); doing it twice restores both.
fn swap_in(program: &mut Program, values: &mut [Vec<f32>], kind: fn(usize) -> InputKind) {
    for (k, v) in values.iter_mut().enumerate() {
        if let Some(buf) = program.input_mut(kind(k)) {
            if buf.len() == v.len() {
                std::mem::swap(buf, v);
            }
        }
    }
}

/// Copies each carried state into the program's input for it.
pub(crate) fn bind_carried(program: &mut Program, carried: &mut Carried) {
    for i in 0..program.graph().outputs.len() {
        let OutputKind::Carry(k) = program.graph().outputs[i].kind else {
            continue;
        };
        if let Some(buf) = program.input_mut(InputKind::Carry(k)) {
            let len = buf.len();
            buf.copy_from_slice(carried.start(k, len));
        }
    }
}

/// Keeps the state each `Carry(k)` output ended the batch with.
pub(crate) fn keep_carried(program: &Program, carried: &mut Carried) {
    for output in &program.graph().outputs {
        if let OutputKind::Carry(k) = output.kind {
            if let Some(end) = program.value(output.node) {
                carried.keep(k, end);
            }
        }
    }
}

/// Copies the program's output of `kind(k)` into each vector of
/// `values` (new values that live in the arena are copied out rather than
/// swapped; those a folded product wrote in place are already there).
fn copy_out(program: &Program, values: &mut [Vec<f32>], kind: fn(usize) -> OutputKind) {
    for (k, v) in values.iter_mut().enumerate() {
        if program.in_place(kind(k)) {
            // Already updated in its own vector (swapped back above).
            continue;
        }
        if let Some(new) = program.output(kind(k)) {
            if new.len() == v.len() {
                v.copy_from_slice(new);
            }
        }
    }
}

/// Copies the batch's inputs and targets into the program's buffers
/// (splitting examples across several model inputs; one-hot encoding class
/// indices), as every backend accepts them (`Batch::input_values`,
/// `Batch::target_rows`).
pub(crate) fn bind_batch(
    program: &mut Program,
    model: &Model,
    batch: &Batch<'_>,
) -> Result<(), BackendError> {
    let mut scratch = std::mem::take(program.scratch_mut());
    let result = bind_with(program, model, batch, &mut scratch);
    *program.scratch_mut() = scratch;
    result
}

/// Copies the batch's values of every model input (not the targets) into
/// the program's input buffers.
fn bind_inputs(
    program: &mut Program,
    model: &Model,
    batch: &Batch<'_>,
) -> Result<(), BackendError> {
    let mut scratch = std::mem::take(program.scratch_mut());
    let result = bind_data(program, model, batch, &mut scratch);
    *program.scratch_mut() = scratch;
    result
}

fn bind_with(
    program: &mut Program,
    model: &Model,
    batch: &Batch<'_>,
    scratch: &mut Vec<f32>,
) -> Result<(), BackendError> {
    bind_data(program, model, batch, scratch)?;
    let Some(buf) = program.input_mut(InputKind::Target) else {
        return Ok(());
    };
    let width = buf.len() / batch.len.max(1);
    let rows = batch.target_rows(width, scratch)?;
    if rows.len() != buf.len() {
        return Err(failed("a target buffer does not fit the batch"));
    }
    buf.copy_from_slice(rows);
    Ok(())
}

fn bind_data(
    program: &mut Program,
    model: &Model,
    batch: &Batch<'_>,
    scratch: &mut Vec<f32>,
) -> Result<(), BackendError> {
    for k in 0..model.inputs.len() {
        let values = batch.input_values(model, k, scratch)?;
        if let Some(buf) = program.input_mut(InputKind::Data(k)) {
            if buf.len() != values.len() {
                return Err(failed("a data buffer does not fit the batch"));
            }
            buf.copy_from_slice(values);
        }
    }
    Ok(())
}
