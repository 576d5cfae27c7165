//! The checked program: the checker's output and the next stage's input.
//!
//! Everything here is resolved: constants are folded, blocks are expanded
//! into their layers, defaults are filled in, every tensor has a static
//! shape (the batch dimension is implicit and not part of any shape), and
//! every node refers only to nodes before it (the node list of a model is in
//! topological order).

use nnc_diag::data::SplitKind;
use nnc_diag::Span;
pub use nnc_ir::composite::Upsampling;
pub use nnc_ir::window::{PoolKind, Rounding};
use serde::Serialize;

/// A static tensor shape without the batch dimension: `[784]`, `[1, 28, 28]`.
pub type Shape = Vec<usize>;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Program {
    pub models: Vec<Model>,
    pub data: Vec<DataSpec>,
    pub trains: Vec<TrainSpec>,
}

impl Program {
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn data(&self, name: &str) -> Option<&DataSpec> {
        self.data.iter().find(|d| d.name == name)
    }
}

/// Index of a node in [`Model::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct NodeId(pub usize);

/// Index of a parameter set in [`Model::layers`]; nodes that share weights
/// (a `layer` instance used twice) share a `LayerId`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LayerId(pub usize);

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Model {
    pub name: String,
    pub span: Span,
    /// Input nodes, in declaration order.
    pub inputs: Vec<NodeId>,
    /// Named outputs, in declaration order.
    pub outputs: Vec<(String, NodeId)>,
    pub nodes: Vec<Node>,
    /// Parameter-owning layers (dense, conv2d), each with its parameters.
    pub layers: Vec<Layer>,
    /// The cost against the data's labels (`target` is `None`).
    pub cost: Option<Cost>,
    /// Costs against model inputs (`cost quadratic(reconstruction,
    /// target: image, weight: 0.1)`), added to `cost` with their weights.
    pub input_costs: Vec<Cost>,
    /// `cost EXPR`: tensors of one value per example (`[1]`) added to the
    /// cost as they are (an activity penalty, a KL term).
    pub penalties: Vec<Penalty>,
    pub regularizers: Vec<Regularizer>,
    /// `cost_name NAME`: what reports call the total cost (a VAE's
    /// `negative_elbo`); `None` for plain `cost`.
    pub cost_name: Option<String>,
    /// The states `unroll` starts at zero, each as (its `zeros` node, the
    /// node of its value after the last step), in the order they appear.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zero_states: Vec<(NodeId, NodeId)>,
    /// Truncated backpropagation through time (`bptt` in a train block):
    /// the states of `zero_states` and those of the recurrent layers start
    /// each batch where the previous batch of their stream ended, rather
    /// than at zero. `false` as the checker builds a model;
    /// [`Model::carrying`] gives the model a `bptt` run trains.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub carry: bool,
    /// Each `unroll`'s steps, as laid out in `nodes` (for reports that
    /// show one step and count the others).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unrolls: Vec<Unrolled>,
}

/// Where the steps of one `unroll` lie in `Model::nodes`: step `t`'s nodes
/// are `first + t * per_step ..` `first + (t + 1) * per_step`, all of the
/// same ops.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unrolled {
    /// The cell's block name.
    pub block: String,
    /// The first node of the first step.
    pub first: NodeId,
    /// Nodes per step.
    pub per_step: usize,
    pub steps: usize,
}

/// A cost term written as a tensor expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Penalty {
    /// The `[1]` node whose value is added to each example's cost.
    pub node: NodeId,
    /// The `let` name when the cost is written as one (`cost kl`); reports
    /// call the term by it, else `penalty1`, `penalty2`, ...
    pub name: Option<String>,
    pub span: Span,
}

impl Model {
    /// This model with its recurrent state carried from batch to batch
    /// (`carry`), as a train block with `bptt` trains it.
    pub fn carrying(&self) -> Model {
        Model {
            carry: true,
            ..self.clone()
        }
    }

    /// Whether the model has recurrent state that `bptt` can carry: a
    /// recurrent layer, or a state `unroll` starts at zero.
    pub fn has_recurrent_state(&self) -> bool {
        !self.zero_states.is_empty()
            || self
                .nodes
                .iter()
                .any(|n| matches!(n.op, Op::Recurrent { .. }))
    }

    /// Every cost: the labels' first, then those against inputs.
    pub fn costs(&self) -> impl Iterator<Item = &Cost> {
        self.cost.iter().chain(&self.input_costs)
    }

    /// Whether the model's costs all compare outputs with its inputs (an
    /// autoencoder): it reads no labels, has no accuracy, and its
    /// measures (RMSE, MAE, R²) compare the first such output with its
    /// input.
    pub fn reconstructs(&self) -> bool {
        self.cost.is_none() && !self.input_costs.is_empty()
    }

