//! The span-sanity walker: every span lies inside the source on character
//! boundaries, every child inside its parent, siblings in source order, and
//! every name's span covers exactly its text.

use crate::ast::*;
use nnc_diag::syntax::SyntaxError;
use nnc_diag::Span;

/// Checks the spans of a whole parse result; panics (fails the test) with
/// the offending span otherwise.
pub(crate) fn check(file: &File, errors: &[SyntaxError], source: &str) {
    let root = Span::new(0, source.len());
    assert_eq!(file.span, root, "the file spans the whole source");
    let walker = Walker { source };
    walker.ordered(file.items.iter().map(Item::span));
    for item in &file.items {
        walker.item(item, root);
    }
    walker.ordered(file.comments.iter().map(|c| c.span));
    for comment in &file.comments {
        walker.inside(comment.span, root);
        assert_eq!(comment.text, source[comment.span.start..comment.span.end]);
    }
    let mut previous = 0;
    for error in errors {
        let span = error.span();
        walker.inside(span, root);
        assert!(
            span.start >= previous,
            "errors are in source order: {errors:?}"
        );
        previous = span.start;
        let diagnostic = error.to_diagnostic();
        for label in diagnostic.secondary.iter().chain([&diagnostic.primary]) {
            walker.inside(label.span, root);
        }
    }
}

struct Walker<'s> {
    source: &'s str,
}

impl Walker<'_> {
    fn inside(&self, child: Span, parent: Span) {
        assert!(child.start <= child.end, "inverted span {child:?}");
        assert!(
            parent.start <= child.start && child.end <= parent.end,
            "span {child:?} escapes its parent {parent:?}"
        );
        assert!(
            self.source.is_char_boundary(child.start) && self.source.is_char_boundary(child.end),
            "span {child:?} splits a character"
        );
    }

    fn ordered(&self, spans: impl Iterator<Item = Span>) {
        let spans: Vec<Span> = spans.collect();
        for pair in spans.windows(2) {
            assert!(
                pair[0].end <= pair[1].start,
                "siblings overlap or are out of order: {pair:?}"
            );
        }
    }

    fn ident(&self, ident: &Ident, parent: Span) {
        self.inside(ident.span, parent);
        assert_eq!(
            ident.name,
            self.source[ident.span.start..ident.span.end],
            "name text"
        );
    }

    fn item(&self, item: &Item, parent: Span) {
        let span = item.span();
        self.inside(span, parent);
        match item {
            Item::Const(c) => {
                self.ident(&c.name, span);
                self.expr(&c.value, span);
                self.ordered([c.name.span, c.value.span].into_iter());
            }
            Item::Block(b) => {
                self.ident(&b.name, span);
                self.ordered(std::iter::once(b.name.span).chain(b.params.iter().map(|p| p.span)));
                for param in &b.params {
                    self.inside(param.span, span);
                    self.ident(&param.name, param.span);
                    if let Some(default) = &param.default {
                        self.expr(default, param.span);
                        self.ordered([param.name.span, default.span].into_iter());
                    }
                }
                match &b.body {
                    BlockBody::Layers(stages) => self.exprs(stages, span),
                    BlockBody::Dataflow(stmts) => self.stmts(stmts, span),
                }
            }
            Item::Model(m) => {
                self.ident(&m.name, span);
                self.stmts(&m.body, span);
            }
            Item::Data(d) => {
                self.ident(&d.name, span);
                self.stmts(&d.body, span);
            }
            Item::Train(t) => {
                for model in &t.models {
                    self.ident(model, span);
                }
                self.ident(&t.data, span);
                self.ordered(t.models.iter().map(|m| m.span).chain([t.data.span]));
                self.stmts(&t.body, span);
            }
        }
    }

    fn stmts(&self, stmts: &[Stmt], parent: Span) {
        self.ordered(stmts.iter().map(Stmt::span));
        for stmt in stmts {
            self.stmt(stmt, parent);
        }
    }

    fn stmt(&self, stmt: &Stmt, parent: Span) {
        let span = stmt.span();
        self.inside(span, parent);
        match stmt {
            Stmt::Input {
                name, shape: value, ..
            }
            | Stmt::Output { name, value, .. } => {
                self.ident(name, span);
                if let Some(value) = value {
                    self.expr(value, span);
                    self.ordered([name.span, value.span].into_iter());
                }
            }
            Stmt::Let { name, value, .. } | Stmt::Layer { name, value, .. } => {
                self.ident(name, span);
                self.expr(value, span);
                self.ordered([name.span, value.span].into_iter());
            }
            Stmt::LetMany { names, value, .. } => {
                for name in names {
                    self.ident(name, span);
                }
                self.expr(value, span);
                self.ordered(names.iter().map(|n| n.span).chain([value.span]));
            }
            Stmt::Layers { items, .. } => self.exprs(items, span),
            Stmt::At { epoch, body, .. } => {
                self.expr(epoch, span);
                self.stmts(body, span);
            }
            Stmt::Section {
                kind, name, body, ..
            } => {
                self.ident(kind, span);
                self.ident(name, span);
                self.ordered([kind.span, name.span].into_iter());
                self.stmts(body, span);
            }
            Stmt::Setting(setting) => {
                self.ident(&setting.key, span);
                match &setting.value {
                    SettingValue::Expr(value) => {
                        self.expr(value, span);
                        self.ordered([setting.key.span, value.span].into_iter());
                    }
                    SettingValue::Args(args) => self.args(args, span),
                }
            }
        }
    }

    fn exprs(&self, exprs: &[Expr], parent: Span) {
        self.ordered(exprs.iter().map(|e| e.span));
        for expr in exprs {
            self.expr(expr, parent);
        }
    }

    fn args(&self, args: &[Arg], parent: Span) {
        self.ordered(args.iter().map(|a| a.span));
        for arg in args {
            self.inside(arg.span, parent);
            if let Some(name) = &arg.name {
                self.ident(name, arg.span);
            }
            self.expr(&arg.value, arg.span);
        }
    }

    fn expr(&self, expr: &Expr, parent: Span) {
        let span = expr.span;
        self.inside(span, parent);
        match &expr.kind {
            ExprKind::Int(_) | ExprKind::Float { .. } | ExprKind::Str(_) | ExprKind::Bool(_) => {}
            ExprKind::Name(name) => self.ident(name, span),
            ExprKind::Call { callee, args } => {
                self.ident(callee, span);
                self.args(args, span);
            }
            ExprKind::Slice { base, start, end } => {
                self.ident(base, span);
                for bound in [start, end].into_iter().flatten() {
                    self.expr(bound, span);
                }
            }
            ExprKind::List(items) | ExprKind::Pipe(items) | ExprKind::Layers(items) => {
                self.exprs(items, span)
            }
            ExprKind::Neg(inner) | ExprKind::Paren(inner) => self.expr(inner, span),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs, span);
                self.expr(rhs, span);
                self.ordered([lhs.span, rhs.span].into_iter());
            }
            ExprKind::Assert { value, shape } => {
                self.expr(value, span);
                self.expr(shape, span);
                self.ordered([value.span, shape.span].into_iter());
            }
        }
    }
}
