//! Kernels of the ops along one axis (`nnc_ir::ops::axis`: `concat`,
//! `slice`, `pad`), of the indexing ops (`nnc_ir::ops::gather`:
//! `gather`, `scatter_add`) and of the batched product
//! (`nnc_ir::ops::matmul`: `batch_matmul`).

use super::{values, values_mut};
use crate::real::Real;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewMut2};
use nnc_ir::ops::axis::copies;
use nnc_ir::ops::gather::{index_row, IndexDims};
use nnc_ir::ops::matmul::BatchDims;
use nnc_ir::Op;

/// `concat`, `slice` or `pad` of `inputs` into `out`: the op's block
/// copies, over zeros for a `pad`.
pub(crate) fn axis_op<T: Real>(op: &Op, inputs: &[&ArrayD<T>], out: &mut ArrayD<T>) {
    let shapes: Vec<&[usize]> = inputs.iter().map(|a| a.shape()).collect();
    let Some((list, zero)) = copies(op, &shapes) else {
        return;
    };
    let out = values_mut(out);
    if zero {
        out.fill(T::zero());
    }
    for (copy, input) in list.iter().zip(inputs) {
        copy.run(values(input), out);
    }
}

/// `gather(table, indices)`: row `index_row(i)` of the table for each
/// index, zeros for an index outside the table.
pub(crate) fn gather<T: Real>(table: &ArrayD<T>, indices: &ArrayD<T>, out: &mut ArrayD<T>) {
    let op = Op::Gather;
    let Some(d) = IndexDims::of(&op, &[table.shape(), indices.shape()]) else {
        return;
    };
    let (table, out) = (values(table), values_mut(out));
    for (row, &index) in out.chunks_mut(d.width.max(1)).zip(values(indices)) {
        match index_row(index.as_f64(), d.rows) {
            Some(r) => match table.get(r * d.width..(r + 1) * d.width) {
                Some(source) => row.copy_from_slice(source),
                None => row.fill(T::zero()),
            },
            None => row.fill(T::zero()),
        }
    }
}

/// `scatter_add { rows }(indices, values)`: each index's values added
/// into its row, in index order; an index outside the rows adds nothing.
pub(crate) fn scatter_add<T: Real>(
    op: &Op,
    indices: &ArrayD<T>,
    updates: &ArrayD<T>,
    out: &mut ArrayD<T>,
) {
    let Some(d) = IndexDims::of(op, &[indices.shape(), updates.shape()]) else {
        return;
    };
    let out = values_mut(out);
    out.fill(T::zero());
    let width = d.width.max(1);
    for (source, &index) in values(updates).chunks(width).zip(values(indices)) {
        if let Some(r) = index_row(index.as_f64(), d.rows) {
            let Some(row) = out.get_mut(r * d.width..(r + 1) * d.width) else {
                continue;
            };
            for (o, &v) in row.iter_mut().zip(source) {
                *o += v;
            }
        }
    }
}

/// A `rows x cols` matrix over `values`, transposed when `t`.
fn matrix<T>(values: &[T], rows: usize, cols: usize, t: bool) -> Option<ArrayView2<'_, T>> {
    let v = ArrayView2::from_shape((rows, cols), values).ok()?;
    Some(if t { v.reversed_axes() } else { v })
}

/// `batch_matmul(a, b)`: ndarray's matrix product per batch position.
pub(crate) fn batch_matmul<T: Real>(op: &Op, a: &ArrayD<T>, b: &ArrayD<T>, out: &mut ArrayD<T>) {
    let Some(d) = BatchDims::of(op, a.shape(), b.shape()) else {
        return;
    };
    let (mk, kn, mn) = (d.m * d.k, d.k * d.n, d.m * d.n);
    let (ar, ac) = if d.ta { (d.k, d.m) } else { (d.m, d.k) };
    let (br, bc) = if d.tb { (d.n, d.k) } else { (d.k, d.n) };
    let (a, b, out) = (values(a), values(b), values_mut(out));
    for (i, c) in out.chunks_mut(mn.max(1)).enumerate().take(d.batch) {
        let b_i = if d.shared_b {
            Some(b)
        } else {
            b.get(i * kn..(i + 1) * kn)
        };
        let a_i = a.get(i * mk..(i + 1) * mk);
        let (Some(a_i), Some(b_i)) = (a_i, b_i) else {
            return;
        };
        let a_i = matrix(a_i, ar, ac, d.ta);
        let b_i = matrix(b_i, br, bc, d.tb);
        let c = ArrayViewMut2::from_shape((d.m, d.n), c).ok();
        if let (Some(a_i), Some(b_i), Some(mut c)) = (a_i, b_i, c) {
            general_mat_mul(T::one(), &a_i, &b_i, T::zero(), &mut c);
        }
    }
}
