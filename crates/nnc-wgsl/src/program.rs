//! What the emitter hands the executor: device buffers, shader kernels and
//! the dispatches of one run of a graph, plus the device limits it was
//! emitted for. This file is the interface between `nnc-wgsl` and the wgpu
//! executor (`nnc-gpu`); it only grows.
//!
//! Units: buffer lengths, offsets and range lengths count `f32` elements
//! (4 bytes each); [`Target`] gives device limits in the units wgpu uses
//! (bytes, invocations, workgroups).

use nnc_ir::{Graph, InputKind, NodeId, OutputKind};
use std::fmt;

/// What [`crate::emit`] makes of a fused graph: device buffers, shader
/// kernels, and the dispatches of one run of the graph (one training step,
/// or one evaluation batch), in order. Executing the dispatches in order
/// over the buffers computes the graph; nothing runs on the host between
/// them. Before each run the host writes the graph inputs (data, target,
/// learning rate; parameters and optimizer state when they changed) into
/// their buffers and fills the [`Upload`]s.
#[derive(Clone, Debug)]
pub struct ShaderProgram {
    /// The fused graph it came from (batch size baked in).
    pub graph: Graph,
    /// Device storage buffers of `f32` elements.
    pub buffers: Vec<BufferSpec>,
    /// Distinct shader modules, one compute pipeline each.
    pub kernels: Vec<ShaderKernel>,
    /// In execution order.
    pub dispatches: Vec<Dispatch>,
    /// Values the host computes before each run (dropout masks).
    pub uploads: Vec<Upload>,
    /// Where each graph node's value lives after the run, indexed by
    /// `NodeId::index`: `Some` for graph inputs (their whole buffer) and
    /// for every value still intact when the run ends (the outputs the
    /// emit options keep); `None` for values whose memory was reused, for
    /// the step seed (it has no buffer: masks are uploaded), and for
    /// values no dispatch writes.
    pub node_values: Vec<Option<Range>>,
}

/// One device buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferSpec {
    /// The graph input's name, `arena`, or the mask's name.
    pub name: String,
    /// Its length in `f32` elements (at least 1).
    pub len: usize,
    pub role: BufferRole,
}

/// What a buffer is for, which says who writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BufferRole {
    /// The graph input of this kind: written by the host before a run,
    /// only read by dispatches. There is one per graph input except
    /// `InputKind::StepSeed`.
    Input(InputKind),
    /// The working memory of the run: every computed value and every
    /// kernel temporary, placed by liveness (values whose lifetimes do
    /// not overlap share memory). Written and read only by dispatches;
    /// there is exactly one.
    Work,
    /// Written by the host before each run (see [`Upload`]), only read by
    /// dispatches.
    Upload,
}

/// A run of elements of one buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Range {
    /// Index into [`ShaderProgram::buffers`].
    pub buffer: usize,
    /// In elements; a binding's offset in bytes (`4 * offset`) is a
    /// multiple of `Target::min_storage_buffer_offset_alignment`.
    pub offset: usize,
    /// In elements, at least 1.
    pub len: usize,
}

impl Range {
    /// The first element past the range.
    pub fn end(&self) -> usize {
        self.offset + self.len
    }

    /// Whether the two ranges share an element.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.buffer == other.buffer && self.offset < other.end() && other.offset < self.end()
    }

    /// The offset in bytes.
    pub fn byte_offset(&self) -> u64 {
        self.offset as u64 * 4
    }

    /// The size in bytes.
    pub fn byte_len(&self) -> u64 {
        self.len as u64 * 4
    }
}

/// How a shader declares binding `@group(0) @binding(i)`.
///
/// Bindings into the `Work` buffer are always `ReadWrite`, also where the
/// shader only reads them: wgpu rejects one buffer used as read-only and
/// as read-write storage in the same dispatch. Bindings into `Input` and
/// `Upload` buffers are `ReadOnly`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindingKind {
    /// `var<storage, read>`.
    ReadOnly,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One shader module: a complete WGSL module with one compute entry point
/// whose bindings are all in `@group(0)`, numbered from 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShaderKernel {
    /// Unique within the program: `k12_matmul0`.
    pub name: String,
    /// The code variant chosen, e.g. `matmul_tiled_16x16`, `pointwise_vec4`.
    pub variant: String,
    /// Why that variant, in words with the numbers that decided it.
    pub reason: String,
    /// The WGSL source.
    pub source: String,
    /// The compute entry point, `main`.
    pub entry_point: String,
    /// `@group(0) @binding(i)` for each `i`: storage buffers of `f32`
    /// (declared `array<f32>`, or `array<vec4<f32>>` in vector variants,
    /// whose ranges then hold a multiple of 4 elements).
    pub bindings: Vec<BindingKind>,
    /// The `@workgroup_size` of the entry point.
    pub workgroup_size: [u32; 3],
}

