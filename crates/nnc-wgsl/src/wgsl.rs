//! Small pieces of WGSL text shared by every shader generator: the module
//! frame (bindings, workgroup size, entry point), literals, and the
//! dispatch grid of a one-dimensional index space.

use crate::program::{BindingKind, EmitError, Target};
use std::fmt::Write;

/// The element type a binding is declared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Elem {
    F32,
    Vec4,
}

impl Elem {
    fn wgsl(self) -> &'static str {
        match self {
            Elem::F32 => "f32",
            Elem::Vec4 => "vec4<f32>",
        }
    }
}

/// A shader under construction: its bindings (named `b0`, `b1`, ...), its
/// workgroup-shared declarations, and the body of `main`, which sees the
/// builtins `gid` (global invocation id), `lid` (local invocation id) and
/// `wid` (workgroup id).
pub(crate) struct Shader {
    pub bindings: Vec<(BindingKind, Elem)>,
    pub shared: String,
    pub body: String,
    pub workgroup_size: [u32; 3],
}

impl Shader {
    pub fn new(workgroup_size: [u32; 3]) -> Self {
        Shader {
            bindings: Vec::new(),
            shared: String::new(),
            body: String::new(),
            workgroup_size,
        }
    }

    /// Declares the next binding; returns its name.
    pub fn bind(&mut self, kind: BindingKind, elem: Elem) -> String {
        self.bindings.push((kind, elem));
        format!("b{}", self.bindings.len() - 1)
    }

    /// Appends a line of the body (indented by one level).
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.body.push_str("    ");
        self.body.push_str(text.as_ref());
        self.body.push('\n');
    }

    /// The complete module.
    pub fn source(&self) -> String {
        let mut out = String::new();
        for (i, (kind, elem)) in self.bindings.iter().enumerate() {
            let access = match kind {
                BindingKind::ReadOnly => "read",
                BindingKind::ReadWrite => "read_write",
            };
            let _ = writeln!(
                out,
                "@group(0) @binding({i}) var<storage, {access}> b{i}: array<{}>;",
                elem.wgsl()
            );
        }
        if !self.shared.is_empty() {
            out.push_str(&self.shared);
        }
        let [x, y, z] = self.workgroup_size;
        let _ = writeln!(out, "\n@compute @workgroup_size({x}, {y}, {z})");
        out.push_str(
            "fn main(@builtin(global_invocation_id) gid: vec3<u32>, \
             @builtin(local_invocation_id) lid: vec3<u32>, \
             @builtin(workgroup_id) wid: vec3<u32>) {\n",
        );
        out.push_str(&self.body);
        out.push_str("}\n");
        out
    }
}

/// An `f32` literal: enough digits to round-trip, always with a point or
/// an exponent, parenthesised when negative.
pub(crate) fn f32_lit(v: f64) -> String {
    let v = v as f32;
    let text = if v.is_finite() {
        format!("{v:?}")
    } else if v > 0.0 {
        format!("{:?}", f32::MAX)
    } else {
        format!("{:?}", f32::MIN)
    };
    if text.starts_with('-') {
        format!("({text})")
    } else {
        text
    }
}

/// A `u32` literal.
pub(crate) fn u(v: usize) -> String {
    format!("{v}u")
}

/// An `i32` literal.
pub(crate) fn i(v: usize) -> String {
    format!("{v}i")
}

/// The grid that covers `threads` invocations with workgroups of `size`
/// along x: the workgroup counts and the number of invocations per row of
/// the grid (the stride of `gid.y` in the flat index). Rows are used only
/// when one dimension would exceed the device's limit.
pub(crate) fn grid(
    threads: usize,
    size: u32,
    target: &Target,
    kernel: &str,
) -> Result<([u32; 3], usize), EmitError> {
    let groups = threads.div_ceil(size as usize).max(1);
    let max = target.max_workgroups_per_dimension.max(1) as usize;
    if groups <= max {
        return Ok(([groups as u32, 1, 1], groups * size as usize));
    }
    let rows = groups.div_ceil(max);
    if rows > max {
        return Err(EmitError::TooManyWorkgroups {
            kernel: kernel.to_string(),
            needed: rows as u64,
            limit: max as u32,
        });
    }
    let x = groups.div_ceil(rows);
    Ok(([x as u32, rows as u32, 1], x * size as usize))
}

/// The statement computing the flat invocation index `i` for a grid of
/// row stride `stride` (see [`grid`]), returning when `i >= n`.
pub(crate) fn flat_index(shader: &mut Shader, stride: usize, n: usize, name: &str) {
    shader.line(format!("let {name} = gid.y * {} + gid.x;", u(stride)));
    shader.line(format!("if ({name} >= {}) {{ return; }}", u(n)));
}

/// The same for workgroups: the flat workgroup index `g` of a grid whose
/// x dimension has `groups_x` workgroups, returning when `g >= n`.
pub(crate) fn flat_group(shader: &mut Shader, groups_x: u32, n: usize, name: &str) {
    shader.line(format!("let {name} = wid.y * {}u + wid.x;", groups_x));
    shader.line(format!("if ({name} >= {}) {{ return; }}", u(n)));
}

/// The workgroup size for `threads` one-thread-per-element invocations,
/// and why: 256 when there is work for at least 64 such workgroups, else
/// 64 (small tensors keep more workgroups busy, and never less than the
/// 64 lanes of a wide SIMD unit).
pub(crate) fn workgroup_for(threads: usize, target: &Target) -> (u32, String) {
    let cap = target
        .max_workgroup_size_x
        .min(target.max_invocations_per_workgroup)
        .max(1);
    if threads >= 256 * 64 && cap >= 256 {
        (
            256,
            format!("{threads} invocations: 256 per workgroup, at least 64 workgroups"),
        )
    } else {
        let size = 64.min(cap);
        (
            size,
            format!("{threads} invocations: {size} per workgroup keeps more workgroups busy"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_round_trip_and_read_as_floats() {
        for v in [
            0.25,
            1.0,
            1e-7,
            1.0 - 1e-7,
            1e-30,
            -0.105_360_515_657_826_28,
            0.9,
        ] {
            let text = f32_lit(v);
            let bare = text.trim_start_matches('(').trim_end_matches(')');
            assert_eq!(bare.parse::<f32>().unwrap(), v as f32, "{text}");
            assert!(bare.contains('.') || bare.contains('e'), "{text}");
            assert_eq!(text.starts_with('('), v < 0.0, "{text}");
        }
        assert_eq!(f32_lit(f64::INFINITY), format!("{:?}", f32::MAX));
    }

    #[test]
    fn grids_stay_within_the_workgroup_count_limit() {
        let target = Target::default();
        let (groups, stride) = grid(1000, 64, &target, "k").unwrap();
        assert_eq!(groups, [16, 1, 1]);
        assert_eq!(stride, 1024);
        // 2^24 + 1 invocations of 256: 65,537 workgroups, two rows.
        let threads = (1 << 24) + 1;
        let (groups, stride) = grid(threads, 256, &target, "k").unwrap();
        assert!(groups[0] <= 65535 && groups[1] == 2);
        assert!(groups[0] as usize * groups[1] as usize * 256 >= threads);
        assert_eq!(stride, groups[0] as usize * 256);
        let tiny = Target {
            max_workgroups_per_dimension: 4,
            ..Target::default()
        };
        assert!(matches!(
            grid(64 * 17, 64, &tiny, "k"),
            Err(EmitError::TooManyWorkgroups { .. })
        ));
    }
}
