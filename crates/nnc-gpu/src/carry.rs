//! The recurrent state a model that carries it (`bptt`, `Model::carry`)
//! takes from one batch to the next, kept on the device: after a run, each
//! `OutputKind::Carry(k)` is copied into a buffer of the backend's own (its
//! *home*); before the next run, the home is copied into the program's
//! `InputKind::Carry(k)` input. Both copies are commands of the run's own
//! encoder, so a step never waits for the device to hand the state back;
//! only `Backend::carried` reads it.
//!
//! A state is zero after [`DeviceCarry::reset`], and when the next program's
//! input has another size (a batch of another size), as the host-side
//! `nnc_lower::backend::Carried` of the other backends.

use crate::device::Gpu;
use crate::executable::{create_buffer, Executable};
use nnc_ir::{InputKind, OutputKind};
use nnc_lower::backend::{carry_outputs, BackendError};

/// The homes of the carried states, by `k`: a buffer and its length.
#[derive(Debug, Default)]
pub(crate) struct DeviceCarry {
    homes: Vec<Option<(wgpu::Buffer, usize)>>,
}

impl DeviceCarry {
    /// Before a run of `exe`: zeros into every carry input whose state is
    /// missing or of another size (queue writes, which land before the
    /// run's commands).
    pub(crate) fn prepare(&mut self, gpu: &Gpu, exe: &mut Executable) -> Result<(), BackendError> {
        for k in carry_outputs(&exe.program.graph) {
            let Some(len) = exe.input_len(InputKind::Carry(k)) else {
                continue;
            };
            if self.home(k).is_none_or(|(_, l)| *l != len) {
                exe.write_input(gpu, InputKind::Carry(k), &vec![0.0; len])?;
            }
        }
        Ok(())
    }

    /// Encodes the copies of the kept states into `exe`'s carry inputs
    /// (those of the input's size).
    pub(crate) fn encode_in(&self, exe: &Executable, encoder: &mut wgpu::CommandEncoder) {
        for k in carry_outputs(&exe.program.graph) {
            let Some(index) = exe.program.input_buffer(InputKind::Carry(k)) else {
                continue;
            };
            let len = exe.program.buffers[index].len;
            if let Some((home, _)) = self.home(k).filter(|(_, l)| *l == len) {
                encoder.copy_buffer_to_buffer(home, 0, &exe.buffers[index], 0, (len * 4) as u64);
            }
        }
    }

    /// Encodes the copies of `exe`'s carry outputs into their homes (made,
    /// or remade at the output's size, as needed).
    pub(crate) fn encode_out(
        &mut self,
        gpu: &Gpu,
        exe: &Executable,
        encoder: &mut wgpu::CommandEncoder,
    ) {
        for k in carry_outputs(&exe.program.graph) {
            let Some(range) = exe.output(OutputKind::Carry(k)) else {
                continue;
            };
            if self.homes.len() <= k {
                self.homes.resize_with(k + 1, || None);
            }
            if self.homes[k].as_ref().is_none_or(|(_, l)| *l != range.len) {
                let name = format!("carry{k}");
                self.homes[k] = Some((create_buffer(gpu, &name, range.len), range.len));
            }
            if let Some((home, _)) = &self.homes[k] {
                encoder.copy_buffer_to_buffer(
                    &exe.buffers[range.buffer],
                    range.byte_offset(),
                    home,
                    0,
                    range.byte_len(),
                );
            }
        }
    }

    /// Every state back to zero.
    pub(crate) fn reset(&mut self) {
        self.homes.clear();
    }

    /// The states, read back (`Backend::carried`); empty for one never
    /// kept.
    pub(crate) fn read(&self, gpu: &Gpu) -> Result<Vec<Vec<f32>>, BackendError> {
        self.homes
            .iter()
            .map(|home| match home {
                Some((buffer, len)) => Ok(gpu.read(buffer, 0, *len)?),
                None => Ok(Vec::new()),
            })
            .collect()
    }

    /// Replaces the states (`Backend::set_carried`); an empty one is zero.
    pub(crate) fn write(&mut self, gpu: &Gpu, values: &[Vec<f32>]) {
        self.homes = values
            .iter()
            .enumerate()
            .map(|(k, v)| {
                (!v.is_empty()).then(|| {
                    let buffer = create_buffer(gpu, &format!("carry{k}"), v.len());
                    gpu.queue
                        .write_buffer(&buffer, 0, &crate::device::bytes_of(v));
                    (buffer, v.len())
                })
            })
            .collect();
    }

    fn home(&self, k: usize) -> Option<&(wgpu::Buffer, usize)> {
        self.homes.get(k).and_then(Option::as_ref)
    }
}
