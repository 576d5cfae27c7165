//! `nnc sample FILE --weights CKPT --prime TEXT --length N`: text written by
//! a character model, one character at a time.
//!
//! The model reads a window of `T` characters (its input `[T]`) and gives,
//! at every step, the probabilities of the next character. Generation
//! feeds the last `T` characters written so far (the prime first) and
//! draws the next one from the distribution at the last of them, sharpened
//! or flattened by the temperature (`p^(1/t)`, renormalised); characters
//! after that place do not matter to a model that reads forwards only (the
//! window is filled with the vocabulary's first character). The draws come
//! from `--seed`, so a sample repeats exactly.
//!
//! A model trained with `bptt` reads the text as it was trained to: in
//! consecutive windows of `T` characters, each starting from the state the
//! window before ended with. Each character is drawn from a run on the
//! window being written, from that window's start state; once the window
//! is full, its end state starts the next. The model thus remembers the
//! whole text written so far, not only the last `T` characters.

use crate::args::BackendKind;
use crate::eval::{Inference, Weights};
use crate::failure::Failure;
use nnc_check::program::{Model, Op};
use nnc_ir::rng::Rng;

/// What a text sample needs besides the weights.
pub(crate) struct TextSample<'a> {
    pub prime: &'a str,
    pub length: usize,
    pub temperature: f64,
    pub seed: u64,
    pub backend: BackendKind,
}

/// Whether `model` reads characters: one input of indices `[T]` feeding an
/// embedding.
pub(crate) fn reads_text(model: &Model) -> bool {
    model.nodes.iter().any(|n| matches!(n.op, Op::Embed { .. }))
}

/// Writes `length` characters after `prime`; returns the prime and them.
pub(crate) fn sample_text(
    weights: &Weights<'_>,
    vocabulary: &[char],
    s: &TextSample<'_>,
) -> Result<String, Failure> {
    let model = weights.model;
    if model.nodes.iter().any(|n| {
        matches!(
            n.op,
            Op::Recurrent {
                bidirectional: true,
                ..
            }
        )
    }) {
        return Err(Failure::usage(format!(
            "model `{}` reads its text in both directions, so it cannot write a text one character after the other",
            model.name
        )));
    }
    let Some(&[context]) = model
        .inputs
        .first()
        .and_then(|id| model.nodes.get(id.0))
        .map(|n| n.shape.as_slice())
    else {
        return Err(Failure::usage(format!(
            "model `{}` does not read a window of characters (an input `[T]`)",
            model.name
        )));
    };
    if !(s.temperature > 0.0 && s.temperature.is_finite()) {
        return Err(Failure::usage(format!(
            "--temperature must be a positive number, not {}",
            s.temperature
        )));
    }
    let mut text: Vec<usize> = Vec::with_capacity(s.prime.len() + s.length);
    for c in s.prime.chars() {
        let Ok(i) = vocabulary.binary_search(&c) else {
            return Err(Failure::usage(format!(
                "the prime holds {c:?}, which is not in the model's vocabulary of {} characters (its training text never has it)",
                vocabulary.len()
            )));
        };
        text.push(i);
    }
    if text.is_empty() {
        return Err(Failure::usage("--prime needs at least one character"));
    }
    let carrying = weights.spec.bptt.map(|_| model.carrying());
    let model = carrying.as_ref().unwrap_or(model);
    let mut inference = Inference::new(
        model,
        s.backend,
        weights.params.clone(),
        weights.checkpoint.sidecar.seed,
    )?;
    let mut rng = Rng::new(s.seed);
    let mut window = vec![0.0f32; context];
    // Under `bptt`: where the window being written starts, and the state
    // it starts from.
    let mut window_start = 0;
    let mut start_state = Vec::new();
    let mut run = |inference: &mut Inference<'_>, seen: &[usize]| {
        window.fill(0.0);
        for (slot, &i) in window.iter_mut().zip(seen) {
            *slot = i as f32;
        }
        inference.run(&window, None, 1)
    };
    if model.carry {
        // The prime's whole windows but the last, each from the state
        // the one before ended with.
        while text.len() - window_start > context {
            inference.set_carried(start_state);
            run(&mut inference, &text[window_start..window_start + context])?;
            start_state = inference.carried();
            window_start += context;
        }
    }
    for _ in 0..s.length {
        let start = if model.carry {
            inference.set_carried(start_state.clone());
            window_start
        } else {
            text.len().saturating_sub(context)
        };
        let seen = &text[start..];
        let out = run(&mut inference, seen)?;
        if model.carry && seen.len() == context {
            // The window is full: its end state starts the next one.
            start_state = inference.carried();
            window_start += context;
        }
        let width = out.predictions.len() / context.max(1);
        let at = seen.len() - 1;
        let probs = &out.predictions[at * width..(at + 1) * width];
        let next = draw(probs, s.temperature, vocabulary.len(), &mut rng);
        text.push(next);
    }
    Ok(text
        .iter()
        .map(|&i| vocabulary.get(i).copied().unwrap_or('?'))
        .collect())
}

/// A class drawn from `probs` (the first `classes` of them) raised to
/// `1 / temperature` and renormalised.
fn draw(probs: &[f32], temperature: f64, classes: usize, rng: &mut Rng) -> usize {
    let weights: Vec<f64> = probs
        .iter()
        .take(classes)
        .map(|&p| f64::from(p).max(0.0).powf(1.0 / temperature))
        .collect();
    let total: f64 = weights.iter().sum();
    if !(total > 0.0 && total.is_finite()) {
        // All zero (or the powers overflowed): the most likely class.
        return probs
            .iter()
            .take(classes)
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
    }
    let mut u = rng.uniform() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::draw;
    use nnc_ir::rng::Rng;

    #[test]
    fn draws_follow_the_probabilities_and_the_temperature() {
        let probs = [0.7f32, 0.2, 0.1];
        let count = |temperature: f64| {
            let mut rng = Rng::new(3);
            let mut seen = [0usize; 3];
            for _ in 0..10_000 {
                seen[draw(&probs, temperature, 3, &mut rng)] += 1;
            }
            seen
        };
        let plain = count(1.0);
        assert!((6_700..7_300).contains(&plain[0]), "{plain:?}");
        assert!((1_700..2_300).contains(&plain[1]), "{plain:?}");
        // A low temperature sharpens towards the likeliest.
        let cold = count(0.25);
        assert!(cold[0] > 9_500, "{cold:?}");
        // The same seed draws the same characters.
        assert_eq!(count(0.8), count(0.8));
    }
}
