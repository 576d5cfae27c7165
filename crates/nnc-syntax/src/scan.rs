//! A light lexical scan of the whole source, independent of the grammar.
//!
//! One pass over the bytes finds what the parser needs to know *around* the
//! grammar: every comment (the grammar skips them silently), strings and
//! comments left open, the brackets outside strings and comments (to cap the
//! nesting depth before pest recurses), and the lines that start with a
//! top-level item keyword (where error recovery may resume).

use crate::ast::Comment;
use nnc_diag::Span;

/// The keywords that start a top-level item.
pub(crate) const ITEM_KEYWORDS: &[&str] = &["const", "block", "model", "data", "train"];

/// Every reserved word of the language.
pub(crate) const KEYWORDS: &[&str] = &[
    "const", "block", "model", "data", "train", "input", "output", "let", "layers", "layer", "at",
    "on", "true", "false",
];

/// The result of [`scan`].
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub comments: Vec<Comment>,
    /// String literals without a closing quote: from `"` to the end of line.
    pub open_strings: Vec<Span>,
    /// A `/*` without `*/` (it runs to the end of the file): the `/*` itself.
    pub open_comment: Option<Span>,
    /// Brackets outside strings and comments, in source order.
    pub brackets: Vec<Bracket>,
    /// Lines starting (after indentation) with an item keyword.
    pub item_lines: Vec<ItemLine>,
}

/// One bracket character outside strings and comments.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bracket {
    pub pos: usize,
    pub ch: u8,
}

impl Bracket {
    pub fn is_open(self) -> bool {
        matches!(self.ch, b'(' | b'[' | b'{')
    }
}

/// A line whose first word is an item keyword.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ItemLine {
    /// Byte offset of the keyword.
    pub pos: usize,
    /// Width of the indentation before it, in bytes.
    pub indent: usize,
    /// Length of the keyword in bytes.
    pub len: usize,
}

/// A `{` whose `}` is missing, found by [`Scan::missing_brace`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MissingBrace {
    /// The `{` left open.
    pub open: usize,
    /// The first character of the line that its `}` should precede.
    pub next: usize,
}

/// Scans `source` once; see the module documentation.
pub(crate) fn scan(source: &str) -> Scan {
    let bytes = source.as_bytes();
    let mut out = Scan::default();
    let mut i = 0;
    let mut line_start = true;
    while i < bytes.len() {
        if line_start {
            note_item_line(source, i, &mut out.item_lines);
            line_start = false;
        }
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        i = match (b, next) {
            (b'/', Some(b'/')) => line_comment(source, i, &mut out),
            (b'/', Some(b'*')) => block_comment(source, i, &mut out),
            (b'"', _) => string(bytes, i, &mut out),
            (b'\n', _) => {
                line_start = true;
                i + 1
            }
            (b'(' | b'[' | b'{' | b')' | b']' | b'}', _) => {
                out.brackets.push(Bracket { pos: i, ch: b });
                i + 1
            }
            _ => i + 1,
        };
    }
    out
}

/// Records an item keyword at the start of the line beginning at `start`.
fn note_item_line(source: &str, start: usize, lines: &mut Vec<ItemLine>) {
    let rest = &source[start..];
    let indent = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let word = word_at(source, start + indent);
    if ITEM_KEYWORDS.contains(&word) {
        lines.push(ItemLine {
            pos: start + indent,
            indent,
            len: word.len(),
        });
    }
}

/// Whether `text` ends with the whole word `word`.
fn ends_with_word(text: &str, word: &str) -> bool {
    let Some(head) = text.strip_suffix(word) else {
        return false;
    };
    !head.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
}

/// The identifier-like word starting at `pos` (empty if none).
pub(crate) fn word_at(source: &str, pos: usize) -> &str {
    let rest = source.get(pos..).unwrap_or("");
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

fn line_comment(source: &str, start: usize, out: &mut Scan) -> usize {
    let end = source[start..]
        .find('\n')
        .map_or(source.len(), |n| start + n);
    push_comment(source, start, end, out);
    end
}

fn block_comment(source: &str, start: usize, out: &mut Scan) -> usize {
    let end = match source[start + 2..].find("*/") {
        Some(n) => start + 2 + n + 2,
        None => {
            out.open_comment.get_or_insert(Span::new(start, start + 2));
            source.len()
        }
    };
    push_comment(source, start, end, out);
    end
}

fn push_comment(source: &str, start: usize, end: usize, out: &mut Scan) {
    out.comments.push(Comment {
        text: source[start..end].to_string(),
        span: Span::new(start, end),
    });
}

/// Skips a string literal; a backslash escapes any one character. Returns
/// the offset after it (at the newline if it is left open).
fn string(bytes: &[u8], start: usize, out: &mut Scan) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return i + 1,
            b'\n' => break,
            // The escaped character may be any byte; a multi-byte character's
            // continuation bytes are skipped by the loop as ordinary bytes.
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    let end = i.min(bytes.len());
    out.open_strings.push(Span::new(start, end));
    end
}

