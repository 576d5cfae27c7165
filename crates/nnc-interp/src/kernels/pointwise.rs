//! Every pointwise op, through its formula in the op table
//! (`nnc_ir::ops::table`): the formula is evaluated column by column over
//! the whole result, each primitive one tight loop, in the element type
//! `T` and in the formula's order of operations (so the values are the
//! ones the formula defines, bit for bit). Broadcast operands are read
//! through the axes the table gives them.

use super::values;
use crate::real::Real;
use ndarray::ArrayD;
use nnc_ir::scalar::{self, Bin, Scalar, Un};
use nnc_ir::Op;

/// A column of values: one per element of the result, or one for all.
enum Col<'a, T> {
    Slice(&'a [T]),
    Owned(Vec<T>),
    Splat(T),
}

impl<T: Real> Col<'_, T> {
    fn at(&self, i: usize) -> T {
        match self {
            Col::Slice(s) => s[i],
            Col::Owned(v) => v[i],
            Col::Splat(x) => *x,
        }
    }

    fn splat(&self) -> Option<T> {
        match self {
            Col::Splat(x) => Some(*x),
            _ => None,
        }
    }
}

/// Computes pointwise `op` of `inputs` into `out`.
pub(crate) fn eval<T: Real>(op: &Op, inputs: &[&ArrayD<T>], out: &mut ArrayD<T>) {
    let Some(formula) = op.formula() else {
        return;
    };
    let shape = out.shape().to_vec();
    let n = out.len();
    let operands: Vec<Col<'_, T>> = inputs
        .iter()
        .enumerate()
        .map(|(i, a)| operand(op, i, a, &shape))
        .collect();
    let value = column(&formula, &operands, n);
    let out = super::values_mut(out);
    match value {
        Col::Splat(x) => out.fill(x),
        col => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = col.at(i);
            }
        }
    }
}

/// Operand `i` of `op` as a column over the result of shape `out`.
fn operand<'a, T: Real>(op: &Op, i: usize, a: &'a ArrayD<T>, out: &[usize]) -> Col<'a, T> {
    let a_values = values(a);
    let count: usize = out.iter().product();
    if a.shape() == out {
        return Col::Slice(a_values);
    }
    if a.ndim() == 0 || (a.len() == 1 && count == 1) {
        return Col::Splat(a_values[0]);
    }
    match op.operand_axes(i, out.len()) {
        None => Col::Slice(a_values),
        Some(axes) if axes.is_empty() => Col::Splat(a_values[0]),
        Some(axes) => {
            // The operand's flat stride along each axis of the result.
            let mut stride = vec![0usize; out.len()];
            let mut next = 1;
            for &axis in axes.iter().rev() {
                stride[axis] = next;
                next *= out[axis];
            }
            let mut column = Vec::with_capacity(count);
            let mut index = vec![0usize; out.len()];
            let mut flat = 0usize;
            for _ in 0..count {
                column.push(a_values[flat]);
                for axis in (0..out.len()).rev() {
                    index[axis] += 1;
                    flat += stride[axis];
                    if index[axis] < out[axis] {
                        break;
                    }
                    flat -= stride[axis] * out[axis];
                    index[axis] = 0;
                }
            }
            Col::Owned(column)
        }
    }
}

/// The formula's value at every element.
fn column<'a, T: Real>(f: &Scalar, args: &'a [Col<'a, T>], n: usize) -> Col<'a, T> {
    let borrow = |c: &'a Col<'a, T>| match c {
        Col::Slice(s) => Col::Slice(s),
        Col::Owned(v) => Col::Slice(v.as_slice()),
        Col::Splat(x) => Col::Splat(*x),
    };
    match f {
        Scalar::Arg(i) => borrow(&args[*i]),
        Scalar::Const(v) => Col::Splat(T::of(*v)),
        Scalar::Un(op, x) => {
            let x = column(x, args, n);
            map(n, &[&x], |v| un(*op, v[0]))
        }
        Scalar::Bin(op, a, b) => {
            let (a, b) = (column(a, args, n), column(b, args, n));
            map(n, &[&a, &b], |v| bin(*op, v[0], v[1]))
        }
        Scalar::Select {
            cmp,
            a,
            b,
            then,
            otherwise,
        } => {
            let (a, b) = (column(a, args, n), column(b, args, n));
            let (t, o) = (column(then, args, n), column(otherwise, args, n));
            map(n, &[&a, &b, &t, &o], |v| {
                if cmp.holds(v[0], v[1]) {
                    v[2]
                } else {
                    v[3]
                }
            })
        }
    }
}

/// `f` of the columns at each element (one value when all are splats).
fn map<'a, T: Real, const K: usize>(
    n: usize,
    cols: &[&Col<'_, T>; K],
    f: impl Fn([T; K]) -> T,
) -> Col<'a, T> {
    if let Some(splats) = cols.iter().map(|c| c.splat()).collect::<Option<Vec<T>>>() {
        let mut v = [T::zero(); K];
        v.copy_from_slice(&splats);
        return Col::Splat(f(v));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(f(std::array::from_fn(|k| cols[k].at(i))));
    }
    Col::Owned(out)
}

fn un<T: Real>(op: Un, x: T) -> T {
    match op {
        Un::Neg => -x,
        Un::Abs => x.abs(),
        Un::Sqrt => x.sqrt(),
        Un::Exp => x.exp(),
        Un::Log => x.ln(),
        Un::Sigmoid => sigmoid(x),
        Un::Tanh => x.tanh(),
        Un::Erf => T::of(scalar::erf(x.as_f64())),
    }
}

fn bin<T: Real>(op: Bin, a: T, b: T) -> T {
    match op {
        Bin::Add => a + b,
        Bin::Sub => a - b,
        Bin::Mul => a * b,
        Bin::Div => a / b,
        Bin::Max => a.max(b),
        Bin::Min => a.min(b),
    }
}

/// `1 / (1 + e^-x)`, without overflow for any `x`.
pub(crate) fn sigmoid<T: Real>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}
