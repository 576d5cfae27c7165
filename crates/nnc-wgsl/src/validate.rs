//! Validation of emitted shaders with naga, the shader translator inside
//! wgpu: its WGSL front end (syntax, names, types) and its validator
//! (types of every expression, uniformity of barriers, resource use).
//! Some type errors surface only in the validator, so both run.

use crate::program::{ShaderKernel, ShaderProgram};
use naga::valid::{Capabilities, ValidationFlags, Validator};
use std::fmt;

/// Why a shader did not validate: the kernel's name and naga's message
/// with the offending source lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    pub kernel: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shader `{}` does not validate:\n{}",
            self.kernel, self.message
        )
    }
}

impl std::error::Error for ValidationError {}

/// Parses and validates one WGSL module (no optional capabilities: the
/// shaders use only what every WebGPU device offers).
pub fn validate_source(name: &str, source: &str) -> Result<(), ValidationError> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| ValidationError {
        kernel: name.to_string(),
        message: e.emit_to_string(source),
    })?;
    Validator::new(ValidationFlags::all(), Capabilities::empty())
        .validate(&module)
        .map_err(|e| ValidationError {
            kernel: name.to_string(),
            message: e.emit_to_string(source),
        })?;
    // The entry point the program names must exist as a compute stage.
    if !module
        .entry_points
        .iter()
        .any(|ep| ep.name == "main" && ep.stage == naga::ShaderStage::Compute)
    {
        return Err(ValidationError {
            kernel: name.to_string(),
            message: "no compute entry point `main`".to_string(),
        });
    }
    Ok(())
}

/// Validates one kernel of a program.
pub fn validate_kernel(kernel: &ShaderKernel) -> Result<(), ValidationError> {
    validate_source(&kernel.name, &kernel.source)
}

/// Validates every kernel of a program; the first failure.
pub fn validate(program: &ShaderProgram) -> Result<(), ValidationError> {
    program.kernels.iter().try_for_each(validate_kernel)
}
