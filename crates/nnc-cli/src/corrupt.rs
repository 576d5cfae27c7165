//! `nnc eval --corrupt`: the corruptions an autoencoder's inputs are put
//! through before it sees them, so that its reconstruction of the clean
//! inputs can be measured (the denoising autoencoder's claim).
//!
//! Invariants:
//! - An example's corruption depends on the seed and the example's index
//!   in the split only, never on the batch size or the backend: the same
//!   seed gives the same corrupted inputs, and so the same figures.
//! - The draws come from a stream of their own ([`CORRUPT_STREAM`]), apart
//!   from the training loop's (`nnc_train::seeds`: initialisation,
//!   shuffling, dropout, evaluation noise), so corrupting the inputs of a
//!   model that draws noise (a VAE) leaves that noise as it was.

use nnc_ir::rng::Rng;

/// The stream of the corruption draws (`nnc_train::seeds` uses 1 to 4).
pub(crate) const CORRUPT_STREAM: u64 = 5;

/// What `--corrupt` does to each input value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Corruption {
    /// `mask(p)`: set to zero with probability `p`, else kept as it is (the
    /// masking noise `mask_noise(p)` trains with).
    Mask(f64),
    /// `gaussian(s)`: N(0, s²) added.
    Gaussian(f64),
}

const FORMS: &str = "write `mask(P)` (each input value set to zero with probability P, \
                     0 <= P <= 1) or `gaussian(S)` (noise N(0, S²) added to each value, S >= 0)";

impl Corruption {
    /// Parses `mask(P)` or `gaussian(S)` (the value of `--corrupt`).
    pub(crate) fn parse(text: &str) -> Result<Corruption, String> {
        let text = text.trim();
        let Some((name, rest)) = text.split_once('(') else {
            return Err(format!("`{text}` is not a corruption; {FORMS}"));
        };
        let Some(argument) = rest.trim_end().strip_suffix(')') else {
            return Err(format!("`{text}` lacks its closing `)`; {FORMS}"));
        };
        let argument = argument.trim();
        let value: Option<f64> = argument.parse().ok().filter(|v: &f64| v.is_finite());
        match (name.trim(), value) {
            ("mask", Some(p)) if (0.0..=1.0).contains(&p) => Ok(Corruption::Mask(p)),
            ("mask", _) => Err(format!(
                "the probability of `mask(P)` must be a number from 0 to 1, not `{argument}`"
            )),
            ("gaussian", Some(s)) if s >= 0.0 => Ok(Corruption::Gaussian(s)),
            ("gaussian", _) => Err(format!(
                "the standard deviation of `gaussian(S)` must be a number of at least 0, \
                 not `{argument}`"
            )),
            (other, _) => Err(format!("unknown corruption `{other}`; {FORMS}")),
        }
    }

    /// The corruption as written: `mask(0.3)`, `gaussian(0.5)`.
    pub(crate) fn name(&self) -> String {
        match self {
            Corruption::Mask(p) => format!("mask({p})"),
            Corruption::Gaussian(s) => format!("gaussian({s})"),
        }
    }

    /// Corrupts `examples` (one example of `width` values after another),
    /// the first of which is example `first` of the split, with the draws
    /// of `seed`.
    pub(crate) fn apply(&self, seed: u64, first: usize, width: usize, examples: &mut [f32]) {
        let base = Rng::derive(seed, CORRUPT_STREAM).next_u64();
        for (k, values) in examples.chunks_mut(width.max(1)).enumerate() {
            let mut rng = Rng::derive(base, (first + k) as u64);
            match *self {
                Corruption::Mask(p) => {
                    for v in values {
                        if rng.uniform() < p {
                            *v = 0.0;
                        }
                    }
                }
                Corruption::Gaussian(s) => {
                    for v in values {
                        *v = (f64::from(*v) + s * rng.normal()) as f32;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_names_them_back() {
        assert_eq!(Corruption::parse("mask(0.3)"), Ok(Corruption::Mask(0.3)));
        assert_eq!(Corruption::parse(" mask( 1 ) "), Ok(Corruption::Mask(1.0)));
        assert_eq!(
            Corruption::parse("gaussian(0.25)"),
            Ok(Corruption::Gaussian(0.25))
        );
        assert_eq!(Corruption::Mask(0.3).name(), "mask(0.3)");
        assert_eq!(Corruption::Gaussian(0.5).name(), "gaussian(0.5)");
        for bad in [
            "mask",
            "mask(0.3",
            "mask(1.5)",
            "mask(-0.1)",
            "mask(NaN)",
            "gaussian(-1)",
            "gaussian(inf)",
            "blur(2)",
            "",
        ] {
            let problem = Corruption::parse(bad).expect_err(bad);
            assert!(
                problem.contains("mask(P)") || problem.contains("must be"),
                "{problem}"
            );
        }
    }

    #[test]
    fn draws_depend_on_seed_and_example_not_on_batching() {
        let clean: Vec<f32> = (0..40).map(|i| 0.5 + i as f32 / 100.0).collect();
        let corrupt = |c: Corruption, seed: u64, batches: &[usize]| {
            let mut out = clean.clone();
            let mut first = 0;
            for &len in batches {
                let (start, end) = (first * 10, (first + len) * 10);
                c.apply(seed, first, 10, &mut out[start..end]);
                first += len;
            }
            out
        };
        let mask = Corruption::Mask(0.5);
        let whole = corrupt(mask, 1, &[4]);
        assert_eq!(whole, corrupt(mask, 1, &[1, 3]));
        assert_ne!(whole, corrupt(mask, 2, &[4]));
        // Masked values are zero, the others kept as they were.
        let zeros = whole.iter().filter(|v| **v == 0.0).count();
        assert!((10..=30).contains(&zeros), "{zeros} of 40 masked");
        assert!(whole.iter().zip(&clean).all(|(c, x)| *c == 0.0 || c == x));
        assert_eq!(corrupt(Corruption::Mask(0.0), 1, &[4]), clean);
        let noisy = corrupt(Corruption::Gaussian(0.1), 1, &[2, 2]);
        assert_eq!(noisy, corrupt(Corruption::Gaussian(0.1), 1, &[4]));
        let shift: f64 = noisy
            .iter()
            .zip(&clean)
            .map(|(n, x)| f64::from(n - x).powi(2))
            .sum::<f64>()
            / 40.0;
        assert!((0.003..0.03).contains(&shift), "mean squared shift {shift}");
    }
}
