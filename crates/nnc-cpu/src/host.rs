//! Host ops: the few computations the lowering runs in plain Rust instead
//! of a JIT kernel: the softmax gradient and the correct count (rows of a
//! few values per example, next to nothing beside the matrix products;
//! the arg-max has no kernel builder yet), reshapes (a copy), dropout
//! masks (drawn with `nnc_ir::rng::Rng`, to get exactly the interpreter's
//! numbers), block copies along an axis (`concat`, `slice`, `pad`), rows
//! gathered and scattered by index, and pointwise ops whose broadcasts a
//! JIT group cannot index (their formula, element by element: the
//! portable path). The formulas are the interpreter's (`nnc_interp`
//! `kernels/cost.rs`, `kernels/activation.rs`, `kernels/dropout.rs`,
//! `kernels/tensor.rs`), in `f32`.

use nnc_ir::ops::axis::AxisCopy;
use nnc_ir::ops::gather::{index_row, IndexDims};
use nnc_ir::ops::layout::for_each_permuted;
use nnc_ir::ops::reduce::for_each_position;
use nnc_ir::ops::table::IndexTerm;
use nnc_ir::rng::{dropout_mask, Noise};
use nnc_ir::scalar::Scalar;

/// A host op and the row length of its operands.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum HostOp {
    /// `(y, dy) -> y (dy - sum(dy y))` per example.
    SoftmaxGrad,
    /// `(output, target) -> []` the examples classified correctly.
    CorrectCount,
    /// `x -> x` (a reshape: the same values).
    Copy,
    /// `(seed) -> mask`: each value `0` with probability `p`, else
    /// `1 / (1 - p)`, drawn in row-major order from
    /// `Rng::derive(step_seed, stream)`, as the interpreter draws them.
    DropoutMask { p: f64, stream: u64 },
    /// `(seed) -> noise`: values of `noise` drawn in row-major order from
    /// `Rng::derive(step_seed, stream)`, as the interpreter draws them.
    Random { noise: Noise, stream: u64 },
    /// The sum (or, with `max`, the largest value) of an operand of shape
    /// `input` over `axes`, for axes the JIT's row and column sums do not
    /// cover.
    Reduce {
        input: Vec<usize>,
        axes: Vec<usize>,
        max: bool,
    },
    /// `x -> permute(x, perm)` of an operand of shape `input`.
    Permute { input: Vec<usize>, perm: Vec<usize> },
    /// One block copy along an axis (a `slice`, a `pad` over zeros when
    /// `zero`, one operand of a `concat`): the rest of the result is left
    /// as it is.
    AxisCopy { copy: AxisCopy, zero: bool },
    /// `(table, indices) -> rows`: row `index_row(i)` per index, zeros
    /// outside the table.
    Gather(IndexDims),
    /// `(indices, values) -> [rows, ...]`: each index's values added into
    /// its row, in index order; indices outside the rows add nothing.
    ScatterAdd(IndexDims),
    /// A pointwise op with an operand a JIT group cannot read (a
    /// broadcast along middle axes, such as the channels of `[b, c, h, w]`
    /// expanded from `[c]`): its formula from the op table, element by
    /// element, operand `k` read at the sum of its index terms
    /// (`Op::operand_index_terms`).
    Pointwise {
        formula: Box<Scalar>,
        reads: Vec<Vec<IndexTerm>>,
    },
}

impl HostOp {
    /// Runs the op on `inputs` into `out`; `n` is the row length (values
    /// per example) of the first input.
    pub(crate) fn run(&self, n: usize, inputs: &[&[f32]], out: &mut [f32], step_seed: u64) {
        let n = n.max(1);
        let x = inputs.first().copied().unwrap_or(&[]);
        match *self {
            HostOp::SoftmaxGrad => {
                let dy = inputs.get(1).copied().unwrap_or(&[]);
                for ((o, y), dy) in out.chunks_mut(n).zip(x.chunks(n)).zip(dy.chunks(n)) {
                    let dot = y.iter().zip(dy).fold(0.0, |acc, (&y, &d)| acc + y * d);
                    for ((o, &y), &d) in o.iter_mut().zip(y).zip(dy) {
                        *o = y * (d - dot);
                    }
                }
            }
            HostOp::CorrectCount => {
                let y = inputs.get(1).copied().unwrap_or(&[]);
                let correct = x
                    .chunks(n)
                    .zip(y.chunks(n))
                    .filter(|(a, y)| {
                        if n == 1 {
                            (a[0] > 0.5) == (y[0] > 0.5)
                        } else {
                            first_argmax(a) == first_argmax(y)
                        }
                    })
                    .count();
                out.fill(correct as f32);
            }
            HostOp::Copy => out.copy_from_slice(x),
            HostOp::Random { noise, stream } => {
                for (o, v) in out.iter_mut().zip(noise.draws(step_seed, stream)) {
                    *o = v;
                }
            }
            HostOp::DropoutMask { p, stream } => {
                for (o, v) in out.iter_mut().zip(dropout_mask(p, step_seed, stream)) {
                    *o = v;
                }
            }
            HostOp::Reduce {
                ref input,
                ref axes,
                max,
            } => {
                out.fill(if max { f32::NEG_INFINITY } else { 0.0 });
                for_each_position(input, axes, |full, reduced| {
                    if max {
                        if x[full] > out[reduced] {
                            out[reduced] = x[full];
                        }
                    } else {
                        out[reduced] += x[full];
                    }
                });
            }
            HostOp::Permute {
                ref input,
                ref perm,
            } => {
                let mut o = out.iter_mut();
                for_each_permuted(input, perm, |source| {
                    if let Some(slot) = o.next() {
                        *slot = x[source];
                    }
                });
            }
            HostOp::AxisCopy { ref copy, zero } => {
                if zero {
                    out.fill(0.0);
                }
                copy.run(x, out);
            }
            HostOp::Gather(d) => {
                let indices = inputs.get(1).copied().unwrap_or(&[]);
                for (row, &index) in out.chunks_mut(d.width.max(1)).zip(indices) {
                    let source = index_row(index as f64, d.rows)
                        .and_then(|r| x.get(r * d.width..(r + 1) * d.width));
                    match source {
                        Some(source) => row.copy_from_slice(source),
                        None => row.fill(0.0),
                    }
                }
            }
            HostOp::ScatterAdd(d) => {
                let updates = inputs.get(1).copied().unwrap_or(&[]);
                out.fill(0.0);
                for (source, &index) in updates.chunks(d.width.max(1)).zip(x) {
                    let row = index_row(index as f64, d.rows)
                        .and_then(|r| out.get_mut(r * d.width..(r + 1) * d.width));
                    for (o, &v) in row.into_iter().flatten().zip(source) {
                        *o += v;
                    }
                }
            }
            HostOp::Pointwise {
                ref formula,
                ref reads,
            } => {
                // In f64, rounded once: this path is for broadcasts the JIT
                // groups cannot index, not for speed.
                let mut args = vec![0.0f64; reads.len()];
                for (i, o) in out.iter_mut().enumerate() {
                    for (k, (terms, input)) in reads.iter().zip(inputs).enumerate() {
                        let at: usize = terms
                            .iter()
                            .map(|&(inner, len, stride)| (i / inner.max(1)) % len.max(1) * stride)
                            .sum();
                        args[k] = input[at] as f64;
                    }
                    *o = formula.eval(&args) as f32;
                }
            }
        }
    }
}

fn first_argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
