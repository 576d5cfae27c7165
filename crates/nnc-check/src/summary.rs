//! What a checked model costs, layer by layer: `nnc summary`.
//!
//! Conventions (also in docs/language.md):
//! - parameters: the values of every tensor the layer declares (`Layer::params`, trained or not): dense
//!   `(n_in + 1) * units`, conv2d `(kh * kw * channels + 1) * filters`; a layer instance used several times
//!   (shared weights) is counted once, on its first use;
//! - forward FLOPs per example: a multiply-add counts 2, a bias add 1, a non-identity activation 1 per output
//!   value, elementwise ops 1 per output value; flatten, reshape and dropout (an identity at inference) cost
//!   nothing. Counts are exact where windows overhang the input: a convolution counts the multiply-adds of the
//!   kernel taps that land inside the input (padding taps multiply zeros and are not work), a pooling 1 per input
//!   value its clipped windows cover (a comparison or an add);
//! - activation bytes per example: the node's output values times 4 (f32).

use crate::program::{Activation, Model, Op, Shape};
use serde::Serialize;
use std::collections::HashSet;

/// Bytes per stored value (f32).
pub const BYTES_PER_VALUE: u64 = 4;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub model: String,
    pub rows: Vec<SummaryRow>,
    pub total_params: u64,
    pub total_flops: u64,
    pub total_activation_bytes: u64,
    /// The steps of each `unroll` (`Model::unrolls`): the text table shows
    /// the first step's rows and one line for the others.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repeats: Vec<Repeat>,
}

/// Rows `first + per_step ..` `first + steps * per_step`: steps 2 to
/// `steps` of an `unroll` of `block`, each the same ops as rows `first ..`
/// `first + per_step`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Repeat {
    pub block: String,
    pub first: usize,
    pub per_step: usize,
    pub steps: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The node's name, e.g. `dense_1` or `conv_pool_2.conv2d`.
    pub layer: String,
    /// What the node computes, e.g. `dense(30, sigmoid)`.
    pub op: String,
    pub shape: Shape,
    pub params: u64,
    pub flops: u64,
    pub activation_bytes: u64,
}

