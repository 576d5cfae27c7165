//! Pass `update`: the optimizer step as IR ops, after `autodiff`. For each
//! trained parameter `w` with gradient `g` (output `grad(NAME)`) and
//! learning rate `eta` (the `learning_rate` input), it adds the output
//! `new(NAME)`, and `new(STATE)` for each optimizer state (layout in
//! `crate::params`; parameters that are not trained have none, and keep
//! the value the forward pass gave them, if any):
//!
//! - `sgd`: `w <- w - eta g`;
//! - `momentum(mu)`: `v <- mu v - eta g; w <- w + v`;
//! - `nesterov(mu)`: the same, `g` being taken at the look-ahead point
//!   `w + mu v` (the forward pass of the graph reads it there, see `lower`);
//! - `adam(b1, b2, eps)`: `t <- t + 1; m <- b1 m + (1 - b1) g;
//!   s <- b2 s + (1 - b2) g^2; w <- w - eta (m / (1 - b1^t)) /
//!   (sqrt(s / (1 - b2^t)) + eps)`, with `b^t = exp(t ln b)`.
//!
//! Regularization decays the parameters declared with `decay` (weights,
//! never biases; `n` is the size of the training split). Under `sgd` it
//! takes the book's form, `w <- (1 - eta lambda2 / n) w - eta lambda1 / n
//! sgn(w) - eta g`; under the other optimizers the penalty's gradient
//! `(lambda2 / n) w + (lambda1 / n) sgn(w)` (at the point the gradient was
//! taken) is added to `g` before the optimizer's rule.

use crate::backend::TrainSetup;
use crate::params::{optimizer_state, param_specs, states_of, ParamSpec, StateSpec};
use nnc_check::program::{Optimizer, Regularizer};
use nnc_ir::graph::{Graph, InputKind, NodeId, OutputKind};
use nnc_ir::ops::Op;
use nnc_ir::CompileError;

/// The regularization constants, already divided by `n`.
#[derive(Clone, Copy, Debug, Default)]
struct Decay {
    l2: f64,
    l1: f64,
}

/// Adds the optimizer step for `setup` to a graph with gradients.
pub fn update(graph: &mut Graph, setup: &TrainSetup<'_>) -> Result<(), CompileError> {
    let specs = param_specs(setup.model);
    let states = optimizer_state(setup.model, setup.optimizer);
    let n = setup.train_size.max(1) as f64;
    let mut decay = Decay::default();
    for r in &setup.model.regularizers {
        match r {
            Regularizer::L2 { lambda, .. } => decay.l2 += lambda / n,
            Regularizer::L1 { lambda, .. } => decay.l1 += lambda / n,
        }
    }
    let clipped = clip_gradients(graph, &specs, setup.clip)?;
    let mut step = Step {
        graph,
        decay,
        lr: None,
        adam_corrections: None,
        clipped,
    };
    step.lr = Some(step.graph.input_or_add(
        InputKind::LearningRate,
        Vec::new(),
        "learning_rate",
    )?);
    let mut new_states: Vec<Option<NodeId>> = vec![None; states.len()];
    for (k, spec) in specs.iter().enumerate() {
        if !spec.trained {
            continue;
        }
        let new = step.param(k, spec, setup.optimizer, &states, &mut new_states)?;
        step.graph
            .add_output(format!("new({})", spec.name), OutputKind::NewParam(k), new);
    }
    if let Optimizer::Adam { .. } = setup.optimizer {
        if let Some((t_new, _, _)) = step.adam_corrections {
            new_states[states.len() - 1] = Some(t_new);
        }
    }
    for (j, (spec, new)) in states.iter().zip(new_states).enumerate() {
        if let Some(new) = new {
            step.graph
                .add_output(format!("new({})", spec.name), OutputKind::NewState(j), new);
        }
    }
    Ok(())
}

struct Step<'g> {
    graph: &'g mut Graph,
    decay: Decay,
    lr: Option<NodeId>,
    /// Adam's `t + 1`, `1 / (1 - b1^t)` and `1 / (1 - b2^t)`, built once.
    adam_corrections: Option<(NodeId, NodeId, NodeId)>,
    /// Each parameter's clipped gradient, when clipping is on.
    clipped: Vec<Option<NodeId>>,
}

