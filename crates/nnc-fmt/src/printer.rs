//! The syntax tree to [`Doc`] translation: the canonical style and the
//! placement of comments.
//!
//! Comments are not in the tree; [`File::comments`] lists them in source
//! order. The printer walks the tree in source order with a cursor over that
//! list and, at each place where a comment can sit, takes the comments that
//! lie before the next node. Because every comment is taken from one cursor
//! that only moves forward, and every comment taken is written into the
//! document, each comment is printed exactly once and in its original order.
//!
//! Where a comment can sit:
//! - between the lines of a list of items, statements or layers: on its own
//!   line before the next one (a *leading* comment), or at the end of the
//!   previous one's line (a *trailing* comment);
//! - between the elements of an argument list, a list, a parameter list or a
//!   pipe, with the same two choices, or inline (`/* c */`);
//! - before any name or expression, when it is a block comment with code
//!   after it on the same line: inline, as written.
//!
//! Any other comment (a `//` comment in the middle of an expression, or a
//! comment before a closing bracket) is *misplaced*: the statement, item or
//! layer holding it (its *unit*) is printed again with every comment of its
//! header moved, in order, onto their own lines before it. The result is a
//! fixed point: the second run finds those comments before the unit.
//!
//! The parser's spans may run past a node's last token over the whitespace
//! and comments after it (pest skips them before an optional part that then
//! does not match); the printer measures every end itself ([`Printer::end`]),
//! so a trailing comment is never mistaken for a comment inside the node.

use crate::doc::{comma_if_broken, concat, empty, group, nest, text, Doc};
use crate::source::Source;
use nnc_diag::Span;
use nnc_syntax::ast::{
    Arg, BlockBody, Expr, ExprKind, File, Ident, Item, Param, Setting, SettingValue, Stmt,
};

/// The width the printer tries to stay within.
pub(crate) const MAX_WIDTH: usize = 100;
/// The indentation of a body or of the elements of a broken list.
const INDENT: usize = 2;
/// The indentation of the `|>` lines of a broken pipe.
const PIPE_INDENT: usize = 4;

/// A comment of the source, its text normalised (see [`normalise`]).
#[derive(Clone, Debug)]
struct Note {
    text: String,
    span: Span,
    /// A `//` comment, which runs to the end of its line.
    line: bool,
}

/// A comment's text without trailing whitespace on any of its lines.
pub(crate) fn normalise(comment: &str) -> String {
    let lines: Vec<&str> = comment.split('\n').map(str::trim_end).collect();
    lines.join("\n")
}

/// A printed statement, item or layer, with the comments moved before it.
struct Unit {
    hoisted: Vec<Note>,
    doc: Doc,
}

impl Unit {
    fn then(self, more: Doc) -> Unit {
        Unit {
            hoisted: self.hoisted,
            doc: concat(vec![self.doc, more]),
        }
    }
}

/// The comments found between two elements of a list or a pipe, sorted by
/// where they will be written.
#[derive(Default)]
struct Gap {
    /// Block comments that stay on the previous element's line, before the
    /// separator: `a /* c */, b`.
    inline_trailing: Vec<Note>,
    /// Comments written at the end of the previous element's line.
    end_of_line: Vec<Note>,
    /// Comments before the next element: on their own line (`true`) or
    /// inline before it (`false`).
    leading: Vec<(Note, bool)>,
}

/// The lines of a body or of the file, being built.
#[derive(Default)]
struct Lines {
    /// End-of-line comments after the opening `{`.
    opener: Vec<Doc>,
    body: Vec<Doc>,
    started: bool,
    /// The current line holds only inline comments so far: the next thing
    /// goes on the same line.
    inline_open: bool,
}

impl Lines {
    fn start_line(&mut self, blank: bool) {
        if std::mem::take(&mut self.inline_open) {
            return;
        }
        if self.started {
            self.body.push(Doc::HardLine);
            if blank {
                self.body.push(Doc::HardLine);
            }
        }
        self.started = true;
    }
}

