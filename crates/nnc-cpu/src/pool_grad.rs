//! A `pool_grad+epilogue` kernel in one pass: a max pooling's gradient,
//! the activation's derivative (ReLU) and the bias gradient's sum over
//! examples and pixels.
//!
//! A max pooling routes each output's gradient to its window's first
//! largest input (the interpreter's rule), so the gradient is zero almost
//! everywhere; ReLU's derivative then keeps what lands where `z > 0`. This
//! kernel zeroes an example's gradient, walks the windows once, adds each
//! routed (and masked) value at its place and into its channel's sum,
//! instead of three passes over the whole tensor (the pooling gradient,
//! the derivative, the sum). Masking each routed value is the same as
//! masking their sum (the mask depends on the place only).
//!
//! # Invariants
//!
//! - Every element of the gradient is written on every call.
//! - The examples are split in the same two halves whatever the number
//!   of cores (module `pair`), each half's sums are taken in a fixed
//!   order and the two are added last: results do not depend on the
//!   thread count.
//! - A call allocates nothing.

use crate::conv_gemm::MaxPool;
use crate::error::LowerError;

/// A planned `pool_grad+epilogue` kernel over `[batch, channels, height,
/// width]` inputs.
#[derive(Debug)]
pub(crate) struct PoolGradFused {
    pool: MaxPool,
    batch: usize,
    channels: usize,
    input: [usize; 2],
    out: [usize; 2],
    /// ReLU's derivative with the pre-activation `z` (the fourth input).
    relu: bool,
    /// Whether the per-channel sum is computed (the second output).
    sum: bool,
    /// Each half's per-channel sums.
    sums: [Vec<f32>; 2],
}

impl PoolGradFused {
    /// Plans the kernel: `x` (the pooling's input) is `[batch, channels,
    /// input]`, its output `[batch, channels, out]`.
    pub(crate) fn new(
        pool: MaxPool,
        x: &[usize],
        out: [usize; 2],
        relu: bool,
        sum: bool,
    ) -> Option<Self> {
        let &[batch, channels, h, w] = x else {
            return None;
        };
        Some(PoolGradFused {
            pool,
            batch,
            channels,
            input: [h, w],
            out,
            relu,
            sum,
            sums: [vec![0.0; channels], vec![0.0; channels]],
        })
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "max pool gradient{}{} over [{}, {}, {}, {}] in one pass, examples split in two halves",
            if self.relu { ", relu gradient" } else { "" },
            if self.sum { ", bias gradient sum" } else { "" },
            self.batch,
            self.channels,
            self.input[0],
            self.input[1]
        )
    }

    /// Runs the kernel: inputs `x`, `y` (the pooling's output, not read:
    /// the maximum is found again in `x`), `dy`, and `z` with ReLU;
    /// outputs the gradient and, with the sum, the per-channel sums.
    pub(crate) fn run(
        &mut self,
        ins: &[&[f32]],
        outs: &mut [&mut [f32]],
    ) -> Result<(), LowerError> {
        let plane = self.input[0] * self.input[1];
        let out_plane = self.out[0] * self.out[1];
        let x_len = self.channels * plane;
        let y_len = self.channels * out_plane;
        let wrong = || LowerError::Internal {
            message: "a pooling gradient given buffers of the wrong size".into(),
        };
        let (x, dy, z) = match (ins, self.relu) {
            ([x, _, dy, z], true) => (*x, *dy, *z),
            ([x, _, dy], false) => (*x, *dy, &[][..]),
            _ => return Err(wrong()),
        };
        let (dx, db): (&mut [f32], &mut [f32]) = match (outs, self.sum) {
            ([dx, db], true) => (dx, db),
            ([dx], false) => (dx, &mut []),
            _ => return Err(wrong()),
        };
        let b = self.batch;
        if x.len() != b * x_len
            || dy.len() != b * y_len
            || (self.relu && z.len() != b * x_len)
            || dx.len() != b * x_len
            || (self.sum && db.len() != self.channels)
        {
            return Err(wrong());
        }
        let mid = b / 2;
        let ranges = [0..mid, mid..b];
        let (dx0, dx1) = dx.split_at_mut(mid * x_len);
        let (pool, channels, width, relu) = (&self.pool, self.channels, self.input[1], self.relu);
        let ok = crate::pair::on_halves(&mut self.sums, [dx0, dx1], &|sums, half, dx| {
            sums.fill(0.0);
            for (i, e) in ranges[half].clone().enumerate() {
                let dx_b = &mut dx[i * x_len..][..x_len];
                dx_b.fill(0.0);
                for c in 0..channels {
                    let at = e * x_len + c * plane;
                    let xs = &x[at..][..plane];
                    let zs = if relu { &z[at..][..plane] } else { &[][..] };
                    let gs = &dy[e * y_len + c * out_plane..][..out_plane];
                    let to = &mut dx_b[c * plane..][..plane];
                    let mut total = 0.0;
                    let (rows, cols) = pool.windows();
                    if pool.pairs() {
                        // 2 x 2 windows at (2 oy, 2 ox): the first largest
                        // of four, with selects.
                        let ow = cols.len();
                        for oy in 0..rows.len() {
                            let top = &xs[2 * oy * width..][..2 * width];
                            let g_row = &gs[oy * ow..][..ow];
                            for (ox, &g) in g_row.iter().enumerate() {
                                let c = 2 * ox;
                                let (v1, v2, v3) = (top[c + 1], top[width + c], top[width + c + 1]);
                                let (mut best, mut at) = (top[c], c);
                                (best, at) = if v1 > best { (v1, c + 1) } else { (best, at) };
                                (best, at) = if v2 > best {
                                    (v2, width + c)
                                } else {
                                    (best, at)
                                };
                                at = if v3 > best { width + c + 1 } else { at };
                                let p = 2 * oy * width + at;
                                // ReLU's derivative: the interpreter's rule
                                // (z > 0 passes, NaN does not).
                                let g = if !relu || zs[p] > 0.0 { g } else { 0.0 };
                                to[p] += g;
                                total += g;
                            }
                        }
                    } else {
                        let mut o = 0;
                        for &r in rows {
                            for &cl in cols {
                                if let Some(p) = pool.argmax(xs, width, r, cl) {
                                    let g = if !relu || zs[p] > 0.0 { gs[o] } else { 0.0 };
                                    to[p] += g;
                                    total += g;
                                }
                                o += 1;
                            }
                        }
                    }
                    sums[c] += total;
                }
            }
            true
        });
        if !ok {
            return Err(wrong());
        }
        if self.sum {
            // Each half zeroed its sums first, an empty half included.
            for (c, out) in db.iter_mut().enumerate() {
                *out = self.sums[0][c] + self.sums[1][c];
            }
        }
        Ok(())
    }
}
