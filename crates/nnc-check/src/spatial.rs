//! The windowed layers, `conv2d` and the pools: the input's image
//! dimensions (E0205), the window arithmetic of both axes (E0203, E0204,
//! W0101) with the numbers for the diagnostics, and each layer's node.

use crate::builder::OutAct;
use crate::checker::Checker;
use crate::layers::{act_of, Applied, ConvSpec, Padding, PoolSpec};
use crate::program::{Activation, LayerId, Op, Rounding, Shape};
use crate::shape::{dropped_lines, same_padding, window_arith};
use crate::value::Tensor;
use nnc_diag::check::{Axis, CheckError, Derivation, RankNeed, ShapeProblem, WindowArith};

impl Checker<'_> {
    /// Registers the weights (of shape `weights`) and the bias of a
    /// convolution or transposed convolution, after the lint on wide
    /// Gaussian initialisers at `fan_in` (E0209 when it overflows).
    pub(crate) fn kernel_params(
        &mut self,
        ctx: &Applied<'_>,
        spec: &ConvSpec,
        weights: Shape,
        fan_in: Option<usize>,
    ) -> Option<LayerId> {
        let (Some(filters), Some(kernel)) = (spec.filters, spec.kernel) else {
            return None;
        };
        let Some(fan_in) = fan_in else {
            self.too_large(ctx, kernel);
            return None;
        };
        let fan_out = kernel[0]
            .checked_mul(kernel[1])
            .and_then(|a| a.checked_mul(filters));
        self.lint_wide_gaussian(&spec.init, &spec.bias_init, fan_in, ctx.span);
        self.params(
            ctx,
            &spec.init,
            &spec.bias_init,
            weights,
            vec![filters],
            fan_in,
            fan_out,
        )
    }

    /// The image dimensions `[c, h, w]` of a conv or pool input (E0205).
    pub(crate) fn image_dims(&mut self, ctx: &Applied<'_>) -> Option<[usize; 3]> {
        match ctx.shape.as_slice() {
            [c, h, w] => Some([*c, *h, *w]),
            _ => {
                self.report(CheckError::WrongRank {
                    layer: ctx.name.to_string(),
                    need: RankNeed::Image,
                    actual: ctx.shape.clone(),
                    span: ctx.span,
                    input_from: ctx.x.from,
                });
                None
            }
        }
    }

    /// The window arithmetic of both axes; reports a window larger than its
    /// input (E0203 for convolutions, E0204 for pools) and dropped lines
    /// (W0101).
    fn windows(&mut self, ctx: &Applied<'_>, spec: WindowSpec) -> Option<Windows> {
        let WindowSpec {
            hw,
            window,
            stride,
            padding,
            rounding,
            is_conv,
        } = spec;
        let pads = match padding {
            Padding::Valid => [0; 4],
            Padding::Explicit(p) => p,
            Padding::Same => {
                let h = same_padding(hw[0], window[0], stride[0]);
                let w = same_padding(hw[1], window[1], stride[1]);
                match (h, w) {
                    (Some((t, b)), Some((l, r))) => [t, b, l, r],
                    _ => {
                        self.too_large(ctx, window);
                        return None;
                    }
                }
            }
        };
        let axes = [
            (
                Axis::Height,
                window_arith(hw[0], window[0], stride[0], pads[0], pads[1], rounding),
            ),
            (
                Axis::Width,
                window_arith(hw[1], window[1], stride[1], pads[2], pads[3], rounding),
            ),
        ];
        let failing: Vec<(Axis, WindowArith)> =
            axes.iter().filter(|(_, a)| a.output < 1).copied().collect();
        if !failing.is_empty() {
            let (layer, input, span, input_from) = (
                ctx.name.to_string(),
                ctx.shape.clone(),
                ctx.span,
                ctx.x.from,
            );
            self.report(if is_conv {
                CheckError::KernelTooLarge {
                    layer,
                    axes: failing,
                    input,
                    span,
                    input_from,
                }
            } else {
                CheckError::PoolTooLarge {
                    layer,
                    axes: failing,
                    input,
                    span,
                    input_from,
                }
            });
            return None;
        }
        let (Ok(oh), Ok(ow)) = (
            usize::try_from(axes[0].1.output),
            usize::try_from(axes[1].1.output),
        ) else {
            self.too_large(ctx, window);
            return None;
        };
        let dropped: Vec<(Axis, WindowArith, usize)> = axes
            .iter()
            .map(|(axis, a)| {
                let n = dropped_lines(
                    a.input,
                    a.window,
                    a.stride,
                    a.pad_before,
                    a.pad_after,
                    rounding,
                );
                (*axis, *a, n)
            })
            .filter(|(_, _, n)| *n > 0)
            .collect();
        if !dropped.is_empty() {
            self.report(CheckError::StrideDropsPixels {
                layer: ctx.name.to_string(),
                axes: dropped,
                span: ctx.span,
            });
        }
        Some(Windows {
            pads,
            out: [oh, ow],
            axes: axes.to_vec(),
        })
    }

    pub(crate) fn too_large(&mut self, ctx: &Applied<'_>, window: [usize; 2]) {
        let mut dims: Vec<u128> = ctx.shape.iter().map(|d| *d as u128).collect();
        dims.extend(window.iter().map(|d| *d as u128));
        self.report(CheckError::InvalidShape {
            problem: ShapeProblem::TooLarge { dims },
            span: ctx.span,
        });
    }

    pub(crate) fn apply_conv(&mut self, ctx: &Applied<'_>, spec: &ConvSpec) -> Tensor {
        let Some([c, h, w]) = self.image_dims(ctx) else {
            return Tensor::unknown(ctx.span);
        };
        let (Some(filters), Some(kernel), Some(stride), Some(padding)) =
            (spec.filters, spec.kernel, spec.stride, spec.padding)
        else {
            return Tensor::unknown(ctx.span);
        };
        let window = WindowSpec {
            hw: [h, w],
            window: kernel,
            stride,
            padding,
            rounding: Rounding::Floor,
            is_conv: true,
        };
        let Some(Windows {
            pads,
            out: [oh, ow],
            axes,
        }) = self.windows(ctx, window)
        else {
            return Tensor::unknown(ctx.span);
        };
        let fan_in = kernel[0]
            .checked_mul(kernel[1])
            .and_then(|a| a.checked_mul(c));
        let weights = vec![filters, c, kernel[0], kernel[1]];
        let Some(layer) = self.kernel_params(ctx, spec, weights, fan_in) else {
            return Tensor::unknown(ctx.span);
        };
        let op = Op::Conv2d {
            layer,
            filters,
            kernel,
            stride,
            padding: pads,
            act: spec.act.unwrap_or(Activation::Identity),
        };
        let derivation = Derivation::Layer {
            layer: ctx.name.to_string(),
            inputs: vec![ctx.shape.clone()],
            windows: axes,
        };
        let shape = vec![filters, oh, ow];
        self.new_node(
            ctx.place,
            ctx.base,
            op,
            &[ctx.x],
            shape,
            ctx.span,
            derivation,
            act_of(spec.act),
        )
    }

    pub(crate) fn apply_pool(&mut self, ctx: &Applied<'_>, spec: &PoolSpec) -> Tensor {
        let Some([c, h, w]) = self.image_dims(ctx) else {
            return Tensor::unknown(ctx.span);
        };
        let (Some(size), Some(stride), Some(padding), Some(rounding)) =
            (spec.size, spec.stride, spec.padding, spec.rounding)
        else {
            return Tensor::unknown(ctx.span);
        };
        let window = WindowSpec {
            hw: [h, w],
            window: size,
            stride,
            padding,
            rounding,
            is_conv: false,
        };
        let Some(Windows {
            pads,
            out: [oh, ow],
            axes,
        }) = self.windows(ctx, window)
        else {
            return Tensor::unknown(ctx.span);
        };
        let op = Op::Pool {
            kind: spec.kind,
            size,
            stride,
            padding: pads,
            rounding,
        };
        let derivation = Derivation::Layer {
            layer: ctx.name.to_string(),
            inputs: vec![ctx.shape.clone()],
            windows: axes,
        };
        let shape = vec![c, oh, ow];
        self.new_node(
            ctx.place,
            ctx.base,
            op,
            &[ctx.x],
            shape,
            ctx.span,
            derivation,
            OutAct::Plain,
        )
    }
}

/// The sliding-window parameters of a convolution or pool.
struct WindowSpec {
    /// Input height and width.
    hw: [usize; 2],
    window: [usize; 2],
    stride: [usize; 2],
    padding: Padding,
    rounding: Rounding,
    is_conv: bool,
}

/// The window arithmetic's result: padding used (top, bottom, left,
/// right), output height and width, and each axis's arithmetic.
struct Windows {
    pads: [usize; 4],
    out: [usize; 2],
    axes: Vec<(Axis, WindowArith)>,
}
