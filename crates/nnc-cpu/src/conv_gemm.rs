//! Convolutions as matrix products on nnc's own product (module `sgemm`),
//! over windows unfolded into rows (`im2col`: for one example, an
//! `(out_h * out_w) x (channels * kh * kw)` matrix):
//! - the forward pass, per example: `Y_b = W cols_b^T` (`filters x (out_h
//!   * out_w)`, which is the example's output as stored);
//! - the input gradient, per example: `dcols_b = dY_b^T W`, whose windows
//!   are then added back onto the input's positions (`col2im`);
//! - the weight gradient, for the whole batch: `dW = dY cols` with the
//!   output gradient laid out `filters x (batch * out_h * out_w)`.
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

    /// Whether the product forms pay (for all three passes): a window of
    /// at least 100 values and enough work per example. At batch 10, the
    /// 20/40-map net's first convolution (windows of 25 over one channel)
    /// took 0.21 ms direct and 0.58 ms as products for its weight
    /// gradient; its second (windows of 500) took 1.44 ms direct and 0.61
    /// as one product for the weight gradient, 2.0 ms direct (on two
    /// threads) and 0.75 ms as products for the input gradient.
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
            return Err(failed("weight gradient"));
        }
        Ok(())
    }
}

/// A planned forward convolution `y[b, f] = sum over the window of
/// w[f, ...] x[b, ...]` (no bias: that is a kernel of its own).
#[derive(Debug)]
pub(crate) struct ForwardGemm {
    spec: ConvSpec,
    /// One example's windows.
    cols: Vec<f32>,
    product: Sgemm,
}

impl ForwardGemm {
    /// Plans the forward convolution of `spec` (`None` without AVX2+FMA).
    pub(crate) fn new(spec: ConvSpec) -> Option<Self> {
        if !Sgemm::available() {
            return None;
        }
        let pixels = spec.out[0] * spec.out[1];
        let window = spec.channels * spec.kernel[0] * spec.kernel[1];
        let threads = crate::gemm::threads_for(spec.filters, window, pixels);
        Some(ForwardGemm {
            cols: vec![0.0; pixels * window],
            product: Sgemm::new(spec.filters, window, pixels, false, true, threads),
            spec,
        })
    }

    pub(crate) fn describe(&self) -> String {
        let s = &self.spec;
        format!(
            "conv forward as {} products {}x{}x{} over im2col windows",
            s.batch,
            s.filters,
            s.channels * s.kernel[0] * s.kernel[1],
            s.out[0] * s.out[1]
        )
    }

    /// Computes `y` from the input `x` and the weights `w`.
    pub(crate) fn run(&mut self, x: &[f32], w: &[f32], y: &mut [f32]) -> Result<(), LowerError> {
        let s = self.spec;
        let x_len = s.channels * s.height * s.width;
        let y_len = s.filters * s.out[0] * s.out[1];
        let window = s.channels * s.kernel[0] * s.kernel[1];
        if x.len() != s.batch * x_len || y.len() != s.batch * y_len || w.len() != s.filters * window
        {
            return Err(wrong_sizes("forward pass"));
        }
        for b in 0..s.batch {
            im2col(&s, &x[b * x_len..(b + 1) * x_len], &mut self.cols);
            let y_b = &mut y[b * y_len..(b + 1) * y_len];
            if !self.product.run(w, &self.cols, y_b, 0.0, 1.0) {
                return Err(failed("forward pass"));
            }
        }
        Ok(())
    }
}

/// A planned input gradient `dx = sum over filters and windows of dy w`.
#[derive(Debug)]
pub(crate) struct InputGradGemm {
    spec: ConvSpec,
    /// One example's window gradients.
    dcols: Vec<f32>,
    product: Sgemm,
}

impl InputGradGemm {
    /// Plans the input gradient of `spec` (`None` without AVX2+FMA).
    pub(crate) fn new(spec: ConvSpec) -> Option<Self> {
        if !Sgemm::available() {
            return None;
        }
        let pixels = spec.out[0] * spec.out[1];
        let window = spec.channels * spec.kernel[0] * spec.kernel[1];
        let threads = crate::gemm::threads_for(pixels, spec.filters, window);
        Some(InputGradGemm {
            dcols: vec![0.0; pixels * window],
            product: Sgemm::new(pixels, spec.filters, window, true, false, threads),
            spec,
        })
    }

