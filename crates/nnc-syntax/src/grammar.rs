//! The pest parser generated from `grammar/nnet.pest`; private to this crate.

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/nnet.pest"]
pub(crate) struct NnetParser;
