//! Pass `simplify`: removes no-op nodes and merges duplicates.
//!
//! - A node that returns its operand unchanged (`scale` by 1, `add_const`
//!   0, a `reshape` to the operand's own shape, `sum` or `expand` over no
//!   axes, a `concat` of one operand, a `slice` of every position, a
//!   `pad` by nothing) is replaced by its operand.
//! - Two nodes with the same op, attributes and operands compute the same
//!   value (every op is a pure function of its operands and attributes;
//!   dropout masks of the same stream and seed are the same mask), so the
//!   later one is replaced by the earlier (common subexpression
//!   elimination): e.g. the decay factor `1 - eta lambda / n`, built once
//!   per weight, is computed once.

use super::rebuild::rebuild;
use crate::graph::{Graph, Node, NodeId};
use crate::ops::Op;
use std::collections::HashMap;

pub fn simplify(graph: &Graph) -> Graph {
    let mut seen: HashMap<String, NodeId> = HashMap::new();
    let keep = vec![true; graph.len()];
    rebuild(
        graph,
        |new, node| {
            if let Some(operand) = no_op_operand(new, node) {
                return Some(operand);
            }
            let key = format!("{:?} {:?} {:?}", node.op, node.inputs, node.shape);
            match seen.get(&key) {
                Some(&earlier) => Some(earlier),
                None => {
                    seen.insert(key, NodeId::new(new.len()));
                    None
                }
            }
        },
        &keep,
    )
}

/// The operand a node passes through unchanged, if it does.
fn no_op_operand(graph: &Graph, node: &Node) -> Option<NodeId> {
    let first = *node.inputs.first()?;
    let unchanged = match &node.op {
        Op::Scale(c) => *c == 1.0,
        Op::AddConst(c) => *c == 0.0,
        Op::Reshape { shape } => graph.shape(first) == shape.as_slice(),
        Op::SumAxes { axes } | Op::MaxAxes { axes } | Op::Expand { axes, .. } => axes.is_empty(),
        Op::Concat { parts, .. } => *parts == 1,
        Op::Slice { axis, start, len } => *start == 0 && graph.shape(first).get(*axis) == Some(len),
        Op::Pad { before, after, .. } => *before == 0 && *after == 0,
        _ => false,
    };
    unchanged.then_some(first)
}
