//! Ops that read their operands at computed positions: `permute`, one
//! thread per result element, its operand index from the result's
//! coordinates and the permuted strides
//! (`nnc_ir::ops::layout::permuted_strides`), and a pointwise op with a
//! broadcast no group reads.

use super::shader::{decode, shader_with, Built};
use crate::program::{BindingKind, EmitError, Target};
use crate::wgsl::{flat_index, grid, u, workgroup_for};
use nnc_ir::ops::layout::permuted_strides;
use nnc_ir::Op;

/// `out = permute(x, perm)` for `x` of shape `input`.
pub(super) fn permute(
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
    input: &[usize],
    perm: &[usize],
) -> Result<Built, EmitError> {
    let out: Vec<usize> = perm.iter().map(|&a| input[a]).collect();
    let total: usize = out.iter().product::<usize>().max(1);
    let strides = permuted_strides(input, perm);
    let (size, size_reason) = workgroup_for(total, target);
    let (workgroups, stride) = grid(total, size, target, name)?;
    let (mut shader, names) = shader_with(kinds, [size, 1, 1]);
    flat_index(&mut shader, stride, total, "i");
    let axes: Vec<String> = (0..out.len()).map(|k| format!("a{k}")).collect();
    let axis_names: Vec<&str> = axes.iter().map(String::as_str).collect();
    decode(&mut shader, "i", &axis_names, &out);
    let source = if axes.is_empty() {
        "0u".to_string()
    } else {
        axes.iter()
            .zip(&strides)
            .map(|(a, &s)| format!("u32({a}) * {}", u(s)))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    shader.line(format!("{}[i] = {}[{source}];", names[1], names[0]));
    let reason = format!("{total} values moved, axes {perm:?}; {size_reason}");
    Ok(Built::new(
        &shader,
        workgroups,
        format!("permute_wg{size}"),
        reason,
    ))
}

/// A pointwise op whose operands a pointwise group cannot read (a
/// broadcast along axes that are not one block), alone: one thread per
/// result element, each operand read at the sum of its index terms
/// (`Op::operand_index_terms`), the value the op's formula.
pub(super) fn pointwise(
    op: &Op,
    args: &[Vec<usize>],
    out: &[usize],
    kinds: &[BindingKind],
    target: &Target,
    name: &str,
) -> Result<Option<Built>, EmitError> {
    let total: usize = out.iter().product::<usize>().max(1);
    let (size, size_reason) = workgroup_for(total, target);
    let (workgroups, stride) = grid(total, size, target, name)?;
    let (mut shader, names) = shader_with(kinds, [size, 1, 1]);
    flat_index(&mut shader, stride, total, "i");
    let mut operands = Vec::with_capacity(args.len());
    for (k, arg) in args.iter().enumerate() {
        let Some(terms) = op.operand_index_terms(k, arg, out) else {
            return Ok(None);
        };
        let index = if terms.is_empty() {
            "0u".to_string()
        } else {
            terms
                .iter()
                .map(|&(inner, len, step)| {
                    format!("((i / {}) % {}) * {}", u(inner), u(len), u(step))
                })
                .collect::<Vec<_>>()
                .join(" + ")
        };
        operands.push(format!("{}[{index}]", names[k]));
    }
    let Some(value) = crate::group::expr(op, &operands, false) else {
        return Ok(None);
    };
    shader.line(format!("{}[i] = {value};", names[args.len()]));
    let reason = format!(
        "{total} elements of `{}` with a broadcast no pointwise group reads; {size_reason}",
        op.mnemonic()
    );
    Ok(Some(Built::new(
        &shader,
        workgroups,
        format!("pointwise_alone_wg{size}"),
        reason,
    )))
}
