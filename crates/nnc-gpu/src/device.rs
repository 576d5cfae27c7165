//! The device: choosing an adapter, opening a device on it, and turning
//! every way wgpu reports trouble (validation errors, out-of-memory, a lost
//! device, a failed mapping) into a [`GpuError`] instead of a panic.
//!
//! wgpu's default for an error nobody captured is to panic. Two nets stop
//! that here: every group of calls that can fail validation runs inside
//! [`Gpu::scoped`] (error scopes for validation, out-of-memory and internal
//! errors), and a handler for uncaptured errors records anything that
//! slips past, to be reported by the next [`Gpu::health`] check. A lost
//! device is recorded by its callback the same way.

use nnc_lower::backend::BackendError;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// What the user should do when no adapter is found.
pub const NO_ADAPTER: &str = "no GPU adapter found; install a Vulkan driver (on Debian: \
     apt-get install mesa-vulkan-drivers libvulkan1) or run with --backend jit";

/// Why the GPU could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GpuError {
    /// No adapter (or none matching `WGPU_ADAPTER_NAME`).
    NoAdapter { detail: String },
    /// The adapter refused to open a device.
    Device { message: String },
    /// The device was lost (driver reset, GPU removed, out of memory).
    Lost { message: String },
    /// wgpu rejected a call (a bug here or in the emitter), or ran out of
    /// memory, while doing `what`.
    Rejected { what: String, message: String },
}

impl std::fmt::Display for GpuError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpuError::NoAdapter { detail } if detail.is_empty() => write!(f, "{NO_ADAPTER}"),
            GpuError::NoAdapter { detail } => write!(f, "{NO_ADAPTER} ({detail})"),
            GpuError::Device { message } => {
                write!(f, "the GPU adapter could not open a device: {message}")
            }
            GpuError::Lost { message } => write!(
                f,
                "the GPU device was lost ({message}); the run cannot go on on this device"
            ),
            GpuError::Rejected { what, message } => {
                write!(f, "the GPU rejected {what}: {message}")
            }
        }
    }
}

impl std::error::Error for GpuError {}

impl From<GpuError> for BackendError {
    fn from(error: GpuError) -> Self {
        BackendError::Failed {
            message: error.to_string(),
        }
    }
}

/// A short description of the adapter a device was opened on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    /// `Vulkan`, ...
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `Cpu` (lavapipe), ...
    pub device_type: String,
    pub driver: String,
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.backend, self.device_type)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        write!(f, ")")
    }
}

/// Problems wgpu reported outside any error scope, and the device loss.
#[derive(Debug, Default)]
struct Incidents {
    lost: Option<String>,
    uncaptured: Vec<String>,
}

/// An open device and its queue, with the limits it was opened with.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub limits: wgpu::Limits,
    pub adapter: AdapterSummary,
    incidents: Arc<Mutex<Incidents>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}

/// The adapters wgpu sees (Vulkan only in this build), described.
pub fn adapters() -> Vec<AdapterSummary> {
    let instance = instance();
    block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| summary(&a.get_info()))
        .collect()
}

