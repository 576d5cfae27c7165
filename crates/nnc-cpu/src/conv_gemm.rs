//! Convolutions as matrix products on nnc's own product (module `sgemm`),
//! one example at a time, the examples of a batch split in two halves
//! that the two cores compute at once (module `pair`).
//!
//! An example's windows are unfolded into a `window x pixels` matrix
//! (`cols`: row `(c * kh + ky) * kw + kx`, column `oy * out_w + ox`, zero
//! where a window overhangs the padding). Each row is a set of runs along
//! `ox` that are contiguous in the input (for stride 1), so unfolding and
//! folding back are 256-bit copies and adds, not element gathers. Then:
//! - the forward pass: `Y_b = W cols_b` (`filters x pixels`: the
//!   example's output as stored);
//! - the input gradient: `dcols_b = W^T dY_b` (with `W^T` transposed once
//!   per call), folded back onto the input positions (`col2im`);
//! - the weight gradient: `dW^T = sum over b of cols_b dY_b^T`, summed per
//!   half into a `window x filters` matrix of each half's own; the two
//!   are added and transposed into `dW` at the end.
//!
//! # Invariants
//!
//! - Every buffer is allocated when planned; a call allocates nothing.
//! - Every element of a window matrix is written on every unfold (the
//!   padding as zeros), so nothing stale is ever read.
//! - The halves are the same whatever the number of cores (the first
//!   `batch / 2` examples, then the rest; on one core both run on the
//!   calling thread), and each is summed in a fixed order, so results do
//!   not depend on the thread count.

use crate::conv_pass::ConvPass;
use crate::error::LowerError;
use crate::sgemm::Sgemm;
use nnc_jit::kernels::ConvSpec;
use std::ops::Range;

/// A planned convolution pass as products.
#[derive(Debug)]
pub(crate) struct ConvGemm {
    spec: ConvSpec,
    pass: ConvPass,
    /// The two halves' products and buffers.
    lanes: [Lane; 2],
    /// The input gradient's transposed weights, `window x filters`.
    wt: Vec<f32>,
    /// What the forward pass computes after each example's product.
    epilogue: Option<Epilogue>,
}

/// The rest of a `conv+epilogue` kernel, computed for each example while
/// its product is still in cache: the channel bias (`z`), optionally
/// ReLU (`a`), optionally a max pooling of the last of those.
#[derive(Clone, Debug)]
pub(crate) struct Epilogue {
    /// ReLU after the bias.
    pub relu: bool,
    /// Whether `z` is stored (read by a later kernel).
    pub store_z: bool,
    /// Whether `a` is stored (with `relu` only).
    pub store_a: bool,
    /// The pooling, whose result is always stored.
    pub pool: Option<MaxPool>,
}

impl Epilogue {
    /// The values stored, in the order of the action's outputs.
    fn outputs(&self) -> usize {
        usize::from(self.store_z)
            + usize::from(self.relu && self.store_a)
            + usize::from(self.pool.is_some())
    }
}

/// A window's extent along one axis: `[start, end)` in the input.
pub(crate) type Span = (usize, usize);

/// A max pooling's windows, clipped to the input (padding is never a
/// value): rows `rows[oy]` and columns `cols[ox]` of each plane.
#[derive(Clone, Debug)]
pub(crate) struct MaxPool {
    rows: Vec<(usize, usize)>,
    cols: Vec<(usize, usize)>,
    /// Every window is the `2 x 2` block at `(2 oy, 2 ox)` (the book's
    /// pooling): the fast paths.
    pairs: bool,
}

