//! Turning a decoded image into the `size: [c, h, w]` of its folder: the
//! channels converted, the planes laid out one after another (`[c, h, w]`,
//! as the model input reads them), and the image resized.
//!
//! Channels. Grey from colour is the luma of ITU-R BT.601,
//! `Y = 0.299 R + 0.587 G + 0.114 B`; colour from grey repeats the grey
//! value; a missing alpha channel is opaque (255); an alpha channel that is
//! not asked for is dropped (the colours are taken as stored, not blended
//! with a background).
//!
//! Resizing is separable, one axis at a time, in `f32`, rounded to the
//! nearest byte at the end:
//! - shrinking an axis averages areas: an output pixel is the mean of the
//!   source pixels it covers, each weighted by the part of it that lies
//!   inside (an exact box filter, so whole-number ratios average blocks);
//! - enlarging an axis interpolates linearly between the two nearest source
//!   pixel centres (bilinear; pixel centres at `i + 0.5`, edges clamped).
//!
//! An axis whose size does not change is copied exactly.

use crate::image::Image;

/// Converts `image` to `channels` planes of `height x width` bytes each,
/// written one after another into `out` (which holds exactly
/// `channels * height * width` bytes).
pub fn image_to_planes(
    image: &Image,
    channels: usize,
    height: usize,
    width: usize,
    out: &mut [u8],
) {
    let planes = convert_channels(image, channels);
    let source_plane = image.width * image.height;
    let target_plane = width * height;
    if (image.height, image.width) == (height, width) {
        for (dst, src) in out.iter_mut().zip(&planes) {
            *dst = *src;
        }
        return;
    }
    let columns = axis_taps(image.width, width);
    let rows = axis_taps(image.height, height);
    let mut wide = vec![0f32; image.height * width];
    for c in 0..channels {
        let Some(plane) = planes.get(c * source_plane..(c + 1) * source_plane) else {
            return;
        };
        resize_rows(plane, image.width, &columns, &mut wide);
        let Some(dst) = out.get_mut(c * target_plane..(c + 1) * target_plane) else {
            return;
        };
        resize_columns(&wide, width, &rows, dst);
    }
}

/// The image as `channels` planes at its own size.
fn convert_channels(image: &Image, channels: usize) -> Vec<u8> {
    let plane = image.width * image.height;
    let mut out = vec![0u8; channels * plane];
    for (p, px) in image.pixels.chunks_exact(image.channels.max(1)).enumerate() {
        let value = |c: usize| px.get(c).copied().unwrap_or(0);
        let (grey, rgb, alpha) = match image.channels {
            1 => (value(0), [value(0); 3], 255),
            2 => (value(0), [value(0); 3], value(1)),
            3 => (
                luma(value(0), value(1), value(2)),
                [value(0), value(1), value(2)],
                255,
            ),
            _ => (
                luma(value(0), value(1), value(2)),
                [value(0), value(1), value(2)],
                value(3),
            ),
        };
        let target: [u8; 4] = match channels {
            1 => [grey, 0, 0, 0],
            2 => [grey, alpha, 0, 0],
            3 => [rgb[0], rgb[1], rgb[2], 0],
            _ => [rgb[0], rgb[1], rgb[2], alpha],
        };
        for (c, v) in target.iter().take(channels).enumerate() {
            if let Some(slot) = out.get_mut(c * plane + p) {
                *slot = *v;
            }
        }
    }
    out
}

/// The BT.601 luma of an RGB pixel, rounded.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    let sum = 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b);
    ((sum + 500) / 1000) as u8
}

/// The source pixels one output pixel of an axis reads, with their weights
/// (summing to 1).
#[derive(Clone, Debug, PartialEq)]
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// The taps of every output pixel of an axis of `from` pixels resized to
/// `to` pixels: areas when shrinking, linear interpolation when enlarging.
fn axis_taps(from: usize, to: usize) -> Vec<Taps> {
    let ratio = from as f64 / to.max(1) as f64;
    (0..to)
        .map(|i| {
            if from == to {
                Taps {
                    first: i,
                    weights: vec![1.0],
                }
            } else if from > to {
                area_taps(i, ratio)
            } else {
                linear_taps(i, ratio, from)
            }
        })
        .collect()
}

/// Output pixel `i` covers source `[i * ratio, (i + 1) * ratio)`.
fn area_taps(i: usize, ratio: f64) -> Taps {
    let lo = i as f64 * ratio;
    let hi = (i + 1) as f64 * ratio;
    let first = lo.floor() as usize;
    let last = (hi.ceil() as usize).max(first + 1);
    let weights = (first..last)
        .map(|j| {
            let covered = hi.min(j as f64 + 1.0) - lo.max(j as f64);
            (covered.max(0.0) / ratio) as f32
        })
        .collect();
    Taps { first, weights }
}

