//! Elementwise kernels over a `rows x cols` output, with operands that are
//! full tensors or broadcast along rows, columns, or everything.

use crate::ir::{Access, Affine, Expr, Kernel, Stmt, Ty};
use crate::kernels::{covering, widen};

/// How an operand of an elementwise kernel is indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A full `rows x cols` tensor, row-major.
    Full,
    /// A row of `cols` elements, the same for every row (a bias).
    Row,
    /// A column of `rows` elements, the same for every column.
    Col,
    /// One element for everything.
    Scalar,
}

/// `out[r, c] = f(operands at [r, c])` for a `rows x cols` output.
///
/// `f` receives one expression per operand, already loaded (and broadcast)
/// at the type it is given, and must return a value of that type: it is
/// called once per loop (four lanes, or one for rows shorter than four), and
/// must compute each element from the operands alone (the last vector of a
/// row may overlap the previous one and store some elements twice).
/// Buffers: the operands in order (read), then `out` (written).
pub fn elementwise(
    name: &str,
    rows: usize,
    cols: usize,
    operands: &[Operand],
    f: impl Fn(&[Expr], Ty) -> Expr,
) -> Kernel {
    let mut k = Kernel::new(name);
    let lens: Vec<usize> = operands
        .iter()
        .map(|o| match o {
            Operand::Full => rows * cols,
            Operand::Row => cols,
            Operand::Col => rows,
            Operand::Scalar => 1,
        })
        .collect();
    let bufs: Vec<_> = lens
        .iter()
        .enumerate()
        .map(|(i, &len)| k.buffer(format!("in{i}"), len, Access::Read))
        .collect();
    let out = k.buffer("out", rows * cols, Access::Write);
    // Without row or column broadcasts the data is one contiguous run.
    let two_d = operands
        .iter()
        .any(|o| matches!(o, Operand::Row | Operand::Col));
    let (rows, cols) = if two_d {
        (rows, cols)
    } else {
        (1, rows * cols)
    };
    let body = k.for_loop(0, rows, 1, 1, |k, r| {
        let row = Affine::var(r).times(cols as i64);
        let point = |c: &Affine, ty: Ty| -> (Vec<Expr>, Affine) {
            let at = row.clone().plus_affine(c);
            let args = operands
                .iter()
                .zip(&bufs)
                .map(|(o, &b)| match o {
                    Operand::Full => Expr::load(b, at.clone(), ty),
                    Operand::Row => Expr::load(b, c.clone(), ty),
                    Operand::Col => widen(Expr::load(b, Affine::var(r), Ty::F32), ty),
                    Operand::Scalar => widen(Expr::load(b, Affine::constant(0), Ty::F32), ty),
                })
                .collect();
            (args, at)
        };
        // Four lanes at a time, the last vector overlapping its neighbour
        // when 4 does not divide `cols` (see `covering`); rows shorter than
        // four elements are done one element at a time.
        let ranges = if cols >= 4 {
            covering(cols, 4)
        } else {
            vec![(0, cols, 1)]
        };
        let ty = if cols >= 4 { Ty::F32x4 } else { Ty::F32 };
        ranges
            .into_iter()
            .map(|(start, end, step)| {
                k.for_loop(start, end, step, 4, |_, c| {
                    let (args, at) = point(&Affine::var(c), ty);
                    vec![Stmt::Store {
                        buf: out,
                        index: at,
                        value: f(&args, ty),
                    }]
                })
            })
            .collect()
    });
    k.body.push(body);
    k
}

/// `out = alpha * x` over `len` elements.
pub fn scale(name: &str, len: usize, alpha: f32) -> Kernel {
    elementwise(name, 1, len, &[Operand::Full], |a, ty| {
        Expr::mul(Expr::constant(alpha, ty), a[0].clone())
    })
}

/// `out = alpha * x + y` over `len` elements (buffers `x`, `y`, `out`).
pub fn axpy(name: &str, len: usize, alpha: f32) -> Kernel {
    elementwise(name, 1, len, &[Operand::Full, Operand::Full], |a, ty| {
        Expr::fma(Expr::constant(alpha, ty), a[0].clone(), a[1].clone())
    })
}
