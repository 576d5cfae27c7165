//! Matrix products: `matmul`, the product `op(a) op(b)` of 2-D operands,
//! where `op` transposes when its flag is set (a dense layer is
//! `matmul(x, W^T)`); and `batch_matmul`, one such product per position
//! of the leading (batch) axes, the right operand either batched like the
//! left or a rank-2 matrix shared by every position.

use super::{arity, grad_name, operand, rank, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// `[rows, cols]` of a 2-D shape, transposed when `t`.
fn dims(shape: &[usize], t: bool) -> (usize, usize) {
    if t {
        (shape[1], shape[0])
    } else {
        (shape[0], shape[1])
    }
}

/// The sizes of a `batch_matmul`: `batch` products of `op(A) [m, k]` by
/// `op(B) [k, n]`. The left operand holds the products' `A`s back to
/// back (`m * k` values each); the right one holds the `B`s back to back,
/// or one `B` for all when `shared_b`. The result holds the `[m, n]`
/// products back to back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub ta: bool,
    pub tb: bool,
    pub shared_b: bool,
}

impl BatchDims {
    /// The sizes of `op` (a `batch_matmul`) on operands of these shapes;
    /// `None` when the shape rule rejects them.
    pub fn of(op: &Op, a: &[usize], b: &[usize]) -> Option<BatchDims> {
        let Op::BatchMatMul { ta, tb } = *op else {
            return None;
        };
        op.shape(&[a, b]).ok()?;
        let r = a.len();
        let (m, k) = dims(&a[r - 2..], ta);
        let (_, n) = dims(&b[b.len() - 2..], tb);
        Some(BatchDims {
            batch: a[..r - 2].iter().product(),
            m,
            k,
            n,
            ta,
            tb,
            shared_b: b.len() == 2 && r > 2,
        })
    }
}

/// Shape rules: `matmul`: `op(a)` is `[m, k]`, `op(b)` is `[k, n]`, the
/// product `[m, n]`. `batch_matmul`: `a` of rank 2 or more, `[..., m, k]`
/// after `op` on its last two axes; `b` of the same rank with the same
/// leading axes, or of rank 2, `[..., k, n]` after `op`; the product
/// `[..., m, n]`.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    let (ta, tb, batched) = match *op {
        Op::MatMul { ta, tb } => (ta, tb, false),
        Op::BatchMatMul { ta, tb } => (ta, tb, true),
        _ => return Err(ShapeError::Invalid("not a matrix product")),
    };
    arity(inputs, 2)?;
    if !batched {
        rank(inputs, 0, 2)?;
        rank(inputs, 1, 2)?;
    }
    let r = inputs[0].len();
    if r < 2 {
        return Err(ShapeError::Invalid(
            "a batched product needs a left operand of rank 2 or more",
        ));
    }
    let b_rank = inputs[1].len();
    if b_rank != r && b_rank != 2 {
        rank(inputs, 1, r)?;
    }
    let batch = &inputs[0][..r - 2];
    let (m, k) = dims(&inputs[0][r - 2..], ta);
    let (k2, n) = dims(&inputs[1][b_rank - 2..], tb);
    let b_batch = &inputs[1][..b_rank - 2];
    if k != k2 || (b_rank == r && b_batch != batch) {
        let mut expected = if b_rank == r {
            batch.to_vec()
        } else {
            Vec::new()
        };
        expected.extend(if tb { [n, k] } else { [k, n] });
        return Err(ShapeError::Mismatch {
            operand: 1,
            expected,
            found: inputs[1].to_vec(),
        });
    }
    let mut out = batch.to_vec();
    out.extend([m, n]);
    Ok(out)
}

