//! Direct two-dimensional convolutions (cross-correlations) over
//! `[batch, channels, height, width]` tensors, their two gradients, and the
//! per-channel bias of a convolution layer.
//!
//! Zero padding is never read: along each spatial axis the output
//! positions are split at compile time into runs (see [`runs`]) over which
//! the range of kernel offsets that land inside the input is the same, and
//! each run gets a loop nest whose kernel loops cover exactly that range.
//! A product with the padding is zero, so leaving it out computes the same
//! sums, and every index stays inside its buffer, as the validator checks.
//!
//! Where the horizontal stride is 1, the loops over output columns run
//! four lanes at a time (consecutive outputs read consecutive inputs), with
//! a scalar loop for the remaining columns of a run. Register blocking:
//! the forward kernel computes up to four filters per input load, the
//! weight gradient up to six kernel columns per load of `dy`.
//!
//! The input gradient with stride 1 (and padding narrower than the
//! kernel) is a gather, not a scatter: a convolution of `dy`, copied first
//! into a zeroed scratch buffer with the "full" padding, by the flipped
//! kernel, up to four channels per load (see `input_grad_gather`). Other
//! strides scatter each product into `dx` in the interpreter's loop order.

use crate::ir::{Access, Affine, Expr, Kernel, LoopVar, Stmt, Ty, VarId};

/// The static dimensions of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// Examples in the batch.
    pub batch: usize,
    /// Input channels.
    pub channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Filters (output channels).
    pub filters: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Output height and width.
    pub out: [usize; 2],
    /// Vertical and horizontal stride, each at least 1.
    pub stride: [usize; 2],
    /// Zero padding: top, bottom, left, right.
    pub padding: [usize; 4],
}

impl ConvSpec {
    fn x_len(&self) -> usize {
        self.batch * self.channels * self.height * self.width
    }

    fn w_len(&self) -> usize {
        self.filters * self.channels * self.kernel[0] * self.kernel[1]
    }

    fn y_len(&self) -> usize {
        self.batch * self.filters * self.out[0] * self.out[1]
    }

    /// The runs of output rows and of output columns.
    fn runs(&self) -> (Vec<Run>, Vec<Run>) {
        (
            runs(
                self.out[0],
                self.kernel[0],
                self.stride[0],
                self.padding[0],
                self.height,
            ),
            runs(
                self.out[1],
                self.kernel[1],
                self.stride[1],
                self.padding[2],
                self.width,
            ),
        )
    }
}

/// Output positions `start..end` along one axis whose windows all cover
/// exactly the offsets `k0..k1` inside the input: position `o` at offset
/// `k` reads input coordinate `o * stride + k - pad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub start: usize,
    pub end: usize,
    pub k0: usize,
    pub k1: usize,
}

impl Run {
    /// Whether the windows of this run cover no input at all.
    pub fn is_empty(&self) -> bool {
        self.k0 >= self.k1
    }
}

/// Splits output positions `0..out` into maximal [`Run`]s for windows of
/// `size` offsets, the given stride and leading padding, over an input of
/// `len` positions.
pub(crate) fn runs(out: usize, size: usize, stride: usize, pad: usize, len: usize) -> Vec<Run> {
    let mut result: Vec<Run> = Vec::new();
    for o in 0..out {
        let base = (o * stride) as i64 - pad as i64;
        let k0 = (-base).clamp(0, size as i64) as usize;
        let k1 = (len as i64 - base).clamp(k0 as i64, size as i64) as usize;
        match result.last_mut() {
            Some(r) if r.k0 == k0 && r.k1 == k1 && r.end == o => r.end = o + 1,
            _ => result.push(Run {
                start: o,
                end: o + 1,
                k0,
                k1,
            }),
        }
    }
    result
}

/// Loop ranges `(start, end, ty)` covering `start..end` exactly: four
/// lanes at a time when `vector`, then one at a time.
pub(crate) fn lanes(start: usize, end: usize, vector: bool) -> Vec<(usize, usize, Ty)> {
    let n = end.saturating_sub(start);
    let split = if vector { start + n / 4 * 4 } else { start };
    let mut ranges = Vec::new();
    if split > start {
        ranges.push((start, split, Ty::F32x4));
    }
    if end > split {
        ranges.push((split, end, Ty::F32));
    }
    ranges
}

