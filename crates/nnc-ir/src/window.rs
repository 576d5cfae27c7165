//! Window arithmetic of sliding-window ops (convolution and pooling): the
//! output length along one axis for a window, a stride, padding and a
//! rounding, and the padding of `padding: same`. The checker states its
//! shape diagnostics with these functions and the IR's shape rules use the
//! same ones, so the two cannot disagree.
//!
//! All arithmetic runs in `i128`/`u128`, so no input of 64-bit sizes can
//! overflow it; results that do not fit a `usize` are errors of the caller.

use serde::Serialize;

/// How a pooling window combines its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum PoolKind {
    Max,
    Average,
    L2,
}

/// How the output length of a window rounds: down (every window inside
/// the padded input) or up (a last partial window).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Rounding {
    Floor,
    Ceil,
}

/// The output length of a sliding window (convolution or pooling) along one
/// axis: `round((input + pad_before + pad_after - window) / stride) + 1`,
/// with `round` floor or ceil. With ceil, a last window that would start
/// past the input and its leading padding is dropped (as Caffe and PyTorch
/// do), so every window overlaps the real input or its first padding.
///
/// `Err(out)` is the computed length when it is not a positive `usize`:
/// zero or negative when the window is larger than the padded input, or
/// larger than `usize::MAX`.
pub fn conv2d_output_len(
    input: usize,
    window: usize,
    stride: usize,
    pad_before: usize,
    pad_after: usize,
    rounding: Rounding,
) -> Result<usize, i128> {
    let (out, _) = output_len(input, window, stride, pad_before, pad_after, rounding);
    if out < 1 {
        return Err(out);
    }
    usize::try_from(out).map_err(|_| out)
}

/// The output length (possibly zero or negative) and whether the ceil
/// clip applied: what the checker's diagnostics show of a window.
pub fn output_len(
    input: usize,
    window: usize,
    stride: usize,
    pad_before: usize,
    pad_after: usize,
    rounding: Rounding,
) -> (i128, bool) {
    let stride = stride.max(1) as i128;
    let padded = input as i128 + pad_before as i128 + pad_after as i128;
    let span = padded - window as i128;
    let steps = match rounding {
        Rounding::Floor => span.div_euclid(stride),
        Rounding::Ceil => -(-span).div_euclid(stride),
    };
    let out = steps + 1;
    if rounding == Rounding::Ceil
        && out > 1
        && (out - 1) * stride >= input as i128 + pad_before as i128
    {
        return (out - 1, true);
    }
    (out, false)
}

/// `padding: same` (the TensorFlow rule): the output length is
/// `ceil(input / stride)`, the total padding `max((out - 1) * stride +
/// window - input, 0)`, split with the extra pixel after (bottom/right).
/// `None` when the padding does not fit a `usize`.
pub fn same_padding(input: usize, window: usize, stride: usize) -> Option<(usize, usize)> {
    let stride = stride.max(1) as u128;
    let input = input as u128;
    let out = input.div_ceil(stride);
    let needed = out.saturating_sub(1) * stride + window as u128;
    let total = needed.saturating_sub(input);
    let before = total / 2;
    let after = total - before;
    Some((usize::try_from(before).ok()?, usize::try_from(after).ok()?))
}