/// Gradient rules, with `g = dy` and `C = op(A) op(B)`:
///
/// | C        | dA           | dB           |
/// |----------|--------------|--------------|
/// | A B      | g B^T        | A^T g        |
/// | A B^T    | g B          | g^T A        |
/// | A^T B    | B g^T        | A g          |
/// | A^T B^T  | B^T g^T      | g^T A^T      |
///
/// A `batch_matmul` follows the same table per batch position. With a
/// shared `B`, `dA` needs `B` on the left when `A` is transposed: it is
/// `(g B^T)^T` or `(g B)^T`, a product and a swap of the last two axes;
/// `dB` sums over the batch: one 2-D product of the flattened batch when
/// `A` is not transposed (`A^T g` is `sum_b A_b^T g_b`), else the batched
/// products summed over the batch axes.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let (ta, tb, batched) = match graph.node(node).op {
        Op::MatMul { ta, tb } => (ta, tb, false),
        Op::BatchMatMul { ta, tb } => (ta, tb, true),
        _ => return Ok(vec![None, None]),
    };
    let a = operand(graph, node, 0);
    let b = operand(graph, node, 1);
    let shared = batched && graph.shape(b).len() == 2 && graph.shape(a).len() > 2;
    if shared {
        return shared_gradient(graph, node, dy, wants, ta, tb);
    }
    let (name_a, name_b) = (grad_name(graph, a), grad_name(graph, b));
    let mm = |ta, tb| {
        if batched {
            Op::BatchMatMul { ta, tb }
        } else {
            Op::MatMul { ta, tb }
        }
    };
    let (da_op, da_in, db_op, db_in) = match (ta, tb) {
        (false, false) => (mm(false, true), [dy, b], mm(true, false), [a, dy]),
        (false, true) => (mm(false, false), [dy, b], mm(true, false), [dy, a]),
        (true, false) => (mm(false, true), [b, dy], mm(false, false), [a, dy]),
        (true, true) => (mm(true, true), [b, dy], mm(true, true), [dy, a]),
    };
    let da = wanted(wants, 0, || graph.add(da_op, da_in.to_vec(), name_a))?;
    let db = wanted(wants, 1, || graph.add(db_op, db_in.to_vec(), name_b))?;
    Ok(vec![da, db])
}

/// The gradient of a `batch_matmul` whose rank-2 `B` is shared by every
/// batch position (see [`gradient`]).
fn shared_gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
    ta: bool,
    tb: bool,
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let a = operand(graph, node, 0);
    let b = operand(graph, node, 1);
    let (name_a, name_b) = (grad_name(graph, a), grad_name(graph, b));
    let a_shape = graph.shape(a).to_vec();
    let r = a_shape.len();
    let bmm = |ta, tb| Op::BatchMatMul { ta, tb };
    let da = wanted(wants, 0, || {
        // g op(B)^T is [..., m, k]: dA itself, or its transpose.
        let product = graph.add(bmm(false, !tb), vec![dy, b], name_a.clone())?;
        if !ta {
            return Ok(product);
        }
        let mut perm: Vec<usize> = (0..r).collect();
        perm.swap(r - 2, r - 1);
        graph.add(Op::Permute { perm }, vec![product], name_a)
    })?;
    let db = wanted(wants, 1, || {
        if !ta {
            // The batch flattened into rows: [B m, k] and [B m, n].
            let rows: usize = a_shape[..r - 1].iter().product();
            let dy_shape = graph.shape(dy).to_vec();
            let flat_a = Op::Reshape {
                shape: vec![rows, a_shape[r - 1]],
            };
            let flat_g = Op::Reshape {
                shape: vec![rows, dy_shape[dy_shape.len() - 1]],
            };
            let a2 = graph.add(flat_a, vec![a], name_b.clone())?;
            let g2 = graph.add(flat_g, vec![dy], name_b.clone())?;
            let inputs = if tb { vec![g2, a2] } else { vec![a2, g2] };
            return graph.add(
                Op::MatMul {
                    ta: true,
                    tb: false,
                },
                inputs,
                name_b,
            );
        }
        // A^T per position: A g (or g^T A^T), then summed over the batch.
        let (op, inputs) = if tb {
            (bmm(true, true), vec![dy, a])
        } else {
            (bmm(false, false), vec![a, dy])
        };
        let per_position = graph.add(op, inputs, name_b.clone())?;
        let axes = (0..r - 2).collect();
        graph.add(Op::SumAxes { axes }, vec![per_position], name_b)
    })?;
    Ok(vec![da, db])
}
