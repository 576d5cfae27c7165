//! Per-example kernels: ops that work on each example's row of values as a
//! whole (a cost summed over the output units, a softmax, an arg-max).
//! Rows are mostly short (the output units of a classifier), so most loops
//! are scalar; a cost over long rows (an autoencoder's pixels) sums four
//! units at a time. Each row is walked a few times, its values staying in
//! cache.
//! The formulas are the interpreter's (`nnc_interp` `kernels/cost.rs` and
//! `kernels/activation.rs`).

use nnc_ir::CostFn;
use nnc_jit::{Access, Affine, BufId, CmpOp, Expr, Kernel, LoopVar, Stmt, Ty, UnOp, VarId};

/// Cross-entropy keeps `a` in `[CLAMP, 1 - CLAMP]`.
const CLAMP: f32 = 1e-7;
/// Log-likelihood keeps `a` at or above `FLOOR`.
const FLOOR: f32 = 1e-30;

fn c(v: f32) -> Expr {
    Expr::Const(v)
}

fn var(v: VarId) -> Expr {
    Expr::Var(v)
}

fn set(v: VarId, value: Expr) -> Stmt {
    Stmt::Assign { var: v, value }
}

/// Element `[r, col]` of a `rows x n` buffer.
fn at(r: LoopVar, col: LoopVar, n: usize) -> Affine {
    Affine::var(r).times(n as i64).plus_term(col, 1)
}

fn load(buf: BufId, index: Affine) -> Expr {
    Expr::load(buf, index, Ty::F32)
}

fn log(x: Expr) -> Expr {
    Expr::unary(UnOp::Log, x)
}

/// `ln(1 + e)` for `e` in `[0, 1]`: the series `e - e^2/2 + e^3/3` below
/// `1e-3` (where `1 + e` would round away most of `e`), else `ln(1 + e)`;
/// lanes of type `ty`.
fn log_1p(e: Expr, ty: Ty) -> Expr {
    let k = |v: f32| Expr::constant(v, ty);
    let series = Expr::mul(
        e.clone(),
        Expr::sub(
            k(1.0),
            Expr::mul(e.clone(), Expr::sub(k(0.5), Expr::div(e.clone(), k(3.0)))),
        ),
    );
    Expr::select(
        CmpOp::Lt,
        e.clone(),
        k(1e-3),
        series,
        log(Expr::add(k(1.0), e)),
    )
}

/// The cost of one output unit (prediction `p`, target `t`), in lanes of
/// type `ty`; `lse` is the row's log-sum-exp (softmax log-likelihood).
fn cost_term(cost: CostFn, p: Expr, t: Expr, lse: Expr, ty: Ty) -> Expr {
    let k = |v: f32| Expr::constant(v, ty);
    match cost {
        CostFn::Quadratic => {
            let d = Expr::sub(p, t);
            Expr::mul(k(0.5), Expr::mul(d.clone(), d))
        }
        CostFn::CrossEntropy => {
            let p = Expr::min(Expr::max(p, k(CLAMP)), k(1.0 - CLAMP));
            let first = Expr::mul(t.clone(), log(p.clone()));
            let second = Expr::mul(Expr::sub(k(1.0), t), log(Expr::sub(k(1.0), p)));
            Expr::unary(UnOp::Neg, Expr::add(first, second))
        }
        CostFn::SigmoidCrossEntropy => {
            // max(z, 0) - y z + ln(1 + e^-|z|), no overflow.
            let e = Expr::unary(
                UnOp::Exp,
                Expr::unary(UnOp::Neg, Expr::unary(UnOp::Abs, p.clone())),
            );
            Expr::add(
                Expr::sub(Expr::max(p.clone(), k(0.0)), Expr::mul(t, p)),
                log_1p(e, ty),
            )
        }
        CostFn::LogLikelihood => Expr::unary(UnOp::Neg, Expr::mul(t, log(Expr::max(p, k(FLOOR))))),
        CostFn::SoftmaxLogLikelihood => Expr::mul(t, Expr::sub(lse, p)),
    }
}

/// Rows at least this long sum their cost four units at a time.
const VECTOR_ROW: usize = 8;

/// Statements that leave the largest value of row `r` of `x` in `max`.
fn row_max(k: &mut Kernel, x: BufId, r: LoopVar, n: usize, max: VarId) -> Vec<Stmt> {
    vec![
        set(max, c(f32::MIN)),
        k.for_loop(0, n, 1, 4, |_, col| {
            vec![set(max, Expr::max(var(max), load(x, at(r, col, n))))]
        }),
    ]
}

