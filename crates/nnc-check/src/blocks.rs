//! Blocks: user-defined layers, expanded per instantiation with fresh
//! weights.
//!
//! Before anything is expanded, the blocks that (indirectly) instantiate
//! themselves are found by a search over the names their bodies use; each
//! cycle is reported once (E0113) and its blocks are never expanded. Every
//! block is then checked once on its own, with unknown inputs and its
//! parameters at their defaults (or unknown), so that errors that do not
//! depend on shapes are reported even for blocks nothing uses; each
//! instantiation is checked again with real shapes. The same error at the
//! same place is reported once.

use crate::args::Params;
use crate::checker::Checker;
use crate::scope::{Binding, Place, Scope, ScopeKind};
use crate::value::{ArgValue, BlockCall, Tensor, Value};
use nnc_diag::check::{BodyKind, CheckError, DefKind, Expected, Subject};
use nnc_diag::Span;
use nnc_syntax::ast::{BlockBody, BlockItem, Expr, ExprKind, Ident, SettingValue, Stmt};
use std::collections::HashSet;

/// The deepest nesting of block instantiations the checker expands.
pub(crate) const MAX_BLOCK_DEPTH: usize = 32;

impl<'a> Checker<'a> {
    /// Finds cycles of blocks (E0113) and marks their blocks recursive.
    pub fn find_recursive_blocks(&mut self) {
        let edges: Vec<Vec<(usize, Span)>> = self
            .blocks
            .iter()
            .map(|b| self.block_refs(b.item))
            .collect();
        // 0 = unvisited, 1 = on the path, 2 = done.
        let mut state = vec![0u8; self.blocks.len()];
        for root in 0..self.blocks.len() {
            if state.get(root) != Some(&0) {
                continue;
            }
            // An explicit stack: (block, index of its next edge).
            let mut path: Vec<(usize, usize)> = vec![(root, 0)];
            if let Some(s) = state.get_mut(root) {
                *s = 1;
            }
            while let Some(&mut (block, ref mut next)) = path.last_mut() {
                let Some(&(target, span)) = edges.get(block).and_then(|e| e.get(*next)) else {
                    if let Some(s) = state.get_mut(block) {
                        *s = 2;
                    }
                    path.pop();
                    continue;
                };
                *next += 1;
                match state.get(target) {
                    Some(0) => {
                        if let Some(s) = state.get_mut(target) {
                            *s = 1;
                        }
                        path.push((target, 0));
                    }
                    Some(1) => {
                        let cycle: Vec<usize> = path
                            .iter()
                            .map(|(b, _)| *b)
                            .skip_while(|b| *b != target)
                            .collect();
                        self.report_cycle(&cycle, target, span);
                    }
                    _ => {}
                }
            }
        }
    }

    fn report_cycle(&mut self, cycle: &[usize], target: usize, span: Span) {
        let mut names: Vec<String> = cycle
            .iter()
            .filter_map(|b| self.blocks.get(*b).map(|d| d.item.name.name.clone()))
            .collect();
        let target_name = self
            .blocks
            .get(target)
            .map(|d| d.item.name.name.clone())
            .unwrap_or_default();
        names.push(target_name.clone());
        for b in cycle {
            if let Some(def) = self.blocks.get_mut(*b) {
                // Blocks of a cycle use each other; the cycle is the error.
                def.recursive = true;
                def.used = true;
            }
        }
        self.report(CheckError::RecursiveBlock {
            block: target_name,
            cycle: names,
            span,
        });
    }

    /// The blocks a block's body names, with where (names its parameters
    /// or its own bindings shadow are not blocks).
    fn block_refs(&self, item: &BlockItem) -> Vec<(usize, Span)> {
        let mut shadowed: HashSet<&str> =
            item.params.iter().map(|p| p.name.name.as_str()).collect();
        let mut exprs: Vec<&Expr> = item
            .params
            .iter()
            .filter_map(|p| p.default.as_ref())
            .collect();
        match &item.body {
            BlockBody::Layers(items) => exprs.extend(items.iter()),
            BlockBody::Dataflow(stmts) => collect_stmt_exprs(stmts, &mut exprs, &mut shadowed),
        }
        let mut refs = Vec::new();
        let mut stack = exprs;
        while let Some(expr) = stack.pop() {
            let named = |id: &Ident| {
                (!shadowed.contains(id.name.as_str()))
                    .then(|| self.block_of(&id.name))
                    .flatten()
            };
            match &expr.kind {
                ExprKind::Name(id) => {
                    if let Some(b) = named(id) {
                        refs.push((b, id.span));
                    }
                }
                ExprKind::Call { callee, args } => {
                    if let Some(b) = named(callee) {
                        refs.push((b, callee.span));
                    }
                    stack.extend(args.iter().map(|a| &a.value));
                }
                ExprKind::Slice { start, end, .. } => {
                    stack.extend(start.iter().chain(end.iter()).map(|e| &**e))
                }
                ExprKind::List(items) | ExprKind::Pipe(items) | ExprKind::Layers(items) => {
                    stack.extend(items.iter())
                }
                ExprKind::Neg(inner) | ExprKind::Paren(inner) => stack.push(inner),
                ExprKind::Binary { lhs, rhs, .. } => {
                    stack.push(lhs);
                    stack.push(rhs);
                }
                ExprKind::Assert { value, shape } => {
                    stack.push(value);
                    stack.push(shape);
                }
                ExprKind::Int(_)
                | ExprKind::Float { .. }
                | ExprKind::Str(_)
                | ExprKind::Bool(_) => {}
            }
        }
        refs.sort_by_key(|(_, span)| span.start);
        refs
    }

