//! Data augmentation: the random changes of a data block's `augment [...]`,
//! made to each training input after scaling.
//!
//! An input is an image of `[c, h, w]` values, planes one after another
//! (an IDX image is `[1, rows, cols]`). Every change draws its parameters
//! from a generator seeded per example, so a step's batch is a function of
//! the run's seed, the epoch, the step and the example's place in the
//! batch: runs repeat, and a resumed run sees the batches of the
//! uninterrupted one. Pixels that come from outside the image are zero.

use nnc_check::program::{AugmentOp, FlipAxis};

/// A SplitMix64 generator: small, fast, and plenty for picking shifts.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform among `-n..=n`.
    fn offset(&mut self, n: usize) -> isize {
        (self.next_u64() % (2 * n as u64 + 1)) as isize - n as isize
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// The generator of example `index` of a batch whose step seed is `seed`.
pub(crate) fn example_rng(seed: u64, index: usize) -> Rng {
    let mut mix = Rng::new(seed ^ 0x6175_676d_656e_7421);
    for _ in 0..=index % 4 {
        mix.next_u64();
    }
    Rng::new(mix.next_u64() ^ (index as u64).wrapping_mul(0xd1b5_4a32_d192_ed03))
}

/// Applies `ops` in order to `input`, an image of `shape` `[c, h, w]`;
/// `scratch` is reused between calls.
pub(crate) fn augment(
    ops: &[AugmentOp],
    shape: [usize; 3],
    input: &mut [f32],
    scratch: &mut Vec<f32>,
    rng: &mut Rng,
) {
    for op in ops {
        match *op {
            AugmentOp::Shift { pixels } => {
                let (dy, dx) = (rng.offset(pixels), rng.offset(pixels));
                translate(shape, input, scratch, dy, dx);
            }
            AugmentOp::Crop { pad } => {
                // A window of the original size at offset (oy, ox) of the
                // padded image: the image moved by (pad - oy, pad - ox).
                let oy = rng.next_u64() % (2 * pad as u64 + 1);
                let ox = rng.next_u64() % (2 * pad as u64 + 1);
                translate(
                    shape,
                    input,
                    scratch,
                    pad as isize - oy as isize,
                    pad as isize - ox as isize,
                );
            }
            AugmentOp::Rotate { degrees } => {
                let angle = (2.0 * rng.uniform() - 1.0) * degrees.to_radians();
                rotate(shape, input, scratch, angle);
            }
            AugmentOp::Flip { axis } => {
                if rng.uniform() < 0.5 {
                    flip(shape, input, axis);
                }
            }
            AugmentOp::Noise { sigma } => {
                for v in input.iter_mut() {
                    *v += (sigma * rng.normal()) as f32;
                }
            }
        }
    }
}

/// Moves the image `dy` rows down and `dx` columns right.
fn translate(shape: [usize; 3], input: &mut [f32], scratch: &mut Vec<f32>, dy: isize, dx: isize) {
    if dy == 0 && dx == 0 {
        return;
    }
    let [c, h, w] = shape;
    scratch.clear();
    scratch.extend_from_slice(input);
    for plane in 0..c {
        for y in 0..h {
            for x in 0..w {
                let (sy, sx) = (y as isize - dy, x as isize - dx);
                let inside = (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
                input[(plane * h + y) * w + x] = if inside {
                    scratch[(plane * h + sy as usize) * w + sx as usize]
                } else {
                    0.0
                };
            }
        }
    }
}

/// Turns the image by `angle` radians about its centre (clockwise on
/// screen, rows running downwards), sampling bilinearly.
fn rotate(shape: [usize; 3], input: &mut [f32], scratch: &mut Vec<f32>, angle: f64) {
    let [c, h, w] = shape;
    scratch.clear();
    scratch.extend_from_slice(input);
    let (sin, cos) = angle.sin_cos();
    let (cy, cx) = ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0);
    let at = |plane: usize, y: isize, x: isize| -> f64 {
        if (0..h as isize).contains(&y) && (0..w as isize).contains(&x) {
            f64::from(scratch[(plane * h + y as usize) * w + x as usize])
        } else {
            0.0
        }
    };
    for y in 0..h {
        for x in 0..w {
            // The source of (y, x): the point the inverse turn takes it to.
            let (ry, rx) = (y as f64 - cy, x as f64 - cx);
            let sy = cos * ry - sin * rx + cy;
            let sx = sin * ry + cos * rx + cx;
            let (y0, x0) = (sy.floor(), sx.floor());
            let (fy, fx) = (sy - y0, sx - x0);
            let (y0, x0) = (y0 as isize, x0 as isize);
            for plane in 0..c {
                let v = at(plane, y0, x0) * (1.0 - fy) * (1.0 - fx)
                    + at(plane, y0, x0 + 1) * (1.0 - fy) * fx
                    + at(plane, y0 + 1, x0) * fy * (1.0 - fx)
                    + at(plane, y0 + 1, x0 + 1) * fy * fx;
                input[(plane * h + y) * w + x] = v as f32;
            }
        }
    }
}

fn flip(shape: [usize; 3], input: &mut [f32], axis: FlipAxis) {
    let [c, h, w] = shape;
    for plane in input.chunks_exact_mut(h * w).take(c) {
        match axis {
            FlipAxis::Horizontal => plane.chunks_exact_mut(w).for_each(<[f32]>::reverse),
            FlipAxis::Vertical => {
                for y in 0..h / 2 {
                    let (top, bottom) = plane.split_at_mut((h - 1 - y) * w);
                    top[y * w..(y + 1) * w].swap_with_slice(&mut bottom[..w]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 3x4 image, values 1..=12.
    fn image() -> Vec<f32> {
        (1..=12).map(|v| v as f32).collect()
    }

    #[test]
    fn translate_moves_and_fills_with_zeros() {
        let mut img = image();
        translate([1, 3, 4], &mut img, &mut Vec::new(), 1, -1);
        #[rustfmt::skip]
        let expected = [
            0.0, 0.0, 0.0, 0.0,
            2.0, 3.0, 4.0, 0.0,
            6.0, 7.0, 8.0, 0.0,
        ];
        assert_eq!(img, expected);
    }

    #[test]
    fn flips_mirror_rows_or_columns_of_every_plane() {
        let mut img: Vec<f32> = image().into_iter().chain(image()).collect();
        flip([2, 3, 4], &mut img, FlipAxis::Horizontal);
        assert_eq!(&img[..4], &[4.0, 3.0, 2.0, 1.0]);
        assert_eq!(&img[12..16], &[4.0, 3.0, 2.0, 1.0]);
        let mut img = image();
        flip([1, 3, 4], &mut img, FlipAxis::Vertical);
        assert_eq!(&img[..4], &[9.0, 10.0, 11.0, 12.0]);
        assert_eq!(&img[4..8], &[5.0, 6.0, 7.0, 8.0]);
        assert_eq!(&img[8..], &[1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn a_quarter_turn_of_a_square_moves_corners_and_zero_turns_keep_it() {
        // 3x3: a quarter turn takes the top-left corner to the top-right
        // (clockwise on screen, rows downwards).
        let mut img: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        rotate(
            [1, 3, 3],
            &mut img,
            &mut Vec::new(),
            std::f64::consts::FRAC_PI_2,
        );
        let rounded: Vec<f32> = img.iter().map(|v| v.round()).collect();
        assert_eq!(rounded, [7.0, 4.0, 1.0, 8.0, 5.0, 2.0, 9.0, 6.0, 3.0]);
        let mut same = image();
        rotate([1, 3, 4], &mut same, &mut Vec::new(), 0.0);
        assert_eq!(same, image());
    }

    #[test]
    fn shifts_stay_within_their_range_and_cover_it() {
        let ops = [AugmentOp::Shift { pixels: 1 }];
        let mut seen = std::collections::HashSet::new();
        for index in 0..200 {
            // A single bright pixel in the middle of a 5x5 image.
            let mut img = vec![0.0f32; 25];
            img[12] = 1.0;
            augment(
                &ops,
                [1, 5, 5],
                &mut img,
                &mut Vec::new(),
                &mut example_rng(9, index),
            );
            let at = img.iter().position(|&v| v == 1.0).unwrap();
            let (dy, dx) = (at as isize / 5 - 2, at as isize % 5 - 2);
            assert!(dy.abs() <= 1 && dx.abs() <= 1);
            seen.insert((dy, dx));
        }
        assert_eq!(seen.len(), 9, "every shift of -1..=1 in both directions");
    }

    #[test]
    fn the_same_seed_gives_the_same_change_and_noise_has_its_sigma() {
        let ops = [
            AugmentOp::Rotate { degrees: 15.0 },
            AugmentOp::Noise { sigma: 0.5 },
        ];
        let run = |seed, index| {
            let mut img = vec![0.0f32; 400];
            augment(
                &ops,
                [1, 20, 20],
                &mut img,
                &mut Vec::new(),
                &mut example_rng(seed, index),
            );
            img
        };
        assert_eq!(run(3, 4), run(3, 4));
        assert_ne!(run(3, 4), run(3, 5));
        assert_ne!(run(3, 4), run(4, 4));
        let noise = run(1, 0);
        let mean = noise.iter().map(|&v| f64::from(v)).sum::<f64>() / 400.0;
        let var = noise
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / 399.0;
        assert!(
            mean.abs() < 0.1 && (var.sqrt() - 0.5).abs() < 0.06,
            "{mean} {var}"
        );
    }
}
