//! Shapes (E0201-E0210): layers applied to tensors of the wrong shape or
//! rank, windows larger than their input, failed shape assertions,
//! reshapes that change the number of values, invalid shapes, and the
//! arithmetic behind each.

use super::words::plural;
use crate::{shape_str, Diagnostic, Label, Span};

/// A static tensor shape without the batch dimension.
pub type Shape = Vec<usize>;

/// A spatial axis of a `[channels, height, width]` tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Height,
    Width,
}

/// The numbers of `conv2d_transpose` along one axis: `out = (input - 1) *
/// stride - pad_before - pad_after + kernel + output_padding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransposeArith {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad_before: usize,
    pub pad_after: usize,
    pub output_padding: usize,
    /// `padding: same` was asked for (out = input * stride).
    pub same: bool,
}

impl TransposeArith {
    /// The output length, negative when the padding eats it all.
    pub fn output(&self) -> i128 {
        (self.input as i128 - 1) * self.stride as i128
            - self.pad_before as i128
            - self.pad_after as i128
            + self.kernel as i128
            + self.output_padding as i128
    }
}

impl Axis {
    pub(super) fn word(self) -> &'static str {
        match self {
            Axis::Height => "height",
            Axis::Width => "width",
        }
    }

    pub(super) fn lines(self) -> &'static str {
        match self {
            Axis::Height => "row",
            Axis::Width => "column",
        }
    }
}

/// The output-size arithmetic of a sliding window (convolution or pooling)
/// along one axis: `out = round((input + pad_before + pad_after - window) / stride) + 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowArith {
    pub input: usize,
    pub pad_before: usize,
    pub pad_after: usize,
    pub window: usize,
    pub stride: usize,
    /// `round: ceil` (Caffe) instead of floor.
    pub ceil: bool,
    /// Ceil rounding only: the last window would start past the input and
    /// its first padding, so it was dropped (as Caffe and PyTorch do).
    pub clipped: bool,
    pub output: i128,
}

impl WindowArith {
    /// `floor((28 + 0 + 0 - 5) / 1) + 1 = 24`
    pub(super) fn formula(&self) -> String {
        let rounded = format!(
            "{}(({} + {} + {} - {}) / {}) + 1",
            if self.ceil { "ceil" } else { "floor" },
            self.input,
            self.pad_before,
            self.pad_after,
            self.window,
            self.stride,
        );
        if self.clipped {
            format!(
                "{rounded} - 1 = {} (the last window would start in the padding)",
                self.output
            )
        } else {
            format!("{rounded} = {}", self.output)
        }
    }

    /// The largest window that still fits the padded input.
    pub(super) fn padded_input(&self) -> u128 {
        self.input as u128 + self.pad_before as u128 + self.pad_after as u128
    }
}

/// How a tensor's shape was computed, for notes under shape errors.
#[derive(Clone, Debug, PartialEq)]
pub enum Derivation {
    /// A model or block input, declared with this shape.
    Input { name: String },
    /// A layer applied to inputs of these shapes; `windows` holds the
    /// sliding-window arithmetic of convolutions and pools.
    Layer {
        layer: String,
        inputs: Vec<Shape>,
        windows: Vec<(Axis, WindowArith)>,
    },
    /// Nothing more to say (an unknown origin).
    Opaque,
}

/// Which rank a layer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RankNeed {
    /// `[n]`
    Vector,
    /// `[channels, height, width]`
    Image,
    /// `[steps, features]`
    Sequence,
}

/// Which parameter of a layer an initialiser is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    Weights,
    Bias,
}

/// What was wrong with a shape (E0209).
#[derive(Clone, Debug, PartialEq)]
pub enum ShapeProblem {
    /// `[]`
    Empty,
    /// A dimension that is zero or negative.
    NonPositive { value: i64 },
    /// The number of values does not fit a machine word.
    TooLarge { dims: Vec<u128> },
    /// `reshape` with more than one `-1`.
    SeveralInferred,
    /// `values([...])` whose nesting is not the parameter's shape.
    InitValues {
        param: ParamKind,
        expected: Shape,
        /// The shape found, when the list is rectangular.
        found: Option<Shape>,
    },
}

pub(super) fn dense_needs_vector(
    code: &'static str,
    input: &[usize],
    size: Option<usize>,
    span: Span,
    input_from: Span,
) -> Diagnostic {
    let shape = shape_str(input);
    let mut d = Diagnostic::error(
        code,
        "dense layer needs a vector input",
        Label::new(span, format!("`dense` applied to a {shape} tensor")),
    )
    .with_secondary(input_from, format!("this produces {shape}"));
    match size {
        Some(n) => {
            d = d
                .with_note(format!(
                    "the input has rank {} and {n} values; `dense` takes a vector [n]",
                    input.len()
                ))
                .with_hint(format!(
                    "insert `flatten` before this layer: the previous layer produces {shape} = {n} values"
                ));
        }
        None => {
            d = d.with_hint("insert `flatten` before this layer");
        }
    }
    d
}