pub(crate) struct Printer<'a> {
    src: Source<'a>,
    notes: Vec<Note>,
    /// The first comment not yet printed.
    next: usize,
    /// Set when a comment was met where the current unit cannot hold it.
    misplaced: bool,
}

impl<'a> Printer<'a> {
    pub(crate) fn new(file: &File, source: &'a str) -> Self {
        let mut notes: Vec<Note> = file
            .comments
            .iter()
            .map(|c| Note {
                text: normalise(&c.text),
                span: c.span,
                line: c.text.starts_with("//"),
            })
            .collect();
        notes.sort_by_key(|n| n.span.start);
        Printer {
            src: Source::new(source),
            notes,
            next: 0,
            misplaced: false,
        }
    }

    // ------------------------------------------------------------ comments

    /// Takes every comment not yet printed that starts before `pos`.
    fn take_before(&mut self, pos: usize) -> Vec<Note> {
        let rest = self.notes.get(self.next..).unwrap_or(&[]);
        let count = rest.iter().take_while(|n| n.span.start < pos).count();
        let taken = rest.get(..count).unwrap_or(&[]).to_vec();
        self.next += count;
        taken
    }

    /// Whether no comment remains before `pos`.
    fn no_comments_before(&self, pos: usize) -> bool {
        self.notes
            .get(self.next)
            .is_none_or(|n| n.span.start >= pos)
    }

    /// Whether a comment not yet printed starts in `start..end`.
    fn has_comment_in(&self, start: usize, end: usize) -> bool {
        let first = self
            .notes
            .partition_point(|n| n.span.start < start)
            .max(self.next);
        self.notes.get(first).is_some_and(|n| n.span.start < end)
    }

    /// The end of the node spanning `span`, without the whitespace and
    /// comments the parser may have included after its last token.
    fn end(&self, span: Span) -> usize {
        let mut end = span.end;
        loop {
            let text = self.src.slice(span.start, end);
            end = span.start + text.trim_end().len();
            let ending = self.notes.partition_point(|n| n.span.end < end);
            match self.notes.get(ending) {
                Some(n)
                    if n.span.end == end && n.span.start >= span.start && n.span.start < end =>
                {
                    end = n.span.start;
                }
                _ => return end,
            }
        }
    }

    /// The position of the last byte (the closing bracket) of the node
    /// spanning `span`.
    fn close(&self, span: Span) -> usize {
        self.end(span).saturating_sub(1)
    }

    /// A comment written at the end of the current line.
    fn suffix(note: &Note) -> Doc {
        concat(vec![
            Doc::LineSuffix(format!("  {}", note.text)),
            Doc::BreakParent,
        ])
    }

    /// Comments before the name or expression at `pos`: block comments with
    /// code after them on their line stay inline; others are misplaced.
    fn inline_comments(&mut self, pos: usize) -> Doc {
        let taken = self.take_before(pos);
        let mut docs = Vec::new();
        for (k, note) in taken.iter().enumerate() {
            let next = taken.get(k + 1).map_or(pos, |n| n.span.start);
            if !note.line && !self.src.has_newline(note.span.end, next) {
                docs.push(text(format!("{} ", note.text)));
            } else {
                self.misplaced = true;
                docs.push(Self::suffix(note));
            }
        }
        concat(docs)
    }

    /// Comments left before `pos` that no place took: misplaced. They are
    /// still written (at the end of the line) so that none is ever lost.
    fn leftovers(&mut self, pos: usize) -> Doc {
        let taken = self.take_before(pos);
        if !taken.is_empty() {
            self.misplaced = true;
        }
        concat(taken.iter().map(Self::suffix).collect())
    }

