//! `nnc predict FILE --weights CKPT INPUT...`: class probabilities of new
//! examples under trained weights.
//!
//! The command checks the file (without opening its data), matches the
//! checkpoint with it as `nnc eval` does, reads every input into examples
//! of the model input's shape, runs the model's inference graph on them
//! (on the backend `--backend` names) and prints, per example, the most probable classes
//! (text) or one JSON object per example (`--format json`).
//!
//! Inputs, told apart by their names (a `.gz` suffix is looked through):
//! - `.png`, `.jpg`, `.jpeg`: one image, one example. Its channels are
//!   converted to the model input's as an image folder's are
//!   (`nnc_data::resize::image_to_planes`: grey is the BT.601 luma, colour
//!   from grey repeats it). When the model's data is an image folder, the
//!   image is resized to the folder's `size:` as training images were;
//!   otherwise it must already have the input's height and width (an input
//!   `[n]` takes a grey image of `n` pixels).
//! - `.idx`, `*-ubyte` (MNIST's names) and other names holding `.idx`: an
//!   IDX file of examples, one per entry of its first dimension, whose
//!   shape must fit the input as the data checks require.
//! - `.csv`: one example per row of numbers, a header row optional. A row
//!   holds the input's values, or one more: the label column of the
//!   model's CSV data (found by name in a header, or by the data's index),
//!   which is left out.
//!
//! Every value is multiplied by the data block's `scale`, as in training.
//!
//! Probabilities: a softmax output's activations as they are; another
//! output of several non-negative values (sigmoids) normalised to sum to 1;
//! one of any sign through a softmax; a single output `p` gives two
//! classes, `1 - p` and `p`. The class is the one the training accuracy
//! counts (the first largest output; for a single output, above one half).
//! A model trained with `labels value` has no classes: its outputs are
//! printed as they are. Classes are named by the image folder's class
//! folders when the data is one, else by their indices.
//!
//! Exit codes: 0 when every input was predicted; 1 when an input cannot be
//! used (wrong size, not a number, not an image) or the file or checkpoint
//! cannot; 2 on usage errors and missing or unreadable files. Every input
//! is read before any prediction is printed, and every bad input is named.

use crate::args::positive;
use crate::args::BackendKind;
use crate::eval::{activation_of, class_count, predicted_class, Inference, Opened, Weights};
use crate::failure::Failure;
use crate::Format;
use clap::Args;
use nnc_check::program::{Activation, DataSpec, LabelColumn, Labels, Source};
use nnc_data::csv::{read_csv, CsvOptions};
use nnc_data::image::{read_image, Image};
use nnc_data::resize::image_to_planes;
use nnc_data::{example_fits, open_idx, FileProblem, IdxType, ImageProblem};
use nnc_diag::data::{CsvProblem, DataError, ExampleShape, FileRole};
use nnc_diag::Span;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXIT_PROBLEMS: u8 = 1;
const EXIT_USAGE: u8 = 2;

/// Examples run through the model at a time.
const BATCH: usize = 100;

/// The arguments of `nnc predict`.
#[derive(Args)]
pub(crate) struct PredictArgs {
    /// The .nnet file the weights were trained from.
    pub file: PathBuf,
    /// The checkpoint: its .safetensors file, its .json sidecar, or a
    /// folder of checkpoints (its `best`, kept by `--keep-best`, else the
    /// newest).
    #[arg(long, value_name = "CKPT")]
    pub weights: PathBuf,
    /// The examples: PNG or JPEG images (.png, .jpg), IDX files (.idx,
    /// *-ubyte; one example per entry) or CSV files (.csv; one example per
    /// row, a header optional).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// How many of the most probable classes the text output lists.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = positive())]
    pub top: usize,
    /// What runs the model.
    #[arg(long, value_enum, default_value_t = BackendKind::Jit)]
    pub backend: BackendKind,
    /// Output format: text lines, or a JSON array of one object per example.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Runs `nnc predict` and returns its exit code.
pub(crate) fn predict(args: &PredictArgs) -> ExitCode {
    match predict_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit(),
    }
}

