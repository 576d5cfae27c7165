//! Pass `lower`: a checked model to its forward graph.
//!
//! Each model node becomes a few IR nodes: a dense layer is
//! `matmul(x, W^T)` (`name.wx`), `bias_add` (`name.z`) and its activation
//! (`name`); a convolution the same with `conv2d`; `flatten` and `reshape`
//! a `reshape` to `[batch, ...]`; dropout, in training graphs only,
//! `x * dropout_mask(step_seed)`. Parameters become inputs read where their
//! layer is applied, so a shared layer's parameters are read twice and
//! autodiff sums their gradients; a layer finds its tensors by declaration
//! name (`weight`, `bias`), never by position. Under Nesterov momentum, the
//! forward pass reads each trained parameter at its look-ahead point
//! `w + mu v`. A parameter that is not trained (state such as running
//! statistics) is read as it is, and a layer that keeps such state gives
//! it its new value in training graphs with [`Graph::add_param_update`].
//!
//! The cost becomes a per-example cost op, reduced to the batch mean
//! (`cost`, training) or sum (`cost_sum`, inference). When the cost reads a
//! sigmoid (cross-entropy) or softmax (log-likelihood) node, it reads that
//! node's operand `z` instead, with the fused, numerically safe formula:
//! the same value, and a gradient `a - y` that never divides by `a (1 - a)`.
//! Inference graphs also output the correct count and every model output.

mod recurrent;

use crate::params::{find_param, optimizer_state, param_specs, states_of, ParamSpec, StateSpec};
use nnc_check::program::{self as program, Activation, Cost, CostKind, Model, Optimizer};
use nnc_ir::graph::{Graph, GraphKind, InputKind, NodeId, OutputKind, Shape};
use nnc_ir::ops::{CostFn, Op, PoolGeometry};
use nnc_ir::CompileError;

/// What the forward graph is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lowering {
    /// Training graphs apply dropout and output the mean cost; inference
    /// graphs do neither and output the cost sum, the correct count and
    /// the model outputs.
    pub training: bool,
    /// `Some(mu)` under Nesterov momentum: the forward pass reads each
    /// trained parameter `w` as `w + mu v` (`v` its velocity, see
    /// [`crate::params::states_of`]).
    pub nesterov_mu: Option<f64>,
}

impl Lowering {
    /// The mode of a training graph under `optimizer` (the look-ahead of
    /// Nesterov momentum, nothing else).
    pub fn for_training(optimizer: &Optimizer) -> Lowering {
        let nesterov_mu = match optimizer {
            Optimizer::Nesterov { mu } => Some(*mu),
            _ => None,
        };
        Lowering {
            training: true,
            nesterov_mu,
        }
    }
}

/// Lowers `model` for batches of `batch_size` examples.
pub fn lower(model: &Model, mode: Lowering, batch_size: usize) -> Result<Graph, CompileError> {
    if batch_size == 0 {
        return Err(CompileError::ZeroBatch);
    }
    let kind = if mode.training {
        GraphKind::Training
    } else {
        GraphKind::Inference
    };
    let states = match mode.nesterov_mu {
        Some(mu) => optimizer_state(model, &Optimizer::Nesterov { mu }),
        None => Vec::new(),
    };
    let mut lowerer = Lowerer {
        model,
        mode,
        graph: Graph::new(kind, batch_size),
        specs: param_specs(model),
        states,
        values: vec![None; model.nodes.len()],
        shared: model.shared_nodes(),
        repeated: vec![None; model.nodes.len()],
        dropouts: 0,
        next_carry: model.zero_states.len(),
    };
    lowerer.graph.param_reads = vec![None; lowerer.specs.len()];
    for index in 0..model.nodes.len() {
        let value = lowerer.node(index)?;
        lowerer.values[index] = Some(value);
    }
    lowerer.outputs()?;
    lowerer.carried_outputs()?;
    // Every trained parameter gets a read, so that autodiff gives it a
    // gradient (zero when the cost does not depend on it).
    for k in 0..lowerer.specs.len() {
        if lowerer.specs[k].trained {
            lowerer.param_read(k)?;
        }
    }
    Ok(lowerer.graph)
}

