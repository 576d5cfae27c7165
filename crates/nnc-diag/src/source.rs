//! A model file that cannot be read (E0003): the facts the command line
//! gathers and their wording. The diagnostic is about the whole file, so it
//! has no source snippet ([`Diagnostic::is_file_level`]).

use crate::{suggestions, Diagnostic, Label, Span};
use serde::Serialize;

/// Why a `.nnet` file named on the command line could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum SourceProblem {
    /// No such file. `nearby` holds the `.nnet` files of its folder, for a
    /// "did you mean".
    NotFound { nearby: Vec<String> },
    /// The path is a folder; it holds `nnet_files` `.nnet` files.
    Directory { nnet_files: usize },
    /// The file exists but is not UTF-8 text.
    NotText,
    /// The file may not be read.
    Denied,
    /// Anything else the system said.
    Other { message: String },
}

/// A model file that could not be read, as written on the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceError {
    pub path: String,
    pub problem: SourceProblem,
}

impl SourceError {
    /// Words the fact for the user.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let path = &self.path;
        let (reason, hints): (String, Vec<String>) = match &self.problem {
            SourceProblem::NotFound { nearby } => {
                let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
                let close = suggestions(name, nearby.iter().map(String::as_str));
                let hint = match close.first() {
                    Some(best) => {
                        let folder = &path[..path.len() - name.len()];
                        format!("did you mean `{folder}{best}`?")
                    }
                    None => "check the path: it is relative to the folder `nnc` runs in".into(),
                };
                ("no such file".into(), vec![hint])
            }
            SourceProblem::Directory { nnet_files } => {
                let hint = if *nnet_files == 0 {
                    format!("`{path}` holds no .nnet file; name a .nnet file")
                } else {
                    let files = if *nnet_files == 1 { "file" } else { "files" };
                    format!(
                        "to check its {nnet_files} .nnet {files}, run `nnc check {}/*.nnet`",
                        path.trim_end_matches(['/', '\\'])
                    )
                };
                ("it is a folder".into(), vec![hint])
            }
            SourceProblem::NotText => (
                "it is not UTF-8 text".into(),
                vec!["a .nnet file is text; is this the model file?".into()],
            ),
            SourceProblem::Denied => (
                "permission denied".into(),
                vec!["make the file readable, or run as a user who may read it".into()],
            ),
            SourceProblem::Other { message } => (message.clone(), Vec::new()),
        };
        let mut d = Diagnostic::error(
            "E0003",
            format!("cannot read `{path}`: {reason}"),
            Label::new(Span::new(0, 0), ""),
        );
        for hint in hints {
            d = d.with_hint(hint);
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_suggests_a_close_name() {
        let d = SourceError {
            path: "models/mnist_784_30_1.nnet".into(),
            problem: SourceProblem::NotFound {
                nearby: vec!["mnist_784_30_10.nnet".into(), "xor_2_2_1.nnet".into()],
            },
        }
        .to_diagnostic();
        assert_eq!(d.code, "E0003");
        assert_eq!(
            d.message,
            "cannot read `models/mnist_784_30_1.nnet`: no such file"
        );
        assert_eq!(d.hints, ["did you mean `models/mnist_784_30_10.nnet`?"]);
        assert!(d.is_file_level());
    }

    #[test]
    fn a_folder_points_at_its_files() {
        let d = SourceError {
            path: "models/".into(),
            problem: SourceProblem::Directory { nnet_files: 3 },
        }
        .to_diagnostic();
        assert_eq!(d.message, "cannot read `models/`: it is a folder");
        assert_eq!(
            d.hints,
            ["to check its 3 .nnet files, run `nnc check models/*.nnet`"]
        );
    }
}