fn instance() -> wgpu::Instance {
    // `WGPU_BACKEND` and the instance flags (`WGPU_DEBUG`,
    // `WGPU_VALIDATION`) come from the environment.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: [info.driver.as_str(), info.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

impl Gpu {
    /// Opens a device on the adapter chosen as the README describes: the
    /// first whose name contains `WGPU_ADAPTER_NAME` (case-insensitive)
    /// when that is set, else wgpu's choice by `WGPU_POWER_PREF` (high
    /// performance unless it says `low`), which prefers a discrete GPU,
    /// then an integrated one, then a software one such as lavapipe. The
    /// device gets the adapter's own limits, so large models fit where the
    /// hardware allows.
    pub fn acquire() -> Result<Gpu, GpuError> {
        Gpu::acquire_with(&|limits| limits)
    }

    /// [`Gpu::acquire`], opening the device with `adjust(adapter's
    /// limits)` instead (to emulate a smaller GPU; each limit must stay
    /// within the adapter's).
    pub fn acquire_with(adjust: &dyn Fn(wgpu::Limits) -> wgpu::Limits) -> Result<Gpu, GpuError> {
        let instance = instance();
        let adapter = match std::env::var("WGPU_ADAPTER_NAME") {
            Ok(wanted) if !wanted.trim().is_empty() => {
                let wanted = wanted.trim().to_lowercase();
                let all = block_on(instance.enumerate_adapters(wgpu::Backends::all()));
                let names: Vec<String> = all.iter().map(|a| a.get_info().name).collect();
                all.into_iter()
                    .find(|a| a.get_info().name.to_lowercase().contains(&wanted))
                    .ok_or_else(|| GpuError::NoAdapter {
                        detail: if names.is_empty() {
                            format!("WGPU_ADAPTER_NAME is `{wanted}`, and there are no adapters")
                        } else {
                            format!(
                                "none is named like WGPU_ADAPTER_NAME=`{wanted}`; the adapters are: {}",
                                names.join(", ")
                            )
                        },
                    })?
            }
            _ => {
                let options = wgpu::RequestAdapterOptions {
                    power_preference: wgpu::PowerPreference::from_env()
                        .unwrap_or(wgpu::PowerPreference::HighPerformance),
                    force_fallback_adapter: false,
                    compatible_surface: None,
                    apply_limit_buckets: false,
                };
                block_on(instance.request_adapter(&options)).map_err(|e| GpuError::NoAdapter {
                    detail: e.to_string(),
                })?
            }
        };
        let info = adapter.get_info();
        let limits = adjust(adapter.limits());
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("nnc"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) =
            block_on(adapter.request_device(&descriptor)).map_err(|e| GpuError::Device {
                message: e.to_string(),
            })?;
        let incidents = Arc::new(Mutex::new(Incidents::default()));
        let sink = Arc::clone(&incidents);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            if let Ok(mut incidents) = sink.lock() {
                incidents.uncaptured.push(describe(&error));
            }
        }));
        let sink = Arc::clone(&incidents);
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut incidents) = sink.lock() {
                let why = match reason {
                    wgpu::DeviceLostReason::Destroyed => "destroyed".to_string(),
                    _ if message.is_empty() => "reason unknown".to_string(),
                    _ => message,
                };
                incidents.lost.get_or_insert(why);
            }
        });
        let limits = device.limits();
        Ok(Gpu {
            device,
            queue,
            limits,
            adapter: summary(&info),
            incidents,
        })
    }

    /// The emitter's target: the limits this device was opened with.
    pub fn target(&self) -> nnc_wgsl::Target {
        let l = &self.limits;
        nnc_wgsl::Target {
            max_workgroup_size_x: l.max_compute_workgroup_size_x,
            max_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            min_storage_buffer_offset_alignment: l.min_storage_buffer_offset_alignment,
            max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
            max_workgroup_storage_size: l.max_compute_workgroup_storage_size,
        }
    }

    /// An error if the device was lost or wgpu reported an error outside
    /// any scope since the last check (those are cleared by reporting).
    pub fn health(&self) -> Result<(), GpuError> {
        let Ok(mut incidents) = self.incidents.lock() else {
            return Err(GpuError::Lost {
                message: "the device's error record was poisoned".to_string(),
            });
        };
        if let Some(message) = &incidents.lost {
            return Err(GpuError::Lost {
                message: message.clone(),
            });
        }
        if !incidents.uncaptured.is_empty() {
            let message = incidents.uncaptured.join("; ");
            incidents.uncaptured.clear();
            return Err(GpuError::Rejected {
                what: "a command".to_string(),
                message,
            });
        }
        Ok(())
    }

    /// Runs `f` inside error scopes for validation, out-of-memory and
    /// internal errors, and returns the first error any of them caught
    /// (named by `what`), or `f`'s value.
    pub fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
        self.health()?;
        let internal = self.device.push_error_scope(wgpu::ErrorFilter::Internal);
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        // Scopes pop in reverse order of their pushing.
        let errors = [
            block_on(validation.pop()),
            block_on(memory.pop()),
            block_on(internal.pop()),
        ];
        self.health()?;
        match errors.into_iter().flatten().next() {
            Some(error) => Err(GpuError::Rejected {
                what: what.to_string(),
                message: describe(&error),
            }),
            None => Ok(value),
        }
    }

    /// Waits until the queue has finished its work.
    pub fn wait(&self) -> Result<(), GpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| GpuError::Lost {
                message: format!("waiting for the queue failed: {e}"),
            })?;
        self.health()
    }

    /// Maps `staging` (a `MAP_READ` buffer whose copy was submitted),
    /// waits for it, and returns its first `len` values.
    pub fn read_staging(&self, staging: &wgpu::Buffer, len: usize) -> Result<Vec<f32>, GpuError> {
        let bytes = (len * 4) as u64;
        let done: Arc<Mutex<Option<Result<(), String>>>> = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&done);
        self.scoped("mapping a read-back buffer", || {
            staging.map_async(wgpu::MapMode::Read, 0..bytes, move |result| {
                if let Ok(mut slot) = slot.lock() {
                    *slot = Some(result.map_err(|e| e.to_string()));
                }
            });
        })?;
        self.wait()?;
        let outcome = done.lock().ok().and_then(|mut slot| slot.take());
        match outcome {
            Some(Ok(())) => {}
            Some(Err(message)) => {
                self.health()?;
                return Err(GpuError::Lost {
                    message: format!("reading back from the device failed: {message}"),
                });
            }
            None => {
                self.health()?;
                return Err(GpuError::Lost {
                    message: "the device never finished a read-back".to_string(),
                });
            }
        }
        let values = match staging.get_mapped_range(0..bytes) {
            Ok(view) => view
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Err(e) => {
                staging.unmap();
                return Err(GpuError::Rejected {
                    what: "a mapped read-back buffer".to_string(),
                    message: e.to_string(),
                });
            }
        };
        staging.unmap();
        Ok(values)
    }

    /// Copies `len` values at element `offset` of `buffer` back to the
    /// host (one submission and a wait).
    pub fn read(
        &self,
        buffer: &wgpu::Buffer,
        offset: usize,
        len: usize,
    ) -> Result<Vec<f32>, GpuError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let staging = self.scoped("a read-back", || {
            let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("nnc read-back"),
                size: (len * 4) as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let mut encoder = self
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            encoder.copy_buffer_to_buffer(
                buffer,
                (offset * 4) as u64,
                &staging,
                0,
                (len * 4) as u64,
            );
            self.queue.submit([encoder.finish()]);
            staging
        })?;
        self.read_staging(&staging, len)
    }
}

/// `values` as the little-endian bytes a storage buffer of `f32` holds.
pub fn bytes_of(values: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

fn describe(error: &wgpu::Error) -> String {
    match error {
        wgpu::Error::OutOfMemory { .. } => "the device ran out of memory".to_string(),
        other => {
            // The description is the outermost message; the sources say
            // what exactly failed.
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let line = s.to_string();
                if !text.contains(&line) {
                    text.push_str(": ");
                    text.push_str(&line);
                }
                source = s.source();
            }
            text
        }
    }
}

/// Runs a future to completion on this thread. wgpu's native futures are
/// ready at once or after a `poll` of the device; the short park is only a
/// guard against a future that never wakes its waker.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
        std::thread::park_timeout(Duration::from_millis(1));
    }
}