/// `out[i] = 0` for `len` elements.
pub(crate) fn zero(k: &mut Kernel, out: crate::ir::BufId, len: usize) -> Vec<Stmt> {
    lanes(0, len, true)
        .into_iter()
        .map(|(start, end, ty)| {
            k.for_loop(start, end, ty.lanes(), 4, |_, i| {
                vec![Stmt::Store {
                    buf: out,
                    index: Affine::var(i),
                    value: Expr::constant(0.0, ty),
                }]
            })
        })
        .collect()
}

/// Index helpers of one convolution: the flat index of `x[b, c, iy, ix]`
/// for `iy = oy * sy + ky - pad_top` (likewise `ix`), of `w[f, c, ky, kx]`
/// and of `y[b, f, oy, ox]`, from loop variables.
struct Index<'s> {
    s: &'s ConvSpec,
}

impl Index<'_> {
    fn x(
        &self,
        b: LoopVar,
        c: LoopVar,
        oy: LoopVar,
        ky: LoopVar,
        ox: LoopVar,
        kx: LoopVar,
    ) -> Affine {
        let s = self.s;
        let (h, w) = (s.height as i64, s.width as i64);
        Affine::var(b)
            .times(s.channels as i64 * h * w)
            .plus_term(c, h * w)
            .plus_term(oy, s.stride[0] as i64 * w)
            .plus_term(ky, w)
            .plus_term(ox, s.stride[1] as i64)
            .plus_term(kx, 1)
            .plus(-(s.padding[0] as i64) * w - s.padding[2] as i64)
    }

    /// `x[b, c, oy * sy + ky - pad_top, ox * sx]`: the row start of
    /// [`Index::x`] without the column offset and left padding.
    fn x_row(&self, b: LoopVar, c: LoopVar, oy: LoopVar, ky: LoopVar, ox: LoopVar) -> Affine {
        let s = self.s;
        let (h, w) = (s.height as i64, s.width as i64);
        Affine::var(b)
            .times(s.channels as i64 * h * w)
            .plus_term(c, h * w)
            .plus_term(oy, s.stride[0] as i64 * w)
            .plus_term(ky, w)
            .plus_term(ox, s.stride[1] as i64)
            .plus(-(s.padding[0] as i64) * w)
    }

    /// `w[f, c, ky, 0]`.
    fn w_row(&self, f: LoopVar, c: LoopVar, ky: LoopVar) -> Affine {
        let s = self.s;
        let (kh, kw) = (s.kernel[0] as i64, s.kernel[1] as i64);
        Affine::var(f)
            .times(s.channels as i64 * kh * kw)
            .plus_term(c, kh * kw)
            .plus_term(ky, kw)
    }

    fn w(&self, f: LoopVar, c: LoopVar, ky: LoopVar, kx: LoopVar) -> Affine {
        let s = self.s;
        let (kh, kw) = (s.kernel[0] as i64, s.kernel[1] as i64);
        Affine::var(f)
            .times(s.channels as i64 * kh * kw)
            .plus_term(c, kh * kw)
            .plus_term(ky, kw)
            .plus_term(kx, 1)
    }

    fn y(&self, b: LoopVar, f: LoopVar, oy: LoopVar, ox: LoopVar) -> Affine {
        let s = self.s;
        let (oh, ow) = (s.out[0] as i64, s.out[1] as i64);
        Affine::var(b)
            .times(s.filters as i64 * oh * ow)
            .plus_term(f, oh * ow)
            .plus_term(oy, ow)
            .plus_term(ox, 1)
    }
}