/// `out[r] = cost of example r` for predictions `a` and targets `y` of
/// `rows x n` values. Buffers: `a`, `y` (read), `out` (written).
pub(crate) fn cost(name: &str, cost: CostFn, rows: usize, n: usize) -> Kernel {
    let mut k = Kernel::new(name);
    let a = k.buffer("a", rows * n, Access::Read);
    let y = k.buffer("y", rows * n, Access::Read);
    let out = k.buffer("out", rows, Access::Write);
    let sum = k.var(Ty::F32);
    let acc = k.var(Ty::F32x4);
    let max = k.var(Ty::F32);
    let lse = k.var(Ty::F32);
    let body = k.for_loop(0, rows, 1, 1, |k, r| {
        let mut stmts = Vec::new();
        if cost == CostFn::SoftmaxLogLikelihood {
            // lse = max + ln(sum(e^(z - max))).
            stmts.extend(row_max(k, a, r, n, max));
            stmts.push(set(lse, c(0.0)));
            stmts.push(k.for_loop(0, n, 1, 4, |_, col| {
                let e = Expr::unary(UnOp::Exp, Expr::sub(load(a, at(r, col, n)), var(max)));
                vec![set(lse, Expr::add(var(lse), e))]
            }));
            stmts.push(set(lse, Expr::add(var(max), log(var(lse)))));
        }
        // Long rows (an autoencoder's 784 pixels): four units at a time
        // into a vector accumulator, summed across its lanes, then the
        // last `n mod 4` units one at a time. Short rows: one at a time.
        let vector_end = if n >= VECTOR_ROW { n / 4 * 4 } else { 0 };
        if vector_end > 0 {
            stmts.push(set(acc, Expr::constant(0.0, Ty::F32x4)));
            stmts.push(k.for_loop(0, vector_end, 4, 2, |_, col| {
                let p = Expr::load(a, at(r, col, n), Ty::F32x4);
                let t = Expr::load(y, at(r, col, n), Ty::F32x4);
                let lse = Expr::Splat(Box::new(var(lse)));
                let term = cost_term(cost, p, t, lse, Ty::F32x4);
                vec![set(acc, Expr::add(var(acc), term))]
            }));
            stmts.push(set(sum, Expr::ReduceSum(Box::new(var(acc)))));
        } else {
            stmts.push(set(sum, c(0.0)));
        }
        stmts.push(k.for_loop(vector_end, n, 1, 4, |_, col| {
            let p = load(a, at(r, col, n));
            let t = load(y, at(r, col, n));
            let term = cost_term(cost, p, t, var(lse), Ty::F32);
            vec![set(sum, Expr::add(var(sum), term))]
        }));
        stmts.push(Stmt::Store {
            buf: out,
            index: Affine::var(r),
            value: var(sum),
        });
        stmts
    });
    k.body.push(body);
    k
}

/// Statements that store the softmax of row `r` of `x` into `out` and
/// leave nothing else changed but the variables `max` and `sum`.
fn softmax_row(
    k: &mut Kernel,
    x: BufId,
    out: BufId,
    r: LoopVar,
    n: usize,
    (max, sum): (VarId, VarId),
) -> Vec<Stmt> {
    let mut stmts = row_max(k, x, r, n, max);
    stmts.push(set(sum, c(0.0)));
    stmts.push(k.for_loop(0, n, 1, 4, |_, col| {
        let e = Expr::unary(UnOp::Exp, Expr::sub(load(x, at(r, col, n)), var(max)));
        vec![
            Stmt::Store {
                buf: out,
                index: at(r, col, n),
                value: e,
            },
            set(sum, Expr::add(var(sum), load(out, at(r, col, n)))),
        ]
    }));
    stmts.push(k.for_loop(0, n, 1, 4, |_, col| {
        vec![Stmt::Store {
            buf: out,
            index: at(r, col, n),
            value: Expr::div(load(out, at(r, col, n)), var(sum)),
        }]
    }));
    stmts
}

/// `out = softmax(x)` of each row of `rows x n` values. Buffers: `x`
/// (read), `out` (written).
pub(crate) fn softmax(name: &str, rows: usize, n: usize) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", rows * n, Access::Read);
    let out = k.buffer("out", rows * n, Access::Write);
    let vars = (k.var(Ty::F32), k.var(Ty::F32));
    let body = k.for_loop(0, rows, 1, 1, |k, r| softmax_row(k, x, out, r, n, vars));
    k.body.push(body);
    k
}

