//! `nnc run --trace grad-norms`: the learning speed of every layer (the
//! book's chapter 34), the L2 norm of the gradient of every trained
//! parameter, per layer (`dC/db` and `dC/dW` for dense and conv2d layers),
//! at initialisation and after every epoch. Each norm is logged under the
//! parameter's declared name (`bias`, `weight`, `gain`...); the printed line
//! gives the norms of the parameters whose role is a bias.
//!
//! The gradients are those of the mean data cost (no regularization term:
//! the decay is part of the update, not of the cost) over a fixed sample,
//! the first [`TRACE_EXAMPLES`] training examples as one batch, as the book
//! measures them; dropout masks, where the model has dropout, are drawn
//! from one fixed seed. They are computed by the reference interpreter on the
//! graph after `autodiff` from the parameters the backend holds, so the
//! figures are the same whatever backend trains.
//!
//! Invariants: the sample and its batch are fixed for the whole run, so
//! the values of different epochs are comparable; a tracer never changes
//! the parameters it reads.

use nnc_check::program::{Model, Optimizer, ParamRole};
use nnc_interp::Interpreter;
use nnc_ir::{InputKind, OutputKind};
use nnc_lower::backend::{Batch, Tensor, TrainSetup};
use nnc_lower::params::param_specs;
use nnc_train::Examples;
use serde_json::{json, Value};

/// How many training examples the gradients are measured on (the book's
/// 1,000; fewer when the training split is smaller).
pub(crate) const TRACE_EXAMPLES: usize = 1000;

/// What `--trace` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceKind {
    /// The L2 norms of dC/db and dC/dW of every layer, at initialisation
    /// and after every epoch (the learning speed of each layer).
    GradNorms,
}

/// The gradient norms of one layer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LayerNorms {
    pub(crate) layer: String,
    /// One per trained parameter of the layer, in declaration order.
    pub(crate) params: Vec<ParamNorm>,
    /// For a recurrent layer, `|dC/dh_t|` of its first layer's forward
    /// states, from the last step back to the first (`states[k]`: `k`
    /// steps back from the end): the vanishing gradient of the plain RNN.
    pub(crate) states: Vec<f64>,
}

/// `|dC/dP|` of one trained parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ParamNorm {
    /// The declaration's name in its layer: `weight`, `bias`.
    pub(crate) name: String,
    pub(crate) role: ParamRole,
    pub(crate) norm: f64,
}

impl LayerNorms {
    /// The norm of the layer's first parameter of `role`.
    pub(crate) fn of_role(&self, role: ParamRole) -> Option<f64> {
        self.params.iter().find(|p| p.role == role).map(|p| p.norm)
    }
}

/// Measures gradient norms on a fixed sample of the training examples.
pub(crate) struct GradTracer {
    interp: Interpreter<f32>,
    model: Model,
    /// For each recurrent layer (its name), the gradients of its states
    /// step by step, first step first.
    states: Vec<(String, Vec<nnc_ir::NodeId>)>,
}

impl GradTracer {
    /// Prepares the gradient graph of `model` over the first
    /// [`TRACE_EXAMPLES`] of `train` (at most `limit` of them).
    pub(crate) fn new(model: &Model, train: &dyn Examples, limit: usize) -> Result<Self, String> {
        let count = TRACE_EXAMPLES.min(train.len()).min(limit);
        if count == 0 {
            return Err("--trace grad-norms needs training examples".to_string());
        }
        // The optimizer does not matter: the graph stops before the update.
        let setup = TrainSetup {
            model,
            optimizer: &Optimizer::Sgd,
            batch_size: count,
            train_size: count,
            clip: Default::default(),
        };
        let mut graph = nnc_lower::compile_training(&setup, count, Some("autodiff"))
            .map_err(|e| format!("cannot build the gradient graph for --trace: {e}"))?;
        let states = state_gradients(&mut graph, model)
            .map_err(|e| format!("cannot build the gradient graph for --trace: {e}"))?;
        let mut interp = Interpreter::new(graph)
            .map_err(|e| format!("cannot build the gradient graph for --trace: {e}"))?;
        let indices: Vec<usize> = (0..count).collect();
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        train.fill_batch(&indices, &mut inputs, &mut targets);
        let batch = Batch {
            inputs: &inputs,
            targets: &targets,
            len: count,
            noise_seed: 0,
        };
        let bound = |e: &dyn std::fmt::Display| format!("cannot bind the --trace sample: {e}");
        let mut scratch = Vec::new();
        for k in 0..model.inputs.len() {
            let values = batch
                .input_values(model, k, &mut scratch)
                .map_err(|e| bound(&e))?;
            interp
                .set_input(InputKind::Data(k), values)
                .map_err(|e| bound(&e))?;
        }
        if let Some(target) = interp.input_node(InputKind::Target) {
            let width = interp.graph().node(target).shape.iter().product::<usize>() / count;
            let rows = batch
                .target_rows(width, &mut scratch)
                .map_err(|e| bound(&e))?;
            interp
                .set_input(InputKind::Target, rows)
                .map_err(|e| bound(&e))?;
        }
        Ok(GradTracer {
            interp,
            model: model.clone(),
            states,
        })
    }