impl MaxPool {
    /// The windows of `g` over an `input` plane giving an `out` plane, or
    /// `None` for another pooling than the maximum.
    pub(crate) fn new(
        g: &nnc_ir::PoolGeometry,
        input: [usize; 2],
        out: [usize; 2],
    ) -> Option<Self> {
        use nnc_ir::ops::pool::window_range;
        if g.kind != nnc_ir::window::PoolKind::Max {
            return None;
        }
        let axis = |a: usize, pad: usize| -> Vec<(usize, usize)> {
            (0..out[a])
                .map(|o| window_range(o, g.size[a], g.stride[a], pad, input[a]))
                .collect()
        };
        let (rows, cols) = (axis(0, g.padding[0]), axis(1, g.padding[2]));
        let pairs = [&rows, &cols].iter().all(|windows| {
            windows
                .iter()
                .enumerate()
                .all(|(o, &w)| w == (2 * o, 2 * o + 2))
        });
        Some(MaxPool { rows, cols, pairs })
    }

    fn out_len(&self) -> usize {
        self.rows.len() * self.cols.len()
    }

    /// Pools one `plane` of width `width` into `out`: each window's first
    /// largest value (the interpreter's rule, `v > best` replacing), 0
    /// for a window covering nothing.
    pub(crate) fn pool(&self, plane: &[f32], width: usize, out: &mut [f32]) {
        if self.pairs && Sgemm::available() {
            // SAFETY: AVX2 is present; every window lies inside the plane
            // (checked when planned) and `out` holds the pooled plane.
            unsafe { self.pool_pairs(plane, width, out) };
            return;
        }
        let mut at = 0;
        for &(r0, r1) in &self.rows {
            for &(c0, c1) in &self.cols {
                let mut best = 0.0;
                if r0 < r1 && c0 < c1 {
                    best = plane[r0 * width + c0];
                    for r in r0..r1 {
                        for &v in &plane[r * width + c0..r * width + c1] {
                            // A select, not a branch (`maxss`).
                            best = if v > best { v } else { best };
                        }
                    }
                }
                out[at] = best;
                at += 1;
            }
        }
    }

    /// [`MaxPool::pool`] for `2 x 2` windows at `(2 oy, 2 ox)`: four
    /// outputs from two 8-value loads, the rows' maximum, then the
    /// maximum of neighbouring columns. The order of the comparisons
    /// differs from the interpreter's only for NaN and the sign of zero.
    ///
    /// # Safety
    ///
    /// AVX2; `plane` holds `2 rows.len()` rows of `width >= 2 cols.len()`
    /// values and `out` `rows.len() x cols.len()` values.
    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2"))]
    unsafe fn pool_pairs(&self, plane: &[f32], width: usize, out: &mut [f32]) {
        let (oh, ow) = (self.rows.len(), self.cols.len());
        debug_assert!(plane.len() >= 2 * oh * width && width >= 2 * ow && out.len() >= oh * ow);
        for oy in 0..oh {
            let top = plane.as_ptr().add(2 * oy * width);
            let bottom = top.add(width);
            let dst = out.as_mut_ptr().add(oy * ow);
            let mut ox = 0;
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::x86_64::*;
                while ox + 4 <= ow {
                    let m = _mm256_max_ps(
                        _mm256_loadu_ps(bottom.add(2 * ox)),
                        _mm256_loadu_ps(top.add(2 * ox)),
                    );
                    let (lo, hi) = (_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
                    let even = _mm_shuffle_ps(lo, hi, 0b10_00_10_00);
                    let odd = _mm_shuffle_ps(lo, hi, 0b11_01_11_01);
                    _mm_storeu_ps(dst.add(ox), _mm_max_ps(odd, even));
                    ox += 4;
                }
            }
            while ox < ow {
                let mut best = *top.add(2 * ox);
                for v in [
                    *top.add(2 * ox + 1),
                    *bottom.add(2 * ox),
                    *bottom.add(2 * ox + 1),
                ] {
                    best = if v > best { v } else { best };
                }
                *dst.add(ox) = best;
                ox += 1;
            }
        }
    }

    /// Whether every window is the `2 x 2` block at `(2 oy, 2 ox)`.
    pub(crate) fn pairs(&self) -> bool {
        self.pairs
    }

