//! The layout of parameters and optimizer state: which tensors a training
//! graph reads and writes besides the data, in which order, with which
//! names and shapes. Backends allocate and keep these tensors between
//! steps; graphs refer to them by index (`InputKind::Param(k)`,
//! `InputKind::State(k)`).

use crate::graph::Shape;
use nnc_check::program::{Model, Optimizer};

/// One trainable tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// `dense_1.weight`, `conv_pool_2.conv2d.bias`.
    pub name: String,
    pub shape: Shape,
    /// Index of the owning layer in `Model::layers`.
    pub layer: usize,
    /// Weights (not biases) are what L1 and L2 regularization decay.
    pub is_weight: bool,
}

/// The parameters of `model`: for each layer of `Model::layers` in order,
/// its weight, then its bias. A layer used twice (a shared `layer`
/// instance) has one entry.
pub fn param_specs(model: &Model) -> Vec<ParamSpec> {
    let mut specs = Vec::with_capacity(model.layers.len() * 2);
    for (layer, l) in model.layers.iter().enumerate() {
        specs.push(ParamSpec {
            name: format!("{}.weight", l.name),
            shape: l.weight_shape.clone(),
            layer,
            is_weight: true,
        });
        specs.push(ParamSpec {
            name: format!("{}.bias", l.name),
            shape: l.bias_shape.clone(),
            layer,
            is_weight: false,
        });
    }
    specs
}

/// One tensor of optimizer state; every one starts at zero.
#[derive(Clone, Debug, PartialEq)]
pub struct StateSpec {
    /// `dense_1.weight.velocity`, `dense_1.weight.m`, `adam.step`.
    pub name: String,
    pub shape: Shape,
}

/// The optimizer state of `model` under `optimizer`:
/// - `sgd`: none;
/// - `momentum`, `nesterov`: one velocity per parameter (state `k` is the
///   velocity of parameter `k`);
/// - `adam`: per parameter `k` the first moment `m` (state `2k`) and the
///   second moment `s` (state `2k + 1`), then the step count `t` (a scalar,
///   the last state).
pub fn optimizer_state(model: &Model, optimizer: &Optimizer) -> Vec<StateSpec> {
    let params = param_specs(model);
    let per_param = |suffix: &str, p: &ParamSpec| StateSpec {
        name: format!("{}.{suffix}", p.name),
        shape: p.shape.clone(),
    };
    match optimizer {
        Optimizer::Sgd => Vec::new(),
        Optimizer::Momentum { .. } | Optimizer::Nesterov { .. } => {
            params.iter().map(|p| per_param("velocity", p)).collect()
        }
        Optimizer::Adam { .. } => {
            let mut state: Vec<StateSpec> = params
                .iter()
                .flat_map(|p| [per_param("m", p), per_param("s", p)])
                .collect();
            state.push(StateSpec {
                name: "adam.step".to_string(),
                shape: Vec::new(),
            });
            state
        }
    }
}

/// Whether two optimizers keep the same state (same kind, whatever their
/// constants): a phase change between them keeps the state.
pub fn same_state_layout(a: &Optimizer, b: &Optimizer) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}
