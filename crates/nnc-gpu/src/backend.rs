//! `GpuBackend`: the [`Backend`] contract on WGSL programs run by wgpu.
//!
//! Parameters and optimizer state live in device buffers owned by the
//! backend and bound, as the graph inputs `Param(k)` and `State(k)`, by
//! every program (each batch size's training step and evaluation). A step
//! writes the batch, the learning rate and the dropout masks, then submits
//! one command buffer holding every dispatch of the step and a 4-byte copy
//! of the cost, and reads the cost back. Only when the cost is finite does
//! a second, copy-only command buffer commit the new parameters and state
//! from the program's working memory into the backend's buffers; so after
//! a diverging step the values before it stay, as with the JIT.

use crate::carry::DeviceCarry;
use crate::device::{Gpu, GpuError};
use crate::executable::{create_buffer, Executable, PipelineCache};
use nnc_check::program::{Model, Optimizer};
use nnc_ir::{fuse_verified, Graph, InputKind, OutputKind};
use nnc_lower::backend::{
    check_params, check_state, collect_outputs, Backend, BackendError, Batch, EvalStats, Inference,
    Reuse, StepStats, Tensor, TrainSetup, TrainingCompiler, MAX_COST_TERMS,
};
use nnc_lower::{compile_inference_fused, compile_training_fused, optimizer_state, param_specs};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The wgpu backend (see the crate documentation).
#[derive(Debug, Default)]
pub struct GpuBackend {
    /// Opened at the first call that needs the device.
    gpu: Option<Gpu>,
    /// A cap on buffer and binding sizes, in bytes, below the adapter's
    /// (`None`: the adapter's own limits).
    buffer_limit: Option<u64>,
    model: Option<Arc<Model>>,
    optimizer: Option<Optimizer>,
    train_size: usize,
    clip: nnc_check::program::Clip,
    /// Parameter buffers, in `param_specs` order, and their shapes.
    params: Vec<wgpu::Buffer>,
    shapes: Vec<Vec<usize>>,
    /// Whether `set_params` gave the parameters their values.
    params_set: bool,
    /// Optimizer state buffers, in `optimizer_state` order.
    state: Vec<wgpu::Buffer>,
    /// Training programs by batch size.
    train: BTreeMap<usize, Executable>,
    /// Inference programs by batch size.
    eval: BTreeMap<usize, Executable>,
    pipelines: PipelineCache,
    /// The parameters as last read back or set: what `params` returns if
    /// the device can no longer be read (a lost device).
    checkpoint: Mutex<Vec<Vec<f32>>>,
    /// Host scratch: the batch's values for one input.
    scratch: Vec<f32>,
    /// `set_check_numerics`: read back and check every value of every step.
    check_numerics: bool,
    /// Builds the (unfused) training-step graphs; `None`:
    /// `compile_training_fused`.
    compiler: Option<TrainingCompiler>,
    /// The recurrent state carried from batch to batch (`Model::carry`),
    /// on the device.
    carry: DeviceCarry,
}

fn failed(message: impl Into<String>) -> BackendError {
    BackendError::Failed {
        message: message.into(),
    }
}

fn not_configured() -> BackendError {
    failed("the wgpu backend was not configured; call `configure` first")
}

fn emit_error(error: nnc_wgsl::EmitError) -> BackendError {
    match error {
        nnc_wgsl::EmitError::Unsupported { op, node } => BackendError::Unsupported {
            what: format!(
                "`{op}` (node `{node}`) on the GPU: the WGSL emitter has no shader for it"
            ),
        },
        other => failed(format!("the GPU program could not be built: {other}")),
    }
}

impl GpuBackend {
    /// A backend that opens its device at the first call that needs it
    /// (so that constructing it never fails).
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend whose device allows buffers and bindings of at most
    /// `bytes` (or the adapter's limit, if lower): it behaves as a GPU
    /// with less memory would (the emitter plans for the limit, and
    /// tensors over it are reported).
    pub fn with_buffer_limit(bytes: u64) -> Self {
        GpuBackend {
            buffer_limit: Some(bytes),
            ..Self::default()
        }
    }

    /// A backend that builds its training-step graphs with `compile` (then
    /// fuses them) instead of `compile_training`: for tests of graph-level
    /// mechanisms that no layer of the language uses yet (see
    /// [`TrainingCompiler`]).
    pub fn with_training_compiler(compile: TrainingCompiler) -> Self {
        GpuBackend {
            compiler: Some(compile),
            ..Self::default()
        }
    }

