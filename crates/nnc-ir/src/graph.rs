//! The graph: an arena of nodes addressed by typed handles, its named
//! outputs, and what it was built for.
//!
//! Nodes are appended and never moved while a pass builds on a graph, so a
//! [`NodeId`] stays valid until a pass that rebuilds the arena
//! (`simplify`, `dce`) hands back a new graph. A node only refers to nodes
//! before it: the arena order is a topological order, and executing the
//! nodes front to back is always correct.

use crate::error::CompileError;
use crate::ops::{Op, ShapeError};
use std::fmt;

/// A static tensor shape, batch dimension included where there is one;
/// `[]` is a scalar.
pub type Shape = Vec<usize>;

/// The handle of a node in a [`Graph`]; prints as `%12`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(u32);

impl NodeId {
    /// The handle of the node at `index` of the arena.
    pub fn new(index: usize) -> Self {
        NodeId(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// The position of the node in the arena.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// One tensor-producing operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<NodeId>,
    /// The shape the op's shape rule gives for the inputs' shapes.
    pub shape: Shape,
    /// A readable name from the model: `dense_1.z`, `grad(dense_1.weight)`.
    /// Names need not be unique (two gradient contributions to one tensor
    /// share a name); handles are the identity.
    pub name: String,
}

/// What a graph input is bound to when the graph runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputKind {
    /// Model input number `k` (in `Model::inputs` order): `[batch, ...]`.
    Data(usize),
    /// The targets of the cost (or of the accuracy): `[batch, ...]`, the
    /// shape of the output they are compared with.
    Target,
    /// Parameter number `k`, in the order of `nnc_lower::param_specs`.
    Param(usize),
    /// Optimizer state number `k`, in the order of
    /// `nnc_lower::optimizer_state`; zero before the first step.
    State(usize),
    /// The learning rate of the step, a scalar.
    LearningRate,
    /// The seed of the step's random numbers (dropout masks). Its value is
    /// a `u64` handed to the executor, not a tensor; the node is a scalar
    /// placeholder that makes the dependency visible.
    StepSeed,
    /// Recurrent state `k` carried from the previous batch (`bptt`): the
    /// value of output `OutputKind::Carry(k)` after the last run of a graph
    /// of the same batch size, zeros at the start of a stream. `[batch,
    /// ...]`; the lowering numbers them (`nnc_lower::carry_names`).
    Carry(usize),
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputKind::Data(k) => write!(f, "data[{k}]"),
            InputKind::Target => write!(f, "target"),
            InputKind::Param(k) => write!(f, "param[{k}]"),
            InputKind::State(k) => write!(f, "state[{k}]"),
            InputKind::LearningRate => write!(f, "learning_rate"),
            InputKind::StepSeed => write!(f, "step_seed"),
            InputKind::Carry(k) => write!(f, "carry[{k}]"),
        }
    }
}

/// What a graph output means to whoever runs the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputKind {
    /// The mean cost of the batch (data term only), a scalar.
    Cost,
    /// The sum of the per-example costs, a scalar.
    CostSum,
    /// For a model of several cost terms, the sum over the examples of term
    /// `k` (in `Model::cost_terms` order), a scalar; inference graphs only.
    CostTermSum(usize),
    /// The number of examples classified correctly, a scalar.
    Correct,
    /// A model output (the activations), `[batch, ...]`.
    Prediction,
    /// The gradient of the cost with respect to parameter `k` (trained
    /// parameters only).
    Gradient(usize),
    /// The value of parameter `k` after the step: the optimizer's for a
    /// trained parameter (pass `update`), the forward pass's for one that
    /// is not trained (running statistics, see [`Graph::add_param_update`]).
    /// Backends write every one back into parameter `k` after a step; a
    /// parameter with no such output keeps its value.
    NewParam(usize),
    /// The value of optimizer state `k` after the step.
    NewState(usize),
    /// The recurrent state `k` at the end of the batch, which the next
    /// batch of the stream starts from (`InputKind::Carry(k)`). Forward
    /// values: no gradient flows back through them (truncated
    /// backpropagation through time).
    Carry(usize),
}

/// A named output of a graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub name: String,
    pub kind: OutputKind,
    pub node: NodeId,
}

/// What the graph computes when run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GraphKind {
    /// One training step: forward, backward, optimizer update.
    Training,
    /// Evaluation: forward without dropout, cost sum and correct count.
    Inference,
}

impl fmt::Display for GraphKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphKind::Training => write!(f, "training"),
            GraphKind::Inference => write!(f, "inference"),
        }
    }
}

