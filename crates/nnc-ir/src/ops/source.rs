//! Sources: graph inputs and constants. They have no operands, so their
//! shape is part of the op, and no gradient flows through them.

use super::{arity, Op, ShapeError};
use crate::graph::Shape;

/// Shape rule of `input` and `fill`: the shape they carry.
pub(crate) fn shape(op: &Op, inputs: &[&[usize]]) -> Result<Shape, ShapeError> {
    arity(inputs, 0)?;
    match op {
        Op::Input { shape, .. } | Op::Fill { shape, .. } => Ok(shape.clone()),
        _ => Err(ShapeError::Invalid("not a source op")),
    }
}
