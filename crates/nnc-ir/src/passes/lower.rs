//! Pass `lower`: a checked model to its forward graph.
//!
//! Each model node becomes a few IR nodes: a dense layer is
//! `matmul(x, W^T)` (`name.wx`), `bias_add` (`name.z`) and its activation
//! (`name`); a convolution the same with `conv2d`; `flatten` and `reshape`
//! a `reshape` to `[batch, ...]`; dropout, in training graphs only,
//! `x * dropout_mask(step_seed)`. Parameters become inputs read where their
//! layer is applied, so a shared layer's parameters are read twice and
//! autodiff sums their gradients. Under Nesterov momentum, the forward pass
//! reads each parameter at its look-ahead point `w + mu v`.
//!
//! The cost becomes a per-example cost op, reduced to the batch mean
//! (`cost`, training) or sum (`cost_sum`, inference). When the cost reads a
//! sigmoid (cross-entropy) or softmax (log-likelihood) node, it reads that
//! node's operand `z` instead, with the fused, numerically safe formula:
//! the same value, and a gradient `a - y` that never divides by `a (1 - a)`.
//! Inference graphs also output the correct count and every model output.

use crate::error::CompileError;
use crate::graph::{Graph, GraphKind, InputKind, NodeId, OutputKind, Shape};
use crate::ops::{CostFn, Op, PoolGeometry};
use crate::params::{param_specs, ParamSpec};
use nnc_check::program::{self as program, Activation, CostKind, Model};

/// What the forward graph is for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lowering {
    /// Training graphs apply dropout and output the mean cost; inference
    /// graphs do neither and output the cost sum, the correct count and
    /// the model outputs.
    pub training: bool,
    /// `Some(mu)` under Nesterov momentum: the forward pass reads each
    /// parameter `w` as `w + mu v` (`v` its velocity, state `k`).
    pub nesterov_mu: Option<f64>,
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
    let mut lowerer = Lowerer {
        model,
        mode,
        graph: Graph::new(kind, batch_size),
        specs: param_specs(model),
        values: vec![None; model.nodes.len()],
        dropouts: 0,
    };
    lowerer.graph.param_reads = vec![None; lowerer.specs.len()];
    for index in 0..model.nodes.len() {
        let value = lowerer.node(index)?;
        lowerer.values[index] = Some(value);
    }
    lowerer.outputs()?;
    for k in 0..lowerer.specs.len() {
        lowerer.param_read(k)?;
    }
    Ok(lowerer.graph)
}

struct Lowerer<'m> {
    model: &'m Model,
    mode: Lowering,
    graph: Graph,
    specs: Vec<ParamSpec>,
    /// The IR node holding each model node's value.
    values: Vec<Option<NodeId>>,
    /// Dropout nodes lowered so far: the next mask's stream.
    dropouts: u64,
}

impl Lowerer<'_> {
    /// `[batch, ...shape]`.
    fn batched(&self, shape: &[usize]) -> Shape {
        let mut s = vec![self.graph.batch_size];
        s.extend_from_slice(shape);
        s
    }

    /// The IR value of model node `id` (lowered before, by topological order).
    fn value(&self, id: program::NodeId) -> Result<NodeId, CompileError> {
        self.values
            .get(id.0)
            .copied()
            .flatten()
            .ok_or_else(|| CompileError::Internal {
                what: format!("model node {} is read before it is defined", id.0),
            })
    }

    /// Operand `i` of model node `index`.
    fn operand(&self, index: usize, i: usize) -> Result<NodeId, CompileError> {
        let node = &self.model.nodes[index];
        match node.inputs.get(i) {
            Some(&id) => self.value(id),
            None => Err(CompileError::Internal {
                what: format!("model node `{}` lacks operand {i}", node.name),
            }),
        }
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
        let read = match self.mode.nesterov_mu {
            Some(mu) if self.mode.training => {
                let v = self.graph.input_or_add(
                    InputKind::State(k),
                    spec.shape.clone(),
                    format!("{}.velocity", spec.name),
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
                let w = self.param_read(2 * layer.0)?;
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
            } => {
                let x = self.operand(index, 0)?;
                let w = self.param_read(2 * layer.0)?;
                let op = Op::Conv2d {
                    stride: *stride,
                    padding: *padding,
                };
                let wx = self.graph.add(op, vec![x, w], format!("{name}.wx"))?;
                self.bias_and_activation(wx, layer.0, *act, &name)
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
            program::Op::Activation(act) => {
                let x = self.operand(index, 0)?;
                self.activation(x, *act, &name)
            }
            program::Op::Add | program::Op::Sub | program::Op::Mul => {
                let a = self.operand(index, 0)?;
                let b = self.operand(index, 1)?;
                let op = match node.op {
                    program::Op::Add => Op::Add,
                    program::Op::Sub => Op::Sub,
                    _ => Op::Mul,
                };
                self.graph.add(op, vec![a, b], name)
            }
            program::Op::Scale(c) => {
                let x = self.operand(index, 0)?;
                self.graph.add(Op::Scale(*c), vec![x], name)
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
        let b = self.param_read(2 * layer + 1)?;
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
        let mask = self.graph.add(op, vec![seed], format!("{name}.mask"))?;
        self.graph.add(Op::Mul, vec![x, mask], name)
    }

    /// The cost, the correct count and the model outputs.
    fn outputs(&mut self) -> Result<(), CompileError> {
        let (compared, cost) = match &self.model.cost {
            Some(cost) => (self.value(cost.output)?, Some(cost.kind)),
            None => match self.model.outputs.first() {
                Some((_, id)) => (self.value(*id)?, None),
                None => return Ok(()),
            },
        };
        if self.mode.training && cost.is_none() {
            return Err(CompileError::NoCost {
                model: self.model.name.clone(),
            });
        }
        let target_shape = self.graph.shape(compared).to_vec();
        let target = self.graph.add(
            Op::Input {
                kind: InputKind::Target,
                shape: target_shape,
            },
            Vec::new(),
            "target",
        )?;
        if let Some(kind) = cost {
            let (cost_fn, prediction) = self.cost_operand(kind, compared);
            let per_example = self.graph.add(
                Op::Cost(cost_fn),
                vec![prediction, target],
                "cost.per_example",
            )?;
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
            let correct = self
                .graph
                .add(Op::CorrectCount, vec![compared, target], "correct")?;
            self.graph
                .add_output("correct", OutputKind::Correct, correct);
            for (name, id) in &self.model.outputs {
                let node = self.value(*id)?;
                self.graph
                    .add_output(format!("prediction({name})"), OutputKind::Prediction, node);
            }
        }
        Ok(())
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
