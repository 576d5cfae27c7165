//! The general tensor primitives on the CPU: batched products
//! ([`BatchedProduct`], module `batched`: library products once per
//! batch position), and host steps (module `host`) for the ops along one
//! axis (`concat`, `slice`, `pad`: block copies, one action per
//! `concat` operand so that any number of operands fits an action's
//! buffers) and for indexing (`gather`, `scatter_add`, in index order,
//! every index checked against the table: one outside it reads zeros and
//! writes nothing).

use crate::batched::BatchedProduct;
use crate::error::LowerError;
use crate::host::HostOp;
use crate::pending::Pending;
use nnc_ir::ops::axis::copies;
use nnc_ir::ops::gather::IndexDims;
use nnc_ir::ops::matmul::BatchDims;
use nnc_ir::Op;

/// An action and the operands it reads, by position.
pub(crate) type Reading = (Pending, Vec<usize>);

/// The actions computing `op` of operands of shapes `args`, each with
/// the operands it reads and writing the op's result; `None` when `op`
/// is none of these primitives.
pub(crate) fn actions(op: &Op, args: &[&[usize]]) -> Result<Option<Vec<Reading>>, LowerError> {
    let invalid = || LowerError::Internal {
        message: format!(
            "`{}` of operands {args:?} breaks its shape rule",
            op.mnemonic()
        ),
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
