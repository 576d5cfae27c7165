//! Dropout masks. Inverted dropout is `x * mask`, where the mask holds `0`
//! with probability `p` and `1 / (1 - p)` otherwise, so the expected value
//! of each unit is unchanged and inference needs no rescaling. The mask is
//! a pure function of the step seed and the op's `stream`: the values are
//! drawn, in row-major order, from `Rng::derive(step_seed, stream)`, a value
//! being dropped when `uniform() < p`.

use super::{arity, rank, Op, ShapeError};
use crate::graph::Shape;

/// Shape rule: `dropout_mask(seed [])` has the shape it carries; `p` is in
/// `[0, 1)`.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    let (p, shape) = match op {
        Op::DropoutMask { p, shape, .. } => (p, shape),
        Op::Random { shape, .. } => (&0.0, shape),
        _ => return Err(ShapeError::Invalid("not a random op")),
    };
    arity(inputs, 1)?;
    rank(inputs, 0, 0)?;
    if !(0.0..1.0).contains(p) {
        return Err(ShapeError::Invalid("dropout probability must be in [0, 1)"));
    }
    Ok(shape.clone())
}
