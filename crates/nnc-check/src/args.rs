//! Binding call arguments to parameters, for builtin layers, functions and
//! blocks alike.
//!
//! Positional arguments fill the parameters in order; named ones fill the
//! parameter of their name. Reported: a name the callee does not take
//! (E0104, with "did you mean"), required parameters left out (E0105, all
//! in one fact), more positional arguments than parameters (E0106) and a
//! parameter filled twice (E0107). A missing parameter that a misspelt
//! named argument was probably meant for is not reported twice.

use crate::checker::Checker;
use crate::habits::{suggestions_for, Habit};
use crate::value::ArgValue;
use nnc_diag::check::CheckError;
use nnc_diag::Span;

/// A callee's parameters in positional order, and which are required.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params<'p> {
    pub names: &'p [&'p str],
    pub required: &'p [bool],
}

impl<'p> Params<'p> {
    fn takes(&self) -> Vec<String> {
        self.names.iter().map(|n| n.to_string()).collect()
    }
}

impl<'a> Checker<'a> {
    /// One slot per parameter, filled with its argument if given.
    pub fn bind_args(
        &mut self,
        callee: &str,
        call_span: Span,
        params: Params<'_>,
        args: Vec<ArgValue>,
    ) -> Vec<Option<ArgValue>> {
        let mut slots: Vec<Option<ArgValue>> = vec![None; params.names.len()];
        let mut next_positional = 0;
        let mut positional_count = 0;
        let mut first_extra: Option<Span> = None;
        let mut meant: Vec<String> = Vec::new();
        for arg in args {
            match arg.name.clone() {
                None => {
                    positional_count += 1;
                    if next_positional >= slots.len() {
                        first_extra.get_or_insert(arg.arg_span);
                        continue;
                    }
                    let index = next_positional;
                    next_positional += 1;
                    self.fill(callee, &mut slots, index, arg, params);
                }
                Some(name) => match params.names.iter().position(|p| *p == name.name) {
                    Some(index) => self.fill(callee, &mut slots, index, arg, params),
                    None => {
                        let did_you_mean =
                            suggestions_for(Habit::Argument, &name.name, params.names);
                        meant.extend(did_you_mean.iter().cloned());
                        self.report(CheckError::UnknownArgument {
                            callee: callee.to_string(),
                            name: name.name.clone(),
                            span: name.span,
                            did_you_mean,
                            takes: params.takes(),
                        });
                    }
                },
            }
        }
        if let Some(span) = first_extra {
            self.report(CheckError::TooManyPositional {
                callee: callee.to_string(),
                max: params.names.len(),
                given: positional_count,
                span,
                takes: params.takes(),
            });
        }
        let missing: Vec<String> = params
            .names
            .iter()
            .zip(params.required.iter())
            .zip(slots.iter())
            .filter(|((name, required), slot)| {
                **required && slot.is_none() && !meant.iter().any(|m| m == *name)
            })
            .map(|((name, _), _)| name.to_string())
            .collect();
        if !missing.is_empty() {
            self.report(CheckError::MissingArguments {
                callee: callee.to_string(),
                names: missing,
                span: call_span,
                takes: params.takes(),
            });
        }
        slots
    }

    fn fill(
        &mut self,
        callee: &str,
        slots: &mut [Option<ArgValue>],
        index: usize,
        arg: ArgValue,
        params: Params<'_>,
    ) {
        let Some(slot) = slots.get_mut(index) else {
            return;
        };
        match slot {
            Some(first) => {
                let first_span = first.arg_span;
                self.report(CheckError::ArgumentTwice {
                    callee: callee.to_string(),
                    name: params
                        .names
                        .get(index)
                        .map(|n| n.to_string())
                        .unwrap_or_default(),
                    span: arg.arg_span,
                    first: first_span,
                });
            }
            None => *slot = Some(arg),
        }
    }
}