    /// Prints a unit whose header (the part outside any `{ }` body) ends at
    /// `header_end`. If a comment of the header is misplaced, prints it again
    /// with all header comments hoisted before it.
    fn unit(&mut self, header_end: usize, build: impl Fn(&mut Self) -> Doc) -> Unit {
        let start = self.next;
        let outer = std::mem::replace(&mut self.misplaced, false);
        let doc = build(self);
        let rest = self.leftovers(header_end);
        if !self.misplaced {
            self.misplaced = outer;
            return Unit {
                hoisted: Vec::new(),
                doc: concat(vec![doc, rest]),
            };
        }
        self.next = start;
        let hoisted = self.take_before(header_end);
        self.misplaced = false;
        let doc = build(self);
        let rest = self.leftovers(header_end);
        self.misplaced = outer;
        Unit {
            hoisted,
            doc: concat(vec![doc, rest]),
        }
    }

    /// Sorts the comments between `lower` (the end of the previous element,
    /// or of the opening bracket) and `upper` (the start of the next element,
    /// or the closing bracket). `sep` is the position of the separator
    /// (`,` or `|>`) after the previous element, if any.
    fn gap(&mut self, lower: usize, upper: usize, sep: Option<usize>, has_prev: bool) -> Gap {
        let taken = self.take_before(upper);
        let mut gap = Gap::default();
        let mut prev = lower;
        // 0: inline trailing, 1: end of line, 2: leading. Never decreases, so
        // the comments come out in their order.
        let mut rank = 0;
        for (k, note) in taken.iter().enumerate() {
            if note.span.start < lower {
                self.misplaced = true;
                gap.end_of_line.push(note.clone());
                continue;
            }
            let next = taken.get(k + 1).map_or(upper, |n| n.span.start);
            let newline_before = self.src.has_newline(prev, note.span.start);
            let newline_after = note.line || self.src.has_newline(note.span.end, next);
            let before_sep = sep.is_none_or(|s| note.span.start < s);
            let natural = if has_prev && !newline_before && !note.line && before_sep {
                0
            } else if !newline_before && newline_after {
                1
            } else {
                2
            };
            rank = natural.max(rank);
            match rank {
                0 => gap.inline_trailing.push(note.clone()),
                1 => gap.end_of_line.push(note.clone()),
                _ => gap.leading.push((note.clone(), newline_after)),
            }
            prev = note.span.end;
        }
        gap
    }

    fn inline_trailing_docs(gap: &Gap) -> Vec<Doc> {
        gap.inline_trailing
            .iter()
            .map(|n| text(format!(" {}", n.text)))
            .collect()
    }

    fn end_of_line_docs(gap: &Gap) -> Vec<Doc> {
        gap.end_of_line.iter().map(Self::suffix).collect()
    }

    fn leading_docs(leading: &[(Note, bool)]) -> Vec<Doc> {
        let mut docs = Vec::new();
        for (note, own_line) in leading {
            if *own_line {
                docs.push(text(note.text.clone()));
                docs.push(Doc::HardLine);
            } else {
                docs.push(text(format!("{} ", note.text)));
            }
        }
        docs
    }

    /// Comments before a closing bracket, each on its own line.
    fn dangling_docs(leading: &[(Note, bool)]) -> Vec<Doc> {
        let mut docs = Vec::new();
        for (note, _) in leading {
            docs.push(Doc::HardLine);
            docs.push(text(note.text.clone()));
        }
        docs
    }

    // ------------------------------------------------------------ lists