    pub(crate) fn describe(&self) -> String {
        let s = &self.spec;
        format!(
            "conv input gradient as {} products {}x{}x{} and col2im",
            s.batch,
            s.out[0] * s.out[1],
            s.filters,
            s.channels * s.kernel[0] * s.kernel[1]
        )
    }

    /// Computes `dx` from the output gradient `dy` and the weights `w`.
    pub(crate) fn run(&mut self, dy: &[f32], w: &[f32], dx: &mut [f32]) -> Result<(), LowerError> {
        let s = self.spec;
        let x_len = s.channels * s.height * s.width;
        let dy_len = s.filters * s.out[0] * s.out[1];
        let window = s.channels * s.kernel[0] * s.kernel[1];
        if dx.len() != s.batch * x_len
            || dy.len() != s.batch * dy_len
            || w.len() != s.filters * window
        {
            return Err(wrong_sizes("input gradient"));
        }
        for b in 0..s.batch {
            let dy_b = &dy[b * dy_len..(b + 1) * dy_len];
            if !self.product.run(dy_b, w, &mut self.dcols, 0.0, 1.0) {
                return Err(failed("input gradient"));
            }
            col2im(&s, &self.dcols, &mut dx[b * x_len..(b + 1) * x_len]);
        }
        Ok(())
    }
}

fn wrong_sizes(what: &str) -> LowerError {
    LowerError::Internal {
        message: format!("a convolution's {what} given buffers of the wrong size"),
    }
}

fn failed(what: &str) -> LowerError {
    LowerError::Internal {
        message: format!("the product of a convolution's {what} failed"),
    }
}

/// Adds one example's window gradients back onto the input positions they
/// came from (the transpose of [`im2col`]), overwriting `dx` (zeroed
/// first); positions in the padding are dropped.
fn col2im(s: &ConvSpec, dcols: &[f32], dx: &mut [f32]) {
    dx.fill(0.0);
    let [kh, kw] = s.kernel;
    let [sy, sx] = s.stride;
    let (top, left) = (s.padding[0], s.padding[2]);
    let window = s.channels * kh * kw;
    for oy in 0..s.out[0] {
        for ox in 0..s.out[1] {
            let row = &dcols[(oy * s.out[1] + ox) * window..][..window];
            let mut at = 0;
            for c in 0..s.channels {
                let plane = &mut dx[c * s.height * s.width..][..s.height * s.width];
                for ky in 0..kh {
                    let y = (oy * sy + ky).checked_sub(top).filter(|&y| y < s.height);
                    for kx in 0..kw {
                        if let (Some(y), Some(xx)) = (y, (ox * sx + kx).checked_sub(left)) {
                            if xx < s.width {
                                plane[y * s.width + xx] += row[at];
                            }
                        }
                        at += 1;
                    }
                }
            }
        }
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

/// One of the three planned passes, as an action runs it: operands in the
/// op's order, then the result.
#[derive(Debug)]
pub(crate) enum ConvGemm {
    Forward(ForwardGemm),
    InputGrad(InputGradGemm),
    WeightGrad(WeightGradGemm),
}

impl ConvGemm {
    pub(crate) fn describe(&self) -> String {
        match self {
            ConvGemm::Forward(p) => p.describe(),
            ConvGemm::InputGrad(p) => p.describe(),
            ConvGemm::WeightGrad(p) => p.describe(),
        }
    }

    pub(crate) fn run(&mut self, a: &[f32], b: &[f32], out: &mut [f32]) -> Result<(), LowerError> {
        match self {
            ConvGemm::Forward(p) => p.run(a, b, out),
            ConvGemm::InputGrad(p) => p.run(a, b, out),
            ConvGemm::WeightGrad(p) => p.run(a, b, out),
        }
    }
}
