//! Shape arithmetic: pure functions. The window arithmetic itself is the
//! IR's (`nnc_ir::window`, re-exported here), so the checker's diagnostics
//! and the IR's shape rules compute the same lengths; this module turns it
//! into diagnostic facts and counts values.

use nnc_diag::check::WindowArith;
use nnc_ir::window::Rounding;
pub use nnc_ir::window::{conv2d_output_len, dropped_lines, output_len, same_padding};

/// The window arithmetic of one axis as a diagnostic fact.
pub fn window_arith(
    input: usize,
    window: usize,
    stride: usize,
    pad_before: usize,
    pad_after: usize,
    rounding: Rounding,
) -> WindowArith {
    let (output, clipped) = output_len(input, window, stride, pad_before, pad_after, rounding);
    WindowArith {
        input,
        pad_before,
        pad_after,
        window,
        stride,
        ceil: rounding == Rounding::Ceil,
        clipped,
        output,
    }
}

/// The number of values of a shape, `None` if it overflows a `usize`.
pub fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d))
}

/// The number of values as `u128`, saturating (for messages).
pub fn element_count_wide(dims: &[u128]) -> u128 {
    dims.iter().fold(1u128, |acc, d| acc.saturating_mul(*d))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CEIL: Rounding = Rounding::Ceil;

    #[test]
    fn ceil_drops_a_window_that_starts_in_the_padding() {
        // 5 + 1 + 1 - 2 = 5, ceil(5 / 2) + 1 = 4; the 4th window would start
        // at 6 >= 5 + 1, inside the trailing padding.
        let arith = window_arith(5, 2, 2, 1, 1, CEIL);
        assert!(arith.clipped);
        assert_eq!(arith.output, 3);
    }

    #[test]
    fn element_count_is_checked() {
        assert_eq!(element_count(&[20, 12, 12]), Some(2880));
        assert_eq!(element_count(&[usize::MAX, 2]), None);
    }
}
