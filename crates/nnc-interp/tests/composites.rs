//! Softmax and log-softmax along any axis, built from primitives
//! (`nnc_ir::composite`): their values against a direct computation and
//! their gradients against central differences in `f64`.

mod support;

use nnc_interp::Interpreter;
use nnc_ir::passes::autodiff::gradients;
use nnc_ir::rng::Rng;
use nnc_ir::{Graph, GraphKind, InputKind, NodeId, Op, OutputKind};
use support::gradcheck::{check, Problem};

type Build = fn(&mut Graph, NodeId, usize, &str) -> Result<NodeId, nnc_ir::CompileError>;

fn graph_of(build: Build, shape: &[usize], axis: usize) -> (Graph, NodeId, NodeId) {
    let mut graph = Graph::new(GraphKind::Training, shape[0]);
    let x = graph
        .add(
            Op::Input {
                kind: InputKind::Param(0),
                shape: shape.to_vec(),
            },
            Vec::new(),
            "x",
        )
        .unwrap();
    let y = build(&mut graph, x, axis, "y").unwrap();
    (graph, x, y)
}

fn draw(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| 3.0 * rng.normal()).collect()
}

/// `softmax` along `axis` of `x` (row-major `shape`), directly.
fn direct_softmax(x: &[f64], shape: &[usize], axis: usize) -> Vec<f64> {
    let inner: usize = shape[axis + 1..].iter().product();
    let n = shape[axis];
    let mut out = vec![0.0; x.len()];
    for i in 0..x.len() {
        let base = i - ((i / inner) % n) * inner;
        let top = (0..n).map(|k| x[base + k * inner]).fold(f64::MIN, f64::max);
        let sum: f64 = (0..n).map(|k| (x[base + k * inner] - top).exp()).sum();
        out[i] = (x[i] - top).exp() / sum;
    }
    out
}

#[test]
fn softmax_and_log_softmax_along_any_axis_give_the_textbook_values() {
    for (shape, axis) in [
        (vec![3, 5], 1),
        (vec![2, 3, 4], 1),
        (vec![2, 3, 4], 2),
        (vec![4, 3], 0),
    ] {
        let n: usize = shape.iter().product();
        let x = draw(n, 7);
        let want = direct_softmax(&x, &shape, axis);
        let builds: [(Build, bool); 2] = [
            (nnc_ir::composite::softmax, false),
            (nnc_ir::composite::log_softmax, true),
        ];
        for (build, log) in builds {
            let (mut graph, _, y) = graph_of(build, &shape, axis);
            graph.add_output("y", OutputKind::Prediction, y);
            let mut interp = Interpreter::<f64>::new(graph).unwrap();
            interp.set_input(InputKind::Param(0), &x).unwrap();
            interp.run(0);
            let got: Vec<f64> = interp.output("y").unwrap().iter().copied().collect();
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let w = if log { w.ln() } else { w };
                assert!(
                    (g - w).abs() < 1e-12,
                    "{shape:?} axis {axis} log {log}: {i}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn softmax_and_log_softmax_along_any_axis_have_the_right_gradients() {
    for (shape, axis) in [
        (vec![3, 5], 1),
        (vec![2, 3, 4], 1),
        (vec![4, 3], 0),
        (vec![1, 6], 1),
    ] {
        let builds: [(Build, &str); 2] = [
            (nnc_ir::composite::softmax, "softmax"),
            (nnc_ir::composite::log_softmax, "log_softmax"),
        ];
        for (build, label) in builds {
            let (mut graph, x, y) = graph_of(build, &shape, axis);
            let n: usize = shape.iter().product();
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
            let product = graph.add(Op::Mul, vec![y, r], "y*r").unwrap();
            let axes = (0..shape.len()).collect();
            let objective = graph
                .add(Op::SumAxes { axes }, vec![product], "objective")
                .unwrap();
            graph.add_output("objective", OutputKind::Cost, objective);
            let grads = gradients(&mut graph, objective, &[x]).unwrap();
            graph.add_output("grad0", OutputKind::Gradient(0), grads[0]);
            let problem = Problem {
                graph,
                values: vec![
                    (InputKind::Param(0), draw(n, 3)),
                    (InputKind::Param(1), draw(n, 4)),
                ],
                wrt: vec![InputKind::Param(0)],
                seed: 0,
            };
            let compared = check(problem, &format!("{label} {shape:?} axis {axis}"));
            assert_eq!(compared, n);
        }
    }
}