    /// The adapter the backend runs on, once the device is open.
    pub fn adapter(&self) -> Option<&crate::AdapterSummary> {
        self.gpu.as_ref().map(|g| &g.adapter)
    }

    /// Opens the device now (it is otherwise opened by the first call that
    /// needs it); the error says what to install when there is no adapter.
    pub fn open(&mut self) -> Result<&Gpu, BackendError> {
        if self.gpu.is_none() {
            let cap = self.buffer_limit;
            self.gpu = Some(Gpu::acquire_with(&|mut limits| {
                if let Some(cap) = cap {
                    limits.max_buffer_size = limits.max_buffer_size.min(cap);
                    limits.max_storage_buffer_binding_size =
                        limits.max_storage_buffer_binding_size.min(cap);
                }
                limits
            })?);
        }
        self.gpu.as_ref().ok_or_else(not_configured)
    }

    /// The emitted training program for batches of `batch_size`, if built.
    pub fn training_program(&self, batch_size: usize) -> Option<&nnc_wgsl::ShaderProgram> {
        self.train.get(&batch_size).map(|e| &e.program)
    }

    /// Reads back the value of graph node `name` of the training program
    /// of `batch_size` as the last step left it (`None` when the program
    /// does not keep it). For tests that compare intermediate values.
    pub fn read_training_value(
        &self,
        batch_size: usize,
        name: &str,
    ) -> Result<Option<Vec<f32>>, BackendError> {
        let (Some(gpu), Some(exe)) = (&self.gpu, self.train.get(&batch_size)) else {
            return Ok(None);
        };
        let Some(node) = exe.program.graph.find(name) else {
            return Ok(None);
        };
        let Some(range) = exe.program.node_values.get(node.index()).copied().flatten() else {
            return Ok(None);
        };
        Ok(Some(gpu.read(
            &exe.buffers[range.buffer],
            range.offset,
            range.len,
        )?))
    }

