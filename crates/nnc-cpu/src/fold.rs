//! Folding a plain gradient-descent update into the matrix product that
//! computes its gradient: `W = alpha * W + beta * op(A) op(B)`.
//!
//! A weight gradient of a dense layer is a large product (`1024 x 64 x
//! 1024` on W2) that nothing but the parameter's update reads. When the
//! update is *affine* in the parameter and the gradient, with
//! coefficients that depend only on the learning rate (plain SGD:
//! `w - eta g`; with the book's L2 decay: `(1 - eta lambda / n) w - eta
//! g`), the product can write the new parameter directly, in place:
//! the gradient is never stored, the update's separate pass over the
//! weights disappears, and the new values need not be copied out of the
//! arena after the step.
//!
//! [`find`] looks for such pairs and proves the conditions that make the
//! fold exact and safe:
//! - the update kernel yields only the new parameter, and its body is
//!   affine as above (checked symbolically: every value is a polynomial in
//!   the learning rate, or such polynomials times `w` and `g`);
//! - the gradient kernel is a bare product (no epilogue) large enough to
//!   go to a library-class product, and the update is its only reader;
//! - nothing after the gradient kernel but the update reads the old
//!   parameter, so writing it in place where the gradient was computed
//!   changes no other value.
//!
//! Momentum, Nesterov, Adam and L1 keep their update kernels (their state
//! or `sgn(w)` is not affine in this sense).

use nnc_ir::fused::{Arg, FusedKernel, KernelKind};
use nnc_ir::{Graph, InputKind, NodeId, Op, OutputKind};
use std::collections::HashMap;

/// A polynomial in the learning rate: `c[0] + c[1] eta + c[2] eta^2 ...`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Poly(Vec<f64>);

impl Poly {
    fn constant(c: f64) -> Self {
        Poly(vec![c])
    }

    fn rate() -> Self {
        Poly(vec![0.0, 1.0])
    }

    fn zero() -> Self {
        Poly(Vec::new())
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|&c| c == 0.0)
    }

    fn add(&self, other: &Poly) -> Poly {
        let len = self.0.len().max(other.0.len());
        Poly(
            (0..len)
                .map(|i| self.0.get(i).unwrap_or(&0.0) + other.0.get(i).unwrap_or(&0.0))
                .collect(),
        )
    }

    fn scale(&self, f: f64) -> Poly {
        Poly(self.0.iter().map(|c| c * f).collect())
    }

    fn mul(&self, other: &Poly) -> Poly {
        if self.0.is_empty() || other.0.is_empty() {
            return Poly::zero();
        }
        let mut out = vec![0.0; self.0.len() + other.0.len() - 1];
        for (i, a) in self.0.iter().enumerate() {
            for (j, b) in other.0.iter().enumerate() {
                out[i + j] += a * b;
            }
        }
        Poly(out)
    }

    /// The value at learning rate `eta`, computed in f64 and rounded once.
    pub(crate) fn eval(&self, eta: f32) -> f32 {
        self.0
            .iter()
            .rev()
            .fold(0.0f64, |acc, c| acc * eta as f64 + c) as f32
    }
}

/// A value of an update body: a scalar polynomial in the learning rate,
/// or `w * W + g * G + c` elementwise.
#[derive(Clone, Debug)]
enum Sym {
    Scalar(Poly),
    Tensor { w: Poly, g: Poly, c: Poly },
}

impl Sym {
    fn add(&self, other: &Sym, sign: f64) -> Option<Sym> {
        match (self, other) {
            (Sym::Scalar(a), Sym::Scalar(b)) => Some(Sym::Scalar(a.add(&b.scale(sign)))),
            (
                Sym::Tensor { w, g, c },
                Sym::Tensor {
                    w: w2,
                    g: g2,
                    c: c2,
                },
            ) => Some(Sym::Tensor {
                w: w.add(&w2.scale(sign)),
                g: g.add(&g2.scale(sign)),
                c: c.add(&c2.scale(sign)),
            }),
            _ => None,
        }
    }

    fn times(&self, p: &Poly) -> Sym {
        match self {
            Sym::Scalar(a) => Sym::Scalar(a.mul(p)),
            Sym::Tensor { w, g, c } => Sym::Tensor {
                w: w.mul(p),
                g: g.mul(p),
                c: c.mul(p),
            },
        }
    }
}

