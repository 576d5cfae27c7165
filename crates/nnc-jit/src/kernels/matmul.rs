//! Matrix products with register tiling and a fused epilogue.
//!
//! `C[M,N] = A[M,K] * B[K,N]` (or `* B[N,K]^T`), then optionally
//! `C += bias` (a row of `N`, broadcast over rows) and an activation, both
//! applied while the tile of `C` is still in registers.
//!
//! * **B not transposed.** The micro-kernel keeps a 4 x 8 tile of `C` in
//!   eight `f32x4` accumulators; each step of `k` loads two vectors of a row
//!   of `B` and broadcasts four elements of a column of `A` into eight FMAs
//!   (14 of the 16 x86-64 vector registers are live; see `K_UNROLL`).
//!   Edges: when 4 does not divide `M` (8 does not divide `N`), one
//!   more row (column) of tiles ends exactly at the last row (column),
//!   overlapping the previous one; the overlapped elements are recomputed
//!   identically (see [`covering`]). Matrices with fewer than 4 rows use
//!   1-row tiles; with fewer than 8 columns, 4-wide tiles; with fewer than 4,
//!   scalar ones.
//! * **B transposed.** Both operands are contiguous along `k`, so the
//!   micro-kernel vectorises `k`: a 4 x 2 tile of `C` in eight `f32x4`
//!   accumulators of partial dot products, summed horizontally at the end;
//!   leftover `k` (not a multiple of 4) is added one element at a time (a
//!   sum cannot overlap), and leftover rows and columns are covered by
//!   overlapping tiles as above.
//!
//! Tiles walk `C` column panel by column panel (`j` outer, `i` inner), so a
//! panel of `B` stays in cache while every row block of `A` passes it. With
//! `B` not transposed and at least 8 rows, each 8-column panel is first
//! packed into a contiguous scratch buffer: in place, its rows lie `N`
//! elements apart (for `N = 1024`, 4 KiB apart, which maps them all to the
//! same L1 cache set); packed, the micro-kernel streams it sequentially.

use crate::ir::{Access, Affine, BufId, Expr, Kernel, LoopVar, Stmt, Ty, VarId};
use crate::kernels::{covering, widen, Activation};

/// The unroll factor of the `k` loops. Cranelift's scheduler sinks the
/// accumulator updates (pure instructions) to the end of the loop body while
/// loads stay in program order, so every loaded value of an unrolled body is
/// live at once; with one step per iteration the 4 x 8 tile needs 14 vector
/// registers (8 accumulators, 2 rows of `B`, 4 columns of `A`) and nothing
/// spills. Measured: unrolling by 4 spills and runs about 2x slower.
const K_UNROLL: usize = 1;

/// The block of `k` handled per pass when the panel of `B` is packed.
const KC: usize = 256;

/// Splits `0..kk` into blocks of `kc`: the first (from zero), a run of
/// middle blocks (`None`: a loop from `start` to `end` in steps of `kc`,
/// built by the caller), and the last (applying the epilogue). With one
/// block only, it is both first and last.
fn k_blocks(kk: usize, kc: usize) -> Vec<(usize, usize, Option<KBlock>)> {
    let block = |start: usize, len: usize, load_c: bool, last: bool| KBlock {
        start: Affine::constant(start as i64),
        len,
        load_c,
        last,
    };
    if kk <= kc {
        return vec![(0, 0, Some(block(0, kk, false, true)))];
    }
    // Blocks start at 0, kc, 2 kc, ...; the last one may be short.
    let nblocks = kk.div_ceil(kc);
    let last_start = (nblocks - 1) * kc;
    let mut blocks = vec![(0, 0, Some(block(0, kc, false, false)))];
    if last_start > kc {
        blocks.push((kc, last_start, None));
    }
    blocks.push((0, 0, Some(block(last_start, kk - last_start, true, true))));
    blocks
}

/// Copies rows `kb` of the 8-column panel of `B` at column `j` into `dst`
/// (`kb.len` rows of 8, contiguous).
fn pack_panel(k: &mut Kernel, b: BufId, dst: BufId, n: usize, j: LoopVar, kb: &KBlock) -> Stmt {
    k.for_loop(0, kb.len, 1, 4, |_, p| {
        (0..2)
            .map(|v| Stmt::Store {
                buf: dst,
                index: Affine::var(p).times(8).plus(4 * v),
                value: Expr::load(
                    b,
                    Affine::var(p)
                        .plus_affine(&kb.start)
                        .times(n as i64)
                        .plus_term(j, 1)
                        .plus(4 * v),
                    Ty::F32x4,
                ),
            })
            .collect()
    })
}