/// Computes the per-layer costs of `model`.
pub fn summarize(model: &Model) -> Summary {
    let mut seen_layers = HashSet::new();
    let mut rows = Vec::with_capacity(model.nodes.len());
    for node in &model.nodes {
        let out = elements(&node.shape);
        let input = node
            .inputs
            .first()
            .and_then(|id| model.nodes.get(id.0))
            .map(|n| n.shape.as_slice())
            .unwrap_or(&[]);
        let params = match node.op.layer() {
            Some(layer) if seen_layers.insert(layer) => model
                .layers
                .get(layer.0)
                .map_or(0, |l| l.param_count() as u64),
            _ => 0,
        };
        let flops = match &node.op {
            Op::Input | Op::Flatten | Op::Reshape | Op::Dropout { .. } | Op::MaskNoise { .. } => 0,
            // Training only: no work in inference.
            Op::GaussianNoise { .. } => 0,
            // A reference to weights already counted.
            Op::Param { .. } => 0,
            // One addition per value of each example.
            Op::BatchMean => out,
            Op::Dense { act, .. } => {
                // Per step for a sequence: the last axis is the layer's input.
                let n_in = input.last().copied().unwrap_or(0) as u64;
                mul(2, mul(n_in, out))
                    .saturating_add(out)
                    .saturating_add(activation_flops(*act, out))
            }
            Op::Conv2d {
                filters,
                kernel,
                stride,
                padding,
                act,
                ..
            } => {
                let channels = input.first().copied().unwrap_or(0) as u64;
                let taps = covered(input, &node.shape, *kernel, *stride, *padding);
                mul(2, mul(mul(taps, channels), *filters as u64))
                    .saturating_add(out)
                    .saturating_add(activation_flops(*act, out))
            }
            Op::ConvTranspose2d {
                filters,
                kernel,
                act,
                ..
            } => {
                // Every input value meets every tap of its filters.
                let taps = mul(kernel[0] as u64, kernel[1] as u64);
                mul(2, mul(mul(elements(input), taps), *filters as u64))
                    .saturating_add(out)
                    .saturating_add(activation_flops(*act, out))
            }
            // Nearest copies; bilinear weighs two neighbours per axis.
            Op::Upsample { mode, .. } => match mode {
                crate::program::Upsampling::Nearest => 0,
                crate::program::Upsampling::Bilinear => mul(6, out),
            },
            Op::Pool {
                size,
                stride,
                padding,
                ..
            } => {
                let channels = input.first().copied().unwrap_or(0) as u64;
                mul(
                    channels,
                    covered(input, &node.shape, *size, *stride, *padding),
                )
            }
            Op::Activation(act) => activation_flops(*act, out),
            Op::Add
            | Op::Sub
            | Op::Mul
            | Op::Div
            | Op::Min
            | Op::Max
            | Op::Scale(_)
            | Op::Math(_) => out,
            Op::Recurrent {
                cell,
                units,
                layers,
                bidirectional,
                ..
            } => recurrent_flops(*cell, *units, *layers, *bidirectional, input),
            // Copies, no arithmetic.
            Op::Concat { .. } | Op::Slice { .. } | Op::Noise(_) | Op::Zeros | Op::Embed { .. } => 0,
            // One addition per value summed (and a division per result).
            Op::Reduce { mean, .. } => elements(input).saturating_add(if *mean { out } else { 0 }),
        };
        rows.push(SummaryRow {
            layer: node.name.clone(),
            op: describe(&node.op),
            shape: node.shape.clone(),
            params,
            flops,
            activation_bytes: mul(out, BYTES_PER_VALUE),
        });
    }
    let sum = |f: fn(&SummaryRow) -> u64| rows.iter().map(f).fold(0u64, u64::saturating_add);
    Summary {
        model: model.name.clone(),
        total_params: sum(|r| r.params),
        total_flops: sum(|r| r.flops),
        total_activation_bytes: sum(|r| r.activation_bytes),
        rows,
        repeats: model
            .unrolls
            .iter()
            .map(|u| Repeat {
                block: u.block.clone(),
                first: u.first.0,
                per_step: u.per_step,
                steps: u.steps,
            })
            .collect(),
    }
}

/// The (output position, window offset) pairs of one plane whose input
/// position lies inside the input (not in the padding): the product of
/// the counts along the two axes. `input` is `[c, h, w]`, `output` `[_,
/// oh, ow]`; padding is top, bottom, left, right.
fn covered(
    input: &[usize],
    output: &[usize],
    size: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 4],
) -> u64 {
    let (&[_, h, w], &[_, oh, ow]) = (input, output) else {
        return 0;
    };
    // Along one axis: for each output position, the window offsets that
    // land in [0, len).
    let axis = |out: usize, size: usize, stride: usize, pad: usize, len: usize| -> u64 {
        (0..out)
            .map(|o| {
                let start = (o * stride) as i64 - pad as i64;
                let (lo, hi) = (start.max(0), (start + size as i64).min(len as i64));
                (hi - lo).max(0) as u64
            })
            .sum()
    };
    mul(
        axis(oh, size[0], stride[0], padding[0], h),
        axis(ow, size[1], stride[1], padding[2], w),
    )
}

fn elements(shape: &[usize]) -> u64 {
    shape.iter().fold(1u64, |acc, &d| mul(acc, d as u64))
}

fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

fn activation_flops(act: Activation, out: u64) -> u64 {
    match act {
        Activation::Identity => 0,
        _ => out,
    }
}

