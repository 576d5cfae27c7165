//! Layers written as composites of IR primitives: no op of their own, so
//! their gradients come from the primitives' rules and every backend runs
//! them as it runs the primitives (fused like any other ops).

use crate::error::CompileError;
use crate::graph::{Graph, NodeId};
use crate::ops::{Op, ShapeError};

/// Layer normalisation of `x [..., n]` over its last axis:
/// `(x - mean) / sqrt(var + eps) * gain + shift`, with `gain` and `shift`
/// of shape `[n]`, the mean and the (biased) variance of each row of `n`
/// values. Nodes are named `{name}.mean`, `{name}.var`, ... and the result
/// `name`.
pub fn layer_norm(
    graph: &mut Graph,
    x: NodeId,
    gain: NodeId,
    shift: NodeId,
    eps: f64,
    name: &str,
) -> Result<NodeId, CompileError> {
    let shape = graph.shape(x).to_vec();
    let last = shape.len().saturating_sub(1);
    let row = |graph: &mut Graph, v: NodeId, what: &str| {
        let expand = Op::Expand {
            axes: vec![last],
            shape: shape.clone(),
        };
        graph.add(expand, vec![v], format!("{name}.{what}"))
    };
    let feature = |graph: &mut Graph, v: NodeId, what: &str| {
        let expand = Op::Expand {
            axes: (0..last).collect(),
            shape: shape.clone(),
        };
        graph.add(expand, vec![v], format!("{name}.{what}"))
    };
    let mean_of = |graph: &mut Graph, v: NodeId, what: &str| {
        mean(graph, v, &[last], &format!("{name}.{what}"))
    };
    let average = mean_of(graph, x, "mean")?;
    let mean_rows = row(graph, average, "mean_rows")?;
    let centred = graph.add(Op::Sub, vec![x, mean_rows], format!("{name}.centred"))?;
    let squares = graph.add(Op::Square, vec![centred], format!("{name}.squares"))?;
    let var = mean_of(graph, squares, "var")?;
    let var_eps = graph.add(Op::AddConst(eps), vec![var], format!("{name}.var_eps"))?;
    let inv_std = graph.add(Op::Pow(-0.5), vec![var_eps], format!("{name}.inv_std"))?;
    let inv_std_rows = row(graph, inv_std, "inv_std_rows")?;
    let normal = graph.add(
        Op::Mul,
        vec![centred, inv_std_rows],
        format!("{name}.normal"),
    )?;
    let gain_rows = feature(graph, gain, "gain_rows")?;
    let scaled = graph.add(Op::Mul, vec![normal, gain_rows], format!("{name}.scaled"))?;
    let shift_rows = feature(graph, shift, "shift_rows")?;
    graph.add(Op::Add, vec![scaled, shift_rows], name)
}

/// The mean of `x` over `axes` (sorted, distinct), which disappear: the
/// sum over them times one over the number of values summed. The sum is
/// named `{name}_sum`, the mean `name`.
pub fn mean(
    graph: &mut Graph,
    x: NodeId,
    axes: &[usize],
    name: &str,
) -> Result<NodeId, CompileError> {
    let shape = graph.shape(x).to_vec();
    let count: usize = axes.iter().filter_map(|&a| shape.get(a)).product();
    let sum = graph.add(
        Op::SumAxes {
            axes: axes.to_vec(),
        },
        vec![x],
        format!("{name}_sum"),
    )?;
    graph.add(Op::Scale(1.0 / count.max(1) as f64), vec![sum], name)
}

/// Softmax of `x` along `axis`: the existing per-example softmax on `x`
/// with `axis` moved last (`permute`) and the other axes flattened into
/// rows (`reshape`), then the layout restored.
pub fn softmax(
    graph: &mut Graph,
    x: NodeId,
    axis: usize,
    name: &str,
) -> Result<NodeId, CompileError> {
    let (moved, perm) = axis_last(graph, x, axis, name)?;
    let shape = graph.shape(moved).to_vec();
    let n = shape.last().copied().unwrap_or(1);
    let rows = shape.iter().product::<usize>() / n.max(1);
    let flat = graph.add(
        Op::Reshape {
            shape: vec![rows, n],
        },
        vec![moved],
        format!("{name}.rows"),
    )?;
    let soft = graph.add(Op::Softmax, vec![flat], format!("{name}.softmax"))?;
    let back = graph.add(Op::Reshape { shape }, vec![soft], format!("{name}.unrows"))?;
    axis_back(graph, back, perm, name)
}

