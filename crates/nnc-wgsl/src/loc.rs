//! Where a value lives before memory is placed: shared by the emitter
//! (module `emit`), the pointwise groups (module `group`) and the shaders
//! of the other ops (module `kernels`).

use nnc_ir::NodeId;

/// Where a value lives, before memory is placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Loc {
    /// The value of a graph node: an input's buffer, or its place in the
    /// working memory.
    Node(NodeId),
    /// Body value `j` of kernel node `k`, a temporary in the kernel's
    /// scratch memory.
    Temp(NodeId, usize),
    /// Upload number `u`.
    Upload(usize),
}