/// The gradients after `clip_value` (each value into `[-v, v]`) and then
/// `clip_norm` (all of them scaled by `min(1, c / norm)`, `norm` the
/// Euclidean norm of every trained gradient together), by parameter;
/// all `None` without clipping.
fn clip_gradients(
    graph: &mut Graph,
    specs: &[ParamSpec],
    clip: nnc_check::program::Clip,
) -> Result<Vec<Option<NodeId>>, CompileError> {
    let mut out = vec![None; specs.len()];
    if clip.value.is_none() && clip.norm.is_none() {
        return Ok(out);
    }
    for (k, spec) in specs.iter().enumerate() {
        if !spec.trained {
            continue;
        }
        let Some(grad) = graph.output_of(OutputKind::Gradient(k)).map(|o| o.node) else {
            continue;
        };
        let mut g = grad;
        if let Some(v) = clip.value {
            let shape = graph.shape(g).to_vec();
            let name = format!("clip_value({})", spec.name);
            let high = graph.add(
                Op::Fill {
                    value: v,
                    shape: shape.clone(),
                },
                Vec::new(),
                name.clone(),
            )?;
            let low = graph.add(Op::Fill { value: -v, shape }, Vec::new(), name.clone())?;
            let below = graph.add(Op::Minimum, vec![g, high], name.clone())?;
            g = graph.add(Op::Maximum, vec![below, low], name)?;
        }
        out[k] = Some(g);
    }
    let Some(c) = clip.norm else {
        return Ok(out);
    };
    let mut total: Option<NodeId> = None;
    for g in out.iter().flatten() {
        let rank = graph.shape(*g).len();
        let square = graph.add(Op::Square, vec![*g], "grad_norm")?;
        let sum = graph.add(
            Op::SumAxes {
                axes: (0..rank).collect(),
            },
            vec![square],
            "grad_norm",
        )?;
        total = Some(match total {
            Some(t) => graph.add(Op::Add, vec![t, sum], "grad_norm")?,
            None => sum,
        });
    }
    let Some(total) = total else {
        return Ok(out);
    };
    let norm = graph.add(Op::Sqrt, vec![total], "grad_norm")?;
    let limit = graph.add(
        Op::Fill {
            value: c,
            shape: Vec::new(),
        },
        Vec::new(),
        "clip_norm",
    )?;
    // min(1, c / norm) = c / max(norm, c).
    let larger = graph.add(Op::Maximum, vec![norm, limit], "clip_norm")?;
    let factor = graph.add(Op::Div, vec![limit, larger], "clip_norm")?;
    for (k, g) in out.iter_mut().enumerate() {
        if let Some(node) = g {
            let name = format!("clip_norm({})", specs[k].name);
            *node = graph.add(Op::ScaleBy, vec![*node, factor], name)?;
        }
    }
    Ok(out)
}

