//! An emitted [`ShaderProgram`] made ready to run on one device: its
//! buffers created, one compute pipeline per kernel, one bind group per
//! dispatch. All of that is built once (when the backend is configured for
//! a phase); a run only writes the host-side inputs, encodes the
//! dispatches into the caller's command encoder, and copies the scalars it
//! reports into a small staging buffer.

use crate::device::{Gpu, GpuError};
use nnc_ir::rng::dropout_mask;
use nnc_ir::{InputKind, OutputKind};
use nnc_wgsl::{BindingKind, BufferRole, Range, ShaderKernel, ShaderProgram, UploadKind};
use std::collections::HashMap;
use std::sync::Arc;

/// The most scalar outputs one read-back returns: the cost sum, the
/// correct count and the sums of up to `MAX_COST_TERMS` cost terms.
const MAX_SCALARS: usize = 2 + nnc_lower::backend::MAX_COST_TERMS;

/// A compute pipeline and the layout of its one bind group.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
}

/// Pipelines by shader source and entry point, so that a kernel shared by
/// the programs of several batch sizes is compiled once.
pub(crate) type PipelineCache = HashMap<(String, String), Arc<Pipeline>>;

/// A program on the device.
#[derive(Debug)]
pub(crate) struct Executable {
    pub(crate) program: ShaderProgram,
    /// One per `program.buffers`; parameters and optimizer state are the
    /// backend's own buffers, shared by every program.
    pub(crate) buffers: Vec<wgpu::Buffer>,
    pipelines: Vec<Arc<Pipeline>>,
    bind_groups: Vec<wgpu::BindGroup>,
    /// `MAP_READ` buffer for the scalars a run reports.
    staging: wgpu::Buffer,
    /// Host scratch for the values written before a run.
    scratch: Vec<f32>,
    bytes: Vec<u8>,
}

/// The usages of every buffer: bound as storage, written by the queue or
/// by copies, and read back by copies.
fn usages() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC
}

/// Creates a zeroed device buffer of `len` values (wgpu zero-fills new
/// buffers).
pub(crate) fn create_buffer(gpu: &Gpu, name: &str, len: usize) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(name),
        size: (len.max(1) * 4) as u64,
        usage: usages(),
        mapped_at_creation: false,
    })
}