    /// A block call with its arguments bound to its parameters.
    pub fn make_block_call(
        &mut self,
        index: usize,
        callee: &Ident,
        args: Vec<ArgValue>,
        span: Span,
    ) -> BlockCall {
        self.mark_block_used(index);
        let Some(item) = self.blocks.get(index).map(|b| b.item) else {
            return BlockCall {
                block: index,
                callee: callee.clone(),
                span,
                params: Vec::new(),
                bound: Vec::new(),
            };
        };
        let names: Vec<&str> = item.params.iter().map(|p| p.name.name.as_str()).collect();
        let required: Vec<bool> = item.params.iter().map(|p| p.default.is_none()).collect();
        let params = Params {
            names: &names,
            required: &required,
        };
        let slots = self.bind_args(&callee.name, span, params, args);
        BlockCall {
            block: index,
            callee: callee.clone(),
            span,
            params: slots.into_iter().map(|s| s.map(|a| a.value)).collect(),
            bound: Vec::new(),
        }
    }

    /// Expands one instantiation of a block on known inputs.
    pub fn expand_block(&mut self, place: Place, call: &BlockCall, inputs: Vec<Tensor>) -> Tensor {
        let Some(def) = self.blocks.get(call.block) else {
            return Tensor::unknown(call.span);
        };
        let item = def.item;
        if self.several_outputs_used_as_one(call.block, call.span) {
            return Tensor::unknown(call.span);
        }
        let Some(def) = self.blocks.get(call.block) else {
            return Tensor::unknown(call.span);
        };
        if def.recursive || inputs.iter().all(|t| t.shape.is_none()) {
            return Tensor::unknown(call.span);
        }
        if place.depth >= MAX_BLOCK_DEPTH {
            self.report(CheckError::BlocksTooDeep {
                block: item.name.name.clone(),
                limit: MAX_BLOCK_DEPTH,
                span: call.span,
            });
            return Tensor::unknown(call.span);
        }
        let naming = self.builder.child_scope(place.naming, &item.name.name);
        let mut scope = Scope::new(
            ScopeKind::Block,
            Place {
                naming,
                depth: place.depth + 1,
            },
        );
        let before = self.errors.len();
        self.bind_params(&mut scope, item, &call.params);
        let mut outputs = self.block_body(&mut scope, item, inputs);
        self.lint_unused_locals(&scope);
        self.in_block(
            before,
            &item.name.name,
            self.site_override.unwrap_or(call.span),
        );
        if outputs.len() > 1 {
            self.block_outputs.insert(call.span, outputs.clone());
        }
        match outputs.is_empty() {
            true => Tensor::unknown(call.span),
            false => outputs.swap_remove(0).1,
        }
    }

    /// The names of a dataflow block's outputs, in the order it declares
    /// them (a sequential block's one output is `output`).
    pub fn block_output_names(&self, index: usize) -> Vec<String> {
        match self.blocks.get(index).map(|b| &b.item.body) {
            Some(BlockBody::Dataflow(stmts)) => stmts
                .iter()
                .filter_map(|s| match s {
                    Stmt::Output { name, .. } => Some(name.name.clone()),
                    _ => None,
                })
                .collect(),
            _ => vec!["output".to_string()],
        }
    }

    /// E0120 when block `index` has several outputs and its call at `span`
    /// is not the one a `let (a, b) = ...` unpacks: it gives no one tensor.
    pub fn several_outputs_used_as_one(&mut self, index: usize, span: Span) -> bool {
        let outputs = self.block_output_names(index);
        if outputs.len() < 2 || self.unpacking == Some(span) {
            return false;
        }
        let block = self.blocks.get(index).map(|b| b.item.name.name.clone());
        self.report(CheckError::BlockOutputs {
            block,
            outputs,
            given: None,
            span,
        });
        true
    }

