//! The checker's state: the file's items by name, the errors so far and the
//! model being built. The passes are `impl Checker` blocks in the modules
//! named after what they check.

use crate::builder::Builder;
use crate::scope::{layer_names, Scope, FUNCTION_NAMES};
use crate::value::{Tensor, Value};
use nnc_diag::check::{CheckError, DefKind};
use nnc_diag::{suggestions, Span};
use nnc_syntax::ast::{BlockBody, BlockItem, ConstItem, DataItem, File, Item, ModelItem, Stmt};
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug)]
pub(crate) enum ConstState {
    Pending,
    Evaluating,
    Done(Value),
}

pub(crate) struct ConstDef<'a> {
    pub item: &'a ConstItem,
    pub state: ConstState,
    pub used: bool,
}

pub(crate) struct BlockDef<'a> {
    pub item: &'a BlockItem,
    /// Part of a cycle of blocks (reported once); never expanded.
    pub recursive: bool,
    pub used: bool,
}

impl BlockDef<'_> {
    /// How many input tensors the block takes: one for a sequential block,
    /// one per `input` statement for a dataflow block.
    pub fn input_count(&self) -> usize {
        match &self.item.body {
            BlockBody::Layers(_) => 1,
            BlockBody::Dataflow(stmts) => stmts
                .iter()
                .filter(|s| matches!(s, Stmt::Input { .. }))
                .count(),
        }
    }
}

pub(crate) struct Checker<'a> {
    pub errors: Vec<CheckError>,
    pub consts: Vec<ConstDef<'a>>,
    pub const_index: HashMap<String, usize>,
    /// Constants being evaluated, innermost last (for cycle reports).
    pub const_stack: Vec<usize>,
    pub blocks: Vec<BlockDef<'a>>,
    pub block_index: HashMap<String, usize>,
    pub models: Vec<&'a ModelItem>,
    /// Models whose name repeats an earlier model's: checked, not kept.
    pub duplicate_models: HashSet<usize>,
    pub data: Vec<&'a DataItem>,
    pub duplicate_data: HashSet<usize>,
    /// The graph of the model being checked (a scratch one otherwise).
    pub builder: Builder,
    /// The name of the model being checked, for reports about it.
    pub model_name: String,
    /// While a `layer` instance is applied: its use, where its nodes and
    /// their errors point (the definition would mislead).
    pub site_override: Option<Span>,
    /// While `let (a, b) = CALL` evaluates its call: the call's span, the
    /// one place a block of several outputs may be expanded.
    pub unpacking: Option<Span>,
    /// The outputs of the last expansion of a block of several outputs,
    /// by the span of its call, for the `let (a, b) = ...` that unpacks it.
    pub block_outputs: HashMap<Span, Vec<(String, Tensor)>>,
    /// While a `step` of a train block is checked: the models it may
    /// call and what their calls record.
    pub step: Option<crate::players::StepContext>,
}

