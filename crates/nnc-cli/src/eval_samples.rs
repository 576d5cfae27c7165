//! `nnc eval-samples FILE --weights CKPT --classifier CLF.nnet
//! --classifier-weights CKPT2`: the quality of a game's generated images,
//! measured by a classifier trained by nnc (the 20/40-map convolutional
//! net of `models/conv_20_40.nnet`, at least 99% on MNIST).
//!
//! It draws `--count` images (10,000 by default) from the generator on
//! N(0, 1) noise from `--seed`, classifies each, and reports:
//! - the share classified with probability above `--confidence` (0.9):
//!   images the classifier takes for a clear digit;
//! - the share of each class (by the most probable one): a generator that
//!   collapsed onto a few modes draws some classes far more than others;
//! - for a conditional generator, the share of images classified as the
//!   class they were drawn for (`--label K` draws class K only, else the
//!   classes in turn), overall and per class.
//!
//! Exit codes: 0 when measured; 1 when a file, checkpoint or model cannot
//! be used; 2 on usage errors.

use crate::args::BackendKind;
use crate::eval::{game_checkpoint, player_params, Inference, Opened, Weights};
use crate::failure::Failure;
use crate::game::Generator;
use clap::{Args, ValueEnum};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// The arguments of `nnc eval-samples`.
#[derive(Args)]
pub(crate) struct EvalSamplesArgs {
    /// The .nnet file of the game (`train generator, discriminator ...`).
    pub file: PathBuf,
    /// The game's checkpoint (a file or a folder: its newest).
    #[arg(long, value_name = "CKPT")]
    pub weights: PathBuf,
    /// The .nnet file of the classifier (softmax outputs, one per class).
    #[arg(long, value_name = "FILE")]
    pub classifier: PathBuf,
    /// The classifier's checkpoint.
    #[arg(long, value_name = "CKPT")]
    pub classifier_weights: PathBuf,
    /// How many images to draw.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub count: u64,
    /// Seeds the noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// For a conditional generator: draw this class only.
    #[arg(long, value_name = "K")]
    pub label: Option<usize>,
    /// The probability above which a classification is confident.
    #[arg(long, default_value_t = 0.9)]
    pub confidence: f64,
    /// The model that generates (by default the first the train block
    /// names).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// What runs the models.
    #[arg(long, value_enum, default_value_t = BackendKind::Jit)]
    pub backend: BackendKind,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SamplesFormat::Text)]
    pub format: SamplesFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SamplesFormat {
    Text,
    Json,
}

/// What the classifier made of the samples.
#[derive(Debug, PartialEq)]
pub(crate) struct SampleQuality {
    pub(crate) count: usize,
    /// Classified with probability above the threshold.
    pub(crate) confident: usize,
    /// Images per most probable class.
    pub(crate) classes: Vec<usize>,
    /// For a conditional generator, per class drawn: (drawn, classified
    /// as drawn).
    pub(crate) matched: Option<Vec<(usize, usize)>>,
}

impl SampleQuality {
    /// Tallies `probabilities` (`classes` values per image) against the
    /// classes drawn (empty for an unconditional generator).
    pub(crate) fn tally(
        probabilities: &[f32],
        classes: usize,
        drawn: &[usize],
        threshold: f64,
    ) -> SampleQuality {
        let mut quality = SampleQuality {
            count: 0,
            confident: 0,
            classes: vec![0; classes],
            matched: (!drawn.is_empty()).then(|| vec![(0, 0); classes]),
        };
        for (i, row) in probabilities.chunks(classes.max(1)).enumerate() {
            let (best, p) =
                row.iter().enumerate().fold(
                    (0, f32::MIN),
                    |(bi, bp), (j, &v)| {
                        if v > bp {
                            (j, v)
                        } else {
                            (bi, bp)
                        }
                    },
                );
            quality.count += 1;
            if f64::from(p) > threshold {
                quality.confident += 1;
            }
            quality.classes[best] += 1;
            if let (Some(matched), Some(&want)) = (quality.matched.as_mut(), drawn.get(i)) {
                if let Some(slot) = matched.get_mut(want) {
                    slot.0 += 1;
                    slot.1 += usize::from(best == want);
                }
            }
        }
        quality
    }

    fn share(&self, n: usize) -> f64 {
        n as f64 / self.count.max(1) as f64
    }
}

/// Runs `nnc eval-samples` and returns its exit code.
pub(crate) fn eval_samples(args: &EvalSamplesArgs) -> ExitCode {
    match measure(args) {
        Ok(text) => {
            crate::failure::print_line(text);
            ExitCode::SUCCESS
        }
        Err(failure) => failure.exit(),
    }
}

