//! The table of diagnostic codes. A code, once published, keeps its meaning.
//!
//! `E00xx` syntax, `E01xx` names and arguments, `E02xx` shapes, `E03xx` costs,
//! `E04xx` training, `E05xx` data files, `W01xx` lints (warnings).

/// Every code with a one-line title, in order.
pub const ALL: &[(&str, &str)] = &[
    ("E0001", "syntax error"),
    ("E0002", "number literal out of range"),
    ("E0101", "unknown name"),
    ("E0102", "unknown layer or function"),
    ("E0103", "duplicate definition"),
    ("E0104", "unknown argument"),
    ("E0105", "missing required argument"),
    ("E0106", "too many positional arguments"),
    ("E0107", "argument given twice"),
    ("E0108", "value of the wrong kind"),
    ("E0109", "value out of range"),
    ("E0110", "unknown option"),
    ("E0111", "unknown setting"),
    ("E0112", "statement not allowed here"),
    ("E0113", "recursive block"),
    ("E0114", "model inputs are missing or ambiguous"),
    ("E0115", "model has no output"),
    ("E0116", "invalid constant expression"),
    ("E0117", "setting given twice"),
    ("E0201", "dense layer needs a vector input"),
    ("E0202", "shape assertion failed"),
    ("E0203", "convolution kernel larger than its input"),
    ("E0204", "pooling window larger than its input"),
    ("E0205", "input has the wrong rank"),
    ("E0206", "elementwise operands differ in shape"),
    ("E0207", "reshape changes the number of values"),
    ("E0208", "output size differs from the number of classes"),
    ("E0209", "invalid shape"),
    ("E0210", "shared layer used on inputs of different sizes"),
    ("E0301", "cost does not fit the output activation"),
    ("E0302", "trained model has no cost"),
    ("E0401", "schedule epoch beyond the last epoch"),
    ("E0402", "missing training setting"),
    ("E0403", "missing data split"),
    ("E0404", "schedule epochs out of order"),
    ("E0405", "several models in one train block"),
    ("E0501", "data file not found"),
    ("E0502", "not an IDX file"),
    ("E0503", "IDX file size does not match its header"),
    ("E0504", "split larger than its source"),
    ("E0505", "labels do not match the model output"),
    ("E0506", "images and labels differ in count"),
    ("E0507", "malformed CSV file"),
    ("E0508", "malformed image folder"),
    ("E0509", "data does not fit the model input"),
    ("E0510", "data file cannot be read"),
    ("W0101", "stride drops pixels"),
    ("W0102", "quadratic cost on sigmoid outputs"),
    ("W0103", "N(0, 1) initialisation on a large fan-in"),
    ("W0104", "log-likelihood without softmax"),
    ("W0105", "unused definition"),
];

/// The title of a code, if the code exists.
pub fn title(code: &str) -> Option<&'static str> {
    ALL.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}
