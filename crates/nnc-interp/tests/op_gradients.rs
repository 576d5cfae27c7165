//! A finite-difference gradient check for every differentiable op of the
//! IR (and a zero-gradient check for the piecewise-constant ones): each
//! op's gradient rule, run by the interpreter, against central differences
//! of its kernel, in `f64` (tolerance in `support/gradcheck.rs`).

mod support;

use nnc_interp::Interpreter;
use nnc_ir::passes::autodiff::gradients;
use nnc_ir::rng::Rng;
use nnc_ir::scalar::Cmp;
use nnc_ir::window::{PoolKind, Rounding};
use nnc_ir::{CostFn, GeluForm, Graph, GraphKind, InputKind, Op, OutputKind, PoolGeometry, Shape};
use support::gradcheck::{check, Problem};

/// How an operand's values are drawn.
#[derive(Clone, Copy)]
enum Gen {
    /// `N(0, s^2)`.
    Normal(f64),
    /// Uniform on `[lo, hi)`.
    Uniform(f64, f64),
    /// One-hot rows (the last dimension is the class).
    OneHot,
    /// Integer indices from `-1 ..= n` (rows of a table of `n`, and one
    /// past either end).
    Index(usize),
}

fn draw(gen: Gen, shape: &[usize], rng: &mut Rng) -> Vec<f64> {
    let n: usize = shape.iter().product();
    match gen {
        Gen::Normal(s) => (0..n).map(|_| s * rng.normal()).collect(),
        Gen::Uniform(lo, hi) => (0..n).map(|_| lo + (hi - lo) * rng.uniform()).collect(),
        Gen::OneHot => {
            let width = *shape.last().unwrap();
            let mut v = vec![0.0; n];
            for row in 0..n / width {
                v[row * width + rng.below(width)] = 1.0;
            }
            v
        }
        Gen::Index(rows) => (0..n).map(|_| rng.below(rows + 2) as f64 - 1.0).collect(),
    }
}

/// The objective `sum(op(operands) * r)` for random `r`, differentiated
/// with respect to the operands marked in `diff`.
fn op_problem(op: Op, operands: &[(Shape, Gen)], diff: &[bool], seed: u64) -> Problem {
    let mut rng = Rng::new(seed);
    let mut graph = Graph::new(GraphKind::Training, 1);
    let mut values = Vec::new();
    let mut ids = Vec::new();
    for (i, (shape, gen)) in operands.iter().enumerate() {
        let kind = InputKind::Param(i);
        let id = graph
            .add(
                Op::Input {
                    kind,
                    shape: shape.clone(),
                },
                Vec::new(),
                format!("x{i}"),
            )
            .unwrap();
        ids.push(id);
        values.push((kind, draw(*gen, shape, &mut rng)));
    }
    let y = graph.add(op, ids.clone(), "y").unwrap();
    let y_shape = graph.shape(y).to_vec();
    let r_kind = InputKind::Param(operands.len());
    let r = graph
        .add(
            Op::Input {
                kind: r_kind,
                shape: y_shape.clone(),
            },
            Vec::new(),
            "r",
        )
        .unwrap();
    values.push((r_kind, draw(Gen::Normal(1.0), &y_shape, &mut rng)));
    objective(graph, y, r, &ids, diff, values, 0)
}