/// A graph of typed ops with static shapes.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub kind: GraphKind,
    /// The batch dimension every `[batch, ...]` tensor has.
    pub batch_size: usize,
    nodes: Vec<Node>,
    /// Named outputs, in the order the passes added them.
    pub outputs: Vec<Output>,
    /// For each parameter, the node through which the forward pass reads
    /// it: the parameter input itself, or (Nesterov) its look-ahead value.
    /// Autodiff differentiates with respect to the reads of the trained
    /// parameters. `None` for a parameter that is not trained and that the
    /// forward pass does not read, and once a pass removed the node (after
    /// the update, nothing needs them).
    pub param_reads: Vec<Option<NodeId>>,
}

impl Graph {
    /// An empty graph.
    pub fn new(kind: GraphKind, batch_size: usize) -> Self {
        Graph {
            kind,
            batch_size,
            nodes: Vec::new(),
            outputs: Vec::new(),
            param_reads: Vec::new(),
        }
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node behind a handle of this graph.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    /// The handles of all nodes, in arena (topological) order.
    pub fn ids(&self) -> impl DoubleEndedIterator<Item = NodeId> + ExactSizeIterator {
        (0..self.nodes.len()).map(NodeId::new)
    }

    pub fn shape(&self, id: NodeId) -> &[usize] {
        &self.nodes[id.index()].shape
    }

    /// Appends a node, its shape given by the op's shape rule.
    pub fn add(
        &mut self,
        op: Op,
        inputs: Vec<NodeId>,
        name: impl Into<String>,
    ) -> Result<NodeId, CompileError> {
        let name = name.into();
        let shape = self
            .infer_shape(&op, &inputs)
            .map_err(|error| CompileError::Shape {
                node: name.clone(),
                op: op.mnemonic(),
                error,
            })?;
        Ok(self.push_unchecked(Node {
            op,
            inputs,
            shape,
            name,
        }))
    }

    /// Appends a node as given, without checking it. For passes that copy
    /// verified nodes, and for tests that build broken graphs on purpose;
    /// [`crate::verify()`] finds what is wrong with it.
    pub fn push_unchecked(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        NodeId::new(self.nodes.len() - 1)
    }

    /// The shape `op` gives for `inputs` (all of them nodes of this graph).
    pub fn infer_shape(&self, op: &Op, inputs: &[NodeId]) -> Result<Shape, ShapeError> {
        let shapes: Vec<&[usize]> = inputs
            .iter()
            .map(|id| {
                self.nodes
                    .get(id.index())
                    .map_or(&[][..], |n| n.shape.as_slice())
            })
            .collect();
        op.shape(&shapes)
    }

    /// The input node of `kind`, if the graph has one.
    pub fn input(&self, kind: InputKind) -> Option<NodeId> {
        self.ids()
            .find(|&id| matches!(&self.node(id).op, Op::Input { kind: k, .. } if *k == kind))
    }

    /// The input node of `kind`, added (with `shape` and `name`) when the
    /// graph has none yet.
    pub fn input_or_add(
        &mut self,
        kind: InputKind,
        shape: Shape,
        name: impl Into<String>,
    ) -> Result<NodeId, CompileError> {
        match self.input(kind) {
            Some(id) => Ok(id),
            None => self.add(Op::Input { kind, shape }, Vec::new(), name),
        }
    }

    /// All input nodes with their kinds, in arena order.
    pub fn inputs(&self) -> Vec<(InputKind, NodeId)> {
        self.ids()
            .filter_map(|id| match &self.node(id).op {
                Op::Input { kind, .. } => Some((*kind, id)),
                _ => None,
            })
            .collect()
    }

    /// The output named `name`.
    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// The output of `kind`.
    pub fn output_of(&self, kind: OutputKind) -> Option<&Output> {
        self.outputs.iter().find(|o| o.kind == kind)
    }

    /// Adds a named output.
    pub fn add_output(&mut self, name: impl Into<String>, kind: OutputKind, node: NodeId) {
        self.outputs.push(Output {
            name: name.into(),
            kind,
            node,
        });
    }

    /// Gives parameter `k`, one that is not trained, the value of `node`
    /// after the step: the output `new(NAME)` of kind
    /// [`OutputKind::NewParam`], written back by every backend as the
    /// optimizer's new parameters are. For layers that keep state updated by
    /// the forward pass of a training graph (a running mean of their input);
    /// the shape of `node` must be the parameter's.
    pub fn add_param_update(&mut self, k: usize, param_name: &str, node: NodeId) {
        self.add_output(format!("new({param_name})"), OutputKind::NewParam(k), node);
    }

    /// The first node named `name`.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.ids().find(|&id| self.node(id).name == name)
    }
}

impl fmt::Display for Graph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::print::print(self))
    }
}
