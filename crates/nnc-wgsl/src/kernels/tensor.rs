//! The general tensor primitives, one invocation per value written:
//! block copies along an axis (`slice`, `pad` with its zeros, each
//! operand of a `concat` in a shader of its own, so that any number of
//! operands fits the binding limit), rows gathered by index, rows summed
//! by index (`scatter_add`: one invocation per result element loops over
//! the indices in order, since WGSL has no float atomics; the sums are
//! the same on every run), and batched products (one invocation per
//! result, its position's blocks of the operands).
//!
//! An index names row `round(value)` (halves to even, as
//! `nnc_ir::ops::gather::index_row`); one outside the table, or NaN,
//! reads zeros and adds nothing, so no invocation reads or writes
//! outside its buffers.

use super::shader::{shader_with, Built};
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{f32_lit, flat_index, grid, u, workgroup_for, Shader};
use nnc_ir::ops::axis::AxisCopy;
use nnc_ir::ops::gather::IndexDims;
use nnc_ir::ops::matmul::BatchDims;

/// A one-dimensional shader under construction: the flat index `i`, its
/// bindings' names, its dispatch and why.
struct Flat {
    shader: Shader,
    names: Vec<String>,
    workgroups: [u32; 3],
    size: u32,
    reason: String,
}

impl Flat {
    /// `total` invocations (none past `total`: an empty result is written
    /// by no invocation).
    fn new(
        kinds: &[BindingKind],
        target: &Target,
        name: &str,
        total: usize,
    ) -> Result<Flat, EmitError> {
        let (size, reason) = workgroup_for(total.max(1), target);
        let (workgroups, stride) = grid(total.max(1), size, target, name)?;
        let (mut shader, names) = shader_with(kinds, [size, 1, 1]);
        flat_index(&mut shader, stride, total, "i");
        Ok(Flat {
            shader,
            names,
            workgroups,
            size,
            reason,
        })
    }

    /// The built shader, its variant named `{variant}_wg{size}`, the
    /// reason `what` followed by the workgroup size's.
    fn built(self, variant: &str, what: String) -> Built {
        let reason = format!("{what}; {}", self.reason);
        let variant = format!("{variant}_wg{}", self.size);
        Built::new(&self.shader, self.workgroups, variant, reason)
    }
}

/// `out` from `x` by one block copy (bindings: `x`, `out`). With
/// `zero_rest`, one invocation per result value writes the copied value
/// or zero (a `pad`, or a `slice`, whose copy covers the result); without,
/// one per copied value writes it and leaves the rest (a `concat`'s
/// operand).
pub(super) fn axis_copy(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    c: &AxisCopy,
    zero_rest: bool,
) -> Result<Built, EmitError> {
    let covers = c.dst_start == 0 && c.len == c.dst_extent;
    let total = if zero_rest {
        c.outer * c.dst_extent * c.inner
    } else {
        c.count()
    };
    let mut f = Flat::new(kinds, target, name, total)?;
    let (x, out) = (f.names[0].clone(), f.names[1].clone());
    let inner = u(c.inner.max(1));
    let extent = if zero_rest { c.dst_extent } else { c.len };
    f.shader
        .line(format!("let o = i / {};", u((extent * c.inner).max(1))));
    f.shader
        .line(format!("let p = (i / {inner}) % {};", u(extent.max(1))));
    f.shader.line(format!("let r = i % {inner};"));
    let (variant, what) = if zero_rest {
        // p is the result's position along the axis.
        let source = format!(
            "{x}[(o * {} + p - {} + {}) * {inner} + r]",
            u(c.src_extent),
            u(c.dst_start),
            u(c.src_start)
        );
        if covers {
            f.shader.line(format!("{out}[i] = {source};"));
        } else {
            f.shader.line(format!(
                "if (p >= {} && p < {}) {{",
                u(c.dst_start),
                u(c.dst_start + c.len)
            ));
            f.shader.line(format!("    {out}[i] = {source};"));
            f.shader.line("} else {");
            f.shader.line(format!("    {out}[i] = 0.0;"));
            f.shader.line("}");
        }
        ("axis_copy_all", "every result value")
    } else {
        // p is the copied position along the axis.
        f.shader.line(format!(
            "{out}[(o * {} + {} + p) * {inner} + r] = {x}[(o * {} + {} + p) * {inner} + r];",
            u(c.dst_extent),
            u(c.dst_start),
            u(c.src_extent),
            u(c.src_start)
        ));
        ("axis_copy_block", "the copied block only")
    };
    let reason = format!(
        "{} x {} x {} values from position {} of {} to {} of {}, writing {what}",
        c.outer, c.len, c.inner, c.src_start, c.src_extent, c.dst_start, c.dst_extent
    );
    Ok(f.built(variant, reason))
}

