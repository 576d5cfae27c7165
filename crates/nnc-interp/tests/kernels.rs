//! Forward values of the kernels on inputs small enough to compute by
//! hand. (The gradient checks compare each backward rule with its forward
//! kernel; these pin the forward kernels themselves.)

use nnc_interp::Interpreter;
use nnc_ir::window::{PoolKind, Rounding};
use nnc_ir::{CostFn, Graph, GraphKind, InputKind, Op, OutputKind, PoolGeometry};

/// Runs `op` on the given operands (shape and values) and returns the
/// result's values.
fn run(op: Op, operands: &[(Vec<usize>, Vec<f64>)]) -> Vec<f64> {
    let mut graph = Graph::new(GraphKind::Inference, 1);
    let ids: Vec<_> = operands
        .iter()
        .enumerate()
        .map(|(i, (shape, _))| {
            let op = Op::Input {
                kind: InputKind::Param(i),
                shape: shape.clone(),
            };
            graph.add(op, Vec::new(), format!("x{i}")).unwrap()
        })
        .collect();
    let y = graph.add(op, ids, "y").unwrap();
    graph.add_output("y", OutputKind::Prediction, y);
    let mut interp = Interpreter::<f64>::new(graph).unwrap();
    for (i, (_, values)) in operands.iter().enumerate() {
        interp.set_input(InputKind::Param(i), values).unwrap();
    }
    interp.run(0);
    interp.output("y").unwrap().iter().copied().collect()
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
}

fn ramp(n: usize) -> Vec<f64> {
    (0..n).map(|i| i as f64).collect()
}

#[test]
fn conv2d_values() {
    // x = 1..9 as 3x3, kernel [[1, 0], [0, -1]]: each output is
    // x[i][j] - x[i+1][j+1] = -4.
    let x = (vec![1, 1, 3, 3], (1..=9).map(f64::from).collect());
    let w = (vec![1, 1, 2, 2], vec![1.0, 0.0, 0.0, -1.0]);
    let valid = Op::Conv2d {
        stride: [1, 1],
        padding: [0; 4],
    };
    assert_eq!(run(valid, &[x.clone(), w.clone()]), vec![-4.0; 4]);
    // Padding 1 on every side, stride 2: windows at padded (0,0), (0,2),
    // (2,0), (2,2): -x[0][0], -x[0][2], -x[2][0], x[1][1] - x[2][2].
    let padded = Op::Conv2d {
        stride: [2, 2],
        padding: [1, 1, 1, 1],
    };
    assert_eq!(run(padded, &[x, w]), vec![-1.0, -3.0, -7.0, -4.0]);
}

#[test]
fn conv2d_sums_over_channels_per_filter() {
    // Two channels of ones, two 1x1 filters [1, 2] and [3, -1].
    let x = (vec![1, 2, 1, 2], vec![1.0; 4]);
    let w = (vec![2, 2, 1, 1], vec![1.0, 2.0, 3.0, -1.0]);
    let op = Op::Conv2d {
        stride: [1, 1],
        padding: [0; 4],
    };
    assert_eq!(run(op, &[x, w]), vec![3.0, 3.0, 2.0, 2.0]);
}

fn pool(kind: PoolKind, rounding: Rounding) -> Op {
    Op::Pool(PoolGeometry {
        kind,
        size: [2, 2],
        stride: [2, 2],
        padding: [0; 4],
        rounding,
    })
}

#[test]
fn pooling_values_with_ceil_rounding() {
    // 0..24 as 5x5; ceil gives 3x3 windows, the last ones clipped.
    let x = (vec![1, 1, 5, 5], ramp(25));
    let max = run(
        pool(PoolKind::Max, Rounding::Ceil),
        std::slice::from_ref(&x),
    );
    assert_eq!(max, vec![6.0, 8.0, 9.0, 16.0, 18.0, 19.0, 21.0, 23.0, 24.0]);
    let avg = run(
        pool(PoolKind::Average, Rounding::Ceil),
        std::slice::from_ref(&x),
    );
    // (0 + 1 + 5 + 6) / 4; the clipped column (4 + 9) / 2; the corner 24 / 1.
    assert_eq!(avg[0], 3.0);
    assert_eq!(avg[2], 6.5);
    assert_eq!(avg[8], 24.0);
    let l2 = run(pool(PoolKind::L2, Rounding::Ceil), std::slice::from_ref(&x));
    assert!(close(
        &[l2[0], l2[8]],
        &[(1.0f64 + 25.0 + 36.0).sqrt(), 24.0]
    ));
    let floor = run(pool(PoolKind::Max, Rounding::Floor), &[x]);
    assert_eq!(floor, vec![6.0, 8.0, 16.0, 18.0]);
}

