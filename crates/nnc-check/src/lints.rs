//! W0105: definitions that are never used. Names starting with `_` are
//! exempt. The other lints live next to what they look at: W0101 with the
//! window arithmetic (`layers.rs`), W0102 and W0104 with the costs
//! (`costs.rs`), W0103 with the initialisers (`init.rs`).

use crate::checker::Checker;
use crate::scope::Scope;
use nnc_diag::check::{CheckError, DefKind};

impl<'a> Checker<'a> {
    /// Unused `let` and `layer` bindings of a body.
    pub fn lint_unused_locals(&mut self, scope: &Scope) {
        let unused: Vec<CheckError> = scope
            .unused()
            .filter(|l| !l.name.starts_with('_'))
            .map(|l| CheckError::Unused {
                kind: l.kind,
                name: l.name.clone(),
                span: l.span,
            })
            .collect();
        for warning in unused {
            self.report(warning);
        }
    }

    /// Unused constants and blocks of the file.
    pub fn lint_unused_items(&mut self) {
        let consts = self
            .consts
            .iter()
            .filter(|c| !c.used)
            .map(|c| (DefKind::Const, &c.item.name));
        let blocks = self
            .blocks
            .iter()
            .filter(|b| !b.used)
            .map(|b| (DefKind::Block, &b.item.name));
        let unused: Vec<CheckError> = consts
            .chain(blocks)
            .filter(|(_, name)| !name.name.starts_with('_'))
            .map(|(kind, name)| CheckError::Unused {
                kind,
                name: name.name.clone(),
                span: name.span,
            })
            .collect();
        for warning in unused {
            self.report(warning);
        }
    }
}