    /// `let (a, b, ...) = BLOCK(...)`: binds the outputs of a dataflow
    /// block with several, in the order it declares them. E0120 when the
    /// value is not a call of such a block or the names do not match the
    /// outputs in number.
    pub fn let_many(&mut self, scope: &mut Scope, names: &[Ident], value: &'a Expr) {
        let before = self.error_count();
        let block = match &value.kind {
            ExprKind::Call { callee, .. } => self.block_of(&callee.name),
            _ => None,
        };
        let outputs = block
            .map(|b| self.block_output_names(b))
            .unwrap_or_default();
        let block_name = block.and_then(|b| self.blocks.get(b).map(|d| d.item.name.name.clone()));
        let fits = block.is_some() && outputs.len() == names.len();
        if !fits {
            let span = match &value.kind {
                ExprKind::Call { callee, .. } if block.is_some() => callee.span,
                _ => value.span,
            };
            self.report(CheckError::BlockOutputs {
                block: block_name,
                outputs,
                given: Some(names.len()),
                span,
            });
        }
        let saved = self.unpacking.replace(value.span);
        let evaluated = self.eval(scope, value);
        self.unpacking = saved;
        let mut tensors = self.block_outputs.remove(&value.span).unwrap_or_default();
        if fits && tensors.is_empty() {
            // The block was not expanded (unknown inputs, or a call without
            // tensors): its first output is the value, when there is one.
            if let Value::Tensor(t) = evaluated {
                tensors.push((String::new(), t));
            } else if !matches!(evaluated, Value::Unknown) {
                let subject = Subject::Let {
                    name: names.first().map_or_else(String::new, |n| n.name.clone()),
                };
                self.wrong_kind(&evaluated, value.span, subject, Expected::Tensor);
            }
        }
        for (i, name) in names.iter().enumerate() {
            let t = match tensors.get(i) {
                Some((_, t)) if fits => t.clone(),
                _ => Tensor::unknown(name.span),
            };
            if let Some(id) = t.node {
                self.builder.bind_name(id, &name.name);
            }
            self.define_checked(scope, name, DefKind::Let, Binding::Tensor(t));
            self.quiet_if_failed(scope, before);
        }
    }

    /// Marks the facts found since `before` as found in one instantiation
    /// (facts already marked keep their innermost instantiation).
    fn in_block(&mut self, before: usize, block: &str, site: Span) {
        let Some(found) = self.errors.get_mut(before..) else {
            return;
        };
        for error in found {
            if matches!(error, CheckError::InBlock { .. }) {
                continue;
            }
            let inner = std::mem::replace(error, CheckError::NotFinite { span: site });
            *error = CheckError::InBlock {
                block: block.to_string(),
                site,
                error: Box::new(inner),
            };
        }
    }

    /// Binds the parameters of block `block` (for `unroll`, which reads
    /// a cell's state shapes before applying it).
    pub(crate) fn bind_params_of(
        &mut self,
        scope: &mut Scope,
        block: usize,
        given: &[Option<Value>],
    ) {
        if let Some(item) = self.blocks.get(block).map(|b| b.item) {
            self.bind_params(scope, item, given);
        }
    }

    /// Binds the parameters: given values, else defaults (evaluated in the
    /// block's scope, so a default may use earlier parameters).
    fn bind_params(&mut self, scope: &mut Scope, item: &'a BlockItem, given: &[Option<Value>]) {
        for (i, param) in item.params.iter().enumerate() {
            let value = match (given.get(i), &param.default) {
                (Some(Some(v)), _) => v.clone(),
                (_, Some(default)) => self.eval(scope, default),
                (_, None) => Value::Unknown,
            };
            let earlier = scope.define(
                &param.name.name,
                param.name.span,
                DefKind::Param,
                Binding::Value(value),
            );
            if let Some(first) = earlier {
                self.report(CheckError::Duplicate {
                    name: param.name.name.clone(),
                    kind: DefKind::Param,
                    span: param.name.span,
                    first,
                });
            }
        }
    }

    /// The body of a block on its inputs; the block's outputs, named, in
    /// the order it declares them.
    fn block_body(
        &mut self,
        scope: &mut Scope,
        item: &'a BlockItem,
        inputs: Vec<Tensor>,
    ) -> Vec<(String, Tensor)> {
        match &item.body {
            BlockBody::Layers(items) => {
                let Some(mut t) = inputs.into_iter().next() else {
                    return Vec::new();
                };
                for expr in items {
                    let f = self.stage_layer(scope, expr);
                    let place = scope.place;
                    t = self.apply(place, &f, vec![t], Some(expr.span));
                }
                vec![("output".to_string(), t)]
            }
            BlockBody::Dataflow(stmts) => self.dataflow_block(scope, item, stmts, inputs),
        }
    }

