//! Sums along one axis of a row-major `rows x cols` matrix.

use crate::ir::{Access, Affine, Expr, Kernel, Stmt, Ty};
use crate::kernels::covering;

/// `out[c] = sum over r of x[r, c]` (the gradient of a bias added to every
/// row). Columns are processed in blocks of sixteen (four vector
/// accumulators, four independent chains of additions; eight or four
/// columns, or one at a time, for narrower matrices), each block walking
/// down the rows with its accumulators in registers.
pub fn col_sum(name: &str, rows: usize, cols: usize) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", rows * cols, Access::Read);
    let out = k.buffer("out", cols, Access::Write);
    // Blocks of sixteen columns, the last overlapping its neighbour when 16
    // does not divide `cols` (each column's sum is computed the same way in
    // any block, so overlapped columns are stored twice with equal values).
    let regions: Vec<(usize, usize, usize, Ty)> = if cols >= 16 {
        covering(cols, 16)
            .into_iter()
            .map(|(a, b, w)| (a, b, w, Ty::F32x4))
            .collect()
    } else if cols >= 8 {
        covering(cols, 8)
            .into_iter()
            .map(|(a, b, w)| (a, b, w, Ty::F32x4))
            .collect()
    } else if cols >= 4 {
        covering(cols, 4)
            .into_iter()
            .map(|(a, b, w)| (a, b, w, Ty::F32x4))
            .collect()
    } else {
        vec![(0, cols, 1, Ty::F32)]
    };
    let mut body = Vec::new();
    for (start, end, step, ty) in regions {
        let nacc = step / ty.lanes();
        let accs: Vec<_> = (0..nacc).map(|_| k.var(ty)).collect();
        let block = k.for_loop(start, end, step, 1, |k, c| {
            let mut stmts: Vec<Stmt> = accs
                .iter()
                .map(|&a| Stmt::Assign {
                    var: a,
                    value: Expr::constant(0.0, ty),
                })
                .collect();
            stmts.push(k.for_loop(0, rows, 1, 4, |_, r| {
                accs.iter()
                    .enumerate()
                    .map(|(v, &a)| {
                        let at = Affine::var(r)
                            .times(cols as i64)
                            .plus_term(c, 1)
                            .plus((v * ty.lanes()) as i64);
                        Stmt::Assign {
                            var: a,
                            value: Expr::add(Expr::Var(a), Expr::load(x, at, ty)),
                        }
                    })
                    .collect()
            }));
            stmts.extend(accs.iter().enumerate().map(|(v, &a)| Stmt::Store {
                buf: out,
                index: Affine::var(c).plus((v * ty.lanes()) as i64),
                value: Expr::Var(a),
            }));
            stmts
        });
        body.push(block);
    }
    k.body = body;
    k
}

/// `out[r] = sum over c of x[r, c]`. Each row is summed with two vector
/// accumulators over blocks of eight, then a horizontal sum, then the
/// remaining columns one at a time.
pub fn row_sum(name: &str, rows: usize, cols: usize) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", rows * cols, Access::Read);
    let out = k.buffer("out", rows, Access::Write);
    let acc = [k.var(Ty::F32x4), k.var(Ty::F32x4)];
    let sum = k.var(Ty::F32);
    let c8 = cols / 8 * 8;
    let c4 = cols / 4 * 4;
    let body = k.for_loop(0, rows, 1, 1, |k, r| {
        let row = Affine::var(r).times(cols as i64);
        let mut stmts: Vec<Stmt> = acc
            .iter()
            .map(|&a| Stmt::Assign {
                var: a,
                value: Expr::constant(0.0, Ty::F32x4),
            })
            .collect();
        stmts.push(k.for_loop(0, c8, 8, 2, |_, c| {
            (0..2)
                .map(|v| Stmt::Assign {
                    var: acc[v],
                    value: Expr::add(
                        Expr::Var(acc[v]),
                        Expr::load(x, row.clone().plus_term(c, 1).plus(4 * v as i64), Ty::F32x4),
                    ),
                })
                .collect()
        }));
        stmts.push(k.for_loop(c8, c4, 4, 1, |_, c| {
            vec![Stmt::Assign {
                var: acc[0],
                value: Expr::add(
                    Expr::Var(acc[0]),
                    Expr::load(x, row.clone().plus_term(c, 1), Ty::F32x4),
                ),
            }]
        }));
        stmts.push(Stmt::Assign {
            var: sum,
            value: Expr::ReduceSum(Box::new(Expr::add(Expr::Var(acc[0]), Expr::Var(acc[1])))),
        });
        stmts.push(k.for_loop(c4, cols, 1, 4, |_, c| {
            vec![Stmt::Assign {
                var: sum,
                value: Expr::add(
                    Expr::Var(sum),
                    Expr::load(x, row.clone().plus_term(c, 1), Ty::F32),
                ),
            }]
        }));
        stmts.push(Stmt::Store {
            buf: out,
            index: Affine::var(r),
            value: Expr::Var(sum),
        });
        stmts
    });
    k.body.push(body);
    k
}