impl Scan {
    /// The first opening bracket at or after `from` (and before `until`)
    /// that is nested more than `limit` levels deep, counting from `from`.
    pub fn first_too_deep(&self, from: usize, until: usize, limit: usize) -> Option<usize> {
        let first = self.brackets.partition_point(|b| b.pos < from);
        let mut depth = 0usize;
        for bracket in self.brackets[first..].iter().take_while(|b| b.pos < until) {
            if bracket.is_open() {
                depth += 1;
                if depth > limit {
                    return Some(bracket.pos);
                }
            } else {
                depth = depth.saturating_sub(1);
            }
        }
        None
    }

    /// The brackets opened at or after `from` and still open at `at`,
    /// outermost first.
    pub fn open_stack(&self, from: usize, at: usize) -> Vec<Bracket> {
        let first = self.brackets.partition_point(|b| b.pos < from);
        let mut stack: Vec<Bracket> = Vec::new();
        for bracket in self.brackets[first..].iter().take_while(|b| b.pos < at) {
            if bracket.is_open() {
                stack.push(*bracket);
            } else {
                stack.pop();
            }
        }
        stack
    }

    /// The outermost `{` opened at or after `from` and still open at `at`.
    pub fn open_brace_at(&self, from: usize, at: usize) -> Option<usize> {
        self.open_stack(from, at)
            .iter()
            .find(|b| b.ch == b'{')
            .map(|b| b.pos)
    }

    /// Whether `pos` lies directly inside a layer list: the innermost
    /// bracket open there is the `{` of `layers {`, or of a block whose body
    /// does not start with `input`.
    pub fn in_layer_list(&self, source: &str, from: usize, pos: usize) -> bool {
        let Some(open) = self.open_stack(from, pos).last().copied() else {
            return false;
        };
        if open.ch != b'{' {
            return false;
        }
        let before = source[..open.pos].trim_end();
        if ends_with_word(before, "layers") {
            return true;
        }
        let Some(close) = before
            .len()
            .checked_sub(1)
            .filter(|_| before.ends_with(')'))
        else {
            return false;
        };
        let Some(paren) = self.open_stack(from, close).last().copied() else {
            return false;
        };
        let head = source[..paren.pos].trim_end();
        let name_start = run_start(head, |c| c.is_ascii_alphanumeric() || c == '_');
        let is_block = ends_with_word(head[..name_start].trim_end(), "block");
        let body = source[open.pos + 1..].trim_start();
        is_block && word_at(body, 0) != "input"
    }

    /// The `{` whose `}` the indentation says is missing, when the text
    /// from `from` (the start of a failing item indented `item_indent`) to
    /// `until` (the error) shows one: a line at or after which the error
    /// lies, indented no deeper than the line of a `{` still open there,
    /// whose body began on deeper-indented lines. The `}` belongs before
    /// that line when the brace's actual `}` (if any) sits at another
    /// indentation (`layers {` closed by the model's `}`), or when the line
    /// starts a top-level item (`data` after a `model {` never closed).
    ///
    /// Files that do not indent their bodies never give one, and a line
    /// starting with a closing bracket is never the line after the `}`.
    pub fn missing_brace(
        &self,
        source: &str,
        from: usize,
        until: usize,
        item_indent: usize,
    ) -> Option<MissingBrace> {
        /// A bracket open at the current line.
        struct Open {
            /// Its index in [`Scan::brackets`].
            index: usize,
            /// The indentation of the line it opens on.
            indent: usize,
            /// Whether its body is indented deeper than that line: unknown
            /// until the first line of the body, and cleared once the
            /// indentation has proved unreliable.
            indented: Option<bool>,
        }
        let mut stack: Vec<Open> = Vec::new();
        let mut next = self.brackets.partition_point(|b| b.pos < from);
        let mut line_start = source.get(..from)?.rfind('\n').map_or(0, |i| i + 1);
        while line_start <= until.min(source.len()) {
            let line_end = source[line_start..]
                .find('\n')
                .map_or(source.len(), |n| line_start + n);
            let line = &source[line_start..line_end];
            let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
            let first = line_start + indent;
            let content = first >= from
                && first <= until
                && !matches!(source.as_bytes().get(first), None | Some(b'\n' | b'\r'))
                && !self.in_comment(first);
            if let Some(top) = stack.last_mut().filter(|_| content) {
                let ch = self.brackets[top.index].ch;
                let deeper = indent > top.indent;
                match top.indented {
                    None => top.indented = Some(deeper),
                    Some(true) if ch == b'{' && !deeper && !starts_with_closer(source, first) => {
                        let close = self.matching_close(top.index);
                        let moved = close.is_none_or(|c| line_indent(source, c) != top.indent);
                        let item = self
                            .item_lines
                            .iter()
                            .any(|l| l.pos == first && l.indent <= item_indent);
                        if moved || item {
                            return Some(MissingBrace {
                                open: self.brackets[top.index].pos,
                                next: first,
                            });
                        }
                        top.indented = Some(false);
                    }
                    _ => {}
                }
            }
            while let Some(bracket) = self.brackets.get(next).filter(|b| b.pos < line_end) {
                if bracket.pos >= until {
                    return None;
                }
                if bracket.is_open() {
                    stack.push(Open {
                        index: next,
                        indent,
                        indented: None,
                    });
                } else {
                    stack.pop();
                }
                next += 1;
            }
            line_start = line_end + 1;
        }
        None
    }