#[test]
fn max_pooling_ignores_padding() {
    // All negative values, padding 1: a padding zero never wins.
    let x = (vec![1, 1, 2, 2], vec![-1.0, -2.0, -3.0, -4.0]);
    let op = Op::Pool(PoolGeometry {
        kind: PoolKind::Max,
        size: [2, 2],
        stride: [2, 2],
        padding: [1, 1, 1, 1],
        rounding: Rounding::Floor,
    });
    assert_eq!(run(op, &[x]), vec![-1.0, -2.0, -3.0, -4.0]);
}

#[test]
fn activations_are_stable_at_extremes() {
    let x = (vec![1, 4], vec![-1000.0, -1.0, 0.0, 1000.0]);
    let s = run(Op::Sigmoid, std::slice::from_ref(&x));
    assert!(close(&s, &[0.0, 1.0 / (1.0 + 1f64.exp()), 0.5, 1.0]));
    let soft = run(
        Op::Softmax,
        &[(vec![2, 2], vec![1000.0, 1000.0, 0.0, 2f64.ln()])],
    );
    assert!(close(&soft, &[0.5, 0.5, 1.0 / 3.0, 2.0 / 3.0]));
    assert_eq!(
        run(Op::Relu, std::slice::from_ref(&x)),
        vec![0.0, 0.0, 0.0, 1000.0]
    );
    assert_eq!(
        run(Op::Step, std::slice::from_ref(&x)),
        vec![0.0, 0.0, 0.0, 1.0]
    );
    assert_eq!(run(Op::Sign, &[x]), vec![-1.0, -1.0, 0.0, 1.0]);
}

#[test]
fn cost_values() {
    let ln2 = 2f64.ln();
    let quad = run(
        Op::Cost(CostFn::Quadratic),
        &[(vec![1, 2], vec![1.0, 2.0]), (vec![1, 2], vec![0.0, 4.0])],
    );
    assert_eq!(quad, vec![0.5 * (1.0 + 4.0)]);
    let ce = run(
        Op::Cost(CostFn::CrossEntropy),
        &[(vec![2, 1], vec![0.5, 0.25]), (vec![2, 1], vec![1.0, 0.0])],
    );
    assert!(close(&ce, &[ln2, -(0.75f64).ln()]));
    // Saturated outputs stay finite.
    let saturated = run(
        Op::Cost(CostFn::CrossEntropy),
        &[(vec![1, 2], vec![0.0, 1.0]), (vec![1, 2], vec![1.0, 0.0])],
    );
    assert!(saturated[0].is_finite() && saturated[0] > 10.0);
    let sce = run(
        Op::Cost(CostFn::SigmoidCrossEntropy),
        &[
            (vec![1, 2], vec![0.0, 1000.0]),
            (vec![1, 2], vec![1.0, 0.0]),
        ],
    );
    assert!(close(&sce, &[ln2 + 1000.0]));
    let ll = run(
        Op::Cost(CostFn::LogLikelihood),
        &[(vec![1, 2], vec![0.25, 0.75]), (vec![1, 2], vec![0.0, 1.0])],
    );
    assert!(close(&ll, &[-(0.75f64).ln()]));
    let sll = run(
        Op::Cost(CostFn::SoftmaxLogLikelihood),
        &[(vec![1, 2], vec![3.0, 3.0]), (vec![1, 2], vec![1.0, 0.0])],
    );
    assert!(close(&sll, &[ln2]));
}

#[test]
fn correct_count_values() {
    // Rows: right, wrong, right (ties go to the first maximum).
    let a = (
        vec![3, 3],
        vec![0.1, 0.7, 0.2, 0.5, 0.1, 0.4, 0.3, 0.3, 0.3],
    );
    let y = (
        vec![3, 3],
        vec![0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0],
    );
    assert_eq!(run(Op::CorrectCount, &[a, y]), vec![2.0]);
    // One output unit: the same side of one half.
    let a = (vec![3, 1], vec![0.9, 0.2, 0.6]);
    let y = (vec![3, 1], vec![1.0, 1.0, 0.0]);
    assert_eq!(run(Op::CorrectCount, &[a, y]), vec![1.0]);
}

#[test]
fn reductions_and_broadcasts() {
    let x = (vec![2, 3], ramp(6));
    assert_eq!(
        run(Op::SumAxes { axes: vec![0] }, std::slice::from_ref(&x)),
        vec![3.0, 5.0, 7.0]
    );
    assert_eq!(
        run(Op::SumAxes { axes: vec![1] }, std::slice::from_ref(&x)),
        vec![3.0, 12.0]
    );
    assert_eq!(
        run(Op::SumAxes { axes: vec![0, 1] }, std::slice::from_ref(&x)),
        vec![15.0]
    );
    let expand = Op::Expand {
        axes: vec![1],
        shape: vec![2, 3],
    };
    assert_eq!(
        run(expand, &[(vec![2], vec![1.0, 2.0])]),
        vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    );
    let images = (vec![1, 2, 1, 2], vec![0.0; 4]);
    let bias = (vec![2], vec![1.0, -1.0]);
    assert_eq!(
        run(Op::BiasAdd, &[images, bias]),
        vec![1.0, 1.0, -1.0, -1.0]
    );
    let mm = Op::MatMul {
        ta: false,
        tb: true,
    };
    let a = (vec![1, 2], vec![1.0, 2.0]);
    let b = (vec![2, 2], vec![3.0, 4.0, 5.0, 6.0]);
    assert_eq!(run(mm, &[a, b]), vec![11.0, 17.0]);
}

