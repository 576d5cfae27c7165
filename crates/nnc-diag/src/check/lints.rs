//! Lints (W0101-W0106): strides that drop pixels, costs that learn slowly
//! with their outputs, initialisations that saturate, unused definitions,
//! outputs that training never reaches.

use super::names::DefKind;
use super::shapes::{Axis, WindowArith};
use super::words::{act_phrase, float_str};
use crate::{thousands, Diagnostic, Label, Span};

pub(super) fn stride_drops(
    code: &'static str,
    layer: &str,
    axes: &[(Axis, WindowArith, usize)],
    span: Span,
) -> Diagnostic {
    let parts: Vec<String> = axes
        .iter()
        .map(|(axis, _, dropped)| lines_word(*axis, *dropped))
        .collect();
    let stride = axes.first().map_or(1, |(_, a, _)| a.stride);
    let mut d = Diagnostic::warning(
        code,
        format!(
            "stride {stride} of `{layer}` drops the last {}",
            parts.join(" and the last ")
        ),
        Label::new(span, "never covered by a window"),
    );
    let mut divisors = Vec::new();
    for (axis, arith, dropped) in axes {
        let covered = arith.padded_input().saturating_sub(arith.window as u128);
        d = d.with_note(format!(
            "{}: ({} + {} + {} - {}) / {} = {} / {} leaves {dropped} over, so {}",
            axis.word(),
            arith.input,
            arith.pad_before,
            arith.pad_after,
            arith.window,
            arith.stride,
            covered,
            arith.stride,
            arith.formula()
        ));
        divisors.push(covered.to_string());
    }
    divisors.dedup();
    d.with_hint(format!(
        "pad the input, pick a stride that divides {}, or use `round: ceil` (pooling)",
        divisors.join(" and ")
    ))
}

/// `1 row`, `2 columns`
fn lines_word(axis: Axis, n: usize) -> String {
    if n == 1 {
        format!("1 {}", axis.lines())
    } else {
        format!("{n} {}s", axis.lines())
    }
}

pub(super) fn quadratic_sigmoid(
    code: &'static str,
    cost_span: Span,
    output_span: Span,
) -> Diagnostic {
    Diagnostic::warning(
        code,
        "quadratic cost on sigmoid outputs learns slowly",
        Label::new(cost_span, "quadratic cost"),
    )
    .with_secondary(output_span, "sigmoid output")
    .with_note("the output error is (a - y) * sigma'(z); sigma'(z) is near 0 when the output saturates near 0 or 1, so badly wrong outputs learn slowest")
    .with_hint("use `cost cross_entropy`: its output error is a - y, without the sigma'(z) factor")
}

pub(super) fn large_init(
    code: &'static str,
    std: f64,
    fan_in: usize,
    bias_std: Option<f64>,
    span: Span,
    layer_span: Span,
) -> Diagnostic {
    let half = fan_in / 2;
    let b = bias_std.unwrap_or(0.0);
    let z_std = ((half as f64) * std * std + b * b).sqrt();
    let scaled = 1.0 / (fan_in as f64).sqrt();
    Diagnostic::warning(
        code,
        format!("`gaussian({})` on {} inputs makes weighted inputs saturate", float_str(std), thousands(fan_in as u64)),
        Label::new(span, format!("std {} per weight", float_str(std))),
    )
    .with_secondary(layer_span, format!("this layer has {} inputs per unit", thousands(fan_in as u64)))
    .with_note(format!(
        "with half of the {fan_in} inputs on, z = w.x + b has std sqrt({half} * {}^2 + {}^2) = {:.1}, so sigmoid units start saturated and learn slowly",
        float_str(std),
        float_str(b),
        z_std
    ))
    .with_hint(format!(
        "use `init: scaled_gaussian` (std 1/sqrt({fan_in}) = {scaled:.3}), or `he` for relu layers"
    ))
}

pub(super) fn log_likelihood_without_softmax(
    code: &'static str,
    act: Option<&str>,
    cost_span: Span,
    output_span: Span,
) -> Diagnostic {
    Diagnostic::warning(
        code,
        format!(
            "`log_likelihood` without a softmax output: the output {}",
            act_phrase(act)
        ),
        Label::new(cost_span, "log-likelihood cost"),
    )
    .with_secondary(output_span, "the output is computed here")
    .with_note("the log-likelihood -ln a_y reads the outputs as a probability distribution, which softmax guarantees")
    .with_hint("use `act: softmax` on the output layer")
}

pub(super) fn unused(code: &'static str, kind: DefKind, name: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        code,
        format!("unused {} `{name}`", kind.word()),
        Label::new(span, "never used"),
    )
    .with_hint(format!(
        "remove it, or name it `_{name}` to silence this warning"
    ))
}

pub(super) fn output_not_trained(
    code: &'static str,
    output: &str,
    cost_output: &str,
    layers: &[String],
    span: Span,
    cost_span: Span,
) -> Diagnostic {
    let quoted: Vec<String> = layers.iter().map(|l| format!("`{l}`")).collect();
    let (these, rest) = if layers.len() == 1 {
        (
            "its layer",
            "gets no gradient from the cost: training never fits it",
        )
    } else {
        (
            "its layers",
            "get no gradient from the cost: training never fits them",
        )
    };
    Diagnostic::warning(
        code,
        format!("output `{output}` is never trained: the cost applies to `{cost_output}` only"),
        Label::new(span, "no cost reaches this output"),
    )
    .with_secondary(cost_span, format!("the cost of `{cost_output}`"))
    .with_note(format!("{these} {} {rest}", quoted.join(", ")))
    .with_hint(format!(
        "train `{output}` in a model of its own with its own cost, or compute it from \
         layers the cost of `{cost_output}` trains"
    ))
}

pub(super) fn no_step_updates(code: &'static str, model: &str, span: Span) -> Diagnostic {
    Diagnostic::warning(
        code,
        format!("no step updates `{model}`: its parameters keep their initial values"),
        Label::new(span, "never updated"),
    )
    .with_note("each `step MODEL { ... }` updates that model only; the others read it as it is")
    .with_hint(format!(
        "add `step {model} {{ ... }}` with its optimizer and cost, or remove `{model}` from \
         the train block"
    ))
}

#[cfg(test)]
mod tests {
    use crate::check::CheckError;
    use crate::{Severity, Span};

    #[test]
    fn large_init_reproduces_the_book() {
        let e = CheckError::LargeInitStd {
            std: 1.0,
            fan_in: 1000,
            bias_std: Some(1.0),
            span: Span::new(0, 1),
            layer_span: Span::new(0, 1),
        };
        let d = e.to_diagnostic();
        assert_eq!(d.severity, Severity::Warning);
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("sqrt(500 * 1.0^2 + 1.0^2) = 22.4")),
            "{d:?}"
        );
    }
}