/// `y = conv2d(x, w)`: `y[b, f, oy, ox]` sums `w[f, c, ky, kx] * x[b, c,
/// oy * sy + ky - pad_top, ox * sx + kx - pad_left]` over `c`, `ky`, `kx`
/// (in that order) where the input position exists. Buffers: `x`, `w`,
/// `y` (written).
pub fn conv2d(name: &str, spec: ConvSpec) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", spec.x_len(), Access::Read);
    let w = k.buffer("w", spec.w_len(), Access::Read);
    let y = k.buffer("y", spec.y_len(), Access::Write);
    // Filters are done `block` at a time: each input load feeds `block`
    // accumulators.
    let block = block_of(spec.filters);
    let accs = |k: &mut Kernel, ty| (0..block).map(|_| k.var(ty)).collect::<Vec<VarId>>();
    let acc = [accs(&mut k, Ty::F32), accs(&mut k, Ty::F32x4)];
    let xv = [k.var(Ty::F32), k.var(Ty::F32x4)];
    let filter_stride = (spec.channels * spec.kernel[0] * spec.kernel[1]) as i64;
    let plane = (spec.out[0] * spec.out[1]) as i64;
    let ix = Index { s: &spec };
    let (rows, cols) = spec.runs();
    let mut body = Vec::new();
    for ry in &rows {
        for rx in &cols {
            for (c0, c1, ty) in lanes(rx.start, rx.end, spec.stride[1] == 1) {
                let vector = usize::from(ty == Ty::F32x4);
                let (a, xv) = (&acc[vector], xv[vector]);
                body.push(k.for_loop(0, spec.batch, 1, 1, |k, b| {
                    vec![k.for_loop(0, spec.filters, block, 1, |k, f| {
                        vec![k.for_loop(ry.start, ry.end, 1, 1, |k, oy| {
                            vec![k.for_loop(c0, c1, ty.lanes(), 1, |k, ox| {
                                let mut stmts: Vec<Stmt> = a
                                    .iter()
                                    .map(|&v| Stmt::Assign {
                                        var: v,
                                        value: Expr::constant(0.0, ty),
                                    })
                                    .collect();
                                if !ry.is_empty() && !rx.is_empty() {
                                    stmts.push(k.for_loop(0, spec.channels, 1, 1, |k, c| {
                                        vec![k.for_loop(ry.k0, ry.k1, 1, 1, |k, ky| {
                                            vec![k.for_loop(rx.k0, rx.k1, 1, 4, |_, kx| {
                                                let mut inner = vec![Stmt::Assign {
                                                    var: xv,
                                                    value: Expr::load(
                                                        x,
                                                        ix.x(b, c, oy, ky, ox, kx),
                                                        ty,
                                                    ),
                                                }];
                                                for (j, &v) in a.iter().enumerate() {
                                                    let at = ix
                                                        .w(f, c, ky, kx)
                                                        .plus(j as i64 * filter_stride);
                                                    let wv = Expr::load(w, at, Ty::F32);
                                                    inner.push(Stmt::Assign {
                                                        var: v,
                                                        value: Expr::fma(
                                                            super::widen(wv, ty),
                                                            Expr::Var(xv),
                                                            Expr::Var(v),
                                                        ),
                                                    });
                                                }
                                                inner
                                            })]
                                        })]
                                    }));
                                }
                                for (j, &v) in a.iter().enumerate() {
                                    stmts.push(Stmt::Store {
                                        buf: y,
                                        index: ix.y(b, f, oy, ox).plus(j as i64 * plane),
                                        value: Expr::Var(v),
                                    });
                                }
                                stmts
                            })]
                        })]
                    })]
                }));
            }
        }
    }
    k.body = body;
    k
}

/// The number of filters (or channels) a register block holds: the largest
/// of 4, 2, 1 that divides `n`.
fn block_of(n: usize) -> usize {
    [4, 2, 1]
        .into_iter()
        .find(|b| n.is_multiple_of(*b))
        .unwrap_or(1)
}