fn predict_inner(args: &PredictArgs) -> Result<(), Failure> {
    let opened = Opened::open(&args.file, false)?;
    let program = opened.program("predict with it")?;
    let weights = Weights::load(&opened, program, &args.weights)?;
    let model = weights.model;
    let [input] = model.inputs.as_slice() else {
        return Err(Failure::problem(format!(
            "model `{}` has {} inputs; `nnc predict` reads examples of one input",
            model.name,
            model.inputs.len()
        )));
    };
    let reader = InputReader::new(&model.name, &model.node(*input).shape, weights.data);
    let mut examples = Vec::new();
    let mut problems: Vec<InputProblem> = Vec::new();
    for path in &args.inputs {
        match reader.read(path) {
            Ok(read) => examples.extend(read),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("error: {}", problem.message);
        }
        let code = problems
            .iter()
            .map(|p| p.code)
            .max()
            .unwrap_or(EXIT_PROBLEMS);
        return Err(Failure {
            message: format!(
                "{} of {} input{} cannot be used; nothing was predicted",
                problems.len(),
                args.inputs.len(),
                if args.inputs.len() == 1 { "" } else { "s" }
            ),
            code,
        });
    }
    let mut inference = Inference::new(
        model,
        args.backend,
        weights.params.clone(),
        weights.checkpoint.sidecar.seed,
    )?;
    let width = inference.width();
    // A model trained on `labels value` has no classes, nor has one that
    // reconstructs its input (an autoencoder): their outputs are values.
    let classifies =
        !matches!(weights.data.labels, Labels::Value | Labels::None) && !model.reconstructs();
    let activation = classifies.then(|| compared_activation(&weights));
    let names = class_names(weights.data, &opened.base_dir, class_count(width));
    let mut predictions = Vec::with_capacity(examples.len());
    let mut values = Vec::new();
    for chunk in examples.chunks(BATCH) {
        values.clear();
        for example in chunk {
            values.extend_from_slice(&example.values);
        }
        let out = inference.run(&values, None, chunk.len())?;
        for (example, row) in chunk.iter().zip(out.predictions.chunks(width.max(1))) {
            let probabilities = activation.map(|act| probabilities(row, act));
            predictions.push(Prediction {
                input: example.input.clone(),
                index: example.index,
                several: example.several,
                class: probabilities.as_ref().map(|_| predicted_class(row)),
                probabilities,
                outputs: row.to_vec(),
            });
        }
    }
    let text = match args.format {
        Format::Text => predictions
            .iter()
            .map(|p| p.line(args.top, names.as_deref()) + "\n")
            .collect::<String>(),
        Format::Json => {
            let array: Vec<Value> = predictions
                .iter()
                .map(|p| p.json(names.as_deref()))
                .collect();
            serde_json::to_string_pretty(&Value::Array(array)).unwrap_or_default() + "\n"
        }
    };
    // A closed pipe (`nnc predict ... | head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(())
}

/// The activation of the output the predictions are read from.
fn compared_activation(weights: &Weights<'_>) -> Activation {
    let model = weights.model;
    let id = model
        .cost
        .as_ref()
        .map(|c| c.output)
        .or_else(|| model.outputs.first().map(|(_, id)| *id));
    id.map_or(Activation::Identity, |id| activation_of(model, id))
}

