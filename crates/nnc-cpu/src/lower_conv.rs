//! Lowering of the spatial ops: convolutions and their gradients, pooling
//! and its gradient, and a convolution's bias (added along the channel
//! axis of a `[batch, channels, height, width]` tensor, and summed over
//! the other axes for its gradient). Each becomes one `nnc-jit` kernel
//! whose shapes are baked in (see `nnc_jit::kernels::conv` and `pool` for
//! how padding is kept out of every loop).

use crate::conv_gemm::{ConvGemm, Epilogue, MaxPool};
use crate::conv_pass::ConvPass;
use crate::error::LowerError;
use crate::pair::two_cores;
use crate::pending::Pending;
use crate::pool_grad::PoolGradFused;
use nnc_ir::fused::{Arg, FusedKernel, KernelKind};
use nnc_ir::window::PoolKind;
use nnc_ir::{Op, PoolGeometry};
use nnc_jit::kernels::{
    channel_bias_add, channel_sum, conv2d, conv2d_input_grad, conv2d_weight_grad, pool, pool_grad,
    ConvSpec, PoolReduce, PoolSpec,
};
use nnc_jit::Kernel;

/// Whether `op` (with operands of `args` shapes) is a bias added along
/// axis 1 of a tensor of rank above two, which the pointwise groups do not
/// read and this module lowers on its own.
pub(crate) fn is_channel_bias(op: &Op, args: &[&[usize]]) -> bool {
    matches!(op, Op::BiasAdd) && args.first().is_some_and(|x| x.len() > 2)
}

/// The kernel of `op` if it is one of the spatial ops this module lowers,
/// `None` for any other op. `args` are the operands' shapes and `out` the
/// op's shape.
pub(crate) fn kernel(
    name: &str,
    op: &Op,
    args: &[&[usize]],
    out: &[usize],
) -> Result<Option<Kernel>, LowerError> {
    let shape = |i: usize| -> Result<&[usize], LowerError> {
        args.get(i).copied().ok_or_else(|| LowerError::Internal {
            message: format!("`{}` lacks operand {i}", op.mnemonic()),
        })
    };
    Ok(Some(match op {
        Op::Conv2d { stride, padding } => conv2d(
            name,
            conv_spec(shape(0)?, shape(1)?, out, *stride, *padding)?,
        ),
        Op::Conv2dInputGrad {
            stride, padding, ..
        } => conv2d_input_grad(
            name,
            conv_spec(out, shape(1)?, shape(0)?, *stride, *padding)?,
        ),
        Op::Conv2dWeightGrad {
            stride, padding, ..
        } => conv2d_weight_grad(
            name,
            conv_spec(shape(0)?, out, shape(1)?, *stride, *padding)?,
        ),
        Op::Pool(g) => pool(name, pool_spec(g, shape(0)?, out)?),
        Op::PoolGrad(g) => pool_grad(name, pool_spec(g, shape(0)?, shape(1)?)?),
        Op::BiasAdd if is_channel_bias(op, args) => {
            let x = shape(0)?;
            channel_bias_add(name, x[0], x[1], x[2..].iter().product())
        }
        Op::SumAxes { axes } => {
            let x = shape(0)?;
            let all_but_one: Vec<usize> = (0..x.len()).filter(|&a| a != 1).collect();
            if x.len() > 2 && *axes == all_but_one {
                channel_sum(name, x[0], x[1], x[2..].iter().product())
            } else {
                return Ok(None);
            }
        }
        _ => return Ok(None),
    }))
}

/// Which convolution `op` is, with its dimensions: the forward pass
/// (operands `x`, `w`), the input gradient (`dy`, `w`) or the weight
/// gradient (`x`, `dy`); `None` for any other op.
pub(crate) fn conv_kind(
    op: &Op,
    args: &[&[usize]],
    out: &[usize],
) -> Result<Option<(ConvPass, ConvSpec)>, LowerError> {
    Ok(match (op, args) {
        (Op::Conv2d { stride, padding }, [x, w]) => {
            Some((ConvPass::Forward, conv_spec(x, w, out, *stride, *padding)?))
        }
        (
            Op::Conv2dInputGrad {
                stride, padding, ..
            },
            [dy, w],
        ) => Some((
            ConvPass::InputGrad,
            conv_spec(out, w, dy, *stride, *padding)?,
        )),
        (
            Op::Conv2dWeightGrad {
                stride, padding, ..
            },
            [x, dy],
        ) => Some((
            ConvPass::WeightGrad,
            conv_spec(x, out, dy, *stride, *padding)?,
        )),
        _ => None,
    })
}

/// Which operands of `op` hold one block per example (the rest, weights
/// and biases, are read whole), for the spatial ops whose examples are
/// independent: a convolution and its input gradient, pooling and its
/// gradient, a channel bias. `None` for the reductions over the batch (the
/// weight gradient, the bias gradient) and any other op.
fn batched_operands(op: &Op, args: &[&[usize]]) -> Option<Vec<bool>> {
    match op {
        Op::Conv2d { .. } | Op::Conv2dInputGrad { .. } => Some(vec![true, false]),
        Op::Pool(_) | Op::PoolGrad(_) => Some(vec![true; args.len()]),
        Op::BiasAdd if is_channel_bias(op, args) => Some(vec![true, false]),
        _ => None,
    }
}