/// Adds `sum(y * r)` as the cost and the gradients of the marked operands.
fn objective(
    mut graph: Graph,
    y: nnc_ir::NodeId,
    r: nnc_ir::NodeId,
    operands: &[nnc_ir::NodeId],
    diff: &[bool],
    values: Vec<(InputKind, Vec<f64>)>,
    seed: u64,
) -> Problem {
    let prod = graph.add(Op::Mul, vec![y, r], "y*r").unwrap();
    let axes = (0..graph.shape(prod).len()).collect();
    let obj = graph
        .add(Op::SumAxes { axes }, vec![prod], "objective")
        .unwrap();
    graph.add_output("objective", OutputKind::Cost, obj);
    let wrt: Vec<_> = operands
        .iter()
        .zip(diff)
        .filter(|(_, d)| **d)
        .map(|(id, _)| *id)
        .collect();
    let grads = gradients(&mut graph, obj, &wrt).unwrap();
    let mut kinds = Vec::new();
    for (k, (g, w)) in grads.into_iter().zip(&wrt).enumerate() {
        graph.add_output(format!("grad{k}"), OutputKind::Gradient(k), g);
        let Op::Input { kind, .. } = graph.node(*w).op else {
            unreachable!()
        };
        kinds.push(kind);
    }
    nnc_ir::verify(&graph).unwrap();
    Problem {
        graph,
        values,
        wrt: kinds,
        seed,
    }
}

/// Checks `op` with every operand differentiated.
fn check_op(label: &str, op: Op, operands: &[(Shape, Gen)]) {
    let diff = vec![true; operands.len()];
    let compared = check(op_problem(op, operands, &diff, 7), label);
    assert!(compared > 0, "{label}: nothing compared");
}

const N: Gen = Gen::Normal(1.0);

#[test]
fn elementwise_binary() {
    let s = vec![3, 4];
    check_op("add", Op::Add, &[(s.clone(), N), (s.clone(), N)]);
    check_op("sub", Op::Sub, &[(s.clone(), N), (s.clone(), N)]);
    check_op("mul", Op::Mul, &[(s.clone(), N), (s.clone(), N)]);
    check_op(
        "div",
        Op::Div,
        &[(s.clone(), N), (s.clone(), Gen::Uniform(0.5, 2.0))],
    );
    // One tensor on both sides: the two contributions are summed.
    let mut graph = Graph::new(GraphKind::Training, 1);
    let x = graph
        .add(
            Op::Input {
                kind: InputKind::Param(0),
                shape: s.clone(),
            },
            Vec::new(),
            "x",
        )
        .unwrap();
    let y = graph.add(Op::Mul, vec![x, x], "x*x").unwrap();
    let r = graph
        .add(
            Op::Input {
                kind: InputKind::Param(1),
                shape: s.clone(),
            },
            Vec::new(),
            "r",
        )
        .unwrap();
    let mut rng = Rng::new(3);
    let values = vec![
        (InputKind::Param(0), draw(N, &s, &mut rng)),
        (InputKind::Param(1), draw(N, &s, &mut rng)),
    ];
    check(
        objective(graph, y, r, &[x], &[true], values, 0),
        "mul(x, x)",
    );
}

#[test]
fn elementwise_unary() {
    let s = vec![2, 5];
    check_op("neg", Op::Neg, &[(s.clone(), N)]);
    check_op("scale", Op::Scale(-1.7), &[(s.clone(), N)]);
    check_op("add_const", Op::AddConst(0.3), &[(s.clone(), N)]);
    check_op("exp", Op::Exp, &[(s.clone(), N)]);
    check_op("log", Op::Log, &[(s.clone(), Gen::Uniform(0.2, 3.0))]);
    check_op("sqrt", Op::Sqrt, &[(s.clone(), Gen::Uniform(0.2, 3.0))]);
    check_op("sign (zero gradient)", Op::Sign, &[(s.clone(), N)]);
    check_op("abs", Op::Abs, &[(s.clone(), N)]);
    check_op("square", Op::Square, &[(s.clone(), N)]);
    check_op("pow 3", Op::Pow(3.0), &[(s.clone(), N)]);
    let positive = Gen::Uniform(0.3, 2.5);
    check_op("pow -2", Op::Pow(-2.0), &[(s.clone(), positive)]);
    check_op("pow 0.5", Op::Pow(0.5), &[(s.clone(), positive)]);
    check_op("pow 2.7", Op::Pow(2.7), &[(s.clone(), positive)]);
}

