//! Pooling over `[planes, height, width]` tensors (planes being batch
//! times channels): each window reduces the input pixels it covers, and
//! padding is never a value (a window is clipped to the input; the mean
//! divides by the pixels covered; a window covering nothing gives 0).
//!
//! As for convolutions, output positions are split along each axis into
//! runs whose clipped windows cover the same offsets (see
//! `conv::runs`), so every loop bound is a constant.

use super::conv::{runs, zero, Run};
use crate::ir::{Access, Affine, CmpOp, Expr, Kernel, LoopVar, Stmt, Ty, UnOp};

/// How a window is reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolReduce {
    /// The maximum; the gradient goes to the first maximum (row-major).
    Max,
    /// The mean of the covered pixels.
    Average,
    /// The square root of the sum of squares.
    L2,
}

/// The static geometry of one pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    /// The reduction.
    pub reduce: PoolReduce,
    /// Batch times channels.
    pub planes: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Output height and width.
    pub out: [usize; 2],
    /// Window height and width.
    pub size: [usize; 2],
    /// Vertical and horizontal stride.
    pub stride: [usize; 2],
    /// Padding before: top and left (padding after only shows in `out`).
    pub pad: [usize; 2],
}

impl PoolSpec {
    fn x_len(&self) -> usize {
        self.planes * self.input[0] * self.input[1]
    }

    fn y_len(&self) -> usize {
        self.planes * self.out[0] * self.out[1]
    }

    fn runs(&self) -> (Vec<Run>, Vec<Run>) {
        let axis = |a: usize| {
            runs(
                self.out[a],
                self.size[a],
                self.stride[a],
                self.pad[a],
                self.input[a],
            )
        };
        (axis(0), axis(1))
    }

    /// The flat index of input pixel `(o * s + k - pad)` on both axes.
    fn x(&self, p: LoopVar, oy: LoopVar, ky: LoopVar, ox: LoopVar, kx: LoopVar) -> Affine {
        let (h, w) = (self.input[0] as i64, self.input[1] as i64);
        Affine::var(p)
            .times(h * w)
            .plus_term(oy, self.stride[0] as i64 * w)
            .plus_term(ky, w)
            .plus_term(ox, self.stride[1] as i64)
            .plus_term(kx, 1)
            .plus(-(self.pad[0] as i64) * w - self.pad[1] as i64)
    }

    /// The flat index of the window's first pixel, offsets `(k0y, k0x)`.
    fn x_first(&self, p: LoopVar, oy: LoopVar, ox: LoopVar, ry: &Run, rx: &Run) -> Affine {
        let (h, w) = (self.input[0] as i64, self.input[1] as i64);
        Affine::var(p)
            .times(h * w)
            .plus_term(oy, self.stride[0] as i64 * w)
            .plus_term(ox, self.stride[1] as i64)
            .plus((ry.k0 as i64 - self.pad[0] as i64) * w + rx.k0 as i64 - self.pad[1] as i64)
    }

    fn y(&self, p: LoopVar, oy: LoopVar, ox: LoopVar) -> Affine {
        let (oh, ow) = (self.out[0] as i64, self.out[1] as i64);
        Affine::var(p)
            .times(oh * ow)
            .plus_term(oy, ow)
            .plus_term(ox, 1)
    }
}

/// Calls `body(kernel, plane, oy, ox, row run, column run)` for every
/// output position, one loop nest per pair of runs.
fn over_windows(
    k: &mut Kernel,
    spec: &PoolSpec,
    skip_empty: bool,
    mut body: impl FnMut(&mut Kernel, LoopVar, LoopVar, LoopVar, &Run, &Run) -> Vec<Stmt>,
) -> Vec<Stmt> {
    let (rows, cols) = spec.runs();
    let mut stmts = Vec::new();
    for ry in &rows {
        for rx in &cols {
            if skip_empty && (ry.is_empty() || rx.is_empty()) {
                continue;
            }
            stmts.push(k.for_loop(0, spec.planes, 1, 1, |k, p| {
                vec![k.for_loop(ry.start, ry.end, 1, 1, |k, oy| {
                    vec![k.for_loop(rx.start, rx.end, 1, 1, |k, ox| body(k, p, oy, ox, ry, rx))]
                })]
            }));
        }
    }
    stmts
}

/// A loop over the window's pixels, `ky` outer, `kx` inner.
fn over_pixels(
    k: &mut Kernel,
    ry: &Run,
    rx: &Run,
    mut body: impl FnMut(LoopVar, LoopVar) -> Vec<Stmt>,
) -> Stmt {
    k.for_loop(ry.k0, ry.k1, 1, 1, |k, ky| {
        vec![k.for_loop(rx.k0, rx.k1, 1, 4, |_, kx| body(ky, kx))]
    })
}