/// Output pixel `i` sits at source coordinate `(i + 0.5) * ratio - 0.5`,
/// between the two nearest source pixels (clamped at the edges).
fn linear_taps(i: usize, ratio: f64, from: usize) -> Taps {
    let last = from.saturating_sub(1) as f64;
    let x = ((i as f64 + 0.5) * ratio - 0.5).clamp(0.0, last);
    let first = x.floor() as usize;
    let t = (x - first as f64) as f32;
    if first + 1 >= from || t == 0.0 {
        Taps {
            first,
            weights: vec![1.0],
        }
    } else {
        Taps {
            first,
            weights: vec![1.0 - t, t],
        }
    }
}

/// Resizes each row of `plane` (rows of `from_width` bytes) along x.
fn resize_rows(plane: &[u8], from_width: usize, columns: &[Taps], out: &mut [f32]) {
    let to_width = columns.len();
    for (row, dst) in plane
        .chunks_exact(from_width.max(1))
        .zip(out.chunks_exact_mut(to_width.max(1)))
    {
        for (slot, taps) in dst.iter_mut().zip(columns) {
            *slot = taps
                .weights
                .iter()
                .enumerate()
                .map(|(k, w)| w * f32::from(row.get(taps.first + k).copied().unwrap_or(0)))
                .sum();
        }
    }
}

/// Resizes the columns of `wide` (rows of `width` values) along y and
/// rounds into `out`.
fn resize_columns(wide: &[f32], width: usize, rows: &[Taps], out: &mut [u8]) {
    for (y, taps) in rows.iter().enumerate() {
        for x in 0..width {
            let value: f32 = taps
                .weights
                .iter()
                .enumerate()
                .map(|(k, w)| {
                    w * wide
                        .get((taps.first + k) * width + x)
                        .copied()
                        .unwrap_or(0.0)
                })
                .sum();
            if let Some(slot) = out.get_mut(y * width + x) {
                *slot = value.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(width: usize, height: usize, pixels: Vec<u8>) -> Image {
        Image {
            width,
            height,
            channels: 1,
            pixels,
        }
    }

    fn resized(image: &Image, channels: usize, height: usize, width: usize) -> Vec<u8> {
        let mut out = vec![0u8; channels * height * width];
        image_to_planes(image, channels, height, width, &mut out);
        out
    }

    #[test]
    fn halving_averages_blocks() {
        let image = grey(4, 2, vec![0, 10, 20, 30, 40, 50, 60, 70]);
        assert_eq!(resized(&image, 1, 1, 2), vec![25, 45]);
    }

    #[test]
    fn shrinking_by_a_fraction_weights_partial_pixels() {
        // 3 -> 2: output 0 covers [0, 1.5): pixel 0 fully, pixel 1 half.
        let taps = axis_taps(3, 2);
        assert_eq!(taps[0].first, 0);
        assert_eq!(taps[0].weights, vec![2.0 / 3.0, 1.0 / 3.0]);
        assert_eq!(taps[1].first, 1);
        assert_eq!(taps[1].weights, vec![1.0 / 3.0, 2.0 / 3.0]);
        let image = grey(3, 1, vec![0, 90, 180]);
        assert_eq!(resized(&image, 1, 1, 2), vec![30, 150]);
    }

    #[test]
    fn doubling_interpolates_between_centres() {
        let image = grey(2, 1, vec![0, 100]);
        // Centres of the 4 outputs at source x = -0.25, 0.25, 0.75, 1.25.
        assert_eq!(resized(&image, 1, 1, 4), vec![0, 25, 75, 100]);
    }

    #[test]
    fn weights_sum_to_one() {
        for (from, to) in [(7, 3), (3, 7), (28, 28), (100, 64), (1, 5), (5, 1)] {
            for taps in axis_taps(from, to) {
                let sum: f32 = taps.weights.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "{from}->{to}: {taps:?}");
                assert!(
                    taps.first + taps.weights.len() <= from,
                    "{from}->{to}: {taps:?}"
                );
            }
        }
    }

    #[test]
    fn channels_convert_and_become_planes() {
        let rgba = Image {
            width: 2,
            height: 1,
            channels: 4,
            pixels: vec![255, 0, 0, 128, 0, 0, 255, 255],
        };
        assert_eq!(
            resized(&rgba, 1, 1, 2),
            vec![luma(255, 0, 0), luma(0, 0, 255)]
        );
        assert_eq!(resized(&rgba, 1, 1, 2), vec![76, 29]);
        assert_eq!(resized(&rgba, 3, 1, 2), vec![255, 0, 0, 0, 0, 255]);
        assert_eq!(
            resized(&rgba, 4, 1, 2),
            vec![255, 0, 0, 0, 0, 255, 128, 255]
        );
        let g = grey(2, 1, vec![7, 9]);
        assert_eq!(resized(&g, 3, 1, 2), vec![7, 9, 7, 9, 7, 9]);
        assert_eq!(resized(&g, 4, 1, 2), vec![7, 9, 7, 9, 7, 9, 255, 255]);
        assert_eq!(resized(&g, 2, 1, 2), vec![7, 9, 255, 255]);
    }
}
