//! Models: inputs, `layers` stacks, `let`/`layer`/`output` statements, and
//! the assembly of the checked [`Model`].
//!
//! Statements run in order, except that all `input` statements come first
//! (an input has no dependencies). A name is visible from its definition
//! on; a use before it is reported with a pointer to the definition. A
//! model is put into the program only when checking it reported no error.

use crate::builder::Instance;
use crate::builder::{Builder, OutAct};
use crate::checker::Checker;
use crate::costs::CostDraft;
use crate::program::{Cost, Model, NodeId, Op, Penalty, Regularizer, Shape};
use crate::scope::{Binding, Place, Scope, ScopeKind};
use crate::settings::{keyword, MODEL_KEYS};
use crate::value::{LayerFn, Tensor, Value};
use nnc_diag::check::{BodyKind, CheckError, DefKind, Derivation, Expected, NameKind, Subject};
use nnc_diag::Span;
use nnc_syntax::ast::{Expr, Ident, ModelItem, Setting, Stmt};
use std::collections::HashMap;

/// A `cost EXPR` before the graph is final: its tensor, its `let` name
/// (if written as one) and the setting's span.
type PenaltyDraft = (Tensor, Option<String>, Span);

/// What a train block needs to know about a model.
#[derive(Clone, Debug)]
pub(crate) struct ModelInfo {
    pub name: String,
    pub name_span: Span,
    pub inputs: usize,
    /// Whether the model has a `cost` (valid or not).
    pub cost_given: bool,
    /// Whether its costs all compare outputs with its inputs (it reads no
    /// labels: no accuracy).
    pub reconstructs: bool,
    /// Where its cost on the labels is, when it has one.
    pub label_cost: Option<Span>,
    /// The trained output (the cost's, or the only one): shape and origin.
    pub output: Option<(Shape, Span)>,
    /// W0106, reported when the model is trained: the outputs the cost
    /// does not reach, with the layers only they use.
    pub untrained: Vec<CheckError>,
}

/// A named model output.
struct Output {
    name: String,
    name_span: Span,
    tensor: Tensor,
}

/// W0106 for every output of `model` whose computation uses a layer that
/// no cost's output does: those layers get no gradient.
fn untrained_outputs(model: &Model, outputs: &[Output], cost_span: Span) -> Vec<CheckError> {
    let Some(cost) = model.costs().next() else {
        return Vec::new();
    };
    let mut reached = vec![false; model.nodes.len()];
    let ends = model
        .costs()
        .map(|c| c.output)
        .chain(model.penalties.iter().map(|p| p.node));
    for end in ends {
        for (k, used) in ancestors(model, end).into_iter().enumerate() {
            reached[k] |= used;
        }
    }
    let cost_output = model
        .outputs
        .iter()
        .find(|(_, id)| *id == cost.output)
        .map_or_else(|| model.node(cost.output).name.clone(), |(n, _)| n.clone());
    let mut found = Vec::new();
    for (name, id) in &model.outputs {
        if model.costs().any(|c| c.output == *id) {
            continue;
        }
        let mut layers: Vec<String> = Vec::new();
        for (k, used) in ancestors(model, *id).iter().enumerate() {
            if !used || reached[k] {
                continue;
            }
            let Some(layer) = model.nodes[k].op.layer() else {
                continue;
            };
            let layer_name = &model.layers[layer.0].name;
            if !layers.contains(layer_name) {
                layers.push(layer_name.clone());
            }
        }
        if layers.is_empty() {
            continue;
        }
        let span = outputs
            .iter()
            .find(|o| o.name == *name)
            .map_or(model.span, |o| o.name_span);
        found.push(CheckError::OutputNotTrained {
            output: name.clone(),
            cost_output: cost_output.clone(),
            layers,
            span,
            cost_span,
        });
    }
    found
}

