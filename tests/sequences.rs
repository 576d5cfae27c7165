//! Sequence models through the whole pipeline: recurrent layers that learn
//! a task needing memory, and character models on a text (training,
//! checkpoints with their vocabulary, sampling).

mod common;

use common::{nnc, text};
use nnc_ir::rng::Rng;
use serde_json::Value;
use std::path::Path;

fn scratch(name: &str) -> std::path::PathBuf {
    common::scratch("sequences", name)
}

/// The JSON lines of a log, parsed.
fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("the log was written")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// A CSV of sequences of `steps` steps of 3 values: the class (0, 1 or 2)
/// one-hot at the first step, noise in `[0, 0.5)` at every later step;
/// the label is the class, so only a model that remembers the first step
/// can tell it at the last.
fn memory_task(path: &Path, rows: usize, steps: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    let header: Vec<String> = (0..steps * 3).map(|i| format!("v{i}")).collect();
    out.push_str(&format!("{},label\n", header.join(",")));
    for _ in 0..rows {
        let class = rng.below(3);
        let mut values = Vec::with_capacity(steps * 3);
        for step in 0..steps {
            for k in 0..3 {
                let v = if step == 0 {
                    f64::from(u8::from(k == class))
                } else {
                    0.5 * rng.uniform()
                };
                values.push(format!("{v:.3}"));
            }
        }
        out.push_str(&format!("{},{class}\n", values.join(",")));
    }
    std::fs::write(path, out).unwrap();
}

/// An LSTM reads twelve steps and tells the class shown at the first one,
/// far above chance (a third): backpropagation through time trains it.
#[test]
fn an_lstm_remembers_the_first_step_of_a_sequence() {
    let dir = scratch("memory");
    memory_task(&dir.join("train.csv"), 600, 12, 1);
    memory_task(&dir.join("validation.csv"), 200, 12, 2);
    let file = dir.join("memory.nnet");
    std::fs::write(
        &file,
        r#"model memory {
             input x: [12, 3]
             layers {
               lstm(16, return: last, forget_bias: 1.0)
               dense(3, act: softmax)
             }
             cost log_likelihood
           }
           data seqs {
             train csv("train.csv", label: "label")
             validation csv("validation.csv", label: "label")
           }
           train memory on seqs {
             optimizer adam
             learning_rate 0.01
             batch_size 20
             epochs 12
             clip_norm 5.0
           }"#,
    )
    .unwrap();
    let log = dir.join("log.jsonl");
    let out = nnc(&[
        "run",
        &file.display().to_string(),
        "--quiet",
        "--log",
        &log.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = read_log(&log);
    let first = lines[0]["validation_accuracy"].as_f64().unwrap();
    let last = lines.last().unwrap()["validation_accuracy"]
        .as_f64()
        .unwrap();
    eprintln!("memory task: validation accuracy {first:.3} after one epoch, {last:.3} at the end");
    assert!(last >= 0.95, "validation accuracy {last} (chance is 1/3)");
}

/// `nnc sample FILE --weights CKPT --prime ... --length ... --temperature
/// ... --seed ...`, which must succeed: the text it writes.
fn sample_text(
    file: &Path,
    ckpt: &Path,
    prime: &str,
    length: &str,
    temperature: &str,
    seed: &str,
) -> String {
    let out = nnc(&[
        "sample",
        &file.display().to_string(),
        "--weights",
        &ckpt.display().to_string(),
        "--prime",
        prime,
        "--length",
        length,
        "--temperature",
        temperature,
        "--seed",
        seed,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// A short text of a few words in varied order, `n` characters.
fn small_text(n: usize, seed: u64) -> String {
    let words = [
        "the ", "cat ", "sat ", "on ", "a ", "mat. ", "dog ", "ran.\n",
    ];
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    while out.len() < n {
        out.push_str(words[rng.below(words.len())]);
    }
    out.truncate(n);
    out
}

/// A character model on the text `text_file`, saved as `NAME.nnet`:
/// windows of `context`, an embedding of `vocabulary` characters, an LSTM
/// of `units`, the first 80% to train on; `settings` end the train block.
struct TextModel<'a> {
    name: &'a str,
    text_file: &'a str,
    context: usize,
    vocabulary: usize,
    units: usize,
    settings: &'a str,
}

impl TextModel<'_> {
    fn write(&self, dir: &Path) -> std::path::PathBuf {
        let TextModel {
            name,
            text_file,
            context,
            vocabulary,
            units,
            settings,
        } = self;
        let file = dir.join(format!("{name}.nnet"));
        std::fs::write(
            &file,
            format!(
                r#"model {name} {{
                     input text: [{context}]
                     layers {{
                       embed({vocabulary}, 8)
                       lstm({units})
                       dense({vocabulary}, act: softmax)
                     }}
                     cost log_likelihood
                   }}
                   data words {{
                     let all = text("{text_file}", context: {context})
                     train all[..0.8]
                     validation all[0.8..]
                   }}
                   train {name} on words {{
                     optimizer adam
                     learning_rate 0.01
                     batch_size 16
                     {settings}
                   }}"#
            ),
        )
        .unwrap();
        file
    }
}