    /// Makes sure there is one parameter buffer per shape, recreating them
    /// (and dropping the programs bound to the old ones) if the shapes
    /// changed.
    fn ensure_param_buffers(&mut self, shapes: Vec<Vec<usize>>) -> Result<(), BackendError> {
        if self.shapes == shapes && self.params.len() == shapes.len() {
            return Ok(());
        }
        let names: Vec<String> = match &self.model {
            Some(model) => param_specs(model).into_iter().map(|s| s.name).collect(),
            None => Vec::new(),
        };
        let gpu = self.open()?;
        // A parameter is bound whole: it must fit one binding and one buffer.
        let (limit, limit_name) =
            if gpu.limits.max_buffer_size < gpu.limits.max_storage_buffer_binding_size {
                (gpu.limits.max_buffer_size, "max_buffer_size")
            } else {
                (
                    gpu.limits.max_storage_buffer_binding_size,
                    "max_storage_buffer_binding_size",
                )
            };
        for (k, shape) in shapes.iter().enumerate() {
            let bytes = shape.iter().product::<usize>() as u64 * 4;
            if bytes > limit {
                let name = names
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| format!("parameter {k}"));
                return Err(failed(format!(
                    "the GPU program could not be built: `{name}` needs {bytes} bytes, over the \
                     device's {limit_name} of {limit} bytes"
                )));
            }
        }
        let buffers = gpu.scoped("creating the parameter buffers", || {
            shapes
                .iter()
                .enumerate()
                .map(|(k, s)| create_buffer(gpu, &format!("param{k}"), s.iter().product()))
                .collect::<Vec<_>>()
        })?;
        self.params = buffers;
        self.shapes = shapes;
        self.params_set = false;
        self.train.clear();
        self.eval.clear();
        Ok(())
    }

    fn ensure_params(&self, model: &Model) -> Result<(), BackendError> {
        if !self.params_set && !param_specs(model).is_empty() {
            return Err(failed(
                "no parameters were set; call `set_params` before training",
            ));
        }
        Ok(())
    }

    /// Emits `graph` for this device and builds it.
    fn build(&mut self, graph: &Graph) -> Result<Executable, BackendError> {
        let gpu = self.gpu.as_ref().ok_or_else(not_configured)?;
        let target = gpu.target();
        let program = nnc_wgsl::emit(graph, &target).map_err(emit_error)?;
        program
            .check(&target)
            .map_err(|e| failed(format!("the emitted GPU program is malformed: {e}")))?;
        let params = &self.params;
        let state = &self.state;
        let shared = |kind: InputKind| match kind {
            InputKind::Param(k) => params.get(k).cloned(),
            InputKind::State(k) => state.get(k).cloned(),
            _ => None,
        };
        Ok(Executable::build(
            gpu,
            program,
            &shared,
            &mut self.pipelines,
        )?)
    }

    fn build_training(&mut self, batch_size: usize) -> Result<(), BackendError> {
        if self.train.contains_key(&batch_size) {
            return Ok(());
        }
        let model = self.model.clone().ok_or_else(not_configured)?;
        let optimizer = self.optimizer.clone().ok_or_else(not_configured)?;
        let setup = TrainSetup {
            model: &model,
            optimizer: &optimizer,
            batch_size,
            train_size: self.train_size,
            clip: self.clip,
        };
        let graph = match self.compiler {
            None => compile_training_fused(&setup, batch_size, None),
            Some(compile) => compile(&setup, batch_size).and_then(|g| fuse_verified(&g)),
        }
        .map_err(|e| failed(e.to_string()))?;
        let exe = self.build(&graph)?;
        for k in 0..self.params.len() {
            if exe
                .program
                .graph
                .output_of(OutputKind::NewParam(k))
                .is_some()
                && exe.output(OutputKind::NewParam(k)).is_none()
            {
                return Err(failed(format!(
                    "the GPU program does not keep the new value of parameter {k}"
                )));
            }
        }
        self.train.insert(batch_size, exe);
        Ok(())
    }

    fn build_inference(&mut self, batch_size: usize) -> Result<(), BackendError> {
        if self.eval.contains_key(&batch_size) {
            return Ok(());
        }
        let model = self.model.clone().ok_or_else(not_configured)?;
        let graph =
            compile_inference_fused(&model, batch_size, None).map_err(|e| failed(e.to_string()))?;
        let exe = self.build(&graph)?;
        self.eval.insert(batch_size, exe);
        Ok(())
    }

    /// The parameter shapes of `model`, after checking that parameters set
    /// earlier (if any) have the same sizes.
    fn fitting_shapes(&self, model: &Model) -> Result<Vec<Vec<usize>>, BackendError> {
        let shapes: Vec<Vec<usize>> = param_specs(model).into_iter().map(|s| s.shape).collect();
        if self.params_set
            && (shapes.len() != self.shapes.len()
                || shapes
                    .iter()
                    .zip(&self.shapes)
                    .any(|(a, b)| a.iter().product::<usize>() != b.iter().product::<usize>()))
        {
            return Err(failed("the parameters set do not fit the model"));
        }
        Ok(shapes)
    }

    /// Takes the model's parameter shapes: the values set earlier stay
    /// (same sizes), else buffers are made for them.
    fn take_param_shapes(&mut self, shapes: Vec<Vec<usize>>) -> Result<(), BackendError> {
        if self.params_set {
            self.shapes = shapes;
            Ok(())
        } else {
            self.ensure_param_buffers(shapes)
        }
    }

    /// Runs the inference program of `batch.len` (built on first use) on
    /// the batch, binding the targets when `with_targets`, and reads back
    /// the sums (with targets) and, when `outputs`, every model output.
    fn run_inference(
        &mut self,
        model: &Model,
        batch: &Batch<'_>,
        with_targets: bool,
        outputs: bool,
    ) -> Result<Inference, BackendError> {
        self.build_inference(batch.len)?;
        let gpu = self.gpu.as_ref().ok_or_else(not_configured)?;
        let exe = self.eval.get_mut(&batch.len).ok_or_else(not_configured)?;
        write_inputs(gpu, exe, model, batch, &mut self.scratch)?;
        if with_targets {
            write_targets(gpu, exe, batch, &mut self.scratch)?;
        }
        self.carry.prepare(gpu, exe)?;
        exe.write_uploads(gpu, batch.noise_seed);
        let exe = &*exe;
        let carry = &mut self.carry;
        let mut kinds = vec![OutputKind::CostSum, OutputKind::Correct];
        kinds.extend((0..MAX_COST_TERMS).map(OutputKind::CostTermSum));
        gpu.scoped("an evaluation", || {
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("nnc evaluation"),
                });
            carry.encode_in(exe, &mut encoder);
            exe.encode(&mut encoder);
            carry.encode_out(gpu, exe, &mut encoder);
            if with_targets {
                exe.encode_scalars(&mut encoder, &kinds);
            }
            gpu.queue.submit([encoder.finish()]);
        })?;
        let stats = if with_targets {
            let values = exe.read_scalars(gpu, &kinds)?;
            Some(EvalStats {
                cost_sum: values[0].unwrap_or(0.0) as f64,
                correct: f64::from(values[1].unwrap_or(0.0).max(0.0)),
                count: batch.len,
                terms: EvalStats::term_sums(|kind| match kind {
                    OutputKind::CostTermSum(k) => values.get(2 + k).copied().flatten(),
                    _ => None,
                }),
            })
        } else {
            None
        };
        let outputs = if outputs {
            collect_outputs(model, batch.len, |name| {
                let Some(node) = exe.program.graph.output(name).map(|o| o.node) else {
                    return Ok(None);
                };
                let Some(range) = exe.program.node_values.get(node.index()).copied().flatten()
                else {
                    return Ok(None);
                };
                Ok(Some(gpu.read(
                    &exe.buffers[range.buffer],
                    range.offset,
                    range.len,
                )?))
            })?
        } else {
            Vec::new()
        };
        Ok(Inference { stats, outputs })
    }

    /// Reads every parameter back from the device.
    fn read_params(&self) -> Result<Vec<Vec<f32>>, GpuError> {
        let Some(gpu) = &self.gpu else {
            return Ok(Vec::new());
        };
        self.params
            .iter()
            .zip(&self.shapes)
            .map(|(buffer, shape)| gpu.read(buffer, 0, shape.iter().product()))
            .collect()
    }
}

