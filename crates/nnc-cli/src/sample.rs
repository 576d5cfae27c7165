//! `nnc sample FILE --weights CKPT -o grid.png`: images drawn from a
//! generative model's prior. For a model whose output is decoded from a
//! code that reads noise (a VAE's `z = mu + exp(0.5 * logvar) *
//! normal([20])`), the decoder alone is run on codes drawn from N(0, I),
//! the prior the KL term pulls the codes towards; `--interpolate` decodes
//! the codes on the straight line between two test images' codes (each
//! image's code at the noise's mean: `mu` for a VAE).
//!
//! Exit codes: 0 when the grid was written; 1 when the file, the
//! checkpoint or the model cannot be used (errors, no sampler); 2 on usage
//! errors and unreadable or unwritable files.

use crate::args::BackendKind;
use crate::eval::{Inference, Opened, Weights};
use crate::failure::Failure;
use crate::game::Generator;
use crate::images::{image_layout, write_grid};
use clap::Args;
use nnc_check::cut;
use nnc_check::program::{Model, NodeId, Op};
use nnc_ir::rng::{Noise, Rng};
use nnc_train::SplitKind;
use std::path::PathBuf;
use std::process::ExitCode;

/// The most images one grid holds.
const MAX_COUNT: usize = 1024;

/// The arguments of `nnc sample`.
#[derive(Args)]
pub(crate) struct SampleArgs {
    /// The .nnet file the weights were trained from.
    pub file: PathBuf,
    /// The checkpoint: its .safetensors file, its .json sidecar, or a
    /// folder of checkpoints (its `best`, else the newest).
    #[arg(long, value_name = "CKPT")]
    pub weights: PathBuf,
    /// The image grid to write: `grid.png` writes `grid.png` and
    /// `grid.svg`. For a character model, the text file to write (by
    /// default the text goes to the standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// For a character model: the text it goes on from.
    #[arg(long, value_name = "TEXT", default_value = "\n")]
    pub prime: String,
    /// For a character model: how many characters to write after the prime.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub length: usize,
    /// For a character model: below 1 the likelier characters are drawn
    /// more often, above 1 less often (each probability raised to
    /// `1 / temperature`).
    #[arg(long, value_name = "T", default_value_t = 1.0)]
    pub temperature: f64,
    /// How many images: samples from the prior, or points of the
    /// interpolation (both ends included).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=MAX_COUNT as u64))]
    pub count: u64,
    /// Seeds the codes drawn from the prior.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The tensor the output is decoded from, as `nnc summary` names it (`z`,
    /// `encoder.mu`); by default the first one through which every input and
    /// every noise source reaches the output (a VAE's code).
    #[arg(long, value_name = "NAME")]
    pub from: Option<String>,
    /// Decode the line between the codes of two examples of the test split
    /// (0-based indices, `A,B`) instead of samples from the prior.
    #[arg(long, value_name = "A,B", num_args = 0..=1, default_missing_value = "0,1")]
    pub interpolate: Option<String>,
    /// What runs the model.
    #[arg(long, value_enum, default_value_t = BackendKind::Jit)]
    pub backend: BackendKind,
    /// For a game's conditional generator: draw this class (0-based)
    /// only; by default the classes in turn, one per column.
    #[arg(long, value_name = "K")]
    pub label: Option<usize>,
    /// For a game: the model that generates (by default the first the
    /// train block names).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
}

/// Runs `nnc sample` and returns its exit code.
pub(crate) fn sample(args: &SampleArgs) -> ExitCode {
    match sample_inner(args) {
        Ok(line) => {
            crate::failure::print_line(line);
            ExitCode::SUCCESS
        }
        Err(failure) => failure.exit(),
    }
}