/// Which nodes `id` is computed from (itself included), by node index.
fn ancestors(model: &Model, id: NodeId) -> Vec<bool> {
    let mut seen = vec![false; model.nodes.len()];
    let mut stack = vec![id];
    while let Some(node) = stack.pop() {
        if node.0 >= seen.len() || seen[node.0] {
            continue;
        }
        seen[node.0] = true;
        stack.extend(model.node(node).inputs.iter().copied());
    }
    seen
}

/// The name of a body's last `let` and where it is named.
pub(crate) fn last_let(stmts: &[Stmt]) -> Option<(String, Span)> {
    stmts.iter().rev().find_map(|stmt| match stmt {
        Stmt::Let { name, .. } => Some((name.name.clone(), name.span)),
        _ => None,
    })
}

/// The names a body defines, with their definitions.
pub(crate) fn defined_names(stmts: &[Stmt]) -> HashMap<String, Span> {
    let mut names = HashMap::new();
    for stmt in stmts {
        let ident = match stmt {
            Stmt::Input { name, .. } | Stmt::Let { name, .. } | Stmt::Layer { name, .. } => name,
            Stmt::Output {
                name,
                value: Some(_),
                ..
            } => name,
            Stmt::LetMany { names: many, .. } => {
                for ident in many {
                    names.entry(ident.name.clone()).or_insert(ident.span);
                }
                continue;
            }
            _ => continue,
        };
        names.entry(ident.name.clone()).or_insert(ident.span);
    }
    names
}

