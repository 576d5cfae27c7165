//! Matrix products `op(A) op(B)` with a pointwise epilogue: tiled,
//! register-blocked or one invocation per result, by shape and target.

use super::shader::{internal, Built};
use crate::group::{Bound, Group};
use crate::loc::Loc;
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{flat_index, grid, u, workgroup_for, Elem, Shader};

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