/// `conv2d(16, 3x3, stride 2x2, relu)`: a convolution as the summary
/// table shows it (the stride when not 1).
fn convolution(
    name: &str,
    filters: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    act: &str,
) -> String {
    let stride = if stride == [1, 1] {
        String::new()
    } else {
        format!(", stride {}x{}", stride[0], stride[1])
    };
    format!(
        "{name}({filters}, {}x{}{stride}{act})",
        kernel[0], kernel[1]
    )
}

/// A short description of an op, as the summary table shows it.
pub fn describe(op: &Op) -> String {
    let act_suffix = |act: &Activation| match act {
        Activation::Identity => String::new(),
        other => format!(", {}", other.name()),
    };
    match op {
        Op::Input => "input".to_string(),
        Op::BatchMean => "batch_mean".to_string(),
        Op::Param { decl, .. } => match decl {
            0 => "weight".to_string(),
            1 => "bias".to_string(),
            d => format!("parameter {d}"),
        },
        Op::Dense { units, act, .. } => format!("dense({units}{})", act_suffix(act)),
        Op::Conv2d {
            filters,
            kernel,
            stride,
            act,
            ..
        } => convolution("conv2d", *filters, *kernel, *stride, &act_suffix(act)),
        Op::ConvTranspose2d {
            filters,
            kernel,
            stride,
            act,
            ..
        } => convolution(
            "conv2d_transpose",
            *filters,
            *kernel,
            *stride,
            &act_suffix(act),
        ),
        Op::Upsample { factor, mode } => {
            let mode = match mode {
                crate::program::Upsampling::Nearest => "nearest",
                crate::program::Upsampling::Bilinear => "bilinear",
            };
            format!("upsample({}x{}, {mode})", factor[0], factor[1])
        }
        Op::Pool { kind, size, .. } => {
            let name = match kind {
                crate::program::PoolKind::Max => "max_pool",
                crate::program::PoolKind::Average => "avg_pool",
                crate::program::PoolKind::L2 => "l2_pool",
            };
            format!("{name}({}x{})", size[0], size[1])
        }
        Op::Flatten => "flatten".to_string(),
        Op::Reshape => "reshape".to_string(),
        Op::Dropout { p } => format!("dropout({p})"),
        Op::MaskNoise { p } => format!("mask_noise({p})"),
        Op::GaussianNoise { std } => format!("gaussian_noise({std})"),
        Op::Activation(act) => act.name().to_string(),
        Op::Add => "add".to_string(),
        Op::Sub => "sub".to_string(),
        Op::Mul => "mul".to_string(),
        Op::Scale(k) => format!("scale({k})"),
        Op::Concat { axis } => format!("concat(axis {axis})"),
        Op::Slice { start, len } => format!("slice [{start}..{}]", start + len),
        Op::Noise(noise) => noise.name().to_string(),
        Op::Zeros => "zeros".to_string(),
        Op::Embed {
            vocabulary, dim, ..
        } => format!("embed({vocabulary}, {dim})"),
        Op::Div => "div".to_string(),
        Op::Min => "min".to_string(),
        Op::Max => "max".to_string(),
        Op::Math(f) => f.describe(),
        Op::Recurrent {
            cell,
            units,
            layers,
            bidirectional,
            all,
            ..
        } => {
            let mut text = format!("{}({units}", cell.name());
            if let crate::program::Cell::Rnn(act) = cell {
                if *act != Activation::Tanh {
                    text.push_str(&format!(", {}", act.name()));
                }
            }
            if *layers > 1 {
                text.push_str(&format!(", {layers} layers"));
            }
            if *bidirectional {
                text.push_str(", bidirectional");
            }
            if !*all {
                text.push_str(", last");
            }
            text.push(')');
            text
        }
        Op::Reduce { axes, mean } => {
            let name = if *mean { "mean" } else { "sum" };
            let axes: Vec<String> = axes.iter().map(|a| a.to_string()).collect();
            format!("{name}(axes {})", axes.join(", "))
        }
    }
}

