//! The shaders of the ops that are not pointwise: matrix products (with a
//! pointwise epilogue), sums over axes, per-example rows (costs, softmax
//! and its gradients, the correct count), convolutions and pooling, and
//! the general tensor primitives (module `tensor`: batched products,
//! slices, paddings, a concatenation's operands, gathers and scatters). The
//! formulas are the interpreter's (`nnc-interp/src/kernels`), with the
//! numerically stable forms of `nnc-cpu/src/rows.rs`.
//!
//! Every generator gets its bindings' kinds in order (operands, then the
//! result) and returns the shader with its dispatch and the variant it
//! chose, with the reason.

mod conv;
mod layout;
mod matmul;
mod pool;
mod reduce;
mod rows;
mod shader;
mod tensor;

pub(crate) use matmul::{matmul, MatmulSpec};
pub(crate) use shader::Built;

use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::u;
use conv::{conv2d, conv2d_input_grad, conv2d_weight_grad, ConvDims};
use nnc_ir::ops::axis::copies;
use nnc_ir::ops::gather::IndexDims;
use nnc_ir::ops::matmul::BatchDims;
use nnc_ir::{CostFn, Op};
use pool::{pool, pool_grad};
use reduce::sum;
use rows::{correct_count, row_kernel, RowOp};
use shader::internal;

/// The shader of a non-pointwise op other than a product, or `None` when
/// there is none. `args` are the operands' shapes, `out` the result's;
/// `kinds` the bindings' kinds (operands, then the result).
pub(crate) fn single(
    op: &Op,
    args: &[Vec<usize>],
    out: &[usize],
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
) -> Result<Option<Built>, EmitError> {
    let shape = |k: usize| -> Result<&[usize], EmitError> {
        args.get(k)
            .map(Vec::as_slice)
            .ok_or_else(|| internal("an op lacks an operand"))
    };
    let count = |s: &[usize]| s.iter().product::<usize>();
    if op.is_pointwise() {
        return layout::pointwise(op, args, out, kinds, target, name);
    }
    Ok(Some(match op {
        Op::SumAxes { axes } => {
            let x = shape(0)?;
            let r = axes.len();
            let leading = axes.iter().enumerate().all(|(i, &a)| a == i);
            let trailing = axes.iter().enumerate().all(|(i, &a)| a + r == x.len() + i);
            if leading {
                let (t, o) = (count(&x[..r]), count(&x[r..]));
                sum(
                    kinds,
                    target,
                    name,
                    o,
                    t,
                    &format!("t * {} + o", u(o)),
                    "over leading axes",
                )?
            } else if trailing {
                let cut = x.len() - r;
                let (o, t) = (count(&x[..cut]), count(&x[cut..]));
                sum(
                    kinds,
                    target,
                    name,
                    o,
                    t,
                    &format!("o * {} + t", u(t)),
                    "over trailing axes",
                )?
            } else if x.len() > 2 && *axes == (0..x.len()).filter(|&a| a != 1).collect::<Vec<_>>() {
                let (c, inner) = (x[1], count(&x[2..]));
                let index = format!(
                    "(t / {}) * {} + o * {} + t % {}",
                    u(inner),
                    u(c * inner),
                    u(inner),
                    u(inner)
                );
                sum(
                    kinds,
                    target,
                    name,
                    c,
                    x[0] * inner,
                    &index,
                    "over all axes but the channel",
                )?
            } else {
                reduce::over_axes(kinds, target, name, x, axes, reduce::Combine::Sum)?
            }
        }
        Op::MaxAxes { axes } => {
            reduce::over_axes(kinds, target, name, shape(0)?, axes, reduce::Combine::Max)?
        }
        Op::Cost(cost) => {
            let x = shape(0)?;
            row_kernel(kinds, target, name, RowOp::Cost(*cost), rows_of(x))?
        }
        Op::Softmax => row_kernel(kinds, target, name, RowOp::Softmax, rows_of(shape(0)?))?,
        Op::CostGrad(CostFn::SoftmaxLogLikelihood) => row_kernel(
            kinds,
            target,
            name,
            RowOp::SoftmaxLogLikelihoodGrad,
            rows_of(shape(0)?),
        )?,
        Op::SoftmaxGrad => row_kernel(kinds, target, name, RowOp::SoftmaxGrad, rows_of(shape(0)?))?,
        Op::CorrectCount => correct_count(kinds, target, rows_of(shape(0)?))?,
        Op::Conv2d { stride, padding } => {
            let d = ConvDims::new(shape(0)?, shape(1)?, out, *stride, *padding)?;
            conv2d(kinds, target, name, &d)?
        }
        Op::Conv2dInputGrad {
            stride, padding, ..
        } => {
            let d = ConvDims::new(out, shape(1)?, shape(0)?, *stride, *padding)?;
            conv2d_input_grad(kinds, target, name, &d)?
        }
        Op::Conv2dWeightGrad {
            stride, padding, ..
        } => {
            let d = ConvDims::new(shape(0)?, out, shape(1)?, *stride, *padding)?;
            conv2d_weight_grad(kinds, target, name, &d)?
        }
        Op::Pool(g) => pool(kinds, target, name, g, shape(0)?, out)?,
        Op::PoolGrad(g) => pool_grad(kinds, target, name, g, shape(0)?, shape(1)?)?,
        Op::Permute { perm } => layout::permute(kinds, target, name, shape(0)?, perm)?,
        Op::Slice { .. } | Op::Pad { .. } => {
            let shapes: Vec<&[usize]> = args.iter().map(Vec::as_slice).collect();
            let (list, _) = copies(op, &shapes).ok_or_else(|| invalid(op))?;
            let copy = list.first().ok_or_else(|| invalid(op))?;
            tensor::axis_copy(kinds, target, name, copy, true)?
        }
        Op::Gather | Op::ScatterAdd { .. } => {
            let shapes: Vec<&[usize]> = args.iter().map(Vec::as_slice).collect();
            let d = IndexDims::of(op, &shapes).ok_or_else(|| invalid(op))?;
            if let Op::Gather = op {
                tensor::gather(kinds, target, name, &d)?
            } else {
                tensor::scatter_add(kinds, target, name, &d)?
            }
        }
        Op::BatchMatMul { .. } => {
            let d = BatchDims::of(op, shape(0)?, shape(1)?).ok_or_else(|| invalid(op))?;
            tensor::batch_matmul(kinds, target, name, &d)?
        }
        _ => return Ok(None),
    }))
}

