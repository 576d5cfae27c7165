//! The generators of games (`train generator, discriminator on ...`): which
//! checkpoints hold a game, one player's parameters out of the game's, and
//! images drawn from a generator on N(0, 1) noise (and, for a conditional
//! generator, chosen classes). `nnc sample`, `nnc eval-samples` and the
//! fixed-noise grid of `nnc run --plot` share them.

use crate::args::BackendKind;
use crate::eval::Inference;
use crate::failure::Failure;
use crate::images::image_layout;
use nnc_check::program::{Model, Program, TrainSpec};
use nnc_ckpt::Checkpoint;
use nnc_ir::rng::Rng;
use nnc_lower::backend::Tensor;
use nnc_lower::params::param_specs;

/// What a game's checkpoints call the game: its models as the train block
/// names them, `generator, discriminator`.
pub(crate) fn game_name(spec: &TrainSpec) -> String {
    spec.players.join(", ")
}

/// The game train block whose checkpoints `ck` is one of, if any.
pub(crate) fn game_of<'p>(program: &'p Program, ck: &Checkpoint) -> Option<&'p TrainSpec> {
    program
        .trains
        .iter()
        .find(|t| t.is_game() && game_name(t) == ck.sidecar.model)
}

/// A generator: a player whose output is an image, run on noise.
pub(crate) struct Generator<'p> {
    pub(crate) model: &'p Model,
    /// Values of the noise input (the first).
    noise: usize,
    /// The one-hot width of the second input, for a conditional generator.
    pub(crate) classes: Option<usize>,
    pub(crate) layout: (usize, usize, usize),
}

