//! Per-example row kernels: costs, softmax and its gradients, and the
//! count of correct predictions. The formulas are the numerically stable
//! forms of `nnc-cpu/src/rows.rs`.

use super::reduce::REDUCE_WG;
use super::shader::{shader_with, Built};
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{f32_lit, flat_index, grid, u, workgroup_for, Shader};
use nnc_ir::CostFn;

/// A per-example kernel.
#[derive(Clone, Copy)]
pub(super) enum RowOp {
    Cost(CostFn),
    Softmax,
    SoftmaxLogLikelihoodGrad,
    SoftmaxGrad,
}

/// Stores the softmax of row `base` of `x` into `out` (as `rows.rs`).
fn softmax_row(shader: &mut Shader, x: &str, out: &str, n: usize) {
    shader.line(format!("var mx = {};", f32_lit(f32::MIN as f64)));
    shader.line(format!(
        "for (var c = 0u; c < {}; c = c + 1u) {{ mx = max(mx, {x}[base + c]); }}",
        u(n)
    ));
    shader.line("var total = 0.0;");
    shader.line(format!("for (var c = 0u; c < {}; c = c + 1u) {{", u(n)));
    shader.line(format!("    {out}[base + c] = exp({x}[base + c] - mx);"));
    shader.line(format!("    total = total + {out}[base + c];"));
    shader.line("}");
    shader.line(format!(
        "for (var c = 0u; c < {}; c = c + 1u) {{ {out}[base + c] = {out}[base + c] / total; }}",
        u(n)
    ));
}

/// One invocation per example: rows are short (a classifier's outputs).
pub(super) fn row_kernel(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    op: RowOp,
    (rows, n): (usize, usize),
) -> Result<Built, EmitError> {
    let (size, size_reason) = workgroup_for(rows, target);
    let (workgroups, stride) = grid(rows, size, target, name)?;
    let (mut shader, b) = shader_with(kinds, [size, 1, 1]);
    flat_index(&mut shader, stride, rows, "r");
    shader.line(format!("let base = r * {};", u(n)));
    let nn = u(n);
    let variant = match op {
        RowOp::Cost(cost) => {
            let (a, y, out) = (&b[0], &b[1], &b[2]);
            if cost == CostFn::SoftmaxLogLikelihood {
                shader.line(format!("var mx = {};", f32_lit(f32::MIN as f64)));
                shader.line(format!(
                    "for (var c = 0u; c < {nn}; c = c + 1u) {{ mx = max(mx, {a}[base + c]); }}"
                ));
                shader.line("var lse = 0.0;");
                shader.line(format!("for (var c = 0u; c < {nn}; c = c + 1u) {{ lse = lse + exp({a}[base + c] - mx); }}"));
                shader.line("lse = mx + log(lse);");
            }
            shader.line("var acc = 0.0;");
            shader.line(format!("for (var c = 0u; c < {nn}; c = c + 1u) {{"));
            shader.line(format!("    let p = {a}[base + c];"));
            shader.line(format!("    let t = {y}[base + c];"));
            let term = match cost {
                CostFn::Quadratic => "0.5 * ((p - t) * (p - t))".to_string(),
                CostFn::CrossEntropy => {
                    shader.line(format!(
                        "    let q = clamp(p, {}, {});",
                        f32_lit(1e-7),
                        f32_lit(1.0 - 1e-7)
                    ));
                    "-(t * log(q) + (1.0 - t) * log(1.0 - q))".to_string()
                }
                CostFn::SigmoidCrossEntropy => {
                    // max(z, 0) - y z + ln(1 + e^-|z|), with a series for
                    // ln(1 + e) where e is tiny.
                    shader.line("    let e = exp(-abs(p));");
                    shader.line(format!(
                        "    let l = select(log(1.0 + e), e * (1.0 - e * (0.5 - e / 3.0)), e < {});",
                        f32_lit(1e-3)
                    ));
                    "max(p, 0.0) - t * p + l".to_string()
                }
                CostFn::LogLikelihood => format!("-(t * log(max(p, {})))", f32_lit(1e-30)),
                CostFn::SoftmaxLogLikelihood => "t * (lse - p)".to_string(),
            };
            shader.line(format!("    acc = acc + {term};"));
            shader.line("}");
            shader.line(format!("{out}[r] = acc;"));
            format!("row_cost_{}", cost.name())
        }
        RowOp::Softmax => {
            softmax_row(&mut shader, &b[0], &b[1], n);
            "row_softmax".to_string()
        }
        RowOp::SoftmaxLogLikelihoodGrad => {
            let (z, y, dy, out) = (&b[0], &b[1], &b[2], &b[3]);
            softmax_row(&mut shader, z, out, n);
            shader.line("var ysum = 0.0;");
            shader.line(format!(
                "for (var c = 0u; c < {nn}; c = c + 1u) {{ ysum = ysum + {y}[base + c]; }}"
            ));
            shader.line(format!("for (var c = 0u; c < {nn}; c = c + 1u) {{"));
            shader.line(format!(
                "    {out}[base + c] = (ysum * {out}[base + c] - {y}[base + c]) * {dy}[r];"
            ));
            shader.line("}");
            "row_softmax_log_likelihood_grad".to_string()
        }
        RowOp::SoftmaxGrad => {
            let (y, dy, out) = (&b[0], &b[1], &b[2]);
            shader.line("var dot = 0.0;");
            shader.line(format!("for (var c = 0u; c < {nn}; c = c + 1u) {{ dot = dot + {y}[base + c] * {dy}[base + c]; }}"));
            shader.line(format!("for (var c = 0u; c < {nn}; c = c + 1u) {{"));
            shader.line(format!(
                "    {out}[base + c] = {y}[base + c] * ({dy}[base + c] - dot);"
            ));
            shader.line("}");
            "row_softmax_grad".to_string()
        }
    };
    let reason = format!(
        "{rows} examples of {n} values: short rows, one invocation per example walks its row; {size_reason}"
    );
    Ok(Built::new(
        &shader,
        workgroups,
        format!("{variant}_wg{size}"),
        reason,
    ))
}