#[test]
fn maximum_minimum_and_masks() {
    let s = vec![3, 5];
    let two = [(s.clone(), N), (s.clone(), N)];
    check_op("maximum", Op::Maximum, &two);
    check_op("minimum", Op::Minimum, &two);
    for cmp in [Cmp::Gt, Cmp::Ge, Cmp::Lt, Cmp::Le, Cmp::Eq, Cmp::Ne] {
        check_op(
            &format!("compare {cmp:?} (zero gradient)"),
            Op::Compare(cmp),
            &two,
        );
    }
}

#[test]
fn activations() {
    let s = vec![3, 5];
    check_op("sigmoid", Op::Sigmoid, &[(s.clone(), Gen::Normal(3.0))]);
    check_op("tanh", Op::Tanh, &[(s.clone(), Gen::Normal(2.0))]);
    check_op("relu", Op::Relu, &[(s.clone(), N)]);
    check_op("step (zero gradient)", Op::Step, &[(s.clone(), N)]);
    check_op("softmax", Op::Softmax, &[(s.clone(), Gen::Normal(2.0))]);
    check_op("softmax of images", Op::Softmax, &[(vec![2, 2, 3, 2], N)]);
    check_op("softplus", Op::Softplus, &[(s.clone(), Gen::Normal(3.0))]);
    check_op("silu", Op::Silu, &[(s.clone(), Gen::Normal(3.0))]);
    for form in [GeluForm::Erf, GeluForm::Tanh] {
        check_op(
            &format!("gelu {form:?}"),
            Op::Gelu(form),
            &[(s.clone(), Gen::Normal(2.0))],
        );
    }
}

#[test]
fn broadcasts_and_reductions() {
    check_op(
        "bias_add [b, n]",
        Op::BiasAdd,
        &[(vec![3, 4], N), (vec![4], N)],
    );
    check_op(
        "bias_add [b, c, h, w]",
        Op::BiasAdd,
        &[(vec![2, 3, 4, 5], N), (vec![3], N)],
    );
    check_op("scale_by", Op::ScaleBy, &[(vec![3, 4], N), (vec![], N)]);
    let x = vec![2, 3, 4, 5];
    for axes in [
        vec![0],
        vec![1],
        vec![3],
        vec![0, 2, 3],
        vec![0, 1, 2, 3],
        vec![],
    ] {
        let label = format!("sum over {axes:?}");
        check_op(&label, Op::SumAxes { axes }, &[(x.clone(), N)]);
    }
    let expand = Op::Expand {
        axes: vec![0, 2],
        shape: vec![2, 3, 4],
    };
    check_op("expand", expand, &[(vec![3], N)]);
}

#[test]
fn matmul_with_every_transpose() {
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let a = if ta { vec![4, 3] } else { vec![3, 4] };
        let b = if tb { vec![5, 4] } else { vec![4, 5] };
        let label = format!("matmul ta={ta} tb={tb}");
        check_op(&label, Op::MatMul { ta, tb }, &[(a, N), (b, N)]);
    }
}

#[test]
fn conv2d_with_stride_padding_and_channels() {
    let strided = Op::Conv2d {
        stride: [2, 1],
        padding: [1, 0, 2, 1],
    };
    check_op(
        "conv2d strided, padded",
        strided,
        &[(vec![2, 3, 6, 7], N), (vec![4, 3, 3, 2], N)],
    );
    let plain = Op::Conv2d {
        stride: [1, 1],
        padding: [0; 4],
    };
    check_op(
        "conv2d valid",
        plain,
        &[(vec![1, 2, 5, 5], N), (vec![2, 2, 3, 3], N)],
    );
    let wide_stride = Op::Conv2d {
        stride: [3, 2],
        padding: [2, 2, 1, 1],
    };
    check_op(
        "conv2d stride 3",
        wide_stride,
        &[(vec![2, 2, 7, 6], N), (vec![3, 2, 2, 3], N)],
    );
}

