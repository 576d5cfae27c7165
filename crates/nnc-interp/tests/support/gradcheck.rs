//! Finite-difference gradient checks, in `f64`.
//!
//! The analytic gradient (the IR's autodiff, run by the interpreter) is
//! compared with central differences `(f(x + h) - f(x - h)) / 2h`, `h =
//! 1e-6`. In `f64` the difference's own error is about `h^2 f''' + eps f / h`,
//! below 1e-9 for the values used here, so the tolerance is
//! `|analytic - numeric| <= TOLERANCE * (1 + max(|analytic|, |numeric|))`
//! with `TOLERANCE = 1e-6`: tight enough that any wrong rule fails.
#![allow(dead_code)]

use nnc_interp::Interpreter;
use nnc_ir::{Graph, InputKind, NodeId, OutputKind};

pub const STEP: f64 = 1e-6;
pub const TOLERANCE: f64 = 1e-6;

/// A graph whose `Cost` output is a scalar function of some inputs, with
/// `Gradient(k)` outputs for the ones to check, and values for every input.
pub struct Problem {
    pub graph: Graph,
    /// `(input, values)` for every input the graph reads.
    pub values: Vec<(InputKind, Vec<f64>)>,
    /// The inputs differentiated, in `Gradient(k)` order.
    pub wrt: Vec<InputKind>,
    pub seed: u64,
}

/// Runs `problem` once and returns the `Cost` output and the interpreter.
fn evaluate(interp: &mut Interpreter<f64>, values: &[(InputKind, Vec<f64>)], seed: u64) -> f64 {
    for (kind, v) in values {
        interp.set_input(*kind, v).unwrap();
    }
    interp.run(seed);
    interp
        .output_of(OutputKind::Cost)
        .unwrap()
        .iter()
        .copied()
        .sum()
}

/// Checks every `Gradient(k)` output against finite differences; returns
/// how many values were compared.
pub fn check(problem: Problem, label: &str) -> usize {
    let mut interp = Interpreter::<f64>::new(problem.graph).unwrap();
    let mut values = problem.values;
    evaluate(&mut interp, &values, problem.seed);
    // The gradient of parameter `k` is output `Gradient(k)`; of the k-th
    // other input, `Gradient(k)` too.
    let analytic: Vec<Vec<f64>> = (0..problem.wrt.len())
        .map(|k| {
            let k = match problem.wrt[k] {
                InputKind::Param(p) => p,
                _ => k,
            };
            interp
                .output_of(OutputKind::Gradient(k))
                .unwrap_or_else(|| panic!("{label}: no gradient output {k}"))
                .iter()
                .copied()
                .collect()
        })
        .collect();
    let mut compared = 0;
    for (k, kind) in problem.wrt.iter().enumerate() {
        let slot = values.iter().position(|(i, _)| i == kind).unwrap();
        for (j, &a) in analytic[k].iter().enumerate() {
            let x = values[slot].1[j];
            values[slot].1[j] = x + STEP;
            let plus = evaluate(&mut interp, &values, problem.seed);
            values[slot].1[j] = x - STEP;
            let minus = evaluate(&mut interp, &values, problem.seed);
            values[slot].1[j] = x;
            let numeric = (plus - minus) / (2.0 * STEP);
            let scale = 1.0 + a.abs().max(numeric.abs());
            assert!(
                (a - numeric).abs() <= TOLERANCE * scale,
                "{label}: d/d{kind}[{j}]: autodiff {a}, finite differences {numeric}"
            );
            compared += 1;
        }
    }
    compared
}

/// The input node of `kind` in `graph`.
pub fn input(graph: &Graph, kind: InputKind) -> NodeId {
    graph.input(kind).unwrap()
}
