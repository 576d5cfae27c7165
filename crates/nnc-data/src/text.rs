//! Text files for character models: read whole (gzipped or not), decoded
//! as UTF-8, as a sequence of characters.

use crate::open::{open_data_file, ReadFailure};
use nnc_diag::data::FileProblem;
use std::path::Path;

/// The characters of the text file at `path`.
pub(crate) fn read_text(path: &Path) -> Result<Vec<char>, FileProblem> {
    let mut file = open_data_file(path)?;
    let mut bytes = Vec::new();
    if let Err(err) = file.reader().read_to_end(&mut bytes) {
        return Err(match file.read_problem(&err, bytes.len() as u64) {
            ReadFailure::GzipEndsEarly => FileProblem::GzipEndsEarly {
                after: bytes.len() as u64,
            },
            ReadFailure::Problem(p) => p,
        });
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text.chars().collect()),
        Err(e) => Err(FileProblem::Unreadable {
            reason: format!(
                "it is not UTF-8 text (byte {} cannot start a character)",
                e.utf8_error().valid_up_to()
            ),
        }),
    }
}

/// The number of examples of `context` characters a text of `chars`
/// characters gives: each example also needs the character after its
/// last one (the last step's target).
pub fn text_examples(chars: usize, context: usize) -> usize {
    chars.saturating_sub(1) / context.max(1)
}

/// The sorted distinct characters of `chars`.
pub fn vocabulary_of(chars: &[char]) -> Vec<char> {
    let mut ascii = [false; 128];
    let mut other = std::collections::BTreeSet::new();
    for &c in chars {
        match ascii.get_mut(c as usize) {
            Some(seen) => *seen = true,
            None => {
                other.insert(c);
            }
        }
    }
    (0u8..128)
        .filter(|&b| ascii[usize::from(b)])
        .map(char::from)
        .chain(other)
        .collect()
}
