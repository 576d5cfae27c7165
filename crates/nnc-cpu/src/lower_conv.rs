//! Lowering of the spatial ops: convolutions and their gradients, pooling
//! and its gradient, and a convolution's bias (added along the channel
//! axis of a `[batch, channels, height, width]` tensor, and summed over
//! the other axes for its gradient). Each becomes one `nnc-jit` kernel
//! whose shapes are baked in (see `nnc_jit::kernels::conv` and `pool` for
//! how padding is kept out of every loop).

use crate::error::LowerError;
use nnc_check::program::PoolKind;
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
