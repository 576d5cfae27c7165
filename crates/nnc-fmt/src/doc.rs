//! A small document algebra and its renderer, in the style of Wadler's
//! "prettier printer" (and of the JavaScript formatter Prettier).
//!
//! The printer turns the syntax tree into a [`Doc`]: text, line breaks that
//! may be taken or not, and groups. The renderer lays a group out flat (every
//! [`Doc::Line`] a space) when the whole group fits in the remaining width of
//! the line, and broken (every `Line` of the group a newline) otherwise.
//! Nested groups decide for themselves, outermost first.
//!
//! Invariants:
//! - A group holding a [`Doc::HardLine`], a [`Doc::BreakParent`] or a
//!   multi-line text is *forced*: it is always broken, and so is every group
//!   around it. [`group`] computes this once, when the group is built.
//! - [`Doc::LineSuffix`] text (end-of-line comments) is held back and written
//!   just before the next newline, so a trailing comment never has code after
//!   it on its line. It does not count towards the width.
//! - The renderer never writes trailing whitespace: indentation is written
//!   lazily before the first text of a line, and spaces before a newline are
//!   removed.

/// A document to lay out.
#[derive(Clone, Debug)]
pub(crate) enum Doc {
    /// Text without a newline, except for the text of a multi-line block
    /// comment (which forces its groups to break).
    Text(String),
    /// A space when the enclosing group is flat, a newline when broken.
    Line,
    /// Nothing when the enclosing group is flat, a newline when broken.
    SoftLine,
    /// Always a newline; forces the enclosing groups to break.
    HardLine,
    /// Indents the lines started inside by this many more columns.
    Nest(usize, Box<Doc>),
    /// A unit laid out flat if it fits, broken otherwise.
    Group {
        doc: Box<Doc>,
        forced: bool,
    },
    Concat(Vec<Doc>),
    /// Text written at the end of the current line, before its newline.
    LineSuffix(String),
    /// Forces the enclosing groups to break; prints nothing.
    BreakParent,
    /// `broken` when the enclosing group is broken, `flat` otherwise.
    IfBreak {
        broken: Box<Doc>,
        flat: Box<Doc>,
    },
}

pub(crate) fn text(s: impl Into<String>) -> Doc {
    Doc::Text(s.into())
}

pub(crate) fn concat(docs: Vec<Doc>) -> Doc {
    Doc::Concat(docs)
}

pub(crate) fn nest(indent: usize, doc: Doc) -> Doc {
    Doc::Nest(indent, Box::new(doc))
}

pub(crate) fn empty() -> Doc {
    Doc::Concat(Vec::new())
}

/// A trailing comma: written only when the list around it is broken.
pub(crate) fn comma_if_broken() -> Doc {
    Doc::IfBreak {
        broken: Box::new(text(",")),
        flat: Box::new(empty()),
    }
}

/// Builds a group, recording whether something inside forces it to break.
pub(crate) fn group(doc: Doc) -> Doc {
    let forced = forces_break(&doc);
    Doc::Group {
        doc: Box::new(doc),
        forced,
    }
}