impl Executable {
    /// Creates the program's buffers (taking `shared(kind)` for the
    /// inputs the backend owns), its pipelines (from `cache` where already
    /// built) and its bind groups.
    pub(crate) fn build(
        gpu: &Gpu,
        program: ShaderProgram,
        shared: &dyn Fn(InputKind) -> Option<wgpu::Buffer>,
        cache: &mut PipelineCache,
    ) -> Result<Executable, GpuError> {
        let mut buffers = Vec::with_capacity(program.buffers.len());
        for spec in &program.buffers {
            let own = match spec.role {
                BufferRole::Input(kind) => shared(kind),
                BufferRole::Work | BufferRole::Upload => None,
            };
            let buffer = match own {
                Some(buffer) => {
                    if buffer.size() < spec.len as u64 * 4 {
                        return Err(GpuError::Rejected {
                            what: format!("the program's buffer `{}`", spec.name),
                            message: format!(
                                "it needs {} values, the backend's buffer holds {}",
                                spec.len,
                                buffer.size() / 4
                            ),
                        });
                    }
                    buffer
                }
                None => gpu.scoped(&format!("creating buffer `{}`", spec.name), || {
                    create_buffer(gpu, &spec.name, spec.len)
                })?,
            };
            buffers.push(buffer);
        }
        let mut pipelines = Vec::with_capacity(program.kernels.len());
        for kernel in &program.kernels {
            let key = (kernel.source.clone(), kernel.entry_point.clone());
            let pipeline = match cache.get(&key) {
                Some(p) => Arc::clone(p),
                None => {
                    let p = Arc::new(create_pipeline(gpu, kernel)?);
                    cache.insert(key, Arc::clone(&p));
                    p
                }
            };
            pipelines.push(pipeline);
        }
        let bind_groups = gpu.scoped("creating the bind groups", || {
            program
                .dispatches
                .iter()
                .map(|dispatch| {
                    let entries: Vec<wgpu::BindGroupEntry<'_>> = dispatch
                        .ranges
                        .iter()
                        .enumerate()
                        .map(|(i, r)| wgpu::BindGroupEntry {
                            binding: i as u32,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer: &buffers[r.buffer],
                                offset: r.byte_offset(),
                                size: wgpu::BufferSize::new(r.byte_len()),
                            }),
                        })
                        .collect();
                    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: Some(&program.kernels[dispatch.kernel].name),
                        layout: &pipelines[dispatch.kernel].layout,
                        entries: &entries,
                    })
                })
                .collect::<Vec<_>>()
        })?;
        let staging = gpu.scoped("creating the read-back buffer", || {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("nnc scalars"),
                size: 4 * MAX_SCALARS as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        })?;
        Ok(Executable {
            program,
            buffers,
            pipelines,
            bind_groups,
            staging,
            scratch: Vec::new(),
            bytes: Vec::new(),
        })
    }

    /// Writes `values` into the buffer of input `kind` (nothing when the
    /// program has no such input). The write lands before the next
    /// submitted command buffer.
    pub(crate) fn write_input(
        &mut self,
        gpu: &Gpu,
        kind: InputKind,
        values: &[f32],
    ) -> Result<(), GpuError> {
        let Some(index) = self.program.input_buffer(kind) else {
            return Ok(());
        };
        let spec = &self.program.buffers[index];
        if values.len() != spec.len {
            return Err(GpuError::Rejected {
                what: format!("the values of `{}`", spec.name),
                message: format!("{} values for a buffer of {}", values.len(), spec.len),
            });
        }
        fill_bytes(&mut self.bytes, values);
        gpu.queue.write_buffer(&self.buffers[index], 0, &self.bytes);
        Ok(())
    }

    /// The length of input `kind`'s buffer, if the program has it.
    pub(crate) fn input_len(&self, kind: InputKind) -> Option<usize> {
        self.program
            .input_buffer(kind)
            .map(|i| self.program.buffers[i].len)
    }

    /// Draws the uploads (dropout masks, noise) of a run with `step_seed` and
    /// writes them.
    pub(crate) fn write_uploads(&mut self, gpu: &Gpu, step_seed: u64) {
        for upload in &self.program.uploads {
            self.scratch.clear();
            match upload.what {
                UploadKind::DropoutMask { p, stream } => self
                    .scratch
                    .extend(dropout_mask(p, step_seed, stream).take(upload.range.len)),
                UploadKind::Random { noise, stream } => self
                    .scratch
                    .extend(noise.draws(step_seed, stream).take(upload.range.len)),
            }
            fill_bytes(&mut self.bytes, &self.scratch);
            gpu.queue.write_buffer(
                &self.buffers[upload.range.buffer],
                upload.range.byte_offset(),
                &self.bytes,
            );
        }
    }

    /// Encodes every dispatch of the program, in order, as one compute
    /// pass.
    pub(crate) fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("nnc step"),
            timestamp_writes: None,
        });
        let mut current = usize::MAX;
        for (dispatch, group) in self.program.dispatches.iter().zip(&self.bind_groups) {
            if dispatch.kernel != current {
                pass.set_pipeline(&self.pipelines[dispatch.kernel].pipeline);
                current = dispatch.kernel;
            }
            pass.set_bind_group(0, group, &[]);
            let [x, y, z] = dispatch.workgroups;
            pass.dispatch_workgroups(x, y, z);
        }
    }

    /// [`Executable::encode`] for `--check-numerics`: each dispatch in a
    /// compute pass of its own, and after the last dispatch of each graph
    /// node a copy of every range its dispatches write (bound read-write)
    /// into a new read-back buffer, before later nodes reuse the memory.
    /// Returns the buffer and, in order, each copy's node, offset and
    /// length (elements) in it.
    pub(crate) fn encode_checked(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
    ) -> (wgpu::Buffer, Vec<(nnc_ir::NodeId, usize, usize)>) {
        let dispatches = &self.program.dispatches;
        let mut copies: Vec<(nnc_ir::NodeId, Range)> = Vec::new();
        for (i, (dispatch, group)) in dispatches.iter().zip(&self.bind_groups).enumerate() {
            {
                let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("nnc checked dispatch"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.pipelines[dispatch.kernel].pipeline);
                pass.set_bind_group(0, group, &[]);
                let [x, y, z] = dispatch.workgroups;
                pass.dispatch_workgroups(x, y, z);
            }
            let last = dispatches
                .get(i + 1)
                .is_none_or(|next| next.origin != dispatch.origin);
            if last {
                // Every range the node's dispatches wrote, once each.
                let mut written: Vec<Range> = Vec::new();
                for d in dispatches.iter().filter(|d| d.origin == dispatch.origin) {
                    let kinds = &self.program.kernels[d.kernel].bindings;
                    for (range, kind) in d.ranges.iter().zip(kinds) {
                        if *kind == BindingKind::ReadWrite && !written.contains(range) {
                            written.push(*range);
                        }
                    }
                }
                copies.extend(written.into_iter().map(|r| (dispatch.origin, r)));
            }
        }
        let total: usize = copies.iter().map(|(_, r)| r.len).sum();
        let readback = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("nnc check-numerics read-back"),
            size: (total.max(1) * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut at = 0;
        let mut places = Vec::with_capacity(copies.len());
        for (node, range) in copies {
            encoder.copy_buffer_to_buffer(
                &self.buffers[range.buffer],
                range.byte_offset(),
                &readback,
                (at * 4) as u64,
                range.byte_len(),
            );
            places.push((node, at, range.len));
            at += range.len;
        }
        (readback, places)
    }

    /// Where output `kind` lives after a run.
    pub(crate) fn output(&self, kind: OutputKind) -> Option<Range> {
        self.program.output_range(kind)
    }

    /// Encodes copies of the given scalar outputs into the staging buffer
    /// (slot `i` for the `i`-th, at most [`MAX_SCALARS`]); outputs the
    /// program lacks are skipped.
    pub(crate) fn encode_scalars(&self, encoder: &mut wgpu::CommandEncoder, kinds: &[OutputKind]) {
        for (slot, &kind) in kinds.iter().enumerate().take(MAX_SCALARS) {
            if let Some(range) = self.output(kind) {
                encoder.copy_buffer_to_buffer(
                    &self.buffers[range.buffer],
                    range.byte_offset(),
                    &self.staging,
                    slot as u64 * 4,
                    4,
                );
            }
        }
    }

    /// Reads the scalars copied by [`Executable::encode_scalars`] after the
    /// submission (waits for the device). Outputs the program lacks are
    /// `None`.
    pub(crate) fn read_scalars(
        &self,
        gpu: &Gpu,
        kinds: &[OutputKind],
    ) -> Result<Vec<Option<f32>>, GpuError> {
        let values = gpu.read_staging(&self.staging, kinds.len().clamp(1, MAX_SCALARS))?;
        Ok(kinds
            .iter()
            .enumerate()
            .map(|(slot, &kind)| self.output(kind).and_then(|_| values.get(slot).copied()))
            .collect())
    }
}