/// How many rows (or columns) at the end of the padded input no window
/// covers, with floor rounding: `(input + pads - window) mod stride`.
/// Zero when the window does not fit at all or rounding is ceil.
pub fn dropped_lines(
    input: usize,
    window: usize,
    stride: usize,
    pad_before: usize,
    pad_after: usize,
    rounding: Rounding,
) -> usize {
    if rounding == Rounding::Ceil {
        return 0;
    }
    let padded = input as u128 + pad_before as u128 + pad_after as u128;
    match padded.checked_sub(window as u128) {
        // The remainder is below the stride, which is a usize.
        Some(span) => usize::try_from(span % stride.max(1) as u128).unwrap_or(0),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: Rounding = Rounding::Floor;
    const CEIL: Rounding = Rounding::Ceil;

    #[test]
    fn book_convolutions() {
        // 28x28 with a 5x5 receptive field gives 24x24.
        assert_eq!(conv2d_output_len(28, 5, 1, 0, 0, FLOOR), Ok(24));
        // 50 -> 48 for a 3x3 filter without padding.
        assert_eq!(conv2d_output_len(50, 3, 1, 0, 0, FLOOR), Ok(48));
        // 50 + 2 - 2 = 50 with padding 1.
        assert_eq!(conv2d_output_len(50, 3, 1, 1, 1, FLOOR), Ok(50));
    }

    #[test]
    fn book_pooling() {
        // 2x2 max-pooling: 24 -> 12.
        assert_eq!(conv2d_output_len(24, 2, 2, 0, 0, FLOOR), Ok(12));
        assert_eq!(conv2d_output_len(25, 2, 2, 0, 0, FLOOR), Ok(12));
        assert_eq!(conv2d_output_len(13, 2, 2, 0, 0, CEIL), Ok(7));
        assert_eq!(conv2d_output_len(7, 3, 2, 0, 0, FLOOR), Ok(3));
    }

    #[test]
    fn too_large_windows_give_the_real_number() {
        assert_eq!(conv2d_output_len(28, 31, 1, 0, 0, FLOOR), Err(-2));
        assert_eq!(conv2d_output_len(4, 5, 1, 0, 0, FLOOR), Err(0));
        // floor((28 - 31) / 2) + 1 = floor(-1.5) + 1 = -1
        assert_eq!(conv2d_output_len(28, 31, 2, 0, 0, FLOOR), Err(-1));
        let huge = 1_000_000_000_000_000_000usize;
        assert!(conv2d_output_len(28, huge, 1, 0, 0, FLOOR).is_err());
        assert_eq!(
            conv2d_output_len(usize::MAX, 1, 1, usize::MAX, usize::MAX, FLOOR).ok(),
            None
        );
    }

    #[test]
    fn same_padding_follows_tensorflow() {
        assert_eq!(same_padding(28, 5, 1), Some((2, 2)));
        assert_eq!(same_padding(30, 3, 2), Some((0, 1)));
        assert_eq!(same_padding(8, 3, 2), Some((0, 1)));
        assert_eq!(same_padding(2, 31, 1), Some((15, 15)));
        for (input, k, s) in [(28, 5, 1), (30, 3, 2), (7, 4, 3), (1, 9, 5)] {
            let (b, a) = same_padding(input, k, s).unwrap();
            assert_eq!(
                conv2d_output_len(input, k, s, b, a, FLOOR),
                Ok(input.div_ceil(s)),
                "{input} {k} {s}"
            );
        }
    }

    #[test]
    fn dropped_lines_counts_the_remainder() {
        assert_eq!(dropped_lines(28, 5, 2, 0, 0, FLOOR), 1);
        assert_eq!(dropped_lines(25, 2, 2, 0, 0, FLOOR), 1);
        assert_eq!(dropped_lines(24, 2, 2, 0, 0, FLOOR), 0);
        assert_eq!(dropped_lines(25, 2, 2, 0, 0, CEIL), 0);
        assert_eq!(dropped_lines(3, 5, 2, 0, 0, FLOOR), 0);
    }

    #[test]
    fn ceil_drops_a_window_that_starts_in_the_padding() {
        // 5 + 1 + 1 - 2 = 5, ceil(5 / 2) + 1 = 4; the 4th window would start
        // at 6 >= 5 + 1, inside the trailing padding.
        assert_eq!(conv2d_output_len(5, 2, 2, 1, 1, CEIL), Ok(3));
        assert_eq!(output_len(5, 2, 2, 1, 1, CEIL), (3, true));
    }
}
