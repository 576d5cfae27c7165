//! placeholder
pub mod ast;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/nnet.pest"]
struct NnetParser;
