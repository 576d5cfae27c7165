//! Sums: over leading, trailing or all but the channel axes, and the
//! general reduction the weight gradient of a convolution shares.

use super::shader::{shader_with, Built};
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{flat_group, flat_index, grid, u, workgroup_for};

/// Threads per workgroup of the reductions.
pub(super) const REDUCE_WG: u32 = 64;

/// A reduction: `out[o] = sum over t < terms of term(o, t)` for `o` below
/// `outputs`, where `setup` declares what the term needs from `o` and
/// `term` is a block of statements setting `term` from `t`.
#[allow(clippy::too_many_arguments)]
pub(super) fn reduction(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    outputs: usize,
    terms: usize,
    setup: &[String],
    term: &[String],
    what: &str,
    out: &str,
) -> Result<Built, EmitError> {
    let workgroup = terms >= 128 && outputs <= 16384;
    if workgroup {
        let wg = REDUCE_WG.min(target.max_workgroup_size_x).max(1);
        let (workgroups, _) = grid(outputs, 1, target, name)?;
        let (mut shader, _) = shader_with(kinds, [wg, 1, 1]);
        shader.shared = format!("var<workgroup> partial: array<f32, {wg}>;\n");
        flat_group(&mut shader, workgroups[0], outputs, "o");
        for line in setup {
            shader.line(line);
        }
        shader.line("var acc = 0.0;");
        shader.line(format!(
            "for (var t = lid.x; t < {}; t = t + {wg}u) {{",
            u(terms)
        ));
        shader.line("    var term = 0.0;");
        for line in term {
            shader.line(format!("    {line}"));
        }
        shader.line("    acc = acc + term;");
        shader.line("}");
        shader.line("partial[lid.x] = acc;");
        shader.line("workgroupBarrier();");
        let mut half = wg.next_power_of_two() / 2;
        // A workgroup size that is not a power of two folds its tail first.
        if wg.next_power_of_two() != wg {
            shader.line(format!(
                "if (lid.x < {}u && lid.x + {half}u < {wg}u) {{ partial[lid.x] = partial[lid.x] + partial[lid.x + {half}u]; }}",
                half
            ));
            shader.line("workgroupBarrier();");
            half /= 2;
        }
        while half >= 1 {
            shader.line(format!(
                "if (lid.x < {half}u) {{ partial[lid.x] = partial[lid.x] + partial[lid.x + {half}u]; }}"
            ));
            shader.line("workgroupBarrier();");
            half /= 2;
        }
        shader.line(format!("if (lid.x == 0u) {{ {out}[o] = partial[0]; }}"));
        let reason = format!(
            "{outputs} sums of {terms} terms {what}: long sums, one workgroup of {wg} per sum \
             with a tree reduction in workgroup memory"
        );
        return Ok(Built::new(
            &shader,
            workgroups,
            format!("sum_workgroup_wg{wg}"),
            reason,
        ));
    }
    let (size, size_reason) = workgroup_for(outputs, target);
    let (workgroups, stride) = grid(outputs, size, target, name)?;
    let (mut shader, _) = shader_with(kinds, [size, 1, 1]);
    flat_index(&mut shader, stride, outputs, "o");
    for line in setup {
        shader.line(line);
    }
    shader.line("var acc = 0.0;");
    shader.line(format!("for (var t = 0u; t < {}; t = t + 1u) {{", u(terms)));
    shader.line("    var term = 0.0;");
    for line in term {
        shader.line(format!("    {line}"));
    }
    shader.line("    acc = acc + term;");
    shader.line("}");
    shader.line(format!("{out}[o] = acc;"));
    let reason = if terms < 128 {
        format!("{outputs} sums of {terms} terms {what}: short sums, one invocation each; {size_reason}")
    } else {
        format!("{outputs} sums of {terms} terms {what}: enough sums to fill the device, one invocation each; {size_reason}")
    };
    Ok(Built::new(
        &shader,
        workgroups,
        format!("sum_serial_wg{size}"),
        reason,
    ))
}

/// `out[o] = sum over t of x[index(o, t)]`.
pub(super) fn sum(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    outputs: usize,
    terms: usize,
    index: &str,
    what: &str,
) -> Result<Built, EmitError> {
    reduction(
        kinds,
        target,
        name,
        outputs,
        terms,
        &[],
        &[format!("term = b0[{index}];")],
        what,
        "b1",
    )
}
