//! Indexing by integer values: `gather` reads rows of a table by index
//! (an embedding lookup), `scatter_add` adds values into rows by index
//! (the gather's gradient with respect to its table). Indices are integer
//! values stored as floats: [`index_row`] says which row each one names,
//! and every backend follows it, so that no index ever reads or writes
//! outside its table: one outside `[0, rows)` gathers a row of zeros and
//! scatters nothing. Scatter sums run in index order on every backend
//! (deterministic; WGSL, which has no float atomics, gives each result
//! element an invocation that loops over the indices).

use super::{arity, grad_name, operand, wanted, Op, ShapeError};
use crate::error::CompileError;
use crate::graph::{Graph, NodeId, Shape};

/// The row an index value names among `rows`: the value rounded to the
/// nearest integer (halves to even, as WGSL's `round`), when that lies in
/// `[0, rows)`; `None` otherwise (and for NaN).
pub fn index_row(value: f64, rows: usize) -> Option<usize> {
    let r = value.round_ties_even();
    (r >= 0.0 && r < rows as f64).then_some(r as usize)
}

/// The sizes of a `gather` or `scatter_add`: `count` indices, a table of
/// `rows` rows of `width` values each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexDims {
    pub count: usize,
    pub rows: usize,
    pub width: usize,
}

impl IndexDims {
    /// The sizes of `op` on operands of these shapes; `None` when the op
    /// is neither or the shape rule rejects them.
    pub fn of(op: &Op, inputs: &[&[usize]]) -> Option<IndexDims> {
        let out = op.shape(inputs).ok()?;
        let count = |s: &[usize]| s.iter().product::<usize>();
        match *op {
            // (table, indices) -> [indices..., row...]
            Op::Gather => Some(IndexDims {
                count: count(inputs[1]),
                rows: inputs[0][0],
                width: count(&inputs[0][1..]),
            }),
            // (indices, values) -> [rows, row...]
            Op::ScatterAdd { rows } => Some(IndexDims {
                count: count(inputs[0]),
                rows,
                width: count(&out[1..]),
            }),
            _ => None,
        }
    }
}

/// Shape rules: `gather(table, indices)`: a table of rank 1 or more,
/// indices of any shape; the result is the indices' shape followed by
/// the table's row shape. `scatter_add { rows }(indices, values)`: values
/// whose shape starts with the indices' shape; the result is `rows`
/// followed by the rest of the values' shape.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    arity(inputs, 2)?;
    match *op {
        Op::Gather => {
            let (table, indices) = (inputs[0], inputs[1]);
            if table.is_empty() {
                return Err(ShapeError::Invalid(
                    "a gather needs a table of rank 1 or more (rows first)",
                ));
            }
            let mut out = indices.to_vec();
            out.extend_from_slice(&table[1..]);
            Ok(out)
        }
        Op::ScatterAdd { rows } => {
            let (indices, values) = (inputs[0], inputs[1]);
            if !values.starts_with(indices) {
                let mut expected = indices.to_vec();
                expected.extend(values.get(indices.len()..).unwrap_or(&[]));
                return Err(ShapeError::Mismatch {
                    operand: 1,
                    expected,
                    found: values.to_vec(),
                });
            }
            let mut out = vec![rows];
            out.extend_from_slice(&values[indices.len()..]);
            Ok(out)
        }
        _ => Err(ShapeError::Invalid("not an indexing op")),
    }
}

/// Gradient rules: `gather`: the table's is `dy` added into the rows the
/// indices name (`scatter_add`); `scatter_add`: the values' is `dy`
/// gathered at the indices. Indices get none (a zero gradient: they only
/// select).
pub(crate) fn gradient(
    graph: &mut Graph,
    node: NodeId,
    dy: NodeId,
    wants: &[bool],
) -> Result<Vec<Option<NodeId>>, CompileError> {
    match graph.node(node).op {
        Op::Gather => {
            let (table, indices) = (operand(graph, node, 0), operand(graph, node, 1));
            let rows = graph.shape(table).first().copied().unwrap_or(0);
            let name = grad_name(graph, table);
            let scatter = Op::ScatterAdd { rows };
            let dt = wanted(wants, 0, || graph.add(scatter, vec![indices, dy], name))?;
            Ok(vec![dt, None])
        }
        Op::ScatterAdd { .. } => {
            let (indices, values) = (operand(graph, node, 0), operand(graph, node, 1));
            let name = grad_name(graph, values);
            let dv = wanted(wants, 1, || graph.add(Op::Gather, vec![dy, indices], name))?;
            Ok(vec![None, dv])
        }
        _ => Ok(vec![None; wants.len()]),
    }
}