    /// The names of the model's cost terms, in the order the cost adds
    /// them: each cost by its output's name, then each penalty by its
    /// `let` name or as `penalty1`, ... (counting all penalties). Only a
    /// model of several terms reports them one by one.
    pub fn cost_terms(&self) -> Vec<String> {
        let output_name = |id: NodeId| {
            self.outputs
                .iter()
                .find(|(_, o)| *o == id)
                .map_or_else(|| self.node(id).name.clone(), |(n, _)| n.clone())
        };
        self.costs()
            .map(|c| output_name(c.output))
            .chain(self.penalties.iter().enumerate().map(|(k, p)| {
                p.name
                    .clone()
                    .unwrap_or_else(|| format!("penalty{}", k + 1))
            }))
            .collect()
    }

    /// Whether training has something to minimise: a cost or a penalty.
    pub fn has_cost(&self) -> bool {
        self.costs().next().is_some() || !self.penalties.is_empty()
    }
}

impl Op {
    /// Whether a node of this op whose operands are all the same for every
    /// example is too (computed once per batch, with no batch axis):
    /// elementwise arithmetic, functions and reductions. Every other op
    /// reads such operands repeated for each example.
    pub fn keeps_shared(&self) -> bool {
        matches!(
            self,
            Op::Add
                | Op::Sub
                | Op::Mul
                | Op::Div
                | Op::Min
                | Op::Max
                | Op::Scale(_)
                | Op::Math(_)
                | Op::Reduce { .. }
        )
    }

    /// The parameter-owning layer of a dense, conv2d or conv2d_transpose
    /// node.
    pub fn layer(&self) -> Option<LayerId> {
        match self {
            Op::Dense { layer, .. }
            | Op::Conv2d { layer, .. }
            | Op::ConvTranspose2d { layer, .. }
            | Op::Recurrent { layer, .. }
            | Op::Embed { layer, .. } => Some(*layer),
            _ => None,
        }
    }
}

impl Model {
    /// For each node, whether its value is the same for every example: a
    /// parameter (`weight(enc)`), a mean over the batch (`batch_mean(x)`),
    /// or an op that keeps that
    /// ([`Op::keeps_shared`]) of such operands alone. Such values have no
    /// batch axis in the IR; other ops read them repeated per example.
    pub fn shared_nodes(&self) -> Vec<bool> {
        let mut shared: Vec<bool> = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let is = match node.op {
                Op::Param { .. } | Op::BatchMean => true,
                ref op => {
                    op.keeps_shared()
                        && !node.inputs.is_empty()
                        && node
                            .inputs
                            .iter()
                            .all(|i| shared.get(i.0).copied().unwrap_or(false))
                }
            };
            shared.push(is);
        }
        shared
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }
}