    /// The position of the first largest value of a window (`None` when
    /// it covers nothing), found with selects rather than branches (the
    /// comparisons of trained values are unpredictable).
    #[inline]
    pub(crate) fn argmax(
        &self,
        plane: &[f32],
        width: usize,
        (r0, r1): (usize, usize),
        (c0, c1): (usize, usize),
    ) -> Option<usize> {
        if r0 >= r1 || c0 >= c1 {
            return None;
        }
        let mut best_at = r0 * width + c0;
        let mut best = plane[best_at];
        for r in r0..r1 {
            let row = r * width;
            for (c, &v) in plane[row + c0..row + c1].iter().enumerate() {
                let better = v > best;
                best = if better { v } else { best };
                best_at = if better { row + c0 + c } else { best_at };
            }
        }
        Some(best_at)
    }

    /// The windows' rows (per output row) and columns (per output column).
    pub(crate) fn windows(&self) -> (&[Span], &[Span]) {
        (&self.rows, &self.cols)
    }
}

/// What one half of the batch computes with.
#[derive(Debug)]
struct Lane {
    product: Sgemm,
    /// One example's windows (or window gradients), `window x pixels`.
    cols: Vec<f32>,
    /// The weight gradient's sum over this half, `window x filters`.
    sum: Vec<f32>,
    /// One example's product, `filters x pixels` (forward pass with an
    /// epilogue).
    conv: Vec<f32>,
}

/// The examples of each half: the first `batch / 2`, then the rest.
fn halves(batch: usize) -> [Range<usize>; 2] {
    let mid = batch / 2;
    [0..mid, mid..batch]
}

impl ConvGemm {
    /// Plans `pass` of the convolution `spec`, or `None` where the
    /// processor lacks AVX2 or FMA (the direct kernels are used then).
    pub(crate) fn new(pass: ConvPass, spec: ConvSpec) -> Option<Self> {
        Self::with_epilogue(pass, spec, None)
    }

    /// Plans `pass` with `epilogue` after each example's product (the
    /// forward pass only).
    pub(crate) fn with_epilogue(
        pass: ConvPass,
        spec: ConvSpec,
        epilogue: Option<Epilogue>,
    ) -> Option<Self> {
        if !Sgemm::available() || (epilogue.is_some() && pass != ConvPass::Forward) {
            return None;
        }
        if epilogue.as_ref().is_some_and(|e| e.outputs() == 0) {
            return None;
        }
        let pixels = spec.out[0] * spec.out[1];
        let window = spec.channels * spec.kernel[0] * spec.kernel[1];
        let f = spec.filters;
        let lane = || Lane {
            product: match pass {
                ConvPass::Forward => Sgemm::new(f, window, pixels, false, false, 1),
                ConvPass::InputGrad => Sgemm::new(window, f, pixels, false, false, 1),
                ConvPass::WeightGrad => Sgemm::new(window, pixels, f, false, true, 1),
            },
            cols: vec![0.0; window * pixels],
            sum: if pass == ConvPass::WeightGrad {
                vec![0.0; window * f]
            } else {
                Vec::new()
            },
            conv: if epilogue.is_some() {
                vec![0.0; f * pixels]
            } else {
                Vec::new()
            },
        };
        Some(ConvGemm {
            spec,
            pass,
            lanes: [lane(), lane()],
            wt: if pass == ConvPass::InputGrad {
                vec![0.0; window * f]
            } else {
                Vec::new()
            },
            epilogue,
        })
    }

    /// Whether `pass` of `spec` runs faster as products than as the direct
    /// kernel, by the measured table in ARCHITECTURE.md ("Convolutions:
    /// direct or products"): always for windows of 100 values or more (the
    /// 20/40-map net's second layer: 2-6x faster); never under 100k
    /// multiply-adds per example or for windows under 20 values; for the
    /// windows between (a first layer's 5x5 over one channel) the forward
    /// pass and input gradient from 16 filters (LeNet-5's 6 filters run
    /// faster direct), the weight gradient from batches of 32 (the direct
    /// kernel sums over the batch on one thread, the products on two: at
    /// batch 10 the direct one is faster, at 64 half as fast).
    pub(crate) fn pays(spec: &ConvSpec, pass: ConvPass) -> bool {
        let window = spec.channels * spec.kernel[0] * spec.kernel[1];
        let macs = spec.filters * spec.out[0] * spec.out[1] * window;
        if macs < 100_000 || window < 20 {
            return false;
        }
        if window >= 100 {
            return true;
        }
        match pass {
            ConvPass::Forward | ConvPass::InputGrad => spec.filters >= 16,
            ConvPass::WeightGrad => spec.batch >= 32,
        }
    }

