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
//! A fused kernel (pass `fuse`) prints as `fused KIND(operands)`, its body
//! indented below it (`#k` is kernel input `k`, `$j` body value `j`) and
//! closed by the values it yields (`print_body`).
//!
//! The text is a pure function of the graph (no addresses, no hash-map
//! order), so it is fit for snapshots. Constants print in Rust's shortest
//! round-trip form.

use crate::fused::FusedKernel;
use crate::graph::{Graph, Node, NodeId};
use crate::ops::Op;
use crate::window::Rounding;
use std::fmt::Write;

/// The whole graph as text.
pub fn print(graph: &Graph) -> String {
    let mut out = format!("graph {} (batch {}) {{\n", graph.kind, graph.batch_size);
    for id in graph.ids() {
        let _ = writeln!(out, "  {}", print_node(id, graph.node(id)));
        if let Op::Fused(kernel) = &graph.node(id).op {
            print_body(&mut out, kernel);
        }
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

/// A fused kernel's body, under its node: one line per body op, then the
/// values it yields (output 0 first).
///
/// ```text
///   %5 = fused matmul+epilogue(%0, %1, %3) : [10, 30]  // dense_1
///     $0 = matmul(#0, #1^T) : [10, 30]  // dense_1.wx
///     $1 = bias_add($0, #2) : [10, 30]  // dense_1.z
///     $2 = sigmoid($1) : [10, 30]  // dense_1
///     yield $2, $1
///   %6 = kernel_output(%5, 1) : [10, 30]  // dense_1.z
/// ```
fn print_body(out: &mut String, kernel: &FusedKernel) {
    for (j, micro) in kernel.body.iter().enumerate() {
        let args = micro.args.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(
            out,
            "    ${j} = {} : {}  // {}",
            print_op_with(&micro.op, args),
            print_shape(&micro.shape),
            micro.name
        );
    }
    let yielded: Vec<String> = kernel.outputs.iter().map(|v| format!("${v}")).collect();
    let _ = writeln!(out, "    yield {}", yielded.join(", "));
}

/// The op with its operands and attributes.
fn print_op(node: &Node) -> String {
    let args = node.inputs.iter().map(|i| i.to_string()).collect();
    print_op_with(&node.op, args)
}

/// The op with the given operand texts and its attributes.
fn print_op_with(op: &Op, mut args: Vec<String>) -> String {
    let name = op.mnemonic();
    match op {
        Op::Fused(kernel) => return format!("{name} {}({})", kernel.kind, args.join(", ")),
        Op::KernelOutput { index, .. } => args.push(index.to_string()),
        Op::Input { kind, .. } => return format!("input {kind}"),
        Op::Fill { value, .. } => return format!("fill({value})"),
        Op::Scale(c) | Op::AddConst(c) | Op::Pow(c) => args.push(c.to_string()),
        Op::SumAxes { axes } | Op::MaxAxes { axes } | Op::Expand { axes, .. } => {
            args.push(format!("axes={axes:?}"))
        }
        Op::MatMul { ta, tb } | Op::BatchMatMul { ta, tb } => {
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
        Op::Permute { perm } => args.push(format!("perm={perm:?}")),
        Op::Concat { axis, .. } => args.push(format!("axis={axis}")),
        Op::Slice { axis, start, len } => {
            args.push(format!("axis={axis}"));
            args.push(format!("start={start}"));
            args.push(format!("len={len}"));
        }
        Op::Pad {
            axis,
            before,
            after,
        } => {
            args.push(format!("axis={axis}"));
            args.push(format!("before={before}"));
            args.push(format!("after={after}"));
        }
        Op::ScatterAdd { rows } => args.push(format!("rows={rows}")),
        Op::DropoutMask { p, stream, .. } => {
            args.push(format!("p={p}"));
            args.push(format!("stream={stream}"));
        }
        Op::Random { noise, stream, .. } => {
            args.push(noise.name().to_string());
            args.push(format!("stream={stream}"));
        }
        _ => {}
    }
    format!("{name}({})", args.join(", "))
}
