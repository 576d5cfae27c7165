//! The layers that make images larger, for convolutional decoders:
//! `conv2d_transpose` (the transpose of `conv2d`, with its shape
//! arithmetic, E0211) and `upsample` (nearest or bilinear).

use crate::checker::Checker;
use crate::layers::{act_of, Applied, ConvTransposeSpec, Padding};
use crate::program::{Activation, Op, Upsampling};
use crate::value::Tensor;
use nnc_diag::check::{Axis, CheckError, TransposeArith};

impl Checker<'_> {
    /// `conv2d_transpose` on `[c, h, w]`: weights `[c, filters, kh, kw]`,
    /// output `[filters, oh, ow]` with `oh = (h - 1) * stride - padding +
    /// kh + output_padding` (E0211 when that is not positive, when the
    /// output padding is not below the stride, or when `same` cannot give
    /// `h * stride`).
    pub(crate) fn apply_conv_transpose(
        &mut self,
        ctx: &Applied<'_>,
        spec: &ConvTransposeSpec,
    ) -> Tensor {
        let Some([c, h, w]) = self.image_dims(ctx) else {
            return Tensor::unknown(ctx.span);
        };
        let conv = &spec.conv;
        let (Some(filters), Some(kernel), Some(stride), Some(padding), Some(output_padding)) = (
            conv.filters,
            conv.kernel,
            conv.stride,
            conv.padding,
            spec.output_padding,
        ) else {
            return Tensor::unknown(ctx.span);
        };
        let mut pads = [0usize; 4];
        let mut out = [0usize; 2];
        let mut failed = false;
        for (a, (axis, input)) in [(Axis::Height, h), (Axis::Width, w)]
            .into_iter()
            .enumerate()
        {
            let (k, s, op) = (kernel[a], stride[a], output_padding[a]);
            let (before, after, same) = match padding {
                Padding::Valid => (0, 0, false),
                Padding::Explicit(p) => (p[2 * a], p[2 * a + 1], false),
                Padding::Same => {
                    // out = input * stride: the padding removes what the
                    // kernel and output padding add beyond the stride.
                    let total = (k + op).saturating_sub(s);
                    (total / 2, total - total / 2, true)
                }
            };
            let arith = TransposeArith {
                input,
                kernel: k,
                stride: s,
                pad_before: before,
                pad_after: after,
                output_padding: op,
                same,
            };
            let bad = op >= s || (same && k + op < s) || arith.output() <= 0;
            if bad {
                self.report(CheckError::TransposeArith {
                    layer: ctx.name.to_string(),
                    axis,
                    arith,
                    span: ctx.span,
                    input_from: ctx.x.from,
                });
                failed = true;
                continue;
            }
            let Ok(length) = usize::try_from(arith.output()) else {
                failed = true;
                continue;
            };
            pads[2 * a] = before;
            pads[2 * a + 1] = after;
            out[a] = length;
        }
        if failed {
            return Tensor::unknown(ctx.span);
        }
        // An output pixel gathers from about c * kh * kw / (sh * sw)
        // inputs: the fan-in that scales the initialisation.
        let fan_in = kernel[0]
            .checked_mul(kernel[1])
            .and_then(|a| a.checked_mul(c))
            .map(|n| n.div_ceil(stride[0] * stride[1]).max(1));
        let weights = vec![c, filters, kernel[0], kernel[1]];
        let Some(layer) = self.kernel_params(ctx, conv, weights, fan_in) else {
            return Tensor::unknown(ctx.span);
        };
        let op = Op::ConvTranspose2d {
            layer,
            filters,
            kernel,
            stride,
            padding: pads,
            output_padding,
            act: conv.act.unwrap_or(Activation::Identity),
        };
        self.simple_node(ctx, op, vec![filters, out[0], out[1]], act_of(conv.act))
    }

    /// `upsample(factor, mode:)` on `[c, h, w]`: `[c, h * fh, w * fw]`.
    pub(crate) fn apply_upsample(
        &mut self,
        ctx: &Applied<'_>,
        factor: Option<[usize; 2]>,
        mode: Option<Upsampling>,
    ) -> Tensor {
        let Some([c, h, w]) = self.image_dims(ctx) else {
            return Tensor::unknown(ctx.span);
        };
        let (Some(factor), Some(mode)) = (factor, mode) else {
            return Tensor::unknown(ctx.span);
        };
        let (Some(oh), Some(ow)) = (h.checked_mul(factor[0]), w.checked_mul(factor[1])) else {
            self.too_large(ctx, factor);
            return Tensor::unknown(ctx.span);
        };
        // Copies and convex combinations of neighbours stay within an
        // activation's range: the input's activation still describes them.
        let act = self.out_act(ctx.x);
        self.simple_node(ctx, Op::Upsample { factor, mode }, vec![c, oh, ow], act)
    }
}
