//! Kernels of the pooling ops (`nnc_ir::ops::pool`, where the window
//! geometry is defined): each window reduces the input pixels it covers.

use super::{values, values_mut};
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::ops::pool::window_range;
use nnc_ir::window::PoolKind;
use nnc_ir::PoolGeometry;

/// Calls `visit(y_index, pixels)` for every output position, with the flat
/// input indices of the pixels its window covers (row-major).
fn for_each_window(
    g: &PoolGeometry,
    x: &[usize],
    y: &[usize],
    mut visit: impl FnMut(usize, &[usize]),
) {
    let (height, width) = (x[2], x[3]);
    let (oh, ow) = (y[2], y[3]);
    let mut pixels = Vec::with_capacity(g.size[0] * g.size[1]);
    for plane in 0..x[0] * x[1] {
        for oy in 0..oh {
            let (r0, r1) = window_range(oy, g.size[0], g.stride[0], g.padding[0], height);
            for ox in 0..ow {
                let (c0, c1) = window_range(ox, g.size[1], g.stride[1], g.padding[2], width);
                pixels.clear();
                for r in r0..r1 {
                    for c in c0..c1 {
                        pixels.push((plane * height + r) * width + c);
                    }
                }
                visit((plane * oh + oy) * ow + ox, &pixels);
            }
        }
    }
}

/// The first pixel holding the window's maximum.
fn argmax<T: Real>(xs: &[T], pixels: &[usize]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for &p in pixels {
        if best.is_none_or(|b| xs[p] > xs[b]) {
            best = Some(p);
        }
    }
    best
}

/// `y = pool(x)`: the maximum, mean or L2 norm of each window (0 for a
/// window that covers no pixel).
pub(crate) fn pool<T: Real>(g: &PoolGeometry, x: &ArrayD<T>, out: &mut ArrayD<T>) {
    let y_shape = out.shape().to_vec();
    let xs = values(x);
    let ys = values_mut(out);
    for_each_window(g, x.shape(), &y_shape, |yi, pixels| {
        ys[yi] = match g.kind {
            PoolKind::Max => argmax(xs, pixels).map_or(T::zero(), |p| xs[p]),
            PoolKind::Average => {
                let sum = pixels.iter().fold(T::zero(), |acc, &p| acc + xs[p]);
                if pixels.is_empty() {
                    T::zero()
                } else {
                    sum / T::of(pixels.len() as f64)
                }
            }
            PoolKind::L2 => pixels
                .iter()
                .fold(T::zero(), |acc, &p| acc + xs[p] * xs[p])
                .sqrt(),
        };
    });
}

/// `dx` of a pool: max routes `dy` to the window's first maximum; the
/// mean spreads it evenly; L2 gives `dy x / y` (nothing where `y` is 0).
pub(crate) fn pool_grad<T: Real>(
    g: &PoolGeometry,
    x: &ArrayD<T>,
    y: &ArrayD<T>,
    dy: &ArrayD<T>,
    out: &mut ArrayD<T>,
) {
    let (xs, ys, dys) = (values(x), values(y), values(dy));
    let dxs = values_mut(out);
    dxs.fill(T::zero());
    for_each_window(g, x.shape(), y.shape(), |yi, pixels| match g.kind {
        PoolKind::Max => {
            if let Some(p) = argmax(xs, pixels) {
                dxs[p] += dys[yi];
            }
        }
        PoolKind::Average => {
            let share = dys[yi] / T::of(pixels.len().max(1) as f64);
            for &p in pixels {
                dxs[p] += share;
            }
        }
        PoolKind::L2 => {
            if ys[yi] > T::zero() {
                let factor = dys[yi] / ys[yi];
                for &p in pixels {
                    dxs[p] += factor * xs[p];
                }
            }
        }
    });
}