    /// The closing bracket that pairs with the opening one at `index` in
    /// [`Scan::brackets`], by counting (whatever its kind).
    fn matching_close(&self, index: usize) -> Option<usize> {
        let mut depth = 0usize;
        for bracket in &self.brackets[index..] {
            if bracket.is_open() {
                depth += 1;
            } else {
                depth -= 1;
                if depth == 0 {
                    return Some(bracket.pos);
                }
            }
        }
        None
    }

    /// Whether `pos` lies inside a comment.
    fn in_comment(&self, pos: usize) -> bool {
        let at = self.comments.partition_point(|c| c.span.end <= pos);
        self.comments
            .get(at)
            .is_some_and(|c| c.span.start <= pos && pos < c.span.end)
    }

    /// The open string literal containing or ending at `pos`, if any.
    pub fn open_string_at(&self, pos: usize) -> Option<Span> {
        self.open_strings
            .iter()
            .copied()
            .find(|s| s.start <= pos && pos <= s.end)
    }
}

/// The width of the indentation of the line containing `pos`.
pub(crate) fn line_indent(source: &str, pos: usize) -> usize {
    let before = source.get(..pos).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = &source[line_start..];
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Whether a closing bracket starts the text at `pos`.
fn starts_with_closer(source: &str, pos: usize) -> bool {
    matches!(source.as_bytes().get(pos), Some(b')' | b']' | b'}'))
}

/// Where the run of characters satisfying `keep` that ends `text` starts
/// (a byte offset on a character boundary).
pub(crate) fn run_start(text: &str, keep: impl Fn(char) -> bool) -> usize {
    text.char_indices()
        .rev()
        .find(|&(_, c)| !keep(c))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_in_strings_are_not_comments() {
        let s = scan("let p = \"a//b/*c\" // real\n/* block */ x");
        let texts: Vec<&str> = s.comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, vec!["// real", "/* block */"]);
        assert!(s.open_strings.is_empty());
    }

    #[test]
    fn escaped_quotes_stay_inside_the_string() {
        let s = scan(r#"x "a\"b // no" // yes"#);
        assert_eq!(s.comments.len(), 1);
        assert_eq!(s.comments[0].text, "// yes");
    }

    #[test]
    fn open_string_and_comment_are_found() {
        let s = scan("x = \"abc\ny /* never closed");
        assert_eq!(s.open_strings, vec![Span::new(4, 8)]);
        assert_eq!(s.open_comment, Some(Span::new(11, 13)));
        assert_eq!(s.comments.len(), 1);
    }

    #[test]
    fn item_lines_skip_comments_and_keep_indentation() {
        let src = "model a {\n  train x\n}\n/*\nmodel b\n*/\n  data d {}\nmodels\n";
        let s = scan(src);
        let found: Vec<(usize, usize)> = s.item_lines.iter().map(|l| (l.pos, l.indent)).collect();
        assert_eq!(found, vec![(0, 0), (12, 2), (38, 2)]);
    }

    #[test]
    fn depth_counts_from_the_start() {
        let s = scan("((( ))) (((( x");
        assert_eq!(s.first_too_deep(0, usize::MAX, 3), Some(11));
        assert_eq!(s.first_too_deep(0, 10, 3), None);
        assert_eq!(s.open_brace_at(0, 100), None);
    }

    #[test]
    fn a_missing_brace_is_read_from_the_indentation() {
        let src = "model m {\n  layers {\n    dense(3)\n  cost quadratic\n}\n";
        let s = scan(src);
        let missing = s.missing_brace(src, 0, src.len(), 0);
        let open = src.find("{\n    ").unwrap_or(0);
        let next = src.find("cost").unwrap_or(0);
        assert_eq!(missing, Some(MissingBrace { open, next }));
        // Not before the error, and not for comment lines or lines that
        // close a bracket.
        assert_eq!(s.missing_brace(src, 0, next - 1, 0), None);
        let src =
            "model m {\n  layers {\n    dense(3)\n// c\n  /* c */\n    dense(\n  3)\n  }\n}\n";
        assert_eq!(scan(src).missing_brace(src, 0, src.len(), 0), None);
    }

    #[test]
    fn layer_lists_are_recognised() {
        let src = "model m { layers { dense(3) x } }\nblock b(n) { y }\nblock c(n) { input x }";
        let s = scan(src);
        let at = |needle: &str| src.find(needle).unwrap_or(0);
        assert!(s.in_layer_list(src, 0, at(" x }")));
        assert!(!s.in_layer_list(src, 0, at("3)")));
        assert!(!s.in_layer_list(src, 0, at(" layers")));
        assert!(s.in_layer_list(src, 0, at(" y }")));
        assert!(!s.in_layer_list(src, 0, at(" input x")));
    }
}
