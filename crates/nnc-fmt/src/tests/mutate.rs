//! Mutation tests: the corpus with its whitespace replaced at random by
//! other whitespace and by comments, which the grammar reads the same way.
//! Every mutant must keep every invariant; mutants that differ only in
//! spaces and single newlines must format to the same text.

use super::{all_sources, check_invariants};

/// A small deterministic generator (xorshift64*), so that failures repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A piece of source: a whitespace run (replaceable; `empty` when the
/// source had none there), or anything else.
enum Piece<'a> {
    Space { empty: bool },
    Text(&'a str),
}

/// Splits `source` into whitespace runs and the rest, keeping comments and
/// strings whole. After `(`, `[`, `{` and `,` and before `)`, `]`, `}` and
/// `,`, an empty whitespace run is added: whitespace is always allowed
/// there.
fn pieces(source: &str) -> Vec<Piece<'_>> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            out.push(Piece::Space { empty: false });
            continue;
        }
        if source[i..].starts_with("//") {
            i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if source[i..].starts_with("/*") {
            i = source[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
        } else if b == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else {
            i += source[i..].chars().next().map_or(1, char::len_utf8);
        }
        if matches!(b, b')' | b']' | b'}' | b',') {
            out.push(Piece::Space { empty: true });
        }
        out.push(Piece::Text(&source[start..i]));
        if matches!(b, b'(' | b'[' | b'{' | b',') {
            out.push(Piece::Space { empty: true });
        }
    }
    out
}

/// Rebuilds the source, each whitespace run replaced by `choose(empty)`,
/// where `empty` says whether the run was empty (and may stay empty).
/// Adjacent runs count as one.
fn rebuild(pieces: &[Piece<'_>], mut choose: impl FnMut(bool) -> String, source: &str) -> String {
    let mut out = String::with_capacity(source.len() * 2);
    let mut last_was_space = false;
    for piece in pieces {
        match piece {
            Piece::Space { empty } => {
                if !last_was_space {
                    out.push_str(&choose(*empty));
                }
                last_was_space = true;
            }
            Piece::Text(text) => {
                // A line comment must end its line.
                if out.ends_with(|c: char| c != '\n') && last_line_is_comment(&out) {
                    out.push('\n');
                }
                out.push_str(text);
                last_was_space = false;
            }
        }
    }
    out
}

fn last_line_is_comment(text: &str) -> bool {
    let line = text.rsplit('\n').next().unwrap_or("");
    line_has_open_line_comment(line)
}

/// Whether `line` holds a `//` outside strings and block comments.
fn line_has_open_line_comment(line: &str) -> bool {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if line[i..].starts_with("//") {
            return true;
        }
        if line[i..].starts_with("/*") {
            match line[i + 2..].find("*/") {
                Some(n) => i += 2 + n + 2,
                None => return false,
            }
            continue;
        }
        if bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
        }
        i += 1;
    }
    false
}

const SPACES: &[&str] = &[" ", "\n", "\n\n", "  \n\t ", "\n\n\n  "];
const COMMENTS: &[&str] = &[
    " /* c */ ",
    "/* c */",
    " // c\n",
    "\n// c\n",
    "\n\n// c\n\n",
    " /* two\n   lines */ ",
    "\n/* c */\n",
    " /* a */ /* b */ ",
    " /* a */ // b\n",
];

#[test]
fn whitespace_and_comment_mutants_keep_every_invariant() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0;
    for (name, source) in all_sources() {
        let pieces = pieces(&source);
        for round in 0..rounds() {
            let mutant = rebuild(
                &pieces,
                |was_empty| match rng.below(10) {
                    0..=3 if was_empty => String::new(),
                    0..=5 => SPACES[rng.below(SPACES.len())].to_string(),
                    _ => COMMENTS[rng.below(COMMENTS.len())].to_string(),
                },
                &source,
            );
            if nnc_syntax::parse(&mutant).1.is_empty() {
                check_invariants(&format!("{name} (mutant {round}):\n{mutant}\n"), &mutant);
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "too few mutants parse: {checked}");
}

/// The layout does not depend on where the source broke its lines.
#[test]
fn line_breaks_of_the_source_do_not_matter() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for (name, source) in all_sources() {
        // Without comments: they pin lines.
        if !super::comments(&source).is_empty() {
            continue;
        }
        let pieces = pieces(&source);
        let flat = rebuild(
            &pieces,
            |was_empty| if was_empty { String::new() } else { " ".into() },
            &source,
        );
        let expected = check_invariants(&name, &flat);
        for _ in 0..10 {
            let mutant = rebuild(
                &pieces,
                |was_empty| match rng.below(3) {
                    0 if was_empty => String::new(),
                    0 | 1 => " ".into(),
                    _ => "\n".into(),
                },
                &source,
            );
            assert_eq!(
                check_invariants(&name, &mutant),
                expected,
                "{name}:\n{mutant}"
            );
        }
    }
}

/// Mutants per source: 40, or `NNC_FMT_MUTANTS` for a longer run.
fn rounds() -> usize {
    std::env::var("NNC_FMT_MUTANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}