    fn dataflow_block(
        &mut self,
        scope: &mut Scope,
        item: &'a BlockItem,
        stmts: &'a [Stmt],
        inputs: Vec<Tensor>,
    ) -> Vec<(String, Tensor)> {
        scope.later = crate::model::defined_names(stmts);
        let mut inputs = inputs.into_iter();
        let mut outputs: Vec<(String, Tensor, Span)> = Vec::new();
        for stmt in stmts {
            match stmt {
                Stmt::Input { name, shape, .. } => {
                    let t = inputs.next().unwrap_or_else(|| Tensor::unknown(name.span));
                    let t = match shape {
                        Some(shape) => {
                            let value = self.eval(scope, shape);
                            let expected = self.shape(
                                &value,
                                shape.span,
                                nnc_diag::check::Subject::InputShape {
                                    name: name.name.clone(),
                                },
                            );
                            self.check_assert(t, expected, shape.span, name.span)
                        }
                        None => t,
                    };
                    self.define_checked(scope, name, DefKind::Input, Binding::Tensor(t));
                }
                Stmt::Let { name, value, .. } => self.let_stmt(scope, name, value),
                Stmt::LetMany { names, value, .. } => self.let_many(scope, names, value),
                Stmt::Layer { name, value, .. } => self.layer_stmt(scope, name, value),
                Stmt::Output { name, value, .. } => {
                    let t = self.output_stmt(scope, name, value.as_ref());
                    if let Some((_, _, first)) = outputs.iter().find(|(n, _, _)| *n == name.name) {
                        self.report(CheckError::Duplicate {
                            name: name.name.clone(),
                            kind: DefKind::Output,
                            span: name.span,
                            first: *first,
                        });
                    }
                    outputs.push((name.name.clone(), t, name.span));
                }
                other => self.not_allowed(other, BodyKind::Block),
            }
        }
        if outputs.is_empty() {
            self.report(CheckError::NoOutput {
                name: item.name.name.clone(),
                block: true,
                span: item.name.span,
                last_let: None,
            });
        }
        outputs.into_iter().map(|(n, t, _)| (n, t)).collect()
    }

    /// Checks every block once on its own (see the module comment), in a
    /// scratch graph that is thrown away.
    pub fn check_blocks_alone(&mut self) {
        let saved = std::mem::replace(&mut self.builder, crate::builder::Builder::new());
        for index in 0..self.blocks.len() {
            let Some(def) = self.blocks.get(index) else {
                continue;
            };
            if def.recursive {
                continue;
            }
            let item = def.item;
            let inputs: Vec<Tensor> = match &item.body {
                BlockBody::Layers(_) => vec![Tensor::unknown(item.name.span)],
                BlockBody::Dataflow(stmts) => stmts
                    .iter()
                    .filter_map(|s| match s {
                        Stmt::Input { name, .. } => Some(Tensor::unknown(name.span)),
                        _ => None,
                    })
                    .collect(),
            };
            // A block that is not recursive does not name itself, so this
            // check marks other blocks used, never this one.
            let mut scope = Scope::new(
                ScopeKind::Block,
                Place {
                    naming: 0,
                    depth: 1,
                },
            );
            self.bind_params(&mut scope, item, &[]);
            self.block_body(&mut scope, item, inputs);
            self.lint_unused_locals(&scope);
        }
        self.builder = saved;
    }
}

/// The expressions of a dataflow body, and the names it binds.
fn collect_stmt_exprs<'s>(
    stmts: &'s [Stmt],
    exprs: &mut Vec<&'s Expr>,
    shadowed: &mut HashSet<&'s str>,
) {
    for stmt in stmts {
        match stmt {
            Stmt::Input { name, shape, .. } => {
                shadowed.insert(&name.name);
                exprs.extend(shape.iter());
            }
            Stmt::Output { name, value, .. } => {
                if value.is_some() {
                    shadowed.insert(&name.name);
                }
                exprs.extend(value.iter());
            }
            Stmt::Let { name, value, .. } | Stmt::Layer { name, value, .. } => {
                shadowed.insert(&name.name);
                exprs.push(value);
            }
            Stmt::LetMany { names, value, .. } => {
                shadowed.extend(names.iter().map(|n| n.name.as_str()));
                exprs.push(value);
            }
            Stmt::Layers { items, .. } => exprs.extend(items.iter()),
            Stmt::At { epoch, body, .. } => {
                exprs.push(epoch);
                collect_stmt_exprs(body, exprs, shadowed);
            }
            Stmt::Section { body, .. } => collect_stmt_exprs(body, exprs, shadowed),
            Stmt::Setting(setting) => match &setting.value {
                SettingValue::Expr(e) => exprs.push(e),
                SettingValue::Args(args) => exprs.extend(args.iter().map(|a| &a.value)),
            },
        }
    }
}
