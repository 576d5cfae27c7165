//! A convolution's weight gradient as one matrix product: every example's
//! input is unfolded into rows of windows (`im2col`: a `(batch * out_h *
//! out_w) x (channels * kh * kw)` matrix), the output gradient is laid out
//! as `filters x (batch * out_h * out_w)`, and `dW = dY cols` is computed
//! by nnc's own product (module `sgemm`).
//!
//! The direct kernel (`nnc_jit::kernels::conv2d_weight_grad`) sums a
//! window per weight with 128-bit vectors on one thread (it reduces over
//! the batch, so it cannot be split by examples); this form reaches the
//! product's speed on both cores. On the 20/40-map network's second
//! convolution (40 maps of 5x5 over 20 channels, 8x8 outputs, batch 10)
//! the direct kernel took 1.44 ms.
//!
//! # Invariants
//!
//! - The window and gradient matrices are allocated once, when planned; a
//!   call allocates nothing.
//! - Every element of both is written on every call (padding as zeros),
//!   so nothing stale is ever read.
//! - The product sums in a fixed order whatever the thread count.

use crate::error::LowerError;
use crate::sgemm::Sgemm;
use nnc_jit::kernels::ConvSpec;

/// A planned weight gradient `dW[f, c, ky, kx] = sum over b, oy, ox of
/// dY[b, f, oy, ox] x[b, c, oy*sy + ky - top, ox*sx + kx - left]`.
#[derive(Debug)]
pub(crate) struct WeightGradGemm {
    spec: ConvSpec,
    /// `(batch * out_h * out_w) x (channels * kh * kw)`: every window.
    cols: Vec<f32>,
    /// `filters x (batch * out_h * out_w)`: the output gradient, filter
    /// major.
    dy: Vec<f32>,
    product: Sgemm,
}

impl WeightGradGemm {
    /// Plans the weight gradient of `spec`, or `None` where the processor
    /// lacks AVX2 or FMA (the direct kernel is used then).
    pub(crate) fn new(spec: ConvSpec) -> Option<Self> {
        if !Sgemm::available() {
            return None;
        }
        let rows = spec.batch * spec.out[0] * spec.out[1];
        let window = spec.channels * spec.kernel[0] * spec.kernel[1];
        let threads = crate::gemm::threads_for(spec.filters, rows, window);
        Some(WeightGradGemm {
            cols: vec![0.0; rows * window],
            dy: vec![0.0; spec.filters * rows],
            product: Sgemm::new(spec.filters, rows, window, false, false, threads),
            spec,
        })
    }

    /// Whether the product form pays: a window of at least 100 values
    /// (the product's columns) and enough work per example. At batch 10,
    /// the 20/40-map net's first convolution (windows of 25 over one
    /// channel) took 0.21 ms direct and 0.58 ms as products (one per
    /// example, in a first version), its second (windows of 500) 1.44 ms
    /// direct; see the closing notes of issue 4 for the one-product
    /// figure.
    pub(crate) fn pays(spec: &ConvSpec) -> bool {
        let window = spec.channels * spec.kernel[0] * spec.kernel[1];
        let macs = spec.filters * spec.out[0] * spec.out[1] * window;
        window >= 100 && macs >= 100_000
    }

    /// A short description for listings.
    pub(crate) fn describe(&self) -> String {
        let s = &self.spec;
        format!(
            "conv weight gradient as a {}x{}x{} product over im2col windows",
            s.filters,
            s.batch * s.out[0] * s.out[1],
            s.channels * s.kernel[0] * s.kernel[1]
        )
    }

    /// Computes `dw` from the input `x` and the output gradient `dy`.
    pub(crate) fn run(&mut self, x: &[f32], dy: &[f32], dw: &mut [f32]) -> Result<(), LowerError> {
        let s = self.spec;
        let plane = s.height * s.width;
        let x_len = s.channels * plane;
        let pixels = s.out[0] * s.out[1];
        let dy_len = s.filters * pixels;
        let window = s.channels * s.kernel[0] * s.kernel[1];
        if x.len() != s.batch * x_len
            || dy.len() != s.batch * dy_len
            || dw.len() != s.filters * window
        {
            return Err(LowerError::Internal {
                message: "a convolution's weight gradient given buffers of the wrong size".into(),
            });
        }
        if s.batch == 0 {
            dw.fill(0.0);
            return Ok(());
        }
        let rows = s.batch * pixels;
        for b in 0..s.batch {
            im2col(
                &s,
                &x[b * x_len..(b + 1) * x_len],
                &mut self.cols[b * pixels * window..(b + 1) * pixels * window],
            );
            for f in 0..s.filters {
                let from = &dy[b * dy_len + f * pixels..][..pixels];
                self.dy[f * rows + b * pixels..][..pixels].copy_from_slice(from);
            }
        }
        if !self.product.run(&self.dy, &self.cols, dw, 0.0, 1.0) {
            return Err(LowerError::Internal {
                message: "the product of a convolution's weight gradient failed".into(),
            });
        }
        Ok(())
    }
}

/// One example's windows: row `oy * out_w + ox`, column
/// `(c * kh + ky) * kw + kx`, zero where the window overhangs the padding.
fn im2col(s: &ConvSpec, x: &[f32], cols: &mut [f32]) {
    let [kh, kw] = s.kernel;
    let [sy, sx] = s.stride;
    let (top, left) = (s.padding[0], s.padding[2]);
    let window = s.channels * kh * kw;
    for oy in 0..s.out[0] {
        for ox in 0..s.out[1] {
            let row = &mut cols[(oy * s.out[1] + ox) * window..][..window];
            let mut at = 0;
            for c in 0..s.channels {
                let plane = &x[c * s.height * s.width..][..s.height * s.width];
                for ky in 0..kh {
                    let y = (oy * sy + ky).checked_sub(top).filter(|&y| y < s.height);
                    for kx in 0..kw {
                        let v = match (y, (ox * sx + kx).checked_sub(left)) {
                            (Some(y), Some(xx)) if xx < s.width => plane[y * s.width + xx],
                            _ => 0.0,
                        };
                        row[at] = v;
                        at += 1;
                    }
                }
            }
        }
    }
}