/// Writes the batch's examples (split across the model's inputs) and its
/// targets (class indices made one-hot), as every backend accepts them
/// (`Batch::input_values`, `Batch::target_rows`).
fn write_batch(
    gpu: &Gpu,
    exe: &mut Executable,
    model: &Model,
    batch: &Batch<'_>,
    scratch: &mut Vec<f32>,
) -> Result<(), BackendError> {
    write_inputs(gpu, exe, model, batch, scratch)?;
    write_targets(gpu, exe, batch, scratch)
}

/// Writes the batch's values of every model input.
fn write_inputs(
    gpu: &Gpu,
    exe: &mut Executable,
    model: &Model,
    batch: &Batch<'_>,
    scratch: &mut Vec<f32>,
) -> Result<(), BackendError> {
    for k in 0..model.inputs.len() {
        let values = batch.input_values(model, k, scratch)?;
        if exe.input_len(InputKind::Data(k)).is_some() {
            exe.write_input(gpu, InputKind::Data(k), values)?;
        }
    }
    Ok(())
}

/// Writes the batch's targets as rows of the program's target input.
fn write_targets(
    gpu: &Gpu,
    exe: &mut Executable,
    batch: &Batch<'_>,
    scratch: &mut Vec<f32>,
) -> Result<(), BackendError> {
    let Some(len) = exe.input_len(InputKind::Target) else {
        return Ok(());
    };
    let rows = batch.target_rows(len / batch.len.max(1), scratch)?;
    exe.write_input(gpu, InputKind::Target, rows)?;
    Ok(())
}

