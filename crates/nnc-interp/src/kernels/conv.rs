//! Kernels of the convolution ops (`nnc_ir::ops::conv`), as direct loops:
//! output position `(oy, ox)` of filter `f` reads input rows
//! `oy * stride_h + ky - pad_top` and columns `ox * stride_w + kx -
//! pad_left`; positions outside the input read zero padding.

use super::{values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;

/// The dimensions of one convolution, read from its tensors.
struct Dims {
    batch: usize,
    channels: usize,
    height: usize,
    width: usize,
    filters: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    stride: [usize; 2],
    /// top, left
    pad: [usize; 2],
}

impl Dims {
    fn new(x: &[usize], w: &[usize], y: &[usize], stride: [usize; 2], padding: [usize; 4]) -> Self {
        Dims {
            batch: x[0],
            channels: x[1],
            height: x[2],
            width: x[3],
            filters: w[0],
            kh: w[2],
            kw: w[3],
            oh: y[2],
            ow: y[3],
            stride,
            pad: [padding[0], padding[2]],
        }
    }

    /// The input coordinate read by output `o` at kernel offset `k` along
    /// an axis, if it lies inside the input.
    fn source(o: usize, k: usize, stride: usize, pad: usize, len: usize) -> Option<usize> {
        (o * stride + k).checked_sub(pad).filter(|&i| i < len)
    }

    /// Calls `visit(x_index, w_index, y_index)` for every product of the
    /// convolution that reads the input (not the padding).
    fn for_each_product(&self, mut visit: impl FnMut(usize, usize, usize)) {
        for b in 0..self.batch {
            for f in 0..self.filters {
                for oy in 0..self.oh {
                    for ox in 0..self.ow {
                        let y_index = ((b * self.filters + f) * self.oh + oy) * self.ow + ox;
                        for c in 0..self.channels {
                            let x_plane = (b * self.channels + c) * self.height;
                            let w_plane = (f * self.channels + c) * self.kh;
                            for ky in 0..self.kh {
                                let Some(iy) =
                                    Self::source(oy, ky, self.stride[0], self.pad[0], self.height)
                                else {
                                    continue;
                                };
                                for kx in 0..self.kw {
                                    let Some(ix) = Self::source(
                                        ox,
                                        kx,
                                        self.stride[1],
                                        self.pad[1],
                                        self.width,
                                    ) else {
                                        continue;
                                    };
                                    let x_index = (x_plane + iy) * self.width + ix;
                                    let w_index = (w_plane + ky) * self.kw + kx;
                                    visit(x_index, w_index, y_index);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y = conv2d(x, w)`.
pub(crate) fn conv2d<T: Real>(
    x: &ArrayD<T>,
    w: &ArrayD<T>,
    stride: [usize; 2],
    padding: [usize; 4],
    out: &mut ArrayD<T>,
) {
    let dims = Dims::new(x.shape(), w.shape(), out.shape(), stride, padding);
    let (xs, ws) = (values(x), values(w));
    let ys = values_mut(out);
    ys.fill(T::zero());
    dims.for_each_product(|xi, wi, yi| ys[yi] += xs[xi] * ws[wi]);
}

/// `dx`: each output gradient flows back to the inputs it read, weighted.
pub(crate) fn input_grad<T: Real>(
    dy: &ArrayD<T>,
    w: &ArrayD<T>,
    stride: [usize; 2],
    padding: [usize; 4],
    out: &mut ArrayD<T>,
) {
    let dims = Dims::new(out.shape(), w.shape(), dy.shape(), stride, padding);
    let (dys, ws) = (values(dy), values(w));
    let dxs = values_mut(out);
    dxs.fill(T::zero());
    dims.for_each_product(|xi, wi, yi| dxs[xi] += dys[yi] * ws[wi]);
}

/// `dw`: each weight's gradient sums output gradient times input read.
pub(crate) fn weight_grad<T: Real>(
    x: &ArrayD<T>,
    dy: &ArrayD<T>,
    stride: [usize; 2],
    padding: [usize; 4],
    out: &mut ArrayD<T>,
) {
    let dims = Dims::new(x.shape(), out.shape(), dy.shape(), stride, padding);
    let (xs, dys) = (values(x), values(dy));
    let dws = values_mut(out);
    dws.fill(T::zero());
    dims.for_each_product(|xi, wi, yi| dws[wi] += dys[yi] * xs[xi]);
}
