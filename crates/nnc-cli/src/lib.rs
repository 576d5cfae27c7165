//! The `nnc` command line: a thin shell over the pipeline stages.
//!
//! The crate holds no compiler logic. [`driver`] strings the stages together
//! (parse, check, inspect data); [`summary_table`] lays out `nnc summary`;
//! `main.rs` parses arguments, reads files and prints. Exit codes: 0 when clean
//! (warnings allowed), 1 when any error was found, 2 on usage errors and
//! unreadable files.

pub mod driver;
pub mod summary_table;