/// Log-softmax of `x` along `axis`, stable for any values:
/// `(x - max) - ln(sum(e^(x - max)))`, the max and the sum over `axis`.
pub fn log_softmax(
    graph: &mut Graph,
    x: NodeId,
    axis: usize,
    name: &str,
) -> Result<NodeId, CompileError> {
    let shape = graph.shape(x).to_vec();
    let along = |graph: &mut Graph, v: NodeId, what: &str| {
        let expand = Op::Expand {
            axes: vec![axis],
            shape: shape.clone(),
        };
        graph.add(expand, vec![v], format!("{name}.{what}"))
    };
    let top = graph.add(
        Op::MaxAxes { axes: vec![axis] },
        vec![x],
        format!("{name}.max"),
    )?;
    let top_along = along(graph, top, "max_along")?;
    let shifted = graph.add(Op::Sub, vec![x, top_along], format!("{name}.shifted"))?;
    let exps = graph.add(Op::Exp, vec![shifted], format!("{name}.exp"))?;
    let sum = graph.add(
        Op::SumAxes { axes: vec![axis] },
        vec![exps],
        format!("{name}.sum"),
    )?;
    let log_sum = graph.add(Op::Log, vec![sum], format!("{name}.log_sum"))?;
    let log_sum_along = along(graph, log_sum, "log_sum_along")?;
    graph.add(Op::Sub, vec![shifted, log_sum_along], name)
}

/// `x` split along `axis` into consecutive pieces of `sizes` positions
/// (which add up to the extent of `axis`): one `slice` each, named
/// `{name}.0`, `{name}.1`, ... Its gradient, through the slices', places
/// each piece's gradient back into zeros and sums them.
pub fn split(
    graph: &mut Graph,
    x: NodeId,
    axis: usize,
    sizes: &[usize],
    name: &str,
) -> Result<Vec<NodeId>, CompileError> {
    let extent = graph.shape(x).get(axis).copied();
    let total = sizes.iter().try_fold(0usize, |t, &s| t.checked_add(s));
    if extent.is_none() || total != extent {
        let rank = graph.shape(x).len();
        let error = match extent {
            None => ShapeError::Axis { axis, rank },
            Some(_) => {
                ShapeError::Invalid("the sizes of a split must add up to the extent of its axis")
            }
        };
        return Err(CompileError::Shape {
            node: name.to_string(),
            op: "split",
            error,
        });
    }
    let mut start = 0;
    let mut pieces = Vec::with_capacity(sizes.len());
    for (k, &len) in sizes.iter().enumerate() {
        let slice = Op::Slice { axis, start, len };
        pieces.push(graph.add(slice, vec![x], format!("{name}.{k}"))?);
        start += len;
    }
    Ok(pieces)
}

/// `x` with `axis` moved last (no node when it is last already), and the
/// permutation used.
fn axis_last(
    graph: &mut Graph,
    x: NodeId,
    axis: usize,
    name: &str,
) -> Result<(NodeId, Option<Vec<usize>>), CompileError> {
    let rank = graph.shape(x).len();
    if axis + 1 >= rank {
        return Ok((x, None));
    }
    let mut perm: Vec<usize> = (0..rank).filter(|&a| a != axis).collect();
    perm.push(axis);
    let moved = graph.add(
        Op::Permute { perm: perm.clone() },
        vec![x],
        format!("{name}.axis_last"),
    )?;
    Ok((moved, Some(perm)))
}

/// Undoes [`axis_last`]'s permutation (the result named `name`).
fn axis_back(
    graph: &mut Graph,
    x: NodeId,
    perm: Option<Vec<usize>>,
    name: &str,
) -> Result<NodeId, CompileError> {
    let Some(perm) = perm else {
        return graph.add(
            Op::Reshape {
                shape: graph.shape(x).to_vec(),
            },
            vec![x],
            name,
        );
    };
    let mut inverse = vec![0; perm.len()];
    for (k, &a) in perm.iter().enumerate() {
        inverse[a] = k;
    }
    graph.add(Op::Permute { perm: inverse }, vec![x], name)
}

/// How `upsample` fills the new pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Upsampling {
    /// Each pixel repeated `factor` times along each axis.
    Nearest,
    /// Linear interpolation between the two nearest source pixels along
    /// each axis, source positions `(i + 0.5) / factor - 0.5` clamped to
    /// the image (PyTorch's `align_corners=False`, TensorFlow's
    /// `half_pixel_centers`).
    Bilinear,
}