/// Whether `doc` holds a hard break. Nested groups have already computed
/// this for their own content, so the walk stops at them.
fn forces_break(doc: &Doc) -> bool {
    match doc {
        Doc::HardLine | Doc::BreakParent => true,
        Doc::Text(s) => s.contains('\n'),
        Doc::Group { forced, .. } => *forced,
        Doc::Nest(_, inner) => forces_break(inner),
        Doc::Concat(docs) => docs.iter().any(forces_break),
        Doc::IfBreak { broken, flat } => forces_break(broken) || forces_break(flat),
        Doc::Line | Doc::SoftLine | Doc::LineSuffix(_) => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

/// One pending piece of work of the renderer.
#[derive(Clone, Copy)]
struct Cmd<'d> {
    indent: usize,
    mode: Mode,
    doc: &'d Doc,
}

/// Lays `doc` out in lines of at most `width` columns where possible.
pub(crate) fn render(doc: &Doc, width: usize) -> String {
    let mut out = Output::default();
    let mut stack = vec![Cmd {
        indent: 0,
        mode: Mode::Break,
        doc,
    }];
    while let Some(cmd) = stack.pop() {
        match cmd.doc {
            Doc::Text(s) => out.text(s),
            Doc::Line => match cmd.mode {
                Mode::Flat => out.text(" "),
                Mode::Break => out.newline(cmd.indent),
            },
            Doc::SoftLine => {
                if cmd.mode == Mode::Break {
                    out.newline(cmd.indent);
                }
            }
            Doc::HardLine => out.newline(cmd.indent),
            Doc::Nest(n, inner) => stack.push(Cmd {
                indent: cmd.indent + n,
                doc: inner,
                ..cmd
            }),
            Doc::Group { doc: inner, forced } => {
                let mode = if *forced {
                    Mode::Break
                } else if cmd.mode == Mode::Flat {
                    Mode::Flat
                } else {
                    let left = width as isize - out.col as isize;
                    if fits(inner, &stack, left) {
                        Mode::Flat
                    } else {
                        Mode::Break
                    }
                };
                stack.push(Cmd {
                    mode,
                    doc: inner,
                    ..cmd
                });
            }
            Doc::Concat(docs) => {
                stack.extend(docs.iter().rev().map(|d| Cmd { doc: d, ..cmd }));
            }
            Doc::LineSuffix(s) => out.suffixes.push(s.clone()),
            Doc::BreakParent => {}
            Doc::IfBreak { broken, flat } => {
                let chosen = if cmd.mode == Mode::Break {
                    broken
                } else {
                    flat
                };
                stack.push(Cmd { doc: chosen, ..cmd });
            }
        }
    }
    out.finish()
}

/// Whether `doc`, laid out flat, fits in `left` columns together with what
/// follows it on the same line (the rest of the stack, up to its first
/// possible line break).
fn fits(doc: &Doc, rest: &[Cmd<'_>], mut left: isize) -> bool {
    let mut work: Vec<(Mode, &Doc)> = vec![(Mode::Flat, doc)];
    let mut rest_index = rest.len();
    loop {
        if left < 0 {
            return false;
        }
        let (mode, doc) = match work.pop() {
            Some(item) => item,
            None => {
                let Some(index) = rest_index.checked_sub(1) else {
                    return true;
                };
                rest_index = index;
                let Some(cmd) = rest.get(index) else {
                    return true;
                };
                (cmd.mode, cmd.doc)
            }
        };
        match doc {
            Doc::Text(s) => {
                if let Some(newline) = s.find('\n') {
                    left -= width_of(s.get(..newline).unwrap_or(""));
                    return left >= 0;
                }
                left -= width_of(s);
            }
            Doc::Line => match mode {
                Mode::Flat => left -= 1,
                Mode::Break => return true,
            },
            Doc::SoftLine => {
                if mode == Mode::Break {
                    return true;
                }
            }
            Doc::HardLine => return true,
            Doc::Nest(_, inner) => work.push((mode, inner)),
            Doc::Group { doc: inner, forced } => {
                let mode = if *forced { Mode::Break } else { mode };
                work.push((mode, inner));
            }
            Doc::Concat(docs) => work.extend(docs.iter().rev().map(|d| (mode, d))),
            Doc::LineSuffix(_) | Doc::BreakParent => {}
            Doc::IfBreak { broken, flat } => {
                work.push((mode, if mode == Mode::Break { broken } else { flat }));
            }
        }
    }
}

/// The number of columns `s` takes (one per character).
fn width_of(s: &str) -> isize {
    isize::try_from(s.chars().count()).unwrap_or(isize::MAX)
}

/// The text being written, with the current column.
#[derive(Default)]
struct Output {
    text: String,
    col: usize,
    /// Indentation owed to the current line, written before its first text.
    pending_indent: Option<usize>,
    /// End-of-line comments waiting for the next newline.
    suffixes: Vec<String>,
}

impl Output {
    fn text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(indent) = self.pending_indent.take() {
            self.text.extend(std::iter::repeat_n(' ', indent));
        }
        self.text.push_str(s);
        match s.rfind('\n') {
            Some(newline) => self.col = s.get(newline + 1..).map_or(0, |t| t.chars().count()),
            None => self.col += s.chars().count(),
        }
    }

    fn newline(&mut self, indent: usize) {
        self.flush_suffixes();
        self.trim_line_end();
        self.text.push('\n');
        self.pending_indent = Some(indent);
        self.col = indent;
    }

    fn flush_suffixes(&mut self) {
        let suffixes = std::mem::take(&mut self.suffixes);
        for suffix in &suffixes {
            self.text(suffix);
        }
    }

    fn trim_line_end(&mut self) {
        let kept = self.text.trim_end_matches([' ', '\t']).len();
        self.text.truncate(kept);
    }

    fn finish(mut self) -> String {
        self.flush_suffixes();
        self.trim_line_end();
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> Doc {
        let mut inner = vec![Doc::SoftLine];
        for (i, arg) in args.iter().enumerate() {
            inner.push(text(*arg));
            if i + 1 < args.len() {
                inner.push(text(","));
                inner.push(Doc::Line);
            } else {
                inner.push(comma_if_broken());
            }
        }
        group(concat(vec![
            text("f("),
            nest(2, concat(inner)),
            Doc::SoftLine,
            text(")"),
        ]))
    }

    #[test]
    fn a_group_that_fits_stays_flat() {
        assert_eq!(render(&call(&["a", "b"]), 20), "f(a, b)");
    }

    #[test]
    fn a_group_that_does_not_fit_breaks_with_a_trailing_comma() {
        assert_eq!(
            render(&call(&["aaaa", "bbbb"]), 8),
            "f(\n  aaaa,\n  bbbb,\n)"
        );
    }

    #[test]
    fn line_suffixes_go_before_the_newline_and_force_the_break() {
        let doc = group(concat(vec![
            text("x"),
            Doc::LineSuffix("  // c".into()),
            Doc::BreakParent,
            Doc::Line,
            text("y"),
        ]));
        assert_eq!(render(&doc, 100), "x  // c\ny");
    }

    #[test]
    fn blank_lines_carry_no_indentation() {
        let doc = nest(
            4,
            concat(vec![text("a"), Doc::HardLine, Doc::HardLine, text("b")]),
        );
        assert_eq!(render(&doc, 100), "a\n\n    b");
    }
}