/// One tensor-producing operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// A readable, unique path: `image`, `dense_1`, `conv_pool_2.conv2d`,
    /// or the `let` name when the node is the value of a `let`.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<NodeId>,
    pub shape: Shape,
    /// Where the node came from in the source (the layer call).
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Op {
    Input,
    /// `weight(enc)`, `bias(enc)`: declaration `decl` of layer `layer` (a
    /// `layer` instance's), as a tensor of the parameter's shape, the same
    /// for every example (see [`Model::shared_nodes`]).
    Param {
        layer: LayerId,
        decl: usize,
    },
    /// `batch_mean(x)`: the mean of `x` over the examples of the batch (a
    /// sparse autoencoder's mean activation per unit), the same for every
    /// example.
    BatchMean,
    /// `x W^T + b`, then the activation; weights in `layer`.
    Dense {
        layer: LayerId,
        units: usize,
        act: Activation,
    },
    Conv2d {
        layer: LayerId,
        filters: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        /// top, bottom, left, right
        padding: [usize; 4],
        act: Activation,
    },
    /// `conv2d_transpose(filters, kernel, ...)`: the transpose of
    /// `conv2d` (each input pixel adds a kernel-sized window of outputs,
    /// `stride` apart), then the activation; weights
    /// `[in_channels, filters, kh, kw]` in `layer`. `padding` (top,
    /// bottom, left, right) removes output rows and columns;
    /// `output_padding` adds rows and columns at the bottom and right.
    ConvTranspose2d {
        layer: LayerId,
        filters: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 4],
        output_padding: [usize; 2],
        act: Activation,
    },
    /// `upsample(factor, mode: nearest | bilinear)`: each axis of an image
    /// `factor` times larger.
    Upsample {
        factor: [usize; 2],
        mode: Upsampling,
    },
    Pool {
        kind: PoolKind,
        size: [usize; 2],
        stride: [usize; 2],
        /// top, bottom, left, right
        padding: [usize; 4],
        rounding: Rounding,
    },
    Flatten,
    Reshape,
    Dropout {
        p: f64,
    },
    /// `mask_noise(p)`: in training, each value is set to zero with
    /// probability `p` and kept as it is otherwise (the denoising
    /// autoencoder's corruption; unlike dropout, nothing is rescaled); the
    /// identity in evaluation.
    MaskNoise {
        p: f64,
    },
    /// `gaussian_noise(std)`: in training, N(0, std²) noise added to each
    /// value (the denoising autoencoder's other corruption); the identity
    /// in evaluation.
    GaussianNoise {
        std: f64,
    },
    Activation(Activation),
    Add,
    Sub,
    Mul,
    /// Elementwise `a / b`.
    Div,
    /// Elementwise `min(a, b)`, `max(a, b)`.
    Min,
    Max,
    /// Multiplies by a constant.
    Scale(f64),
    /// An elementwise function of one tensor: `exp(x)`, `x + 1`, ...
    Math(MathFn),
    /// `normal(shape)`, `uniform(shape)`: noise of `shape` per example
    /// (standard normal, or uniform on [0, 1)), drawn anew at every
    /// training step from the run's seed, and in evaluation from a fixed
    /// evaluation seed, so that measurements repeat.
    Noise(nnc_ir::rng::Noise),
    /// `concat(a, b, ..., axis: k)`: the operands joined along axis `k` of
    /// the example.
    Concat {
        axis: usize,
    },
    /// `x[a..b]`: positions `start .. start + len` of the example's first
    /// axis.
    Slice {
        start: usize,
        len: usize,
    },
    /// `rnn(units)`, `lstm(units)`, `gru(units)`: a recurrent layer over a
    /// sequence `[T, features]`, `layers` of them stacked, each direction
    /// with its own weights in `layer` (see [`Cell`] for the declarations
    /// and formulas); the hidden state of every step `[T, units * dirs]`
    /// (`all`) or of the last step `[units * dirs]` (for the backward
    /// direction, its state after reading step 0).
    Recurrent {
        layer: LayerId,
        cell: Cell,
        units: usize,
        layers: usize,
        bidirectional: bool,
        all: bool,
    },
    /// `embed(vocabulary, dim)`: row `x_i` of the `[vocabulary, dim]`
    /// table `weight` of `layer` for each index `x_i` of the input (an
    /// index outside the table reads zeros).
    Embed {
        layer: LayerId,
        vocabulary: usize,
        dim: usize,
    },
    /// Zeros of the node's shape for every example: the initial state of
    /// a cell that `unroll` runs.
    Zeros,
    /// `sum(x)`, `mean(x, axis: k)`: the sum (or mean) over `axes` of the
    /// example's shape (0-based, sorted), which disappear; reducing every
    /// axis leaves `[1]`.
    Reduce {
        axes: Vec<usize>,
        mean: bool,
    },
}

/// The cell of a recurrent layer. Each layer and direction of a
/// recurrent layer declares `weight_ih_lK` (`[gates * units, inputs]`),
/// `weight_hh_lK` (`[gates * units, units]`) and its biases, with the
/// suffix `_reverse` for the backward direction; the gates' rows are in
/// the order below. With `x W^T` written `W x`:
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Cell {
    /// `h_t = act(W_ih x_t + W_hh h_{t-1} + b)`: the plain RNN; bias
    /// `bias_lK` `[units]`.
    Rnn(Activation),
    /// Gates `i, f, g, o`: `[i f g o] = W_ih x_t + W_hh h_{t-1} + b`,
    /// `c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g)`,
    /// `h_t = sigmoid(o) tanh(c_t)`; bias `bias_lK` `[4 units]`.
    Lstm,
    /// Gates `r, z, n`, the reset gate applied after the recurrent product
    /// (as cuDNN and PyTorch do, so the three products are one):
    /// `a = W_ih x_t + b_ih`, `b = W_hh h_{t-1} + b_hh`,
    /// `r = sigmoid(a_r + b_r)`, `z = sigmoid(a_z + b_z)`,
    /// `n = tanh(a_n + r b_n)`, `h_t = (1 - z) n + z h_{t-1}`; biases
    /// `bias_ih_lK` and `bias_hh_lK`, `[3 units]` each.
    Gru,
}