/// `x [b, c, h, w]` upsampled by `factor` (`[fh, fw]`) to
/// `[b, c, h * fh, w * fw]`: an `expand` that repeats each pixel and a
/// `reshape` (nearest), or per axis the sum of the pixel and its clamped
/// neighbours each repeated and weighted by constant per-position weights
/// (bilinear). Nodes are named `{name}.*`, the result `name`.
pub fn upsample(
    graph: &mut Graph,
    x: NodeId,
    factor: [usize; 2],
    mode: Upsampling,
    name: &str,
) -> Result<NodeId, CompileError> {
    match factor {
        [1, 1] => graph.add(Op::Scale(1.0), vec![x], name),
        [fh, 1] => upsample_axis(graph, x, 2, fh, mode, name),
        [fh, fw] => {
            let rows = upsample_axis(graph, x, 2, fh, mode, &format!("{name}.rows"))?;
            upsample_axis(graph, rows, 3, fw, mode, name)
        }
    }
}

/// `x` upsampled by `k` along `axis`.
fn upsample_axis(
    graph: &mut Graph,
    x: NodeId,
    axis: usize,
    k: usize,
    mode: Upsampling,
    name: &str,
) -> Result<NodeId, CompileError> {
    let shape = graph.shape(x).to_vec();
    let n = shape[axis];
    if k == 1 {
        return Ok(x);
    }
    // `[.., n, k, ..]`: a new axis after `axis` holds the k copies.
    let mut wide = shape.clone();
    wide.insert(axis + 1, k);
    let repeat = |graph: &mut Graph, v: NodeId, what: &str| {
        let op = Op::Expand {
            axes: vec![axis + 1],
            shape: wide.clone(),
        };
        graph.add(op, vec![v], format!("{name}.{what}"))
    };
    let mut merged = shape.clone();
    merged[axis] = n * k;
    let sum = match mode {
        Upsampling::Nearest => repeat(graph, x, "repeat")?,
        Upsampling::Bilinear => {
            // Output position q * k + r lies `t_r = (r + 0.5) / k - 0.5`
            // source pixels from pixel q: between q - 1 and q (t_r < 0)
            // or q and q + 1, with the neighbours clamped at the borders.
            let t = |r: usize| (r as f64 + 0.5) / k as f64 - 0.5;
            let before: Vec<f64> = (0..k).map(|r| (-t(r)).max(0.0)).collect();
            let centre: Vec<f64> = (0..k).map(|r| 1.0 - t(r).abs()).collect();
            let after: Vec<f64> = (0..k).map(|r| t(r).max(0.0)).collect();
            let slice = |graph: &mut Graph, start: usize, len: usize, what: &str| {
                let op = Op::Slice { axis, start, len };
                graph.add(op, vec![x], format!("{name}.{what}"))
            };
            let concat = |graph: &mut Graph, parts: Vec<NodeId>, what: &str| {
                let op = Op::Concat { axis, parts: 2 };
                graph.add(op, parts, format!("{name}.{what}"))
            };
            let first = slice(graph, 0, 1, "first")?;
            let last = slice(graph, n - 1, 1, "last")?;
            let (previous, next) = if n > 1 {
                let head = slice(graph, 0, n - 1, "head")?;
                let tail = slice(graph, 1, n - 1, "tail")?;
                (
                    concat(graph, vec![first, head], "previous")?,
                    concat(graph, vec![tail, last], "next")?,
                )
            } else {
                (x, x)
            };
            let mut terms = Vec::new();
            for (source, weights, what) in [
                (previous, &before, "previous"),
                (x, &centre, "centre"),
                (next, &after, "next"),
            ] {
                if weights.iter().all(|w| *w == 0.0) {
                    continue;
                }
                let copies = repeat(graph, source, &format!("{what}_repeat"))?;
                let weight = position_weights(graph, &wide, axis + 1, weights, name, what)?;
                terms.push(graph.add(
                    Op::Mul,
                    vec![copies, weight],
                    format!("{name}.{what}_weighted"),
                )?);
            }
            let mut sum = terms[0];
            for (i, term) in terms.into_iter().enumerate().skip(1) {
                sum = graph.add(Op::Add, vec![sum, term], format!("{name}.sum{i}"))?;
            }
            sum
        }
    };
    graph.add(Op::Reshape { shape: merged }, vec![sum], name.to_string())
}

/// A constant tensor of `shape` whose values depend only on the position
/// along `axis`: `weights[r]` there, built from one `fill` per position
/// joined by a `concat`.
fn position_weights(
    graph: &mut Graph,
    shape: &[usize],
    axis: usize,
    weights: &[f64],
    name: &str,
    what: &str,
) -> Result<NodeId, CompileError> {
    let mut one = shape.to_vec();
    one[axis] = 1;
    let parts = weights
        .iter()
        .enumerate()
        .map(|(r, &value)| {
            let op = Op::Fill {
                value,
                shape: one.clone(),
            };
            graph.add(op, Vec::new(), format!("{name}.{what}_w{r}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let op = Op::Concat {
        axis,
        parts: parts.len(),
    };
    graph.add(op, parts, format!("{name}.{what}_weights"))
}