impl<'p> Generator<'p> {
    /// The generator of game `spec`: the player named `name`, else the
    /// first the train block names (by convention the generator). It must
    /// have an image output and take noise, then optionally a one-hot
    /// class.
    pub(crate) fn of(
        program: &'p Program,
        spec: &TrainSpec,
        name: Option<&str>,
    ) -> Result<Generator<'p>, Failure> {
        let name = name
            .or(spec.players.first().map(String::as_str))
            .unwrap_or_default();
        if !spec.players.iter().any(|p| p == name) {
            return Err(Failure::usage(format!(
                "`--model {name}`: the game trains {}, not `{name}`",
                spec.players
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let model = program
            .model(name)
            .ok_or_else(|| Failure::problem(format!("the file has no model `{name}`")))?;
        let [(output_name, output)] = model.outputs.as_slice() else {
            return Err(Failure::problem(format!(
                "model `{name}` has {} outputs; a generator has one, the image",
                model.outputs.len()
            )));
        };
        let shape = &model.node(*output).shape;
        let layout = image_layout(shape).ok_or_else(|| {
            Failure::problem(format!(
                "the output `{output_name}` of model `{name}` is {shape:?}, not an image; \
                 name the generator with `--model NAME`"
            ))
        })?;
        let size = |k: usize| -> Option<usize> {
            let id = *model.inputs.get(k)?;
            Some(model.node(id).shape.iter().product())
        };
        if model.inputs.len() > 2 {
            return Err(Failure::problem(format!(
                "model `{name}` has {} inputs; a generator takes noise, and a one-hot class \
                 when it is conditional",
                model.inputs.len()
            )));
        }
        Ok(Generator {
            model,
            noise: size(0).unwrap_or(0),
            classes: size(1),
            layout,
        })
    }

    /// The inputs of `count` samples: N(0, 1) noise from `seed`, then for
    /// a conditional generator the one-hot class `label`, or the classes
    /// in turn (0, 1, ..., 0, 1, ...) without one. Also the class of each.
    pub(crate) fn inputs(
        &self,
        count: usize,
        seed: u64,
        label: Option<usize>,
    ) -> Result<(Vec<f32>, Vec<usize>), Failure> {
        if let (Some(label), None) = (label, self.classes) {
            return Err(Failure::usage(format!(
                "`--label {label}`: model `{}` takes no class (its only input is the noise), \
                 so it cannot be asked for one",
                self.model.name
            )));
        }
        if let (Some(label), Some(k)) = (label, self.classes) {
            if label >= k {
                return Err(Failure::usage(format!(
                    "`--label {label}`: model `{}` knows {k} classes, 0 to {}",
                    self.model.name,
                    k - 1
                )));
            }
        }
        let mut rng = Rng::new(seed);
        let width = self.noise + self.classes.unwrap_or(0);
        let mut inputs = Vec::with_capacity(count * width);
        let mut classes = Vec::with_capacity(count);
        for i in 0..count {
            inputs.extend((0..self.noise).map(|_| rng.normal() as f32));
            if let Some(k) = self.classes {
                let class = label.unwrap_or(i % k);
                inputs.extend((0..k).map(|c| if c == class { 1.0 } else { 0.0 }));
                classes.push(class);
            }
        }
        Ok((inputs, classes))
    }

    /// Draws the images of `inputs` (`count` of them), `batch` at a time,
    /// with `params` (the generator's own) on a backend of `kind`.
    pub(crate) fn draw(
        &self,
        kind: BackendKind,
        params: Vec<Tensor>,
        inputs: &[f32],
        count: usize,
    ) -> Result<Vec<f32>, Failure> {
        const BATCH: usize = 500;
        let mut inference = Inference::new(self.model, kind, params, 0)?;
        let width = inputs.len() / count.max(1);
        let mut images = Vec::new();
        for chunk in inputs.chunks(BATCH * width.max(1)) {
            let len = chunk.len() / width.max(1);
            images.extend(inference.run(chunk, None, len)?.predictions);
        }
        Ok(images)
    }

    /// Values per image.
    pub(crate) fn image_size(&self) -> usize {
        self.layout.0 * self.layout.1 * self.layout.2
    }
}

/// The images drawn from a fixed noise after every epoch (`nnc run --plot`
/// on a game): the same noise each epoch, so the grid shows the generator
/// learning. A conditional generator draws the classes in turn, one per
/// column.
pub(crate) struct SamplePlot {
    model: Model,
    /// The generator's parameters among the game's.
    params: std::ops::Range<usize>,
    backend: BackendKind,
    layout: (usize, usize, usize),
    inputs: Vec<f32>,
    count: usize,
    columns: usize,
    stem: std::path::PathBuf,
}

/// How many images the grid of `nnc run --plot` shows.
const PLOTTED: usize = 64;

/// The seed of the grid's noise: fixed, so every epoch draws from the same.
const PLOT_SEED: u64 = 2024;

impl SamplePlot {
    /// The grid of game `spec`'s generator (the first model it names) into
    /// `dir`; `None` when that model draws no image.
    pub(crate) fn new(
        program: &Program,
        spec: &TrainSpec,
        dir: &std::path::Path,
        backend: BackendKind,
    ) -> Option<SamplePlot> {
        let generator = Generator::of(program, spec, None).ok()?;
        let mut start = 0;
        for player in &spec.players {
            if *player == generator.model.name {
                break;
            }
            start += param_specs(program.model(player)?).len();
        }
        let count = generator
            .classes
            .map_or(PLOTTED, |k| k * (PLOTTED / k).max(1));
        let (inputs, _) = generator.inputs(count, PLOT_SEED, None).ok()?;
        Some(SamplePlot {
            model: generator.model.clone(),
            params: start..start + param_specs(generator.model).len(),
            backend,
            layout: generator.layout,
            inputs,
            count,
            columns: generator.classes.unwrap_or(8),
            stem: dir.join("samples"),
        })
    }

    /// Draws the grid for the game's parameters after `epoch`.
    pub(crate) fn draw(&self, epoch: usize, params: &[Tensor]) -> Result<(), String> {
        let own = params
            .get(self.params.clone())
            .ok_or("the game's parameters lack the generator's")?
            .to_vec();
        let generator = Generator {
            model: &self.model,
            noise: 0,
            classes: None,
            layout: self.layout,
        };
        let images = generator
            .draw(self.backend, own, &self.inputs, self.count)
            .map_err(|f| f.message)?;
        let size = generator.image_size();
        let images: Vec<&[f32]> = images.chunks(size).collect();
        let title = format!(
            "epoch {epoch}: `{}` on the same noise every epoch",
            self.model.name
        );
        crate::images::write_grid(&images, self.layout, self.columns, title, &self.stem).map(|_| ())
    }
}