fn sample_inner(args: &SampleArgs) -> Result<String, Failure> {
    let interpolate = args.interpolate.as_deref().map(pair).transpose()?;
    let opened = Opened::open(&args.file, interpolate.is_some())?;
    let program = opened.program("sample from it")?;
    if let Some(line) = sample_chars(args, &opened, program)? {
        return Ok(line);
    }
    let Some(output) = &args.output else {
        return Err(Failure::usage(
            "give the image grid to write with `-o grid.png` (a character model writes text without it)",
        ));
    };
    let stem = grid_stem(output)?;
    if let Some(line) = sample_game(args, &opened, program, &stem)? {
        return Ok(line);
    }
    if let Some(label) = args.label {
        return Err(Failure::usage(format!(
            "`--label {label}` chooses the class a game's conditional generator draws; the \
             weights `{}` are no game's",
            args.weights.display()
        )));
    }
    let weights = Weights::load(&opened, program, &args.weights)?;
    let model = weights.model;
    let sampler = Sampler::find(model, args.from.as_deref())?;
    let count = args.count as usize;
    let codes = match interpolate {
        None => {
            let mut rng = Rng::new(args.seed);
            (0..count * sampler.code_size)
                .map(|_| rng.normal() as f32)
                .collect()
        }
        Some((a, b)) => {
            let ends = sampler.encode(&opened, &weights, args.backend, [a, b])?;
            let (from, to) = ends.split_at(sampler.code_size);
            (0..count)
                .flat_map(|k| {
                    let t = if count == 1 {
                        0.0
                    } else {
                        k as f32 / (count - 1) as f32
                    };
                    from.iter().zip(to).map(move |(x, y)| x + t * (y - x))
                })
                .collect::<Vec<f32>>()
        }
    };
    let decoder = sampler.decoder()?;
    let mut inference = Inference::new(
        &decoder,
        args.backend,
        weights.params.clone(),
        weights.checkpoint.sidecar.seed,
    )?;
    let out = inference.run(&codes, None, count)?;
    let size = sampler.layout.0 * sampler.layout.1 * sampler.layout.2;
    let images: Vec<&[f32]> = out.predictions.chunks(size).collect();
    let (columns, title) = match interpolate {
        None => (
            (count as f64).sqrt().ceil() as usize,
            format!(
                "{count} samples of `{}` (codes `{}` from N(0, I), seed {})",
                model.name, sampler.code_name, args.seed
            ),
        ),
        Some((a, b)) => (
            count.min(16),
            format!(
                "`{}`: from test image {a} to test image {b} through `{}`",
                model.name, sampler.code_name
            ),
        ),
    };
    let written =
        write_grid(&images, sampler.layout, columns, title, &stem).map_err(Failure::usage)?;
    let shown: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    Ok(format!(
        "wrote {} ({count} image{})",
        shown.join(" and "),
        if count == 1 { "" } else { "s" }
    ))
}

/// `nnc sample` of a character model: its text, printed or written to
/// `-o FILE`; `None` when the model reads no characters.
fn sample_chars(
    args: &SampleArgs,
    opened: &Opened,
    program: &nnc_check::program::Program,
) -> Result<Option<String>, Failure> {
    if crate::eval::game_checkpoint(opened, program, &args.weights)?.is_some() {
        return Ok(None);
    }
    let weights = Weights::load(opened, program, &args.weights)?;
    if !crate::sample_text::reads_text(weights.model) {
        return Ok(None);
    }
    let vocabulary: Vec<char> = match &weights.checkpoint.sidecar.vocabulary {
        Some(v) => v.chars().collect(),
        // A checkpoint written before vocabularies were saved: the
        // training split's, read again.
        None => {
            let loaded = nnc_data::load(weights.data, &opened.base_dir, Some(weights.model))
                .map_err(|_| {
                    Failure::problem(format!(
                        "the checkpoint holds no vocabulary and the data `{}` cannot be read to rebuild it",
                        weights.data.name
                    ))
                })?;
            loaded.vocabulary.ok_or_else(|| {
                Failure::problem(format!(
                    "model `{}` reads characters, but neither the checkpoint nor the data `{}` has a vocabulary",
                    weights.model.name, weights.data.name
                ))
            })?
        }
    };
    let text = crate::sample_text::sample_text(
        &weights,
        &vocabulary,
        &crate::sample_text::TextSample {
            prime: &args.prime,
            length: args.length,
            temperature: args.temperature,
            seed: args.seed,
            backend: args.backend,
        },
    )?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| Failure::usage(format!("cannot write `{}`: {e}", path.display())))?;
            Ok(Some(format!(
                "wrote {} ({} characters after the prime)",
                path.display(),
                args.length
            )))
        }
        None => Ok(Some(text)),
    }
}