fn measure(args: &EvalSamplesArgs) -> Result<String, Failure> {
    let opened = Opened::open(&args.file, false)?;
    let program = opened.program("draw samples from it")?;
    let Some((spec, ck)) = game_checkpoint(&opened, program, &args.weights)? else {
        return Err(Failure::problem(format!(
            "`{}` holds no game's weights: `nnc eval-samples` measures the generator of a \
             `train generator, discriminator on DATA` block (for one model, use `nnc eval`)",
            args.weights.display()
        )));
    };
    let generator = Generator::of(program, spec, args.model.as_deref())?;
    let params = player_params(generator.model, &ck)?;
    let count = args.count as usize;
    let (inputs, drawn) = generator.inputs(count, args.seed, args.label)?;
    let images = generator.draw(args.backend, params, &inputs, count)?;

    let clf_opened = Opened::open(&args.classifier, false)?;
    let clf_program = clf_opened.program("classify with it")?;
    let clf = Weights::load(&clf_opened, clf_program, &args.classifier_weights)?;
    let input_size: usize = match clf.model.inputs.as_slice() {
        [input] => clf.model.node(*input).shape.iter().product(),
        _ => 0,
    };
    if input_size != generator.image_size() {
        return Err(Failure::problem(format!(
            "the classifier `{}` takes {input_size} values per example, and the generator \
             `{}` draws images of {}",
            clf.model.name,
            generator.model.name,
            generator.image_size()
        )));
    }
    let mut inference = Inference::new(
        clf.model,
        args.backend,
        clf.params.clone(),
        clf.checkpoint.sidecar.seed,
    )?;
    let classes = inference.width();
    let mut probabilities = Vec::with_capacity(count * classes);
    const BATCH: usize = 500;
    for chunk in images.chunks(BATCH * input_size) {
        let len = chunk.len() / input_size;
        probabilities.extend(inference.run(chunk, None, len)?.predictions);
    }
    let quality = SampleQuality::tally(&probabilities, classes, &drawn, args.confidence);
    Ok(match args.format {
        SamplesFormat::Text => text(&quality, args, &generator),
        SamplesFormat::Json => json_text(&quality, args),
    })
}

fn text(q: &SampleQuality, args: &EvalSamplesArgs, generator: &Generator<'_>) -> String {
    let mut lines = vec![format!(
        "{} samples of `{}` (seed {}): {:.2}% classified with probability > {}",
        q.count,
        generator.model.name,
        args.seed,
        100.0 * q.share(q.confident),
        args.confidence
    )];
    let shares: Vec<String> = q
        .classes
        .iter()
        .enumerate()
        .map(|(c, &n)| format!("{c}: {:.1}%", 100.0 * q.share(n)))
        .collect();
    lines.push(format!("classes: {}", shares.join("  ")));
    if let Some(matched) = &q.matched {
        let (drawn, right) = matched
            .iter()
            .fold((0, 0), |(d, r), &(dd, rr)| (d + dd, r + rr));
        lines.push(format!(
            "classified as the class drawn: {:.2}% ({right} of {drawn})",
            100.0 * right as f64 / drawn.max(1) as f64
        ));
        let per: Vec<String> = matched
            .iter()
            .enumerate()
            .filter(|(_, (d, _))| *d > 0)
            .map(|(c, (d, r))| format!("{c}: {:.1}%", 100.0 * *r as f64 / *d as f64))
            .collect();
        lines.push(format!("per class drawn: {}", per.join("  ")));
    }
    lines.join("\n")
}

fn json_text(q: &SampleQuality, args: &EvalSamplesArgs) -> String {
    let matched = q.matched.as_ref().map(|m| {
        let (drawn, right) = m.iter().fold((0, 0), |(d, r), &(dd, rr)| (d + dd, r + rr));
        json!({
            "fraction": right as f64 / drawn.max(1) as f64,
            "per_class": m.iter().map(|(d, r)| *r as f64 / (*d).max(1) as f64).collect::<Vec<_>>(),
        })
    });
    json!({
        "count": q.count,
        "seed": args.seed,
        "confidence": args.confidence,
        "confident": q.share(q.confident),
        "classes": q.classes.iter().map(|&n| q.share(n)).collect::<Vec<_>>(),
        "matched": matched,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_confident_classes_and_matches() {
        // Three images of three classes: confident 1, unsure 2, confident 1.
        let p = [0.05, 0.95, 0.0, 0.3, 0.3, 0.4, 0.0, 0.99, 0.01];
        let q = SampleQuality::tally(&p, 3, &[1, 0, 2], 0.9);
        assert_eq!(q.count, 3);
        assert_eq!(q.confident, 2);
        assert_eq!(q.classes, vec![0, 2, 1]);
        assert_eq!(q.matched, Some(vec![(1, 0), (1, 1), (1, 0)]));
        let unconditional = SampleQuality::tally(&p, 3, &[], 0.5);
        assert_eq!(unconditional.confident, 2);
        assert_eq!(unconditional.matched, None);
    }
}