/// The class probabilities of one prediction row (see the module notes).
fn probabilities(row: &[f32], activation: Activation) -> Vec<f64> {
    let values: Vec<f64> = row.iter().map(|v| f64::from(*v)).collect();
    if let [p] = values.as_slice() {
        let p = p.clamp(0.0, 1.0);
        return vec![1.0 - p, p];
    }
    let sum: f64 = values.iter().sum();
    let non_negative = values.iter().all(|v| *v >= 0.0);
    if (activation == Activation::Softmax || non_negative) && sum > 0.0 && sum.is_finite() {
        return values.iter().map(|v| v / sum).collect();
    }
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = values.iter().map(|v| (v - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// The class names of an image folder's data (its class folders, sorted),
/// when they are as many as the classes the model tells apart.
fn class_names(data: &DataSpec, base_dir: &Path, classes: usize) -> Option<Vec<String>> {
    let folder = [&data.train, &data.validation, &data.test]
        .into_iter()
        .flatten()
        .find_map(|split| match &split.source {
            Source::Folder { path, .. } => Some(path),
            _ => None,
        })?;
    let names = nnc_data::inspect_folder(&nnc_data::resolve(base_dir, folder))
        .ok()?
        .class_names();
    (names.len() == classes).then_some(names)
}

/// One example read from an input file.
struct Example {
    /// The input file as given.
    input: String,
    /// The example's place in its file (0 for an image).
    index: usize,
    /// Whether the file holds several examples (IDX, CSV).
    several: bool,
    /// The model input's values, scaled.
    values: Vec<f32>,
}

/// Why an input cannot be used, worded, and the exit code it calls for.
struct InputProblem {
    message: String,
    code: u8,
}

impl InputProblem {
    fn problem(message: String) -> InputProblem {
        InputProblem {
            message,
            code: EXIT_PROBLEMS,
        }
    }
}

/// The kinds of input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InputKind {
    Image,
    Idx,
    Csv,
}

/// The kind of an input file by its name; `None` when the name tells
/// nothing.
fn input_kind(path: &Path) -> Option<InputKind> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    if [".png", ".jpg", ".jpeg"].iter().any(|e| name.ends_with(e)) {
        Some(InputKind::Image)
    } else if name.ends_with(".csv") {
        Some(InputKind::Csv)
    } else if name.ends_with(".idx") || name.ends_with("ubyte") || name.contains(".idx") {
        Some(InputKind::Idx)
    } else {
        None
    }
}

/// Reads input files into examples of one model input.
struct InputReader<'a> {
    model: &'a str,
    /// The model input's shape (batch dimension left out).
    shape: &'a [usize],
    /// Values per example.
    values: usize,
    scale: f64,
    /// `Some(size)` when the data is an image folder: images are resized
    /// to it.
    folder_size: Option<Vec<usize>>,
    /// The label column of the data's CSV source, if it has one.
    csv_label: Option<LabelColumn>,
}

