//! Pooling (max, average, L2) and its gradient, one invocation per
//! result.

use super::shader::{decode, internal, shader_with, Built};
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{flat_index, grid, i, workgroup_for, Shader};
use nnc_ir::window::PoolKind;
use nnc_ir::PoolGeometry;

/// The pool's window geometry as WGSL lines setting `r0, r1, c0, c1`
/// (clipped to the input) for output position `oy, ox`.
fn window(shader: &mut Shader, g: &PoolGeometry, h: usize, w: usize, indent: &str) {
    shader.line(format!(
        "{indent}let r0 = clamp(oy * {} - {}, 0i, {});",
        i(g.stride[0]),
        i(g.padding[0]),
        i(h)
    ));
    shader.line(format!(
        "{indent}let r1 = clamp(oy * {} - {} + {}, 0i, {});",
        i(g.stride[0]),
        i(g.padding[0]),
        i(g.size[0]),
        i(h)
    ));
    shader.line(format!(
        "{indent}let c0 = clamp(ox * {} - {}, 0i, {});",
        i(g.stride[1]),
        i(g.padding[2]),
        i(w)
    ));
    shader.line(format!(
        "{indent}let c1 = clamp(ox * {} - {} + {}, 0i, {});",
        i(g.stride[1]),
        i(g.padding[2]),
        i(g.size[1]),
        i(w)
    ));
}

fn pool_dims(x: &[usize], y: &[usize]) -> Result<(usize, usize, usize, usize, usize), EmitError> {
    let (&[b, c, h, w], &[_, _, oh, ow]) = (x, y) else {
        return Err(internal("a pooling of tensors that are not rank 4"));
    };
    Ok((b * c, h, w, oh, ow))
}

fn pool_kind(g: &PoolGeometry) -> &'static str {
    match g.kind {
        PoolKind::Max => "max",
        PoolKind::Average => "avg",
        PoolKind::L2 => "l2",
    }
}

pub(super) fn pool(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    g: &PoolGeometry,
    x: &[usize],
    y: &[usize],
) -> Result<Built, EmitError> {
    let (planes, h, w, oh, ow) = pool_dims(x, y)?;
    let threads = planes * oh * ow;
    let (size, size_reason) = workgroup_for(threads, target);
    let (workgroups, stride) = grid(threads, size, target, name)?;
    let (mut shader, bn) = shader_with(kinds, [size, 1, 1]);
    let (xb, yb) = (&bn[0], &bn[1]);
    flat_index(&mut shader, stride, threads, "idx");
    decode(
        &mut shader,
        "idx",
        &["plane", "oy", "ox"],
        &[planes, oh, ow],
    );
    window(&mut shader, g, h, w, "");
    shader.line(format!("let at = plane * {};", i(h * w)));
    match g.kind {
        PoolKind::Max => {
            shader.line("var best = 0.0;");
            shader.line("var found = false;");
            shader.line("for (var r = r0; r < r1; r = r + 1i) {");
            shader.line("    for (var c = c0; c < c1; c = c + 1i) {");
            shader.line(format!("        let v = {xb}[u32(at + r * {} + c)];", i(w)));
            shader.line("        if (!found || v > best) { best = v; found = true; }");
            shader.line("    }");
            shader.line("}");
            shader.line(format!("{yb}[idx] = best;"));
        }
        PoolKind::Average | PoolKind::L2 => {
            let l2 = g.kind == PoolKind::L2;
            shader.line("var acc = 0.0;");
            shader.line("for (var r = r0; r < r1; r = r + 1i) {");
            shader.line("    for (var c = c0; c < c1; c = c + 1i) {");
            shader.line(format!("        let v = {xb}[u32(at + r * {} + c)];", i(w)));
            shader.line(if l2 {
                "        acc = acc + v * v;"
            } else {
                "        acc = acc + v;"
            });
            shader.line("    }");
            shader.line("}");
            if l2 {
                shader.line(format!("{yb}[idx] = sqrt(acc);"));
            } else {
                shader.line("let cnt = (r1 - r0) * (c1 - c0);");
                shader.line(format!(
                    "{yb}[idx] = select(0.0, acc / f32(cnt), cnt > 0i);"
                ));
            }
        }
    }
    let reason = format!(
        "{planes} planes of {h}x{w} to {oh}x{ow}, window {:?} stride {:?}: one invocation per output, window clipped to the input; {size_reason}",
        g.size, g.stride
    );
    Ok(Built::new(
        &shader,
        workgroups,
        format!("{}_pool_direct_wg{size}", pool_kind(g)),
        reason,
    ))
}