fn fill_bytes(bytes: &mut Vec<u8>, values: &[f32]) {
    bytes.clear();
    bytes.reserve(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
}

/// Compiles one kernel: its shader module, bind group layout (storage
/// buffers, read-only or read-write as the kernel declares) and pipeline.
fn create_pipeline(gpu: &Gpu, kernel: &ShaderKernel) -> Result<Pipeline, GpuError> {
    gpu.scoped(
        &format!("kernel `{}` ({})", kernel.name, kernel.variant),
        || {
            let module = gpu
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&kernel.name),
                    source: wgpu::ShaderSource::Wgsl(kernel.source.as_str().into()),
                });
            let entries: Vec<wgpu::BindGroupLayoutEntry> = kernel
                .bindings
                .iter()
                .enumerate()
                .map(|(i, kind)| wgpu::BindGroupLayoutEntry {
                    binding: i as u32,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: *kind == BindingKind::ReadOnly,
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                })
                .collect();
            let layout = gpu
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(&kernel.name),
                    entries: &entries,
                });
            let pipeline_layout =
                gpu.device
                    .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                        label: Some(&kernel.name),
                        bind_group_layouts: &[Some(&layout)],
                        immediate_size: 0,
                    });
            let pipeline = gpu
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&kernel.name),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(&kernel.entry_point),
                    compilation_options: Default::default(),
                    cache: None,
                });
            Pipeline { pipeline, layout }
        },
    )
}

/// A program loaded on a device and run on its own, outside any backend:
/// every graph input gets a buffer of its own. For tests of the emitter's
/// kernels and of the executor (a hand-written program), and for tools.
#[derive(Debug)]
pub struct LoadedProgram {
    exe: Executable,
}

impl LoadedProgram {
    /// Creates the program's buffers, pipelines and bind groups on `gpu`.
    pub fn load(gpu: &Gpu, program: ShaderProgram) -> Result<LoadedProgram, GpuError> {
        let mut cache = PipelineCache::new();
        let exe = Executable::build(gpu, program, &|_| None, &mut cache)?;
        Ok(LoadedProgram { exe })
    }

    pub fn program(&self) -> &ShaderProgram {
        &self.exe.program
    }

    /// Writes the whole value of graph input `kind` (its buffer's length);
    /// inputs the program lacks are ignored.
    pub fn write(&mut self, gpu: &Gpu, kind: InputKind, values: &[f32]) -> Result<(), GpuError> {
        self.exe.write_input(gpu, kind, values)
    }

    /// Draws the uploads for `step_seed`, runs every dispatch in one
    /// command buffer and waits for it.
    pub fn run(&mut self, gpu: &Gpu, step_seed: u64) -> Result<(), GpuError> {
        self.exe.write_uploads(gpu, step_seed);
        let exe = &self.exe;
        gpu.scoped("a run", || {
            let mut encoder = gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("nnc run"),
                });
            exe.encode(&mut encoder);
            gpu.queue.submit([encoder.finish()]);
        })?;
        gpu.wait()
    }

    /// Reads `range` back.
    pub fn read(&self, gpu: &Gpu, range: Range) -> Result<Vec<f32>, GpuError> {
        let buffer = self
            .exe
            .buffers
            .get(range.buffer)
            .ok_or_else(|| GpuError::Rejected {
                what: "a read-back".to_string(),
                message: format!("buffer {} does not exist", range.buffer),
            })?;
        gpu.read(buffer, range.offset, range.len)
    }

    /// Reads back the value of the graph output of `kind`, if kept.
    pub fn output(&self, gpu: &Gpu, kind: OutputKind) -> Result<Option<Vec<f32>>, GpuError> {
        match self.exe.output(kind) {
            Some(range) => self.read(gpu, range).map(Some),
            None => Ok(None),
        }
    }
}
