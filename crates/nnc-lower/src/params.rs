//! The layout of parameters and optimizer state: which tensors a training
//! graph reads and writes besides the data, in which order, with which
//! names and shapes. The parameters follow the layers' declarations
//! (`nnc_check::program::Layer::params`); optimizer state follows the
//! trained parameters. Backends allocate and keep these tensors between
//! steps; graphs refer to them by index (`InputKind::Param(k)`,
//! `InputKind::State(k)`).

pub use nnc_check::program::ParamRole;
use nnc_check::program::{Model, Optimizer};
use nnc_ir::graph::Shape;

/// One parameter tensor: one declaration of a layer (`Layer::params`),
/// trained or not.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// `dense_1.weight`, `conv_pool_2.conv2d.bias`: `LAYER.NAME`.
    pub name: String,
    pub shape: Shape,
    /// Index of the owning layer in `Model::layers`.
    pub layer: usize,
    /// Index of the declaration in the layer's `params`.
    pub decl: usize,
    pub role: ParamRole,
    /// Whether L1 and L2 regularization decay it (the update pass).
    pub decay: bool,
    /// Trained: autodiff gives it a gradient (`Gradient(k)`) and the update
    /// pass a new value (`NewParam(k)`) and optimizer state. Not trained:
    /// no gradient, no optimizer state, never decayed; the forward pass of
    /// a training graph may give it a new value (`NewParam(k)`, added by
    /// `lower`), which backends write back like any new parameter.
    pub trained: bool,
}

/// The parameters of `model`: for each layer of `Model::layers` in order,
/// one per declaration of the layer, in its order (dense and conv2d: the
/// weight, then the bias). A layer used twice (a shared `layer` instance)
/// has one entry per declaration.
pub fn param_specs(model: &Model) -> Vec<ParamSpec> {
    let mut specs = Vec::with_capacity(model.layers.iter().map(|l| l.params.len()).sum());
    for (layer, l) in model.layers.iter().enumerate() {
        for (decl, p) in l.params.iter().enumerate() {
            specs.push(ParamSpec {
                name: format!("{}.{}", l.name, p.name),
                shape: p.shape.clone(),
                layer,
                decl,
                role: p.role,
                decay: p.decay && p.trained,
                trained: p.trained,
            });
        }
    }
    specs
}

/// The index in [`param_specs`] of layer `layer`'s declaration `name`.
pub fn find_param(model: &Model, layer: usize, name: &str) -> Option<usize> {
    let decl = model.layers.get(layer)?.param_index(name)?;
    let before: usize = model.layers[..layer].iter().map(|l| l.params.len()).sum();
    Some(before + decl)
}

/// One tensor of optimizer state; every one starts at zero.
#[derive(Clone, Debug, PartialEq)]
pub struct StateSpec {
    /// `dense_1.weight.velocity`, `dense_1.weight.m`, `adam.step`.
    pub name: String,
    pub shape: Shape,
    /// The parameter (in [`param_specs`] order) it belongs to; `None` for
    /// state of the whole step (Adam's step count).
    pub param: Option<usize>,
}

/// The optimizer state of `model` under `optimizer`, for the trained
/// parameters only, in [`param_specs`] order:
/// - `sgd`: none;
/// - `momentum`, `nesterov`: one velocity per trained parameter;
/// - `adam`: per trained parameter the first moment `m` then the second
///   moment `s`, then the step count `t` (a scalar, the last state).
///
/// Models whose parameters are all trained (every layer of the language
/// today) thus keep state `k` (momentum) or `2k`, `2k + 1` (Adam) for
/// parameter `k`; [`states_of`] finds a parameter's state in general.
pub fn optimizer_state(model: &Model, optimizer: &Optimizer) -> Vec<StateSpec> {
    let params = param_specs(model);
    let trained = params.iter().enumerate().filter(|(_, p)| p.trained);
    let per_param = |suffix: &str, k: usize, p: &ParamSpec| StateSpec {
        name: format!("{}.{suffix}", p.name),
        shape: p.shape.clone(),
        param: Some(k),
    };
    match optimizer {
        Optimizer::Sgd => Vec::new(),
        Optimizer::Momentum { .. } | Optimizer::Nesterov { .. } => {
            trained.map(|(k, p)| per_param("velocity", k, p)).collect()
        }
        Optimizer::Adam { .. } => {
            let mut state: Vec<StateSpec> = trained
                .flat_map(|(k, p)| [per_param("m", k, p), per_param("s", k, p)])
                .collect();
            state.push(StateSpec {
                name: "adam.step".to_string(),
                shape: Vec::new(),
                param: None,
            });
            state
        }
    }
}

/// The indices in `states` of parameter `k`'s optimizer state, in order
/// (the velocity; or `m`, then `s`). Empty for a parameter that is not
/// trained, or under `sgd`.
pub fn states_of(states: &[StateSpec], k: usize) -> Vec<usize> {
    states
        .iter()
        .enumerate()
        .filter(|(_, s)| s.param == Some(k))
        .map(|(j, _)| j)
        .collect()
}

/// Whether two optimizers keep the same state (same kind, whatever their
/// constants): a phase change between them keeps the state.
pub fn same_state_layout(a: &Optimizer, b: &Optimizer) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}