/// Spatial kernels with at least this many output values are split by
/// examples: each value costs a whole window of multiply-adds (or
/// compares), so far fewer values than a pointwise kernel's pay for the
/// hand-off; the 20/40-map net's second convolution at batch 10 (25,600
/// values, 500 multiply-adds each) took 1.47 ms on one thread.
const SPATIAL_SPLIT_MIN_ELEMENTS: usize = 4096;

/// The kernel of `op` split by examples over two threads: the same kernel
/// built for the first half of the batch and for the rest, when the op's
/// examples are independent, the machine has two cores and the output is
/// large enough to pay for the hand-off.
pub(crate) fn split_batch(
    name: &str,
    op: &Op,
    args: &[&[usize]],
    out: &[usize],
) -> Result<Option<Pending>, LowerError> {
    let Some(batched) = batched_operands(op, args) else {
        return Ok(None);
    };
    let batch = out.first().copied().unwrap_or(0);
    let elements: usize = out.iter().product();
    if !two_cores()
        || batch < 2
        || elements < SPATIAL_SPLIT_MIN_ELEMENTS
        || batched.len() != args.len()
    {
        return Ok(None);
    }
    if args
        .iter()
        .zip(&batched)
        .any(|(shape, &b)| b && shape.first() != Some(&batch))
    {
        return Ok(None);
    }
    let first = batch / 2;
    let halve = |shape: &[usize], n: usize| -> Vec<usize> {
        let mut s = shape.to_vec();
        s[0] = n;
        s
    };
    let half = |n: usize, suffix: &str| -> Result<Option<Kernel>, LowerError> {
        let shapes: Vec<Vec<usize>> = args
            .iter()
            .zip(&batched)
            .map(|(shape, &b)| if b { halve(shape, n) } else { shape.to_vec() })
            .collect();
        let views: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        kernel(&format!("{name}_{suffix}"), op, &views, &halve(out, n))
    };
    let (Some(a), Some(b)) = (half(first, "batch0")?, half(batch - first, "batch1")?) else {
        return Ok(None);
    };
    let per_example = |shape: &[usize]| shape.iter().skip(1).product::<usize>();
    let mut per_row: Vec<Option<usize>> = args
        .iter()
        .zip(&batched)
        .map(|(shape, &b)| b.then(|| per_example(shape)))
        .collect();
    per_row.push(Some(per_example(out)));
    Ok(Some(Pending::Split(
        [a, b],
        [first, batch - first],
        per_row,
    )))
}

fn bad_shape(op: &str) -> LowerError {
    LowerError::Internal {
        message: format!("{op} over tensors that are not [batch, channels, height, width]"),
    }
}

/// The dimensions of a convolution of `x` by `w` giving `y`.
fn conv_spec(
    x: &[usize],
    w: &[usize],
    y: &[usize],
    stride: [usize; 2],
    padding: [usize; 4],
) -> Result<ConvSpec, LowerError> {
    let (&[b, c, h, wd], &[f, _, kh, kw], &[_, _, oh, ow]) = (x, w, y) else {
        return Err(bad_shape("a convolution"));
    };
    Ok(ConvSpec {
        batch: b,
        channels: c,
        height: h,
        width: wd,
        filters: f,
        kernel: [kh, kw],
        out: [oh, ow],
        stride,
        padding,
    })
}

/// The geometry of a pooling of `x` giving `y`.
fn pool_spec(g: &PoolGeometry, x: &[usize], y: &[usize]) -> Result<PoolSpec, LowerError> {
    let (&[b, c, h, w], &[_, _, oh, ow]) = (x, y) else {
        return Err(bad_shape("a pooling"));
    };
    Ok(PoolSpec {
        reduce: match g.kind {
            PoolKind::Max => PoolReduce::Max,
            PoolKind::Average => PoolReduce::Average,
            PoolKind::L2 => PoolReduce::L2,
        },
        planes: b * c,
        input: [h, w],
        out: [oh, ow],
        size: g.size,
        stride: g.stride,
        pad: [g.padding[0], g.padding[2]],
    })
}

/// A fused kernel this backend runs as one action of its own: the
/// action, its operands and the body values it writes, in order.
pub(crate) struct Native {
    pub pending: Pending,
    pub inputs: Vec<Arg>,
    pub outputs: Vec<usize>,
}