impl<'a> Checker<'a> {
    /// Checks one model; the model is `None` when it had errors.
    pub fn check_model(&mut self, item: &'a ModelItem) -> (Option<Model>, ModelInfo) {
        self.model_name = item.name.name.clone();
        self.builder = Builder::new();
        let before = self.error_count();
        let mut scope = Scope::new(
            ScopeKind::Model,
            Place {
                naming: 0,
                depth: 0,
            },
        );
        scope.later = defined_names(&item.body);
        let mut inputs: Vec<(String, Tensor, Span)> = Vec::new();
        for stmt in &item.body {
            if let Stmt::Input { name, shape, span } = stmt {
                let t = self.model_input(&mut scope, name, shape.as_ref(), *span);
                inputs.push((name.name.clone(), t.clone(), *span));
                self.define_checked(&mut scope, name, DefKind::Input, Binding::Tensor(t));
            }
        }
        let mut outputs: Vec<Output> = Vec::new();
        let mut has_output_stmt = false;
        let mut has_layers = false;
        let mut settings: Vec<&'a Setting> = Vec::new();
        for stmt in &item.body {
            match stmt {
                Stmt::Input { .. } => {}
                Stmt::Let { name, value, .. } => self.let_stmt(&mut scope, name, value),
                Stmt::LetMany { names, value, .. } => self.let_many(&mut scope, names, value),
                Stmt::Layer { name, value, .. } => self.layer_stmt(&mut scope, name, value),
                Stmt::Output { name, value, .. } => {
                    has_output_stmt = true;
                    let tensor = self.output_stmt(&mut scope, name, value.as_ref());
                    self.push_output(&mut outputs, name, tensor);
                }
                Stmt::Layers { items, span } => {
                    has_output_stmt = true;
                    has_layers = true;
                    let tensor = self.model_layers(&mut scope, &inputs, items, *span);
                    let name = Ident {
                        name: "output".into(),
                        span: keyword(*span, "layers"),
                    };
                    self.push_output(&mut outputs, &name, tensor);
                }
                Stmt::Setting(setting) => settings.push(setting),
                Stmt::At { .. } | Stmt::Section { .. } => self.not_allowed(stmt, BodyKind::Model),
            }
        }
        if !has_output_stmt {
            let last_let = last_let(&item.body);
            if let Some((name, _)) = &last_let {
                // The hint makes it the output: not "unused" as well.
                scope.use_name(name);
            }
            self.report(CheckError::NoOutput {
                name: item.name.name.clone(),
                block: false,
                span: item.name.span,
                last_let,
            });
        }
        if inputs.is_empty() && !has_layers {
            self.report(CheckError::ModelWithoutInput {
                model: item.name.name.clone(),
                span: item.name.span,
            });
        }
        let table = self.collect_settings(
            BodyKind::Model,
            &settings,
            MODEL_KEYS,
            &["regularize", "cost"],
        );
        let cost_setting = table.get("cost");
        let named: Vec<(String, Tensor)> = outputs
            .iter()
            .map(|o| (o.name.clone(), o.tensor.clone()))
            .collect();
        // One cost may read the labels; any number compare an output with
        // a model input.
        let mut cost: Option<CostDraft> = None;
        let mut input_costs: Vec<CostDraft> = Vec::new();
        let mut penalties: Vec<(Tensor, Option<String>, Span)> = Vec::new();
        for setting in table.all.iter().filter(|s| s.key.name == "cost") {
            if let Some((expr, name)) = crate::costs::penalty_expr(setting, &scope) {
                if let Some(t) = self.penalty(&mut scope, expr, setting.span) {
                    penalties.push((t, name, setting.span));
                }
                continue;
            }
            let Some(draft) = self.model_cost(setting, &named, &inputs) else {
                continue;
            };
            self.cost_lints(&draft);
            match (&draft.target, &cost) {
                (Some(_), _) => input_costs.push(draft),
                (None, Some(first)) => self.report(CheckError::CostTwice {
                    span: draft.span,
                    first: first.span,
                }),
                (None, None) => cost = Some(draft),
            }
        }
        let regularize: Vec<&'a Setting> = table
            .all
            .iter()
            .filter(|s| s.key.name == "regularize")
            .copied()
            .collect();
        let regularizers = self.regularizers(&regularize);
        let terms: Vec<(String, Span)> = cost
            .iter()
            .chain(&input_costs)
            .filter_map(|c| {
                let (name, _) = named.iter().find(|(_, t)| t.node == c.output.node)?;
                Some((name.clone(), c.span))
            })
            .chain(
                penalties
                    .iter()
                    .filter_map(|(_, name, span)| Some((name.clone()?, *span))),
            )
            .collect();
        let cost_name = table
            .get("cost_name")
            .and_then(|s| self.cost_name(s, &terms));
        self.lint_unused_locals(&scope);
        // The output the labels are compared with: none when every cost
        // compares with an input (an autoencoder ignores the labels).
        let trained = cost.as_ref().map(|c| c.output.clone()).or_else(|| {
            if !input_costs.is_empty() {
                return None;
            }
            (outputs.len() == 1)
                .then(|| outputs.first().map(|o| o.tensor.clone()))
                .flatten()
        });
        let clean = self.error_count() == before;
        let model = clean
            .then(|| {
                let costs = (cost.as_ref(), input_costs.as_slice(), penalties.as_slice());
                self.assemble(item, &inputs, &outputs, costs, regularizers, cost_name)
            })
            .flatten();
        let first_cost = cost.as_ref().or(input_costs.first());
        let untrained = match (&model, first_cost) {
            (Some(model), Some(cost)) => untrained_outputs(model, &outputs, cost.span),
            _ => Vec::new(),
        };
        let info = ModelInfo {
            name: item.name.name.clone(),
            name_span: item.name.span,
            inputs: inputs.len(),
            cost_given: cost_setting.is_some(),
            reconstructs: cost.is_none() && !input_costs.is_empty(),
            label_cost: cost.as_ref().map(|c| c.span),
            output: trained.and_then(|t| t.shape.map(|s| (s, t.from))),
            untrained,
        };
        (model, info)
    }