/// One `dispatch_workgroups` of a kernel over ranges of buffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dispatch {
    /// Index into [`ShaderProgram::kernels`].
    pub kernel: usize,
    /// One per binding of the kernel, in binding order. No two ranges of
    /// one dispatch overlap where either is bound `ReadWrite`.
    pub ranges: Vec<Range>,
    /// Each at least 1 and at most `Target::max_workgroups_per_dimension`.
    pub workgroups: [u32; 3],
    /// The graph node (fused kernel, or plain op) this dispatch computes
    /// part of.
    pub origin: NodeId,
}

/// A value the host writes into an `Upload` buffer before each run.
#[derive(Clone, Debug, PartialEq)]
pub struct Upload {
    /// The whole of one `Upload` buffer.
    pub range: Range,
    pub what: UploadKind,
    /// The graph node whose value this is.
    pub node: NodeId,
}

/// How the host computes an upload.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UploadKind {
    /// A dropout mask of `range.len` values: each `0` with probability
    /// `p`, else `1 / (1 - p)` (as `f32`), drawn in row-major order from
    /// `nnc_ir::rng::Rng::derive(step_seed, stream)` with `uniform() < p`
    /// meaning dropped, exactly as the interpreter and nnc-cpu's
    /// `HostOp::DropoutMask` draw it.
    DropoutMask { p: f64, stream: u64 },
    /// Values of `noise` (`random`), drawn in row-major order from
    /// `Rng::derive(step_seed, stream)` by `Noise::draws`, exactly as the
    /// interpreter and nnc-cpu draw them.
    Random {
        noise: nnc_ir::rng::Noise,
        stream: u64,
    },
}

/// The device limits the emitter respects. [`Target::default`] is wgpu's
/// `Limits::downlevel_defaults()`, which every adapter meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// `max_compute_workgroup_size_x` (and the largest total invocations
    /// per workgroup the emitter uses).
    pub max_workgroup_size_x: u32,
    /// `max_compute_invocations_per_workgroup`.
    pub max_invocations_per_workgroup: u32,
    /// `max_compute_workgroups_per_dimension`.
    pub max_workgroups_per_dimension: u32,
    /// `max_storage_buffer_binding_size`, bytes.
    pub max_storage_buffer_binding_size: u64,
    /// `max_buffer_size`, bytes.
    pub max_buffer_size: u64,
    /// `min_storage_buffer_offset_alignment`, bytes (a power of two, at
    /// least 4).
    pub min_storage_buffer_offset_alignment: u32,
    /// `max_storage_buffers_per_shader_stage`.
    pub max_storage_buffers_per_shader_stage: u32,
    /// `max_compute_workgroup_storage_size`, bytes.
    pub max_workgroup_storage_size: u32,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            max_workgroup_size_x: 256,
            max_invocations_per_workgroup: 256,
            max_workgroups_per_dimension: 65535,
            max_storage_buffer_binding_size: 128 << 20,
            max_buffer_size: 256 << 20,
            min_storage_buffer_offset_alignment: 256,
            max_storage_buffers_per_shader_stage: 8,
            max_workgroup_storage_size: 16384,
        }
    }
}

impl Target {
    /// The offset alignment in `f32` elements (at least 16: the memory
    /// planner's own alignment of 64 bytes).
    pub fn alignment_elements(&self) -> usize {
        (self.min_storage_buffer_offset_alignment as usize / 4).max(16)
    }
}

/// Why a graph could not be emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// A tensor (or the working memory) needs a binding or a buffer larger
    /// than the device allows.
    TooLarge {
        /// The tensor's name, or `working memory`.
        tensor: String,
        /// Its size in bytes.
        bytes: u64,
        /// The limit it exceeds, in bytes.
        limit: u64,
        /// Which limit: `max_storage_buffer_binding_size` or
        /// `max_buffer_size`.
        limit_name: &'static str,
    },
    /// A computation needs more workgroups along one dimension than the
    /// device allows.
    TooManyWorkgroups {
        kernel: String,
        needed: u64,
        limit: u32,
    },
    /// The graph holds an op (or an operand layout) the emitter has no
    /// shader for, named by its mnemonic.
    Unsupported { op: String, node: String },
    /// A broken invariant of the emitter or of the graph (a bug).
    Internal { message: String },
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::TooLarge {
                tensor,
                bytes,
                limit,
                limit_name,
            } => write!(
                f,
                "`{tensor}` needs {bytes} bytes, over the device's {limit_name} of {limit} bytes"
            ),
            EmitError::TooManyWorkgroups {
                kernel,
                needed,
                limit,
            } => write!(
                f,
                "kernel `{kernel}` needs {needed} workgroups in one dimension, over the device's limit of {limit}"
            ),
            EmitError::Unsupported { op, node } => {
                write!(f, "no WGSL shader for `{op}` (node `{node}`)")
            }
            EmitError::Internal { message } => write!(f, "internal error: {message}"),
        }
    }
}

impl std::error::Error for EmitError {}

impl ShaderProgram {
    /// The buffer of graph input `kind`, if the graph has that input.
    pub fn input_buffer(&self, kind: InputKind) -> Option<usize> {
        self.buffers
            .iter()
            .position(|b| b.role == BufferRole::Input(kind))
    }