    /// A short description for listings.
    pub(crate) fn describe(&self) -> String {
        let s = &self.spec;
        let (pixels, window) = (s.out[0] * s.out[1], s.channels * s.kernel[0] * s.kernel[1]);
        let (what, m, k, n) = match self.pass {
            ConvPass::Forward => ("conv forward", s.filters, window, pixels),
            ConvPass::InputGrad => ("conv input gradient", window, s.filters, pixels),
            ConvPass::WeightGrad => ("conv weight gradient", window, pixels, s.filters),
        };
        let then = match &self.epilogue {
            None => String::new(),
            Some(e) => format!(
                ", then bias{}{} per example",
                if e.relu { ", relu" } else { "" },
                if e.pool.is_some() { ", max pool" } else { "" }
            ),
        };
        format!(
            "{what} as {} products {m}x{k}x{n} over im2col windows, examples split in two halves{then}",
            s.batch
        )
    }

    /// Runs the pass: operands in the op's order (`x, w` forward, then the
    /// bias with an epilogue; `dy, w` input gradient; `x, dy` weight
    /// gradient), then the results (the forward pass with an epilogue:
    /// `z`, `a`, the pooling, those that are stored).
    pub(crate) fn run(
        &mut self,
        ins: &[&[f32]],
        outs: &mut [&mut [f32]],
    ) -> Result<(), LowerError> {
        let s = self.spec;
        let x_len = s.channels * s.height * s.width;
        let pixels = s.out[0] * s.out[1];
        let y_len = s.filters * pixels;
        let window = s.channels * s.kernel[0] * s.kernel[1];
        let w_len = s.filters * window;
        let what = match self.pass {
            ConvPass::Forward => "forward pass",
            ConvPass::InputGrad => "input gradient",
            ConvPass::WeightGrad => "weight gradient",
        };
        let wrong = || LowerError::Internal {
            message: format!("a convolution's {what} given buffers of the wrong size"),
        };
        let [r0, r1] = halves(s.batch);
        let ok = match (self.pass, ins, outs) {
            (ConvPass::Forward, [x, w, bias], outs) if self.epilogue.is_some() => {
                let Some(e) = self.epilogue.clone() else {
                    return Err(wrong());
                };
                let pooled_len = s.filters * e.pool.as_ref().map_or(0, MaxPool::out_len);
                // The stored values in their fixed places: z, a, pooling.
                let mut places: [&mut [f32]; 3] = Default::default();
                let wanted = [e.store_z, e.relu && e.store_a, e.pool.is_some()];
                let mut given = outs.iter_mut();
                for (place, &want) in places.iter_mut().zip(&wanted) {
                    if want {
                        *place = std::mem::take(given.next().ok_or_else(wrong)?);
                    }
                }
                let lens = [y_len, y_len, pooled_len];
                if given.next().is_some()
                    || x.len() != s.batch * x_len
                    || w.len() != w_len
                    || bias.len() != s.filters
                    || places
                        .iter()
                        .zip(lens)
                        .zip(wanted)
                        .any(|((p, len), want)| want && p.len() != s.batch * len)
                {
                    return Err(wrong());
                }
                let [z, a, p] = places;
                let first = r0.len();
                let ((z0, z1), (a0, a1), (p0, p1)) = (
                    cut(z, first * y_len),
                    cut(a, first * y_len),
                    cut(p, first * pooled_len),
                );
                let (x, w, bias) = (*x, *w, *bias);
                crate::pair::on_halves(
                    &mut self.lanes,
                    [[z0, a0, p0], [z1, a1, p1]],
                    &|lane, half, [z, a, p]| {
                        let range = if half == 0 { r0.clone() } else { r1.clone() };
                        range.enumerate().all(|(i, e_)| {
                            // SAFETY: `ConvGemm::new` succeeded, so the
                            // processor has AVX2; the lengths were checked.
                            unsafe { unfold(&s, &x[e_ * x_len..][..x_len], &mut lane.cols) };
                            let ran = lane.product.run(w, &lane.cols, &mut lane.conv, 0.0, 1.0);
                            let part = |v: &mut [f32], len: usize| -> std::ops::Range<usize> {
                                if v.is_empty() {
                                    0..0
                                } else {
                                    i * len..(i + 1) * len
                                }
                            };
                            let (zr, ar, pr) =
                                (part(z, y_len), part(a, y_len), part(p, pooled_len));
                            epilogue(
                                &e,
                                &s,
                                bias,
                                &mut lane.conv,
                                &mut z[zr],
                                &mut a[ar],
                                &mut p[pr],
                            );
                            ran
                        })
                    },
                )
            }
            (ConvPass::Forward, [x, w], [y]) => {
                if x.len() != s.batch * x_len || w.len() != w_len || y.len() != s.batch * y_len {
                    return Err(wrong());
                }
                let (y0, y1) = y.split_at_mut(r0.len() * y_len);
                crate::pair::on_halves(&mut self.lanes, [y0, y1], &|lane, half, y| {
                    let range = if half == 0 { r0.clone() } else { r1.clone() };
                    range.zip(y.chunks_exact_mut(y_len)).all(|(e, y_b)| {
                        // SAFETY: as above.
                        unsafe { unfold(&s, &x[e * x_len..][..x_len], &mut lane.cols) };
                        lane.product.run(w, &lane.cols, y_b, 0.0, 1.0)
                    })
                })
            }
            (ConvPass::InputGrad, [dy, w], [dx]) => {
                if dy.len() != s.batch * y_len || w.len() != w_len || dx.len() != s.batch * x_len {
                    return Err(wrong());
                }
                for f in 0..s.filters {
                    for i in 0..window {
                        self.wt[i * s.filters + f] = w[f * window + i];
                    }
                }
                let wt = &self.wt;
                let (dx0, dx1) = dx.split_at_mut(r0.len() * x_len);
                crate::pair::on_halves(&mut self.lanes, [dx0, dx1], &|lane, half, dx| {
                    let range = if half == 0 { r0.clone() } else { r1.clone() };
                    range.zip(dx.chunks_exact_mut(x_len)).all(|(e, dx_b)| {
                        let dy_b = &dy[e * y_len..][..y_len];
                        let ran = lane.product.run(wt, dy_b, &mut lane.cols, 0.0, 1.0);
                        // SAFETY: as above.
                        unsafe { fold(&s, &lane.cols, dx_b) };
                        ran
                    })
                })
            }
            (ConvPass::WeightGrad, [x, dy], [dw]) => {
                if x.len() != s.batch * x_len || dy.len() != s.batch * y_len || dw.len() != w_len {
                    return Err(wrong());
                }
                let ok = crate::pair::on_halves(&mut self.lanes, [(), ()], &|lane, half, _| {
                    let range = if half == 0 { r0.clone() } else { r1.clone() };
                    range.enumerate().all(|(i, e)| {
                        // SAFETY: as above.
                        unsafe { unfold(&s, &x[e * x_len..][..x_len], &mut lane.cols) };
                        let alpha = if i == 0 { 0.0 } else { 1.0 };
                        let dy_b = &dy[e * y_len..][..y_len];
                        lane.product
                            .run(&lane.cols, dy_b, &mut lane.sum, alpha, 1.0)
                    })
                });
                // dW[f, i] = sum0[i, f] + sum1[i, f], a half with no
                // examples adding nothing.
                let [l0, l1] = &self.lanes;
                for f in 0..s.filters {
                    for i in 0..window {
                        let at = i * s.filters + f;
                        let v0 = if r0.is_empty() { 0.0 } else { l0.sum[at] };
                        let v1 = if r1.is_empty() { 0.0 } else { l1.sum[at] };
                        dw[f * window + i] = v0 + v1;
                    }
                }
                ok
            }
            _ => return Err(wrong()),
        };
        if ok {
            Ok(())
        } else {
            Err(LowerError::Internal {
                message: format!("the product of a convolution's {what} failed"),
            })
        }
    }
}

