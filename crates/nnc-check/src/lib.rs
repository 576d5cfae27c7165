//! The checker of nnc: a syntax tree in, a fully resolved [`Program`] and
//! every error and warning of the file out.
//!
//! [`check`] is the only entry point. It folds constants, expands blocks
//! (each instantiation with its own weights), resolves names, reads every
//! builtin's arguments against its schema, infers every tensor's shape with
//! the exact convolution and pooling arithmetic, and checks data and train
//! blocks and how they fit the model they train. Everything it finds is a
//! fact, a variant of [`nnc_diag::check::CheckError`] carrying spans and the
//! actual numbers; the wording lives in `nnc-diag`.
//!
//! Invariants:
//! - Checking never fails and never panics: any syntax tree gives a
//!   program and a list of facts. Arithmetic on user numbers is checked
//!   (`i128` for window sizes, checked products for shapes and parameter
//!   counts), so absurd sizes are reported (E0209), not overflowed.
//! - Every error of a file is reported in one run. A value whose error was
//!   reported becomes *unknown*, and everything computed from an unknown
//!   value is unknown and reports nothing, so a mistake is reported where
//!   it is made and not again downstream.
//!   The same fact at the same place is reported once (a block expanded
//!   twice reports a problem in its body once). Facts come sorted by
//!   position.
//! - The program holds only what checked clean: a model, data block or
//!   train block with an error in it is left out. In every model kept,
//!   every node has a shape whose number of values fits a `usize`, the node
//!   list is in topological order (inputs before the nodes that read
//!   them), every `values([...])` initialiser has exactly its parameter's
//!   shape, and every parameter count fits a `usize`.
//! - Warnings (the `W` codes) never remove anything from the program.
//!
//! The passes, in order: index the items (`checker.rs`), find recursive
//! blocks (`blocks.rs`), evaluate the constants (`consts.rs`), check each
//! block once on its own with unknown inputs (`blocks.rs`), then check
//! models (`model.rs`, with `eval.rs` for expressions, `apply.rs` and
//! `layers.rs` for layers and shapes, `init.rs`, `costs.rs`), data blocks
//! (`data.rs`) and train blocks (`train.rs`), and finally report unused
//! items (`lints.rs`). A fact found while expanding a block instantiation
//! is wrapped in `CheckError::InBlock`, which names the instantiation.

mod apply;
mod args;
mod augment;
mod blocks;
mod builder;
mod checker;
mod consts;
mod convert;
mod costs;
pub mod cut;
mod data;
mod eval;
mod game;
mod habits;
mod init;
mod layers;
mod lints;
mod model;
mod players;
pub mod program;
mod recurrent;
mod scope;
mod settings;
pub mod shape;
mod spatial;
pub mod summary;
mod train;
mod transpose;
mod unroll;
mod value;

use checker::Checker;
use nnc_diag::check::CheckError;
use nnc_syntax::ast::{File, Item};
use program::Program;

/// What checking a file produced.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The parts of the program that checked clean.
    pub program: Program,
    /// Every error and warning, sorted by position.
    pub errors: Vec<CheckError>,
}

impl Checked {
    /// Whether any fact is an error (warnings do not count).
    pub fn has_errors(&self) -> bool {
        self.errors.iter().any(CheckError::is_error)
    }
}

/// Checks a parsed file.
pub fn check(file: &File) -> Checked {
    let mut checker = Checker::new(file);
    checker.find_recursive_blocks();
    checker.evaluate_consts();
    checker.check_blocks_alone();
    let mut program = Program {
        models: Vec::new(),
        data: Vec::new(),
        trains: Vec::new(),
    };
    let mut model_infos = Vec::new();
    for (index, item) in checker.models.clone().into_iter().enumerate() {
        let (model, info) = checker.check_model(item);
        if checker.duplicate_models.contains(&index) {
            continue;
        }
        program.models.extend(model);
        model_infos.push(info);
    }
    let mut data_infos = Vec::new();
    for (index, item) in checker.data.clone().into_iter().enumerate() {
        let (spec, info) = checker.check_data(item);
        if checker.duplicate_data.contains(&index) {
            continue;
        }
        program.data.extend(spec);
        data_infos.push(info);
    }
    for item in &file.items {
        if let Item::Train(train) = item {
            let spec = checker.check_train(train, &model_infos, &program.models, &data_infos);
            let known = |spec: &program::TrainSpec| {
                program.model(&spec.model).is_some() && program.data(&spec.data).is_some()
            };
            program.trains.extend(spec.filter(known));
        }
    }
    checker.lint_unused_items();
    Checked {
        program,
        errors: checker.finish(),
    }
}