    /// The index of the working-memory buffer.
    pub fn work_buffer(&self) -> Option<usize> {
        self.buffers.iter().position(|b| b.role == BufferRole::Work)
    }

    /// Where the value of the graph output of `kind` lives after the run.
    pub fn output_range(&self, kind: OutputKind) -> Option<Range> {
        let output = self.graph.output_of(kind)?;
        self.node_values.get(output.node.index()).copied().flatten()
    }

    /// Checks the structural invariants the executor relies on, against
    /// `target`: every range lies inside its buffer, is non-empty and
    /// aligned; every buffer and binding is within the size limits; each
    /// dispatch has one range per binding of its kernel, within the
    /// binding count limit, no writable aliasing, workgroup counts in
    /// `1..=max`, workgroup sizes within limits; uploads cover `Upload`
    /// buffers. Returns the first violation, described.
    pub fn check(&self, target: &Target) -> Result<(), String> {
        let align = target.alignment_elements();
        for (i, b) in self.buffers.iter().enumerate() {
            if b.len == 0 {
                return Err(format!("buffer {i} ({}) is empty", b.name));
            }
            if b.len as u64 * 4 > target.max_buffer_size {
                return Err(format!("buffer {i} ({}) is over max_buffer_size", b.name));
            }
        }
        let range_ok = |r: &Range, what: &str| -> Result<(), String> {
            let buffer = self
                .buffers
                .get(r.buffer)
                .ok_or_else(|| format!("{what}: buffer {} does not exist", r.buffer))?;
            if r.len == 0 || r.end() > buffer.len {
                return Err(format!(
                    "{what}: range {}..{} outside buffer {} ({}) of {}",
                    r.offset,
                    r.end(),
                    r.buffer,
                    buffer.name,
                    buffer.len
                ));
            }
            if !r.offset.is_multiple_of(align) {
                return Err(format!("{what}: offset {} not aligned", r.offset));
            }
            if r.byte_len() > target.max_storage_buffer_binding_size {
                return Err(format!("{what}: binding over the size limit"));
            }
            Ok(())
        };
        for kernel in &self.kernels {
            let [x, y, z] = kernel.workgroup_size;
            if x == 0 || y == 0 || z == 0 {
                return Err(format!("kernel {}: empty workgroup", kernel.name));
            }
            if x > target.max_workgroup_size_x || x * y * z > target.max_invocations_per_workgroup {
                return Err(format!("kernel {}: workgroup too large", kernel.name));
            }
            if kernel.bindings.len() > target.max_storage_buffers_per_shader_stage as usize {
                return Err(format!("kernel {}: too many bindings", kernel.name));
            }
        }
        for (d, dispatch) in self.dispatches.iter().enumerate() {
            let kernel = self
                .kernels
                .get(dispatch.kernel)
                .ok_or_else(|| format!("dispatch {d}: kernel {} missing", dispatch.kernel))?;
            let what = format!("dispatch {d} ({})", kernel.name);
            if dispatch.ranges.len() != kernel.bindings.len() {
                return Err(format!(
                    "{what}: {} ranges for {} bindings",
                    dispatch.ranges.len(),
                    kernel.bindings.len()
                ));
            }
            for (r, &kind) in dispatch.ranges.iter().zip(&kernel.bindings) {
                range_ok(r, &what)?;
                let role = self.buffers[r.buffer].role;
                let expected = match role {
                    BufferRole::Work => BindingKind::ReadWrite,
                    BufferRole::Input(_) | BufferRole::Upload => BindingKind::ReadOnly,
                };
                if kind != expected {
                    return Err(format!("{what}: a {role:?} buffer bound {kind:?}"));
                }
            }
            for (i, a) in dispatch.ranges.iter().enumerate() {
                for (j, b) in dispatch.ranges.iter().enumerate().skip(i + 1) {
                    let writable = kernel.bindings[i] == BindingKind::ReadWrite
                        || kernel.bindings[j] == BindingKind::ReadWrite;
                    if writable && a.overlaps(b) {
                        return Err(format!("{what}: bindings {i} and {j} alias"));
                    }
                }
            }
            for &count in &dispatch.workgroups {
                if count == 0 || count > target.max_workgroups_per_dimension {
                    return Err(format!("{what}: {count} workgroups in one dimension"));
                }
            }
        }
        for upload in &self.uploads {
            range_ok(&upload.range, "upload")?;
            if self.buffers[upload.range.buffer].role != BufferRole::Upload {
                return Err("an upload into a buffer that is not an upload buffer".into());
            }
        }
        if self.node_values.len() != self.graph.len() {
            return Err("node_values does not have one entry per node".into());
        }
        for r in self.node_values.iter().flatten() {
            if r.buffer >= self.buffers.len() || r.end() > self.buffers[r.buffer].len {
                return Err("a node value outside its buffer".into());
            }
        }
        Ok(())
    }
}