/// The shape and epilogue of a matrix product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulSpec {
    /// Rows of `A` and `C`.
    pub m: usize,
    /// Columns of `A`; rows of `B` (columns of `B` when transposed).
    pub k: usize,
    /// Columns of `B` (rows when transposed) and `C`.
    pub n: usize,
    /// Whether `B` is stored `[N, K]` and used transposed.
    pub transpose_b: bool,
    /// Whether a bias row of `N` elements is added (an extra read buffer).
    pub bias: bool,
    /// The activation applied last.
    pub activation: Activation,
}

/// The buffers of a matrix-product kernel.
/// Where the micro-kernel reads row `p` of the current panel of `B`:
/// element `p * stride + col + c` of `buf` for column `c` of the tile.
struct BSource {
    buf: BufId,
    stride: i64,
    /// The panel's first column, or `None` for a packed panel.
    col: Option<LoopVar>,
}

struct Bufs {
    a: BufId,
    b: BufId,
    bias: Option<BufId>,
    c: BufId,
}

/// Builds the kernel for `spec`. Buffers, in order: `a`, `b`, then `bias`
/// if requested (all read), then `c` (written), then possibly a scratch
/// panel (not passed by the caller).
pub fn matmul(name: &str, spec: MatmulSpec) -> Kernel {
    let mut k = Kernel::new(name);
    let (m, kk, n) = (spec.m, spec.k, spec.n);
    let bufs = Bufs {
        a: k.buffer("a", m * kk, Access::Read),
        b: k.buffer("b", kk * n, Access::Read),
        bias: spec.bias.then(|| k.buffer("bias", n, Access::Read)),
        c: k.buffer("c", m * n, Access::Write),
    };
    let col_regions: Vec<(usize, usize, usize, Ty)> = if spec.transpose_b {
        if n >= 2 {
            covering(n, 2)
                .into_iter()
                .map(|(a, b, w)| (a, b, w, Ty::F32))
                .collect()
        } else {
            vec![(0, n, 1, Ty::F32)]
        }
    } else if n >= 8 {
        covering(n, 8)
            .into_iter()
            .map(|(a, b, w)| (a, b, w, Ty::F32x4))
            .collect()
    } else if n >= 4 {
        covering(n, 4)
            .into_iter()
            .map(|(a, b, w)| (a, b, w, Ty::F32x4))
            .collect()
    } else {
        vec![(0, n, 1, Ty::F32)]
    };
    // Packing copies each 8-column panel of `B` (rows `N` apart) into a
    // contiguous scratch panel before the row tiles stream through it; it
    // pays off once several row tiles reuse the panel. With packing, `k` is
    // also split into blocks of `KC` so that a packed block of the panel and
    // the matching block of four rows of `A` stay in the L1 cache.
    let pack = !spec.transpose_b && m >= 8 && n >= 8;
    let kc = if pack && kk > 2 * KC { KC } else { kk };
    // Rows are covered by overlapping 4-row tiles, except when `k` is split:
    // a tile then adds each block to the partial sums stored in `C`, and an
    // overlapping tile would add the same block twice to the shared rows,
    // so the leftover rows use 1-row tiles instead. (Column panels may still
    // overlap: each panel finishes all of `k` before the next starts, and
    // its first block starts from zero, so it recomputes shared columns
    // identically.)
    let row_regions: Vec<(usize, usize, usize)> = if m < 4 {
        vec![(0, m, 1)]
    } else if kc < kk {
        vec![(0, m / 4 * 4, 4), (m / 4 * 4, m, 1)]
    } else {
        covering(m, 4)
    };
    let panel = pack.then(|| k.buffer("b_panel", kc * 8, Access::Scratch));
    for &(j0, j1, nr, ty) in &col_regions {
        let nest = k.for_loop(j0, j1, nr, 1, |k, j| {
            let packed = panel.filter(|_| nr == 8);
            let src = match packed {
                Some(dst) => BSource {
                    buf: dst,
                    stride: 8,
                    col: None,
                },
                None => BSource {
                    buf: bufs.b,
                    stride: n as i64,
                    col: Some(j),
                },
            };
            let block_size = if packed.is_some() { kc } else { kk };
            let mut stmts = Vec::new();
            for (start, end, kb) in k_blocks(kk, block_size) {
                let inner = |k: &mut Kernel, kb: &KBlock| {
                    let mut body = Vec::new();
                    if let Some(dst) = packed {
                        body.push(pack_panel(k, bufs.b, dst, n, j, kb));
                    }
                    for &(i0, i1, mr) in &row_regions {
                        body.push(k.for_loop(i0, i1, mr, 1, |k, i| {
                            if spec.transpose_b {
                                tile_nt(k, &bufs, spec, i, mr, j, nr)
                            } else {
                                tile_nn(k, &bufs, &src, spec, kb, i, mr, j, nr / ty.lanes(), ty)
                            }
                        }));
                    }
                    body
                };
                match kb {
                    // A run of middle blocks becomes one loop over `q`.
                    None => stmts.push(k.for_loop(start, end, block_size, 1, |k, q| {
                        let kb = KBlock {
                            start: Affine::var(q),
                            len: block_size,
                            load_c: true,
                            last: false,
                        };
                        inner(k, &kb)
                    })),
                    Some(kb) => stmts.extend(inner(k, &kb)),
                }
            }
            stmts
        });
        k.body.push(nest);
    }
    k
}