/// `v` cut after `at` values (an empty slice into two empty ones).
fn cut(v: &mut [f32], at: usize) -> (&mut [f32], &mut [f32]) {
    let at = at.min(v.len());
    v.split_at_mut(at)
}

/// One example's epilogue: `z = conv + bias` per filter, `a = relu(z)`,
/// then the pooling of the last; each written where its slice is not
/// empty. `conv` is overwritten.
#[allow(clippy::too_many_arguments)]
fn epilogue(
    e: &Epilogue,
    s: &ConvSpec,
    bias: &[f32],
    conv: &mut [f32],
    z: &mut [f32],
    a: &mut [f32],
    pooled: &mut [f32],
) {
    let pixels = s.out[0] * s.out[1];
    for (f, &b) in bias.iter().enumerate() {
        let row = &mut conv[f * pixels..][..pixels];
        // One pass per row: z, then a (the interpreter's ReLU: positive
        // values pass, the rest, NaN too, give 0), left in `row`.
        match (z.is_empty(), e.relu, a.is_empty()) {
            (false, true, false) => {
                let z = &mut z[f * pixels..][..pixels];
                let a = &mut a[f * pixels..][..pixels];
                for ((v, z), a) in row.iter_mut().zip(z).zip(a) {
                    let t = *v + b;
                    *z = t;
                    let r = if t > 0.0 { t } else { 0.0 };
                    *a = r;
                    *v = r;
                }
            }
            (z_empty, relu, _) => {
                for v in row.iter_mut() {
                    *v += b;
                }
                if !z_empty {
                    z[f * pixels..][..pixels].copy_from_slice(row);
                }
                if relu {
                    for v in row.iter_mut() {
                        *v = if *v > 0.0 { *v } else { 0.0 };
                    }
                    if !a.is_empty() {
                        a[f * pixels..][..pixels].copy_from_slice(row);
                    }
                }
            }
        }
        if let Some(pool) = &e.pool {
            let len = pool.out_len();
            pool.pool(row, s.out[1], &mut pooled[f * len..][..len]);
        }
    }
}