/// `conv2d_input_grad`, which is also the transposed convolution
/// (`conv2d_transpose`): its gradients for both operands, with a stride
/// and padding, for the input size a forward convolution maps onto `dy`
/// and for one a row larger (what `output_padding: 1` asks for, a row no
/// window of the forward convolution reads).
#[test]
fn conv2d_input_grad_as_a_transposed_convolution() {
    for input in [[6, 6], [7, 6]] {
        let op = Op::Conv2dInputGrad {
            stride: [2, 1],
            padding: [1, 0, 2, 1],
            input,
        };
        check_op(
            &format!("conv2d_input_grad to {input:?}"),
            op,
            &[(vec![2, 4, 3, 8], N), (vec![4, 3, 3, 2], N)],
        );
    }
    let plain = Op::Conv2dInputGrad {
        stride: [2, 2],
        padding: [0; 4],
        input: [6, 6],
    };
    check_op(
        "conv2d_input_grad stride 2",
        plain,
        &[(vec![1, 2, 3, 3], N), (vec![2, 3, 2, 2], N)],
    );
}

/// `upsample` (nearest and bilinear) built from primitives: finite
/// differences agree with the gradient its primitives' rules derive.
#[test]
fn upsample_composites() {
    use nnc_ir::composite::{upsample, Upsampling};
    for (mode, factor) in [
        (Upsampling::Nearest, [2, 3]),
        (Upsampling::Bilinear, [2, 2]),
        (Upsampling::Bilinear, [3, 1]),
        (Upsampling::Bilinear, [1, 4]),
    ] {
        let label = format!("upsample {mode:?} {factor:?}");
        let mut graph = Graph::new(GraphKind::Training, 1);
        let shape = vec![2, 2, 3, 4];
        let input = |graph: &mut Graph, k: usize, shape: &[usize]| {
            let op = Op::Input {
                kind: InputKind::Param(k),
                shape: shape.to_vec(),
            };
            graph.add(op, Vec::new(), format!("x{k}")).unwrap()
        };
        let x = input(&mut graph, 0, &shape);
        let y = upsample(&mut graph, x, factor, mode, "up").unwrap();
        let out_shape = vec![2, 2, 3 * factor[0], 4 * factor[1]];
        assert_eq!(graph.shape(y), out_shape.as_slice(), "{label}");
        let r = input(&mut graph, 1, &out_shape);
        let mut rng = Rng::new(5);
        let values = vec![
            (InputKind::Param(0), draw(N, &shape, &mut rng)),
            (InputKind::Param(1), draw(N, &out_shape, &mut rng)),
        ];
        let compared = check(objective(graph, y, r, &[x], &[true], values, 0), &label);
        assert_eq!(compared, 48, "{label}");
    }
}

#[test]
fn pooling_of_every_kind_and_rounding() {
    let geometries = [
        // ceil rounding with uneven padding: windows run past the input
        (
            [3, 2],
            [2, 2],
            [1, 0, 0, 1],
            Rounding::Ceil,
            vec![2, 2, 7, 6],
        ),
        // tiling windows
        (
            [2, 2],
            [2, 2],
            [0, 0, 0, 0],
            Rounding::Floor,
            vec![1, 2, 5, 5],
        ),
        // overlapping windows with padding
        (
            [3, 3],
            [1, 1],
            [1, 1, 1, 1],
            Rounding::Floor,
            vec![1, 1, 5, 5],
        ),
        // stride larger than the window, ceil
        (
            [2, 2],
            [3, 3],
            [0, 0, 0, 0],
            Rounding::Ceil,
            vec![1, 2, 7, 7],
        ),
    ];
    for kind in [PoolKind::Max, PoolKind::Average, PoolKind::L2] {
        for (size, stride, padding, rounding, x) in &geometries {
            let g = PoolGeometry {
                kind,
                size: *size,
                stride: *stride,
                padding: *padding,
                rounding: *rounding,
            };
            let label = format!("{kind:?} pool {size:?}/{stride:?} pad {padding:?} {rounding:?}");
            check_op(&label, Op::Pool(g), &[(x.clone(), N)]);
        }
    }
}