/// The gradient of the softmax log-likelihood from `z`, scaled by `dy`:
/// `out[r, c] = (sum(y[r]) softmax(z[r])[c] - y[r, c]) dy[r]`. Buffers:
/// `z`, `y`, `dy` (read), `out` (written).
pub(crate) fn softmax_log_likelihood_grad(name: &str, rows: usize, n: usize) -> Kernel {
    let mut k = Kernel::new(name);
    let z = k.buffer("z", rows * n, Access::Read);
    let y = k.buffer("y", rows * n, Access::Read);
    let dy = k.buffer("dy", rows, Access::Read);
    let out = k.buffer("out", rows * n, Access::Write);
    let vars = (k.var(Ty::F32), k.var(Ty::F32));
    let total = k.var(Ty::F32);
    let body = k.for_loop(0, rows, 1, 1, |k, r| {
        let mut stmts = softmax_row(k, z, out, r, n, vars);
        stmts.push(set(total, c(0.0)));
        stmts.push(k.for_loop(0, n, 1, 4, |_, col| {
            vec![set(total, Expr::add(var(total), load(y, at(r, col, n))))]
        }));
        stmts.push(k.for_loop(0, n, 1, 4, |_, col| {
            let g = Expr::sub(
                Expr::mul(var(total), load(out, at(r, col, n))),
                load(y, at(r, col, n)),
            );
            vec![Stmt::Store {
                buf: out,
                index: at(r, col, n),
                value: Expr::mul(g, load(dy, Affine::var(r))),
            }]
        }));
        stmts
    });
    k.body.push(body);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interpreter's per-example cost, in `f64`.
    fn reference(cost: CostFn, a: &[f32], y: &[f32]) -> f64 {
        let pairs = a.iter().zip(y).map(|(&a, &y)| (a as f64, y as f64));
        match cost {
            CostFn::Quadratic => pairs.map(|(a, y)| 0.5 * (a - y) * (a - y)).sum(),
            CostFn::CrossEntropy => pairs
                .map(|(a, y)| {
                    let a = a.clamp(1e-7, 1.0 - 1e-7);
                    -(y * a.ln() + (1.0 - y) * (1.0 - a).ln())
                })
                .sum(),
            CostFn::SigmoidCrossEntropy => pairs
                .map(|(z, y)| z.max(0.0) - y * z + (-z.abs()).exp().ln_1p())
                .sum(),
            CostFn::LogLikelihood => pairs.map(|(a, y)| -y * a.max(1e-30).ln()).sum(),
            CostFn::SoftmaxLogLikelihood => {
                let max = a.iter().fold(f64::MIN, |m, &z| m.max(z as f64));
                let lse = max + a.iter().map(|&z| (z as f64 - max).exp()).sum::<f64>().ln();
                pairs.map(|(z, y)| y * (lse - z)).sum()
            }
        }
    }

    /// Every cost on rows of modest values and on rows of confident
    /// predictions (costs near zero, where `ln(1 + e)` needs its series).
    #[test]
    fn costs_match_the_interpreters_formulas() {
        let (rows, n) = (6, 5);
        let mut y = vec![0.0f32; rows * n];
        for r in 0..rows {
            y[r * n + r % n] = 1.0;
        }
        let modest: Vec<f32> = (0..rows * n)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 6.0)
            .collect();
        // z = +-30 on the right side: sigmoid cross-entropy about 1e-13.
        let confident: Vec<f32> = y
            .iter()
            .map(|&t| if t > 0.5 { 30.0 } else { -30.0 })
            .collect();
        let probabilities: Vec<f32> = modest.iter().map(|v| 0.5 + 0.4 * v.tanh()).collect();
        for cost in [
            CostFn::Quadratic,
            CostFn::CrossEntropy,
            CostFn::SigmoidCrossEntropy,
            CostFn::LogLikelihood,
            CostFn::SoftmaxLogLikelihood,
        ] {
            let inputs: &[&[f32]] = match cost {
                CostFn::CrossEntropy | CostFn::LogLikelihood => &[&probabilities],
                _ => &[&modest, &confident],
            };
            let kernel = nnc_jit::compile(&super::cost("cost", cost, rows, n)).unwrap();
            for a in inputs {
                let mut out = vec![0.0; rows];
                kernel.call(&[a, &y], &mut [&mut out]).unwrap();
                for r in 0..rows {
                    let want = reference(cost, &a[r * n..][..n], &y[r * n..][..n]);
                    let got = out[r] as f64;
                    assert!(
                        (got - want).abs() <= 1e-5 * want.abs(),
                        "{cost:?} row {r}: got {got}, want {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn softmax_and_its_log_likelihood_gradient_match_plain_rust() {
        let (rows, n) = (3, 7);
        let z: Vec<f32> = (0..rows * n)
            .map(|i| (i as f32 * 0.37).sin() * 4.0)
            .collect();
        let mut y = vec![0.0f32; rows * n];
        y[2] = 1.0;
        y[n + 6] = 0.5;
        y[n + 1] = 0.5;
        let dy = [0.5f32, -1.0, 2.0];
        let mut soft = vec![0.0; rows * n];
        nnc_jit::compile(&softmax("s", rows, n))
            .unwrap()
            .call(&[&z], &mut [&mut soft])
            .unwrap();
        let mut grad = vec![0.0; rows * n];
        nnc_jit::compile(&softmax_log_likelihood_grad("g", rows, n))
            .unwrap()
            .call(&[&z, &y, &dy], &mut [&mut grad])
            .unwrap();
        for r in 0..rows {
            let row = &z[r * n..][..n];
            let max = row.iter().fold(f64::MIN, |m, &v| m.max(v as f64));
            let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
            let total: f64 = y[r * n..][..n].iter().map(|&v| v as f64).sum();
            for c in 0..n {
                let p = (row[c] as f64 - max).exp() / sum;
                let g = (total * p - y[r * n + c] as f64) * dy[r] as f64;
                assert!(
                    (soft[r * n + c] as f64 - p).abs() <= 1e-6,
                    "softmax [{r}, {c}]"
                );
                assert!(
                    (grad[r * n + c] as f64 - g).abs() <= 1e-6,
                    "gradient [{r}, {c}]"
                );
            }
        }
    }
}