    /// A bracketed, comma-separated list: flat if it fits, else one element
    /// per line with a trailing comma. `open_end` is the position just after
    /// the opening bracket, `close` the position of the closing one.
    #[allow(clippy::too_many_arguments)]
    fn seq<T>(
        &mut self,
        brackets: (&str, &str),
        open_end: usize,
        close: usize,
        elems: &[T],
        span_of: impl Fn(&T) -> Span,
        build: impl Fn(&mut Self, &T) -> Doc,
        force_break: bool,
    ) -> Doc {
        let first_start = elems.first().map_or(close, |e| span_of(e).start);
        let first = self.gap(open_end, first_start, None, false);
        let mut inner = Vec::new();
        if elems.is_empty() {
            inner.extend(Self::dangling_docs(&first.leading));
        } else {
            inner.push(Doc::SoftLine);
        }
        let mut leading = first.leading.clone();
        for (k, elem) in elems.iter().enumerate() {
            inner.extend(Self::leading_docs(&leading));
            inner.push(build(self, elem));
            let lower = self.end(span_of(elem));
            let next = elems.get(k + 1);
            let upper = next.map_or(close, |e| span_of(e).start);
            let sep = self.src.next_token_is(lower, ",").filter(|&s| s < upper);
            let gap = self.gap(lower, upper, sep, true);
            inner.extend(Self::inline_trailing_docs(&gap));
            inner.push(if next.is_some() {
                text(",")
            } else {
                comma_if_broken()
            });
            inner.extend(Self::end_of_line_docs(&gap));
            if next.is_some() {
                inner.push(Doc::Line);
                leading = gap.leading;
            } else {
                inner.extend(Self::dangling_docs(&gap.leading));
                leading = Vec::new();
            }
        }
        if force_break {
            inner.push(Doc::BreakParent);
        }
        let mut docs = vec![text(brackets.0)];
        docs.extend(Self::end_of_line_docs(&first));
        docs.push(nest(INDENT, concat(inner)));
        docs.push(Doc::SoftLine);
        docs.push(text(brackets.1));
        group(concat(docs))
    }

    /// The lines of a body (`braced`) or of the whole file: one element per
    /// line, comments on their own lines or at the end of a line, blank
    /// lines kept (at most one). `force_blank(i)` asks for a blank line
    /// before element `i` whatever the source had.
    #[allow(clippy::too_many_arguments)]
    fn lines<T>(
        &mut self,
        elems: &[T],
        start: usize,
        end: usize,
        braced: bool,
        span_of: impl Fn(&T) -> Span,
        unit: impl Fn(&mut Self, &T) -> Unit,
        force_blank: impl Fn(usize) -> bool,
    ) -> Lines {
        let mut lines = Lines::default();
        let mut prev = start;
        for (i, elem) in elems.iter().enumerate() {
            let span = span_of(elem);
            let owed = force_blank(i);
            let owed = self.gap_lines(&mut lines, &mut prev, span.start, i, braced, owed, false);
            let unit = unit(self, elem);
            let mut blank = owed || self.src.newlines(prev, span.start) >= 2;
            for note in &unit.hoisted {
                lines.start_line(blank);
                lines.body.push(text(note.text.clone()));
                blank = false;
            }
            lines.start_line(blank);
            lines.body.push(unit.doc);
            prev = self.end(span);
        }
        self.gap_lines(&mut lines, &mut prev, end, elems.len(), braced, false, true);
        lines
    }

    /// Places the comments before `upper` (the next element, or the end):
    /// trailing ones on the previous line, the others on lines of their own.
    /// Returns whether a blank line asked by `owed` is still owed.
    #[allow(clippy::too_many_arguments)]
    fn gap_lines(
        &mut self,
        lines: &mut Lines,
        prev: &mut usize,
        upper: usize,
        index: usize,
        braced: bool,
        mut owed: bool,
        at_end: bool,
    ) -> bool {
        let taken = self.take_before(upper);
        let mut trailing = index > 0 || braced;
        for (k, note) in taken.iter().enumerate() {
            let next = taken.get(k + 1).map_or(upper, |n| n.span.start);
            let newline_before = self.src.has_newline(*prev, note.span.start);
            let newline_after = note.line || self.src.has_newline(note.span.end, next);
            if trailing && !newline_before && (index > 0 || newline_after) {
                let doc = Self::suffix(note);
                if index == 0 {
                    lines.opener.push(doc);
                } else {
                    lines.body.push(doc);
                }
            } else {
                trailing = false;
                let blank = owed || self.src.newlines(*prev, note.span.start) >= 2;
                owed = false;
                lines.start_line(blank);
                if !at_end && !newline_after {
                    lines.body.push(text(format!("{} ", note.text)));
                    lines.inline_open = true;
                } else {
                    lines.body.push(text(note.text.clone()));
                }
            }
            *prev = note.span.end;
        }
        owed
    }