/// `nnc sample` on a game's checkpoint: images of its generator on noise;
/// `None` when the checkpoint is no game's.
fn sample_game(
    args: &SampleArgs,
    opened: &Opened,
    program: &nnc_check::program::Program,
    stem: &std::path::Path,
) -> Result<Option<String>, Failure> {
    let Some((spec, ck)) = crate::eval::game_checkpoint(opened, program, &args.weights)? else {
        return Ok(None);
    };
    if args.interpolate.is_some() || args.from.is_some() {
        return Err(Failure::usage(
            "`--interpolate` and `--from` decode an autoencoder's codes; a game's generator \
             draws from its noise input (`--seed`, `--label`)",
        ));
    }
    let generator = Generator::of(program, spec, args.model.as_deref())?;
    let params = crate::eval::player_params(generator.model, &ck)?;
    let count = args.count as usize;
    let (inputs, classes) = generator.inputs(count, args.seed, args.label)?;
    let images = generator.draw(args.backend, params, &inputs, count)?;
    let size = generator.image_size();
    let images: Vec<&[f32]> = images.chunks(size).collect();
    let (columns, what) = match (generator.classes, args.label) {
        (Some(k), None) => (k, format!(", classes 0-{} in turn", k - 1)),
        (_, Some(label)) => (
            (count as f64).sqrt().ceil() as usize,
            format!(", class {label}"),
        ),
        (None, None) => ((count as f64).sqrt().ceil() as usize, String::new()),
    };
    debug_assert!(classes.is_empty() || classes.len() == count);
    let title = format!(
        "{count} samples of `{}` (noise from N(0, I), seed {}{what})",
        generator.model.name, args.seed
    );
    let written =
        write_grid(&images, generator.layout, columns, title, stem).map_err(Failure::usage)?;
    let shown: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    Ok(Some(format!(
        "wrote {} ({count} image{})",
        shown.join(" and "),
        if count == 1 { "" } else { "s" }
    )))
}

/// `grid.png` (or `grid.svg`, or `grid`) as the stem both files share.
fn grid_stem(output: &std::path::Path) -> Result<PathBuf, Failure> {
    match output.extension().and_then(|e| e.to_str()) {
        Some("png" | "svg") => Ok(output.with_extension("")),
        None => Ok(output.to_path_buf()),
        Some(other) => Err(Failure::usage(format!(
            "`-o {}`: the grid is written as PNG and SVG; name it `.png` or `.svg`, not `.{other}`",
            output.display()
        ))),
    }
}

/// `A,B`: two example indices.
fn pair(text: &str) -> Result<(usize, usize), Failure> {
    let parsed = text
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    parsed.ok_or_else(|| {
        Failure::usage(format!(
            "`--interpolate {text}`: give two example indices of the test split, as `0,1`"
        ))
    })
}

/// What sampling a model needs: the output, the code it is decoded from,
/// and the image layout of the output.
struct Sampler<'m> {
    model: &'m Model,
    output: NodeId,
    code: NodeId,
    code_name: String,
    code_size: usize,
    layout: (usize, usize, usize),
}

