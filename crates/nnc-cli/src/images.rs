//! Images of a model's inputs and outputs as grids (`nnc-plot`'s
//! `write_image_grid`): the reconstructions `nnc run --plot DIR` draws for
//! an autoencoder after each epoch, and the samples of `nnc sample`.

use crate::args::BackendKind;
use crate::eval::Inference;
use nnc_check::program::Model;
use nnc_lower::backend::Tensor;
use nnc_plot::GridSpec;
use nnc_train::examples::Examples;
use std::path::{Path, PathBuf};

/// How many test inputs the reconstruction grid shows, each beside its
/// reconstruction.
pub(crate) const RECONSTRUCTED: usize = 16;

/// The image layout of a tensor of `shape` (one example): `[C, H, W]`
/// (1 or 3 channels), `[H, W]`, or a flat `[n]` whose `n` is a square
/// (MNIST's `[784]` is 28 x 28). `None` for anything else.
pub(crate) fn image_layout(shape: &[usize]) -> Option<(usize, usize, usize)> {
    match *shape {
        [c @ (1 | 3), h, w] if h > 0 && w > 0 => Some((c, h, w)),
        [h, w] if h > 0 && w > 0 => Some((1, h, w)),
        [n] if n > 0 => {
            let side = (n as f64).sqrt().round() as usize;
            (side * side == n).then_some((1, side, side))
        }
        _ => None,
    }
}

/// The grid of `images` (each `channels * height * width` values) in
/// `columns` columns, pixels drawn 2 x 2, as `stem.png` and `stem.svg`.
pub(crate) fn write_grid(
    images: &[&[f32]],
    (channels, height, width): (usize, usize, usize),
    columns: usize,
    title: String,
    stem: &Path,
) -> Result<Vec<PathBuf>, String> {
    let spec = GridSpec {
        height,
        width,
        channels,
        columns,
        scale: 2,
        title: Some(title),
    };
    nnc_plot::write_image_grid(images, &spec, stem).map_err(|e| e.to_string())
}

/// The figure `nnc run --plot DIR` adds for a model whose output
/// reconstructs its input (an autoencoder, a VAE): the first test (else
/// validation, else training) inputs beside their reconstructions, drawn
/// again after every epoch with that epoch's parameters.
pub(crate) struct ReconstructionPlot {
    model: Model,
    backend: BackendKind,
    seed: u64,
    layout: (usize, usize, usize),
    /// `count` inputs, one after another.
    inputs: Vec<f32>,
    count: usize,
    stem: PathBuf,
}

impl ReconstructionPlot {
    /// The figure for `model` into `dir`, when its output reconstructs
    /// its one input and that input is an image (see [`image_layout`]);
    /// `None` otherwise. `examples` gives the inputs shown.
    pub(crate) fn new(
        model: &Model,
        examples: &dyn Examples,
        dir: &Path,
        backend: BackendKind,
        seed: u64,
    ) -> Option<ReconstructionPlot> {
        nnc_train::reconstructed_output(model)?;
        let input = *model.inputs.first()?;
        let layout = image_layout(&model.node(input).shape)?;
        let count = RECONSTRUCTED.min(examples.len());
        if count == 0 {
            return None;
        }
        let indices: Vec<usize> = (0..count).collect();
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        examples.fill_batch(&indices, &mut inputs, &mut targets);
        Some(ReconstructionPlot {
            model: model.clone(),
            backend,
            seed,
            layout,
            inputs,
            count,
            stem: dir.join("reconstructions"),
        })
    }

    /// Draws the grid for the parameters of `epoch`: rows of four pairs,
    /// each input (left) beside its reconstruction (right).
    pub(crate) fn draw(&self, epoch: usize, params: Vec<Tensor>) -> Result<(), String> {
        let mut inference =
            Inference::new(&self.model, self.backend, params, self.seed).map_err(|f| f.message)?;
        let out = inference
            .run(&self.inputs, None, self.count)
            .map_err(|f| f.message)?;
        let size = self.inputs.len() / self.count;
        if out.predictions.len() != self.inputs.len() {
            return Err(format!(
                "the reconstruction has {} values per example, the input {size}",
                out.predictions.len() / self.count
            ));
        }
        let images: Vec<&[f32]> = self
            .inputs
            .chunks(size)
            .zip(out.predictions.chunks(size))
            .flat_map(|(input, reconstruction)| [input, reconstruction])
            .collect();
        let title = format!("epoch {epoch}: inputs (left) and their reconstructions (right)");
        write_grid(&images, self.layout, 8, title, &self.stem).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_layouts_of_shapes() {
        assert_eq!(image_layout(&[784]), Some((1, 28, 28)));
        assert_eq!(image_layout(&[28, 28]), Some((1, 28, 28)));
        assert_eq!(image_layout(&[3, 32, 32]), Some((3, 32, 32)));
        assert_eq!(image_layout(&[1, 28, 28]), Some((1, 28, 28)));
        assert_eq!(image_layout(&[10]), None);
        assert_eq!(image_layout(&[2, 5, 5]), None);
        assert_eq!(image_layout(&[0]), None);
    }
}