#[test]
fn pointwise_formulas_give_the_textbook_values() {
    let xs = vec![-3.0, -1.0, -0.25, 0.0, 0.5, 2.0];
    let x = || (vec![2, 3], xs.clone());
    let near = |a: &[f64], b: &[f64], tol: f64| {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < tol)
    };
    // gelu(x) = x Phi(x), with Phi from the exact erf.
    let gelu = [
        -0.004_049_694_094_890_31,
        -0.158_655_253_931_457_07,
        -0.100_323_418_579_269_07,
        0.0,
        0.345_731_230_637_006_56,
        1.954_499_736_103_641_6,
    ];
    let got = run(Op::Gelu(nnc_ir::GeluForm::Erf), &[x()]);
    assert!(near(&got, &gelu, 1e-14), "gelu {got:?}");
    let gelu_tanh = [
        -0.003_637_392_081_772_994_3,
        -0.158_808_009_391_723_24,
        -0.100_324_649_298_315,
        0.0,
        0.345_714_009_825_143_94,
        1.954_597_694_087_775,
    ];
    let got = run(Op::Gelu(nnc_ir::GeluForm::Tanh), &[x()]);
    assert!(near(&got, &gelu_tanh, 1e-14), "gelu_tanh {got:?}");
    let softplus: Vec<f64> = xs.iter().map(|v| (1.0 + v.exp()).ln()).collect();
    assert!(near(&run(Op::Softplus, &[x()]), &softplus, 1e-15));
    let silu: Vec<f64> = xs.iter().map(|v| v / (1.0 + (-v).exp())).collect();
    assert!(near(&run(Op::Silu, &[x()]), &silu, 1e-15));
    // Softplus stays exact where ln(1 + e^x) would overflow.
    let big = run(Op::Softplus, &[(vec![2], vec![1000.0, -1000.0])]);
    assert!(close(&big, &[1000.0, 0.0]));
    assert!(close(
        &run(Op::Abs, &[x()]),
        &xs.iter().map(|v: &f64| v.abs()).collect::<Vec<_>>()
    ));
    assert!(close(
        &run(Op::Pow(3.0), &[x()]),
        &xs.iter().map(|v| v * v * v).collect::<Vec<_>>()
    ));
    // A non-integer power is defined for positive values; 0 elsewhere.
    let pow = run(Op::Pow(1.5), &[x()]);
    assert!(near(
        &pow,
        &[0.0, 0.0, 0.0, 0.0, 0.5f64.powf(1.5), 2f64.powf(1.5)],
        1e-14
    ));
    let other = (vec![2, 3], vec![0.0; 6]);
    assert!(close(
        &run(Op::Maximum, &[x(), other.clone()]),
        &[0.0, 0.0, 0.0, 0.0, 0.5, 2.0]
    ));
    assert!(close(
        &run(Op::Minimum, &[x(), other.clone()]),
        &[-3.0, -1.0, -0.25, 0.0, 0.0, 0.0]
    ));
    let ge = Op::Compare(nnc_ir::scalar::Cmp::Ge);
    assert!(close(
        &run(ge, &[x(), other]),
        &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    ));
}

#[test]
fn broadcast_operands_follow_the_axes_of_the_op_table() {
    // A bias along the channels of [b, c, h, w]: every pixel of channel k
    // gets bias k.
    let x = (vec![2, 3, 1, 2], vec![0.0; 12]);
    let bias = (vec![3], vec![10.0, 20.0, 30.0]);
    let got = run(Op::BiasAdd, &[x, bias]);
    let want: Vec<f64> = (0..12).map(|i| [10.0, 20.0, 30.0][(i / 2) % 3]).collect();
    assert!(close(&got, &want));
    // An expand over axes 0 and 2 of [2, 3, 2]: the operand runs along
    // axis 1 (a block that is neither rows nor columns).
    let expand = Op::Expand {
        axes: vec![0, 2],
        shape: vec![2, 3, 2],
    };
    let got = run(expand, &[(vec![3], vec![1.0, 2.0, 3.0])]);
    assert!(close(
        &got,
        &[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    ));
    // An expand over the middle axis: the operand's axes 0 and 2 are not
    // one block, which only the interpreter reads.
    let middle = Op::Expand {
        axes: vec![1],
        shape: vec![2, 2, 2],
    };
    let got = run(middle, &[(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])]);
    assert!(close(&got, &[1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]));
}
