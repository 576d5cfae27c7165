//! No input panics the parser or overflows its stack.

use super::parse_checked;
use crate::{MAX_EXPR_DEPTH, MAX_NESTING};
use nnc_diag::syntax::SyntaxError;

/// Runs `f` on a thread with a small stack, so that unbounded recursion
/// shows up here rather than in a user's process.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    let handle = std::thread::Builder::new().stack_size(1 << 20).spawn(f);
    let joined = handle.map(|h| h.join());
    assert!(
        matches!(joined, Ok(Ok(()))),
        "the parse panicked or could not start"
    );
}

fn tricky_inputs() -> Vec<String> {
    let mut inputs: Vec<String> = [
        "",
        " ",
        "\n\n\n",
        "// only a comment",
        "/* only a block comment */",
        "/*",
        "/* unterminated",
        "*/",
        "\"",
        "\"unterminated",
        "const s = \"unterminated\n",
        "const s = \"ends with a backslash\\",
        "model",
        "model m",
        "model m {",
        "model m { input",
        "model m { input x:",
        "model m { layers {",
        "model m { layers { dense(",
        "}",
        "{}",
        ")(",
        "][",
        "..",
        "|> -> + - * /",
        "const",
        "const x",
        "const x =",
        "const x = -",
        "const x = 1_",
        "const x = 1__0",
        "const x = 1.",
        "const x = .5",
        "const x = 1e",
        "const x = 1e+",
        "const x = 0x10",
        "train",
        "train a,",
        "train a, b on",
        "train a on b { at epoch",
        "data d { train f[",
        "data d { train f[..",
        "block b(",
        "block b(x,",
        "block b(x = ",
        "\u{feff}model m { }",
        "model m { } \u{0}",
        "model é { }",
        "model m { input x: [784] } // ünïcødé comment",
        "const s = \"ünïcødé \\é\"",
        "\r\nmodel m {\r\n  input x: [1]\r\n}\r\n",
        "model\tm\t{\t}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    inputs.push("model m { ".repeat(500));
    inputs.push("const x = ".to_string() + &"(".repeat(10_000));
    inputs.push("const x = ".to_string() + &"[".repeat(10_000));
    inputs.push("model m { layers { ".to_string() + &"layers { ".repeat(5_000));
    inputs.push("const x = ".to_string() + &"- ".repeat(10_000) + "1");
    inputs.push("const x = 1".to_string() + &" + 1".repeat(10_000));
    inputs.push("const x = 1".to_string() + &" * 1".repeat(10_000));
    inputs.push("const x = x".to_string() + &" |> f".repeat(10_000));
    inputs.push("model m { layers { ".to_string() + &"relu ".repeat(10_000) + "} }");
    inputs.push("train m on d { ".to_string() + &"at epoch 1 { ".repeat(1_000));
    inputs.push("train m on d { ".to_string() + &"s n { ".repeat(1_000));
    inputs.push("model m {\n".to_string() + &"model n\nstep s {\n".repeat(200));
    inputs.push("const x = f(".to_string() + &"g(".repeat(10_000));
    inputs.push(
        "(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((".repeat(100),
    );
    inputs.push(")))))))))".repeat(1000));
    inputs.push("model a { ) }\n".repeat(1_000));
    inputs
}

#[test]
fn tricky_inputs_never_panic() {
    on_small_stack(|| {
        for input in tricky_inputs() {
            let (_, errors) = parse_checked(&input);
            for error in &errors {
                let _ = error.to_diagnostic();
            }
        }
    });
}

#[test]
fn every_prefix_of_the_book_example_parses_without_panic() {
    let source = include_str!("../../../../models/lenet5.nnet");
    on_small_stack(move || {
        for end in (0..=source.len()).filter(|i| source.is_char_boundary(*i)) {
            let _ = parse_checked(&source[..end]);
        }
    });
}

fn nested_parens(levels: usize) -> String {
    format!("const x = {}1{}", "(".repeat(levels), ")".repeat(levels))
}

#[test]
fn nesting_up_to_the_limit_parses() {
    on_small_stack(|| {
        let (file, errors) = parse_checked(&nested_parens(MAX_NESTING));
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(file.items.len(), 1);
        let list = format!(
            "const x = {}1{}",
            "[".repeat(MAX_NESTING),
            "]".repeat(MAX_NESTING)
        );
        assert!(parse_checked(&list).1.is_empty());
    });
}

#[test]
fn nesting_beyond_the_limit_is_an_error_at_the_bracket() {
    on_small_stack(|| {
        let source = nested_parens(MAX_NESTING + 1) + "\nconst y = 2\n";
        let (file, errors) = parse_checked(&source);
        let open = "const x = ".len() + MAX_NESTING;
        assert_eq!(
            errors,
            vec![SyntaxError::TooDeep {
                span: nnc_diag::Span::new(open, open + 1),
                limit: MAX_NESTING
            }]
        );
        assert_eq!(file.items.len(), 1, "the next item is kept");
        let d = errors[0].to_diagnostic();
        assert_eq!(d.message, "expression nested too deeply");
    });
}

#[test]
fn long_operator_chains_are_capped() {
    on_small_stack(|| {
        let ok = "const x = 1".to_string() + &" + 1".repeat(MAX_EXPR_DEPTH - 1);
        assert!(parse_checked(&ok).1.is_empty());
        let deep = "const x = 1".to_string() + &" + 1".repeat(MAX_EXPR_DEPTH + 1) + "\nconst y = 1";
        let (file, errors) = parse_checked(&deep);
        assert!(
            matches!(errors.as_slice(), [SyntaxError::TooDeep { .. }]),
            "{errors:#?}"
        );
        assert_eq!(file.items.len(), 1, "only the deep item is dropped");
        let negs = "const x = ".to_string() + &"-".repeat(MAX_EXPR_DEPTH + 1) + "1";
        assert!(matches!(
            parse_checked(&negs).1.as_slice(),
            [SyntaxError::TooDeep { .. }]
        ));
    });
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "model",
    "block",
    "const",
    "data",
    "train",
    "on",
    "input",
    "output",
    "let",
    "layer",
    "layers",
    "at",
    "epoch",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "->",
    "|>",
    "+",
    "-",
    "*",
    "/",
    "..",
    "x",
    "dense",
    "relu",
    "act",
    "0",
    "1",
    "28",
    "0.5",
    "1e9",
    "99999999999999999999",
    "\"a.gz\"",
    "\"",
    "// c\n",
    "/* c */",
    "/*",
    "\n",
    " ",
    "é",
    "true",
];

#[test]
fn token_soups_never_panic() {
    on_small_stack(|| {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3_000 {
            let len = rng.below(60);
            let soup: Vec<&str> = (0..len).map(|_| TOKENS[rng.below(TOKENS.len())]).collect();
            let separator = if rng.below(2) == 0 { " " } else { "" };
            let source = soup.join(separator);
            let (_, errors) = parse_checked(&source);
            for error in &errors {
                let _ = error.to_diagnostic();
            }
        }
    });
}

#[test]
fn mutated_models_never_panic() {
    let source = include_str!("../../../../models/lenet5.nnet");
    on_small_stack(move || {
        let mut rng = Rng(42);
        let chars: Vec<char> = source.chars().collect();
        for _ in 0..1_000 {
            let mut mutated = chars.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(mutated.len());
                match rng.below(3) {
                    0 => {
                        mutated.remove(at);
                    }
                    1 => mutated.insert(at, mutated[at]),
                    _ => {
                        mutated[at] = TOKENS[rng.below(TOKENS.len())]
                            .chars()
                            .next()
                            .unwrap_or('x')
                    }
                }
            }
            let text: String = mutated.into_iter().collect();
            let _ = parse_checked(&text);
        }
    });
}