/// The number of examples whose first arg-max output is the first
/// arg-max target (one output unit: both on the same side of 0.5), in one
/// workgroup with a tree reduction.
pub(super) fn correct_count(
    kinds: &[BindingKind],
    target: &Target,
    (rows, n): (usize, usize),
) -> Result<Built, EmitError> {
    let wg = REDUCE_WG
        .min(target.max_workgroup_size_x)
        .max(1)
        .next_power_of_two();
    let wg = if wg > target.max_workgroup_size_x {
        wg / 2
    } else {
        wg
    }
    .max(1);
    let (mut shader, b) = shader_with(kinds, [wg, 1, 1]);
    let (a, y, out) = (&b[0], &b[1], &b[2]);
    shader.shared = format!("var<workgroup> partial: array<f32, {wg}>;\n");
    shader.line("var hits = 0.0;");
    shader.line(format!(
        "for (var r = lid.x; r < {}; r = r + {wg}u) {{",
        u(rows)
    ));
    shader.line(format!("    let base = r * {};", u(n)));
    if n == 1 {
        shader.line(format!(
            "    if (({a}[base] > 0.5) == ({y}[base] > 0.5)) {{ hits = hits + 1.0; }}"
        ));
    } else {
        shader.line("    var ba = 0u;");
        shader.line("    var by = 0u;");
        shader.line(format!("    for (var c = 1u; c < {}; c = c + 1u) {{", u(n)));
        shader.line(format!(
            "        if ({a}[base + c] > {a}[base + ba]) {{ ba = c; }}"
        ));
        shader.line(format!(
            "        if ({y}[base + c] > {y}[base + by]) {{ by = c; }}"
        ));
        shader.line("    }");
        shader.line("    if (ba == by) { hits = hits + 1.0; }");
    }
    shader.line("}");
    shader.line("partial[lid.x] = hits;");
    shader.line("workgroupBarrier();");
    let mut half = wg / 2;
    while half >= 1 {
        shader.line(format!(
            "if (lid.x < {half}u) {{ partial[lid.x] = partial[lid.x] + partial[lid.x + {half}u]; }}"
        ));
        shader.line("workgroupBarrier();");
        half /= 2;
    }
    shader.line(format!("if (lid.x == 0u) {{ {out}[0] = partial[0]; }}"));
    let reason = format!(
        "{rows} examples of {n} values: one workgroup of {wg} counts its examples, then a tree reduction"
    );
    Ok(Built::new(
        &shader,
        [1, 1, 1],
        format!("correct_count_workgroup_wg{wg}"),
        reason,
    ))
}