    /// The checked model, if every input and output is known.
    fn assemble(
        &self,
        item: &ModelItem,
        inputs: &[(String, Tensor, Span)],
        outputs: &[Output],
        (cost, input_costs, penalties): (Option<&CostDraft>, &[CostDraft], &[PenaltyDraft]),
        regularizers: Option<Vec<Regularizer>>,
        cost_name: Option<String>,
    ) -> Option<Model> {
        let input_ids: Option<Vec<NodeId>> = inputs.iter().map(|(_, t, _)| t.node).collect();
        let output_ids: Option<Vec<(String, NodeId)>> = outputs
            .iter()
            .map(|o| o.tensor.node.map(|id| (o.name.clone(), id)))
            .collect();
        let finish = |c: &CostDraft| -> Option<Cost> {
            Some(Cost {
                kind: c.kind,
                output: c.output.node?,
                target: match &c.target {
                    Some(t) => Some(t.node?),
                    None => None,
                },
                weight: c.weight,
                span: c.span,
            })
        };
        let cost = match cost {
            Some(c) => Some(finish(c)?),
            None => None,
        };
        let input_costs: Option<Vec<Cost>> = input_costs.iter().map(finish).collect();
        let penalties: Option<Vec<Penalty>> = penalties
            .iter()
            .map(|(t, name, span)| {
                Some(Penalty {
                    node: t.node?,
                    name: name.clone(),
                    span: *span,
                })
            })
            .collect();
        let (nodes, layers) = self.builder.finish();
        Some(Model {
            name: item.name.name.clone(),
            span: item.span,
            inputs: input_ids?,
            outputs: output_ids?,
            nodes,
            layers,
            cost,
            input_costs: input_costs?,
            penalties: penalties?,
            regularizers: regularizers?,
            cost_name,
            zero_states: self.builder.zero_states.clone(),
            carry: false,
            unrolls: self.builder.unrolls.clone(),
        })
    }

    /// Records a model output; the same output name twice is E0103.
    fn push_output(&mut self, outputs: &mut Vec<Output>, name: &Ident, tensor: Tensor) {
        if let Some(first) = outputs.iter().find(|o| o.name == name.name) {
            self.report(CheckError::Duplicate {
                name: name.name.clone(),
                kind: DefKind::Output,
                span: name.span,
                first: first.name_span,
            });
        }
        outputs.push(Output {
            name: name.name.clone(),
            name_span: name.span,
            tensor,
        });
    }