    /// The gradient norms of every trained parameter for `params` (in
    /// `param_specs` order, trained or not), by layer, layers in network
    /// order.
    pub(crate) fn measure(&mut self, params: &[Tensor]) -> Result<Vec<LayerNorms>, String> {
        let specs = param_specs(&self.model);
        if params.len() != specs.len() {
            return Err(format!(
                "--trace: the backend holds {} parameters, the model has {}",
                params.len(),
                specs.len()
            ));
        }
        for (k, p) in params.iter().enumerate() {
            self.interp
                .set_input(InputKind::Param(k), &p.data)
                .map_err(|e| format!("--trace: cannot bind `{}`: {e}", specs[k].name))?;
        }
        // Dropout masks are drawn from this seed: a fixed one keeps the
        // sample's gradients comparable between epochs.
        self.interp.run(0);
        let mut layers: Vec<LayerNorms> = Vec::new();
        for (k, spec) in specs.iter().enumerate() {
            if !spec.trained {
                continue;
            }
            let norm = self
                .interp
                .output_of(OutputKind::Gradient(k))
                .map(|g| {
                    g.iter()
                        .map(|&v| f64::from(v) * f64::from(v))
                        .sum::<f64>()
                        .sqrt()
                })
                .ok_or_else(|| format!("--trace: no gradient for `{}`", spec.name))?;
            let layer = self.model.layers.get(spec.layer);
            let name = layer.map_or_else(|| spec.name.clone(), |l| l.name.clone());
            let param = layer
                .and_then(|l| l.params.get(spec.decl))
                .map_or_else(|| spec.name.clone(), |p| p.name.clone());
            let at = match layers.iter().position(|l| l.layer == name) {
                Some(at) => at,
                None => {
                    layers.push(LayerNorms {
                        layer: name,
                        params: Vec::new(),
                        states: Vec::new(),
                    });
                    layers.len() - 1
                }
            };
            layers[at].params.push(ParamNorm {
                name: param,
                role: spec.role,
                norm,
            });
        }
        for (layer, grads) in &self.states {
            let norms: Vec<f64> = grads
                .iter()
                .rev()
                .map(|&g| {
                    self.interp
                        .value(g)
                        .iter()
                        .map(|&v| f64::from(v) * f64::from(v))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect();
            if let Some(entry) = layers.iter_mut().find(|l| &l.layer == layer) {
                entry.states = norms;
            }
        }
        Ok(layers)
    }
}

/// Appends to `graph` the gradient of the cost with respect to the states
/// of the first layer (forward direction) of each recurrent layer of
/// `model`, step by step (the nodes `LAYER.l0.hT` its lowering names).
fn state_gradients(
    graph: &mut nnc_ir::Graph,
    model: &Model,
) -> Result<Vec<(String, Vec<nnc_ir::NodeId>)>, nnc_ir::CompileError> {
    let Some(cost) = graph.output_of(OutputKind::Cost).map(|o| o.node) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for node in &model.nodes {
        let nnc_check::program::Op::Recurrent { layer, .. } = node.op else {
            continue;
        };
        let Some(steps) = model.node(node.inputs[0]).shape.first().copied() else {
            continue;
        };
        let states: Option<Vec<nnc_ir::NodeId>> = (0..steps)
            .map(|t| {
                let wanted = format!("{}.l0.h{t}", node.name);
                graph.ids().find(|&id| graph.node(id).name == wanted)
            })
            .collect();
        let Some(states) = states else { continue };
        let grads = nnc_ir::passes::autodiff::gradients(graph, cost, &states)?;
        let name = model
            .layers
            .get(layer.0)
            .map_or_else(|| node.name.clone(), |l| l.name.clone());
        out.push((name, grads));
    }
    Ok(out)
}

/// The norms as the JSON-lines log holds them: `[{"layer": NAME, "bias":
/// |dC/db|, "weight": |dC/dW|}, ...]` in network order, each norm under its
/// parameter's declared name.
pub(crate) fn norms_json(norms: &[LayerNorms]) -> Value {
    Value::Array(
        norms
            .iter()
            .map(|n| {
                let mut object = serde_json::Map::new();
                object.insert("layer".into(), json!(n.layer));
                for p in &n.params {
                    object.insert(p.name.clone(), json!(p.norm));
                }
                if !n.states.is_empty() {
                    object.insert("states_back".into(), json!(n.states));
                }
                Value::Object(object)
            })
            .collect(),
    )
}

/// The line printed under an epoch's (or the initial) line:
/// `learning speed |dC/db|: dense_1 0.0712, dense_2 0.3105, ...`.
pub(crate) fn norms_line(when: &str, norms: &[LayerNorms]) -> String {
    let parts: Vec<String> = norms
        .iter()
        .filter_map(|n| {
            n.of_role(ParamRole::Bias)
                .map(|b| format!("{} {b:.4}", n.layer))
        })
        .collect();
    let mut line = format!("{when} learning speed |dC/db|: {}", parts.join(", "));
    for n in norms.iter().filter(|n| !n.states.is_empty()) {
        let at = |k: usize| n.states.get(k).map(|v| format!("{k} {v:.3e}"));
        let shown: Vec<String> = [0, 1, 5, 10, 20, 50, 100]
            .into_iter()
            .filter(|&k| k < n.states.len())
            .chain(std::iter::once(n.states.len() - 1))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(at)
            .collect();
        line.push_str(&format!(
            "; {} |dC/dh| by steps back: {}",
            n.layer,
            shown.join(", ")
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use nnc_check::program::{Init, Param};
    use nnc_train::InMemory;

    fn model() -> Model {
        let (file, syntax) = nnc_syntax::parse(
            "model net {
               input x: [3]
               layers {
                 dense(4, act: sigmoid)
                 dense(2, act: sigmoid)
               }
               cost quadratic
             }",
        );
        assert!(syntax.is_empty(), "{syntax:?}");
        let checked = nnc_check::check(&file);
        assert!(!checked.has_errors(), "{:?}", checked.errors);
        checked.program.models.into_iter().next().unwrap()
    }

    fn examples() -> InMemory {
        let mut rng = nnc_ir::rng::Rng::new(5);
        InMemory {
            input_size: 3,
            target_size: 2,
            inputs: (0..30).map(|_| rng.normal() as f32).collect(),
            targets: (0..20).map(|_| rng.uniform() as f32).collect(),
        }
    }

    fn norms(model: &Model, params: &[Tensor]) -> Vec<LayerNorms> {
        let mut tracer = GradTracer::new(model, &examples(), 100).unwrap();
        tracer.measure(params).unwrap()
    }

    #[test]
    fn dense_layers_report_their_bias_and_weight() {
        let m = model();
        let layers = norms(&m, &nnc_lower::init_params(&m, 1));
        let json = norms_json(&layers);
        let keys: Vec<Vec<&str>> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_object().unwrap().keys().map(String::as_str).collect())
            .collect();
        assert_eq!(
            keys,
            [["bias", "layer", "weight"], ["bias", "layer", "weight"]]
        );
        assert_eq!(json[0]["layer"], "dense_1");
        assert!(json[1]["weight"].as_f64().unwrap() > 0.0);
        let line = norms_line("initial", &layers);
        assert!(
            line.starts_with("initial learning speed |dC/db|: dense_1 0."),
            "{line}"
        );
        assert!(line.contains(", dense_2 0."), "{line}");
    }

    #[test]
    fn every_trained_parameter_is_reported_under_its_name_and_state_is_not() {
        let plain = model();
        let mut m = plain.clone();
        m.layers[0].params.push(Param {
            name: "gain".to_string(),
            role: ParamRole::Gain,
            shape: vec![4],
            init: Init::Constant(1.0),
            decay: false,
            trained: true,
        });
        m.layers[0].params.push(Param {
            name: "running_mean".to_string(),
            role: ParamRole::Statistic,
            shape: vec![3],
            init: Init::Zeros,
            decay: false,
            trained: false,
        });
        let params = nnc_lower::init_params(&m, 1);
        // The same weights and biases without the two extra tensors.
        let plain_params: Vec<Tensor> = params
            .iter()
            .enumerate()
            .filter(|(k, _)| ![2, 3].contains(k))
            .map(|(_, p)| p.clone())
            .collect();
        let with = norms(&m, &params);
        let without = norms(&plain, &plain_params);
        let names: Vec<&str> = with[0].params.iter().map(|p| p.name.as_str()).collect();
        // The gain no layer reads yet has a zero gradient, and is reported.
        assert_eq!(names, ["weight", "bias", "gain"]);
        assert_eq!(with[0].params[2].norm, 0.0);
        assert_eq!(with[0].of_role(ParamRole::Gain), Some(0.0));
        for (a, b) in with.iter().zip(&without) {
            for role in [ParamRole::Weight, ParamRole::Bias] {
                assert_eq!(a.of_role(role), b.of_role(role), "{}", a.layer);
                assert!(a.of_role(role).is_some_and(|n| n > 0.0));
            }
        }
        assert_eq!(norms_line("  ", &with), norms_line("  ", &without));
        let json = norms_json(&with);
        assert_eq!(json[0]["gain"], 0.0);
        assert!(json[0].get("running_mean").is_none());
    }
}