/// The shaders of a `concat`, one per operand, each copying its operand
/// into its block of the result and bound to the two (`kinds`: every
/// operand's, then the result's); `None` for another op.
pub(crate) fn concat_parts(
    op: &Op,
    args: &[Vec<usize>],
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
) -> Result<Option<Vec<Built>>, EmitError> {
    if !matches!(op, Op::Concat { .. }) {
        return Ok(None);
    }
    let shapes: Vec<&[usize]> = args.iter().map(Vec::as_slice).collect();
    let (list, _) = copies(op, &shapes).ok_or_else(|| invalid(op))?;
    let out = *kinds.last().ok_or_else(|| invalid(op))?;
    let mut parts = Vec::with_capacity(list.len());
    for (k, copy) in list.iter().enumerate() {
        let operand = *kinds.get(k).ok_or_else(|| invalid(op))?;
        let part = format!("{name}_part{k}");
        parts.push(tensor::axis_copy(
            &[operand, out],
            target,
            &part,
            copy,
            false,
        )?);
    }
    Ok(Some(parts))
}

/// An op whose operands break its shape rule (a bug upstream).
fn invalid(op: &Op) -> EmitError {
    EmitError::Internal {
        message: format!("`{}` of operands its shape rule rejects", op.mnemonic()),
    }
}

/// `(rows, n)`: examples and values per example of a `[batch, ...]` shape.
fn rows_of(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [b] => (*b, 1),
        [b, rest @ ..] => (*b, rest.iter().product()),
    }
}
