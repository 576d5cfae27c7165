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

use crate::error::LowerError;
use crate::lower_conv::ConvPass;
use crate::sgemm::Sgemm;
use nnc_jit::kernels::ConvSpec;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// A planned convolution pass as products.
#[derive(Debug)]
pub(crate) struct ConvGemm {
    spec: ConvSpec,
    pass: ConvPass,
    /// The two halves' products and buffers.
    lanes: [Lane; 2],
    /// The input gradient's transposed weights, `window x filters`.
    wt: Vec<f32>,
}

/// What one half of the batch computes with.
#[derive(Debug)]
struct Lane {
    product: Sgemm,
    /// One example's windows (or window gradients), `window x pixels`.
    cols: Vec<f32>,
    /// The weight gradient's sum over this half, `window x filters`.
    sum: Vec<f32>,
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
        if !Sgemm::available() {
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
        })
    }

    /// Whether the product forms pay for `spec`: a window of at least 100
    /// values and enough work per example. Measured on the 20/40-map
    /// networks (ARCHITECTURE.md, "Convolutions"): the first convolution's
    /// 25-value windows over one channel run faster direct.
    pub(crate) fn pays(spec: &ConvSpec) -> bool {
        let window = spec.channels * spec.kernel[0] * spec.kernel[1];
        let macs = spec.filters * spec.out[0] * spec.out[1] * window;
        window >= 20 && macs >= 100_000
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
        format!(
            "{what} as {} products {m}x{k}x{n} over im2col windows, examples split in two halves",
            s.batch
        )
    }

    /// Runs the pass: operands in the op's order (`x, w` forward; `dy, w`
    /// input gradient; `x, dy` weight gradient), then the result.
    pub(crate) fn run(&mut self, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), LowerError> {
        let s = self.spec;
        let x_len = s.channels * s.height * s.width;
        let pixels = s.out[0] * s.out[1];
        let y_len = s.filters * pixels;
        let window = s.channels * s.kernel[0] * s.kernel[1];
        let w_len = s.filters * window;
        let (batched_a, batched_b, out_len, what) = match self.pass {
            ConvPass::Forward => (x_len, 0, s.batch * y_len, "forward pass"),
            ConvPass::InputGrad => (y_len, 0, s.batch * x_len, "input gradient"),
            ConvPass::WeightGrad => (x_len, y_len, w_len, "weight gradient"),
        };
        let b_len = if batched_b == 0 {
            w_len
        } else {
            s.batch * batched_b
        };
        if a.len() != s.batch * batched_a || b.len() != b_len || out.len() != out_len {
            return Err(LowerError::Internal {
                message: format!("a convolution's {what} given buffers of the wrong size"),
            });
        }
        let [r0, r1] = halves(s.batch);
        let ok = match self.pass {
            ConvPass::Forward => {
                let (y0, y1) = out.split_at_mut(r0.len() * y_len);
                on_halves(&mut self.lanes, [y0, y1], &|lane, half, y| {
                    let range = if half == 0 { r0.clone() } else { r1.clone() };
                    range.zip(y.chunks_exact_mut(y_len)).all(|(e, y_b)| {
                        // SAFETY: `ConvGemm::new` succeeded, so the
                        // processor has AVX2; the lengths were checked.
                        unsafe { unfold(&s, &a[e * x_len..][..x_len], &mut lane.cols) };
                        lane.product.run(b, &lane.cols, y_b, 0.0, 1.0)
                    })
                })
            }
            ConvPass::InputGrad => {
                for f in 0..s.filters {
                    for i in 0..window {
                        self.wt[i * s.filters + f] = b[f * window + i];
                    }
                }
                let wt = &self.wt;
                let (dx0, dx1) = out.split_at_mut(r0.len() * x_len);
                on_halves(&mut self.lanes, [dx0, dx1], &|lane, half, dx| {
                    let range = if half == 0 { r0.clone() } else { r1.clone() };
                    range.zip(dx.chunks_exact_mut(x_len)).all(|(e, dx_b)| {
                        let dy_b = &a[e * y_len..][..y_len];
                        let ran = lane.product.run(wt, dy_b, &mut lane.cols, 0.0, 1.0);
                        // SAFETY: as above.
                        unsafe { fold(&s, &lane.cols, dx_b) };
                        ran
                    })
                })
            }
            ConvPass::WeightGrad => {
                let ok = on_halves(&mut self.lanes, [&mut [], &mut []], &|lane, half, _| {
                    let range = if half == 0 { r0.clone() } else { r1.clone() };
                    range.enumerate().all(|(i, e)| {
                        // SAFETY: as above.
                        unsafe { unfold(&s, &a[e * x_len..][..x_len], &mut lane.cols) };
                        let alpha = if i == 0 { 0.0 } else { 1.0 };
                        let dy_b = &b[e * y_len..][..y_len];
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
                        out[f * window + i] = v0 + v1;
                    }
                }
                ok
            }
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

/// A half's work: its lane, its index (0 or 1) and its part of the
/// result.
type HalfJob<'a> = dyn Fn(&mut Lane, usize, &mut [f32]) -> bool + Sync + 'a;

/// Runs `job` for both halves, at once on two cores (module `pair`), one
/// after the other on one; `false` if either failed.
fn on_halves(lanes: &mut [Lane; 2], outs: [&mut [f32]; 2], job: &HalfJob<'_>) -> bool {
    let [l0, l1] = lanes;
    let [o0, o1] = outs;
    let ok = [AtomicBool::new(true), AtomicBool::new(true)];
    let parts = [Mutex::new((l0, o0)), Mutex::new((l1, o1))];
    let half = |h: usize| {
        // Each half locks only its own part (never contended).
        let done = match parts[h].lock() {
            Ok(mut part) => {
                let (lane, out) = &mut *part;
                job(lane, h, out)
            }
            Err(_) => false,
        };
        if !done {
            ok[h].store(false, Ordering::Relaxed);
        }
    };
    let ran = if crate::lower::two_cores() {
        crate::pair::both(&|| half(0), &|| half(1))
    } else {
        half(0);
        half(1);
        true
    };
    ran && ok.iter().all(|o| o.load(Ordering::Relaxed))
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