impl<'a> InputReader<'a> {
    fn new(model: &'a str, shape: &'a [usize], data: &DataSpec) -> InputReader<'a> {
        let sources = || {
            [&data.train, &data.validation, &data.test]
                .into_iter()
                .flatten()
                .map(|split| &split.source)
        };
        InputReader {
            model,
            shape,
            values: shape.iter().product(),
            scale: data.scale,
            folder_size: sources().find_map(|s| match s {
                Source::Folder { size, .. } => Some(size.clone()),
                _ => None,
            }),
            csv_label: sources().find_map(|s| match s {
                // A table without a label column (`labels none`) has
                // features alone: every column is a feature.
                Source::Csv { label, .. } => label.clone(),
                _ => None,
            }),
        }
    }

    fn read(&self, path: &Path) -> Result<Vec<Example>, InputProblem> {
        let shown = path.display().to_string();
        if !path.exists() {
            return Err(InputProblem {
                message: format!("cannot find the input `{shown}`: no such file"),
                code: EXIT_USAGE,
            });
        }
        if path.is_dir() {
            return Err(InputProblem {
                message: format!(
                    "the input `{shown}` is a folder; pass its files (images, IDX or CSV)"
                ),
                code: EXIT_USAGE,
            });
        }
        match input_kind(path) {
            Some(InputKind::Image) => Ok(vec![Example {
                input: shown,
                index: 0,
                several: false,
                values: self.image(path)?,
            }]),
            Some(InputKind::Idx) => self.idx(path, &shown),
            Some(InputKind::Csv) => self.csv(path, &shown),
            None => Err(InputProblem {
                message: format!(
                    "cannot tell what `{shown}` holds from its name: name images .png or \
                     .jpg, IDX files .idx (or MNIST's *-ubyte) and CSV files .csv"
                ),
                code: EXIT_USAGE,
            }),
        }
    }

    /// The model input's shape, as written in messages.
    fn wanted(&self) -> String {
        format!("model `{}` wants input {:?}", self.model, self.shape)
    }

    /// One image as the model input's values.
    fn image(&self, path: &Path) -> Result<Vec<f32>, InputProblem> {
        let shown = path.display();
        let image = read_image(path).map_err(|problem| image_problem(path, &problem))?;
        let (channels, height, width) = self.image_planes(&image).ok_or_else(|| {
            InputProblem::problem(format!(
                "`{shown}` is an image of shape [{}, {}] (height and width in pixels); {}{}",
                image.height,
                image.width,
                self.wanted(),
                self.image_wanted()
            ))
        })?;
        let mut planes = vec![0u8; channels * height * width];
        image_to_planes(&image, channels, height, width, &mut planes);
        Ok(planes
            .iter()
            .map(|b| (f64::from(*b) * self.scale) as f32)
            .collect())
    }

    /// The channels, height and width an image becomes, or `None` when
    /// the model input cannot take it.
    fn image_planes(&self, image: &Image) -> Option<(usize, usize, usize)> {
        if let Some([c, h, w]) = self.folder_size.as_deref() {
            return Some((*c, *h, *w));
        }
        let fits = |h: usize, w: usize| (image.height, image.width) == (h, w);
        match *self.shape {
            [n] if image.height * image.width == n => Some((1, image.height, image.width)),
            [h, w] if fits(h, w) => Some((1, h, w)),
            [c, h, w] if (1..=4).contains(&c) && fits(h, w) => Some((c, h, w)),
            _ => None,
        }
    }

    /// What image the model input takes, for messages.
    fn image_wanted(&self) -> String {
        match *self.shape {
            [n] => format!(": a grey image of {n} pixels"),
            [h, w] => format!(": a grey image of {h} x {w} pixels"),
            [c, h, w] if (1..=4).contains(&c) => format!(
                ": an image of {h} x {w} pixels ({c} channel{})",
                if c == 1 { "" } else { "s" }
            ),
            _ => ", which no image gives".to_string(),
        }
    }

    /// Every example of an IDX file.
    fn idx(&self, path: &Path, shown: &str) -> Result<Vec<Example>, InputProblem> {
        let problem = |p: FileProblem| file_problem(path, FileRole::Images, p);
        let mut reader = open_idx(path).map_err(problem)?;
        let header = reader.header().clone();
        let example = header.example_shape();
        if !example_fits(&ExampleShape::Idx(example.clone()), self.shape) {
            return Err(InputProblem::problem(format!(
                "`{shown}` holds examples of shape {example:?}; {} ({} values)",
                self.wanted(),
                self.values
            )));
        }
        let count = usize::try_from(header.count()).unwrap_or(usize::MAX);
        if count == 0 {
            return Err(InputProblem::problem(format!(
                "`{shown}` holds no examples"
            )));
        }
        let total = count.checked_mul(self.values).ok_or_else(|| {
            InputProblem::problem(format!("`{shown}` holds more values than fit in memory"))
        })?;
        let scale = self.scale;
        let values: Vec<f32> = if header.element == IdxType::U8 {
            let mut bytes = reserve::<u8>(total, shown)?;
            bytes.resize(total, 0);
            reader.read_bytes(&mut bytes).map_err(problem)?;
            bytes
                .iter()
                .map(|b| (f64::from(*b) * scale) as f32)
                .collect()
        } else {
            let mut floats = reserve::<f32>(total, shown)?;
            floats.resize(total, 0.0);
            reader.read_f32(&mut floats).map_err(problem)?;
            floats
                .iter()
                .map(|v| (f64::from(*v) * scale) as f32)
                .collect()
        };
        reader.expect_end().map_err(problem)?;
        Ok(values
            .chunks(self.values.max(1))
            .enumerate()
            .map(|(index, row)| Example {
                input: shown.to_string(),
                index,
                several: true,
                values: row.to_vec(),
            })
            .collect())
    }

    /// Every row of a CSV file.
    fn csv(&self, path: &Path, shown: &str) -> Result<Vec<Example>, InputProblem> {
        let (names, rows) = read_rows(path)?;
        let columns = rows.first().map_or(0, Vec::len);
        let dropped = if columns == self.values {
            None
        } else if columns == self.values + 1 {
            Some(self.label_column(names.as_deref()).ok_or_else(|| {
                InputProblem::problem(format!(
                    "`{shown}` has rows of {columns} values, one more than the {} features \
                     model `{}` wants, and no label column to leave out{}",
                    self.values,
                    self.model,
                    match &self.csv_label {
                        Some(LabelColumn::Name(name)) => {
                            format!(" (no header names the data's label column `{name}`)")
                        }
                        _ => String::new(),
                    }
                ))
            })?)
        } else {
            let or_labelled = if self.csv_label.is_some() {
                format!(", or {} with the label column", self.values + 1)
            } else {
                String::new()
            };
            return Err(InputProblem::problem(format!(
                "`{shown}` has rows of {columns} values; {} ({} features per row{or_labelled})",
                self.wanted(),
                self.values,
            )));
        };
        let scale = self.scale;
        Ok(rows
            .iter()
            .enumerate()
            .map(|(index, row)| Example {
                input: shown.to_string(),
                index,
                several: true,
                values: row
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != dropped)
                    .map(|(_, v)| (f64::from(*v as f32) * scale) as f32)
                    .collect(),
            })
            .collect())
    }

    /// The index of the data's label column among `names` (a header) or
    /// by the data's index.
    fn label_column(&self, names: Option<&[String]>) -> Option<usize> {
        match (&self.csv_label, names) {
            (Some(LabelColumn::Name(name)), Some(names)) => names.iter().position(|n| n == name),
            (Some(LabelColumn::Index(i)), _) => Some(*i),
            _ => None,
        }
    }
}