/// The input gradient of [`conv2d`]: each `dy[b, f, oy, ox]` flows back to
/// the inputs it read, weighted by `w`. Buffers: `dy`, `w`, `dx` (written;
/// `spec.height` x `spec.width` per channel).
pub fn conv2d_input_grad(name: &str, spec: ConvSpec) -> Kernel {
    let [kh, kw] = spec.kernel;
    let [pt, pb, pl, pr] = spec.padding;
    if spec.stride == [1, 1] && pt.max(pb) < kh && pl.max(pr) < kw {
        return input_grad_gather(name, spec);
    }
    let mut k = Kernel::new(name);
    let dy = k.buffer("dy", spec.y_len(), Access::Read);
    let w = k.buffer("w", spec.w_len(), Access::Read);
    let dx = k.buffer("dx", spec.x_len(), Access::Write);
    let ix = Index { s: &spec };
    let mut body = zero(&mut k, dx, spec.x_len());
    let (rows, cols) = spec.runs();
    for ry in rows.iter().filter(|r| !r.is_empty()) {
        for rx in cols.iter().filter(|r| !r.is_empty()) {
            for (c0, c1, ty) in lanes(rx.start, rx.end, spec.stride[1] == 1) {
                body.push(k.for_loop(0, spec.batch, 1, 1, |k, b| {
                    vec![k.for_loop(0, spec.filters, 1, 1, |k, f| {
                        vec![k.for_loop(ry.start, ry.end, 1, 1, |k, oy| {
                            vec![k.for_loop(c0, c1, ty.lanes(), 1, |k, ox| {
                                vec![k.for_loop(0, spec.channels, 1, 1, |k, c| {
                                    vec![k.for_loop(ry.k0, ry.k1, 1, 1, |k, ky| {
                                        vec![k.for_loop(rx.k0, rx.k1, 1, 1, |_, kx| {
                                            let at = ix.x(b, c, oy, ky, ox, kx);
                                            let wv = Expr::load(w, ix.w(f, c, ky, kx), Ty::F32);
                                            vec![Stmt::Store {
                                                buf: dx,
                                                index: at.clone(),
                                                value: Expr::fma(
                                                    Expr::load(dy, ix.y(b, f, oy, ox), ty),
                                                    super::widen(wv, ty),
                                                    Expr::load(dx, at, ty),
                                                ),
                                            }]
                                        })]
                                    })]
                                })]
                            })]
                        })]
                    })]
                }));
            }
        }
    }
    k.body = body;
    k
}

