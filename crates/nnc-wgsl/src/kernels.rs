//! The shaders of the ops that are not pointwise: matrix products (with a
//! pointwise epilogue), sums over axes, per-example rows (costs, softmax
//! and its gradients, the correct count), convolutions and pooling. The
//! formulas are the interpreter's (`nnc-interp/src/kernels`), with the
//! numerically stable forms of `nnc-cpu/src/rows.rs`.
//!
//! Every generator gets its bindings' kinds in order (operands, then the
//! result) and returns the shader with its dispatch and the variant it
//! chose, with the reason.

use crate::loc::Loc;
use crate::group::{Bound, Group};
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{f32_lit, flat_group, flat_index, grid, i, u, workgroup_for, Elem, Shader};
use nnc_check::program::PoolKind;
use nnc_ir::{CostFn, Op, PoolGeometry};

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
    fn new(shader: &Shader, workgroups: [u32; 3], variant: String, reason: String) -> Self {
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

fn shader_with(kinds: &[BindingKind], size: [u32; 3]) -> (Shader, Vec<String>) {
    let mut shader = Shader::new(size);
    let names = kinds.iter().map(|&k| shader.bind(k, Elem::F32)).collect();
    (shader, names)
}

fn internal(message: &str) -> EmitError {
    EmitError::Internal {
        message: message.to_string(),
    }
}

/// The dimensions and operands of a matrix product `op(A) op(B)`.
pub(crate) struct MatmulSpec {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub ta: bool,
    pub tb: bool,
    pub a: Loc,
    pub b: Loc,
    pub out: Loc,
}

/// Tile edge of the tiled product.
const TILE: usize = 16;
/// Block edge of the register-blocked product (16x16 invocations of 4x4).
const BLOCK: usize = 64;

/// A product with its epilogue; `locs` are the bindings in order (A, B,
/// the epilogue's reads, the result), `kinds` their kinds.
pub(crate) fn matmul(
    spec: &MatmulSpec,
    epilogue: &Group,
    locs: &[Loc],
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
) -> Result<Built, EmitError> {
    let MatmulSpec {
        m, k, n, ta, tb, ..
    } = *spec;
    let bound = Bound {
        locs: locs.iter().map(|&l| (l, Elem::F32)).collect(),
    };
    let (an, bn, on) = (bound.name(spec.a), bound.name(spec.b), bound.name(spec.out));
    let a_at = |row: &str, p: &str| {
        if ta {
            format!("{an}[{p} * {} + {row}]", u(m))
        } else {
            format!("{an}[{row} * {} + {p}]", u(k))
        }
    };
    let b_at = |p: &str, col: &str| {
        if tb {
            format!("{bn}[{col} * {} + {p}]", u(k))
        } else {
            format!("{bn}[{p} * {} + {col}]", u(n))
        }
    };
    let tiled = m >= TILE
        && n >= TILE
        && k >= TILE
        && target.max_invocations_per_workgroup >= 256
        && target.max_workgroup_size_x >= TILE as u32
        && target.max_workgroup_storage_size >= (2 * TILE * TILE * 4) as u32;
    let epilogue_text = |shader: &mut Shader| -> Result<(), EmitError> {
        if epilogue.ops.is_empty() {
            shader.line(format!("{on}[idx] = acc;"));
            return Ok(());
        }
        epilogue
            .emit_virtuals(shader, &bound)
            .ok_or_else(|| internal("epilogue virtuals"))?;
        epilogue
            .emit_ops(shader, &bound, false, "idx")
            .ok_or_else(|| internal("epilogue ops"))
    };
    let transposes = format!(
        "{}{}",
        if ta { "A^T" } else { "A" },
        if tb { " B^T" } else { " B" }
    );
    let blocks = m.div_ceil(BLOCK) * n.div_ceil(BLOCK);
    let blocked = m >= BLOCK
        && n >= BLOCK
        && k >= TILE
        && blocks >= 64
        && target.max_invocations_per_workgroup >= 256
        && target.max_workgroup_size_x >= TILE as u32
        && target.max_workgroup_storage_size >= (2 * BLOCK * TILE * 4) as u32;
    if blocked {
        let mut shader = Shader::new([TILE as u32, TILE as u32, 1]);
        for &kind in kinds {
            shader.bind(kind, Elem::F32);
        }
        let tile = BLOCK * TILE;
        shader.shared = format!(
            "var<workgroup> tile_a: array<f32, {tile}>;\nvar<workgroup> tile_b: array<f32, {tile}>;\n"
        );
        let (bl, t) = (u(BLOCK), u(TILE));
        shader.line(format!("let flat = lid.y * {t} + lid.x;"));
        shader.line(format!("let row0 = wid.y * {bl};"));
        shader.line(format!("let col0 = wid.x * {bl};"));
        for r in 0..4 {
            shader.line(format!("var acc{r} = vec4<f32>(0.0);"));
        }
        shader.line(format!(
            "for (var base = 0u; base < {}; base = base + {t}) {{",
            u(k)
        ));
        shader.line("    for (var e = 0u; e < 4u; e = e + 1u) {");
        shader.line(format!("        let f = flat + e * {};", u(TILE * TILE)));
        shader.line(format!("        let ar = row0 + f / {t};"));
        shader.line(format!("        let ak = base + f % {t};"));
        shader.line("        var av = 0.0;");
        shader.line(format!(
            "        if (ar < {} && ak < {}) {{ av = {}; }}",
            u(m),
            u(k),
            a_at("ar", "ak")
        ));
        shader.line(format!("        tile_a[(f % {t}) * {bl} + f / {t}] = av;"));
        shader.line(format!("        let bk = base + f / {bl};"));
        shader.line(format!("        let bc = col0 + f % {bl};"));
        shader.line("        var bv = 0.0;");
        shader.line(format!(
            "        if (bk < {} && bc < {}) {{ bv = {}; }}",
            u(k),
            u(n),
            b_at("bk", "bc")
        ));
        shader.line("        tile_b[f] = bv;");
        shader.line("    }");
        shader.line("    workgroupBarrier();");
        shader.line(format!("    for (var q = 0u; q < {t}; q = q + 1u) {{"));
        shader.line(format!("        let ai = q * {bl} + lid.y * 4u;"));
        shader.line(format!("        let bi = q * {bl} + lid.x * 4u;"));
        shader.line(
            "        let a4 = vec4<f32>(tile_a[ai], tile_a[ai + 1u], tile_a[ai + 2u], tile_a[ai + 3u]);",
        );
        shader.line(
            "        let b4 = vec4<f32>(tile_b[bi], tile_b[bi + 1u], tile_b[bi + 2u], tile_b[bi + 3u]);",
        );
        for (r, lane) in ["x", "y", "z", "w"].iter().enumerate() {
            shader.line(format!("        acc{r} = acc{r} + a4.{lane} * b4;"));
        }
        shader.line("    }");
        shader.line("    workgroupBarrier();");
        shader.line("}");
        shader.line("var accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);");
        shader.line("for (var i = 0u; i < 4u; i = i + 1u) {");
        shader.line("    let row = row0 + lid.y * 4u + i;");
        shader.line(format!("    if (row >= {}) {{ break; }}", u(m)));
        shader.line("    for (var j = 0u; j < 4u; j = j + 1u) {");
        shader.line("        let col = col0 + lid.x * 4u + j;");
        shader.line(format!("        if (col >= {}) {{ break; }}", u(n)));
        shader.line(format!("        let idx = row * {} + col;", u(n)));
        shader.line("        let acc = accs[i][j];");
        let mut inner = Shader::new([1, 1, 1]);
        epilogue_text(&mut inner)?;
        for line in inner.body.lines() {
            shader.line(format!("        {}", line.trim_start()));
        }
        shader.line("    }");
        shader.line("}");
        let (gx, gy) = (n.div_ceil(BLOCK), m.div_ceil(BLOCK));
        let max = target.max_workgroups_per_dimension as usize;
        if gx > max || gy > max {
            return Err(EmitError::TooManyWorkgroups {
                kernel: name.to_string(),
                needed: gx.max(gy) as u64,
                limit: target.max_workgroups_per_dimension,
            });
        }
        let reason = format!(
            "{transposes}, m x k x n = {m} x {k} x {n}: {blocks} blocks of {BLOCK}x{BLOCK} \
             (at least 64 workgroups), each invocation computes 4x4 results in registers from \
             tiles in workgroup memory; {} epilogue ops",
            epilogue.ops.len()
        );
        return Ok(Built::new(
            &shader,
            [gx as u32, gy as u32, 1],
            format!("matmul_blocked_{BLOCK}x{BLOCK}_4x4"),
            reason,
        ));
    }
    if tiled {
        let mut shader = Shader::new([TILE as u32, TILE as u32, 1]);
        for &kind in kinds {
            shader.bind(kind, Elem::F32);
        }
        shader.shared = format!(
            "var<workgroup> tile_a: array<f32, {}>;\nvar<workgroup> tile_b: array<f32, {}>;\n",
            TILE * TILE,
            TILE * TILE
        );
        let t = u(TILE);
        shader.line(format!("let row = wid.y * {t} + lid.y;"));
        shader.line(format!("let col = wid.x * {t} + lid.x;"));
        shader.line("var acc = 0.0;");
        shader.line(format!(
            "for (var base = 0u; base < {}; base = base + {t}) {{",
            u(k)
        ));
        shader.line("    let pa = base + lid.x;");
        shader.line("    var av = 0.0;");
        shader.line(format!(
            "    if (row < {} && pa < {}) {{ av = {}; }}",
            u(m),
            u(k),
            a_at("row", "pa")
        ));
        shader.line(format!("    tile_a[lid.y * {t} + lid.x] = av;"));
        shader.line("    let pb = base + lid.y;");
        shader.line("    var bv = 0.0;");
        shader.line(format!(
            "    if (pb < {} && col < {}) {{ bv = {}; }}",
            u(k),
            u(n),
            b_at("pb", "col")
        ));
        shader.line(format!("    tile_b[lid.y * {t} + lid.x] = bv;"));
        shader.line("    workgroupBarrier();");
        shader.line(format!("    for (var q = 0u; q < {t}; q = q + 1u) {{"));
        shader.line(format!(
            "        acc = acc + tile_a[lid.y * {t} + q] * tile_b[q * {t} + lid.x];"
        ));
        shader.line("    }");
        shader.line("    workgroupBarrier();");
        shader.line("}");
        shader.line(format!(
            "if (row >= {} || col >= {}) {{ return; }}",
            u(m),
            u(n)
        ));
        shader.line(format!("let idx = row * {} + col;", u(n)));
        epilogue_text(&mut shader)?;
        let gx = n.div_ceil(TILE);
        let gy = m.div_ceil(TILE);
        let max = target.max_workgroups_per_dimension as usize;
        if gx > max || gy > max {
            return Err(EmitError::TooManyWorkgroups {
                kernel: name.to_string(),
                needed: gx.max(gy) as u64,
                limit: target.max_workgroups_per_dimension,
            });
        }
        let reason = format!(
            "{transposes}, m x k x n = {m} x {k} x {n}: every dimension at least {TILE}, so \
             {TILE}x{TILE} tiles in workgroup memory read each operand value once per tile; \
             {} epilogue ops",
            epilogue.ops.len()
        );
        return Ok(Built::new(
            &shader,
            [gx as u32, gy as u32, 1],
            format!("matmul_tiled_{TILE}x{TILE}"),
            reason,
        ));
    }
    let threads = m * n;
    let (size, size_reason) = workgroup_for(threads, target);
    let (workgroups, stride) = grid(threads, size, target, name)?;
    let mut shader = Shader::new([size, 1, 1]);
    for &kind in kinds {
        shader.bind(kind, Elem::F32);
    }
    flat_index(&mut shader, stride, threads, "idx");
    shader.line(format!("let row = idx / {};", u(n)));
    shader.line(format!("let col = idx % {};", u(n)));
    shader.line("var acc = 0.0;");
    shader.line(format!("for (var p = 0u; p < {}; p = p + 1u) {{", u(k)));
    shader.line(format!(
        "    acc = acc + {} * {};",
        a_at("row", "p"),
        b_at("p", "col")
    ));
    shader.line("}");
    epilogue_text(&mut shader)?;
    let reason = format!(
        "{transposes}, m x k x n = {m} x {k} x {n}: a dimension below {TILE} would leave \
         tiles mostly empty, one invocation per result; {size_reason}; {} epilogue ops",
        epilogue.ops.len()
    );
    Ok(Built::new(
        &shader,
        workgroups,
        format!("matmul_simple_wg{size}"),
        reason,
    ))
}

/// The shader of a non-pointwise op other than a product, or `None` when
/// there is none. `args` are the operands' shapes, `out` the result's;
/// `kinds` the bindings' kinds (operands, then the result).
pub(crate) fn single(
    op: &Op,
    args: &[Vec<usize>],
    out: &[usize],
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
) -> Result<Option<Built>, EmitError> {
    let shape = |k: usize| -> Result<&[usize], EmitError> {
        args.get(k)
            .map(Vec::as_slice)
            .ok_or_else(|| internal("an op lacks an operand"))
    };
    let count = |s: &[usize]| s.iter().product::<usize>();
    Ok(Some(match op {
        Op::SumAxes { axes } => {
            let x = shape(0)?;
            let r = axes.len();
            let leading = axes.iter().enumerate().all(|(i, &a)| a == i);
            let trailing = axes.iter().enumerate().all(|(i, &a)| a + r == x.len() + i);
            if leading {
                let (t, o) = (count(&x[..r]), count(&x[r..]));
                sum(
                    kinds,
                    target,
                    name,
                    o,
                    t,
                    &format!("t * {} + o", u(o)),
                    "over leading axes",
                )?
            } else if trailing {
                let cut = x.len() - r;
                let (o, t) = (count(&x[..cut]), count(&x[cut..]));
                sum(
                    kinds,
                    target,
                    name,
                    o,
                    t,
                    &format!("o * {} + t", u(t)),
                    "over trailing axes",
                )?
            } else if x.len() > 2 && *axes == (0..x.len()).filter(|&a| a != 1).collect::<Vec<_>>() {
                let (c, inner) = (x[1], count(&x[2..]));
                let index = format!(
                    "(t / {}) * {} + o * {} + t % {}",
                    u(inner),
                    u(c * inner),
                    u(inner),
                    u(inner)
                );
                sum(
                    kinds,
                    target,
                    name,
                    c,
                    x[0] * inner,
                    &index,
                    "over all axes but the channel",
                )?
            } else {
                return Ok(None);
            }
        }
        Op::Cost(cost) => {
            let x = shape(0)?;
            row_kernel(kinds, target, name, RowOp::Cost(*cost), rows_of(x))?
        }
        Op::Softmax => row_kernel(kinds, target, name, RowOp::Softmax, rows_of(shape(0)?))?,
        Op::CostGrad(CostFn::SoftmaxLogLikelihood) => row_kernel(
            kinds,
            target,
            name,
            RowOp::SoftmaxLogLikelihoodGrad,
            rows_of(shape(0)?),
        )?,
        Op::SoftmaxGrad => row_kernel(kinds, target, name, RowOp::SoftmaxGrad, rows_of(shape(0)?))?,
        Op::CorrectCount => correct_count(kinds, target, rows_of(shape(0)?))?,
        Op::Conv2d { stride, padding } => {
            let d = ConvDims::new(shape(0)?, shape(1)?, out, *stride, *padding)?;
            conv2d(kinds, target, name, &d)?
        }
        Op::Conv2dInputGrad {
            stride, padding, ..
        } => {
            let d = ConvDims::new(out, shape(1)?, shape(0)?, *stride, *padding)?;
            conv2d_input_grad(kinds, target, name, &d)?
        }
        Op::Conv2dWeightGrad {
            stride, padding, ..
        } => {
            let d = ConvDims::new(shape(0)?, out, shape(1)?, *stride, *padding)?;
            conv2d_weight_grad(kinds, target, name, &d)?
        }
        Op::Pool(g) => pool(kinds, target, name, g, shape(0)?, out)?,
        Op::PoolGrad(g) => pool_grad(kinds, target, name, g, shape(0)?, shape(1)?)?,
        _ => return Ok(None),
    }))
}

/// `(rows, n)`: examples and values per example of a `[batch, ...]` shape.
fn rows_of(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [b] => (*b, 1),
        [b, rest @ ..] => (*b, rest.iter().product()),
    }
}