impl Step<'_> {
    fn lr(&self) -> Result<NodeId, CompileError> {
        self.lr.ok_or_else(|| CompileError::Internal {
            what: "the update has no learning rate input".to_string(),
        })
    }

    fn add(&mut self, op: Op, inputs: Vec<NodeId>, name: &str) -> Result<NodeId, CompileError> {
        self.graph.add(op, inputs, name)
    }

    /// The state input `j`.
    fn state(&mut self, j: usize, states: &[StateSpec]) -> Result<NodeId, CompileError> {
        let spec = &states[j];
        self.graph
            .input_or_add(InputKind::State(j), spec.shape.clone(), spec.name.clone())
    }

    /// The updated value of parameter `k`; records new optimizer states.
    fn param(
        &mut self,
        k: usize,
        spec: &ParamSpec,
        optimizer: &Optimizer,
        states: &[StateSpec],
        new_states: &mut [Option<NodeId>],
    ) -> Result<NodeId, CompileError> {
        let w =
            self.graph
                .input_or_add(InputKind::Param(k), spec.shape.clone(), spec.name.clone())?;
        let grad = self
            .graph
            .output_of(OutputKind::Gradient(k))
            .map(|o| o.node)
            .ok_or_else(|| CompileError::Internal {
                what: format!(
                    "the update needs the gradient of `{}` (run autodiff first)",
                    spec.name
                ),
            })?;
        let grad = self.clipped.get(k).copied().flatten().unwrap_or(grad);
        let read = self
            .graph
            .param_reads
            .get(k)
            .copied()
            .flatten()
            .unwrap_or(w);
        let decay = if spec.decay {
            self.decay
        } else {
            Decay::default()
        };
        let own = states_of(states, k);
        let missing = || CompileError::Internal {
            what: format!("`{}` has no optimizer state", spec.name),
        };
        let lr = self.lr()?;
        let name = &spec.name;
        if let Optimizer::Sgd = optimizer {
            let decayed = self.sgd_decay(w, decay, name)?;
            let step = self.add(Op::ScaleBy, vec![grad, lr], &format!("step({name})"))?;
            return self.add(Op::Sub, vec![decayed, step], &format!("new({name})"));
        }
        let g = self.decayed_gradient(grad, read, decay, name)?;
        match *optimizer {
            Optimizer::Momentum { mu } | Optimizer::Nesterov { mu } => {
                let &[j] = own.as_slice() else {
                    return Err(missing());
                };
                let v = self.state(j, states)?;
                let v_name = format!("new({})", states[j].name);
                let kept = self.add(Op::Scale(mu), vec![v], &v_name)?;
                let step = self.add(Op::ScaleBy, vec![g, lr], &format!("step({name})"))?;
                let v_new = self.add(Op::Sub, vec![kept, step], &v_name)?;
                new_states[j] = Some(v_new);
                self.add(Op::Add, vec![w, v_new], &format!("new({name})"))
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                let &[jm, js] = own.as_slice() else {
                    return Err(missing());
                };
                let (_, c1, c2) = self.adam_corrections(beta1, beta2, states)?;
                let m = self.state(jm, states)?;
                let s = self.state(js, states)?;
                let m_name = format!("new({})", states[jm].name);
                let s_name = format!("new({})", states[js].name);
                let m_new = self.moment(m, g, beta1, &m_name)?;
                let g2 = self.add(Op::Mul, vec![g, g], &s_name)?;
                let s_new = self.moment(s, g2, beta2, &s_name)?;
                new_states[jm] = Some(m_new);
                new_states[js] = Some(s_new);
                let step_name = format!("step({name})");
                let m_hat = self.add(Op::ScaleBy, vec![m_new, c1], &step_name)?;
                let s_hat = self.add(Op::ScaleBy, vec![s_new, c2], &step_name)?;
                let root = self.add(Op::Sqrt, vec![s_hat], &step_name)?;
                let denominator = self.add(Op::AddConst(eps), vec![root], &step_name)?;
                let ratio = self.add(Op::Div, vec![m_hat, denominator], &step_name)?;
                let step = self.add(Op::ScaleBy, vec![ratio, lr], &step_name)?;
                self.add(Op::Sub, vec![w, step], &format!("new({name})"))
            }
            Optimizer::Sgd => Ok(w),
        }
    }

    /// The book's SGD decay: `(1 - eta lambda2/n) w - eta lambda1/n sgn(w)`.
    fn sgd_decay(&mut self, w: NodeId, decay: Decay, name: &str) -> Result<NodeId, CompileError> {
        let lr = self.lr()?;
        let decay_name = format!("decay({name})");
        let mut decayed = w;
        if decay.l2 != 0.0 {
            let scaled = self.add(Op::Scale(-decay.l2), vec![lr], "l2_decay")?;
            let factor = self.add(Op::AddConst(1.0), vec![scaled], "l2_decay")?;
            decayed = self.add(Op::ScaleBy, vec![w, factor], &decay_name)?;
        }
        if decay.l1 != 0.0 {
            let rate = self.add(Op::Scale(decay.l1), vec![lr], "l1_decay")?;
            let sign = self.add(Op::Sign, vec![w], &format!("sign({name})"))?;
            let shrink = self.add(Op::ScaleBy, vec![sign, rate], &decay_name)?;
            decayed = self.add(Op::Sub, vec![decayed, shrink], &decay_name)?;
        }
        Ok(decayed)
    }

    /// `g + (lambda2/n) w + (lambda1/n) sgn(w)`, `w` where `g` was taken.
    fn decayed_gradient(
        &mut self,
        grad: NodeId,
        w: NodeId,
        decay: Decay,
        name: &str,
    ) -> Result<NodeId, CompileError> {
        let total_name = format!("grad_total({name})");
        let mut g = grad;
        if decay.l2 != 0.0 {
            let penalty = self.add(Op::Scale(decay.l2), vec![w], &total_name)?;
            g = self.add(Op::Add, vec![g, penalty], &total_name)?;
        }
        if decay.l1 != 0.0 {
            let sign = self.add(Op::Sign, vec![w], &format!("sign({name})"))?;
            let penalty = self.add(Op::Scale(decay.l1), vec![sign], &total_name)?;
            g = self.add(Op::Add, vec![g, penalty], &total_name)?;
        }
        Ok(g)
    }

    /// `beta m + (1 - beta) g`.
    fn moment(
        &mut self,
        m: NodeId,
        g: NodeId,
        beta: f64,
        name: &str,
    ) -> Result<NodeId, CompileError> {
        let kept = self.add(Op::Scale(beta), vec![m], name)?;
        let fresh = self.add(Op::Scale(1.0 - beta), vec![g], name)?;
        self.add(Op::Add, vec![kept, fresh], name)
    }

    /// Adam's step count `t + 1` and bias corrections, built once per graph.
    fn adam_corrections(
        &mut self,
        beta1: f64,
        beta2: f64,
        states: &[StateSpec],
    ) -> Result<(NodeId, NodeId, NodeId), CompileError> {
        if let Some(done) = self.adam_corrections {
            return Ok(done);
        }
        let t = self.state(states.len() - 1, states)?;
        let t_new = self.add(Op::AddConst(1.0), vec![t], "new(adam.step)")?;
        let c1 = self.correction(t_new, beta1, "adam.correction1")?;
        let c2 = self.correction(t_new, beta2, "adam.correction2")?;
        self.adam_corrections = Some((t_new, c1, c2));
        Ok((t_new, c1, c2))
    }

    /// `1 / (1 - beta^t)`, with `beta^t = exp(t ln beta)` (and 0 for beta 0).
    fn correction(&mut self, t: NodeId, beta: f64, name: &str) -> Result<NodeId, CompileError> {
        let one = self.add(
            Op::Fill {
                value: 1.0,
                shape: Vec::new(),
            },
            Vec::new(),
            name,
        )?;
        if beta <= 0.0 {
            return Ok(one);
        }
        let exponent = self.add(Op::Scale(beta.ln()), vec![t], name)?;
        let power = self.add(Op::Exp, vec![exponent], name)?;
        let minus = self.add(Op::Neg, vec![power], name)?;
        let denominator = self.add(Op::AddConst(1.0), vec![minus], name)?;
        self.add(Op::Div, vec![one, denominator], name)
    }
}