/// [`conv2d_input_grad`] for stride 1 with every padding narrower than
/// the kernel, as a gather: `dx[b, c, iy, ix]` sums `dy[b, f, iy + pt -
/// ky, ix + pl - kx] * w[f, c, ky, kx]` over `f`, `ky`, `kx` where that
/// output position exists. With the flipped offsets `k' = k_len - 1 - k`
/// this is a convolution of `dy`, padded by `k_len - 1 - pad` before, by
/// the flipped kernel. The kernel first copies `dy` into a zeroed scratch
/// buffer with that padding (so every `dx` element is one uniform sum,
/// computed four columns at a time in registers, instead of a load and a
/// store per product); the zeros it reads add products that are exactly
/// zero, `w` being finite.
fn input_grad_gather(name: &str, spec: ConvSpec) -> Kernel {
    let mut k = Kernel::new(name);
    let dy = k.buffer("dy", spec.y_len(), Access::Read);
    let w = k.buffer("w", spec.w_len(), Access::Read);
    let dx = k.buffer("dx", spec.x_len(), Access::Write);
    let [kh, kw] = spec.kernel;
    let [oh, ow] = spec.out;
    let (pad_y, pad_x) = (kh - 1 - spec.padding[0], kw - 1 - spec.padding[2]);
    // The padded dy: every row `iy + fy` and column `ix + fx` read below.
    let (ph, pw) = (spec.height + kh - 1, spec.width + kw - 1);
    let planes = spec.batch * spec.filters;
    let padded = k.buffer("dy_padded", planes * ph * pw, Access::Scratch);
    let mut body = zero(&mut k, padded, planes * ph * pw);
    body.push(k.for_loop(0, planes, 1, 1, |k, p| {
        vec![k.for_loop(0, oh, 1, 1, |k, oy| {
            vec![k.for_loop(0, ow, 1, 4, |_, ox| {
                vec![Stmt::Store {
                    buf: padded,
                    index: Affine::var(p)
                        .times((ph * pw) as i64)
                        .plus_term(oy, pw as i64)
                        .plus_term(ox, 1)
                        .plus((pad_y * pw + pad_x) as i64),
                    value: Expr::load(
                        dy,
                        Affine::var(p)
                            .times((oh * ow) as i64)
                            .plus_term(oy, ow as i64)
                            .plus_term(ox, 1),
                        Ty::F32,
                    ),
                }]
            })]
        })]
    }));
    let (ty, ranges) = if spec.width >= 4 {
        (Ty::F32x4, super::covering(spec.width, 4))
    } else {
        (Ty::F32, vec![(0, spec.width, 1)])
    };
    // Channels are done `block` at a time: each load of `dy` feeds
    // `block` accumulators.
    let block = block_of(spec.channels);
    let a: Vec<VarId> = (0..block).map(|_| k.var(ty)).collect();
    let dv = k.var(ty);
    let (h, wd) = (spec.height as i64, spec.width as i64);
    let wc = (kh * kw) as i64;
    body.push(k.for_loop(0, spec.batch, 1, 1, |k, b| {
        vec![k.for_loop(0, spec.channels, block, 1, |k, c| {
            vec![k.for_loop(0, spec.height, 1, 1, |k, iy| {
                ranges
                    .iter()
                    .map(|&(c0, c1, step)| {
                        k.for_loop(c0, c1, step, 1, |k, ix| {
                            let sum = k.for_loop(0, spec.filters, 1, 1, |k, f| {
                                vec![k.for_loop(0, kh, 1, 1, |k, fy| {
                                    vec![k.for_loop(0, kw, 1, 8, |_, fx| {
                                        let at_dy = Affine::var(b)
                                            .times((spec.filters * ph * pw) as i64)
                                            .plus_term(f, (ph * pw) as i64)
                                            .plus_term(iy, pw as i64)
                                            .plus_term(fy, pw as i64)
                                            .plus_term(ix, 1)
                                            .plus_term(fx, 1);
                                        let mut inner = vec![Stmt::Assign {
                                            var: dv,
                                            value: Expr::load(padded, at_dy, ty),
                                        }];
                                        for (j, &v) in a.iter().enumerate() {
                                            // w[f, c + j, kh - 1 - fy, kw - 1 - fx]
                                            let at_w = Affine::var(f)
                                                .times(spec.channels as i64 * wc)
                                                .plus_term(c, wc)
                                                .plus_term(fy, -(kw as i64))
                                                .plus_term(fx, -1)
                                                .plus(j as i64 * wc + wc - 1);
                                            let wv = Expr::load(w, at_w, Ty::F32);
                                            inner.push(Stmt::Assign {
                                                var: v,
                                                value: Expr::fma(
                                                    super::widen(wv, ty),
                                                    Expr::Var(dv),
                                                    Expr::Var(v),
                                                ),
                                            });
                                        }
                                        inner
                                    })]
                                })]
                            });
                            let at = Affine::var(b)
                                .times(spec.channels as i64 * h * wd)
                                .plus_term(c, h * wd)
                                .plus_term(iy, wd)
                                .plus_term(ix, 1);
                            let mut stmts: Vec<Stmt> = a
                                .iter()
                                .map(|&v| Stmt::Assign {
                                    var: v,
                                    value: Expr::constant(0.0, ty),
                                })
                                .collect();
                            stmts.push(sum);
                            for (j, &v) in a.iter().enumerate() {
                                stmts.push(Stmt::Store {
                                    buf: dx,
                                    index: at.clone().plus(j as i64 * h * wd),
                                    value: Expr::Var(v),
                                });
                            }
                            stmts
                        })
                    })
                    .collect()
            })]
        })]
    }));
    k.body = body;
    k
}