/// The output columns `[lo, hi)` whose window column `kx` lands inside
/// the input row (the rest read the padding).
fn inside(s: &ConvSpec, kx: usize) -> (usize, usize) {
    let (sx, left, width, ow) = (s.stride[1], s.padding[2], s.width, s.out[1]);
    // ox * sx + kx - left must lie in [0, width).
    let lo = left.saturating_sub(kx).div_ceil(sx).min(ow);
    let hi = if width + left > kx {
        (width + left - kx).div_ceil(sx).min(ow)
    } else {
        0
    };
    (lo, hi.max(lo))
}

/// Unfolds one example `x` (`channels x height x width`) into its windows
/// `cols` (`window x pixels`, see the module docs), overwriting every
/// element.
///
/// # Safety
///
/// The processor must have AVX2; `x` and `cols` must have the lengths of
/// one example and of its windows.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2"))]
unsafe fn unfold(s: &ConvSpec, x: &[f32], cols: &mut [f32]) {
    let [kh, kw] = s.kernel;
    let sy = s.stride[0];
    let (top, left) = (s.padding[0], s.padding[2]);
    let [oh, ow] = s.out;
    let (h, wd) = (s.height, s.width);
    let pixels = oh * ow;
    debug_assert!(x.len() == s.channels * h * wd && cols.len() == s.channels * kh * kw * pixels);
    let (x, cols) = (x.as_ptr(), cols.as_mut_ptr());
    for c in 0..s.channels {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = cols.add(((c * kh + ky) * kw + kx) * pixels);
                let (lo, hi) = inside(s, kx);
                for oy in 0..oh {
                    let out = row.add(oy * ow);
                    let y = (oy * sy + ky).checked_sub(top).filter(|&y| y < h);
                    let Some(y) = y else {
                        zero(out, ow);
                        continue;
                    };
                    zero(out, lo);
                    zero(out.add(hi), ow - hi);
                    if hi > lo {
                        // Input column of output column `lo`.
                        let src = x.add((c * h + y) * wd + lo * s.stride[1] + kx - left);
                        if s.stride[1] == 1 {
                            copy(src, out.add(lo), hi - lo);
                        } else {
                            for (t, ox) in (lo..hi).enumerate() {
                                *out.add(ox) = *src.add(t * s.stride[1]);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds one example's window gradients `dcols` back onto the input
/// positions they came from (the transpose of [`unfold`]), overwriting
/// `dx` (zeroed first); positions in the padding are dropped.
///
/// # Safety
///
/// As [`unfold`].
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2"))]
unsafe fn fold(s: &ConvSpec, dcols: &[f32], dx: &mut [f32]) {
    let [kh, kw] = s.kernel;
    let sy = s.stride[0];
    let (top, left) = (s.padding[0], s.padding[2]);
    let [oh, ow] = s.out;
    let (h, wd) = (s.height, s.width);
    let pixels = oh * ow;
    debug_assert!(dx.len() == s.channels * h * wd && dcols.len() == s.channels * kh * kw * pixels);
    dx.fill(0.0);
    let (dcols, dx) = (dcols.as_ptr(), dx.as_mut_ptr());
    for c in 0..s.channels {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = dcols.add(((c * kh + ky) * kw + kx) * pixels);
                let (lo, hi) = inside(s, kx);
                if hi <= lo {
                    continue;
                }
                for oy in 0..oh {
                    let Some(y) = (oy * sy + ky).checked_sub(top).filter(|&y| y < h) else {
                        continue;
                    };
                    let from = row.add(oy * ow + lo);
                    let to = dx.add((c * h + y) * wd + lo * s.stride[1] + kx - left);
                    if s.stride[1] == 1 {
                        add(from, to, hi - lo);
                    } else {
                        for t in 0..hi - lo {
                            *to.add(t * s.stride[1]) += *from.add(t);
                        }
                    }
                }
            }
        }
    }
}

/// Writes `n` zeros at `dst`.
///
/// # Safety
///
/// `dst` must be valid for `n` writes.
#[inline]
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2"))]
unsafe fn zero(dst: *mut f32, n: usize) {
    for t in 0..n {
        *dst.add(t) = 0.0;
    }
}

/// Copies `n` values from `src` to `dst` (not overlapping).
///
/// # Safety
///
/// `src` must be valid for `n` reads and `dst` for `n` writes; AVX2.
#[inline]
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2"))]
unsafe fn copy(src: *const f32, dst: *mut f32, n: usize) {
    let mut t = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        while t + 8 <= n {
            _mm256_storeu_ps(dst.add(t), _mm256_loadu_ps(src.add(t)));
            t += 8;
        }
    }
    while t < n {
        *dst.add(t) = *src.add(t);
        t += 1;
    }
}

/// Adds `n` values from `src` onto `dst` (not overlapping).
///
/// # Safety
///
/// As [`copy`].
#[inline]
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2"))]
unsafe fn add(src: *const f32, dst: *mut f32, n: usize) {
    let mut t = 0;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        while t + 8 <= n {
            let sum = _mm256_add_ps(_mm256_loadu_ps(dst.add(t)), _mm256_loadu_ps(src.add(t)));
            _mm256_storeu_ps(dst.add(t), sum);
            t += 8;
        }
    }
    while t < n {
        *dst.add(t) += *src.add(t);
        t += 1;
    }
}
