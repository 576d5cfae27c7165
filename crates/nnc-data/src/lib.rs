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
//! [`load`] is the other entry point (`nnc run`): it reads the sources of one
//! data block whole into memory, once each, runs the same checks over what
//! it read, and returns the splits as [`Dataset`]s that fill batches of
//! scaled `f32` inputs and target rows (one-hot, class index or values).
//! Pixels stay bytes in memory (MNIST's 60,000 training images take 47 MB)
//! and are scaled per batch; image folders are decoded ([`image`]: PNG and
//! JPEG), converted and resized ([`resize`]) once, at load time.
//!
//! Below both lies the reusable reading layer:
//! [`open_data_file`] (gzip detected by the magic bytes `1f 8b`, never by
//! name), [`read_idx_header`], [`check_idx_file`], [`open_idx`] and its
//! [`IdxReader`] (streams values as `f32`/`f64`), [`scan_idx_labels`],
//! [`inspect_csv`], [`inspect_folder`] and [`class_images`].
//!
//! Invariants:
//! - No input panics the stage: every file is untrusted, every arithmetic on
//!   sizes read from a file is checked, every failure is a
//!   [`nnc_diag::data::FileProblem`] or a [`nnc_diag::data::DataError`].
//! - Inspection's memory stays bounded whatever the files' sizes: files are
//!   streamed through fixed buffers (gzip payloads are counted, not kept),
//!   CSV lines are limited to [`csv::LINE_LIMIT`] bytes, and only counts and
//!   names are kept from folder listings. Loading keeps the examples, as
//!   compactly as they allow, and grows its buffers as data arrives, so a
//!   header that promises more than its file holds reserves little.
//! - The stage never words a problem: the facts go to `nnc-diag`.
//! - Paths in a program are relative to the `.nnet` file's folder.
//! - Loading runs inspection's checks over the facts its readers record, so
//!   a problem is the same fact in `nnc check --data` and `nnc run`; loading
//!   finds more only where it reads more (an image that cannot be decoded).
//! - Loading is deterministic: the same files give the same bytes in the
//!   same order, whatever the number of decoding threads.

mod augment;
pub mod csv;
pub mod folder;
pub mod idx;
pub mod image;
mod inspect;
mod load;
pub mod open;
pub mod resize;
mod spec;
pub mod text;

pub use csv::{inspect_csv, read_csv, CsvOptions, CsvSummary};
pub use folder::{class_images, inspect_folder, ClassFolder, FolderSummary};
pub use idx::{
    check_idx_file, open_idx, read_idx_header, scan_idx_labels, IdxHeader, IdxReader, LabelStats,
};
pub use inspect::inspect;
pub use load::{load, Dataset, LoadedData, TargetKind};
pub use nnc_diag::data::{DataError, FileProblem, IdxType, ImageFormat, ImageProblem, SplitKind};
pub use open::{open_data_file, resolve, DataFile};
/// Whether examples of a shape can feed a model input (`nnc predict` checks
/// its inputs with the rules the data checks use).
pub use spec::fits as example_fits;