impl<'a> Checker<'a> {
    /// Indexes the items of `file`, reporting names defined twice (E0103).
    /// Constants and blocks share one namespace; models and data blocks
    /// have one each (`train mnist on mnist` is fine).
    pub fn new(file: &'a File) -> Checker<'a> {
        let mut checker = Checker {
            errors: Vec::new(),
            consts: Vec::new(),
            const_index: HashMap::new(),
            const_stack: Vec::new(),
            blocks: Vec::new(),
            block_index: HashMap::new(),
            models: Vec::new(),
            duplicate_models: HashSet::new(),
            data: Vec::new(),
            duplicate_data: HashSet::new(),
            builder: Builder::new(),
            model_name: String::new(),
            site_override: None,
            unpacking: None,
            block_outputs: HashMap::new(),
            step: None,
        };
        let mut values: HashMap<String, Span> = HashMap::new();
        let mut models: HashMap<String, Span> = HashMap::new();
        let mut datas: HashMap<String, Span> = HashMap::new();
        for item in &file.items {
            match item {
                Item::Const(c) => {
                    // A duplicate is reported as such, not also as unused.
                    let name = &c.name;
                    let first = checker.first_definition(
                        &mut values,
                        &name.name,
                        name.span,
                        DefKind::Const,
                    );
                    if first {
                        checker
                            .const_index
                            .insert(name.name.clone(), checker.consts.len());
                    }
                    checker.consts.push(ConstDef {
                        item: c,
                        state: ConstState::Pending,
                        used: !first,
                    });
                }
                Item::Block(b) => {
                    let name = &b.name;
                    let first = checker.first_definition(
                        &mut values,
                        &name.name,
                        name.span,
                        DefKind::Block,
                    );
                    if first {
                        checker
                            .block_index
                            .insert(name.name.clone(), checker.blocks.len());
                    }
                    checker.blocks.push(BlockDef {
                        item: b,
                        recursive: false,
                        used: !first,
                    });
                }
                Item::Model(m) => {
                    if !checker.first_definition(
                        &mut models,
                        &m.name.name,
                        m.name.span,
                        DefKind::Model,
                    ) {
                        checker.duplicate_models.insert(checker.models.len());
                    }
                    checker.models.push(m);
                }
                Item::Data(d) => {
                    if !checker.first_definition(
                        &mut datas,
                        &d.name.name,
                        d.name.span,
                        DefKind::Data,
                    ) {
                        checker.duplicate_data.insert(checker.data.len());
                    }
                    checker.data.push(d);
                }
                Item::Train(_) => {}
            }
        }
        checker
    }

    /// Records a definition; reports E0103 and returns false if the name
    /// was defined before.
    fn first_definition(
        &mut self,
        seen: &mut HashMap<String, Span>,
        name: &str,
        span: Span,
        kind: DefKind,
    ) -> bool {
        if let Some(first) = seen.get(name) {
            self.report(CheckError::Duplicate {
                name: name.to_string(),
                kind,
                span,
                first: *first,
            });
            return false;
        }
        seen.insert(name.to_string(), span);
        true
    }

    pub fn report(&mut self, error: CheckError) {
        self.errors.push(error);
    }

    /// How many errors (not warnings) were reported so far.
    pub fn error_count(&self) -> usize {
        self.errors.iter().filter(|e| e.is_error()).count()
    }

    pub fn block_of(&self, name: &str) -> Option<usize> {
        self.block_index.get(name).copied()
    }

    pub fn mark_block_used(&mut self, index: usize) {
        if let Some(b) = self.blocks.get_mut(index) {
            b.used = true;
        }
    }

    /// Bound names close to `name`: locals, constants.
    pub fn near_values(&self, scope: &Scope, name: &str) -> Vec<String> {
        let names: Vec<&str> = scope
            .names()
            .chain(self.const_index.keys().map(String::as_str))
            .collect();
        suggestions(name, names)
    }

    /// Callables close to `name`: builtin layers and functions, blocks,
    /// and the scope's names (`layer` instances).
    pub fn near_callees(&self, scope: &Scope, name: &str) -> Vec<String> {
        let mut names: Vec<&str> = layer_names().collect();
        names.extend(FUNCTION_NAMES.iter().copied());
        names.extend(self.block_index.keys().map(String::as_str));
        names.extend(scope.names());
        suggestions(name, names)
    }

    /// Layers close to `name`: builtin layers, blocks and scope names.
    pub fn near_layers(&self, scope: &Scope, name: &str) -> Vec<String> {
        let mut names: Vec<&str> = layer_names().collect();
        names.extend(self.block_index.keys().map(String::as_str));
        names.extend(scope.names());
        suggestions(name, names)
    }

    /// The errors sorted by position, each (code, primary span) once: a
    /// block expanded several times reports a problem in its body once.
    pub fn finish(self) -> Vec<CheckError> {
        let mut keyed: Vec<(Span, &'static str, CheckError)> = self
            .errors
            .into_iter()
            .map(|e| (e.span(), e.code(), e))
            .collect();
        keyed.sort_by_key(|(span, _, _)| (span.start, span.end));
        let mut seen: HashSet<(Span, &'static str)> = HashSet::new();
        keyed
            .into_iter()
            .filter(|(span, code, _)| seen.insert((*span, code)))
            .map(|(_, _, e)| e)
            .collect()
    }
}