pub(super) fn pool_grad(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    g: &PoolGeometry,
    x: &[usize],
    y: &[usize],
) -> Result<Built, EmitError> {
    let (planes, h, w, oh, ow) = pool_dims(x, y)?;
    let threads = planes * h * w;
    let (size, size_reason) = workgroup_for(threads, target);
    let (workgroups, stride) = grid(threads, size, target, name)?;
    let (mut shader, bn) = shader_with(kinds, [size, 1, 1]);
    let (xb, yb, dyb, dxb) = (&bn[0], &bn[1], &bn[2], &bn[3]);
    flat_index(&mut shader, stride, threads, "idx");
    decode(&mut shader, "idx", &["plane", "iy", "ix"], &[planes, h, w]);
    shader.line(format!("let at = plane * {};", i(h * w)));
    shader.line(format!("let oat = plane * {};", i(oh * ow)));
    // The windows covering (iy, ix): start <= i < start + size.
    let range = |shader: &mut Shader, v: &str, axis: usize, pad: usize, out: usize| {
        let (s, k) = (g.stride[axis], g.size[axis]);
        shader.line(format!(
            "let {v}_a = {v} + {} - {};",
            i(pad),
            i(k) + " + 1i"
        ));
        shader.line(format!(
            "let {v}_lo = select(0i, ({v}_a + {}) / {}, {v}_a > 0i);",
            i(s) + " - 1i",
            i(s)
        ));
        shader.line(format!(
            "let {v}_hi = min(({v} + {}) / {}, {});",
            i(pad),
            i(s),
            i(out) + " - 1i"
        ));
    };
    range(&mut shader, "iy", 0, g.padding[0], oh);
    range(&mut shader, "ix", 1, g.padding[2], ow);
    if g.kind != PoolKind::L2 {
        // Every binding is used, so layouts derived from the shader match.
        shader.line(format!("_ = {yb}[0];"));
    }
    shader.line("var acc = 0.0;");
    shader.line("for (var oy = iy_lo; oy <= iy_hi; oy = oy + 1i) {");
    shader.line("    for (var ox = ix_lo; ox <= ix_hi; ox = ox + 1i) {");
    window(&mut shader, g, h, w, "        ");
    shader.line(format!("        let o = u32(oat + oy * {} + ox);", i(ow)));
    match g.kind {
        PoolKind::Max => {
            // The window's first maximum gets the gradient.
            shader.line("        var best = 0.0;");
            shader.line("        var br = -1i;");
            shader.line("        var bc = -1i;");
            shader.line("        for (var r = r0; r < r1; r = r + 1i) {");
            shader.line("            for (var c = c0; c < c1; c = c + 1i) {");
            shader.line(format!(
                "                let v = {xb}[u32(at + r * {} + c)];",
                i(w)
            ));
            shader.line("                if (br < 0i || v > best) { best = v; br = r; bc = c; }");
            shader.line("            }");
            shader.line("        }");
            shader.line(format!(
                "        if (br == iy && bc == ix) {{ acc = acc + {dyb}[o]; }}"
            ));
        }
        PoolKind::Average => {
            shader.line("        let cnt = max((r1 - r0) * (c1 - c0), 1i);");
            shader.line(format!("        acc = acc + {dyb}[o] / f32(cnt);"));
        }
        PoolKind::L2 => {
            shader.line(format!("        let yv = {yb}[o];"));
            shader.line(format!(
                "        if (yv > 0.0) {{ acc = acc + {dyb}[o] / yv * {xb}[idx]; }}"
            ));
        }
    }
    shader.line("    }");
    shader.line("}");
    shader.line(format!("{dxb}[idx] = acc;"));
    let reason = format!(
        "{planes} planes of {h}x{w} from {oh}x{ow}, window {:?} stride {:?}: one invocation per input value gathers the windows covering it (no atomics); {size_reason}",
        g.size, g.stride
    );
    Ok(Built::new(
        &shader,
        workgroups,
        format!("{}_pool_grad_gather_wg{size}", pool_kind(g)),
        reason,
    ))
}
