//! Lowering pest pairs into the AST, right after a successful parse.
//!
//! The shape of the pairs is fixed by the grammar, so every function here
//! knows which children to expect. Should the two ever disagree (a bug, not
//! a user error), the item is dropped with a [`SyntaxError::Internal`]
//! instead of a panic. Spans are shifted by the offset of the parsed text in
//! the file, so they are always absolute.
//!
//! The lowering is recursive, and so are the consumers of the tree; to keep
//! every stack bounded, an expression deeper than [`MAX_EXPR_DEPTH`] nodes
//! drops its item with [`SyntaxError::TooDeep`].

use crate::ast::*;
use crate::grammar::Rule;
use crate::{expected, hints};
use nnc_diag::syntax::{Cause, Expected, Found, SyntaxError};
use nnc_diag::Span;
use pest::iterators::{Pair, Pairs};

/// The deepest expression tree accepted, in nodes from the root.
pub const MAX_EXPR_DEPTH: usize = 256;

/// The outcome of lowering one node: an error here drops the whole item.
/// (Boxed: the error is rare and large, the `Ok` path is hot.)
type Lowered<T> = Result<T, Box<SyntaxError>>;

/// Lowers pairs of one parsed text that starts at `offset` in the file.
pub(crate) struct Lowerer<'e> {
    offset: usize,
    /// The whole source and its comments, to trim trailing trivia.
    source: &'e str,
    comments: &'e [Comment],
    /// Errors that do not drop the item (an integer out of range).
    errors: &'e mut Vec<SyntaxError>,
}

impl<'e> Lowerer<'e> {
    pub fn new(
        offset: usize,
        source: &'e str,
        comments: &'e [Comment],
        errors: &'e mut Vec<SyntaxError>,
    ) -> Self {
        Lowerer {
            offset,
            source,
            comments,
            errors,
        }
    }

    /// Lowers the items of a `file` or `item_prefix` pair. An item that
    /// fails to lower is dropped and its error recorded.
    pub fn items(&mut self, root: Pair<'_, Rule>, items: &mut Vec<Item>) {
        for pair in root.into_inner() {
            if matches!(pair.as_rule(), Rule::EOI) {
                continue;
            }
            match self.item(pair) {
                Ok(item) => items.push(item),
                Err(error) => self.errors.push(*error),
            }
        }
    }