pub(super) fn assertion_failed(
    code: &'static str,
    expected: &[usize],
    actual: &[usize],
    span: Span,
    value_span: Span,
    derivation: &Derivation,
) -> Diagnostic {
    let mut d = Diagnostic::error(
        code,
        format!(
            "shape assertion failed: expected {}, found {}",
            shape_str(expected),
            shape_str(actual)
        ),
        Label::new(span, format!("expected {}", shape_str(expected))),
    )
    .with_secondary(value_span, format!("this has shape {}", shape_str(actual)));
    for note in derivation_notes(derivation, actual) {
        d = d.with_note(note);
    }
    d
}

fn derivation_notes(derivation: &Derivation, actual: &[usize]) -> Vec<String> {
    match derivation {
        Derivation::Input { name } => vec![format!(
            "{} is the declared shape of input `{name}`",
            shape_str(actual)
        )],
        Derivation::Layer {
            layer,
            inputs,
            windows,
        } => {
            let ins: Vec<String> = inputs.iter().map(|s| shape_str(s)).collect();
            let mut notes = vec![format!(
                "{} is the output of `{layer}` applied to {}",
                shape_str(actual),
                ins.join(" and ")
            )];
            for (axis, arith) in windows {
                notes.push(format!("{}: {}", axis.word(), arith.formula()));
            }
            notes
        }
        Derivation::Opaque => Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn window_too_large(
    code: &'static str,
    what: &str,
    layer: &str,
    axes: &[(Axis, WindowArith)],
    input: &[usize],
    span: Span,
    input_from: Span,
    is_conv: bool,
) -> Diagnostic {
    let fits: Vec<String> = axes
        .iter()
        .map(|(axis, arith)| {
            format!(
                "{} {} (padded: {})",
                axis.word(),
                arith.input,
                arith.padded_input()
            )
        })
        .collect();
    let window = axes.first().map_or(0, |(_, a)| a.window);
    let mut d = Diagnostic::error(
        code,
        format!("{what} of `{layer}` is larger than its input"),
        Label::new(
            span,
            format!("{what} {window} does not fit the {}", fits.join(" or the ")),
        ),
    )
    .with_secondary(
        input_from,
        format!("the input {} comes from here", shape_str(input)),
    );
    for (axis, arith) in axes {
        let prefix = if axes.len() > 1 {
            format!("{}: ", axis.word())
        } else {
            String::new()
        };
        d = d.with_note(format!("{prefix}out = {}", arith.formula()));
    }
    let largest = axes
        .iter()
        .map(|(_, a)| a.padded_input())
        .min()
        .unwrap_or(0);
    if is_conv {
        d.with_hint(format!(
            "use `padding: same` to keep the size, or a kernel of at most {largest}"
        ))
    } else {
        d.with_hint(format!(
            "use a window of at most {largest} or `padding: same`, or pool earlier while the input is larger"
        ))
    }
}

pub(super) fn wrong_rank(
    code: &'static str,
    layer: &str,
    need: RankNeed,
    actual: &[usize],
    span: Span,
    input_from: Span,
) -> Diagnostic {
    let (wanted, rank) = match need {
        RankNeed::Vector => ("a vector [n]", 1),
        RankNeed::Image => ("a [channels, height, width] tensor", 3),
        RankNeed::Sequence => ("a sequence [steps, features]", 2),
    };
    let d = Diagnostic::error(
        code,
        format!("`{layer}` needs {wanted}, found {}", shape_str(actual)),
        Label::new(
            span,
            format!("needs rank {rank}, the input has rank {}", actual.len()),
        ),
    )
    .with_secondary(input_from, format!("this produces {}", shape_str(actual)));
    match need {
        RankNeed::Vector => d.with_hint("insert `flatten` before this layer"),
        RankNeed::Image => match image_side(actual) {
            Some((c, side)) => d.with_hint(format!(
                "reshape it first, e.g. `reshape([{c}, {side}, {side}])`, or declare the input as an image: `input x: [{c}, {side}, {side}]`"
            )),
            None if actual.len() == 2 => {
                let h = actual.first().copied().unwrap_or(1);
                let w = actual.get(1).copied().unwrap_or(1);
                d.with_hint(format!("add a channel dimension: `reshape([1, {h}, {w}])`"))
            }
            None => d.with_hint("reshape it to [channels, height, width] first"),
        },
        RankNeed::Sequence => match (actual, image_side(actual)) {
            (_, Some((1, side))) => d.with_hint(format!(
                "read the image as a sequence of its rows: declare `input x: [{side}, {side}]`, or `reshape([{side}, {side}])` first"
            )),
            ([c, h, w], _) => d.with_hint(format!(
                "read the image as a sequence of its rows: `reshape([{h}, {}])` (the {c} channels of a row side by side)",
                c * w
            )),
            ([n], _) => d.with_hint(format!(
                "one value per step is `reshape([{n}, 1])`"
            )),
            _ => d.with_hint("reshape it to [steps, features] first"),
        },
    }
}

/// For a vector whose size is a perfect square (times 1 or 3 channels),
/// the natural image shape: `[784]` -> `(1, 28)`.
fn image_side(actual: &[usize]) -> Option<(usize, usize)> {
    let [n] = actual else { return None };
    for c in [1usize, 3] {
        if n % c != 0 {
            continue;
        }
        let per = n / c;
        let side = (per as f64).sqrt().round() as usize;
        if side > 1 && side.checked_mul(side) == Some(per) {
            return Some((c, side));
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
pub(super) fn shape_mismatch(
    code: &'static str,
    op: &str,
    lhs: &[usize],
    rhs: &[usize],
    span: Span,
    lhs_from: Span,
    rhs_from: Span,
) -> Diagnostic {
    let concat = op.starts_with("concat");
    let (label, note) = if concat {
        (
            "joined tensors of different shapes".to_string(),
            "`concat` needs tensors of one rank, equal on every axis but the one joined"
                .to_string(),
        )
    } else {
        (
            "elementwise operation on different shapes".to_string(),
            "elementwise operations need operands of exactly the same shape".to_string(),
        )
    };
    let hint = (!concat).then(|| {
        format!(
            "give both one shape: the right operand {}, or the left one {}",
            shape_str(lhs),
            shape_str(rhs)
        )
    });
    let d = Diagnostic::error(
        code,
        format!(
            "operands of `{op}` differ in shape: {} and {}",
            shape_str(lhs),
            shape_str(rhs)
        ),
        Label::new(span, label),
    )
    .with_secondary(lhs_from, format!("this is {}", shape_str(lhs)))
    .with_secondary(rhs_from, format!("this is {}", shape_str(rhs)))
    .with_note(note);
    match hint {
        Some(hint) => d.with_hint(hint),
        None => d,
    }
}

pub(super) fn axis_out_of_range(
    code: &'static str,
    callee: &str,
    value: usize,
    shape: &[usize],
    span: Span,
    from: Span,
) -> Diagnostic {
    let rank = shape.len();
    if callee == "slice" {
        let size = shape.first().copied().unwrap_or(0);
        return Diagnostic::error(
            code,
            format!(
                "the slice ends at {value}, past the first axis of {} ({size} positions)",
                shape_str(shape)
            ),
            Label::new(
                span,
                format!("positions 0 to {} exist", size.saturating_sub(1)),
            ),
        )
        .with_secondary(from, format!("this is {}", shape_str(shape)))
        .with_note("a slice `x[a..b]` takes positions a to b - 1 of the example's first axis")
        .with_hint(format!(
            "end the slice at {size} at most (or leave the end out: `x[a..]`)"
        ));
    }
    Diagnostic::error(
        code,
        format!(
            "`{callee}` has no axis {value}: its input {} has {rank} axes",
            shape_str(shape)
        ),
        Label::new(span, format!("axis {value} does not exist")),
    )
    .with_secondary(from, format!("this is {}", shape_str(shape)))
    .with_note("axes count from 0 within an example; the batch is not an axis")
    .with_hint(format!("use an axis from 0 to {}", rank.saturating_sub(1)))
}

pub(super) fn reshape_count(
    code: &'static str,
    from: &[usize],
    from_count: usize,
    to: &[i64],
    to_count: u128,
    inferred: bool,
    span: Span,
) -> Diagnostic {
    let target: Vec<String> = to.iter().map(|d| d.to_string()).collect();
    let target = format!("[{}]", target.join(", "));
    if inferred {
        Diagnostic::error(
            code,
            format!(
                "cannot reshape {} ({from_count} values) into {target}",
                shape_str(from)
            ),
            Label::new(span, "no whole number fits the `-1`"),
        )
        .with_note(format!(
            "{from_count} is not a multiple of {to_count}, the product of the other dimensions"
        ))
    } else {
        Diagnostic::error(
            code,
            "reshape changes the number of values",
            Label::new(span, format!("{target} holds {to_count} values")),
        )
        .with_note(format!(
            "the input {} holds {from_count} values",
            shape_str(from)
        ))
        .with_hint("write `-1` for one dimension to infer it")
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn classes_mismatch(
    code: &'static str,
    classes: usize,
    model: &str,
    output: &[usize],
    output_size: usize,
    labels_span: Span,
    output_span: Span,
    train_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!(
            "model `{model}` has {output_size} output{} but the labels have {classes} classes",
            plural(output_size)
        ),
        Label::new(labels_span, format!("{classes} classes")),
    )
    .with_secondary(
        output_span,
        format!(
            "the output has shape {} = {} value{}",
            shape_str(output),
            output_size,
            plural(output_size)
        ),
    )
    .with_secondary(train_span, "model and data are paired here")
    .with_note("one-hot labels need one output per class")
    .with_hint(if output_size == 1 {
        // `one_hot(1)` would be one class: never what a single output means.
        format!(
            "give the last layer {classes} units, or keep one output and use `labels index` \
             (0/1 targets of a sigmoid output with `cost cross_entropy`, for two classes) or \
             `labels value` (a number to predict, with `cost quadratic`)"
        )
    } else {
        format!(
            "give the last layer {classes} units, or use `one_hot({output_size})` if there are \
             {output_size} classes"
        )
    })
}

pub(super) fn invalid_shape(code: &'static str, problem: &ShapeProblem, span: Span) -> Diagnostic {
    match problem {
        ShapeProblem::Empty => Diagnostic::error(
            code,
            "a shape needs at least one dimension",
            Label::new(span, "empty shape"),
        )
        .with_hint("write e.g. `[784]` or `[1, 28, 28]`"),
        ShapeProblem::NonPositive { value } => Diagnostic::error(
            code,
            format!("shape dimension {value} is not positive"),
            Label::new(span, "dimensions must be at least 1"),
        ),
        ShapeProblem::TooLarge { dims } => {
            let inner: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            Diagnostic::error(
                code,
                "shape holds more values than can be counted",
                Label::new(
                    span,
                    format!("[{}] overflows a 64-bit count", inner.join(", ")),
                ),
            )
        }
        ShapeProblem::SeveralInferred => Diagnostic::error(
            code,
            "only one dimension of a reshape can be `-1`",
            Label::new(span, "several `-1`"),
        ),
        ShapeProblem::InitValues {
            param,
            expected,
            found,
        } => {
            let what = match param {
                ParamKind::Weights => "weights",
                ParamKind::Bias => "bias",
            };
            let label = match found {
                Some(shape) => format!("these values have shape {}", shape_str(shape)),
                None => "these values are not a rectangular nested list".to_string(),
            };
            Diagnostic::error(
                code,
                format!("`values` for the {what} must have shape {}", shape_str(expected)),
                Label::new(span, label),
            )
            .with_note("dense weights are [units][n_in], conv weights [filters][channels][kh][kw], biases [units] or [filters]")
        }
    }
}

pub(super) fn shared_layer_shape(
    code: &'static str,
    name: &str,
    first: &[usize],
    now: &[usize],
    span: Span,
    first_span: Span,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("shared layer `{name}` is used on inputs that need different weights"),
        Label::new(span, format!("this use needs weights {}", shape_str(now))),
    )
    .with_secondary(
        first_span,
        format!("first used here, with weights {}", shape_str(first)),
    )
    .with_note(
        "a `layer` instance has one set of weights, so every use needs inputs of the same size",
    )
}

pub(super) fn transpose_arith(
    code: &'static str,
    layer: &str,
    axis: Axis,
    a: &TransposeArith,
    span: Span,
    input_from: Span,
) -> Diagnostic {
    let along = axis.word();
    let formula = format!(
        "out = ({} - 1) * {} - {} - {} + {} + {} = {}",
        a.input,
        a.stride,
        a.pad_before,
        a.pad_after,
        a.kernel,
        a.output_padding,
        a.output()
    );
    let d = if a.output_padding >= a.stride {
        Diagnostic::error(
            code,
            format!("the output padding of `{layer}` is not smaller than its stride"),
            Label::new(
                span,
                format!("output padding {} along the {along}", a.output_padding),
            ),
        )
        .with_note(format!(
            "a stride of {} maps {} output sizes onto the same input size; the output padding \
             picks one of them, so it is less than the stride",
            a.stride, a.stride
        ))
        .with_hint(if a.stride == 2 {
            "use `output_padding: 0 or 1`".to_string()
        } else {
            format!("use an `output_padding` from 0 to {}", a.stride - 1)
        })
    } else if a.same {
        Diagnostic::error(
            code,
            format!(
                "`padding: same` cannot make `{layer}` {} times larger",
                a.stride
            ),
            Label::new(
                span,
                format!("the kernel is smaller than the stride along the {along}"),
            ),
        )
        .with_note(format!(
            "`same` gives out = input * stride = {} * {} = {}, which needs kernel + output \
             padding >= stride ({} + {} < {})",
            a.input,
            a.stride,
            a.input * a.stride,
            a.kernel,
            a.output_padding,
            a.stride
        ))
        .with_hint(format!(
            "use a kernel of at least {} (the stride), or `padding: valid`",
            a.stride
        ))
    } else {
        Diagnostic::error(
            code,
            format!("`{layer}` has no output along the {along}: its padding removes it all"),
            Label::new(span, format!("{} output rows or columns", a.output())),
        )
        .with_note(formula.clone())
        .with_hint(format!(
            "padding removes rows or columns of the output; use at most {} in all along the {along}",
            ((a.input as i128 - 1) * a.stride as i128 + a.kernel as i128 + a.output_padding as i128
                - 1)
            .max(0)
        ))
    };
    d.with_secondary(input_from, format!("the input is {} along the {along}", a.input))
        .with_note(format!(
            "conv2d_transpose: out = (input - 1) * stride - padding + kernel + output_padding; here {formula}"
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckError;

    fn arith(input: usize, window: usize, stride: usize, output: i128) -> WindowArith {
        WindowArith {
            input,
            pad_before: 0,
            pad_after: 0,
            window,
            stride,
            ceil: false,
            clipped: false,
            output,
        }
    }

    #[test]
    fn kernel_too_large_shows_the_arithmetic() {
        let e = CheckError::KernelTooLarge {
            layer: "conv2d".into(),
            axes: vec![(Axis::Height, arith(28, 31, 1, -2))],
            input: vec![1, 28, 28],
            span: Span::new(10, 20),
            input_from: Span::new(0, 5),
        };
        let d = e.to_diagnostic();
        assert_eq!(d.code, "E0203");
        assert!(
            d.notes
                .iter()
                .any(|n| n == "out = floor((28 + 0 + 0 - 31) / 1) + 1 = -2"),
            "{d:?}"
        );
        assert!(d.hints.iter().any(|h| h.contains("padding: same")), "{d:?}");
        assert_eq!(d.secondary.len(), 1);
    }

    #[test]
    fn transposed_convolution_arithmetic_is_shown() {
        let arith = TransposeArith {
            input: 4,
            kernel: 2,
            stride: 1,
            pad_before: 3,
            pad_after: 3,
            output_padding: 0,
            same: false,
        };
        let e = CheckError::TransposeArith {
            layer: "conv2d_transpose".into(),
            axis: Axis::Height,
            arith,
            span: Span::new(10, 20),
            input_from: Span::new(0, 5),
        };
        let d = e.to_diagnostic();
        assert_eq!(d.code, "E0211");
        assert!(
            d.notes
                .iter()
                .any(|n| n == "out = (4 - 1) * 1 - 3 - 3 + 2 + 0 = -1"),
            "{d:?}"
        );
        let padded = CheckError::TransposeArith {
            layer: "conv2d_transpose".into(),
            axis: Axis::Width,
            arith: TransposeArith {
                output_padding: 2,
                stride: 2,
                pad_before: 0,
                pad_after: 0,
                ..arith
            },
            span: Span::new(10, 20),
            input_from: Span::new(0, 5),
        };
        let d = padded.to_diagnostic();
        assert!(d.message.contains("output padding"), "{d:?}");
        assert!(d.hints.iter().any(|h| h.contains("0 or 1")), "{d:?}");
    }

    #[test]
    fn dense_needs_vector_suggests_flatten() {
        let e = CheckError::DenseNeedsVector {
            input: vec![20, 12, 12],
            size: Some(2880),
            span: Span::new(10, 20),
            input_from: Span::new(0, 5),
        };
        let d = e.to_diagnostic();
        assert!(d
            .hints
            .contains(&"insert `flatten` before this layer: the previous layer produces [20, 12, 12] = 2880 values".to_string()));
    }

    #[test]
    fn image_side_finds_mnist() {
        assert_eq!(image_side(&[784]), Some((1, 28)));
        assert_eq!(image_side(&[3072]), Some((3, 32)));
        assert_eq!(image_side(&[10]), None);
    }
}