/// Gives parameter `k` (`spec`, one that is not trained) the running
/// average `momentum * old + (1 - momentum) * value` as its value after a
/// training step ([`Graph::add_param_update`]), where `value` (of the
/// parameter's shape) is this step's statistic, e.g. the batch mean of a
/// layer's input. Returns the node of the new value. The building block of
/// running statistics (batch norm's running mean and variance).
pub fn running_average(
    graph: &mut Graph,
    k: usize,
    spec: &ParamSpec,
    value: NodeId,
    momentum: f64,
) -> Result<NodeId, CompileError> {
    if spec.trained {
        return Err(CompileError::Internal {
            what: format!(
                "`{}` is trained: the optimizer gives its new value",
                spec.name
            ),
        });
    }
    let old = graph.input_or_add(InputKind::Param(k), spec.shape.clone(), &spec.name)?;
    let name = format!("new({})", spec.name);
    let kept = graph.add(Op::Scale(momentum), vec![old], name.clone())?;
    let fresh = graph.add(Op::Scale(1.0 - momentum), vec![value], name.clone())?;
    let new = graph.add(Op::Add, vec![kept, fresh], name)?;
    graph.add_param_update(k, &spec.name, new);
    Ok(new)
}

struct Lowerer<'m> {
    model: &'m Model,
    mode: Lowering,
    graph: Graph,
    specs: Vec<ParamSpec>,
    /// The optimizer state under Nesterov momentum (the velocities the
    /// look-ahead reads); empty otherwise.
    states: Vec<StateSpec>,
    /// The IR node holding each model node's value.
    values: Vec<Option<NodeId>>,
    /// Which model nodes are the same for every example
    /// (`Model::shared_nodes`): their IR values have no batch axis.
    shared: Vec<bool>,
    /// The value of each shared node repeated for every example (an
    /// `expand` over the batch axis), made at its first per-example use.
    repeated: Vec<Option<NodeId>>,
    /// Dropout nodes lowered so far: the next mask's stream.
    dropouts: u64,
    /// The number of the next carried state of a recurrent layer
    /// (`InputKind::Carry`): those of `Model::zero_states` come first.
    next_carry: usize,
}