    /// A `{ ... }` body of statements or layers, one per line.
    fn braced<T>(
        &mut self,
        elems: &[T],
        brace: usize,
        close: usize,
        span_of: impl Fn(&T) -> Span,
        unit: impl Fn(&mut Self, &T) -> Unit,
    ) -> Doc {
        let start = brace.saturating_add(1);
        let lines = self.lines(elems, start, close, true, span_of, unit, |_| false);
        let mut docs = vec![text("{")];
        docs.extend(lines.opener);
        if lines.started {
            docs.push(nest(
                INDENT,
                concat(vec![Doc::HardLine, concat(lines.body)]),
            ));
            docs.push(Doc::HardLine);
        } else if docs.len() > 1 {
            docs.push(Doc::HardLine);
        }
        docs.push(text("}"));
        concat(docs)
    }

    fn stmt_body(&mut self, stmts: &[Stmt], brace: usize, close: usize) -> Doc {
        self.braced(stmts, brace, close, Stmt::span, Self::stmt)
    }

    fn layer_body(&mut self, items: &[Expr], brace: usize, close: usize) -> Doc {
        self.braced(items, brace, close, |e| e.span, Self::layer_item)
    }

    fn layer_item(&mut self, item: &Expr) -> Unit {
        self.unit(self.end(item.span), |p| p.expr(item))
    }

    /// The position of the `{` that opens the body of the node spanning
    /// `span`, searched from `from`.
    fn brace(&self, from: usize, span: Span) -> usize {
        self.src
            .find(from, b'{')
            .filter(|&b| b < span.end)
            .unwrap_or(span.end.saturating_sub(1))
    }

    // ------------------------------------------------------------ items

    pub(crate) fn file(&mut self, file: &File) -> Doc {
        let items = &file.items;
        let is_const = |i: usize| matches!(items.get(i), Some(Item::Const(_)));
        let force_blank = |i: usize| i > 0 && !(is_const(i - 1) && is_const(i));
        let lines = self.lines(
            items,
            0,
            usize::MAX,
            false,
            Item::span,
            Self::item,
            force_blank,
        );
        concat(lines.body)
    }

    fn item(&mut self, item: &Item) -> Unit {
        match item {
            Item::Const(c) => self.unit(self.end(c.span), |p| {
                concat(vec![
                    text("const "),
                    p.ident(&c.name),
                    text(" = "),
                    p.expr(&c.value),
                ])
            }),
            Item::Block(b) => {
                let open = self
                    .src
                    .find(b.name.span.end, b'(')
                    .map_or(b.name.span.end, |o| o + 1);
                let last = b.params.last().map_or(open, |param| self.end(param.span));
                let close = self.src.find(last, b')').unwrap_or(last);
                let brace = self.brace(close, b.span);
                let head = self.unit(brace, |p| {
                    concat(vec![
                        text("block "),
                        p.ident(&b.name),
                        p.params(&b.params, open, close),
                        text(" "),
                        p.inline_comments(brace),
                    ])
                });
                let body = match &b.body {
                    BlockBody::Layers(items) => self.layer_body(items, brace, self.close(b.span)),
                    BlockBody::Dataflow(stmts) => self.stmt_body(stmts, brace, self.close(b.span)),
                };
                head.then(body)
            }
            Item::Model(m) => self.named_body("model", &m.name, &m.body, m.span),
            Item::Data(d) => self.named_body("data", &d.name, &d.body, d.span),
            Item::Train(t) => {
                let brace = self.brace(t.data.span.end, t.span);
                let head = self.unit(brace, |p| {
                    let mut docs = vec![text("train ")];
                    for (k, model) in t.models.iter().enumerate() {
                        if k > 0 {
                            docs.push(text(", "));
                        }
                        docs.push(p.ident(model));
                    }
                    docs.push(text(" on "));
                    docs.push(p.ident(&t.data));
                    docs.push(text(" "));
                    docs.push(p.inline_comments(brace));
                    concat(docs)
                });
                let body = self.stmt_body(&t.body, brace, self.close(t.span));
                head.then(body)
            }
        }
    }