impl Cell {
    /// The gate blocks of the weights: 1, 4 or 3.
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn(_) => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }

    /// The builtin's name.
    pub fn name(self) -> &'static str {
        match self {
            Cell::Rnn(_) => "rnn",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }

    /// The bias declarations of one layer and direction (`suffix` is
    /// `_l0`, `_l1_reverse`, ...).
    pub fn bias_names(self, suffix: &str) -> Vec<String> {
        match self {
            Cell::Gru => vec![format!("bias_ih{suffix}"), format!("bias_hh{suffix}")],
            _ => vec![format!("bias{suffix}")],
        }
    }
}

/// The suffix of the declarations of layer `layer`, direction `reverse`,
/// of a recurrent layer: `_l0`, `_l0_reverse`, `_l1`, ...
pub fn recurrent_suffix(layer: usize, reverse: bool) -> String {
    if reverse {
        format!("_l{layer}_reverse")
    } else {
        format!("_l{layer}")
    }
}

/// The elementwise functions of one tensor in tensor expressions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum MathFn {
    Exp,
    /// The natural logarithm.
    Log,
    Sqrt,
    Abs,
    Square,
    Neg,
    /// `x^p` for a constant `p`.
    Pow(f64),
    /// `x + c` for a constant `c`.
    AddConst(f64),
    /// `detach(x)`: `x`, through which no gradient flows back (what one
    /// step of a GAN reads of the model another step trains).
    Detach,
}

