//! Unit tests of the syntax stage. Every parse in these tests goes through
//! [`parse_checked`], which also runs the span-sanity walker.

mod comments;
mod constructs;
mod errors;
mod recovery;
mod robust;
mod spans;

use crate::ast::*;
use crate::parse;
use nnc_diag::syntax::SyntaxError;

/// Parses `source` and checks every span of the result.
pub(crate) fn parse_checked(source: &str) -> (File, Vec<SyntaxError>) {
    let (file, errors) = parse(source);
    spans::check(&file, &errors, source);
    (file, errors)
}

/// Parses `source`, which must have no syntax error.
pub(crate) fn parse_clean(source: &str) -> File {
    let (file, errors) = parse_checked(source);
    assert!(
        errors.is_empty(),
        "unexpected syntax errors in {source:?}: {errors:#?}"
    );
    file
}

/// The one error of `source`, worded.
pub(crate) fn one_error(source: &str) -> nnc_diag::Diagnostic {
    let (_, errors) = parse_checked(source);
    assert_eq!(
        errors.len(),
        1,
        "expected one error in {source:?}: {errors:#?}"
    );
    errors[0].to_diagnostic()
}

/// The value of `const X = <text>`, as an S-expression.
pub(crate) fn expr_sexp(text: &str) -> String {
    let file = parse_clean(&format!("const X = {text}"));
    match file.items.as_slice() {
        [Item::Const(c)] => sexp(&c.value),
        other => panic!("expected one const item, got {other:#?}"),
    }
}

/// A compact, span-free rendering of an expression for assertions:
/// `(- (- a b) c)`, `(call dense 30 act:relu)`, `[1 28 28]`.
pub(crate) fn sexp(expr: &Expr) -> String {
    let list = |items: &[Expr]| items.iter().map(sexp).collect::<Vec<_>>().join(" ");
    match &expr.kind {
        ExprKind::Int(v) => v.to_string(),
        ExprKind::Float { text, .. } => text.clone(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::Call { callee, args } => {
            let args: Vec<String> = args.iter().map(arg_sexp).collect();
            if args.is_empty() {
                format!("(call {})", callee.name)
            } else {
                format!("(call {} {})", callee.name, args.join(" "))
            }
        }
        ExprKind::Slice { base, start, end } => {
            let bound = |b: &Option<Box<Expr>>| b.as_deref().map_or("_".to_string(), sexp);
            format!("(slice {} {} {})", base.name, bound(start), bound(end))
        }
        ExprKind::List(items) => format!("[{}]", list(items)),
        ExprKind::Neg(inner) => format!("(neg {})", sexp(inner)),
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", op.symbol(), sexp(lhs), sexp(rhs))
        }
        ExprKind::Pipe(stages) => format!("(|> {})", list(stages)),
        ExprKind::Assert { value, shape } => format!("(-> {} {})", sexp(value), sexp(shape)),
        ExprKind::Layers(items) => format!("(layers {})", list(items)),
        ExprKind::Paren(inner) => format!("(paren {})", sexp(inner)),
    }
}

pub(crate) fn arg_sexp(arg: &Arg) -> String {
    match &arg.name {
        Some(name) => format!("{}:{}", name.name, sexp(&arg.value)),
        None => sexp(&arg.value),
    }
}

/// A span-free rendering of a statement.
pub(crate) fn stmt_sexp(stmt: &Stmt) -> String {
    let body = |stmts: &[Stmt]| stmts.iter().map(stmt_sexp).collect::<Vec<_>>().join(" ");
    let opt = |e: &Option<Expr>| e.as_ref().map_or("_".to_string(), sexp);
    match stmt {
        Stmt::Input { name, shape, .. } => format!("(input {} {})", name.name, opt(shape)),
        Stmt::Output { name, value, .. } => format!("(output {} {})", name.name, opt(value)),
        Stmt::Let { name, value, .. } => format!("(let {} {})", name.name, sexp(value)),
        Stmt::LetMany { names, value, .. } => {
            let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
            format!("(let ({}) {})", names.join(" "), sexp(value))
        }
        Stmt::Layer { name, value, .. } => format!("(layer {} {})", name.name, sexp(value)),
        Stmt::Layers { items, .. } => {
            format!(
                "(layers {})",
                items.iter().map(sexp).collect::<Vec<_>>().join(" ")
            )
        }
        Stmt::At { epoch, body: b, .. } => format!("(at {} {})", sexp(epoch), body(b)),
        Stmt::Section {
            kind,
            name,
            body: b,
            ..
        } => format!("(section {} {} {})", kind.name, name.name, body(b)),
        Stmt::Setting(s) => match &s.value {
            SettingValue::Expr(e) => format!("(set {} {})", s.key.name, sexp(e)),
            SettingValue::Args(args) => format!(
                "(set {} ({}))",
                s.key.name,
                args.iter().map(arg_sexp).collect::<Vec<_>>().join(" ")
            ),
        },
    }
}

/// The statements of the one model in `source`.
pub(crate) fn model_body(source: &str) -> Vec<String> {
    let file = parse_clean(source);
    match file.items.as_slice() {
        [Item::Model(m)] => m.body.iter().map(stmt_sexp).collect(),
        other => panic!("expected one model, got {other:#?}"),
    }
}