/// The bias, activation and store of one element group of `C`.
fn epilogue(bufs: &Bufs, spec: MatmulSpec, value: Expr, row: Affine, col: Affine, ty: Ty) -> Stmt {
    let mut v = value;
    if let Some(bias) = bufs.bias {
        v = Expr::add(v, Expr::load(bias, col.clone(), ty));
    }
    v = spec.activation.apply(v, ty);
    Stmt::Store {
        buf: bufs.c,
        index: row.times(spec.n as i64).plus_affine(&col),
        value: v,
    }
}

fn zero_all(vars: &[VarId], ty: Ty) -> Vec<Stmt> {
    vars.iter()
        .map(|&v| Stmt::Assign {
            var: v,
            value: Expr::constant(0.0, ty),
        })
        .collect()
}

/// A range of `k` handled by one pass of the micro-kernel: `len` steps from
/// `start` (a constant, or a loop variable plus a constant).
#[derive(Clone)]
struct KBlock {
    start: Affine,
    len: usize,
    /// Whether the tile starts from the partial sums already stored in `C`
    /// (every block but the first) rather than from zero.
    load_c: bool,
    /// Whether this is the last block, which applies the bias and the
    /// activation before storing.
    last: bool,
}

/// A `mr x (nv * lanes)` tile of `C = A B` at row `i`, column `j`, over the
/// `k` range of `kb`.
#[allow(clippy::too_many_arguments)]
fn tile_nn(
    k: &mut Kernel,
    bufs: &Bufs,
    src: &BSource,
    spec: MatmulSpec,
    kb: &KBlock,
    i: LoopVar,
    mr: usize,
    j: LoopVar,
    nv: usize,
    ty: Ty,
) -> Vec<Stmt> {
    let lanes = ty.lanes() as i64;
    let acc: Vec<VarId> = (0..mr * nv).map(|_| k.var(ty)).collect();
    let bv: Vec<VarId> = (0..nv).map(|_| k.var(ty)).collect();
    let av = k.var(ty);
    let c_at = |r: usize, v: usize| {
        Affine::var(i)
            .plus(r as i64)
            .times(spec.n as i64)
            .plus_term(j, 1)
            .plus(v as i64 * lanes)
    };
    let mut stmts: Vec<Stmt> = Vec::new();
    for r in 0..mr {
        for v in 0..nv {
            let init = if kb.load_c {
                Expr::load(bufs.c, c_at(r, v), ty)
            } else {
                Expr::constant(0.0, ty)
            };
            stmts.push(Stmt::Assign {
                var: acc[r * nv + v],
                value: init,
            });
        }
    }
    stmts.push(k.for_loop(0, kb.len, 1, K_UNROLL, |_, p| {
        let mut body = Vec::new();
        for (v, &b) in bv.iter().enumerate() {
            let mut at = Affine::var(p).times(src.stride).plus(v as i64 * lanes);
            if let Some(col) = src.col {
                // Unpacked: row `start + p` of `B` itself.
                at = at
                    .plus_term(col, 1)
                    .plus_affine(&kb.start.clone().times(src.stride));
            }
            body.push(Stmt::Assign {
                var: b,
                value: Expr::load(src.buf, at, ty),
            });
        }
        for r in 0..mr {
            let at = Affine::var(i)
                .plus(r as i64)
                .times(spec.k as i64)
                .plus_affine(&kb.start)
                .plus_term(p, 1);
            body.push(Stmt::Assign {
                var: av,
                value: widen(Expr::load(bufs.a, at, Ty::F32), ty),
            });
            for (v, &b) in bv.iter().enumerate() {
                let a = acc[r * nv + v];
                body.push(Stmt::Assign {
                    var: a,
                    value: Expr::fma(Expr::Var(av), Expr::Var(b), Expr::Var(a)),
                });
            }
        }
        body
    }));
    for r in 0..mr {
        for v in 0..nv {
            let value = Expr::Var(acc[r * nv + v]);
            if kb.last {
                let row = Affine::var(i).plus(r as i64);
                let col = Affine::var(j).plus(v as i64 * lanes);
                stmts.push(epilogue(bufs, spec, value, row, col, ty));
            } else {
                stmts.push(Stmt::Store {
                    buf: bufs.c,
                    index: c_at(r, v),
                    value,
                });
            }
        }
    }
    stmts
}