/// One fold: the update `update` of the parameter read by node `param`
/// becomes `param = alpha(eta) * param + beta(eta) * op(A) op(B)`, computed
/// where the gradient kernel `grad` stood.
#[derive(Clone, Debug)]
pub(crate) struct Fold {
    pub update: NodeId,
    pub param: NodeId,
    pub learning_rate: NodeId,
    pub alpha: Poly,
    pub beta: Poly,
}

/// The folds of `graph`, by gradient kernel node. `large(m, k, n)` says
/// whether a product of that shape is computed by a library-class
/// product (only those are folded).
pub(crate) fn find(
    graph: &Graph,
    large: impl Fn(usize, usize, usize) -> bool,
) -> HashMap<NodeId, Fold> {
    let mut readers: Vec<Vec<NodeId>> = vec![Vec::new(); graph.len()];
    for id in graph.ids() {
        for input in &graph.node(id).inputs {
            if let Some(r) = readers.get_mut(input.index()) {
                r.push(id);
            }
        }
    }
    let mut folds = HashMap::new();
    for id in graph.ids() {
        if let Some((grad, fold)) = fold_at(graph, id, &readers, &large) {
            folds.insert(grad, fold);
        }
    }
    folds
}

fn fold_at(
    graph: &Graph,
    update: NodeId,
    readers: &[Vec<NodeId>],
    large: &impl Fn(usize, usize, usize) -> bool,
) -> Option<(NodeId, Fold)> {
    let node = graph.node(update);
    let Op::Fused(kernel) = &node.op else {
        return None;
    };
    if kernel.kind != KernelKind::Update || kernel.outputs.len() != 1 {
        return None;
    }
    // The roles of the update's inputs.
    let mut param = None;
    let mut rate = None;
    let mut grad = None;
    for &input in &node.inputs {
        match graph.node(input).op {
            Op::Input {
                kind: InputKind::Param(k),
                ..
            } => {
                let new = graph.output_of(OutputKind::NewParam(k))?;
                if new.node != update || param.replace((input, k)).is_some() {
                    return None;
                }
            }
            Op::Input {
                kind: InputKind::LearningRate,
                ..
            } => rate = Some(input),
            Op::Fused(_) if grad.replace(input).is_some() => return None,
            Op::Fused(_) => {}
            _ => return None,
        }
    }
    let ((param, _), rate, grad) = (param?, rate?, grad?);
    let (alpha, beta) = affine(kernel, &node.inputs, param, grad, rate)?;
    // The gradient kernel: a bare, large product read only by the update.
    let g = graph.node(grad);
    let Op::Fused(gk) = &g.op else {
        return None;
    };
    let [op] = gk.body.as_slice() else {
        return None;
    };
    let Op::MatMul { ta, tb } = op.op else {
        return None;
    };
    if gk.outputs != [0] || op.args != [Arg::Input(0), Arg::Input(1)] {
        return None;
    }
    let (&[a0, a1], &[b0, b1]) = (
        graph.shape(*g.inputs.first()?),
        graph.shape(*g.inputs.get(1)?),
    ) else {
        return None;
    };
    let (m, k) = if ta { (a1, a0) } else { (a0, a1) };
    let n = if tb { b0 } else { b1 };
    if !large(m, k, n) || readers.get(grad.index())?.as_slice() != [update] {
        return None;
    }
    // Nothing after the gradient kernel but the update reads the old
    // parameter.
    if readers
        .get(param.index())?
        .iter()
        .any(|&r| r != update && r >= grad)
    {
        return None;
    }
    Some((
        grad,
        Fold {
            update,
            param,
            learning_rate: rate,
            alpha,
            beta,
        },
    ))
}

