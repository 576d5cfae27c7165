//! What every shader generator shares: the built shader with its
//! dispatch, the bindings of a shader, index decoding and internal errors.

use crate::program::{BindingKind, EmitError};
use crate::wgsl::{u, Elem, Shader};

/// A generated shader with its dispatch.
pub(crate) struct Built {
    pub source: String,
    pub bindings: Vec<BindingKind>,
    pub workgroup_size: [u32; 3],
    pub workgroups: [u32; 3],
    pub variant: String,
    pub reason: String,
}

impl Built {
    pub(super) fn new(
        shader: &Shader,
        workgroups: [u32; 3],
        variant: String,
        reason: String,
    ) -> Self {
        Built {
            source: shader.source(),
            bindings: shader.bindings.iter().map(|&(k, _)| k).collect(),
            workgroup_size: shader.workgroup_size,
            workgroups,
            variant,
            reason,
        }
    }
}

pub(super) fn shader_with(kinds: &[BindingKind], size: [u32; 3]) -> (Shader, Vec<String>) {
    let mut shader = Shader::new(size);
    let names = kinds.iter().map(|&k| shader.bind(k, Elem::F32)).collect();
    (shader, names)
}

pub(super) fn internal(message: &str) -> EmitError {
    EmitError::Internal {
        message: message.to_string(),
    }
}

/// Lines decoding flat index `idx` into `names` (outermost first) of
/// extents `dims`.
pub(super) fn decode(shader: &mut Shader, idx: &str, names: &[&str], dims: &[usize]) {
    let mut rest = idx.to_string();
    for (k, (&name, _)) in names.iter().zip(dims).enumerate() {
        let inner: usize = dims[k + 1..].iter().product();
        if k + 1 == names.len() {
            shader.line(format!("let {name} = i32({rest});"));
        } else {
            shader.line(format!("let {name} = i32({rest} / {});", u(inner)));
            shader.line(format!("let {name}_rest = {rest} % {};", u(inner)));
            rest = format!("{name}_rest");
        }
    }
}
