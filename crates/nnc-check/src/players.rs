//! Models called as functions in the `step`s of a game:
//! `discriminator(x)` expands that model's checked graph on `x` into the
//! step being built, with the step's copy of its layers (so two calls share
//! weights), after checking the tensors given against the model's inputs
//! (E0212). Calls of the model a step updates that give one value per
//! example are recorded as the step's default reported values.

use crate::builder::OutAct;
use crate::checker::Checker;
use crate::program::{Model, Op};
use crate::scope::{Place, Scope};
use crate::value::{ArgValue, Tensor, Value};
use nnc_diag::check::{CheckError, Derivation, Expected, Subject};
use nnc_diag::Span;
use nnc_syntax::ast::{Arg, ExprKind, Ident};

/// A model a step may call, with where its layers start in the step's
/// layer list.
#[derive(Clone, Debug)]
pub(crate) struct Player {
    pub model: Model,
    pub offset: usize,
}

/// The step being checked: what calls of players need.
#[derive(Clone, Debug, Default)]
pub(crate) struct StepContext {
    pub players: Vec<Player>,
    /// The index in `players` of the model the step updates.
    pub updated: usize,
    /// Calls of the updated model that give one value per example.
    pub monitors: Vec<(String, Tensor)>,
    /// Data without one-hot labels: its name and span, for E0409.
    pub labels_missing: Option<(String, Span)>,
}

impl<'a> Checker<'a> {
    /// Whether `name` calls a player of the step being checked.
    pub(crate) fn player_of(&self, name: &str) -> Option<usize> {
        self.step
            .as_ref()?
            .players
            .iter()
            .position(|p| p.model.name == name)
    }

    /// `labels` in a step over data without one-hot labels: E0409.
    pub(crate) fn labels_missing(&mut self, id: &Ident) -> bool {
        if id.name != "labels" {
            return false;
        }
        let Some((data, data_span)) = self.step.as_ref().and_then(|s| s.labels_missing.clone())
        else {
            return false;
        };
        self.report(CheckError::StepLabels {
            data,
            span: id.span,
            data_span,
        });
        true
    }

