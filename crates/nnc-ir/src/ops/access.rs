//! How a pointwise op reads its operands, for code generators that index
//! flat buffers: [`OperandRead`] (the same position, one value, or a
//! contiguous block of the result's axes) and, for any broadcast, the
//! index terms of [`IndexTerm`]. Both follow the op table's
//! `operand_axes` column.

use super::Op;

/// How a pointwise op reads one operand at flat position `i` of its
/// result, for code generators that index flat buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandRead {
    /// At `i`: the operand has the result's shape (or, for `reshape`, its
    /// number of values in the same order).
    Full,
    /// At `0`: one value for every element.
    Scalar,
    /// At `(i / inner) % len`: the operand runs along a contiguous block
    /// of the result's axes, `len` values in all, with `inner` result
    /// elements per step (a bias along the last axis has `inner = 1`; a
    /// value per example of `[b, n]` has `inner = n, len = b`; a channel
    /// bias of `[b, c, h, w]` has `inner = h w, len = c`).
    Strided { inner: usize, len: usize },
}

impl Op {
    /// How operand `operand` (of shape `arg`) of this pointwise op is read
    /// when the result has shape `out`; `None` when its axes are not one
    /// contiguous block of the result's axes in order (a general
    /// broadcast, which only the interpreter runs).
    pub fn operand_access(
        &self,
        operand: usize,
        arg: &[usize],
        out: &[usize],
    ) -> Option<OperandRead> {
        let count = |s: &[usize]| s.iter().product::<usize>();
        if arg == out {
            return Some(OperandRead::Full);
        }
        if arg.is_empty() || (count(arg) == 1 && count(out) == 1) {
            return Some(OperandRead::Scalar);
        }
        let Some(axes) = self.operand_axes(operand, out.len()) else {
            return (count(arg) == count(out)).then_some(OperandRead::Full);
        };
        let (Some(&first), Some(&last)) = (axes.first(), axes.last()) else {
            return Some(OperandRead::Scalar);
        };
        let contiguous = axes.iter().enumerate().all(|(k, &a)| a == first + k);
        if !contiguous || last >= out.len() {
            return None;
        }
        let len = count(&out[first..=last]);
        if len != count(arg) {
            return None;
        }
        Some(OperandRead::Strided {
            inner: count(&out[last + 1..]),
            len,
        })
    }
}

/// One term of a general broadcast read: result position `i` contributes
/// `((i / inner) % len) * stride` to the operand's flat index.
pub type IndexTerm = (usize, usize, usize);

impl Op {
    /// How operand `operand` (of shape `arg`) of this pointwise op is read
    /// at flat position `i` of a result of shape `out`, for any broadcast
    /// (the operand's axes need not be one block): the operand's flat
    /// index is the sum of the terms (no term: index 0). `None` when the
    /// shapes do not fit the op's broadcast.
    pub fn operand_index_terms(
        &self,
        operand: usize,
        arg: &[usize],
        out: &[usize],
    ) -> Option<Vec<IndexTerm>> {
        let count = |s: &[usize]| s.iter().product::<usize>();
        if arg == out {
            return Some(vec![(1, count(out).max(1), 1)]);
        }
        if arg.is_empty() || (count(arg) == 1 && count(out) == 1) {
            return Some(Vec::new());
        }
        let Some(axes) = self.operand_axes(operand, out.len()) else {
            return (count(arg) == count(out)).then(|| vec![(1, count(out).max(1), 1)]);
        };
        if axes.len() != arg.len() || axes.iter().any(|&a| a >= out.len()) {
            return None;
        }
        let mut terms = Vec::with_capacity(axes.len());
        for (k, &a) in axes.iter().enumerate() {
            if arg[k] != out[a] {
                return None;
            }
            terms.push((count(&out[a + 1..]), out[a], count(&arg[k + 1..])));
        }
        Some(terms)
    }
}