#[test]
fn reshape() {
    let op = Op::Reshape { shape: vec![2, 12] };
    check_op("reshape", op, &[(vec![2, 3, 4], N)]);
}

#[test]
fn max_over_axes() {
    for axes in [vec![1], vec![0], vec![0, 2], vec![0, 1, 2]] {
        let label = format!("max over {axes:?}");
        check_op(&label, Op::MaxAxes { axes }, &[(vec![3, 4, 5], N)]);
    }
}

#[test]
fn permute() {
    for (shape, perm) in [
        (vec![3, 5], vec![1, 0]),
        (vec![2, 3, 4], vec![2, 0, 1]),
        (vec![2, 3, 4, 5], vec![0, 2, 1, 3]),
    ] {
        let label = format!("permute {shape:?} by {perm:?}");
        check_op(&label, Op::Permute { perm }, &[(shape, N)]);
    }
}

#[test]
fn permute_rejects_what_is_not_a_permutation() {
    for perm in [vec![0, 0, 1], vec![0, 1], vec![0, 1, 3]] {
        let op = Op::Permute { perm };
        assert!(op.shape(&[&[2, 3, 4]]).is_err(), "{op:?}");
    }
    let op = Op::Permute {
        perm: vec![2, 0, 1],
    };
    assert_eq!(op.shape(&[&[2, 3, 4]]).unwrap(), vec![4, 2, 3]);
}

#[test]
fn batch_matmul_with_every_transpose_batched_and_shared() {
    let t = |mut s: Vec<usize>, t: bool| {
        let r = s.len();
        if t {
            s.swap(r - 2, r - 1);
        }
        s
    };
    for (a, b) in [
        (vec![2, 3, 4], vec![2, 4, 5]),
        (vec![2, 2, 3, 4], vec![2, 2, 4, 2]),
        (vec![3, 2, 4], vec![4, 5]),
        (vec![2, 2, 3, 4], vec![4, 3]),
        (vec![1, 3, 4], vec![4, 2]),
    ] {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let (a, b) = (t(a.clone(), ta), t(b.clone(), tb));
            let label = format!("batch_matmul {a:?} x {b:?} ta={ta} tb={tb}");
            check_op(&label, Op::BatchMatMul { ta, tb }, &[(a, N), (b, N)]);
        }
    }
}

#[test]
fn batch_matmul_shape_errors() {
    let op = |ta, tb| Op::BatchMatMul { ta, tb };
    let bmm = op(false, false);
    assert_eq!(bmm.shape(&[&[2, 3, 4], &[2, 4, 5]]).unwrap(), vec![2, 3, 5]);
    assert_eq!(bmm.shape(&[&[2, 3, 4], &[4, 5]]).unwrap(), vec![2, 3, 5]);
    assert_eq!(
        op(true, true).shape(&[&[2, 4, 3], &[5, 4]]).unwrap(),
        vec![2, 3, 5]
    );
    for (a, b) in [
        (vec![2, 3, 4], vec![3, 4, 5]),
        (vec![2, 3, 4], vec![2, 5, 5]),
        (vec![2, 3, 4], vec![2, 2, 4, 5]),
        (vec![4], vec![4, 5]),
        (vec![2, 3, 4], vec![4]),
    ] {
        assert!(bmm.shape(&[&a, &b]).is_err(), "{a:?} x {b:?}");
    }
    assert!(bmm.shape(&[&[2, 3, 4]]).is_err());
}

