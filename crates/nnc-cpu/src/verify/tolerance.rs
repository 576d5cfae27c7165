//! The rule by which a JIT value agrees with the interpreter's (see the
//! module documentation of `verify`), and the comparison of one tensor
//! under it.

/// The relative tolerance of every comparison.
pub const RTOL: f32 = 1e-4;

/// The fraction of a tensor's largest magnitude that every value of it may
/// differ by, relative to `RTOL`, whatever its own size (see the module
/// documentation).
pub const SCALE_FRACTION: f32 = 0.01;

/// The scale of a reference tensor: [`SCALE_FRACTION`] of its largest
/// finite magnitude.
pub fn tensor_scale(reference: &[f32]) -> f32 {
    let largest = reference
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0f32, |m, v| m.max(v.abs()));
    SCALE_FRACTION * largest
}

/// The largest difference allowed from `reference` in a tensor of scale
/// `scale`.
pub fn tolerance(reference: f32, scale: f32) -> f32 {
    RTOL * (reference.abs() + scale)
}

/// Whether `value` agrees with `reference` in a tensor of scale `scale`,
/// with an extra absolute allowance `extra` (0 for `nnc run --verify`; the
/// agreement suites allow Adam's parameters a little after several steps).
pub fn within_tolerance(value: f32, reference: f32, scale: f32, extra: f32) -> bool {
    if !value.is_finite() || !reference.is_finite() {
        return value == reference || (value.is_nan() && reference.is_nan());
    }
    (value - reference).abs() <= tolerance(reference, scale) + extra
}

/// `|value - reference| / (|reference| + scale)`: at most [`RTOL`] when the
/// value agrees. Zero for equal values, infinite for a non-finite
/// difference.
pub fn relative_error(value: f32, reference: f32, scale: f32) -> f32 {
    if value == reference || (value.is_nan() && reference.is_nan()) {
        return 0.0;
    }
    let error = (value - reference).abs();
    let base = reference.abs() + scale;
    if error.is_finite() && base > 0.0 {
        error / base
    } else {
        f32::INFINITY
    }
}

/// The result of comparing one tensor.
pub(super) struct Outcome {
    /// The largest relative error among the values that agree.
    pub(super) largest_agreeing: f32,
    /// The worst value beyond tolerance, if any.
    pub(super) bad: Option<Bad>,
}

/// The element of a tensor with the largest relative error among those
/// beyond tolerance.
pub(super) struct Bad {
    pub(super) index: usize,
    pub(super) jit: f32,
    pub(super) reference: f32,
    pub(super) tolerance: f32,
    /// Its relative error (infinite for a NaN or a length mismatch).
    pub(super) score: f32,
    /// How many values are beyond tolerance.
    pub(super) beyond: usize,
}

/// Compares a JIT tensor with the interpreter's, in a tensor of scale
/// `scale` (per element at least `magnitude`, the sums of the terms'
/// magnitudes, when given), under the rule of the module documentation.
pub(super) fn compare(
    jit: &[f32],
    reference: &[f32],
    scale: f32,
    magnitude: Option<&[f32]>,
) -> Outcome {
    if jit.len() != reference.len() {
        return Outcome {
            largest_agreeing: 0.0,
            bad: Some(Bad {
                index: jit.len().min(reference.len()),
                jit: f32::NAN,
                reference: f32::NAN,
                tolerance: 0.0,
                score: f32::INFINITY,
                beyond: jit.len().abs_diff(reference.len()),
            }),
        };
    }
    let mut largest_agreeing = 0.0f32;
    let mut bad: Option<Bad> = None;
    let mut beyond = 0;
    for (index, (&j, &r)) in jit.iter().zip(reference).enumerate() {
        let scale = match magnitude.and_then(|m| m.get(index)) {
            Some(&m) if m.is_finite() => scale.max(m),
            _ => scale,
        };
        let relative = relative_error(j, r, scale);
        if within_tolerance(j, r, scale, 0.0) {
            largest_agreeing = largest_agreeing.max(relative);
            continue;
        }
        beyond += 1;
        let score = if relative.is_nan() {
            f32::INFINITY
        } else {
            relative
        };
        if bad.as_ref().is_none_or(|b| score > b.score) {
            bad = Some(Bad {
                index,
                jit: j,
                reference: r,
                tolerance: tolerance(r, scale),
                score,
                beyond: 0,
            });
        }
    }
    if let Some(b) = &mut bad {
        b.beyond = beyond;
    }
    Outcome {
        largest_agreeing,
        bad,
    }
}