    /// `model NAME { ... }` and `data NAME { ... }`.
    fn named_body(&mut self, keyword: &str, name: &Ident, body: &[Stmt], span: Span) -> Unit {
        let brace = self.brace(name.span.end, span);
        let head = self.unit(brace, |p| {
            concat(vec![
                text(format!("{keyword} ")),
                p.ident(name),
                text(" "),
                p.inline_comments(brace),
            ])
        });
        let body = self.stmt_body(body, brace, self.close(span));
        head.then(body)
    }

    fn params(&mut self, params: &[Param], open_end: usize, close: usize) -> Doc {
        let build = |p: &mut Self, param: &Param| {
            let mut docs = vec![p.ident(&param.name)];
            if let Some(default) = &param.default {
                docs.push(text(" = "));
                docs.push(p.expr(default));
            }
            concat(docs)
        };
        self.seq(
            ("(", ")"),
            open_end,
            close,
            params,
            |p| p.span,
            build,
            false,
        )
    }

    // ------------------------------------------------------------ statements

    fn stmt(&mut self, stmt: &Stmt) -> Unit {
        match stmt {
            Stmt::Input { name, shape, span } => self.unit(self.end(*span), |p| {
                let mut docs = vec![text("input "), p.ident(name)];
                if let Some(shape) = shape {
                    docs.push(text(": "));
                    docs.push(p.expr(shape));
                }
                concat(docs)
            }),
            Stmt::Output { name, value, span } => self.unit(self.end(*span), |p| {
                let mut docs = vec![text("output "), p.ident(name)];
                if let Some(value) = value {
                    docs.push(text(" = "));
                    docs.push(p.expr(value));
                }
                concat(docs)
            }),
            Stmt::Let { name, value, span } => self.binding("let", name, value, *span),
            Stmt::LetMany { names, value, span } => self.unpacking(names, value, *span),
            Stmt::Layer { name, value, span } => self.binding("layer", name, value, *span),
            Stmt::Layers { items, span } => {
                let brace = self.brace(span.start.saturating_add("layers".len()), *span);
                let head = self.unit(brace, |p| {
                    concat(vec![text("layers "), p.inline_comments(brace)])
                });
                let body = self.layer_body(items, brace, self.close(*span));
                head.then(body)
            }
            Stmt::At { epoch, body, span } => self.at(epoch, body, *span),
            Stmt::Section {
                kind,
                name,
                body,
                span,
            } => {
                let brace = self.brace(name.span.end, *span);
                let head = self.unit(brace, |p| {
                    concat(vec![
                        p.ident(kind),
                        text(" "),
                        p.ident(name),
                        text(" "),
                        p.inline_comments(brace),
                    ])
                });
                let body = self.stmt_body(body, brace, self.close(*span));
                head.then(body)
            }
            Stmt::Setting(setting) => self.unit(self.end(setting.span), |p| p.setting(setting)),
        }
    }

    /// `let NAME = EXPR` and `layer NAME = EXPR`.
    fn binding(&mut self, keyword: &str, name: &Ident, value: &Expr, span: Span) -> Unit {
        self.unit(self.end(span), |p| {
            concat(vec![
                text(format!("{keyword} ")),
                p.ident(name),
                text(" = "),
                p.expr(value),
            ])
        })
    }