/// The weight gradient of [`conv2d`]: `dw[f, c, ky, kx]` sums `dy[b, f, oy,
/// ox] * x[...]` over the examples and output positions whose window puts
/// offset `(ky, kx)` inside the input. Buffers: `x`, `dy`, `dw` (written).
///
/// The offsets `kx` of a run (at most [`MAX_KX_BLOCK`] of them) are
/// summed together: each load of `dy` feeds one accumulator per offset.
pub fn conv2d_weight_grad(name: &str, spec: ConvSpec) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", spec.x_len(), Access::Read);
    let dy = k.buffer("dy", spec.y_len(), Access::Read);
    let dw = k.buffer("dw", spec.w_len(), Access::Write);
    let width = spec.kernel[1].min(MAX_KX_BLOCK);
    let acc: Vec<VarId> = (0..width).map(|_| k.var(Ty::F32)).collect();
    let acc4: Vec<VarId> = (0..width).map(|_| k.var(Ty::F32x4)).collect();
    let dv = [k.var(Ty::F32), k.var(Ty::F32x4)];
    let ix = Index { s: &spec };
    let mut body = zero(&mut k, dw, spec.w_len());
    let (rows, cols) = spec.runs();
    for ry in rows.iter().filter(|r| !r.is_empty()) {
        for rx in cols.iter().filter(|r| !r.is_empty()) {
            let ranges = lanes(rx.start, rx.end, spec.stride[1] == 1);
            // Blocks of offsets `kx0..kx0 + n` of this run.
            let mut kx0 = rx.k0;
            while kx0 < rx.k1 {
                let n = (rx.k1 - kx0).min(width);
                body.push(k.for_loop(0, spec.filters, 1, 1, |k, f| {
                    vec![k.for_loop(0, spec.channels, 1, 1, |k, c| {
                        vec![k.for_loop(ry.k0, ry.k1, 1, 1, |k, ky| {
                            let mut stmts = Vec::new();
                            for j in 0..n {
                                stmts.push(Stmt::Assign {
                                    var: acc[j],
                                    value: Expr::Const(0.0),
                                });
                                stmts.push(Stmt::Assign {
                                    var: acc4[j],
                                    value: Expr::constant(0.0, Ty::F32x4),
                                });
                            }
                            stmts.push(k.for_loop(0, spec.batch, 1, 1, |k, b| {
                                vec![k.for_loop(ry.start, ry.end, 1, 1, |k, oy| {
                                    ranges
                                        .iter()
                                        .map(|&(c0, c1, ty)| {
                                            let vector = ty == Ty::F32x4;
                                            let (a, d) = if vector {
                                                (&acc4, dv[1])
                                            } else {
                                                (&acc, dv[0])
                                            };
                                            k.for_loop(c0, c1, ty.lanes(), 1, |_, ox| {
                                                let mut inner = vec![Stmt::Assign {
                                                    var: d,
                                                    value: Expr::load(dy, ix.y(b, f, oy, ox), ty),
                                                }];
                                                for (j, &v) in a.iter().take(n).enumerate() {
                                                    let at = ix.x_row(b, c, oy, ky, ox).plus(
                                                        (kx0 + j) as i64 - spec.padding[2] as i64,
                                                    );
                                                    inner.push(Stmt::Assign {
                                                        var: v,
                                                        value: Expr::fma(
                                                            Expr::Var(d),
                                                            Expr::load(x, at, ty),
                                                            Expr::Var(v),
                                                        ),
                                                    });
                                                }
                                                inner
                                            })
                                        })
                                        .collect()
                                })]
                            }));
                            for j in 0..n {
                                let at = ix.w_row(f, c, ky).plus((kx0 + j) as i64);
                                let sum = Expr::add(
                                    Expr::Var(acc[j]),
                                    Expr::ReduceSum(Box::new(Expr::Var(acc4[j]))),
                                );
                                stmts.push(Stmt::Store {
                                    buf: dw,
                                    index: at.clone(),
                                    value: Expr::add(Expr::load(dw, at, Ty::F32), sum),
                                });
                            }
                            stmts
                        })]
                    })]
                }));
                kx0 += n;
            }
        }
    }
    k.body = body;
    k
}