/// An empty vector with room for `total` values, or a problem naming the
/// file when the memory cannot be reserved.
fn reserve<T>(total: usize, shown: &str) -> Result<Vec<T>, InputProblem> {
    let mut values = Vec::new();
    values.try_reserve_exact(total).map_err(|_| {
        InputProblem::problem(format!(
            "`{shown}` holds {total} values, more than fit in memory"
        ))
    })?;
    Ok(values)
}

/// A CSV file of numbers: its header's names, if it has a header, and its
/// rows.
type Table = (Option<Vec<String>>, Vec<Vec<f64>>);

/// Reads a CSV file of numbers: as data first, and, when the first row is
/// not numbers, as a header and data.
fn read_rows(path: &Path) -> Result<Table, InputProblem> {
    let attempt = |header: bool| {
        let mut rows: Vec<Vec<f64>> = Vec::new();
        // Rows of features alone may have one column (a model of one
        // input value); the label column, if any, is found afterwards.
        let options = CsvOptions {
            label: Some(LabelColumn::Index(0)),
            header,
            labelled: false,
        };
        read_csv(path, &options, |cells, _| rows.push(cells.to_vec()))
            .map(|summary| (summary.names, rows))
    };
    let problem = |p: FileProblem| file_problem(path, FileRole::Csv, p);
    match attempt(false) {
        Ok(read) => Ok(read),
        Err(first @ FileProblem::Csv(CsvProblem::NotNumeric { .. })) => {
            attempt(true).map_err(|_| problem(first))
        }
        Err(other) => Err(problem(other)),
    }
}

/// A file problem of an input, worded as the data checks word it.
fn file_problem(path: &Path, role: FileRole, problem: FileProblem) -> InputProblem {
    let shown = path.display().to_string();
    let code = match &problem {
        FileProblem::NotFound(_) | FileProblem::NotAFile | FileProblem::Unreadable { .. } => {
            EXIT_USAGE
        }
        _ => EXIT_PROBLEMS,
    };
    let error = DataError::File {
        span: Span::new(0, 0),
        role,
        written: shown.clone(),
        resolved: shown,
        base_dir: ".".to_string(),
        problem,
    };
    let diagnostic = error.to_diagnostic();
    let mut message = diagnostic.message;
    for note in diagnostic.notes.iter().chain(&diagnostic.hints) {
        message.push_str("; ");
        message.push_str(note);
    }
    InputProblem { message, code }
}

