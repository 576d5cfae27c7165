//! Sums: over leading, trailing or all but the channel axes, and the
//! general reduction the weight gradient of a convolution shares.

use super::shader::{shader_with, Built};
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{flat_group, flat_index, grid, u, workgroup_for};

/// Threads per workgroup of the reductions.
pub(super) const REDUCE_WG: u32 = 64;

/// How a reduction combines its terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Combine {
    Sum,
    Max,
}

impl Combine {
    /// The value before any term.
    fn start(self) -> &'static str {
        match self {
            Combine::Sum => "0.0",
            // The most negative finite f32 (WGSL has no infinity literal).
            Combine::Max => "-3.4028235e38",
        }
    }

    /// The word in variant names and reasons.
    fn word(self) -> &'static str {
        match self {
            Combine::Sum => "sum",
            Combine::Max => "max",
        }
    }

    /// `a` combined with `b`.
    fn apply(self, a: &str, b: &str) -> String {
        match self {
            Combine::Sum => format!("{a} + {b}"),
            Combine::Max => format!("max({a}, {b})"),
        }
    }
}

/// A reduction: `out[o] = combine over t < terms of term(o, t)` for `o`
/// below `outputs`, where `setup` declares what the term needs from `o` and
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
    combine: Combine,
) -> Result<Built, EmitError> {
    let start = combine.start();
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
        shader.line(format!("var acc = {start};"));
        shader.line(format!(
            "for (var t = lid.x; t < {}; t = t + {wg}u) {{",
            u(terms)
        ));
        shader.line("    var term = 0.0;");
        for line in term {
            shader.line(format!("    {line}"));
        }
        shader.line(format!("    acc = {};", combine.apply("acc", "term")));
        shader.line("}");
        shader.line("partial[lid.x] = acc;");
        shader.line("workgroupBarrier();");
        let mut half = wg.next_power_of_two() / 2;
        // A workgroup size that is not a power of two folds its tail first.
        if wg.next_power_of_two() != wg {
            shader.line(format!(
                "if (lid.x < {}u && lid.x + {half}u < {wg}u) {{ partial[lid.x] = {}; }}",
                half,
                combine.apply("partial[lid.x]", &format!("partial[lid.x + {half}u]"))
            ));
            shader.line("workgroupBarrier();");
            half /= 2;
        }
        while half >= 1 {
            shader.line(format!(
                "if (lid.x < {half}u) {{ partial[lid.x] = {}; }}",
                combine.apply("partial[lid.x]", &format!("partial[lid.x + {half}u]"))
            ));
            shader.line("workgroupBarrier();");
            half /= 2;
        }
        shader.line(format!("if (lid.x == 0u) {{ {out}[o] = partial[0]; }}"));
        let reason = format!(
            "{outputs} {}s of {terms} terms {what}: long reductions, one workgroup of {wg} each \
             with a tree reduction in workgroup memory",
            combine.word()
        );
        return Ok(Built::new(
            &shader,
            workgroups,
            format!("{}_workgroup_wg{wg}", combine.word()),
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
    shader.line(format!("var acc = {start};"));
    shader.line(format!("for (var t = 0u; t < {}; t = t + 1u) {{", u(terms)));
    shader.line("    var term = 0.0;");
    for line in term {
        shader.line(format!("    {line}"));
    }
    shader.line(format!("    acc = {};", combine.apply("acc", "term")));
    shader.line("}");
    shader.line(format!("{out}[o] = acc;"));
    let word = combine.word();
    let reason = if terms < 128 {
        format!("{outputs} {word}s of {terms} terms {what}: short {word}s, one invocation each; {size_reason}")
    } else {
        format!("{outputs} {word}s of {terms} terms {what}: enough {word}s to fill the device, one invocation each; {size_reason}")
    };
    Ok(Built::new(
        &shader,
        workgroups,
        format!("{word}_serial_wg{size}"),
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
        Combine::Sum,
    )
}

/// `out[o] = combine over t of x[index(o, t)]` over any `axes` of `x`:
/// `o` walks the kept axes and `t` the reduced ones, each decoded into
/// coordinates and weighted by the operand's strides.
pub(super) fn over_axes(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    x: &[usize],
    axes: &[usize],
    combine: Combine,
) -> Result<Built, EmitError> {
    let mut stride = vec![1usize; x.len()];
    for axis in (0..x.len().saturating_sub(1)).rev() {
        stride[axis] = stride[axis + 1] * x[axis + 1];
    }
    let part = |which: &[usize], var: &str| -> (usize, Vec<String>) {
        let mut inner = 1usize;
        let mut terms = Vec::new();
        for &axis in which.iter().rev() {
            terms.push(format!(
                "(({var} / {}) % {}) * {}",
                u(inner),
                u(x[axis]),
                u(stride[axis])
            ));
            inner *= x[axis];
        }
        (inner, terms)
    };
    let kept: Vec<usize> = (0..x.len()).filter(|a| !axes.contains(a)).collect();
    let (outputs, mut index) = part(&kept, "o");
    let (terms, reduced) = part(axes, "t");
    index.extend(reduced);
    if index.is_empty() {
        index.push("0u".to_string());
    }
    reduction(
        kinds,
        target,
        name,
        outputs,
        terms,
        &[],
        &[format!("term = b0[{}];", index.join(" + "))],
        &format!("over axes {axes:?}"),
        "b1",
        combine,
    )
}