    /// `let (a, b) = value`.
    fn unpacking(&mut self, names: &[Ident], value: &Expr, span: Span) -> Unit {
        self.unit(self.end(span), |p| {
            let mut parts = vec![text("let (")];
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    parts.push(text(", "));
                }
                parts.push(p.ident(name));
            }
            parts.push(text(") = "));
            parts.push(p.expr(value));
            concat(parts)
        })
    }

    /// `at epoch N { ... }`: on one line when the body is a single setting
    /// with no comment and it fits.
    fn at(&mut self, epoch: &Expr, body: &[Stmt], span: Span) -> Unit {
        let brace = self.brace(epoch.span.end, span);
        let head = self.unit(brace, |p| {
            concat(vec![
                text("at epoch "),
                p.expr(epoch),
                text(" "),
                p.inline_comments(brace),
            ])
        });
        let single = match body {
            [only @ Stmt::Setting(_)] if self.no_comments_before(self.end(span)) => Some(only),
            _ => None,
        };
        let body = match single {
            Some(only) => {
                let setting = self.stmt(only);
                let inner = concat(vec![Doc::Line, setting.doc]);
                group(concat(vec![
                    text("{"),
                    nest(INDENT, inner),
                    Doc::Line,
                    text("}"),
                ]))
            }
            None => self.stmt_body(body, brace, self.close(span)),
        };
        head.then(body)
    }

    fn setting(&mut self, setting: &Setting) -> Doc {
        let key = self.ident(&setting.key);
        match &setting.value {
            SettingValue::Expr(value) => concat(vec![key, text(" "), self.expr(value)]),
            SettingValue::Args(args) => {
                let at = setting.key.span.end;
                let open = self.src.find(at, b'(').map_or(at, |o| o + 1);
                let args = self.args(args, open, self.close(setting.span));
                concat(vec![key, args])
            }
        }
    }

    // ------------------------------------------------------------ expressions

    fn ident(&mut self, ident: &Ident) -> Doc {
        let lead = self.inline_comments(ident.span.start);
        concat(vec![lead, text(ident.name.clone())])
    }

    fn expr(&mut self, expr: &Expr) -> Doc {
        let lead = self.inline_comments(expr.span.start);
        let body = match &expr.kind {
            ExprKind::Int(value) => text(self.int_text(expr.span, *value)),
            ExprKind::Float {
                value,
                text: written,
            } => {
                if written.is_empty() {
                    text(format!("{value:?}"))
                } else {
                    text(written.clone())
                }
            }
            ExprKind::Str(value) => text(quote(value)),
            ExprKind::Bool(value) => text(value.to_string()),
            ExprKind::Name(name) => self.ident(name),
            ExprKind::Call { callee, args } => {
                let name = self.ident(callee);
                let at = callee.span.end;
                let open = self.src.find(at, b'(').map_or(at, |o| o + 1);
                let args = self.args(args, open, self.close(expr.span));
                concat(vec![name, args])
            }
            ExprKind::Slice { base, start, end } => {
                let mut docs = vec![self.ident(base), text("[")];
                if let Some(start) = start {
                    docs.push(self.expr(start));
                }
                docs.push(text(".."));
                if let Some(end) = end {
                    docs.push(self.expr(end));
                }
                docs.push(text("]"));
                concat(docs)
            }
            ExprKind::List(elems) => self.list(elems, expr.span),
            ExprKind::Neg(inner) => concat(vec![text("-"), self.expr(inner)]),
            ExprKind::Binary { op, lhs, rhs } => concat(vec![
                self.expr(lhs),
                text(format!(" {} ", op.symbol())),
                self.expr(rhs),
            ]),
            ExprKind::Pipe(stages) => self.pipe(stages),
            ExprKind::Assert { value, shape } => {
                concat(vec![self.expr(value), text(" -> "), self.expr(shape)])
            }
            ExprKind::Layers(items) => {
                let brace = self.brace(expr.span.start.saturating_add("layers".len()), expr.span);
                let rest = self.inline_comments(brace);
                let body = self.layer_body(items, brace, self.close(expr.span));
                concat(vec![text("layers "), rest, body])
            }
            ExprKind::Paren(inner) => concat(vec![text("("), self.expr(inner), text(")")]),
        };
        concat(vec![lead, body])
    }

    /// An integer as written (keeping `50_000`), or its value when the
    /// text at its span is not an integer literal.
    fn int_text(&self, span: Span, value: i64) -> String {
        let written = self.src.slice(span.start, self.end(span));
        let literal = written.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && written.bytes().all(|b| b.is_ascii_digit() || b == b'_');
        if literal {
            written.to_string()
        } else {
            value.to_string()
        }
    }

    /// Call arguments. A single positional list argument hugs the
    /// parentheses: `values([` ... `])`, `reshape([1, 28, -1])`.
    fn args(&mut self, args: &[Arg], open_end: usize, close: usize) -> Doc {
        if let [only] = args {
            let list_start = only.value.span.start;
            let list_end = self.end(only.value.span);
            let hugs = only.name.is_none()
                && matches!(only.value.kind, ExprKind::List(_))
                && !self.has_comment_in(open_end, list_start)
                && !self.has_comment_in(list_end, close);
            if hugs {
                return concat(vec![text("("), self.expr(&only.value), text(")")]);
            }
        }
        let build = |p: &mut Self, arg: &Arg| match &arg.name {
            Some(name) => concat(vec![p.ident(name), text(": "), p.expr(&arg.value)]),
            None => p.expr(&arg.value),
        };
        self.seq(("(", ")"), open_end, close, args, |a| a.span, build, false)
    }

    /// A list; a matrix (two or more rows, every element a list) is always
    /// written one row per line.
    fn list(&mut self, elems: &[Expr], span: Span) -> Doc {
        let matrix = elems.len() >= 2 && elems.iter().all(|e| matches!(e.kind, ExprKind::List(_)));
        let open_end = span.start.saturating_add(1);
        let close = self.close(span);
        self.seq(
            ("[", "]"),
            open_end,
            close,
            elems,
            |e| e.span,
            Self::expr,
            matrix,
        )
    }

    /// `a |> b |> c`: on one line if it fits, else one `|>` stage per line.
    fn pipe(&mut self, stages: &[Expr]) -> Doc {
        let Some((first, rest)) = stages.split_first() else {
            return empty();
        };
        let mut head = vec![self.expr(first)];
        let mut tail: Vec<Doc> = Vec::new();
        let mut prev_end = self.end(first.span);
        for stage in rest {
            let start = stage.span.start;
            let sep = self
                .src
                .next_token_is(prev_end, "|>")
                .filter(|&s| s < start);
            let gap = self.gap(prev_end, start, sep, true);
            let target = if tail.is_empty() {
                &mut head
            } else {
                &mut tail
            };
            target.extend(Self::inline_trailing_docs(&gap));
            target.extend(Self::end_of_line_docs(&gap));
            tail.push(Doc::Line);
            tail.extend(Self::leading_docs(&gap.leading));
            tail.push(text("|> "));
            tail.push(self.expr(stage));
            prev_end = self.end(stage.span);
        }
        group(concat(vec![concat(head), nest(PIPE_INDENT, concat(tail))]))
    }

    /// Comments that no unit took (only possible when the tree does not
    /// match the source): written at the end so that none is lost.
    pub(crate) fn remaining(&mut self) -> Doc {
        let taken = self.take_before(usize::MAX);
        let mut docs = Vec::new();
        for note in taken {
            docs.push(Doc::HardLine);
            docs.push(text(note.text));
        }
        concat(docs)
    }
}

/// A string literal for `value`, escaped as the parser reads it back: `\\`,
/// `\"`, `\n` and `\t`; every other character as itself.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}