    /// The absolute span of a pair, without trailing white space and
    /// comments: pest includes them in a rule that ends with an optional
    /// or repeated part (`expr` after `1` in `const A = 1 // note`).
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        let start = span.start() + self.offset;
        let mut end = span.end() + self.offset;
        loop {
            let text = self.source.get(start..end).unwrap_or("");
            end = start + text.trim_end_matches([' ', '\t', '\r', '\n']).len();
            let at = self.comments.partition_point(|c| c.span.end < end);
            match self.comments.get(at) {
                Some(comment) if comment.span.end == end && comment.span.start >= start => {
                    end = comment.span.start
                }
                _ => return Span::new(start, end),
            }
        }
    }

    fn internal(&self, span: Span, detail: &'static str) -> Box<SyntaxError> {
        Box::new(SyntaxError::Internal { span, detail })
    }

    /// The next significant child (keywords skipped), or an internal error.
    fn next<'i>(
        &self,
        children: &mut Pairs<'i, Rule>,
        parent: Span,
        what: &'static str,
    ) -> Lowered<Pair<'i, Rule>> {
        next_significant(children).ok_or_else(|| self.internal(parent, what))
    }

    fn ident(&self, pair: &Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(pair),
        }
    }

    // ------------------------------------------------------------ items

    fn item(&mut self, pair: Pair<'_, Rule>) -> Lowered<Item> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut children = pair.into_inner();
        match rule {
            Rule::const_item => {
                let name = self.ident(&self.next(&mut children, span, "const name")?);
                let value = self.expr(self.next(&mut children, span, "const value")?, 0)?;
                Ok(Item::Const(ConstItem { name, value, span }))
            }
            Rule::block_item => self.block_item(children, span).map(Item::Block),
            Rule::model_item => {
                let name = self.ident(&self.next(&mut children, span, "model name")?);
                let body = self.stmts(children)?;
                Ok(Item::Model(ModelItem { name, body, span }))
            }
            Rule::data_item => {
                let name = self.ident(&self.next(&mut children, span, "data name")?);
                let body = self.stmts(children)?;
                Ok(Item::Data(DataItem { name, body, span }))
            }
            Rule::train_item => {
                let models_pair = self.next(&mut children, span, "trained models")?;
                let models = models_pair.into_inner().map(|p| self.ident(&p)).collect();
                let data = self.ident(&self.next(&mut children, span, "data name")?);
                let body = self.stmts(children)?;
                Ok(Item::Train(TrainItem {
                    models,
                    data,
                    body,
                    span,
                }))
            }
            _ => Err(self.internal(span, "an item")),
        }
    }

    fn block_item(&mut self, mut children: Pairs<'_, Rule>, span: Span) -> Lowered<BlockItem> {
        let name = self.ident(&self.next(&mut children, span, "block name")?);
        let mut params = Vec::new();
        let mut body = None;
        for child in children.filter(is_significant) {
            match child.as_rule() {
                Rule::params => {
                    for param in child.into_inner() {
                        params.push(self.param(param)?);
                    }
                }
                Rule::dataflow_body => {
                    body = Some(BlockBody::Dataflow(self.stmts(child.into_inner())?))
                }
                Rule::layer_items => {
                    body = Some(BlockBody::Layers(self.stages(child.into_inner(), 0)?))
                }
                _ => return Err(self.internal(span, "a block part")),
            }
        }
        let body = body.ok_or_else(|| self.internal(span, "a block body"))?;
        Ok(BlockItem {
            name,
            params,
            body,
            span,
        })
    }

    fn param(&mut self, pair: Pair<'_, Rule>) -> Lowered<Param> {
        let span = self.span(&pair);
        let mut children = pair.into_inner();
        let name = self.ident(&self.next(&mut children, span, "parameter name")?);
        let default = match next_significant(&mut children) {
            Some(value) => Some(self.expr(value, 0)?),
            None => None,
        };
        Ok(Param {
            name,
            default,
            span,
        })
    }

    // ------------------------------------------------------------ statements

    fn stmts(&mut self, children: Pairs<'_, Rule>) -> Lowered<Vec<Stmt>> {
        let stmts = children
            .filter(is_significant)
            .map(|pair| self.stmt(pair))
            .collect::<Lowered<Vec<Stmt>>>()?;
        self.reject_same_line_values(&stmts)?;
        Ok(stmts)
    }

    /// `output y softmax(z)` is, for the grammar, `output y` (an existing
    /// tensor as output) and a setting `softmax(z)` after it; `input x
    /// relu(y)` likewise. A bare `input`/`output` followed on the same line
    /// by a setting is reported as the missing `=` (or `:`). (Other
    /// statements may share a line: `input a input b: [3]`.)
    fn reject_same_line_values(&self, stmts: &[Stmt]) -> Lowered<()> {
        for pair in stmts.windows(2) {
            if !matches!(pair[1], Stmt::Setting(_)) {
                continue;
            }
            let (keyword, name, span) = match &pair[0] {
                Stmt::Output {
                    name,
                    value: None,
                    span,
                } => ("output", name, *span),
                Stmt::Input {
                    name,
                    shape: None,
                    span,
                } => ("input", name, *span),
                _ => continue,
            };
            let next = pair[1].span().start;
            let between = self.source.get(span.end..next).unwrap_or("\n");
            if between.contains('\n') || between.contains("//") || between.contains("/*") {
                continue;
            }
            let Some(separator) = hints::separator_of(keyword) else {
                continue;
            };
            let (found, found_span) = expected::found_at(self.source, next);
            let cause = hints::separator_cause(
                keyword,
                separator,
                name.span,
                &name.name,
                &hints::rest_of_line(self.source, next),
            );
            return Err(Box::new(SyntaxError::Unexpected {
                span: found_span,
                found,
                expected: vec![Expected::Symbol(separator.to_string())],
                cause,
            }));
        }
        Ok(())
    }

    fn stmt(&mut self, pair: Pair<'_, Rule>) -> Lowered<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut children = pair.into_inner();
        match rule {
            Rule::input_stmt => {
                let name = self.ident(&self.next(&mut children, span, "input name")?);
                let shape = self.optional_expr(&mut children)?;
                Ok(Stmt::Input { name, shape, span })
            }
            Rule::output_stmt => {
                let name = self.ident(&self.next(&mut children, span, "output name")?);
                let value = self.optional_expr(&mut children)?;
                Ok(Stmt::Output { name, value, span })
            }
            Rule::let_stmt => {
                let target = self.next(&mut children, span, "let name")?;
                let value = self.expr(self.next(&mut children, span, "let value")?, 0)?;
                if target.as_rule() == Rule::let_names {
                    let names = target.into_inner().map(|p| self.ident(&p)).collect();
                    return Ok(Stmt::LetMany { names, value, span });
                }
                let name = self.ident(&target);
                Ok(Stmt::Let { name, value, span })
            }
            Rule::layer_stmt => {
                let name = self.ident(&self.next(&mut children, span, "layer name")?);
                let value = self.expr(self.next(&mut children, span, "layer value")?, 0)?;
                Ok(Stmt::Layer { name, value, span })
            }
            Rule::layers_stmt => {
                let block = self.next(&mut children, span, "a layers block")?;
                let items = self.stages(block.into_inner(), 0)?;
                Ok(Stmt::Layers { items, span })
            }
            Rule::at_stmt => {
                let epoch = self.expr(self.next(&mut children, span, "an epoch")?, 0)?;
                let body = self.stmts(children)?;
                Ok(Stmt::At { epoch, body, span })
            }
            Rule::section_stmt => {
                let kind = self.ident(&self.next(&mut children, span, "a section kind")?);
                let name = self.ident(&self.next(&mut children, span, "a section name")?);
                let body = self.stmts(children)?;
                Ok(Stmt::Section {
                    kind,
                    name,
                    body,
                    span,
                })
            }
            Rule::setting => self.setting(children, span).map(Stmt::Setting),
            _ => Err(self.internal(span, "a statement")),
        }
    }

    /// `cost cross_entropy` (a key and a value) or `early_stop(patience: 10)`
    /// (a call: the callee is the key, the arguments the value).
    fn setting(&mut self, mut children: Pairs<'_, Rule>, span: Span) -> Lowered<Setting> {
        let first = self.next(&mut children, span, "a setting")?;
        if first.as_rule() == Rule::call {
            let (key, args) = self.call_parts(first, 0)?;
            return Ok(Setting {
                key,
                value: SettingValue::Args(args),
                span,
            });
        }
        let key = self.ident(&first);
        let value = self.expr(self.next(&mut children, span, "a setting value")?, 0)?;
        Ok(Setting {
            key,
            value: SettingValue::Expr(value),
            span,
        })
    }

    fn optional_expr(&mut self, children: &mut Pairs<'_, Rule>) -> Lowered<Option<Expr>> {
        match next_significant(children) {
            Some(pair) => self.expr(pair, 0).map(Some),
            None => Ok(None),
        }
    }

    // ------------------------------------------------------------ expressions
    //
    // Every expression rule (`expr`, `stage`, `sum`, `product`, `unary`)
    // wraps the next one; most of them hold a single child. [`Self::expr`]
    // walks down such wrappers in a loop instead of a call per rule, so one
    // level of brackets costs two or three stack frames, not eight.

    fn check_depth(&self, depth: usize, span: Span) -> Lowered<()> {
        if depth > MAX_EXPR_DEPTH {
            return Err(Box::new(SyntaxError::TooDeep {
                span,
                limit: MAX_EXPR_DEPTH,
            }));
        }
        Ok(())
    }

    /// The stages of a layer list (`layers { ... }` or a sequential block).
    fn stages(&mut self, children: Pairs<'_, Rule>, depth: usize) -> Lowered<Vec<Expr>> {
        let stages = children
            .filter(is_significant)
            .map(|pair| self.expr(pair, depth))
            .collect::<Lowered<Vec<Expr>>>()?;
        self.reject_spaced_calls(&stages)?;
        Ok(stages)
    }

    /// In a layer list, `dense (30)` is two stages for the grammar: the name
    /// `dense`, then `(30)`. A parenthesised or list stage is no layer, so a
    /// name followed on the same line by white space and `(` or `[` is
    /// reported as the call or slice it was meant to be. (On a new line,
    /// `relu` then `(x)` stays two stages, as the language says.)
    fn reject_spaced_calls(&self, stages: &[Expr]) -> Lowered<()> {
        for pair in stages.windows(2) {
            let ExprKind::Name(name) = &pair[0].kind else {
                continue;
            };
            let gap = Span::new(pair[0].span.end, pair[1].span.start);
            let between = self.source.get(gap.start..gap.end).unwrap_or("");
            if between.is_empty() || !between.chars().all(|c| c == ' ' || c == '\t') {
                continue;
            }
            if let ExprKind::Int(_) | ExprKind::Float { .. } = pair[1].kind {
                // `dense 30`: a layer and its arguments without parentheses.
                let (found, span) = expected::found_at(self.source, gap.end);
                return Err(Box::new(SyntaxError::Unexpected {
                    span,
                    found,
                    expected: Vec::new(),
                    cause: Some(hints::parens_cause(
                        name.span,
                        &name.name,
                        &hints::rest_of_line(self.source, gap.end),
                    )),
                }));
            }
            if !matches!(pair[1].kind, ExprKind::Paren(_) | ExprKind::List(_)) {
                continue;
            }
            let bracket = if matches!(pair[1].kind, ExprKind::Paren(_)) {
                '('
            } else {
                '['
            };
            return Err(Box::new(SyntaxError::Unexpected {
                span: Span::new(gap.end, gap.end + 1),
                found: Found::Symbol(bracket.to_string()),
                expected: Vec::new(),
                cause: Some(Cause::SpaceBeforeBracket {
                    name: name.name.clone(),
                    bracket,
                    space: gap,
                }),
            }));
        }
        Ok(())
    }

    /// Lowers any expression pair; the new node sits `depth` levels below
    /// the root of its expression.
    fn expr(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Lowered<Expr> {
        let pair = skip_wrappers(pair);
        let span = self.span(&pair);
        self.check_depth(depth, span)?;
        match pair.as_rule() {
            Rule::expr => self.pipe(pair, span, depth),
            Rule::stage => self.assert(pair, span, depth),
            Rule::sum | Rule::product => self.binary_chain(pair, span, depth),
            Rule::unary => self.negation(pair, span, depth),
            _ => self.atom(pair, span, depth),
        }
    }

    /// `x |> f |> g`: two stages or more.
    fn pipe(&mut self, pair: Pair<'_, Rule>, span: Span, depth: usize) -> Lowered<Expr> {
        let stages = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::stage)
            .map(|stage| self.expr(stage, depth + 1))
            .collect::<Lowered<Vec<Expr>>>()?;
        Ok(Expr {
            kind: ExprKind::Pipe(stages),
            span,
        })
    }

    /// `value -> shape`.
    fn assert(&mut self, pair: Pair<'_, Rule>, span: Span, depth: usize) -> Lowered<Expr> {
        let mut sums = pair.into_inner().filter(|p| p.as_rule() == Rule::sum);
        let (Some(value), Some(shape)) = (sums.next(), sums.next()) else {
            return Err(self.internal(span, "a shape assertion"));
        };
        let value = self.expr(value, depth + 1)?;
        let shape = self.expr(shape, depth + 1)?;
        Ok(Expr {
            kind: ExprKind::Assert {
                value: Box::new(value),
                shape: Box::new(shape),
            },
            span,
        })
    }

    /// A left-associative chain: `sum = product ((+|-) product)*` or
    /// `product = unary ((*|/) unary)*`.
    fn binary_chain(&mut self, pair: Pair<'_, Rule>, span: Span, depth: usize) -> Lowered<Expr> {
        let children: Vec<Pair<'_, Rule>> = pair.into_inner().collect();
        // The first operand sits one level below the root per operator;
        // bound every operand by that deepest position.
        let operand_depth = depth + children.len() / 2;
        self.check_depth(operand_depth, span)?;
        let mut children = children.into_iter();
        let Some(first) = children.next() else {
            return Err(self.internal(span, "an operand"));
        };
        let mut lhs = self.expr(first, operand_depth)?;
        while let (Some(op), Some(rhs)) = (children.next(), children.next()) {
            let op = match op.as_rule() {
                Rule::add_op => BinOp::Add,
                Rule::sub_op => BinOp::Sub,
                Rule::mul_op => BinOp::Mul,
                Rule::div_op => BinOp::Div,
                _ => return Err(self.internal(span, "an operator")),
            };
            let rhs = self.expr(rhs, operand_depth)?;
            let span = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
            };
        }
        Ok(lhs)
    }

    /// `unary = -* atom` with at least one `-`: each wraps the rest.
    fn negation(&mut self, pair: Pair<'_, Rule>, span: Span, depth: usize) -> Lowered<Expr> {
        let mut negs: Vec<Span> = Vec::new();
        let mut atom = None;
        for child in pair.into_inner() {
            if child.as_rule() == Rule::neg_op {
                negs.push(self.span(&child));
            } else {
                atom = Some(child);
            }
        }
        let Some(atom) = atom else {
            return Err(self.internal(span, "an operand"));
        };
        self.check_depth(depth + negs.len(), span)?;
        let mut expr = self.expr(atom, depth + negs.len())?;
        for neg in negs.into_iter().rev() {
            let span = neg.to(expr.span);
            expr = Expr {
                kind: ExprKind::Neg(Box::new(expr)),
                span,
            };
        }
        Ok(expr)
    }

    fn atom(&mut self, pair: Pair<'_, Rule>, span: Span, depth: usize) -> Lowered<Expr> {
        let kind = match pair.as_rule() {
            Rule::int => ExprKind::Int(self.int(pair.as_str(), span)),
            Rule::float => self.float(pair.as_str(), span),
            Rule::string => ExprKind::Str(unescape(
                pair.into_inner().next().map_or("", |p| p.as_str()),
            )),
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            Rule::ident => ExprKind::Name(self.ident(&pair)),
            Rule::layers_block => ExprKind::Layers(self.stages(pair.into_inner(), depth + 1)?),
            Rule::call => self.call(pair, depth + 1)?,
            Rule::index => self.slice(pair, depth + 1)?,
            Rule::list => self.list(pair, depth + 1)?,
            Rule::paren => self.paren(pair, span, depth + 1)?,
            _ => return Err(self.internal(span, "an expression")),
        };
        Ok(Expr { kind, span })
    }

    fn call(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Lowered<ExprKind> {
        let (callee, args) = self.call_parts(pair, depth)?;
        Ok(ExprKind::Call { callee, args })
    }

    fn list(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Lowered<ExprKind> {
        let items = pair
            .into_inner()
            .map(|item| self.expr(item, depth))
            .collect::<Lowered<Vec<Expr>>>()?;
        Ok(ExprKind::List(items))
    }

    fn paren(&mut self, pair: Pair<'_, Rule>, span: Span, depth: usize) -> Lowered<ExprKind> {
        let Some(inner) = pair.into_inner().next() else {
            return Err(self.internal(span, "a parenthesised expression"));
        };
        Ok(ExprKind::Paren(Box::new(self.expr(inner, depth)?)))
    }

    /// The callee and arguments of a `call` pair; arguments sit at `depth`.
    fn call_parts(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Lowered<(Ident, Vec<Arg>)> {
        let span = self.span(&pair);
        let mut children = pair.into_inner();
        let callee = self.ident(&self.next(&mut children, span, "a callee")?);
        let args_pair = self.next(&mut children, span, "arguments")?;
        let args = args_pair
            .into_inner()
            .map(|arg| self.arg(arg, depth))
            .collect::<Lowered<Vec<Arg>>>()?;
        Ok((callee, args))
    }

    fn arg(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Lowered<Arg> {
        let span = self.span(&pair);
        let mut children = pair.into_inner();
        let inner = self.next(&mut children, span, "an argument")?;
        if inner.as_rule() != Rule::named_arg {
            let value = self.expr(inner, depth)?;
            return Ok(Arg {
                name: None,
                value,
                span,
            });
        }
        let mut parts = inner.into_inner();
        let name = self.ident(&self.next(&mut parts, span, "an argument name")?);
        let value = self.expr(self.next(&mut parts, span, "an argument value")?, depth)?;
        Ok(Arg {
            name: Some(name),
            value,
            span,
        })
    }

    /// `base[start..end]`, either bound optional.
    fn slice(&mut self, pair: Pair<'_, Rule>, depth: usize) -> Lowered<ExprKind> {
        let span = self.span(&pair);
        let mut children = pair.into_inner();
        let base = self.ident(&self.next(&mut children, span, "a sliced name")?);
        let slice = self.next(&mut children, span, "a slice")?;
        let (mut start, mut end) = (None, None);
        let mut after_range = false;
        for child in slice.into_inner() {
            match child.as_rule() {
                Rule::range_op => after_range = true,
                Rule::expr if after_range => end = Some(Box::new(self.expr(child, depth)?)),
                Rule::expr => start = Some(Box::new(self.expr(child, depth)?)),
                _ => return Err(self.internal(span, "a slice bound")),
            }
        }
        Ok(ExprKind::Slice { base, start, end })
    }

    // ------------------------------------------------------------ literals

    /// An integer literal; out of range is reported and saturates.
    fn int(&mut self, text: &str, span: Span) -> i64 {
        let digits: String = text.chars().filter(|c| *c != '_').collect();
        match digits.parse::<i64>() {
            Ok(value) => value,
            Err(_) => {
                self.errors.push(SyntaxError::NumberTooLarge {
                    span,
                    text: text.to_string(),
                });
                i64::MAX
            }
        }
    }

    /// A float literal keeps its text; one beyond `f64` range is reported.
    fn float(&mut self, text: &str, span: Span) -> ExprKind {
        let value = match text.parse::<f64>() {
            Ok(value) if value.is_finite() => value,
            _ => {
                self.errors.push(SyntaxError::NumberTooLarge {
                    span,
                    text: text.to_string(),
                });
                f64::MAX
            }
        };
        ExprKind::Float {
            value,
            text: text.to_string(),
        }
    }
}

/// Walks down expression rules that hold a single child (`expr` with one
/// stage, `stage` without `->`, `sum` and `product` without operators,
/// `unary` without `-`): they add nothing to the tree.
fn skip_wrappers(mut pair: Pair<'_, Rule>) -> Pair<'_, Rule> {
    while matches!(
        pair.as_rule(),
        Rule::expr | Rule::stage | Rule::sum | Rule::product | Rule::unary
    ) {
        let mut children = pair.clone().into_inner();
        match (children.next(), children.next()) {
            (Some(only), None) => pair = only,
            _ => break,
        }
    }
    pair
}

/// Keyword tokens carry no information beyond their parent's rule.
fn is_significant(pair: &Pair<'_, Rule>) -> bool {
    !matches!(
        pair.as_rule(),
        Rule::kw_const
            | Rule::kw_block
            | Rule::kw_model
            | Rule::kw_data
            | Rule::kw_train
            | Rule::kw_on
            | Rule::kw_input
            | Rule::kw_output
            | Rule::kw_let
            | Rule::kw_layer
            | Rule::kw_layers
            | Rule::kw_at
            | Rule::kw_epoch
    )
}

fn next_significant<'i>(children: &mut Pairs<'i, Rule>) -> Option<Pair<'i, Rule>> {
    children.find(is_significant)
}

/// Resolves `\"`, `\\`, `\n` and `\t`; any other backslash is kept as
/// written (so `C:\data` survives).
pub(crate) fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn escapes_resolve() {
        assert_eq!(unescape(r#"a\"b\\c\nd\te"#), "a\"b\\c\nd\te");
        assert_eq!(unescape(r"C:\data\x"), r"C:\data\x");
    }
}