/// An image that cannot be decoded, worded.
fn image_problem(path: &Path, problem: &ImageProblem) -> InputProblem {
    let shown = path.display();
    match problem {
        ImageProblem::NotAnImage { found } => InputProblem::problem(format!(
            "`{shown}` is neither a PNG nor a JPEG image (it starts with {}); images are \
             recognised by their first bytes, not by their names",
            if found.is_empty() {
                "nothing: it is empty".to_string()
            } else {
                found
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        )),
        ImageProblem::Decode { format, reason } => InputProblem::problem(format!(
            "cannot decode `{shown}` as {}: {reason}",
            format.name()
        )),
        ImageProblem::TooLarge {
            width,
            height,
            limit,
            ..
        } => InputProblem::problem(format!(
            "`{shown}` is an image of {width} x {height} pixels; decoded, it would take more \
             than {limit} bytes"
        )),
        ImageProblem::Unreadable { reason } => InputProblem {
            message: format!("cannot read `{shown}`: {reason}"),
            code: EXIT_USAGE,
        },
    }
}

/// The prediction for one example.
struct Prediction {
    input: String,
    index: usize,
    several: bool,
    /// `None` for a model without classes (`labels value`).
    class: Option<usize>,
    probabilities: Option<Vec<f64>>,
    /// The output's activations as the model computed them.
    outputs: Vec<f32>,
}

impl Prediction {
    /// `digit.png: 7 98.12%, 3 1.20%, 9 0.31%`; `rows.csv[4]: ...` for an
    /// example of a file of several.
    fn line(&self, top: usize, names: Option<&[String]>) -> String {
        let head = if self.several {
            format!("{}[{}]", self.input, self.index)
        } else {
            self.input.clone()
        };
        let Some(probabilities) = &self.probabilities else {
            let values: Vec<String> = self.outputs.iter().map(|v| format!("{v:.6}")).collect();
            return format!("{head}: {}", values.join(", "));
        };
        let mut ranked: Vec<(usize, f64)> = probabilities.iter().copied().enumerate().collect();
        // Stable: equal probabilities keep the class order.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let listed: Vec<String> = ranked
            .iter()
            .take(top)
            .map(|(class, p)| format!("{} {:.2}%", class_name(*class, names), 100.0 * p))
            .collect();
        format!("{head}: {}", listed.join(", "))
    }

    fn json(&self, names: Option<&[String]>) -> Value {
        let mut object = json!({
            "input": self.input,
            "index": self.index,
        });
        if let (Some(class), Some(probabilities)) = (self.class, &self.probabilities) {
            object["class"] = json!(class);
            if names.is_some() {
                object["class_name"] = json!(class_name(class, names));
            }
            object["probabilities"] = json!(probabilities);
        }
        object["outputs"] = json!(self.outputs);
        object
    }
}

/// A class's name, or its index.
fn class_name(class: usize, names: Option<&[String]>) -> String {
    names
        .and_then(|n| n.get(class))
        .cloned()
        .unwrap_or_else(|| class.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_told_apart_by_their_names() {
        let kind = |name: &str| input_kind(Path::new(name));
        assert_eq!(kind("digit.PNG"), Some(InputKind::Image));
        assert_eq!(kind("cat.jpeg"), Some(InputKind::Image));
        assert_eq!(kind("rows.csv.gz"), Some(InputKind::Csv));
        assert_eq!(kind("t10k-images-idx3-ubyte.gz"), Some(InputKind::Idx));
        assert_eq!(kind("images.idx"), Some(InputKind::Idx));
        assert_eq!(kind("train.idx3"), Some(InputKind::Idx));
        assert_eq!(kind("notes.txt"), None);
    }

    #[test]
    fn probabilities_sum_to_one_whatever_the_output() {
        let sum = |v: Vec<f64>| v.iter().sum::<f64>();
        let softmax = probabilities(&[0.7, 0.2, 0.1], Activation::Softmax);
        assert!((softmax[0] - 0.7).abs() < 1e-6);
        let sigmoids = probabilities(&[0.9, 0.3], Activation::Sigmoid);
        assert!((sigmoids[0] - 0.75).abs() < 1e-6);
        assert!((sum(probabilities(&[-1.0, 2.0, 0.5], Activation::Identity)) - 1.0).abs() < 1e-12);
        assert_eq!(
            probabilities(&[0.25], Activation::Sigmoid),
            vec![0.75, 0.25]
        );
    }
}