/// `y = pool(x)`. Buffers: `x`, `y` (written).
pub fn pool(name: &str, spec: PoolSpec) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", spec.x_len(), Access::Read);
    let y = k.buffer("y", spec.y_len(), Access::Write);
    let acc = k.var(Ty::F32);
    let body = over_windows(&mut k, &spec, false, |k, p, oy, ox, ry, rx| {
        let at = spec.y(p, oy, ox);
        if ry.is_empty() || rx.is_empty() {
            return vec![Stmt::Store {
                buf: y,
                index: at,
                value: Expr::Const(0.0),
            }];
        }
        let count = ((ry.k1 - ry.k0) * (rx.k1 - rx.k0)) as f32;
        let init = match spec.reduce {
            PoolReduce::Max => Expr::load(x, spec.x_first(p, oy, ox, ry, rx), Ty::F32),
            _ => Expr::Const(0.0),
        };
        let pixels = over_pixels(k, ry, rx, |ky, kx| {
            let v = Expr::load(x, spec.x(p, oy, ky, ox, kx), Ty::F32);
            let value = match spec.reduce {
                // Strictly greater: the first maximum is kept.
                PoolReduce::Max => {
                    Expr::select(CmpOp::Gt, v.clone(), Expr::Var(acc), v, Expr::Var(acc))
                }
                PoolReduce::Average => Expr::add(Expr::Var(acc), v),
                PoolReduce::L2 => Expr::fma(v.clone(), v, Expr::Var(acc)),
            };
            vec![Stmt::Assign { var: acc, value }]
        });
        let result = match spec.reduce {
            PoolReduce::Max => Expr::Var(acc),
            PoolReduce::Average => Expr::div(Expr::Var(acc), Expr::Const(count)),
            PoolReduce::L2 => Expr::unary(UnOp::Sqrt, Expr::Var(acc)),
        };
        vec![
            Stmt::Assign {
                var: acc,
                value: init,
            },
            pixels,
            Stmt::Store {
                buf: y,
                index: at,
                value: result,
            },
        ]
    });
    k.body = body;
    k
}

/// `dx` of [`pool`]: max routes `dy` to the window's first maximum
/// (recomputed from `x`); the mean spreads it evenly over the covered
/// pixels; L2 gives `dy * x / y` (nothing where `y` is not positive).
/// Buffers: `x`, `y`, `dy`, `dx` (written).
///
/// The first maximum is found by comparing each pixel with the maximum
/// for equality, so one difference from the interpreter remains: where
/// the maximum is NaN (a NaN first pixel) nothing is routed, while the
/// interpreter routes `dy` to that pixel.
pub fn pool_grad(name: &str, spec: PoolSpec) -> Kernel {
    let mut k = Kernel::new(name);
    let x = k.buffer("x", spec.x_len(), Access::Read);
    let y = k.buffer("y", spec.y_len(), Access::Read);
    let dy = k.buffer("dy", spec.y_len(), Access::Read);
    let dx = k.buffer("dx", spec.x_len(), Access::Write);
    let (best, found, hit, factor) = (
        k.var(Ty::F32),
        k.var(Ty::F32),
        k.var(Ty::F32),
        k.var(Ty::F32),
    );
    let mut body = zero(&mut k, dx, spec.x_len());
    body.extend(over_windows(&mut k, &spec, true, |k, p, oy, ox, ry, rx| {
        let at = spec.y(p, oy, ox);
        let g = Expr::load(dy, at.clone(), Ty::F32);
        let count = ((ry.k1 - ry.k0) * (rx.k1 - rx.k0)) as f32;
        let add = |ky, kx, amount: Expr| {
            let i = spec.x(p, oy, ky, ox, kx);
            Stmt::Store {
                buf: dx,
                index: i.clone(),
                value: Expr::add(Expr::load(dx, i, Ty::F32), amount),
            }
        };
        match spec.reduce {
            PoolReduce::Max => {
                let first = Expr::load(x, spec.x_first(p, oy, ox, ry, rx), Ty::F32);
                let find = over_pixels(k, ry, rx, |ky, kx| {
                    let v = Expr::load(x, spec.x(p, oy, ky, ox, kx), Ty::F32);
                    vec![Stmt::Assign {
                        var: best,
                        value: Expr::select(
                            CmpOp::Gt,
                            v.clone(),
                            Expr::Var(best),
                            v,
                            Expr::Var(best),
                        ),
                    }]
                });
                // `hit` is 1 at the first pixel equal to the maximum.
                let route = over_pixels(k, ry, rx, |ky, kx| {
                    let v = Expr::load(x, spec.x(p, oy, ky, ox, kx), Ty::F32);
                    vec![
                        Stmt::Assign {
                            var: hit,
                            value: Expr::select(
                                CmpOp::Eq,
                                v,
                                Expr::Var(best),
                                Expr::sub(Expr::Const(1.0), Expr::Var(found)),
                                Expr::Const(0.0),
                            ),
                        },
                        add(
                            ky,
                            kx,
                            Expr::select(
                                CmpOp::Gt,
                                Expr::Var(hit),
                                Expr::Const(0.5),
                                g.clone(),
                                Expr::Const(0.0),
                            ),
                        ),
                        Stmt::Assign {
                            var: found,
                            value: Expr::add(Expr::Var(found), Expr::Var(hit)),
                        },
                    ]
                });
                vec![
                    Stmt::Assign {
                        var: best,
                        value: first,
                    },
                    find,
                    Stmt::Assign {
                        var: found,
                        value: Expr::Const(0.0),
                    },
                    route,
                ]
            }
            PoolReduce::Average => {
                let share = Expr::div(g, Expr::Const(count));
                vec![
                    Stmt::Assign {
                        var: factor,
                        value: share,
                    },
                    over_pixels(k, ry, rx, |ky, kx| vec![add(ky, kx, Expr::Var(factor))]),
                ]
            }
            PoolReduce::L2 => {
                let yv = Expr::load(y, at, Ty::F32);
                let ratio = Expr::div(g, yv.clone());
                vec![
                    Stmt::Assign {
                        var: factor,
                        value: Expr::select(
                            CmpOp::Gt,
                            yv,
                            Expr::Const(0.0),
                            ratio,
                            Expr::Const(0.0),
                        ),
                    },
                    over_pixels(k, ry, rx, |ky, kx| {
                        let v = Expr::load(x, spec.x(p, oy, ky, ox, kx), Ty::F32);
                        vec![add(ky, kx, Expr::mul(Expr::Var(factor), v))]
                    }),
                ]
            }
        }
    }));
    k.body = body;
    k
}
