//! Convolutions and their input and weight gradients, one invocation per
//! result (the weight gradient as a reduction over the batch).

use super::reduce::{reduction, Combine};
use super::shader::{decode, internal, shader_with, Built};
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{flat_index, grid, i, u, workgroup_for};

/// The dimensions of a convolution of `x [b, c, h, w]` by `w [f, c, kh,
/// kw]` giving `y [b, f, oh, ow]`.
pub(super) struct ConvDims {
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    f: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    stride: [usize; 2],
    /// top, left
    pad: [usize; 2],
}

impl ConvDims {
    pub(super) fn new(
        x: &[usize],
        w: &[usize],
        y: &[usize],
        stride: [usize; 2],
        padding: [usize; 4],
    ) -> Result<Self, EmitError> {
        let (&[b, c, h, wd], &[f, _, kh, kw], &[_, _, oh, ow]) = (x, w, y) else {
            return Err(internal("a convolution of tensors that are not rank 4"));
        };
        Ok(ConvDims {
            b,
            c,
            h,
            w: wd,
            f,
            kh,
            kw,
            oh,
            ow,
            stride,
            pad: [padding[0], padding[2]],
        })
    }

    fn describe(&self) -> String {
        format!(
            "[{}, {}, {}, {}] by [{}, {}, {}, {}] stride {:?} padding {:?}",
            self.b, self.c, self.h, self.w, self.f, self.c, self.kh, self.kw, self.stride, self.pad
        )
    }
}

pub(super) fn conv2d(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    d: &ConvDims,
) -> Result<Built, EmitError> {
    let threads = d.b * d.f * d.oh * d.ow;
    let (size, size_reason) = workgroup_for(threads, target);
    let (workgroups, stride) = grid(threads, size, target, name)?;
    let (mut shader, bn) = shader_with(kinds, [size, 1, 1]);
    let (x, w, y) = (&bn[0], &bn[1], &bn[2]);
    flat_index(&mut shader, stride, threads, "idx");
    decode(
        &mut shader,
        "idx",
        &["n", "f", "oy", "ox"],
        &[d.b, d.f, d.oh, d.ow],
    );
    shader.line("var acc = 0.0;");
    shader.line(format!("for (var c = 0i; c < {}; c = c + 1i) {{", i(d.c)));
    shader.line(format!(
        "    for (var ky = 0i; ky < {}; ky = ky + 1i) {{",
        i(d.kh)
    ));
    shader.line(format!(
        "        let iy = oy * {} + ky - {};",
        i(d.stride[0]),
        i(d.pad[0])
    ));
    shader.line(format!(
        "        if (iy < 0i || iy >= {}) {{ continue; }}",
        i(d.h)
    ));
    shader.line(format!(
        "        for (var kx = 0i; kx < {}; kx = kx + 1i) {{",
        i(d.kw)
    ));
    shader.line(format!(
        "            let ix = ox * {} + kx - {};",
        i(d.stride[1]),
        i(d.pad[1])
    ));
    shader.line(format!(
        "            if (ix < 0i || ix >= {}) {{ continue; }}",
        i(d.w)
    ));
    shader.line(format!(
        "            acc = acc + {x}[u32(((n * {} + c) * {} + iy) * {} + ix)] * {w}[u32(((f * {} + c) * {} + ky) * {} + kx)];",
        i(d.c), i(d.h), i(d.w), i(d.c), i(d.kh), i(d.kw)
    ));
    shader.line("        }");
    shader.line("    }");
    shader.line("}");
    shader.line(format!("{y}[idx] = acc;"));
    let reason = format!(
        "{}: one invocation per output value, padding skipped by bounds checks; {size_reason}",
        d.describe()
    );
    Ok(Built::new(
        &shader,
        workgroups,
        format!("conv2d_direct_wg{size}"),
        reason,
    ))
}

