//! The text form of a graph: one node per line, then the outputs.
//!
//! ```text
//! graph training (batch 10) {
//!   %0 = input data[0] : [10, 784]  // image
//!   %1 = input param[0] : [30, 784]  // dense_1.weight
//!   %2 = matmul(%0, %1^T) : [10, 30]  // dense_1.wx
//!   ...
//!   output cost = %17
//! }
//! ```
//!
//! The text is a pure function of the graph (no addresses, no hash-map
//! order), so it is fit for snapshots. Constants print in Rust's shortest
//! round-trip form.

use crate::graph::{Graph, Node, NodeId};
use crate::ops::Op;
use nnc_check::program::Rounding;
use std::fmt::Write;

/// The whole graph as text.
pub fn print(graph: &Graph) -> String {
    let mut out = format!("graph {} (batch {}) {{\n", graph.kind, graph.batch_size);
    for id in graph.ids() {
        let _ = writeln!(out, "  {}", print_node(id, graph.node(id)));
    }
    for output in &graph.outputs {
        let _ = writeln!(out, "  output {} = {}", output.name, output.node);
    }
    out.push_str("}\n");
    out
}

/// One node: `%12 = matmul(%3, %7^T) : [10, 30]  // dense_1.wx`.
pub fn print_node(id: NodeId, node: &Node) -> String {
    format!(
        "{id} = {} : {}  // {}",
        print_op(node),
        print_shape(&node.shape),
        node.name
    )
}

/// `[10, 30]`; a scalar is `[]`.
pub fn print_shape(shape: &[usize]) -> String {
    format!("{shape:?}")
}

/// The op with its operands and attributes.
fn print_op(node: &Node) -> String {
    let name = node.op.mnemonic();
    let mut args: Vec<String> = node.inputs.iter().map(|i| i.to_string()).collect();
    match &node.op {
        Op::Input { kind, .. } => return format!("input {kind}"),
        Op::Fill { value, .. } => return format!("fill({value})"),
        Op::Scale(c) | Op::AddConst(c) => args.push(c.to_string()),
        Op::SumAxes { axes } | Op::Expand { axes, .. } => args.push(format!("axes={axes:?}")),
        Op::MatMul { ta, tb } => {
            for (arg, t) in args.iter_mut().zip([ta, tb]) {
                if *t {
                    arg.push_str("^T");
                }
            }
        }
        Op::Conv2d { stride, padding }
        | Op::Conv2dInputGrad {
            stride, padding, ..
        }
        | Op::Conv2dWeightGrad {
            stride, padding, ..
        } => {
            args.push(format!("stride={stride:?}"));
            args.push(format!("padding={padding:?}"));
        }
        Op::Pool(g) | Op::PoolGrad(g) => {
            args.push(format!("size={:?}", g.size));
            args.push(format!("stride={:?}", g.stride));
            args.push(format!("padding={:?}", g.padding));
            let round = match g.rounding {
                Rounding::Floor => "floor",
                Rounding::Ceil => "ceil",
            };
            args.push(format!("round={round}"));
        }
        Op::DropoutMask { p, stream, .. } => {
            args.push(format!("p={p}"));
            args.push(format!("stream={stream}"));
        }
        _ => {}
    }
    format!("{name}({})", args.join(", "))
}