impl<'m> Sampler<'m> {
    /// The sampler of `model`, with the code named `from` or found; a
    /// failure names what is missing.
    fn find(model: &'m Model, from: Option<&str>) -> Result<Sampler<'m>, Failure> {
        let (output_name, output) = match model.outputs.as_slice() {
            [only] => only.clone(),
            _ => {
                let index = nnc_train::reconstructed_output(model)
                    .or_else(|| nnc_train::compared_output(model))
                    .ok_or_else(|| {
                        Failure::problem(format!(
                            "model `{}` has several outputs and no cost to say which one is \
                             the image to sample",
                            model.name
                        ))
                    })?;
                model.outputs[index].clone()
            }
        };
        let shape = &model.node(output).shape;
        let layout = image_layout(shape).ok_or_else(|| {
            Failure::problem(format!(
                "the output `{output_name}` of model `{}` is {shape:?}, not an image \
                 ([C, H, W] with 1 or 3 channels, [H, W], or a square number of values)",
                model.name
            ))
        })?;
        let code = match from {
            Some(name) => {
                let index = model
                    .nodes
                    .iter()
                    .position(|n| n.name == name)
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "`--from {name}`: model `{}` has no tensor `{name}`",
                            model.name
                        ))
                    })?;
                let code = NodeId(index);
                if cut::part(model, &[code], output).is_none() {
                    return Err(Failure::problem(format!(
                        "`--from {name}`: the output `{output_name}` of model `{}` does not \
                         depend on the inputs and noise through `{name}` alone, so it cannot \
                         be decoded from it",
                        model.name
                    )));
                }
                code
            }
            None => {
                if cut::noise_read_by(model, output).is_empty() {
                    return Err(Failure::problem(format!(
                        "model `{}` has no sampler: its output `{output_name}` reads no noise \
                         (`normal(shape)`), so it has no code drawn from a prior; a VAE \
                         decodes `z = mu + exp(0.5 * logvar) * normal([n])`",
                        model.name
                    )));
                }
                cut::latent(model, output).ok_or_else(|| {
                    Failure::problem(format!(
                        "model `{}` has no sampler: no one tensor carries all its inputs and \
                         noise to the output `{output_name}`; name the code it is decoded \
                         from with `--from NAME`",
                        model.name
                    ))
                })?
            }
        };
        let node = model.node(code);
        Ok(Sampler {
            model,
            output,
            code,
            code_name: node.name.clone(),
            code_size: node.shape.iter().product(),
            layout,
        })
    }

    /// The decoder: the part of the model from the code to the output.
    fn decoder(&self) -> Result<Model, Failure> {
        cut::part(self.model, &[self.code], self.output)
            .ok_or_else(|| Failure::problem("the decoder cannot be cut from the model"))
    }

    /// The codes of test examples `indices`, one after another: the
    /// encoder (the model's inputs to the code) run with its noise at its
    /// mean (0 for `normal`, 1/2 for `uniform`).
    fn encode(
        &self,
        opened: &Opened,
        weights: &Weights<'_>,
        backend: BackendKind,
        indices: [usize; 2],
    ) -> Result<Vec<f32>, Failure> {
        let noise = cut::noise_read_by(self.model, self.code);
        let mut inputs = self.model.inputs.clone();
        inputs.extend(&noise);
        let encoder = cut::part(self.model, &inputs, self.code).ok_or_else(|| {
            Failure::problem(format!(
                "the code `{}` of model `{}` reads more than its inputs and noise",
                self.code_name, self.model.name
            ))
        })?;
        let loaded =
            nnc_data::load(weights.data, &opened.base_dir, Some(self.model)).map_err(|errors| {
                Failure::problem(format!(
                    "cannot load the data `{}` ({} errors; `nnc check --data` shows them)",
                    weights.data.name,
                    errors.len()
                ))
            })?;
        let test = loaded.split(SplitKind::Test).ok_or_else(|| {
            Failure::problem(format!(
                "`--interpolate` reads the test split, and the data `{}` has none",
                weights.data.name
            ))
        })?;
        if let Some(&bad) = indices.iter().find(|&&i| i >= test.len()) {
            return Err(Failure::usage(format!(
                "`--interpolate`: the test split of `{}` has {} examples, so no example {bad}",
                weights.data.name,
                test.len()
            )));
        }
        let (mut images, mut targets) = (Vec::new(), Vec::new());
        test.fill_batch(&indices, &mut images, &mut targets);
        let image_size = images.len() / 2;
        let means: Vec<(usize, f32)> = noise
            .iter()
            .map(|&n| {
                let node = self.model.node(n);
                let mean = match node.op {
                    Op::Noise(Noise::Uniform) => 0.5,
                    _ => 0.0,
                };
                (node.shape.iter().product(), mean)
            })
            .collect();
        let mut batch = Vec::new();
        for image in images.chunks(image_size) {
            batch.extend_from_slice(image);
            for &(size, mean) in &means {
                batch.extend(std::iter::repeat_n(mean, size));
            }
        }
        let mut inference = Inference::new(
            &encoder,
            backend,
            weights.params.clone(),
            weights.checkpoint.sidecar.seed,
        )?;
        Ok(inference.run(&batch, None, 2)?.predictions)
    }
}
