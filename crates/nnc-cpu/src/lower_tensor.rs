//! The general tensor primitives on the CPU: batched products
//! ([`BatchedProduct`], the library products of module `gemm` once per
//! batch position), and host steps (module `host`) for the ops along one
//! axis (`concat`, `slice`, `pad`: block copies, one action per
//! `concat` operand so that any number of operands fits an action's
//! buffers) and for indexing (`gather`, `scatter_add`, in index order,
//! every index checked against the table: one outside it reads zeros and
//! writes nothing).

use crate::error::LowerError;
use crate::gemm::LibraryProduct;
use crate::host::HostOp;
use crate::pending::Pending;
use nnc_ir::ops::axis::copies;
use nnc_ir::ops::gather::IndexDims;
use nnc_ir::ops::matmul::BatchDims;
use nnc_ir::Op;

/// The actions computing `op` of operands of shapes `args`, each with
/// the operands it reads (by position) and writing the op's result;
/// `None` when `op` is none of these primitives.
pub(crate) fn actions(
    op: &Op,
    args: &[&[usize]],
) -> Result<Option<Vec<(Pending, Vec<usize>)>>, LowerError> {
    let invalid = || LowerError::Internal {
        message: format!("`{}` of operands {args:?} breaks its shape rule", op.mnemonic()),
    };
    Ok(Some(match op {
        Op::Concat { .. } | Op::Slice { .. } | Op::Pad { .. } => {
            let (list, zero) = copies(op, args).ok_or_else(invalid)?;
            list.into_iter()
                .enumerate()
                .map(|(k, copy)| {
                    let host = HostOp::AxisCopy { copy, zero };
                    (Pending::Host(host, 1), vec![k])
                })
                .collect()
        }
        Op::Gather => {
            let dims = IndexDims::of(op, args).ok_or_else(invalid)?;
            vec![(Pending::Host(HostOp::Gather(dims), 1), vec![0, 1])]
        }
        Op::ScatterAdd { .. } => {
            let dims = IndexDims::of(op, args).ok_or_else(invalid)?;
            vec![(Pending::Host(HostOp::ScatterAdd(dims), 1), vec![0, 1])]
        }
        Op::BatchMatMul { .. } => {
            let (a, b) = match args {
                [a, b] => (*a, *b),
                _ => return Err(invalid()),
            };
            let dims = BatchDims::of(op, a, b).ok_or_else(invalid)?;
            let product = BatchedProduct::new(dims);
            vec![(Pending::Batched(Box::new(product)), vec![0, 1])]
        }
        _ => return Ok(None),
    }))
}

/// A `batch_matmul`: a library product (module `gemm`) per batch
/// position over consecutive blocks of the operands and the result; with
/// a shared right operand and no transposed left one, the batch's rows
/// are one product (`[batch m, k] x [k, n]`).
pub(crate) struct BatchedProduct {
    dims: BatchDims,
    /// The products run, and the product run for each.
    runs: usize,
    product: LibraryProduct,
}

impl BatchedProduct {
    pub(crate) fn new(dims: BatchDims) -> Self {
        let BatchDims {
            batch,
            m,
            k,
            n,
            ta,
            tb,
            shared_b,
        } = dims;
        let (runs, product) = if shared_b && !ta {
            (1, LibraryProduct::new(batch * m, k, n, false, tb))
        } else {
            (batch, LibraryProduct::new(m, k, n, ta, tb))
        };
        BatchedProduct {
            dims,
            runs,
            product,
        }
    }

    pub(crate) fn describe(&self) -> String {
        let d = &self.dims;
        format!(
            "batched product: {} x [{}, {}] x [{}, {}] (ta: {}, tb: {}{}), {} product(s) on {}",
            d.batch,
            d.m,
            d.k,
            d.k,
            d.n,
            d.ta,
            d.tb,
            if d.shared_b { ", b shared" } else { "" },
            self.runs,
            self.product.engine()
        )
    }

    /// `c = a b` per batch position (`ins`: `a`, `b`; `outs`: `c`).
    pub(crate) fn run(&mut self, ins: &[&[f32]], outs: &mut [&mut [f32]]) -> Result<(), LowerError> {
        // Nothing is allocated unless the buffers are wrong.
        let dims = self.dims;
        let wrong = || LowerError::Internal {
            message: format!("a batched product {dims:?} given buffers of the wrong sizes"),
        };
        let ([a, b], [c]) = (ins, outs) else {
            return Err(wrong());
        };
        let p = &self.product;
        let (a_len, b_len, c_len) = (p.m * p.k, p.k * p.n, p.m * p.n);
        if a.len() != a_len * self.runs || c.len() != c_len * self.runs {
            return Err(wrong());
        }
        let shared = self.dims.shared_b;
        for i in 0..self.runs {
            let a_i = a.get(i * a_len..(i + 1) * a_len).ok_or_else(wrong)?;
            let b_i = if shared {
                Some(&b[..])
            } else {
                b.get(i * b_len..(i + 1) * b_len)
            };
            let b_i = b_i.ok_or_else(wrong)?;
            let c_i = c.get_mut(i * c_len..(i + 1) * c_len).ok_or_else(wrong)?;
            self.product.run(a_i, b_i, c_i, 0.0, 1.0)?;
        }
        Ok(())
    }
}