/// A `mr x nr` tile of `C = A B^T` at row `i`, column `j`, vectorised along `k`.
fn tile_nt(
    k: &mut Kernel,
    bufs: &Bufs,
    spec: MatmulSpec,
    i: LoopVar,
    mr: usize,
    j: LoopVar,
    nr: usize,
) -> Vec<Stmt> {
    let kk = spec.k as i64;
    let k4 = spec.k / 4 * 4;
    let acc: Vec<VarId> = (0..mr * nr).map(|_| k.var(Ty::F32x4)).collect();
    let sums: Vec<VarId> = (0..mr * nr).map(|_| k.var(Ty::F32)).collect();
    let bv: Vec<VarId> = (0..nr).map(|_| k.var(Ty::F32x4)).collect();
    let av = k.var(Ty::F32x4);
    let mut stmts = zero_all(&acc, Ty::F32x4);
    let a_at = |r: usize, p: LoopVar| Affine::var(i).plus(r as i64).times(kk).plus_term(p, 1);
    let b_at = |c: usize, p: LoopVar| Affine::var(j).plus(c as i64).times(kk).plus_term(p, 1);
    stmts.push(k.for_loop(0, k4, 4, K_UNROLL, |_, p| {
        let mut body = Vec::new();
        for (c, &b) in bv.iter().enumerate() {
            body.push(Stmt::Assign {
                var: b,
                value: Expr::load(bufs.b, b_at(c, p), Ty::F32x4),
            });
        }
        for r in 0..mr {
            body.push(Stmt::Assign {
                var: av,
                value: Expr::load(bufs.a, a_at(r, p), Ty::F32x4),
            });
            for (c, &b) in bv.iter().enumerate() {
                let a = acc[r * nr + c];
                body.push(Stmt::Assign {
                    var: a,
                    value: Expr::fma(Expr::Var(av), Expr::Var(b), Expr::Var(a)),
                });
            }
        }
        body
    }));
    for (s, a) in sums.iter().zip(&acc) {
        stmts.push(Stmt::Assign {
            var: *s,
            value: Expr::ReduceSum(Box::new(Expr::Var(*a))),
        });
    }
    stmts.push(k.for_loop(k4, spec.k, 1, 4, |_, p| {
        let mut body = Vec::new();
        for r in 0..mr {
            for c in 0..nr {
                let s = sums[r * nr + c];
                let prod = Expr::fma(
                    Expr::load(bufs.a, a_at(r, p), Ty::F32),
                    Expr::load(bufs.b, b_at(c, p), Ty::F32),
                    Expr::Var(s),
                );
                body.push(Stmt::Assign {
                    var: s,
                    value: prod,
                });
            }
        }
        body
    }));
    for r in 0..mr {
        for c in 0..nr {
            let row = Affine::var(i).plus(r as i64);
            let col = Affine::var(j).plus(c as i64);
            stmts.push(epilogue(
                bufs,
                spec,
                Expr::Var(sums[r * nr + c]),
                row,
                col,
                Ty::F32,
            ));
        }
    }
    stmts
}