fn char_model(dir: &Path, text_file: &str) -> std::path::PathBuf {
    TextModel {
        name: "chars",
        text_file,
        context: 16,
        vocabulary: 16,
        units: 24,
        settings: "epochs 6  clip_norm 5.0",
    }
    .write(dir)
}

/// A character model learns a small text (its cost in nats per character
/// falls well below the uniform guess), its checkpoint keeps the
/// vocabulary, and a sample with a seed repeats exactly.
#[test]
fn a_character_model_trains_keeps_its_vocabulary_and_samples_repeatably() {
    let dir = scratch("chars");
    let corpus = small_text(6_000, 3);
    std::fs::write(dir.join("words.txt"), &corpus).unwrap();
    let file = char_model(&dir, "words.txt");
    let log = dir.join("log.jsonl");
    let ckpt = dir.join("ckpt");
    let out = nnc(&[
        "run",
        &file.display().to_string(),
        "--quiet",
        "--log",
        &log.display().to_string(),
        "--checkpoint",
        &ckpt.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines = read_log(&log);
    let first = lines[0]["validation_cost"].as_f64().unwrap();
    let last = lines.last().unwrap()["validation_cost"].as_f64().unwrap();
    let mut vocabulary: Vec<char> = corpus.chars().collect();
    vocabulary.sort_unstable();
    vocabulary.dedup();
    let uniform = (vocabulary.len() as f64).ln();
    eprintln!(
        "characters: validation {first:.3} -> {last:.3} nats per character (uniform {uniform:.3})"
    );
    assert!(
        last < 0.6 * uniform,
        "validation cost {last} nats (uniform {uniform})"
    );
    assert!(last < first);
    // The vocabulary travels with the checkpoint.
    let sidecar: Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("epoch-0006.json")).unwrap())
            .unwrap();
    let saved: String = vocabulary.iter().collect();
    assert_eq!(sidecar["vocabulary"].as_str(), Some(saved.as_str()));
    // Sampling: the same seed, the same text; another seed, another text.
    let sample = |seed: &str| sample_text(&file, &ckpt, "the ", "120", "0.8", seed);
    let (a, b, c) = (sample("1"), sample("1"), sample("2"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.starts_with("the "), "{a}");
    assert!(a.chars().filter(|c| !c.is_whitespace()).count() > 60, "{a}");
    assert!(
        a.chars().all(|c| vocabulary.contains(&c) || c == '\n'),
        "{a}"
    );
    // A prime the vocabulary lacks is a usage error that names it.
    let out = nnc(&[
        "sample",
        &file.display().to_string(),
        "--weights",
        &ckpt.display().to_string(),
        "--prime",
        "Z",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("'Z'"), "{}", text(&out.stderr));
}

/// A character of the validation split that the training split lacks is
/// E0511, before anything trains.
#[test]
fn a_character_only_the_validation_split_holds_is_e0511() {
    let dir = scratch("unknown");
    let mut corpus = small_text(2_000, 4);
    corpus.push_str("QQQQ the cat");
    std::fs::write(dir.join("words.txt"), &corpus).unwrap();
    let file = char_model(&dir, "words.txt");
    let out = nnc(&["run", &file.display().to_string(), "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("E0511") && stderr.contains("'Q'"),
        "{stderr}"
    );
}

/// `--trace grad-norms` on recurrent layers gives `|dC/dh_t|` by steps back
/// from the end: at initialisation the plain RNN's falls by far more than
/// 10x over 20 steps, the LSTM's (forget bias 1) by much less.
#[test]
fn the_plain_rnns_gradient_vanishes_through_time_and_the_lstms_less() {
    let dir = scratch("vanishing");
    memory_task(&dir.join("train.csv"), 100, 24, 5);
    let back20 = |layer: &str| {
        let file = dir.join("v.nnet");
        std::fs::write(
            &file,
            format!(
                r#"model v {{
                     input x: [24, 3]
                     layers {{ {layer} dense(3, act: softmax) }}
                     cost log_likelihood
                   }}
                   data seqs {{ train csv("train.csv", label: "label") }}
                   train v on seqs {{ optimizer adam  learning_rate 0.01  batch_size 20  epochs 1 }}"#
            ),
        )
        .unwrap();
        let log = dir.join("trace.jsonl");
        let out = nnc(&[
            "run",
            &file.display().to_string(),
            "--quiet",
            "--trace",
            "grad-norms",
            "--log",
            &log.display().to_string(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let initial = &read_log(&log)[0];
        assert_eq!(initial["epoch"], 0);
        let states: Vec<f64> = initial["grad_norms"][0]["states_back"]
            .as_array()
            .expect("the recurrent layer's state norms")
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(states.len(), 24);
        states[1] / states[21]
    };
    let rnn = back20("rnn(32, return: last)");
    let lstm = back20("lstm(32, return: last, forget_bias: 1.0)");
    eprintln!("|dC/dh| one step back over 21 steps back: rnn {rnn:.3e}, lstm {lstm:.3e}");
    assert!(rnn > 10.0, "rnn ratio {rnn}");
    assert!(lstm < rnn / 10.0, "lstm ratio {lstm} vs rnn {rnn}");
}

/// A text of segments `L-----L`, `L` a random `a` or `b`: the closing
/// letter repeats the opening one six characters back.
fn segments(n: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::new();
    while out.len() < n {
        let letter = if rng.below(2) == 0 { 'a' } else { 'b' };
        out.push(letter);
        out.push_str("-----");
        out.push(letter);
    }
    out.truncate(n);
    out
}

fn segment_model(dir: &Path, name: &str, bptt: &str) -> std::path::PathBuf {
    TextModel {
        name,
        text_file: "segments.txt",
        context: 8,
        vocabulary: 3,
        units: 16,
        settings: &format!("epochs 10  {bptt}"),
    }
    .write(dir)
}

/// `bptt 8` carries the LSTM's state from each window of 8 characters to
/// the next of its stream. Windows of 8 cut segments of 7 anywhere, so
/// without the carried state the closing letter is a guess whenever the
/// opening one lies in the window before (5 times in 8); with it, only
/// the opening letters are (ln 2 per 7 characters, 0.099 nats per
/// character). `nnc eval` measures as the run did, and `nnc sample`
/// writes segments that close with the letter they opened with, across
/// window boundaries.
#[test]
fn bptt_carries_the_state_from_window_to_window() {
    let dir = scratch("bptt");
    std::fs::write(dir.join("segments.txt"), segments(12_000, 5)).unwrap();
    let run = |name: &str, bptt: &str, checkpoint: Option<&Path>| {
        let file = segment_model(&dir, name, bptt);
        let log = dir.join(format!("{name}.jsonl"));
        let mut args = vec![
            "run".to_string(),
            file.display().to_string(),
            "--quiet".into(),
            "--log".into(),
            log.display().to_string(),
        ];
        if let Some(ckpt) = checkpoint {
            args.extend(["--checkpoint".into(), ckpt.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = nnc(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let lines = read_log(&log);
        let last = lines.last().unwrap()["validation_cost"].as_f64().unwrap();
        (file, last)
    };
    let ckpt = dir.join("ckpt");
    let (file, carried) = run("carried", "bptt 8", Some(&ckpt));
    let (_, reset) = run("reset", "", None);
    eprintln!("segments: validation {carried:.4} nats with bptt, {reset:.4} without");
    assert!(carried < 0.16, "with bptt: {carried} nats (floor 0.099)");
    assert!(reset > carried + 0.1, "without: {reset}, with: {carried}");
    // `nnc eval` carries the state along the same streams.
    let report = common::eval_json(&file, &ckpt, "validation");
    let cost = report["cost"].as_f64().unwrap();
    assert!((cost - carried).abs() < 1e-4, "eval {cost}, run {carried}");
    // Sampling carries the state past each window of 8.
    let sample = sample_text(&file, &ckpt, "a-----ab", "160", "0.5", "3");
    let chars: Vec<char> = sample.trim_end().chars().collect();
    let whole = chars.len() / 7 * 7;
    assert!(whole >= 140, "{sample}");
    for segment in chars[..whole].chunks(7) {
        let s: String = segment.iter().collect();
        assert!(
            segment[0] == segment[6] && s[1..6] == *"-----",
            "segment {s:?} of {sample}"
        );
    }
}