    /// `input name: SHAPE`: an input node (a model input needs a shape).
    fn model_input(
        &mut self,
        scope: &mut Scope,
        name: &Ident,
        shape: Option<&'a Expr>,
        span: Span,
    ) -> Tensor {
        let Some(shape) = shape else {
            self.report(CheckError::InputWithoutShape {
                name: name.name.clone(),
                span: name.span,
            });
            return Tensor::unknown(span);
        };
        let value = self.eval(scope, shape);
        let subject = Subject::InputShape {
            name: name.name.clone(),
        };
        let Some(dims) = self.shape(&value, shape.span, subject) else {
            return Tensor::unknown(span);
        };
        let derivation = Derivation::Input {
            name: name.name.clone(),
        };
        self.new_node(
            scope.place,
            &name.name,
            Op::Input,
            &[],
            dims,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// `layers { ... }` on the model's one input (E0114 otherwise).
    fn model_layers(
        &mut self,
        scope: &mut Scope,
        inputs: &[(String, Tensor, Span)],
        items: &'a [Expr],
        span: Span,
    ) -> Tensor {
        let start = match inputs {
            [(_, t, _)] => Some(t.clone()),
            _ => {
                self.report(CheckError::LayersNeedOneInput {
                    model: self.model_name.clone(),
                    inputs: inputs.iter().map(|(n, _, s)| (n.clone(), *s)).collect(),
                    span: keyword(span, "layers"),
                });
                None
            }
        };
        let mut t = start.unwrap_or_else(|| Tensor::unknown(span));
        for expr in items {
            let f = self.stage_layer(scope, expr);
            t = self.apply(scope.place, &f, vec![t], Some(expr.span));
        }
        t
    }

    /// Binds a name, reporting a duplicate in the same body (E0103).
    pub fn define_checked(
        &mut self,
        scope: &mut Scope,
        name: &Ident,
        kind: DefKind,
        binding: Binding,
    ) {
        if let Some(first) = scope.define(&name.name, name.span, kind, binding) {
            self.report(CheckError::Duplicate {
                name: name.name.clone(),
                kind,
                span: name.span,
                first,
            });
        }
    }

    /// The value of a `let` or `output`: must be a tensor.
    fn tensor_value(&mut self, scope: &mut Scope, value: &'a Expr, subject: Subject) -> Tensor {
        match self.eval(scope, value) {
            Value::Tensor(t) => t,
            Value::Unknown => Tensor::unknown(value.span),
            other => {
                self.wrong_kind(&other, value.span, subject, Expected::Tensor);
                Tensor::unknown(value.span)
            }
        }
    }

    /// `let name = EXPR`: a named tensor.
    pub fn let_stmt(&mut self, scope: &mut Scope, name: &Ident, value: &'a Expr) {
        let before = self.error_count();
        let t = self.tensor_value(
            scope,
            value,
            Subject::Let {
                name: name.name.clone(),
            },
        );
        if let Some(id) = t.node {
            self.builder.bind_name(id, &name.name);
        }
        self.define_checked(scope, name, DefKind::Let, Binding::Tensor(t));
        self.quiet_if_failed(scope, before);
    }

    /// A binding whose value had errors is not also reported as unused.
    pub(crate) fn quiet_if_failed(&self, scope: &mut Scope, before: usize) {
        if self.error_count() > before {
            scope.mark_last_used();
        }
    }

    /// `layer name = LAYER`: one instance, one set of weights.
    pub fn layer_stmt(&mut self, scope: &mut Scope, name: &Ident, value: &'a Expr) {
        let before = self.error_count();
        let layer = match self.eval(scope, value) {
            Value::Tensor(t) => {
                let subject = Subject::LayerDef {
                    name: name.name.clone(),
                };
                self.wrong_kind(&Value::Tensor(t), value.span, subject, Expected::Layer);
                LayerFn::Unknown
            }
            other => self.layer_of(scope, other, value.span),
        };
        let index = self.builder.instances.len();
        self.builder.instances.push(Instance {
            name: name.name.clone(),
            span: value.span,
            layer,
            weights: Vec::new(),
        });
        self.define_checked(scope, name, DefKind::Layer, Binding::Instance(index));
        self.quiet_if_failed(scope, before);
    }

    /// `output name = EXPR` or `output name` (an existing tensor).
    pub fn output_stmt(
        &mut self,
        scope: &mut Scope,
        name: &Ident,
        value: Option<&'a Expr>,
    ) -> Tensor {
        if let Some(value) = value {
            let t = self.tensor_value(
                scope,
                value,
                Subject::Output {
                    name: name.name.clone(),
                },
            );
            if let Some(id) = t.node {
                self.builder.bind_name(id, &name.name);
            }
            self.define_checked(scope, name, DefKind::Output, Binding::Tensor(t.clone()));
            return t;
        }
        match scope.use_name(&name.name).map(|l| l.binding.clone()) {
            Some(Binding::Tensor(t)) => t,
            Some(Binding::Value(v)) => {
                self.wrong_kind(
                    &v,
                    name.span,
                    Subject::Output {
                        name: name.name.clone(),
                    },
                    Expected::Tensor,
                );
                Tensor::unknown(name.span)
            }
            Some(Binding::Instance(i)) => {
                let found = Value::Layer(LayerFn::Instance(i));
                self.wrong_kind(
                    &found,
                    name.span,
                    Subject::Output {
                        name: name.name.clone(),
                    },
                    Expected::Tensor,
                );
                Tensor::unknown(name.span)
            }
            None => {
                let word = self.word(scope, name);
                self.report(CheckError::UnknownName {
                    name: name.name.clone(),
                    kind: NameKind::Value,
                    span: name.span,
                    did_you_mean: word.near,
                    defined_later: word.later,
                });
                Tensor::unknown(name.span)
            }
        }
    }
}