/// The most kernel columns [`conv2d_weight_grad`] sums at once (each
/// takes a scalar and a vector accumulator).
const MAX_KX_BLOCK: usize = 6;

/// `out[b, c, i] = x[b, c, i] + bias[c]` for `x` of `batch x channels x
/// inner` (a convolution's bias, `inner` being height times width).
/// Buffers: `x`, `bias`, `out` (written).
pub fn channel_bias_add(name: &str, batch: usize, channels: usize, inner: usize) -> Kernel {
    let mut k = Kernel::new(name);
    let len = batch * channels * inner;
    let x = k.buffer("x", len, Access::Read);
    let bias = k.buffer("bias", channels, Access::Read);
    let out = k.buffer("out", len, Access::Write);
    let body = k.for_loop(0, batch, 1, 1, |k, b| {
        vec![k.for_loop(0, channels, 1, 1, |k, c| {
            lanes(0, inner, true)
                .into_iter()
                .map(|(i0, i1, ty)| {
                    k.for_loop(i0, i1, ty.lanes(), 4, |_, i| {
                        let at = Affine::var(b)
                            .times((channels * inner) as i64)
                            .plus_term(c, inner as i64)
                            .plus_term(i, 1);
                        let bv = super::widen(Expr::load(bias, Affine::var(c), Ty::F32), ty);
                        vec![Stmt::Store {
                            buf: out,
                            index: at.clone(),
                            value: Expr::add(Expr::load(x, at, ty), bv),
                        }]
                    })
                })
                .collect()
        })]
    });
    k.body.push(body);
    k
}

/// `out[c] = sum over b, i of x[b, c, i]` for `x` of `batch x channels x
/// inner` (the gradient of [`channel_bias_add`]'s bias). Buffers: `x`,
/// `out` (written).
pub fn channel_sum(name: &str, batch: usize, channels: usize, inner: usize) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", batch * channels * inner, Access::Read);
    let out = k.buffer("out", channels, Access::Write);
    let (acc, acc4) = (k.var(Ty::F32), k.var(Ty::F32x4));
    let ranges = lanes(0, inner, true);
    let body = k.for_loop(0, channels, 1, 1, |k, c| {
        let mut stmts = vec![
            Stmt::Assign {
                var: acc,
                value: Expr::Const(0.0),
            },
            Stmt::Assign {
                var: acc4,
                value: Expr::constant(0.0, Ty::F32x4),
            },
        ];
        stmts.push(k.for_loop(0, batch, 1, 1, |k, b| {
            ranges
                .iter()
                .map(|&(i0, i1, ty)| {
                    let a = if ty == Ty::F32 { acc } else { acc4 };
                    k.for_loop(i0, i1, ty.lanes(), 4, |_, i| {
                        let at = Affine::var(b)
                            .times((channels * inner) as i64)
                            .plus_term(c, inner as i64)
                            .plus_term(i, 1);
                        vec![Stmt::Assign {
                            var: a,
                            value: Expr::add(Expr::Var(a), Expr::load(x, at, ty)),
                        }]
                    })
                })
                .collect()
        }));
        stmts.push(Stmt::Store {
            buf: out,
            index: Affine::var(c),
            value: Expr::add(Expr::Var(acc), Expr::ReduceSum(Box::new(Expr::Var(acc4)))),
        });
        stmts
    });
    k.body.push(body);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_border_and_interior() {
        // 5 wide, kernel 3, stride 1, pad 1 each side: first and last
        // output positions lose one offset.
        let r = runs(5, 3, 1, 1, 5);
        assert_eq!(
            r,
            vec![
                Run {
                    start: 0,
                    end: 1,
                    k0: 1,
                    k1: 3
                },
                Run {
                    start: 1,
                    end: 4,
                    k0: 0,
                    k1: 3
                },
                Run {
                    start: 4,
                    end: 5,
                    k0: 0,
                    k1: 2
                },
            ]
        );
        // A window entirely in the padding covers nothing.
        let r = runs(3, 2, 2, 0, 4);
        assert_eq!(r.last().map(|r| r.is_empty()), Some(true));
    }
}