pub(super) fn conv2d_input_grad(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    d: &ConvDims,
) -> Result<Built, EmitError> {
    let threads = d.b * d.c * d.h * d.w;
    let (size, size_reason) = workgroup_for(threads, target);
    let (workgroups, stride) = grid(threads, size, target, name)?;
    let (mut shader, bn) = shader_with(kinds, [size, 1, 1]);
    let (dy, w, dx) = (&bn[0], &bn[1], &bn[2]);
    flat_index(&mut shader, stride, threads, "idx");
    decode(
        &mut shader,
        "idx",
        &["n", "c", "iy", "ix"],
        &[d.b, d.c, d.h, d.w],
    );
    shader.line("var acc = 0.0;");
    shader.line(format!("for (var f = 0i; f < {}; f = f + 1i) {{", i(d.f)));
    // Kernel offsets descend so that output positions ascend, the
    // interpreter's order of accumulation.
    shader.line(format!(
        "    for (var ky = {}; ky >= 0i; ky = ky - 1i) {{",
        i(d.kh) + " - 1i"
    ));
    shader.line(format!("        let ty = iy + {} - ky;", i(d.pad[0])));
    shader.line(format!(
        "        if (ty < 0i || ty % {} != 0i || ty / {} >= {}) {{ continue; }}",
        i(d.stride[0]),
        i(d.stride[0]),
        i(d.oh)
    ));
    shader.line(format!("        let oy = ty / {};", i(d.stride[0])));
    shader.line(format!(
        "        for (var kx = {}; kx >= 0i; kx = kx - 1i) {{",
        i(d.kw) + " - 1i"
    ));
    shader.line(format!("            let tx = ix + {} - kx;", i(d.pad[1])));
    shader.line(format!(
        "            if (tx < 0i || tx % {} != 0i || tx / {} >= {}) {{ continue; }}",
        i(d.stride[1]),
        i(d.stride[1]),
        i(d.ow)
    ));
    shader.line(format!("            let ox = tx / {};", i(d.stride[1])));
    shader.line(format!(
        "            acc = acc + {dy}[u32(((n * {} + f) * {} + oy) * {} + ox)] * {w}[u32(((f * {} + c) * {} + ky) * {} + kx)];",
        i(d.f), i(d.oh), i(d.ow), i(d.c), i(d.kh), i(d.kw)
    ));
    shader.line("        }");
    shader.line("    }");
    shader.line("}");
    shader.line(format!("{dx}[idx] = acc;"));
    let reason = format!(
        "{}: one invocation per input value gathers the outputs that read it (no atomics); {size_reason}",
        d.describe()
    );
    Ok(Built::new(
        &shader,
        workgroups,
        format!("conv2d_input_grad_gather_wg{size}"),
        reason,
    ))
}

pub(super) fn conv2d_weight_grad(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    d: &ConvDims,
) -> Result<Built, EmitError> {
    let outputs = d.f * d.c * d.kh * d.kw;
    let terms = d.b * d.oh * d.ow;
    let setup = vec![
        format!("let f = i32(o / {});", u(d.c * d.kh * d.kw)),
        format!("let c = i32((o / {}) % {});", u(d.kh * d.kw), u(d.c)),
        format!("let ky = i32((o / {}) % {});", u(d.kw), u(d.kh)),
        format!("let kx = i32(o % {});", u(d.kw)),
    ];
    let term = vec![
        format!("let n = i32(t / {});", u(d.oh * d.ow)),
        format!("let oy = i32((t / {}) % {});", u(d.ow), u(d.oh)),
        format!("let ox = i32(t % {});", u(d.ow)),
        format!("let iy = oy * {} + ky - {};", i(d.stride[0]), i(d.pad[0])),
        format!("let ix = ox * {} + kx - {};", i(d.stride[1]), i(d.pad[1])),
        format!(
            "if (iy >= 0i && iy < {} && ix >= 0i && ix < {}) {{ term = b1[u32(((n * {} + f) * {} + oy) * {} + ox)] * b0[u32(((n * {} + c) * {} + iy) * {} + ix)]; }}",
            i(d.h), i(d.w), i(d.f), i(d.oh), i(d.ow), i(d.c), i(d.h), i(d.w)
        ),
    ];
    let what = format!("(weight gradient of {})", d.describe());
    let mut built = reduction(
        kinds,
        target,
        name,
        outputs,
        terms,
        &setup,
        &term,
        &what,
        "b2",
        Combine::Sum,
    )?;
    built.variant = built.variant.replacen("sum_", "conv2d_weight_grad_", 1);
    Ok(built)
}