/// The one-action form of kernel `k` where it has one: a `conv+epilogue`
/// kernel of the forms `conv2d, bias_add[, relu][, max_pool]` whose
/// convolution runs as products (module `conv_gemm`), or a
/// `pool_grad+epilogue` kernel `max_pool_grad[, relu_grad][, sum over
/// all axes but the channels]` (module `pool_grad`). `yielded[j]` says
/// whether body value `j` is read outside; `shape` gives an operand's
/// shape; `products` is false where convolutions must stay direct.
/// `None` for any other kernel: its ops are lowered one by one.
pub(crate) fn native(
    k: &FusedKernel,
    yielded: &[bool],
    shape: &dyn Fn(Arg) -> Vec<usize>,
    products: bool,
) -> Result<Option<Native>, LowerError> {
    let ops: Vec<&Op> = k.body.iter().map(|m| &m.op).collect();
    let args = |j: usize| k.body[j].args.as_slice();
    // Body op `j` reads exactly the value before it (and inputs).
    let chained = |j: usize, position: usize| args(j).get(position) == Some(&Arg::Value(j - 1));
    match k.kind {
        KernelKind::ConvEpilogue => {
            let (Some(Op::Conv2d { stride, padding }), Some(Op::BiasAdd)) =
                (ops.first(), ops.get(1))
            else {
                return Ok(None);
            };
            let (&[x @ Arg::Input(_), w @ Arg::Input(_)], &[Arg::Value(0), bias @ Arg::Input(_)]) =
                (args(0), args(1))
            else {
                return Ok(None);
            };
            let mut j = 2;
            let relu = matches!(ops.get(j), Some(Op::Relu)) && chained(j, 0);
            if relu {
                j += 1;
            }
            let pool = match ops.get(j) {
                Some(Op::Pool(g)) if chained(j, 0) => {
                    let (input, out) = (&k.body[j - 1].shape, &k.body[j].shape);
                    let (&[_, _, h, wd], &[_, _, oh, ow]) = (input.as_slice(), out.as_slice())
                    else {
                        return Ok(None);
                    };
                    let Some(pool) = MaxPool::new(g, [h, wd], [oh, ow]) else {
                        return Ok(None);
                    };
                    j += 1;
                    Some((pool, j - 1))
                }
                _ => None,
            };
            if j != ops.len() || yielded.first() != Some(&false) {
                return Ok(None);
            }
            let spec = conv_spec(&shape(x), &shape(w), &k.body[0].shape, *stride, *padding)?;
            if !products || !ConvGemm::pays(&spec, ConvPass::Forward) {
                return Ok(None);
            }
            let epilogue = Epilogue {
                relu,
                store_z: yielded[1],
                store_a: relu && yielded[2],
                pool: pool.as_ref().map(|(p, _)| p.clone()),
            };
            let mut outputs = Vec::new();
            if epilogue.store_z {
                outputs.push(1);
            }
            if epilogue.store_a {
                outputs.push(2);
            }
            if let Some((_, at)) = pool {
                if !yielded[at] {
                    return Ok(None);
                }
                outputs.push(at);
            }
            let Some(planned) = ConvGemm::with_epilogue(ConvPass::Forward, spec, Some(epilogue))
            else {
                return Ok(None);
            };
            Ok(Some(Native {
                pending: Pending::Conv(Box::new(planned)),
                inputs: vec![x, w, bias],
                outputs,
            }))
        }
        KernelKind::PoolGradEpilogue => {
            let Some(Op::PoolGrad(g)) = ops.first() else {
                return Ok(None);
            };
            let &[x @ Arg::Input(_), y @ Arg::Input(_), dy @ Arg::Input(_)] = args(0) else {
                return Ok(None);
            };
            let mut inputs = vec![x, y, dy];
            let mut j = 1;
            let relu = match (ops.get(1), args(0).len()) {
                (Some(Op::ReluGrad), _) if chained(1, 1) => match args(1).first() {
                    Some(&z @ Arg::Input(_)) => {
                        inputs.push(z);
                        true
                    }
                    _ => return Ok(None),
                },
                _ => false,
            };
            if relu {
                j += 1;
            }
            let grad = j - 1;
            let x_shape = shape(x);
            let sum = match ops.get(j) {
                Some(Op::SumAxes { axes }) if chained(j, 0) && *axes == [0, 2, 3] => {
                    j += 1;
                    true
                }
                _ => false,
            };
            let out = match k.body[0].shape.as_slice() {
                &[_, _, _, _] => match shape(y).as_slice() {
                    &[_, _, oh, ow] => [oh, ow],
                    _ => return Ok(None),
                },
                _ => return Ok(None),
            };
            let &[_, _, h, wd] = x_shape.as_slice() else {
                return Ok(None);
            };
            // Only the gradient (and the sum) leave the kernel.
            let stored: Vec<usize> = (0..ops.len()).filter(|&v| yielded[v]).collect();
            let expected: Vec<usize> = if sum { vec![grad, j - 1] } else { vec![grad] };
            if j != ops.len() || stored != expected {
                return Ok(None);
            }
            let Some(pool) = MaxPool::new(g, [h, wd], out) else {
                return Ok(None);
            };
            let Some(planned) = PoolGradFused::new(pool, &x_shape, out, relu, sum) else {
                return Ok(None);
            };
            Ok(Some(Native {
                pending: Pending::PoolGrad(Box::new(planned)),
                inputs,
                outputs: expected,
            }))
        }
        _ => Ok(None),
    }
}