/// The coefficients `(alpha, beta)` when the kernel's yielded value is
/// `alpha(eta) * param + beta(eta) * grad`, with no constant term.
fn affine(
    kernel: &FusedKernel,
    inputs: &[NodeId],
    param: NodeId,
    grad: NodeId,
    rate: NodeId,
) -> Option<(Poly, Poly)> {
    let one = Poly::constant(1.0);
    let mut values: Vec<Sym> = Vec::with_capacity(kernel.body.len());
    for op in &kernel.body {
        let args: Vec<Sym> = op
            .args
            .iter()
            .map(|&arg| match arg {
                Arg::Value(i) => values.get(i).cloned(),
                Arg::Input(k) => {
                    let id = *inputs.get(k)?;
                    if id == param {
                        Some(Sym::Tensor {
                            w: one.clone(),
                            g: Poly::zero(),
                            c: Poly::zero(),
                        })
                    } else if id == grad {
                        Some(Sym::Tensor {
                            w: Poly::zero(),
                            g: one.clone(),
                            c: Poly::zero(),
                        })
                    } else if id == rate {
                        Some(Sym::Scalar(Poly::rate()))
                    } else {
                        None
                    }
                }
            })
            .collect::<Option<_>>()?;
        let value = match (&op.op, args.as_slice()) {
            (Op::Add, [a, b]) => a.add(b, 1.0)?,
            (Op::Sub, [a, b]) => a.add(b, -1.0)?,
            (Op::Neg, [a]) => a.times(&Poly::constant(-1.0)),
            (Op::Scale(f), [a]) => a.times(&Poly::constant(*f)),
            (Op::AddConst(f), [Sym::Scalar(a)]) => Sym::Scalar(a.add(&Poly::constant(*f))),
            (Op::ScaleBy | Op::Mul, [a, Sym::Scalar(s)]) => a.times(s),
            (Op::Mul, [Sym::Scalar(s), a]) => a.times(s),
            _ => return None,
        };
        values.push(value);
    }
    match values.get(*kernel.outputs.first()?)? {
        Sym::Tensor { w, g, c } if c.is_zero() => Some((w.clone(), g.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::gemm::use_library;
    use nnc_check::program::Optimizer;
    use nnc_lower::backend::TrainSetup;

    /// The folds of a two-layer MLP (`784 -> 256 -> 10`, batch 32) trained
    /// with `optimizer` and `regularize`.
    fn folds_of(optimizer: Optimizer, regularize: &str) -> Vec<Fold> {
        let source = format!(
            "model m {{
               input x: [784]
               layers {{
                 dense(256, act: relu)
                 dense(10, act: softmax)
               }}
               cost log_likelihood
               {regularize}
             }}"
        );
        let (file, syntax) = nnc_syntax::parse(&source);
        assert!(syntax.is_empty(), "{syntax:?}");
        let model = nnc_check::check(&file).program.models.remove(0);
        let setup = TrainSetup {
            model: &model,
            optimizer: &optimizer,
            batch_size: 32,
            train_size: 1000,
            clip: Default::default(),
        };
        let graph = nnc_lower::compile_training_fused(&setup, 32, None).unwrap();
        find(&graph, use_library).into_values().collect()
    }

    #[test]
    fn plain_sgd_folds_every_large_weight_gradient() {
        // 256x32x784 and 10x32x256 (82k: below the library's threshold).
        let folds = folds_of(Optimizer::Sgd, "");
        assert_eq!(folds.len(), 1, "{folds:?}");
        let f = &folds[0];
        assert_eq!(f.alpha.eval(0.1), 1.0);
        assert_eq!(f.beta.eval(0.1), -0.1);
    }

    #[test]
    fn l2_decay_folds_into_alpha() {
        let folds = folds_of(Optimizer::Sgd, "regularize l2(5.0)");
        assert_eq!(folds.len(), 1, "{folds:?}");
        // The book's (1 - eta lambda / n) with n = 1000.
        let (eta, lambda, n) = (0.1f64, 5.0f64, 1000.0f64);
        assert!((folds[0].alpha.eval(0.1) as f64 - (1.0 - eta * lambda / n)).abs() < 1e-7);
        assert_eq!(folds[0].beta.eval(0.1), -0.1);
    }

    #[test]
    fn updates_that_are_not_affine_are_not_folded() {
        assert!(folds_of(Optimizer::Momentum { mu: 0.9 }, "").is_empty());
        assert!(folds_of(
            Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8
            },
            ""
        )
        .is_empty());
        assert!(folds_of(Optimizer::Sgd, "regularize l1(1.0)").is_empty());
    }

    #[test]
    fn polynomials_evaluate_in_horner_form() {
        // (1 - 0.5 eta) * (-eta) = -eta + 0.5 eta^2
        let p = Poly::constant(1.0)
            .add(&Poly::rate().scale(-0.5))
            .mul(&Poly::rate().scale(-1.0));
        assert_eq!(p.eval(0.1), (-0.1f64 + 0.5 * 0.01) as f32);
        assert!(Poly::zero().is_zero());
        assert!(!p.is_zero());
    }
}