impl MathFn {
    /// The functions called by name, with their names.
    pub const NAMED: [(&'static str, MathFn); 6] = [
        ("exp", MathFn::Exp),
        ("log", MathFn::Log),
        ("sqrt", MathFn::Sqrt),
        ("abs", MathFn::Abs),
        ("square", MathFn::Square),
        ("detach", MathFn::Detach),
    ];

    /// How it is written in `nnc summary`.
    pub fn describe(self) -> String {
        match self {
            MathFn::Pow(p) => format!("pow({p})"),
            MathFn::AddConst(c) => format!("+ {c}"),
            MathFn::Neg => "neg".into(),
            other => MathFn::NAMED
                .iter()
                .find(|(_, f)| *f == other)
                .map_or_else(String::new, |(n, _)| n.to_string()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Activation {
    Identity,
    Sigmoid,
    Tanh,
    Relu,
    Softmax,
    Step,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x sigmoid(x)`, also called swish.
    Silu,
}

impl Activation {
    /// Every activation by name (a name listed twice is an alias; the
    /// first is the one shown).
    pub const ALL: [(&'static str, Activation); 9] = [
        ("identity", Activation::Identity),
        ("sigmoid", Activation::Sigmoid),
        ("tanh", Activation::Tanh),
        ("relu", Activation::Relu),
        ("softmax", Activation::Softmax),
        ("step", Activation::Step),
        ("softplus", Activation::Softplus),
        ("silu", Activation::Silu),
        ("swish", Activation::Silu),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("identity")
    }
}

/// The parameters of one layer (one dense or conv2d layer today; a shared
/// `layer` instance has one), as a list of named declarations.
///
/// Everything downstream follows the list: the IR's parameter layout
/// (`nnc_lower::params::param_specs`, one tensor per declaration, in this
/// order, named `LAYER.NAME`), initialisation, the optimizer (trained
/// declarations only), weight decay (declarations with `decay`),
/// `--trace grad-norms`, `nnc summary` and checkpoints. Only the code that
/// builds a layer (`layers.rs`) knows which declarations a kind of layer
/// has: dense and conv2d declare `weight` then `bias`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    pub name: String,
    /// The declarations, in the order of the layer's tensors.
    pub params: Vec<Param>,
    /// Inputs feeding one output unit (n_in, or channels*kh*kw).
    pub fan_in: usize,
    /// Outputs one input unit feeds (units, or filters*kh*kw).
    pub fan_out: usize,
    pub span: Span,
}

impl Layer {
    /// The number of values of every declaration, trained or not.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(Param::len).sum()
    }

    /// The number of values of the trained declarations.
    pub fn trained_param_count(&self) -> usize {
        self.params
            .iter()
            .filter(|p| p.trained)
            .map(Param::len)
            .sum()
    }

    /// The declaration named `name` (`weight`, `bias`, ...).
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The position of the declaration named `name` in [`Layer::params`].
    pub fn param_index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p.name == name)
    }
}

/// What a parameter is to a layer. The role sets what the tools do with a
/// parameter by default (`--trace grad-norms` reports weights as `dC/dW`
/// and biases as `dC/db`); whether it is trained and decayed are the
/// declaration's own flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ParamRole {
    /// A matrix or filter bank the input is multiplied by.
    Weight,
    /// An offset added to the weighted input.
    Bias,
    /// A per-feature scale (layer norm's and batch norm's gamma).
    Gain,
    /// A per-feature offset after a normalisation (beta).
    Shift,
    /// State the forward pass keeps, not trained (batch norm's running
    /// mean and variance).
    Statistic,
}

impl ParamRole {
    pub fn name(self) -> &'static str {
        match self {
            ParamRole::Weight => "weight",
            ParamRole::Bias => "bias",
            ParamRole::Gain => "gain",
            ParamRole::Shift => "shift",
            ParamRole::Statistic => "statistic",
        }
    }
}

/// One tensor a layer declares.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    /// Unique in the layer: `weight`, `bias`, `gain`, `running_mean`.
    /// The tensor is named `LAYER.NAME` (`dense_1.weight`).
    pub name: String,
    pub role: ParamRole,
    /// Dense weight: `[units, n_in]`; conv2d weight: `[filters, channels,
    /// kh, kw]`; biases: `[units]` or `[filters]`.
    pub shape: Shape,
    /// Its initial values (fans from the layer's `fan_in` and `fan_out`).
    pub init: Init,
    /// Whether L1 and L2 regularization decay it (weights only today).
    pub decay: bool,
    /// Trained by the optimizer (it gets a gradient, an update and
    /// optimizer state); `false` for state that the forward pass of a
    /// training step updates instead, like running statistics. A
    /// declaration that is not trained is never decayed.
    pub trained: bool,
}

impl Param {
    /// A trained weight, decayed by L1 and L2 regularization.
    pub fn weight(shape: Shape, init: Init) -> Self {
        Param {
            name: "weight".to_string(),
            role: ParamRole::Weight,
            shape,
            init,
            decay: true,
            trained: true,
        }
    }

    /// A trained bias, never decayed.
    pub fn bias(shape: Shape, init: Init) -> Self {
        Param {
            name: "bias".to_string(),
            role: ParamRole::Bias,
            shape,
            init,
            decay: false,
            trained: true,
        }
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Init {
    /// N(0, std^2); `gaussian(1.0)` is the book's old init.
    Gaussian {
        std: f64,
    },
    /// N(0, 1/n_in): std = 1/sqrt(fan_in), the book's default for weights.
    ScaledGaussian,
    Zeros,
    Constant(f64),
    /// Explicit values in row-major order, exactly as many as the parameter has.
    Values(Vec<f64>),
    /// Glorot uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
    Xavier,
    /// N(0, 2/fan_in).
    He,
    /// U(-l, l), l = 1/sqrt(fan_in): PyTorch's default for the weights and
    /// biases of `nn.Linear` and `nn.Conv2d`.
    ScaledUniform,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cost {
    pub kind: CostKind,
    /// The output the cost applies to.
    pub output: NodeId,
    /// What the output is compared with: the data's labels (`None`) or a
    /// model input (an autoencoder's reconstruction of its image).
    pub target: Option<NodeId>,
    /// The factor of this term in the model's cost (1 by default).
    pub weight: f64,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum CostKind {
    Quadratic,
    CrossEntropy,
    LogLikelihood,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Regularizer {
    L2 { lambda: f64, span: Span },
    L1 { lambda: f64, span: Span },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataSpec {
    pub name: String,
    pub span: Span,
    pub train: Option<Split>,
    pub validation: Option<Split>,
    pub test: Option<Split>,
    /// Pixels/features are multiplied by this.
    pub scale: f64,
    pub labels: Labels,
    /// `augment [...]`: random changes to each training input, in order,
    /// after scaling; never to the other splits.
    pub augment: Vec<AugmentOp>,
}

/// One random change of `augment [...]`, drawn anew for every training
/// example of every step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum AugmentOp {
    /// `shift(n)`: move the image by whole pixels, `-n..=n` in each
    /// direction, filling with zeros.
    Shift { pixels: usize },
    /// `rotate(degrees)`: turn the image about its centre by an angle in
    /// `[-degrees, degrees]`, sampling bilinearly, filling with zeros.
    Rotate { degrees: f64 },
    /// `flip(horizontal)`, `flip(vertical)`: mirror with probability ½.
    Flip { axis: FlipAxis },
    /// `crop(pad: p)`: pad by `p` zero pixels on every side and take a
    /// window of the original size at a random position.
    Crop { pad: usize },
    /// `noise(sigma)`: add Gaussian noise of this standard deviation to
    /// every value.
    Noise { sigma: f64 },
}

impl AugmentOp {
    /// Whether the change moves pixels (and so needs images).
    pub fn is_spatial(&self) -> bool {
        !matches!(self, AugmentOp::Noise { .. })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FlipAxis {
    /// Left and right swap.
    Horizontal,
    /// Top and bottom swap.
    Vertical,
}

/// A split: a source and an optional `[start..end)` range of its examples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Split {
    pub source: Source,
    pub start: Option<SliceBound>,
    pub end: Option<SliceBound>,
    pub span: Span,
    /// `validation holdout(0.1)`: the split is a seeded random share of
    /// the training split's examples (`source`, `start` and `end` are the
    /// training split's), which training then goes without.
    pub holdout: Option<Holdout>,
}

/// A bound of a split's slice: an example index (`src[..50_000]`), or a
/// fraction of the source's examples (`src[..0.9]`: the first 90%).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum SliceBound {
    Index(usize),
    /// In `(0, 1)`: `round(fraction * count)` examples.
    Fraction(f64),
}

impl SliceBound {
    /// The example index it names in a source of `count` examples.
    pub fn resolve(self, count: usize) -> usize {
        match self {
            SliceBound::Index(i) => i,
            SliceBound::Fraction(f) => ((f * count as f64).round() as usize).min(count),
        }
    }
}

/// A share of the training examples held out for a split.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Holdout {
    /// In `(0, 1)`.
    pub fraction: f64,
    /// Seeds the shuffle that picks the examples (not the training seed,
    /// so that runs of any seed measure the same examples).
    pub seed: u64,
}

/// Where examples come from. Paths are as written, relative to the folder
/// of the `.nnet` file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Source {
    Idx {
        images: String,
        /// The labels file; `None` for unlabelled images (`labels none`).
        labels: Option<String>,
        span: Span,
    },
    Csv {
        path: String,
        /// `None`: the file has no label column, every column is an input
        /// (`csv(path)` in data with `labels none`).
        label: Option<LabelColumn>,
        header: bool,
        span: Span,
    },
    Folder {
        path: String,
        size: Shape,
        span: Span,
    },
    /// `text(path, context: T)`: a text file (UTF-8, gzipped or not) read
    /// as characters; example `k` is the `T` characters from `k T` on
    /// (as indices into the vocabulary) and, as its labels, the `T`
    /// characters one further on (each step's next character).
    Text {
        path: String,
        context: usize,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum LabelColumn {
    Name(String),
    Index(usize),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Labels {
    /// Class index -> one-hot vector of this many classes.
    OneHot { classes: usize, span: Span },
    /// Class index kept as is.
    Index,
    /// The label is a real-valued target (regression).
    Value,
    /// No labels (`labels none`): for models whose costs compare outputs
    /// with their inputs, such as autoencoders.
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrainSpec {
    pub model: String,
    pub data: String,
    pub span: Span,
    /// Gradient clipping, for every phase.
    pub clip: Clip,
    pub epochs: usize,
    pub seed: u64,
    /// Phase 0 starts at epoch 1; later phases at their `at epoch N`.
    pub phases: Vec<Phase>,
    pub decay: Option<PlateauDecay>,
    pub early_stop: Option<EarlyStop>,
    /// Measured and reported after every epoch (`metrics [...]`); without
    /// the setting, the accuracy (for `labels value`: the cost, RMSE and
    /// R²) of each evaluation split the data has, or of the training data
    /// if none.
    pub metrics: Vec<Metric>,
    /// `keep_best METRIC`: keep the best epoch's checkpoint by this metric
    /// (as `nnc run --keep-best METRIC`, which overrides it).
    pub keep_best: Option<Metric>,
    /// The models the header names, in order (`train generator,
    /// discriminator on mnist`); one for ordinary training, `model`.
    pub players: Vec<String>,
    /// The `step` sections of a training of several models against each
    /// other, in the order they run on every mini-batch; empty for one
    /// model.
    pub steps: Vec<StepSpec>,
    /// `bptt T`: truncated backpropagation through time over windows of
    /// `T` steps, the recurrent state carried from each window of a stream
    /// to the next ([`Model::carrying`]); `None`: every example starts
    /// from zero state.
    pub bptt: Option<usize>,
}

impl TrainSpec {
    /// Whether several models train against each other in `step`s.
    pub fn is_game(&self) -> bool {
        !self.steps.is_empty()
    }

    /// For a game: the model that holds every player's parameters (each
    /// step's graph has them all, in the same order, with the same names
    /// `PLAYER.LAYER.NAME`): what checkpoints hold and `init_params`
    /// initialises.
    pub fn game_params(&self) -> Option<&Model> {
        self.steps.first().map(|s| &s.graph)
    }

    /// The models whose training graphs the block's optimizer steps run,
    /// each with the optimizer of each phase: the model it trains, or for
    /// a game each step's graph with the step's optimizer. For tools and
    /// tests that compile every graph a file trains.
    pub fn trained_graphs<'p>(
        &'p self,
        program: &'p Program,
    ) -> Vec<(&'p Model, Vec<&'p Optimizer>)> {
        if self.is_game() {
            return self
                .steps
                .iter()
                .map(|s| (&s.graph, vec![&s.optimizer]))
                .collect();
        }
        program
            .model(&self.model)
            .map(|m| (m, self.phases.iter().map(|p| &p.optimizer).collect()))
            .into_iter()
            .collect()
    }

    /// For a game, the model its data is loaded and checked for: `real`
    /// as its only input, no outputs and no costs, so the examples are
    /// shaped as `real` and the labels kept as they are.
    pub fn data_view(&self) -> Option<Model> {
        let step = self.steps.first()?;
        let mut model = step.graph.clone();
        // Reports about the data name the model and input `real` is
        // shaped as: `discriminator`, `image`.
        if let Some(player) = self.players.last() {
            model.name = player.clone();
        }
        if let Some(node) = model.inputs.first().and_then(|r| model.nodes.get_mut(r.0)) {
            node.name = step.real_input.clone();
        }
        model.inputs.truncate(1);
        model.outputs.clear();
        model.penalties.clear();
        Some(model)
    }

    /// For a game, what each epoch reports, in order: the cost of each
    /// step (named after the model it updates, `discriminator`), then the
    /// mean of each monitored output of each step (`discriminator(real)`).
    pub fn game_terms(&self) -> Vec<String> {
        let costs = self.steps.iter().map(StepSpec::cost_name);
        let monitors = self
            .steps
            .iter()
            .flat_map(|s| s.graph.outputs.iter().map(|(name, _)| name.clone()));
        costs.chain(monitors).collect()
    }
}

/// One `step MODEL { ... }` section: an optimizer step of one model on a
/// cost that may read the others (which it does not change).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepSpec {
    /// The model the step updates.
    pub model: String,
    /// Where `step NAME` is written.
    pub span: Span,
    /// The input of the last model of the block that `real` is shaped as
    /// (`image`); `real`'s node points at its declaration.
    pub real_input: String,
    /// `repeat k`: the step runs `k` times per mini-batch (on the same
    /// real examples, with fresh noise each time).
    pub repeat: usize,
    pub optimizer: Optimizer,
    /// The learning rate from each start epoch on (`learning_rate`, then
    /// each `at epoch N { learning_rate ... }`), in order of epochs.
    pub rates: Vec<(usize, f64)>,
    /// The step as a model: input 0 is `real`, the mini-batch's examples;
    /// input 1, when the data has `labels one_hot(k)`, is `labels`, their
    /// one-hot classes. Its layers are every player's (the same list in
    /// every step); only the updated model's are trained. Its penalties
    /// are the step's costs; its outputs are the reported values: each
    /// `report NAME`, or without any, each call of the updated model that
    /// gives one value per example, named by its source text
    /// (`discriminator(fake)`).
    pub graph: Model,
}

impl StepSpec {
    /// The learning rate in `epoch` (1-based).
    pub fn rate_at(&self, epoch: usize) -> f64 {
        self.rates
            .iter()
            .rev()
            .find(|(start, _)| *start <= epoch)
            .or(self.rates.first())
            .map_or(0.0, |(_, rate)| *rate)
    }

    /// How reports name the step's cost: after its model (a model has at
    /// most one step, E0103).
    pub fn cost_name(&self) -> String {
        self.model.clone()
    }
}

/// Settings in force from `start_epoch` (1-based) until the next phase.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phase {
    pub start_epoch: usize,
    pub optimizer: Optimizer,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub span: Span,
}

/// Gradient clipping (`clip_norm 5.0`, `clip_value 1.0`): applied to the
/// gradients of every step before the optimizer reads them, value first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Clip {
    /// Every gradient value into `[-v, v]`.
    pub value: Option<f64>,
    /// The gradients scaled by `min(1, c / norm)`, `norm` the Euclidean
    /// norm of all of them together.
    pub norm: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Optimizer {
    Sgd,
    Momentum { mu: f64 },
    Nesterov { mu: f64 },
    Adam { beta1: f64, beta2: f64, eps: f64 },
}

/// What a metric measures on a split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Measure {
    /// Mean cost per example (data term only).
    Cost,
    /// Share of examples whose first largest output is the true class.
    Accuracy,
    /// Share of examples whose true class is among the `k` largest outputs
    /// (ties broken towards the lower index, as `Accuracy` does, so
    /// `TopK(1)` is the accuracy).
    TopK(usize),
    /// Mean absolute error over every output value.
    Mae,
    /// Root of the mean squared error over every output value.
    Rmse,
    /// Coefficient of determination, `1 - Σ SSE / Σ SST` over the output
    /// components (each SST about its component's mean).
    R2,
}

impl Measure {
    /// The measures written after the split in a metric's name.
    pub const NAMED: [(&'static str, Measure); 5] = [
        ("cost", Measure::Cost),
        ("accuracy", Measure::Accuracy),
        ("mae", Measure::Mae),
        ("rmse", Measure::Rmse),
        ("r2", Measure::R2),
    ];

    /// Costs and errors improve downwards, accuracies and R² upwards.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Measure::Accuracy | Measure::TopK(_) | Measure::R2)
    }

    /// Classification measures: meaningless for `labels value`.
    pub fn classifies(self) -> bool {
        matches!(self, Measure::Accuracy | Measure::TopK(_))
    }

    /// Measures read from the model's outputs on the host rather than from
    /// the backend's sums (the cost and the correct count).
    pub fn needs_outputs(self) -> bool {
        matches!(
            self,
            Measure::TopK(_) | Measure::Mae | Measure::Rmse | Measure::R2
        )
    }

    /// The measure's part of a metric name: `cost`, `top5_accuracy`, ...
    pub fn name(self) -> String {
        match self {
            Measure::TopK(k) => format!("top{k}_accuracy"),
            other => Measure::NAMED
                .iter()
                .find(|(_, m)| *m == other)
                .map_or_else(String::new, |(n, _)| n.to_string()),
        }
    }

    /// `cost`, `accuracy`, `mae`, `rmse`, `r2` or `topK_accuracy` (K >= 1).
    pub fn parse(name: &str) -> Option<Measure> {
        if let Some((_, m)) = Measure::NAMED.iter().find(|(n, _)| *n == name) {
            return Some(*m);
        }
        let k = name.strip_prefix("top")?.strip_suffix("_accuracy")?;
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_digit()) || k.starts_with('0') {
            return None;
        }
        k.parse().ok().map(Measure::TopK)
    }
}

/// A measure on a split, named `SPLIT_MEASURE`: `validation_accuracy`,
/// `test_rmse`, `validation_top5_accuracy`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Metric {
    pub split: SplitKind,
    pub measure: Measure,
}

impl Metric {
    pub const TRAIN_COST: Metric = Metric::new(SplitKind::Train, Measure::Cost);
    pub const TRAIN_ACCURACY: Metric = Metric::new(SplitKind::Train, Measure::Accuracy);
    pub const VALIDATION_COST: Metric = Metric::new(SplitKind::Validation, Measure::Cost);
    pub const VALIDATION_ACCURACY: Metric = Metric::new(SplitKind::Validation, Measure::Accuracy);
    pub const TEST_COST: Metric = Metric::new(SplitKind::Test, Measure::Cost);
    pub const TEST_ACCURACY: Metric = Metric::new(SplitKind::Test, Measure::Accuracy);

    pub const fn new(split: SplitKind, measure: Measure) -> Metric {
        Metric { split, measure }
    }

    /// The names a file can write, but for top-k accuracies (any `k`), in
    /// the order messages list them: every named measure on every split.
    pub fn names() -> Vec<(String, Metric)> {
        [SplitKind::Train, SplitKind::Validation, SplitKind::Test]
            .into_iter()
            .flat_map(|split| {
                Measure::NAMED
                    .iter()
                    .map(move |(_, m)| Metric::new(split, *m))
            })
            .map(|m| (m.name(), m))
            .collect()
    }

    /// `SPLIT_MEASURE`, e.g. `validation_top5_accuracy`.
    pub fn parse(name: &str) -> Option<Metric> {
        [SplitKind::Train, SplitKind::Validation, SplitKind::Test]
            .into_iter()
            .find_map(|split| {
                let rest = name.strip_prefix(split.name())?.strip_prefix('_')?;
                Measure::parse(rest).map(|m| Metric::new(split, m))
            })
    }

    pub fn name(self) -> String {
        format!("{}_{}", self.split.name(), self.measure.name())
    }

    /// Costs and errors improve downwards, accuracies and R² upwards.
    pub fn higher_is_better(self) -> bool {
        self.measure.higher_is_better()
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// Multiply the learning rate by `factor` when `metric` has not improved for
/// `patience` epochs; stop training once the rate falls below
/// `stop_below * initial rate`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlateauDecay {
    pub metric: Metric,
    pub factor: f64,
    pub patience: usize,
    pub stop_below: Option<f64>,
    pub span: Span,
}

/// Stop when `metric` has not improved for `patience` epochs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EarlyStop {
    pub metric: Metric,
    pub patience: usize,
    /// When the run stops early, the parameters return to the best epoch's
    /// (`restore_best: true`), so what is saved and evaluated last is the
    /// best model rather than the last one.
    pub restore_best: bool,
    pub span: Span,
}
