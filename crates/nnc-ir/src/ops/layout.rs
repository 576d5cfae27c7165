//! Layout: `reshape` (which also serves `flatten`) reinterprets the values,
//! in row-major order, with another shape of the same number of values;
//! `permute` reorders the axes (a transpose of any rank).

use super::{arity, grad_name, operand, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// Shape rule: `reshape`: the target shape, when it has as many values as
/// the operand; `permute`: the operand's axes in the order `perm` names
/// them, `perm` a permutation of the operand's axes.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    arity(inputs, 1)?;
    if let Op::Permute { perm } = op {
        let rank = inputs[0].len();
        let mut seen = vec![false; rank];
        for &axis in perm {
            match seen.get_mut(axis) {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(ShapeError::Axes {
                        axes: perm.clone(),
                        rank,
                    })
                }
            }
        }
        if perm.len() != rank {
            return Err(ShapeError::Axes {
                axes: perm.clone(),
                rank,
            });
        }
        return Ok(perm.iter().map(|&a| inputs[0][a]).collect());
    }
    let Op::Reshape { shape } = op else {
        return Err(ShapeError::Invalid("not a layout op"));
    };
    let count = |s: &[usize]| s.iter().product::<usize>();
    if count(inputs[0]) != count(shape) {
        return Err(ShapeError::Count {
            from: inputs[0].to_vec(),
            to: shape.clone(),
        });
    }
    Ok(shape.clone())
}

/// Gradient rules: `reshape`: the gradient reshaped back to the operand's
/// shape; `permute(perm)`: the gradient permuted by the inverse of `perm`.
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let x = operand(graph, node, 0);
    let name = grad_name(graph, x);
    if let Op::Permute { perm } = &graph.node(node).op {
        let mut inverse = vec![0; perm.len()];
        for (k, &axis) in perm.iter().enumerate() {
            inverse[axis] = k;
        }
        return Ok(vec![wanted(wants, 0, || {
            graph.add(Op::Permute { perm: inverse }, vec![dy], name)
        })?]);
    }
    let shape = graph.shape(x).to_vec();
    Ok(vec![wanted(wants, 0, || {
        graph.add(Op::Reshape { shape }, vec![dy], name)
    })?])
}

/// For `permute(perm)` of an operand of shape `input`: the operand's flat
/// stride along each axis of the result (result axis `k` walks operand
/// axis `perm[k]`), so result element `[i0, i1, ...]` is operand element
/// `sum_k i_k * strides[k]`.
pub fn permuted_strides(input: &[usize], perm: &[usize]) -> Vec<usize> {
    let mut operand = vec![1usize; input.len()];
    for axis in (0..input.len().saturating_sub(1)).rev() {
        operand[axis] = operand[axis + 1] * input[axis + 1];
    }
    perm.iter().map(|&a| operand[a]).collect()
}

/// Calls `visit(source)` with the operand's flat index of every element
/// of `permute(perm)` of an operand of shape `input`, in the result's
/// row-major order.
pub fn for_each_permuted(input: &[usize], perm: &[usize], mut visit: impl FnMut(usize)) {
    let out: Vec<usize> = perm.iter().map(|&a| input[a]).collect();
    let strides = permuted_strides(input, perm);
    let total: usize = out.iter().product();
    let mut index = vec![0usize; out.len()];
    let mut source = 0usize;
    for _ in 0..total {
        visit(source);
        for axis in (0..out.len()).rev() {
            index[axis] += 1;
            source += strides[axis];
            if index[axis] < out[axis] {
                break;
            }
            source -= strides[axis] * out[axis];
            index[axis] = 0;
        }
    }
}