#[test]
fn concat_slice_and_pad() {
    for (axis, parts) in [
        (0, vec![vec![2, 3], vec![1, 3], vec![3, 3]]),
        (1, vec![vec![2, 3, 2], vec![2, 1, 2]]),
        (2, vec![vec![2, 3, 1], vec![2, 3, 4]]),
        (0, vec![vec![4, 2]]),
    ] {
        let concat = Op::Concat {
            axis,
            parts: parts.len(),
        };
        let operands: Vec<(Shape, Gen)> = parts.iter().map(|s| (s.clone(), N)).collect();
        check_op(
            &format!("concat along {axis} of {parts:?}"),
            concat,
            &operands,
        );
    }
    for (shape, axis, start, len) in [
        (vec![4, 5], 1, 1, 3),
        (vec![4, 5], 0, 3, 1),
        (vec![2, 3, 4], 1, 0, 3),
        (vec![2, 3, 4], 2, 2, 2),
    ] {
        let label = format!("slice {shape:?} along {axis} at {start}, {len}");
        check_op(&label, Op::Slice { axis, start, len }, &[(shape, N)]);
    }
    for (shape, axis, before, after) in [(vec![3, 2], 1, 2, 1), (vec![2, 3, 4], 0, 1, 0)] {
        let pad = Op::Pad {
            axis,
            before,
            after,
        };
        check_op(&format!("pad {shape:?} along {axis}"), pad, &[(shape, N)]);
    }
}

#[test]
fn concat_slice_and_pad_shape_errors() {
    let concat = Op::Concat { axis: 1, parts: 2 };
    assert_eq!(concat.shape(&[&[2, 3], &[2, 4]]).unwrap(), vec![2, 7]);
    assert!(concat.shape(&[&[2, 3], &[3, 4]]).is_err());
    assert!(concat.shape(&[&[2, 3], &[2, 3, 1]]).is_err());
    assert!(concat.shape(&[&[2, 3]]).is_err());
    assert!(Op::Concat { axis: 2, parts: 1 }.shape(&[&[2, 3]]).is_err());
    assert!(Op::Concat { axis: 0, parts: 0 }.shape(&[]).is_err());
    let slice = |axis, start, len| Op::Slice { axis, start, len };
    assert_eq!(slice(1, 1, 2).shape(&[&[4, 3]]).unwrap(), vec![4, 2]);
    assert!(slice(1, 2, 2).shape(&[&[4, 3]]).is_err());
    assert!(slice(2, 0, 1).shape(&[&[4, 3]]).is_err());
    assert!(slice(0, usize::MAX, 2).shape(&[&[4, 3]]).is_err());
    let pad = Op::Pad {
        axis: 0,
        before: 1,
        after: 2,
    };
    assert_eq!(pad.shape(&[&[4, 3]]).unwrap(), vec![7, 3]);
    assert!(pad.shape(&[&[]]).is_err());
}

/// Split as slices: the pieces' values and, through the slices'
/// gradients, the gradient of a weighted sum of all pieces.
#[test]
fn split_is_slices() {
    let mut graph = Graph::new(GraphKind::Training, 1);
    let shape = vec![2, 7, 3];
    let x = graph
        .add(
            Op::Input {
                kind: InputKind::Param(0),
                shape: shape.clone(),
            },
            Vec::new(),
            "x",
        )
        .unwrap();
    assert!(nnc_ir::composite::split(&mut graph, x, 1, &[2, 4], "bad").is_err());
    assert!(nnc_ir::composite::split(&mut graph, x, 3, &[7], "bad").is_err());
    let pieces = nnc_ir::composite::split(&mut graph, x, 1, &[2, 4, 1], "piece").unwrap();
    let shapes: Vec<&[usize]> = pieces.iter().map(|&p| graph.shape(p)).collect();
    assert_eq!(shapes, [&[2, 2, 3][..], &[2, 4, 3], &[2, 1, 3]]);
    // y = concat(piece2, piece0 * piece0, piece1): every piece is used.
    let squared = graph
        .add(Op::Mul, vec![pieces[0], pieces[0]], "sq")
        .unwrap();
    let y = graph
        .add(
            Op::Concat { axis: 1, parts: 3 },
            vec![pieces[2], squared, pieces[1]],
            "y",
        )
        .unwrap();
    let r = graph
        .add(
            Op::Input {
                kind: InputKind::Param(1),
                shape: shape.clone(),
            },
            Vec::new(),
            "r",
        )
        .unwrap();
    let mut rng = Rng::new(5);
    let values = vec![
        (InputKind::Param(0), draw(N, &shape, &mut rng)),
        (InputKind::Param(1), draw(N, &shape, &mut rng)),
    ];
    let compared = check(objective(graph, y, r, &[x], &[true], values, 0), "split");
    assert_eq!(compared, 42);
}

