//! `unroll(cell, sequence, return: all | last, state: [...])`: a dataflow
//! block applied to each step of a sequence `[T, features]`, its states
//! carried from step to step.
//!
//! A cell's first input is the step's value; every further input is a
//! state, and the output `STATE_next` is that state at the next step. The
//! cell is one `layer` instance applied T times, so every step shares its
//! weights; the gradient through the steps (backpropagation through time)
//! is the autodiff of the expanded graph. The states start at zero (their
//! declared shapes) or at the tensors of `state:`. The value of a step is
//! the block's first output that is no state's next value, else the first
//! state's next value; `return: all` stacks them (`[T, ...]`), `return:
//! last` gives the last.

use crate::builder::{Instance, OutAct};
use crate::checker::Checker;
use crate::program::{Op, Shape};
use crate::scope::{Scope, ScopeKind};
use crate::value::{ArgValue, LayerFn, Tensor, Value};
use nnc_diag::check::{
    CellProblem, CheckError, Derivation, Expected, OptionKind, RankNeed, Subject,
};
use nnc_diag::Span;
use nnc_syntax::ast::{BlockBody, Stmt};

const RETURNS: &[(&str, bool)] = &[("all", true), ("last", false)];

/// `unroll`'s arguments, in order, for the messages that list them.
fn unroll_arguments() -> Vec<String> {
    ["cell", "sequence", "return", "state"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// A state of a cell: its name, where it is declared, its declared shape
/// expression and the index of its next value among the outputs.
struct State<'a> {
    name: String,
    span: Span,
    shape: Option<&'a nnc_syntax::ast::Expr>,
    next: usize,
}

impl<'a> Checker<'a> {
    /// `unroll(cell, sequence, ...)` in a model or block.
    pub(crate) fn eval_unroll(
        &mut self,
        scope: &mut Scope,
        values: Vec<ArgValue>,
        span: Span,
    ) -> Value {
        let unknown = Value::Tensor(Tensor::unknown(span));
        let subject = |param: &str| Subject::Argument {
            callee: "unroll".into(),
            param: param.into(),
        };
        let mut positional = Vec::new();
        let mut all = Some(true);
        let mut initial: Option<(Vec<Tensor>, Span)> = None;
        for arg in values {
            match arg.name.as_ref().map(|n| n.name.as_str()) {
                None => positional.push(arg),
                Some("return") => {
                    all = self.option(
                        &arg.value,
                        arg.span,
                        subject("return"),
                        OptionKind::Return,
                        RETURNS,
                    );
                }
                Some("state") => {
                    let items = match &arg.value {
                        Value::List(items) => {
                            items.iter().map(|i| (i.value.clone(), i.span)).collect()
                        }
                        Value::Tensor(_) => vec![(arg.value.clone(), arg.span)],
                        other => {
                            self.wrong_kind(other, arg.span, subject("state"), Expected::Tensor);
                            return unknown;
                        }
                    };
                    let mut tensors = Vec::new();
                    for (value, at) in items {
                        match value {
                            Value::Tensor(t) => tensors.push(t),
                            Value::Unknown => tensors.push(Tensor::unknown(at)),
                            other => {
                                self.wrong_kind(&other, at, subject("state"), Expected::Tensor);
                                return unknown;
                            }
                        }
                    }
                    initial = Some((tensors, arg.span));
                }
                Some(_) => {
                    let Some(name) = arg.name.clone() else {
                        return unknown;
                    };
                    self.report(CheckError::UnknownArgument {
                        callee: "unroll".into(),
                        name: name.name.clone(),
                        span: name.span,
                        did_you_mean: nnc_diag::suggestions(&name.name, ["return", "state"]),
                        takes: unroll_arguments(),
                    });
                    return unknown;
                }
            }
        }
        let mut positional = positional.into_iter();
        let (Some(cell_arg), Some(seq_arg)) = (positional.next(), positional.next()) else {
            self.report(CheckError::MissingArguments {
                callee: "unroll".into(),
                names: vec!["cell".into(), "sequence".into()],
                span,
                takes: unroll_arguments(),
            });
            return unknown;
        };
        if let Some(extra) = positional.next() {
            self.report(CheckError::TooManyPositional {
                callee: "unroll".into(),
                max: 2,
                given: 3,
                span: extra.arg_span,
                takes: vec!["cell".into(), "sequence".into()],
            });
            return unknown;
        }
        let Some(all) = all else {
            return unknown;
        };
        let call = match &cell_arg.value {
            Value::Layer(LayerFn::Block(call)) => call.clone(),
            Value::Unknown | Value::Layer(LayerFn::Unknown) => return unknown,
            other => {
                let found = match other {
                    Value::Layer(_) => "a layer".to_string(),
                    Value::Tensor(_) => "a tensor".to_string(),
                    _ => "a value that is no block".to_string(),
                };
                self.report(CheckError::Cell {
                    block: String::new(),
                    problem: CellProblem::NotABlock { found },
                    span,
                    at: cell_arg.span,
                });
                return unknown;
            }
        };
        let seq = match seq_arg.value {
            Value::Tensor(t) => t,
            Value::Unknown => return unknown,
            other => {
                self.wrong_kind(&other, seq_arg.span, subject("sequence"), Expected::Tensor);
                return unknown;
            }
        };
        let Some(def) = self.blocks.get(call.block) else {
            return unknown;
        };
        let item = def.item;
        let block = item.name.name.clone();
        let BlockBody::Dataflow(stmts) = &item.body else {
            self.report(CheckError::Cell {
                block: block.clone(),
                problem: CellProblem::NotABlock {
                    found: format!("the sequential block `{block}`"),
                },
                span,
                at: cell_arg.span,
            });
            return unknown;
        };
        let inputs: Vec<(&nnc_syntax::ast::Ident, Option<&'a nnc_syntax::ast::Expr>)> = stmts
            .iter()
            .filter_map(|s| match s {
                Stmt::Input { name, shape, .. } => Some((name, shape.as_ref())),
                _ => None,
            })
            .collect();
        let outputs: Vec<String> = stmts
            .iter()
            .filter_map(|s| match s {
                Stmt::Output { name, .. } => Some(name.name.clone()),
                _ => None,
            })
            .collect();
        if inputs.len() < 2 {
            self.report(CheckError::Cell {
                block: block.clone(),
                problem: CellProblem::NoState {
                    inputs: inputs.iter().map(|(n, _)| n.name.clone()).collect(),
                },
                span,
                at: item.name.span,
            });
            return unknown;
        }
        let mut states = Vec::new();
        let mut ok = true;
        for (name, shape) in &inputs[1..] {
            let wanted = format!("{}_next", name.name);
            match outputs.iter().position(|o| *o == wanted) {
                Some(next) => states.push(State {
                    name: name.name.clone(),
                    span: name.span,
                    shape: *shape,
                    next,
                }),
                None => {
                    self.report(CheckError::Cell {
                        block: block.clone(),
                        problem: CellProblem::NoNext {
                            state: name.name.clone(),
                            outputs: outputs.clone(),
                        },
                        span,
                        at: name.span,
                    });
                    ok = false;
                }
            }
        }
        // The sequence.
        let Some(seq_shape) = seq.shape.clone() else {
            return unknown;
        };
        let [steps, features] = seq_shape.as_slice() else {
            self.report(CheckError::WrongRank {
                layer: "unroll".into(),
                need: RankNeed::Sequence,
                actual: seq_shape.clone(),
                span: seq_arg.span,
                input_from: seq.from,
            });
            return unknown;
        };
        let (steps, features) = (*steps, *features);
        // The initial states.
        let mut current: Vec<Tensor> = Vec::new();
        let zero_start = initial.is_none();
        match initial {
            Some((tensors, at)) => {
                if tensors.len() != states.len() {
                    self.report(CheckError::Cell {
                        block: block.clone(),
                        problem: CellProblem::StateCount {
                            expected: states.iter().map(|s| s.name.clone()).collect(),
                            given: tensors.len(),
                        },
                        span: at,
                        at: item.name.span,
                    });
                    return unknown;
                }
                current = tensors;
            }
            None => {
                let mut shape_scope = Scope::new(ScopeKind::Block, scope.place);
                self.bind_params_of(&mut shape_scope, call.block, &call.params);
                for state in &states {
                    let Some(expr) = state.shape else {
                        self.report(CheckError::Cell {
                            block: block.clone(),
                            problem: CellProblem::NoShape {
                                state: state.name.clone(),
                            },
                            span,
                            at: state.span,
                        });
                        ok = false;
                        continue;
                    };
                    let value = self.eval(&mut shape_scope, expr);
                    let subject = Subject::InputShape {
                        name: state.name.clone(),
                    };
                    let Some(shape) = self.shape(&value, expr.span, subject) else {
                        ok = false;
                        continue;
                    };
                    current.push(self.zeros(scope, shape, state.span));
                }
            }
        }
        if !ok {
            return unknown;
        }
        // One instance, applied at every step.
        let instance = self.builder.instances.len();
        self.builder.instances.push(Instance {
            name: block.clone(),
            span: call.span,
            layer: LayerFn::Block(call.clone()),
            weights: Vec::new(),
        });
        let place = scope.place;
        let starts = zero_start.then(|| current.clone());
        let first_node = self.builder.nodes.len();
        let mut step_values: Vec<Tensor> = Vec::with_capacity(steps);
        let step_output = (0..outputs.len())
            .find(|k| states.iter().all(|s| s.next != *k))
            .unwrap_or(states[0].next);
        for t in 0..steps {
            let row = self.slice_tensor(place, seq.clone(), Some(t), Some(t + 1), span);
            let x = self.reshape_node(place, row, vec![features], span);
            let mut args = vec![x];
            args.extend(current.iter().cloned());
            // As a `layer` instance is applied (the weights of the first
            // step are shared by all), with the block's own names.
            let saved = self.unpacking.replace(call.span);
            self.builder.start_instance(instance);
            let first = self.expand_block(place, &call, args);
            self.builder.end_instance();
            self.unpacking = saved;
            let produced: Vec<Tensor> = match self.block_outputs.remove(&call.span) {
                Some(all) => all.into_iter().map(|(_, t)| t).collect(),
                None => vec![first],
            };
            if produced.len() != outputs.len() || produced.iter().any(|t| t.shape.is_none()) {
                return unknown;
            }
            let mut next = Vec::with_capacity(states.len());
            for (state, now) in states.iter().zip(&current) {
                let value = produced[state.next].clone();
                if t == 0 && value.shape != now.shape {
                    self.report(CheckError::Cell {
                        block: block.clone(),
                        problem: CellProblem::StateShape {
                            state: state.name.clone(),
                            expected: now.shape.clone().unwrap_or_default(),
                            found: value.shape.clone().unwrap_or_default(),
                        },
                        span,
                        at: state.span,
                    });
                    return unknown;
                }
                next.push(value);
            }
            step_values.push(produced[step_output].clone());
            current = next;
        }
        // Every step made as many nodes as the first: reports show one.
        let made = self.builder.nodes.len() - first_node;
        if steps > 1 && made.is_multiple_of(steps) {
            self.builder.unrolls.push(crate::program::Unrolled {
                block: block.clone(),
                first: crate::program::NodeId(first_node),
                per_step: made / steps,
                steps,
            });
        }
        // States that start at zero can start where the previous batch
        // ended instead (`bptt`).
        for (start, end) in starts.iter().flatten().zip(&current) {
            if let (Some(start), Some(end)) = (start.node, end.node) {
                self.builder.zero_states.push((start, end));
            }
        }
        if !all {
            return step_values.pop().map_or(unknown, Value::Tensor);
        }
        // Every step's value, stacked along a new first axis.
        let mut rows = Vec::with_capacity(step_values.len());
        let first_row = self.builder.nodes.len();
        for v in step_values {
            let mut shape = vec![1];
            shape.extend(v.shape.clone().unwrap_or_default());
            rows.push(self.reshape_node(place, v, shape, span));
        }
        if steps > 1 && self.builder.nodes.len() - first_row == steps {
            self.builder.unrolls.push(crate::program::Unrolled {
                block: block.clone(),
                first: crate::program::NodeId(first_row),
                per_step: 1,
                steps,
            });
        }
        Value::Tensor(self.concat_tensors(place, &rows, 0, span))
    }

    /// A tensor of zeros of `shape` per example (a state's start).
    fn zeros(&mut self, scope: &Scope, shape: Shape, span: Span) -> Tensor {
        let derivation = Derivation::Layer {
            layer: "zeros".into(),
            inputs: Vec::new(),
            windows: Vec::new(),
        };
        self.new_node(
            scope.place,
            "zeros",
            Op::Zeros,
            &[],
            shape,
            span,
            derivation,
            OutAct::Plain,
        )
    }

    /// `t` with another shape of as many values.
    fn reshape_node(
        &mut self,
        place: crate::scope::Place,
        t: Tensor,
        shape: Shape,
        span: Span,
    ) -> Tensor {
        let derivation = Derivation::Layer {
            layer: "reshape".into(),
            inputs: vec![t.shape.clone().unwrap_or_default()],
            windows: Vec::new(),
        };
        let act = self.out_act(&t);
        self.new_node(
            place,
            "reshape",
            Op::Reshape,
            &[&t],
            shape,
            span,
            derivation,
            act,
        )
    }
}