/// The statements setting `f` to the rounded index at `at` of `indices`
/// and `inside` to whether it names one of `rows` rows.
fn read_index(shader: &mut Shader, indices: &str, at: &str, rows: usize) {
    shader.line(format!("let f = round({indices}[{at}]);"));
    shader.line(format!(
        "let inside = f >= 0.0 && f < {};",
        f32_lit(rows as f64)
    ));
}

/// `gather(table, indices)` (bindings: table, indices, out).
pub(super) fn gather(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    d: &IndexDims,
) -> Result<Built, EmitError> {
    let mut f = Flat::new(kinds, target, name, d.count * d.width)?;
    let (table, indices, out) = (f.names[0].clone(), f.names[1].clone(), f.names[2].clone());
    let width = u(d.width.max(1));
    read_index(&mut f.shader, &indices, &format!("i / {width}"), d.rows);
    f.shader.line("if (inside) {");
    f.shader.line(format!(
        "    {out}[i] = {table}[u32(f) * {width} + i % {width}];"
    ));
    f.shader.line("} else {");
    f.shader.line(format!("    {out}[i] = 0.0;"));
    f.shader.line("}");
    let reason = format!(
        "{} rows of {} values from a table of {} rows (zeros for an index outside it)",
        d.count, d.width, d.rows
    );
    Ok(f.built("gather", reason))
}

/// `scatter_add { rows }(indices, values)` (bindings: indices, values,
/// out): each result element sums, in index order, the values of the
/// indices naming its row.
pub(super) fn scatter_add(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    d: &IndexDims,
) -> Result<Built, EmitError> {
    let mut f = Flat::new(kinds, target, name, d.rows * d.width)?;
    let (indices, values, out) = (f.names[0].clone(), f.names[1].clone(), f.names[2].clone());
    let width = u(d.width.max(1));
    f.shader.line(format!("let row = f32(i / {width});"));
    f.shader.line(format!("let c = i % {width};"));
    f.shader.line("var acc = 0.0;");
    f.shader.line(format!(
        "for (var p = 0u; p < {}; p = p + 1u) {{",
        u(d.count)
    ));
    f.shader
        .line(format!("    if (round({indices}[p]) == row) {{"));
    f.shader
        .line(format!("        acc = acc + {values}[p * {width} + c];"));
    f.shader.line("    }");
    f.shader.line("}");
    f.shader.line(format!("{out}[i] = acc;"));
    let reason = format!(
        "{} rows of {} values, each summing over {} indices in order (no float atomics: \
         deterministic)",
        d.rows, d.width, d.count
    );
    Ok(f.built("scatter_add", reason))
}

/// `batch_matmul(a, b)` (bindings: a, b, out): one invocation per result.
pub(super) fn batch_matmul(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    d: &BatchDims,
) -> Result<Built, EmitError> {
    let BatchDims {
        m, k, n, ta, tb, ..
    } = *d;
    let mut f = Flat::new(kinds, target, name, d.batch * m * n)?;
    let (a, b, out) = (f.names[0].clone(), f.names[1].clone(), f.names[2].clone());
    f.shader
        .line(format!("let position = i / {};", u((m * n).max(1))));
    f.shader.line(format!(
        "let row = (i / {}) % {};",
        u(n.max(1)),
        u(m.max(1))
    ));
    f.shader.line(format!("let col = i % {};", u(n.max(1))));
    f.shader
        .line(format!("let a_base = position * {};", u(m * k)));
    let b_base = if d.shared_b {
        "0u".to_string()
    } else {
        format!("position * {}", u(k * n))
    };
    f.shader.line(format!("let b_base = {b_base};"));
    let a_at = if ta {
        format!("{a}[a_base + q * {} + row]", u(m))
    } else {
        format!("{a}[a_base + row * {} + q]", u(k))
    };
    let b_at = if tb {
        format!("{b}[b_base + col * {} + q]", u(k))
    } else {
        format!("{b}[b_base + q * {} + col]", u(n))
    };
    f.shader.line("var acc = 0.0;");
    f.shader
        .line(format!("for (var q = 0u; q < {}; q = q + 1u) {{", u(k)));
    f.shader.line(format!("    acc = acc + {a_at} * {b_at};"));
    f.shader.line("}");
    f.shader.line(format!("{out}[i] = acc;"));
    let reason = format!(
        "{} products of m x k x n = {m} x {k} x {n} (ta {ta}, tb {tb}{}): one invocation per \
         result",
        d.batch,
        if d.shared_b { ", b shared" } else { "" }
    );
    Ok(f.built("batch_matmul_simple", reason))
}
