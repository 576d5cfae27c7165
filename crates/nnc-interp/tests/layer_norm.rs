//! Layer normalisation as a composite of IR primitives
//! (`nnc_ir::composite::layer_norm`, no op of its own):
//! `y = (x - mean) / sqrt(var + eps) * gain + shift` over each example's
//! features, with `mean`, `var` from sums along the feature axis, the
//! broadcasts as `expand`, and `1 / sqrt` as `pow(-0.5)`. Its gradient
//! comes from the primitives' rules; the check compares it with central
//! differences in `f64` for the input, the gain and the shift, and the
//! forward values with a direct computation.

mod support;

use nnc_interp::Interpreter;
use nnc_ir::passes::autodiff::gradients;
use nnc_ir::rng::Rng;
use nnc_ir::{Graph, GraphKind, InputKind, NodeId, Op, OutputKind};
use support::gradcheck::{check, Problem};

const EPS: f64 = 1e-5;

fn input(graph: &mut Graph, k: usize, shape: &[usize], name: &str) -> NodeId {
    let op = Op::Input {
        kind: InputKind::Param(k),
        shape: shape.to_vec(),
    };
    graph.add(op, Vec::new(), name).unwrap()
}

fn layer_norm(graph: &mut Graph, x: NodeId, gain: NodeId, shift: NodeId) -> NodeId {
    nnc_ir::composite::layer_norm(graph, x, gain, shift, EPS, "ln").unwrap()
}

struct Built {
    graph: Graph,
    values: Vec<(InputKind, Vec<f64>)>,
    y: NodeId,
}

fn build(b: usize, n: usize, seed: u64) -> Built {
    let mut rng = Rng::new(seed);
    let mut graph = Graph::new(GraphKind::Training, b);
    let x = input(&mut graph, 0, &[b, n], "x");
    let gain = input(&mut graph, 1, &[n], "gain");
    let shift = input(&mut graph, 2, &[n], "shift");
    let y = layer_norm(&mut graph, x, gain, shift);
    let draw = |count: usize, scale: f64, offset: f64, rng: &mut Rng| -> Vec<f64> {
        (0..count).map(|_| offset + scale * rng.normal()).collect()
    };
    let values = vec![
        (InputKind::Param(0), draw(b * n, 2.0, 0.7, &mut rng)),
        (InputKind::Param(1), draw(n, 0.5, 1.0, &mut rng)),
        (InputKind::Param(2), draw(n, 0.5, 0.0, &mut rng)),
    ];
    Built { graph, values, y }
}

#[test]
fn layer_norm_from_primitives_normalises_each_example() {
    let Built {
        mut graph,
        values,
        y,
    } = build(3, 7, 1);
    graph.add_output("y", OutputKind::Prediction, y);
    let mut interp = Interpreter::<f64>::new(graph).unwrap();
    for (kind, v) in &values {
        interp.set_input(*kind, v).unwrap();
    }
    interp.run(0);
    let got: Vec<f64> = interp.output("y").unwrap().iter().copied().collect();
    let (x, gain, shift) = (&values[0].1, &values[1].1, &values[2].1);
    for row in 0..3 {
        let xs = &x[row * 7..row * 7 + 7];
        let mean = xs.iter().sum::<f64>() / 7.0;
        let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 7.0;
        for j in 0..7 {
            let want = (xs[j] - mean) / (var + EPS).sqrt() * gain[j] + shift[j];
            let value = got[row * 7 + j];
            assert!(
                (value - want).abs() < 1e-12,
                "row {row}, {j}: {value} vs {want}"
            );
        }
    }
}

#[test]
fn layer_norm_from_primitives_has_the_right_gradient() {
    for (b, n, seed) in [(3, 7, 2), (1, 5, 3), (4, 16, 4)] {
        let Built {
            mut graph,
            values,
            y,
        } = build(b, n, seed);
        let mut rng = Rng::new(seed + 100);
        let r = input(&mut graph, 3, &[b, n], "r");
        let weights: Vec<f64> = (0..b * n).map(|_| rng.normal()).collect();
        let product = graph.add(Op::Mul, vec![y, r], "y*r").unwrap();
        let objective = graph
            .add(Op::SumAxes { axes: vec![0, 1] }, vec![product], "objective")
            .unwrap();
        graph.add_output("objective", OutputKind::Cost, objective);
        let wrt: Vec<NodeId> = (0..3).map(NodeId::new).collect();
        let grads = gradients(&mut graph, objective, &wrt).unwrap();
        for (k, g) in grads.into_iter().enumerate() {
            graph.add_output(format!("grad{k}"), OutputKind::Gradient(k), g);
        }
        nnc_ir::verify(&graph).unwrap();
        let mut values = values;
        values.push((InputKind::Param(3), weights));
        let problem = Problem {
            graph,
            values,
            wrt: (0..3).map(InputKind::Param).collect(),
            seed: 0,
        };
        let compared = check(problem, &format!("layer norm [{b}, {n}]"));
        assert_eq!(compared, b * n + 2 * n);
    }
}