/// Threads per workgroup of the reductions.
const REDUCE_WG: u32 = 64;

/// A reduction: `out[o] = sum over t < terms of term(o, t)` for `o` below
/// `outputs`, where `setup` declares what the term needs from `o` and
/// `term` is a block of statements setting `term` from `t`.
#[allow(clippy::too_many_arguments)]
fn reduction(
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
fn sum(
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

/// A per-example kernel.
#[derive(Clone, Copy)]
enum RowOp {
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
fn row_kernel(
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
fn correct_count(
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

/// The dimensions of a convolution of `x [b, c, h, w]` by `w [f, c, kh,
/// kw]` giving `y [b, f, oh, ow]`.
struct ConvDims {
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
    fn new(
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

/// Lines decoding flat index `idx` into `names` (outermost first) of
/// extents `dims`.
fn decode(shader: &mut Shader, idx: &str, names: &[&str], dims: &[usize]) {
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

fn conv2d(
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

fn conv2d_input_grad(
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

fn conv2d_weight_grad(
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
        kinds, target, name, outputs, terms, &setup, &term, &what, "b2",
    )?;
    built.variant = built.variant.replacen("sum_", "conv2d_weight_grad_", 1);
    Ok(built)
}

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

fn pool(
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

fn pool_grad(
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