impl Backend for GpuBackend {
    fn name(&self) -> &'static str {
        "wgpu"
    }

    fn set_check_numerics(&mut self, on: bool) {
        self.check_numerics = on;
    }

    fn configure(&mut self, setup: &TrainSetup<'_>) -> Result<(), BackendError> {
        self.open()?;
        let reuse = Reuse::between(
            self.model.as_deref(),
            self.optimizer.as_ref(),
            self.train_size,
            self.clip,
            setup,
        );
        let shapes = self.fitting_shapes(setup.model)?;
        if reuse.model_changed {
            self.model = Some(Arc::new(setup.model.clone()));
            self.eval.clear();
        }
        if !reuse.steps_kept {
            self.train.clear();
        }
        self.take_param_shapes(shapes)?;
        if !reuse.state_kept {
            let gpu = self.gpu.as_ref().ok_or_else(not_configured)?;
            let lens: Vec<usize> = optimizer_state(setup.model, setup.optimizer)
                .iter()
                .map(|s| s.shape.iter().product())
                .collect();
            self.state = gpu.scoped("creating the optimizer state", || {
                lens.iter()
                    .enumerate()
                    .map(|(k, &len)| create_buffer(gpu, &format!("state{k}"), len))
                    .collect::<Vec<_>>()
            })?;
            self.train.clear();
        }
        self.optimizer = Some(setup.optimizer.clone());
        self.train_size = setup.train_size;
        self.clip = setup.clip;
        // The full batch and the short last batch of an epoch.
        for size in setup.batch_sizes() {
            self.build_training(size)?;
        }
        Ok(())
    }

    fn set_params(&mut self, params: Vec<Tensor>) -> Result<(), BackendError> {
        check_params(self.model.as_deref(), &params)?;
        self.ensure_param_buffers(params.iter().map(|p| p.shape.clone()).collect())?;
        let gpu = self.gpu.as_ref().ok_or_else(not_configured)?;
        gpu.scoped("writing the parameters", || {
            for (buffer, p) in self.params.iter().zip(&params) {
                if !p.data.is_empty() {
                    gpu.queue
                        .write_buffer(buffer, 0, &crate::device::bytes_of(&p.data));
                }
            }
        })?;
        self.params_set = true;
        if let Ok(mut checkpoint) = self.checkpoint.lock() {
            *checkpoint = params.into_iter().map(|t| t.data).collect();
        }
        Ok(())
    }

    /// Reads the parameters back from the device. If that fails (the
    /// device was lost), returns the values last read or set, the last
    /// checkpoint the loop can keep.
    fn params(&self) -> Vec<Tensor> {
        let values = match self.read_params() {
            Ok(values) if values.len() == self.shapes.len() => {
                if let Ok(mut checkpoint) = self.checkpoint.lock() {
                    checkpoint.clone_from(&values);
                }
                values
            }
            _ => self
                .checkpoint
                .lock()
                .map(|c| c.clone())
                .unwrap_or_default(),
        };
        self.shapes
            .iter()
            .zip(values)
            .map(|(shape, data)| Tensor::new(shape.clone(), data))
            .collect()
    }

    fn train_step(
        &mut self,
        batch: Batch<'_>,
        learning_rate: f32,
        step_seed: u64,
    ) -> Result<StepStats, BackendError> {
        let model = self.model.clone().ok_or_else(not_configured)?;
        self.ensure_params(&model)?;
        if batch.len == 0 {
            return Err(failed("a training batch needs at least one example"));
        }
        self.build_training(batch.len)?;
        let gpu = self.gpu.as_ref().ok_or_else(not_configured)?;
        let exe = self.train.get_mut(&batch.len).ok_or_else(not_configured)?;
        write_batch(gpu, exe, &model, &batch, &mut self.scratch)?;
        self.carry.prepare(gpu, exe)?;
        exe.write_input(gpu, InputKind::LearningRate, &[learning_rate])?;
        exe.write_uploads(gpu, step_seed);
        let exe = &*exe;
        let carry = &mut self.carry;
        let checked = gpu.scoped("a training step", || {
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("nnc training step"),
                });
            carry.encode_in(exe, &mut encoder);
            let checked = if self.check_numerics {
                Some(exe.encode_checked(gpu, &mut encoder))
            } else {
                exe.encode(&mut encoder);
                None
            };
            exe.encode_scalars(&mut encoder, &[OutputKind::Cost]);
            gpu.queue.submit([encoder.finish()]);
            checked
        })?;
        if let Some((readback, places)) = checked {
            // Every value the step wrote, node by node in graph order; the
            // new parameters are not committed when one is not finite.
            let total = places.last().map_or(0, |&(_, at, len)| at + len);
            let values = gpu.read_staging(&readback, total)?;
            for (node, at, len) in places {
                if values[at..at + len].iter().any(|v| !v.is_finite()) {
                    let name = &exe.program.graph.node(node).name;
                    return Err(BackendError::NonFinite {
                        tensor: format!("{name} (%{})", node.index()),
                    });
                }
            }
        }
        let cost = exe
            .read_scalars(gpu, &[OutputKind::Cost])?
            .first()
            .copied()
            .flatten()
            .ok_or_else(|| failed("the training graph has no cost"))?;
        if !cost.is_finite() {
            return Err(BackendError::NonFinite {
                tensor: "cost".to_string(),
            });
        }
        // Commit the new parameters and state.
        gpu.scoped("committing the new parameters", || {
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("nnc commit"),
                });
            let targets = self
                .params
                .iter()
                .enumerate()
                .map(|(k, b)| (OutputKind::NewParam(k), b))
                .chain(
                    self.state
                        .iter()
                        .enumerate()
                        .map(|(k, b)| (OutputKind::NewState(k), b)),
                );
            for (kind, destination) in targets {
                let Some(range) = exe.output(kind) else {
                    continue;
                };
                let source = &exe.buffers[range.buffer];
                if source == destination {
                    continue;
                }
                encoder.copy_buffer_to_buffer(
                    source,
                    range.byte_offset(),
                    destination,
                    0,
                    range.byte_len(),
                );
            }
            // The state the next batch starts from.
            carry.encode_out(gpu, exe, &mut encoder);
            gpu.queue.submit([encoder.finish()]);
        })?;
        Ok(StepStats::cost(cost as f64))
    }

    fn reset_carry(&mut self) {
        self.carry.reset();
    }

    /// Reads the states back from the device; none when it cannot be
    /// read (a lost device, whose next step fails anyway).
    fn carried(&self) -> Vec<Vec<f32>> {
        self.gpu
            .as_ref()
            .and_then(|gpu| self.carry.read(gpu).ok())
            .unwrap_or_default()
    }

    fn set_carried(&mut self, values: Vec<Vec<f32>>) {
        if let Some(gpu) = &self.gpu {
            self.carry.write(gpu, &values);
        }
    }

    fn evaluate(&mut self, batch: Batch<'_>) -> Result<EvalStats, BackendError> {
        let model = self.model.clone().ok_or_else(not_configured)?;
        self.ensure_params(&model)?;
        if batch.len == 0 {
            return Ok(EvalStats::default());
        }
        let ran = self.run_inference(&model, &batch, true, false)?;
        ran.stats
            .ok_or_else(|| failed("an evaluation read no sums"))
    }

    fn configure_inference(&mut self, model: &Model) -> Result<(), BackendError> {
        self.open()?;
        let shapes = self.fitting_shapes(model)?;
        if self.model.as_deref() != Some(model) {
            self.model = Some(Arc::new(model.clone()));
            self.eval.clear();
            self.train.clear();
            self.optimizer = None;
            self.state.clear();
        }
        self.take_param_shapes(shapes)
    }

    fn infer(&mut self, batch: Batch<'_>) -> Result<Inference, BackendError> {
        let model = self.model.clone().ok_or_else(not_configured)?;
        self.ensure_params(&model)?;
        let has_targets = !batch.targets.is_empty();
        if batch.len == 0 {
            return Ok(Inference::empty(&model, has_targets));
        }
        self.run_inference(&model, &batch, has_targets, true)
    }

    /// Reads the optimizer state back from the device. If the device can
    /// no longer be read, the result is empty, which no checkpoint of a
    /// model with optimizer state accepts: the caller reports it.
    fn optimizer_state(&self) -> Vec<Tensor> {
        let (Some(gpu), Some(model), Some(optimizer)) = (&self.gpu, &self.model, &self.optimizer)
        else {
            return Vec::new();
        };
        optimizer_state(model, optimizer)
            .into_iter()
            .zip(&self.state)
            .map(|(spec, buffer)| {
                let values = gpu.read(buffer, 0, spec.shape.iter().product())?;
                Ok(Tensor::new(spec.shape, values))
            })
            .collect::<Result<Vec<_>, GpuError>>()
            .unwrap_or_default()
    }

    /// Writes the state into the existing buffers (every program binds
    /// them, so they are written, never replaced).
    fn set_optimizer_state(&mut self, state: Vec<Tensor>) -> Result<(), BackendError> {
        let model = self.model.as_deref().ok_or_else(not_configured)?;
        let optimizer = self.optimizer.as_ref().ok_or_else(not_configured)?;
        check_state(model, optimizer, &state)?;
        let gpu = self.gpu.as_ref().ok_or_else(not_configured)?;
        gpu.scoped("writing the optimizer state", || {
            for (buffer, t) in self.state.iter().zip(&state) {
                if !t.data.is_empty() {
                    gpu.queue
                        .write_buffer(buffer, 0, &crate::device::bytes_of(&t.data));
                }
            }
        })?;
        Ok(())
    }
}