    /// `player(x, ...)` in a step: the player's graph on the given
    /// tensors, with the step's copy of its layers.
    pub(crate) fn call_player(
        &mut self,
        scope: &Scope,
        index: usize,
        args: &'a [Arg],
        values: Vec<ArgValue>,
        span: Span,
    ) -> Value {
        let Some(context) = self.step.as_ref() else {
            return Value::Unknown;
        };
        let Some(player) = context.players.get(index).cloned() else {
            return Value::Unknown;
        };
        let updated = context.updated == index;
        let model = &player.model;
        let mut tensors: Vec<(Tensor, Span)> = Vec::new();
        for value in values {
            match (value.name, value.value) {
                (None, Value::Tensor(t)) => tensors.push((t, value.span)),
                (_, Value::Unknown) => return Value::Tensor(Tensor::unknown(span)),
                (Some(name), _) => {
                    self.report(CheckError::UnknownArgument {
                        callee: model.name.clone(),
                        name: name.name.clone(),
                        span: name.span,
                        did_you_mean: Vec::new(),
                        takes: Vec::new(),
                    });
                    return Value::Tensor(Tensor::unknown(span));
                }
                (None, other) => {
                    let subject = Subject::Argument {
                        callee: model.name.clone(),
                        param: "input".into(),
                    };
                    self.wrong_kind(&other, value.span, subject, Expected::Tensor);
                    return Value::Tensor(Tensor::unknown(span));
                }
            }
        }
        if tensors.len() != model.inputs.len() {
            return Value::Tensor(self.wrong_input_count(
                &model.name,
                model.inputs.len(),
                tensors.len(),
                span,
            ));
        }
        let mut failed = false;
        for ((t, arg_span), &input) in tensors.iter().zip(&model.inputs) {
            let node = model.node(input);
            match &t.shape {
                None => failed = true,
                Some(shape) if *shape != node.shape => {
                    self.report(CheckError::PlayerInput {
                        model: model.name.clone(),
                        input: node.name.clone(),
                        expected: node.shape.clone(),
                        expected_span: node.span,
                        given: shape.clone(),
                        given_from: t.from,
                        span: *arg_span,
                    });
                    failed = true;
                }
                Some(_) => {}
            }
        }
        if failed {
            return Value::Tensor(Tensor::unknown(span));
        }
        let [(_, output)] = model.outputs.as_slice() else {
            self.report(CheckError::BlockOutputs {
                block: Some(model.name.clone()),
                outputs: model.outputs.iter().map(|(n, _)| n.clone()).collect(),
                given: Some(1),
                span,
            });
            return Value::Tensor(Tensor::unknown(span));
        };
        let naming = self.builder.child_scope(scope.place.naming, &model.name);
        let place = Place {
            naming,
            depth: scope.place.depth,
        };
        let mut values: Vec<Option<Tensor>> = vec![None; model.nodes.len()];
        for (k, &input) in model.inputs.iter().enumerate() {
            values[input.0] = tensors.get(k).map(|(t, _)| t.clone());
        }
        for (i, node) in model.nodes.iter().enumerate() {
            if node.op == Op::Input {
                continue;
            }
            let inputs: Option<Vec<Tensor>> = node
                .inputs
                .iter()
                .map(|id| values.get(id.0).cloned().flatten())
                .collect();
            let Some(inputs) = inputs else {
                return Value::Tensor(Tensor::unknown(span));
            };
            let op = relayer(&node.op, player.offset);
            let act = match &op {
                Op::Dense { act, .. }
                | Op::Conv2d { act, .. }
                | Op::ConvTranspose2d { act, .. }
                | Op::Activation(act) => OutAct::Act(*act),
                _ => OutAct::Plain,
            };
            let derivation = Derivation::Layer {
                layer: model.name.clone(),
                inputs: inputs.iter().filter_map(|t| t.shape.clone()).collect(),
                windows: Vec::new(),
            };
            let refs: Vec<&Tensor> = inputs.iter().collect();
            let t = self.new_node(
                place,
                &node.name,
                op,
                &refs,
                node.shape.clone(),
                node.span,
                derivation,
                act,
            );
            values[i] = Some(t);
        }
        // The output keeps where the player computes it (its last layer),
        // for reports about its shape.
        let Some(out) = values.get(output.0).cloned().flatten() else {
            return Value::Tensor(Tensor::unknown(span));
        };
        if updated && out.shape.as_deref() == Some(&[1][..]) {
            let label = call_label(&model.name, args);
            if let Some(step) = self.step.as_mut() {
                let taken = step
                    .monitors
                    .iter()
                    .filter(|(l, _)| l.starts_with(&label))
                    .count();
                let label = if taken == 0 {
                    label
                } else {
                    format!("{label}_{}", taken + 1)
                };
                step.monitors.push((label, out.clone()));
            }
        }
        Value::Tensor(out)
    }
}

/// `op` with its layer (if any) moved by `offset`: a player's layer in the
/// step's list.
fn relayer(op: &Op, offset: usize) -> Op {
    let mut op = op.clone();
    match &mut op {
        Op::Dense { layer, .. }
        | Op::Conv2d { layer, .. }
        | Op::ConvTranspose2d { layer, .. }
        | Op::Param { layer, .. } => layer.0 += offset,
        _ => {}
    }
    op
}

/// How reports name a call: `discriminator(real)`, with each argument's
/// name, or `…` for an argument that is no plain name.
fn call_label(model: &str, args: &[Arg]) -> String {
    let parts: Vec<String> = args
        .iter()
        .map(|a| match &a.value.kind {
            ExprKind::Name(id) => id.name.clone(),
            _ => "…".to_string(),
        })
        .collect();
    format!("{model}({})", parts.join(", "))
}