/// Which parameters each step of a game updates, and which it reads
/// without changing them (`nnc summary` of a file with a game).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GameSummary {
    /// The models of the train block, in order.
    pub players: Vec<String>,
    pub data: String,
    pub steps: Vec<StepSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepSummary {
    /// The model the step updates.
    pub model: String,
    /// The optimizer, as written in the language (`adam(beta1: 0.5, ...)`).
    pub optimizer: String,
    /// The learning rate of each phase: (first epoch, rate).
    pub rates: Vec<(usize, f64)>,
    pub repeat: usize,
    /// The parameter tensors the step updates (`generator.dense_1.weight`).
    pub updates: Vec<String>,
    /// How many values those hold.
    pub updated_values: u64,
    /// The parameter tensors its cost reads but it leaves unchanged.
    pub reads: Vec<String>,
    pub read_values: u64,
}

/// The steps of a game: for each, what it updates and what it only reads.
pub fn summarize_game(spec: &crate::program::TrainSpec) -> Option<GameSummary> {
    if !spec.is_game() {
        return None;
    }
    let steps = spec
        .steps
        .iter()
        .map(|step| {
            let graph = &step.graph;
            let used: HashSet<usize> = graph
                .nodes
                .iter()
                .filter_map(|n| match &n.op {
                    Op::Param { layer, .. } => Some(layer.0),
                    op => op.layer().map(|l| l.0),
                })
                .collect();
            let mut summary = StepSummary {
                model: step.model.clone(),
                optimizer: optimizer_text(&step.optimizer),
                rates: step.rates.clone(),
                repeat: step.repeat,
                updates: Vec::new(),
                updated_values: 0,
                reads: Vec::new(),
                read_values: 0,
            };
            for (index, layer) in graph.layers.iter().enumerate() {
                for param in &layer.params {
                    let name = format!("{}.{}", layer.name, param.name);
                    if param.trained {
                        summary.updates.push(name);
                        summary.updated_values += param.len() as u64;
                    } else if used.contains(&index) {
                        summary.reads.push(name);
                        summary.read_values += param.len() as u64;
                    }
                }
            }
            summary
        })
        .collect();
    Some(GameSummary {
        players: spec.players.clone(),
        data: spec.data.clone(),
        steps,
    })
}

/// An optimizer as the language writes it.
fn optimizer_text(optimizer: &crate::program::Optimizer) -> String {
    use crate::program::Optimizer;
    match optimizer {
        Optimizer::Sgd => "sgd".into(),
        Optimizer::Momentum { mu } => format!("momentum({mu})"),
        Optimizer::Nesterov { mu } => format!("nesterov({mu})"),
        Optimizer::Adam { beta1, beta2, eps } => {
            format!("adam(beta1: {beta1}, beta2: {beta2}, eps: {eps:e})")
        }
    }
}

/// The FLOPs of a recurrent layer over a sequence `input` (`[T, F]`): per
/// step, layer and direction, the gate products (`2 gates units (inputs +
/// units)`) and the cell's pointwise arithmetic (about 2 FLOPs per unit
/// for the plain RNN, 10 for the LSTM and the GRU).
fn recurrent_flops(
    cell: crate::program::Cell,
    units: usize,
    layers: usize,
    bidirectional: bool,
    input: &[usize],
) -> u64 {
    let (steps, features) = match input {
        [t, f] => (*t as u64, *f as u64),
        _ => return 0,
    };
    let dirs: u64 = if bidirectional { 2 } else { 1 };
    let units = units as u64;
    let gates = cell.gates() as u64;
    let pointwise = match cell {
        crate::program::Cell::Rnn(_) => 2,
        _ => 10,
    };
    let mut per_step: u64 = 0;
    for layer in 0..layers {
        let inputs = if layer == 0 { features } else { units * dirs };
        let products = mul(2, mul(mul(gates, units), inputs.saturating_add(units)));
        per_step =
            per_step.saturating_add(mul(dirs, products.saturating_add(mul(pointwise, units))));
    }
    mul(steps, per_step)
}