/// Gathers and scatters with indices in and out of range; the indices'
/// gradient is zero (checked by finite differences too: rounding is flat).
#[test]
fn gather_and_scatter_add() {
    for (table, indices) in [
        (vec![5, 3], vec![7]),
        (vec![4, 2, 2], vec![2, 3]),
        (vec![1, 4], vec![3]),
    ] {
        let rows = table[0];
        let label = format!("gather {table:?} at {indices:?}");
        check_op(
            &label,
            Op::Gather,
            &[(table.clone(), N), (indices.clone(), Gen::Index(rows))],
        );
        let mut values = indices.clone();
        values.extend_from_slice(&table[1..]);
        let label = format!("scatter_add {values:?} into {rows}");
        check_op(
            &label,
            Op::ScatterAdd { rows },
            &[(indices, Gen::Index(rows)), (values, N)],
        );
    }
}

/// Out-of-range indices gather zeros and scatter nothing; indices round
/// to the nearest integer, halves to even.
#[test]
fn out_of_range_indices_read_zeros_and_write_nothing() {
    let mut graph = Graph::new(GraphKind::Inference, 1);
    let input = |graph: &mut Graph, k, shape: Vec<usize>| {
        let op = Op::Input {
            kind: InputKind::Param(k),
            shape,
        };
        graph.add(op, Vec::new(), format!("x{k}")).unwrap()
    };
    let table = input(&mut graph, 0, vec![3, 2]);
    let indices = input(&mut graph, 1, vec![7]);
    let gathered = graph.add(Op::Gather, vec![table, indices], "g").unwrap();
    let scattered = graph
        .add(Op::ScatterAdd { rows: 3 }, vec![indices, gathered], "s")
        .unwrap();
    graph.add_output("g", OutputKind::Prediction, gathered);
    graph.add_output("s", OutputKind::Cost, scattered);
    let mut interp = Interpreter::<f64>::new(graph).unwrap();
    interp
        .set_input(InputKind::Param(0), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .unwrap();
    let idx = [2.0, -1.0, 3.0, 0.4, 1.5, 2.5, f64::NAN];
    interp.set_input(InputKind::Param(1), &idx).unwrap();
    interp.run(0);
    let g: Vec<f64> = interp.output("g").unwrap().iter().copied().collect();
    let want = [
        5.0, 6.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 5.0, 6.0, 5.0, 6.0, 0.0, 0.0,
    ];
    assert_eq!(g, want);
    let s: Vec<f64> = interp.output("s").unwrap().iter().copied().collect();
    assert_eq!(s, [1.0, 2.0, 0.0, 0.0, 15.0, 18.0]);
    let scatter = Op::ScatterAdd { rows: 3 };
    assert!(scatter.shape(&[&[2, 3], &[3, 2, 4]]).is_err());
    assert_eq!(scatter.shape(&[&[2, 3], &[2, 3, 4]]).unwrap(), vec![3, 4]);
    assert!(Op::Gather.shape(&[&[], &[3]]).is_err());
}

/// Checks a cost op, differentiating the prediction only.
fn check_cost(cost: CostFn, prediction: Gen, target: Gen) {
    let s = vec![3, 4];
    let op = Op::Cost(cost);
    let problem = op_problem(
        op,
        &[(s.clone(), prediction), (s, target)],
        &[true, false],
        11,
    );
    check(problem, cost.name());
}

#[test]
fn every_cost() {
    let probability = Gen::Uniform(0.1, 0.9);
    check_cost(CostFn::Quadratic, N, N);
    check_cost(CostFn::CrossEntropy, probability, Gen::Uniform(0.0, 1.0));
    check_cost(
        CostFn::SigmoidCrossEntropy,
        Gen::Normal(3.0),
        Gen::Uniform(0.0, 1.0),
    );
    check_cost(CostFn::LogLikelihood, Gen::Uniform(0.1, 1.0), Gen::OneHot);
    check_cost(CostFn::SoftmaxLogLikelihood, Gen::Normal(2.0), Gen::OneHot);
    // The fused formula holds for any target, not only one-hot rows.
    check_cost(
        CostFn::SoftmaxLogLikelihood,
        Gen::Normal(2.0),
        Gen::Uniform(0.0, 1.0),
    );
}

#[test]
fn correct_count_has_zero_gradient() {
    let s = vec![4, 3];
    let op = Op::CorrectCount;
    let problem = op_problem(op, &[(s.clone(), N), (s, Gen::OneHot)], &[true, false], 5);
    check(problem, "correct_count");
}

/// `x * dropout_mask(seed)`, differentiated with respect to `x`.
fn dropout_problem(p: f64, seed: u64) -> Problem {
    let s = vec![4, 6];
    let mut graph = Graph::new(GraphKind::Training, 4);
    let x = graph
        .add(
            Op::Input {
                kind: InputKind::Param(0),
                shape: s.clone(),
            },
            Vec::new(),
            "x",
        )
        .unwrap();
    let step_seed = graph
        .add(
            Op::Input {
                kind: InputKind::StepSeed,
                shape: vec![],
            },
            Vec::new(),
            "seed",
        )
        .unwrap();
    let mask_op = Op::DropoutMask {
        p,
        stream: 0,
        shape: s.clone(),
    };
    let mask = graph.add(mask_op, vec![step_seed], "mask").unwrap();
    let y = graph.add(Op::Mul, vec![x, mask], "dropout").unwrap();
    let r = graph
        .add(
            Op::Input {
                kind: InputKind::Param(1),
                shape: s.clone(),
            },
            Vec::new(),
            "r",
        )
        .unwrap();
    let mut rng = Rng::new(9);
    let values = vec![
        (InputKind::Param(0), draw(N, &s, &mut rng)),
        (InputKind::Param(1), draw(N, &s, &mut rng)),
    ];
    objective(graph, y, r, &[x], &[true], values, seed)
}

#[test]
fn dropout() {
    check(dropout_problem(0.5, 42), "dropout");
}

#[test]
fn dropout_masks_are_inverted_seeded_and_about_p() {
    let mask_of = |seed: u64| -> Vec<f32> {
        let mut graph = Graph::new(GraphKind::Training, 100);
        let s = graph
            .add(
                Op::Input {
                    kind: InputKind::StepSeed,
                    shape: vec![],
                },
                Vec::new(),
                "seed",
            )
            .unwrap();
        let op = Op::DropoutMask {
            p: 0.25,
            stream: 3,
            shape: vec![100, 100],
        };
        let m = graph.add(op, vec![s], "mask").unwrap();
        graph.add_output("mask", OutputKind::Prediction, m);
        let mut interp = Interpreter::<f32>::new(graph).unwrap();
        interp.run(seed);
        interp.output("mask").unwrap().iter().copied().collect()
    };
    let a = mask_of(1);
    assert_eq!(a, mask_of(1), "the same seed gives the same mask");
    assert_ne!(a, mask_of(2), "another seed gives another mask");
    let kept = 1.0 / 0.75;
    assert!(a.iter().all(|&v| v == 0.0 || (v - kept).abs() < 1e-6));
    let dropped = a.iter().filter(|&&v| v == 0.0).count() as f64 / a.len() as f64;
    assert!((dropped - 0.25).abs() < 0.02, "dropped fraction {dropped}");
}
