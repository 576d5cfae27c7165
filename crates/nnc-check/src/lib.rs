//! placeholder
pub mod program;