impl Lowerer<'_> {
    /// `[batch, ...shape]`.
    fn batched(&self, shape: &[usize]) -> Shape {
        let mut s = vec![self.graph.batch_size];
        s.extend_from_slice(shape);
        s
    }

    /// The IR value of model node `id` (lowered before, by topological
    /// order) as it is: without a batch axis for a shared node.
    fn own_value(&self, id: program::NodeId) -> Result<NodeId, CompileError> {
        self.values
            .get(id.0)
            .copied()
            .flatten()
            .ok_or_else(|| CompileError::Internal {
                what: format!("model node {} is read before it is defined", id.0),
            })
    }

    /// The IR value of model node `id` per example: a shared node's value
    /// repeated over the batch axis.
    fn value(&mut self, id: program::NodeId) -> Result<NodeId, CompileError> {
        let own = self.own_value(id)?;
        if !self.shared.get(id.0).copied().unwrap_or(false) {
            return Ok(own);
        }
        if let Some(repeated) = self.repeated[id.0] {
            return Ok(repeated);
        }
        let shape = self.batched(self.graph.shape(own));
        let name = format!("{}.per_example", self.model.nodes[id.0].name);
        let op = Op::Expand {
            axes: vec![0],
            shape,
        };
        let repeated = self.graph.add(op, vec![own], name)?;
        self.repeated[id.0] = Some(repeated);
        Ok(repeated)
    }

    /// Operand `i` of model node `index`: as it is for a shared node (whose
    /// operands are all shared), per example otherwise.
    fn operand(&mut self, index: usize, i: usize) -> Result<NodeId, CompileError> {
        let node = &self.model.nodes[index];
        match node.inputs.get(i) {
            Some(&id) if self.shared[index] => self.own_value(id),
            Some(&id) => self.value(id),
            None => Err(CompileError::Internal {
                what: format!("model node `{}` lacks operand {i}", node.name),
            }),
        }
    }

    /// The index of layer `layer`'s parameter declared `name`.
    fn layer_param(&self, layer: usize, name: &str) -> Result<usize, CompileError> {
        find_param(self.model, layer, name).ok_or_else(|| CompileError::Internal {
            what: format!(
                "layer {} declares no parameter `{name}`",
                self.model
                    .layers
                    .get(layer)
                    .map_or_else(|| layer.to_string(), |l| format!("`{}`", l.name))
            ),
        })
    }

    /// The node through which the forward pass reads layer `layer`'s
    /// parameter declared `name`.
    fn read_layer_param(&mut self, layer: usize, name: &str) -> Result<NodeId, CompileError> {
        let k = self.layer_param(layer, name)?;
        self.param_read(k)
    }

    /// The node through which the forward pass reads parameter `k`,
    /// created at the first read.
    fn param_read(&mut self, k: usize) -> Result<NodeId, CompileError> {
        if let Some(id) = self.graph.param_reads[k] {
            return Ok(id);
        }
        let spec = self.specs[k].clone();
        let w = self
            .graph
            .input_or_add(InputKind::Param(k), spec.shape.clone(), &spec.name)?;
        let velocity = states_of(&self.states, k).first().copied();
        let read = match (self.mode.nesterov_mu, velocity) {
            (Some(mu), Some(j)) if self.mode.training && spec.trained => {
                let v = self.graph.input_or_add(
                    InputKind::State(j),
                    spec.shape.clone(),
                    self.states[j].name.clone(),
                )?;
                let name = format!("lookahead({})", spec.name);
                let mv = self.graph.add(Op::Scale(mu), vec![v], name.clone())?;
                self.graph.add(Op::Add, vec![w, mv], name)?
            }
            _ => w,
        };
        self.graph.param_reads[k] = Some(read);
        Ok(read)
    }

    /// Lowers model node `index` and returns the IR node of its value.
    fn node(&mut self, index: usize) -> Result<NodeId, CompileError> {
        let node = &self.model.nodes[index];
        let name = node.name.clone();
        match &node.op {
            program::Op::Input => {
                let k = self
                    .model
                    .inputs
                    .iter()
                    .position(|i| i.0 == index)
                    .unwrap_or(0);
                let shape = self.batched(&node.shape);
                self.graph.add(
                    Op::Input {
                        kind: InputKind::Data(k),
                        shape,
                    },
                    Vec::new(),
                    name,
                )
            }
            program::Op::Dense { layer, act, .. } => {
                let x = self.operand(index, 0)?;
                let w = self.read_layer_param(layer.0, "weight")?;
                let shape = self.graph.shape(x).to_vec();
                if let [batch, steps, inputs] = shape[..] {
                    // A sequence: every step of every example is one row.
                    let rows = self.graph.add(
                        Op::Reshape {
                            shape: vec![batch * steps, inputs],
                        },
                        vec![x],
                        format!("{name}.rows"),
                    )?;
                    let wx = self.graph.add(
                        Op::MatMul {
                            ta: false,
                            tb: true,
                        },
                        vec![rows, w],
                        format!("{name}.wx"),
                    )?;
                    let units = self.graph.shape(wx)[1];
                    let y = self.bias_and_activation(wx, layer.0, *act, &format!("{name}.rows"))?;
                    return self.graph.add(
                        Op::Reshape {
                            shape: vec![batch, steps, units],
                        },
                        vec![y],
                        name,
                    );
                }
                let wx = self.graph.add(
                    Op::MatMul {
                        ta: false,
                        tb: true,
                    },
                    vec![x, w],
                    format!("{name}.wx"),
                )?;
                self.bias_and_activation(wx, layer.0, *act, &name)
            }
            program::Op::Conv2d {
                layer,
                stride,
                padding,
                act,
                ..
            }
            | program::Op::ConvTranspose2d {
                layer,
                stride,
                padding,
                act,
                ..
            } => {
                let (stride, padding) = (*stride, *padding);
                let op = match node.op {
                    program::Op::Conv2d { .. } => Op::Conv2d { stride, padding },
                    // The transpose of conv2d is conv2d's input gradient,
                    // the input in the place of `dy`: weights [c_in,
                    // filters, kh, kw], output [batch, filters, oh, ow].
                    _ => Op::Conv2dInputGrad {
                        stride,
                        padding,
                        input: [node.shape[1], node.shape[2]],
                    },
                };
                let x = self.operand(index, 0)?;
                let w = self.read_layer_param(layer.0, "weight")?;
                let wx = self.graph.add(op, vec![x, w], format!("{name}.wx"))?;
                self.bias_and_activation(wx, layer.0, *act, &name)
            }
            program::Op::BatchMean => {
                // The operand as it is: per example, or already shared.
                let x = self.operand(index, 0)?;
                let input = node.inputs.first().map(|i| i.0);
                if input.is_some_and(|i| self.shared[i]) {
                    return self.graph.add(Op::Scale(1.0), vec![x], name);
                }
                let batch = self.graph.batch_size;
                let sum = self.graph.add(
                    Op::SumAxes { axes: vec![0] },
                    vec![x],
                    format!("{name}.sum"),
                )?;
                self.graph
                    .add(Op::Scale(1.0 / batch as f64), vec![sum], name)
            }
            program::Op::Param { layer, decl } => {
                let param = self.model.layers[layer.0].params.get(*decl);
                let Some(param) = param.map(|p| p.name.clone()) else {
                    return Err(CompileError::Internal {
                        what: format!("layer {} has no declaration {decl}", layer.0),
                    });
                };
                self.read_layer_param(layer.0, &param)
            }
            program::Op::Upsample { factor, mode } => {
                let x = self.operand(index, 0)?;
                nnc_ir::composite::upsample(&mut self.graph, x, *factor, *mode, &name)
            }
            program::Op::Pool {
                kind,
                size,
                stride,
                padding,
                rounding,
            } => {
                let x = self.operand(index, 0)?;
                let geometry = PoolGeometry {
                    kind: *kind,
                    size: *size,
                    stride: *stride,
                    padding: *padding,
                    rounding: *rounding,
                };
                self.graph.add(Op::Pool(geometry), vec![x], name)
            }
            program::Op::Flatten | program::Op::Reshape => {
                let x = self.operand(index, 0)?;
                let shape = self.batched(&node.shape);
                self.graph.add(Op::Reshape { shape }, vec![x], name)
            }
            program::Op::Dropout { p } => {
                let x = self.operand(index, 0)?;
                self.dropout(x, *p, &name)
            }
            program::Op::MaskNoise { p } => {
                let x = self.operand(index, 0)?;
                self.mask_noise(x, *p, &name)
            }
            program::Op::GaussianNoise { std } => {
                let x = self.operand(index, 0)?;
                if !self.mode.training || *std == 0.0 {
                    return Ok(x);
                }
                let seed = self
                    .graph
                    .input_or_add(InputKind::StepSeed, Vec::new(), "step_seed")?;
                let op = Op::Random {
                    noise: nnc_ir::rng::Noise::Normal,
                    stream: self.dropouts,
                    shape: self.graph.shape(x).to_vec(),
                };
                self.dropouts += 1;
                let noise = self.graph.add(op, vec![seed], format!("{name}.noise"))?;
                let scaled =
                    self.graph
                        .add(Op::Scale(*std), vec![noise], format!("{name}.scaled"))?;
                self.graph.add(Op::Add, vec![x, scaled], name)
            }
            program::Op::Activation(act) => {
                let x = self.operand(index, 0)?;
                let shape = self.graph.shape(x).to_vec();
                match (act, &shape[..]) {
                    // A sequence's softmax is per step: over rows.
                    (Activation::Softmax, [batch, steps, width]) => {
                        let rows = self.graph.add(
                            Op::Reshape {
                                shape: vec![batch * steps, *width],
                            },
                            vec![x],
                            format!("{name}.rows"),
                        )?;
                        let y = self.activation(rows, *act, &format!("{name}.rows"))?;
                        self.graph.add(Op::Reshape { shape }, vec![y], name)
                    }
                    _ => self.activation(x, *act, &name),
                }
            }
            program::Op::Add
            | program::Op::Sub
            | program::Op::Mul
            | program::Op::Div
            | program::Op::Min
            | program::Op::Max => {
                let a = self.operand(index, 0)?;
                let b = self.operand(index, 1)?;
                let op = match node.op {
                    program::Op::Add => Op::Add,
                    program::Op::Sub => Op::Sub,
                    program::Op::Div => Op::Div,
                    program::Op::Min => Op::Minimum,
                    program::Op::Max => Op::Maximum,
                    _ => Op::Mul,
                };
                self.graph.add(op, vec![a, b], name)
            }
            program::Op::Scale(c) => {
                let x = self.operand(index, 0)?;
                self.graph.add(Op::Scale(*c), vec![x], name)
            }
            program::Op::Math(f) => {
                let x = self.operand(index, 0)?;
                let op = match *f {
                    program::MathFn::Exp => Op::Exp,
                    program::MathFn::Log => Op::Log,
                    program::MathFn::Sqrt => Op::Sqrt,
                    program::MathFn::Abs => Op::Abs,
                    program::MathFn::Square => Op::Square,
                    program::MathFn::Neg => Op::Neg,
                    program::MathFn::Pow(p) => Op::Pow(p),
                    program::MathFn::AddConst(c) => Op::AddConst(c),
                    program::MathFn::Detach => Op::StopGradient,
                };
                self.graph.add(op, vec![x], name)
            }
            program::Op::Noise(noise) => {
                // Drawn in evaluation too: the backends seed it from the
                // batch's `noise_seed` there.
                let shape = self.batched(&node.shape);
                let seed = self
                    .graph
                    .input_or_add(InputKind::StepSeed, Vec::new(), "step_seed")?;
                let op = Op::Random {
                    noise: *noise,
                    stream: self.dropouts,
                    shape,
                };
                self.dropouts += 1;
                self.graph.add(op, vec![seed], name)
            }
            program::Op::Concat { axis } => {
                let parts = (0..node.inputs.len())
                    .map(|k| self.operand(index, k))
                    .collect::<Result<Vec<_>, _>>()?;
                let op = Op::Concat {
                    axis: axis + 1,
                    parts: parts.len(),
                };
                self.graph.add(op, parts, name)
            }
            program::Op::Slice { start, len } => {
                let x = self.operand(index, 0)?;
                let op = Op::Slice {
                    axis: 1,
                    start: *start,
                    len: *len,
                };
                self.graph.add(op, vec![x], name)
            }
            program::Op::Embed { layer, .. } => {
                let x = self.operand(index, 0)?;
                let table = self.read_layer_param(layer.0, "weight")?;
                self.graph.add(Op::Gather, vec![table, x], name)
            }
            program::Op::Zeros => {
                let shape = self.batched(&node.shape);
                let carried = self
                    .model
                    .zero_states
                    .iter()
                    .position(|(start, _)| start.0 == index);
                match carried {
                    Some(k) if self.model.carry => {
                        self.graph.input_or_add(InputKind::Carry(k), shape, name)
                    }
                    _ => self
                        .graph
                        .add(Op::Fill { value: 0.0, shape }, Vec::new(), name),
                }
            }
            program::Op::Recurrent {
                layer,
                cell,
                units,
                layers,
                bidirectional,
                all,
            } => {
                let r = recurrent::Recurrence {
                    layer: layer.0,
                    cell: *cell,
                    units: *units,
                    layers: *layers,
                    bidirectional: *bidirectional,
                    all: *all,
                };
                self.recurrent(index, &r)
            }
            program::Op::Reduce { axes, mean } => {
                let x = self.operand(index, 0)?;
                let in_shape = self.graph.shape(x).to_vec();
                // A shared value has no batch axis to skip.
                let first = usize::from(!self.shared[index]);
                let count: usize = axes.iter().map(|&a| in_shape[a + first]).product();
                let batch_axes = axes.iter().map(|&a| a + first).collect();
                let sum_name = if *mean {
                    format!("{name}.sum")
                } else {
                    name.clone()
                };
                let mut out =
                    self.graph
                        .add(Op::SumAxes { axes: batch_axes }, vec![x], sum_name.clone())?;
                if *mean {
                    out = self.graph.add(
                        Op::Scale(1.0 / count.max(1) as f64),
                        vec![out],
                        name.clone(),
                    )?;
                }
                let shape = if self.shared[index] {
                    node.shape.clone()
                } else {
                    self.batched(&node.shape)
                };
                if self.graph.shape(out) != shape.as_slice() {
                    out = self.graph.add(
                        Op::Reshape { shape },
                        vec![out],
                        format!("{name}.shape"),
                    )?;
                }
                Ok(out)
            }
        }
    }

    /// `act(wx + b)` for the layer's bias; the last node is named `name`.
    fn bias_and_activation(
        &mut self,
        wx: NodeId,
        layer: usize,
        act: Activation,
        name: &str,
    ) -> Result<NodeId, CompileError> {
        let b = self.read_layer_param(layer, "bias")?;
        let z_name = if act == Activation::Identity {
            name.to_string()
        } else {
            format!("{name}.z")
        };
        let z = self.graph.add(Op::BiasAdd, vec![wx, b], z_name)?;
        self.activation(z, act, name)
    }

    /// `act(x)` named `name`; the identity adds no node.
    fn activation(
        &mut self,
        x: NodeId,
        act: Activation,
        name: &str,
    ) -> Result<NodeId, CompileError> {
        let op = match act {
            Activation::Identity => return Ok(x),
            Activation::Sigmoid => Op::Sigmoid,
            Activation::Tanh => Op::Tanh,
            Activation::Relu => Op::Relu,
            Activation::Softmax => Op::Softmax,
            Activation::Step => Op::Step,
            Activation::Softplus => Op::Softplus,
            Activation::Silu => Op::Silu,
        };
        self.graph.add(op, vec![x], name)
    }

    /// Inverted dropout in training graphs; the identity otherwise.
    fn dropout(&mut self, x: NodeId, p: f64, name: &str) -> Result<NodeId, CompileError> {
        self.masked(x, p, false, name)
    }

    /// Masking noise in training graphs (zero with probability `p`, kept
    /// otherwise): dropout's mask, whose kept values are `1 / (1 - p)`,
    /// scaled back by `1 - p`. The identity otherwise.
    fn mask_noise(&mut self, x: NodeId, p: f64, name: &str) -> Result<NodeId, CompileError> {
        self.masked(x, p, true, name)
    }

    /// `x` times a dropout mask of the next stream (scaled back to 0/1
    /// with `unscaled`), in training graphs; `x` otherwise.
    fn masked(
        &mut self,
        x: NodeId,
        p: f64,
        unscaled: bool,
        name: &str,
    ) -> Result<NodeId, CompileError> {
        if !self.mode.training || p <= 0.0 {
            return Ok(x);
        }
        let seed = self
            .graph
            .input_or_add(InputKind::StepSeed, Vec::new(), "step_seed")?;
        let op = Op::DropoutMask {
            p,
            stream: self.dropouts,
            shape: self.graph.shape(x).to_vec(),
        };
        self.dropouts += 1;
        let mut mask = self.graph.add(op, vec![seed], format!("{name}.mask"))?;
        if unscaled {
            mask = self
                .graph
                .add(Op::Scale(1.0 - p), vec![mask], format!("{name}.keep"))?;
        }
        self.graph.add(Op::Mul, vec![x, mask], name)
    }

    /// The cost, the correct count and the model outputs. The labels'
    /// cost compares its output with the `Target` input; each cost against
    /// a model input compares its output with that input; the terms, each
    /// times its weight, add up per example.
    fn outputs(&mut self) -> Result<(), CompileError> {
        let model = self.model;
        let labelled = match &model.cost {
            Some(cost) => Some((self.value(cost.output)?, Some(cost))),
            // Without a cost on the labels, accuracy is read from the only
            // output, unless the costs compare outputs with inputs.
            None if model.input_costs.is_empty() => match model.outputs.first() {
                Some((_, id)) => Some((self.value(*id)?, None)),
                None => None,
            },
            None => None,
        };
        if self.mode.training && !model.has_cost() {
            return Err(CompileError::NoCost {
                model: model.name.clone(),
            });
        }
        let mut terms: Vec<NodeId> = Vec::new();
        let mut target = None;
        if let Some((compared, cost)) = labelled {
            let target_shape = self.graph.shape(compared).to_vec();
            let node = self.graph.add(
                Op::Input {
                    kind: InputKind::Target,
                    shape: target_shape,
                },
                Vec::new(),
                "target",
            )?;
            target = Some((compared, node));
            if let Some(cost) = cost {
                terms.push(self.cost_term(cost, compared, node, "cost")?);
            }
        }
        for (k, cost) in model.input_costs.iter().enumerate() {
            let (Some(input), output) = (cost.target, cost.output) else {
                continue;
            };
            let (output, input) = (self.value(output)?, self.value(input)?);
            terms.push(self.cost_term(cost, output, input, &format!("cost{}", k + 2))?);
        }
        for (k, penalty) in model.penalties.iter().enumerate() {
            let value = self.value(penalty.node)?;
            let shape = vec![self.graph.batch_size];
            let term = self.graph.add(
                Op::Reshape { shape },
                vec![value],
                format!("penalty{}", k + 1),
            )?;
            terms.push(term);
        }
        if !self.mode.training && terms.len() > 1 {
            for (k, &term) in terms.iter().enumerate() {
                let sum = self.graph.add(
                    Op::SumAxes { axes: vec![0] },
                    vec![term],
                    format!("cost_term{k}.sum"),
                )?;
                self.graph
                    .add_output(format!("cost_term{k}"), OutputKind::CostTermSum(k), sum);
            }
        }
        let per_example = match terms.split_first() {
            Some((&first, rest)) => {
                let mut sum = first;
                for &term in rest {
                    sum = self.graph.add(Op::Add, vec![sum, term], "cost.terms")?;
                }
                Some(sum)
            }
            None => None,
        };
        if let Some(per_example) = per_example {
            let sum =
                self.graph
                    .add(Op::SumAxes { axes: vec![0] }, vec![per_example], "cost_sum")?;
            if self.mode.training {
                let scale = 1.0 / self.graph.batch_size as f64;
                let mean = self.graph.add(Op::Scale(scale), vec![sum], "cost")?;
                self.graph.add_output("cost", OutputKind::Cost, mean);
            } else {
                self.graph.add_output("cost_sum", OutputKind::CostSum, sum);
            }
        }
        if !self.mode.training {
            if let Some((compared, target)) = target {
                let correct = match self.graph.shape(compared).to_vec()[..] {
                    // A sequence: the share of its steps classified
                    // correctly, so that the count divided by the examples
                    // is the accuracy per step.
                    [batch, steps, width] => {
                        let dims = [batch, steps, width];
                        let rows = self.as_rows(compared, dims, "correct.rows")?;
                        let target_rows = self.as_rows(target, dims, "correct.target_rows")?;
                        let steps_right = self.graph.add(
                            Op::CorrectCount,
                            vec![rows, target_rows],
                            "correct.steps",
                        )?;
                        self.graph.add(
                            Op::Scale(1.0 / steps.max(1) as f64),
                            vec![steps_right],
                            "correct",
                        )?
                    }
                    _ => self
                        .graph
                        .add(Op::CorrectCount, vec![compared, target], "correct")?,
                };
                self.graph
                    .add_output("correct", OutputKind::Correct, correct);
            }
            for (name, id) in &self.model.outputs {
                let node = self.value(*id)?;
                self.graph
                    .add_output(prediction_name(name), OutputKind::Prediction, node);
            }
        }
        Ok(())
    }

    /// One cost's per-example values, `[batch]`, times its weight.
    fn cost_term(
        &mut self,
        cost: &Cost,
        output: NodeId,
        target: NodeId,
        name: &str,
    ) -> Result<NodeId, CompileError> {
        if let [batch, steps, width] = self.graph.shape(output).to_vec()[..] {
            return self.sequence_cost_term(cost, output, target, [batch, steps, width], name);
        }
        let (cost_fn, prediction) = self.cost_operand(cost.kind, output);
        let per_example = self.graph.add(
            Op::Cost(cost_fn),
            vec![prediction, target],
            format!("{name}.per_example"),
        )?;
        if cost.weight == 1.0 {
            return Ok(per_example);
        }
        self.graph.add(
            Op::Scale(cost.weight),
            vec![per_example],
            format!("{name}.weighted"),
        )
    }

    /// A cost on a sequence `[batch, T, width]`: the cost of each step
    /// (a row), averaged over the steps of each example (for a language
    /// model, nats per character).
    fn sequence_cost_term(
        &mut self,
        cost: &Cost,
        output: NodeId,
        target: NodeId,
        [batch, steps, width]: [usize; 3],
        name: &str,
    ) -> Result<NodeId, CompileError> {
        let rows = self.as_rows(output, [batch, steps, width], &format!("{name}.rows"))?;
        let target_rows = self.as_rows(
            target,
            [batch, steps, width],
            &format!("{name}.target_rows"),
        )?;
        let (cost_fn, prediction) = self.cost_operand(cost.kind, rows);
        let per_step = self.graph.add(
            Op::Cost(cost_fn),
            vec![prediction, target_rows],
            format!("{name}.per_step"),
        )?;
        let per_step = self.graph.add(
            Op::Reshape {
                shape: vec![batch, steps],
            },
            vec![per_step],
            format!("{name}.per_step"),
        )?;
        let total = self.graph.add(
            Op::SumAxes { axes: vec![1] },
            vec![per_step],
            format!("{name}.per_example"),
        )?;
        // The mean over the steps: a language model's cost per character.
        self.graph.add(
            Op::Scale(cost.weight / steps.max(1) as f64),
            vec![total],
            format!("{name}.mean"),
        )
    }

    /// A sequence `[batch, T, width]` as rows `[batch * T, width]`: the
    /// rows it was reshaped from when it is a reshape of them (a per-step
    /// softmax), so the cost can take the fused form.
    fn as_rows(
        &mut self,
        x: NodeId,
        [batch, steps, width]: [usize; 3],
        name: &str,
    ) -> Result<NodeId, CompileError> {
        let node = self.graph.node(x);
        if let (Op::Reshape { .. }, Some(&from)) = (&node.op, node.inputs.first()) {
            if self.graph.shape(from) == [batch * steps, width] {
                return Ok(from);
            }
        }
        self.graph.add(
            Op::Reshape {
                shape: vec![batch * steps, width],
            },
            vec![x],
            name.to_string(),
        )
    }

    /// The cost op and its prediction operand: the fused form on the
    /// weighted input when the output is the matching activation.
    fn cost_operand(&self, kind: CostKind, output: NodeId) -> (CostFn, NodeId) {
        let node = self.graph.node(output);
        match (kind, &node.op) {
            (CostKind::CrossEntropy, Op::Sigmoid) => (CostFn::SigmoidCrossEntropy, node.inputs[0]),
            (CostKind::CrossEntropy, _) => (CostFn::CrossEntropy, output),
            (CostKind::LogLikelihood, Op::Softmax) => {
                (CostFn::SoftmaxLogLikelihood, node.inputs[0])
            }
            (CostKind::LogLikelihood, _) => (CostFn::LogLikelihood, output),
            (CostKind::Quadratic, _) => (CostFn::Quadratic, output),
        }
    }
}

/// The graph output that holds model output `name` in every graph
/// (`prediction(NAME)`, an `OutputKind::Prediction`).
pub fn prediction_name(name: &str) -> String {
    format!("prediction({name})")
}
