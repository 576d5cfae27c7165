//! The data stage of nnc: opens the data files a checked program names and
//! reports, as facts, whatever does not fit.
//!
//! [`inspect`] is the stage's entry point (`nnc check --data`). It reads each
//! source of each data block once: the header and length of IDX files, every
//! row of CSV files, the listing of image folders, and the values of IDX
//! labels files (small). It then checks the splits against the sources'
//! example counts, the labels against `one_hot(k)`, and, for each
//! `train MODEL on DATA`, the data against that model's input and output.
//! Data that no train block uses is checked on its own, not against a model.
//!
//! Below it lies the reusable reading layer the training loaders build on:
//! [`open_data_file`] (gzip detected by the magic bytes `1f 8b`, never by
//! name), [`read_idx_header`], [`check_idx_file`], [`open_idx`] and its
//! [`IdxReader`] (streams values as `f32`/`f64`), [`scan_idx_labels`],
//! [`inspect_csv`], [`inspect_folder`] and [`class_images`].
//!
//! Invariants:
//! - No input panics the stage: every file is untrusted, every arithmetic on
//!   sizes read from a file is checked, every failure is a
//!   [`nnc_diag::data::FileProblem`] or a [`nnc_diag::data::DataError`].
//! - Memory stays bounded whatever the files' sizes: files are streamed
//!   through fixed buffers (gzip payloads are counted, not kept), CSV lines
//!   are limited to [`csv::LINE_LIMIT`] bytes, and only counts and names are
//!   kept from folder listings.
//! - The stage never words a problem: the facts go to `nnc-diag`.
//! - Paths in a program are relative to the `.nnet` file's folder.

pub mod csv;
pub mod folder;
pub mod idx;
mod inspect;
pub mod open;

pub use csv::{inspect_csv, CsvOptions, CsvSummary};
pub use folder::{class_images, inspect_folder, ClassFolder, FolderSummary};
pub use idx::{
    check_idx_file, open_idx, read_idx_header, scan_idx_labels, IdxHeader, IdxReader, LabelStats,
};
pub use inspect::inspect;
pub use nnc_diag::data::{FileProblem, IdxType};
pub use open::{open_data_file, resolve, DataFile};
