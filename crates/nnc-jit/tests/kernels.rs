//! Every kernel builder compiled and run against a plain-Rust reference
//! (computed in f64), over sizes that are and are not multiples of the
//! vector width and of the tile sizes.

use nnc_jit::kernels::{
    axpy, col_sum, elementwise, matmul, row_sum, scale, Activation, MatmulSpec, Operand,
};
use nnc_jit::{compile, Access, Affine, CmpOp, Expr, JitError, Kernel, Stmt, Ty, UnOp};

/// Deterministic data in `[-amp, amp)`.
fn data(len: usize, seed: u64, amp: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

/// Asserts `|got - want| <= 1e-5 * scale` elementwise, where `scale` is
/// `max(|want|, floor)`: relative error, with a floor for results that are
/// sums of much larger terms (the floor is the size of those terms).
fn assert_close(what: &str, got: &[f32], want: &[f64], floor: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((&g, &w), &f)) in got.iter().zip(want).zip(floor).enumerate() {
        let tol = 1e-5 * w.abs().max(f).max(1e-30);
        assert!(
            ((g as f64) - w).abs() <= tol,
            "{what}: element {i}: got {g}, want {w} (tolerance {tol:e})"
        );
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

const SHAPES: [(usize, usize); 8] = [
    (1, 1),
    (1, 3),
    (3, 5),
    (4, 8),
    (7, 13),
    (10, 30),
    (2, 33),
    (5, 64),
];

#[test]
fn sigmoid_of_x_plus_bias_row() {
    for (rows, cols) in SHAPES {
        let k = elementwise(
            "sig_bias",
            rows,
            cols,
            &[Operand::Full, Operand::Row],
            |a, _| Expr::unary(UnOp::Sigmoid, Expr::add(a[0].clone(), a[1].clone())),
        );
        let f = compile(&k).unwrap();
        let x = data(rows * cols, 1, 8.0);
        let b = data(cols, 2, 2.0);
        let mut out = vec![0.0; rows * cols];
        f.call(&[&x, &b], &mut [&mut out]).unwrap();
        let want: Vec<f64> = (0..rows * cols)
            .map(|i| sigmoid(x[i] as f64 + b[i % cols] as f64))
            .collect();
        assert_close("sigmoid(x + b)", &out, &want, &vec![0.0; want.len()]);
    }
}

#[test]
fn transcendental_accuracy_over_a_wide_range() {
    let n = 4001;
    let x: Vec<f32> = (0..n)
        .map(|i| -20.0 + 40.0 * i as f32 / (n - 1) as f32)
        .collect();
    for (op, reference) in [
        (UnOp::Exp, f64::exp as fn(f64) -> f64),
        (UnOp::Sigmoid, sigmoid as fn(f64) -> f64),
        (UnOp::Tanh, f64::tanh as fn(f64) -> f64),
    ] {
        let k = elementwise("unary", 1, n, &[Operand::Full], |a, _| {
            Expr::unary(op, a[0].clone())
        });
        let f = compile(&k).unwrap();
        let mut out = vec![0.0; n];
        f.call(&[&x], &mut [&mut out]).unwrap();
        let want: Vec<f64> = x.iter().map(|&v| reference(v as f64)).collect();
        assert_close(&format!("{op:?}"), &out, &want, &vec![0.0; n]);
    }
    // The logarithm over positive normal numbers, from the smallest to
    // the largest magnitudes.
    let positive: Vec<f32> = (0..n)
        .map(|i| 2f32.powf(-126.0 + 253.0 * i as f32 / (n - 1) as f32))
        .chain([
            1.0,
            2.0,
            0.5,
            std::f32::consts::SQRT_2,
            1e-30,
            1e-7,
            1.0 - 1e-7,
        ])
        .collect();
    let k = elementwise("log", 1, positive.len(), &[Operand::Full], |a, _| {
        Expr::unary(UnOp::Log, a[0].clone())
    });
    let mut out = vec![0.0; positive.len()];
    compile(&k)
        .unwrap()
        .call(&[&positive], &mut [&mut out])
        .unwrap();
    let want: Vec<f64> = positive.iter().map(|&v| (v as f64).ln()).collect();
    // Near 1 the logarithm itself is near 0: an absolute allowance of
    // 1e-7 (about one unit in the last place of 1) covers the rounding of
    // the argument.
    assert_close("log", &out, &want, &vec![1e-2; positive.len()]);
    // Tiny arguments, where tanh must not lose relative accuracy.
    let tiny: Vec<f32> = (1..=64)
        .map(|i| i as f32 * 1e-5 * if i % 2 == 0 { -1.0 } else { 1.0 })
        .collect();
    let k = elementwise("tanh", 1, tiny.len(), &[Operand::Full], |a, _| {
        Expr::unary(UnOp::Tanh, a[0].clone())
    });
    let mut out = vec![0.0; tiny.len()];
    compile(&k)
        .unwrap()
        .call(&[&tiny], &mut [&mut out])
        .unwrap();
    let want: Vec<f64> = tiny.iter().map(|&v| (v as f64).tanh()).collect();
    assert_close("tanh(tiny)", &out, &want, &vec![0.0; tiny.len()]);
}

#[test]
fn relu_and_its_gradient_by_select() {
    for (rows, cols) in SHAPES {
        let x = data(rows * cols, 3, 1.0);
        let g = data(rows * cols, 4, 1.0);
        let relu = elementwise("relu", rows, cols, &[Operand::Full], |a, ty| {
            Activation::Relu.apply(a[0].clone(), ty)
        });
        let grad = elementwise(
            "relu_grad",
            rows,
            cols,
            &[Operand::Full, Operand::Full],
            |a, ty| {
                Expr::select(
                    CmpOp::Gt,
                    a[0].clone(),
                    Expr::constant(0.0, ty),
                    a[1].clone(),
                    Expr::constant(0.0, ty),
                )
            },
        );
        let mut out = vec![0.0; rows * cols];
        compile(&relu)
            .unwrap()
            .call(&[&x], &mut [&mut out])
            .unwrap();
        let want: Vec<f64> = x.iter().map(|&v| (v as f64).max(0.0)).collect();
        assert_close("relu", &out, &want, &want);
        compile(&grad)
            .unwrap()
            .call(&[&x, &g], &mut [&mut out])
            .unwrap();
        let want: Vec<f64> = x
            .iter()
            .zip(&g)
            .map(|(&v, &d)| if v > 0.0 { d as f64 } else { 0.0 })
            .collect();
        assert_close("relu_grad", &out, &want, &want);
    }
}

#[test]
fn broadcast_column_and_scalar_operands() {
    for (rows, cols) in SHAPES {
        let k = elementwise(
            "cols",
            rows,
            cols,
            &[Operand::Full, Operand::Col, Operand::Scalar],
            |a, _| Expr::sub(Expr::mul(a[0].clone(), a[1].clone()), a[2].clone()),
        );
        let x = data(rows * cols, 5, 3.0);
        let c = data(rows, 6, 3.0);
        let s = [0.75f32];
        let mut out = vec![0.0; rows * cols];
        compile(&k)
            .unwrap()
            .call(&[&x, &c, &s], &mut [&mut out])
            .unwrap();
        let want: Vec<f64> = (0..rows * cols)
            .map(|i| x[i] as f64 * c[i / cols] as f64 - 0.75)
            .collect();
        let floor: Vec<f64> = (0..rows * cols)
            .map(|i| (x[i] as f64 * c[i / cols] as f64).abs() + 0.75)
            .collect();
        assert_close("x * c - s", &out, &want, &floor);
    }
}

#[test]
fn scale_and_axpy() {
    for len in [1, 3, 4, 7, 8, 17, 100, 1031] {
        let x = data(len, 7, 2.0);
        let y = data(len, 8, 2.0);
        let mut out = vec![0.0; len];
        compile(&scale("scale", len, -0.3))
            .unwrap()
            .call(&[&x], &mut [&mut out])
            .unwrap();
        let want: Vec<f64> = x.iter().map(|&v| -0.3f32 as f64 * v as f64).collect();
        assert_close("scale", &out, &want, &want);
        compile(&axpy("axpy", len, 0.1))
            .unwrap()
            .call(&[&x, &y], &mut [&mut out])
            .unwrap();
        let want: Vec<f64> = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| 0.1f32 as f64 * a as f64 + b as f64)
            .collect();
        let floor: Vec<f64> = x
            .iter()
            .zip(&y)
            .map(|(&a, &b)| (0.1 * a as f64).abs() + (b as f64).abs())
            .collect();
        assert_close("axpy", &out, &want, &floor);
    }
}

#[test]
fn column_and_row_sums() {
    for (rows, cols) in SHAPES.into_iter().chain([(64, 30), (33, 17), (3, 100)]) {
        let x = data(rows * cols, 9, 1.0);
        let mut cs = vec![0.0; cols];
        compile(&col_sum("col_sum", rows, cols))
            .unwrap()
            .call(&[&x], &mut [&mut cs])
            .unwrap();
        let want: Vec<f64> = (0..cols)
            .map(|c| (0..rows).map(|r| x[r * cols + c] as f64).sum())
            .collect();
        let floor: Vec<f64> = (0..cols)
            .map(|c| (0..rows).map(|r| (x[r * cols + c] as f64).abs()).sum())
            .collect();
        assert_close("col_sum", &cs, &want, &floor);
        let mut rs = vec![0.0; rows];
        compile(&row_sum("row_sum", rows, cols))
            .unwrap()
            .call(&[&x], &mut [&mut rs])
            .unwrap();
        let want: Vec<f64> = (0..rows)
            .map(|r| x[r * cols..(r + 1) * cols].iter().map(|&v| v as f64).sum())
            .collect();
        let floor: Vec<f64> = (0..rows)
            .map(|r| {
                x[r * cols..(r + 1) * cols]
                    .iter()
                    .map(|&v| (v as f64).abs())
                    .sum()
            })
            .collect();
        assert_close("row_sum", &rs, &want, &floor);
    }
}

/// Runs one matrix-product kernel and compares it with the reference.
fn check_matmul(spec: MatmulSpec) {
    let MatmulSpec {
        m,
        k,
        n,
        transpose_b,
        bias,
        activation,
    } = spec;
    let kernel = matmul("mm", spec);
    let f = compile(&kernel).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    let a = data(m * k, 10, 1.0);
    let b = data(k * n, 11, 1.0);
    let bv = data(n, 12, 1.0);
    let mut c = vec![f32::NAN; m * n];
    let mut inputs: Vec<&[f32]> = vec![&a, &b];
    if bias {
        inputs.push(&bv);
    }
    f.call(&inputs, &mut [&mut c]).unwrap();
    let mut want = vec![0.0; m * n];
    let mut floor = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let (mut s, mut mag) = (0.0f64, 0.0f64);
            for p in 0..k {
                let bj = if transpose_b {
                    b[j * k + p]
                } else {
                    b[p * n + j]
                };
                s += a[i * k + p] as f64 * bj as f64;
                mag += (a[i * k + p] as f64 * bj as f64).abs();
            }
            if bias {
                s += bv[j] as f64;
                mag += (bv[j] as f64).abs();
            }
            // The activations are 1-Lipschitz, so the sum's error bound carries over.
            let y = match activation {
                Activation::None => s,
                Activation::Relu => s.max(0.0),
                Activation::Sigmoid => sigmoid(s),
                Activation::Tanh => s.tanh(),
            };
            want[i * n + j] = y;
            floor[i * n + j] = if activation == Activation::None || activation == Activation::Relu {
                mag
            } else {
                mag.min(1.0)
            };
        }
    }
    assert_close(&format!("{spec:?}"), &c, &want, &floor);
}

#[test]
fn matmul_all_edges_and_epilogues() {
    let shapes = [
        (1, 1, 1),
        (3, 5, 7),
        (4, 8, 8),
        (5, 9, 13),
        (8, 4, 16),
        (6, 17, 12),
        (10, 31, 30),
        (13, 3, 21),
    ];
    for (m, k, n) in shapes {
        for transpose_b in [false, true] {
            for (bias, activation) in [
                (false, Activation::None),
                (true, Activation::None),
                (true, Activation::Relu),
                (true, Activation::Sigmoid),
                (false, Activation::Tanh),
            ] {
                check_matmul(MatmulSpec {
                    m,
                    k,
                    n,
                    transpose_b,
                    bias,
                    activation,
                });
            }
        }
    }
}

#[test]
fn matmul_training_sizes() {
    check_matmul(MatmulSpec {
        m: 10,
        k: 784,
        n: 30,
        transpose_b: false,
        bias: true,
        activation: Activation::Sigmoid,
    });
    check_matmul(MatmulSpec {
        m: 10,
        k: 784,
        n: 30,
        transpose_b: true,
        bias: false,
        activation: Activation::None,
    });
    check_matmul(MatmulSpec {
        m: 64,
        k: 100,
        n: 67,
        transpose_b: false,
        bias: true,
        activation: Activation::Relu,
    });
}

/// Long `k` with at least 8 rows and columns takes the packed, `k`-blocked
/// path (blocks of 256): one, two and several blocks, short last blocks, and
/// leftover rows and columns.
#[test]
fn matmul_packed_and_k_blocked() {
    for (m, k, n) in [(8, 513, 8), (9, 600, 21), (12, 1100, 17), (64, 1024, 40)] {
        for (bias, activation) in [
            (false, Activation::None),
            (true, Activation::Relu),
            (true, Activation::Tanh),
        ] {
            check_matmul(MatmulSpec {
                m,
                k,
                n,
                transpose_b: false,
                bias,
                activation,
            });
        }
    }
}

/// Loops with offsets, steps and unroll factors that do and do not divide
/// the trip count touch exactly the elements they should.
#[test]
fn loop_unrolling_and_remainders() {
    for (start, end, step, unroll) in [
        (0, 10, 1, 1),
        (3, 50, 3, 4),
        (0, 7, 2, 8),
        (5, 6, 1, 3),
        (1, 40, 1, 6),
        (0, 0, 1, 2),
    ] {
        let mut k = Kernel::new("strided");
        let x = k.buffer("x", 64, Access::Read);
        let y = k.buffer("y", 64, Access::Write);
        let body = k.for_loop(start, end, step, unroll, |_, i| {
            vec![Stmt::Store {
                buf: y,
                index: Affine::var(i),
                value: Expr::mul(
                    Expr::load(x, Affine::var(i).plus(1), Ty::F32),
                    Expr::Const(2.0),
                ),
            }]
        });
        k.body.push(body);
        let xs = data(64, 13, 1.0);
        let mut ys = vec![-7.0f32; 64];
        compile(&k).unwrap().call(&[&xs], &mut [&mut ys]).unwrap();
        for (i, &v) in ys.iter().enumerate() {
            let touched = i >= start && i < end && (i - start) % step == 0;
            let want = if touched { xs[i + 1] * 2.0 } else { -7.0 };
            assert_eq!(
                v, want,
                "loop {start}..{end} step {step} unroll {unroll}: element {i}"
            );
        }
    }
}

/// A loop that never runs may mention any index: it emits no code.
#[test]
fn empty_loops_are_not_bounds_checked() {
    let mut k = Kernel::new("empty");
    let y = k.buffer("y", 4, Access::Write);
    let body = k.for_loop(5, 5, 1, 1, |_, i| {
        vec![Stmt::Store {
            buf: y,
            index: Affine::var(i).plus(100),
            value: Expr::Const(1.0),
        }]
    });
    k.body.push(body);
    let mut ys = [0.0f32; 4];
    compile(&k).unwrap().call(&[], &mut [&mut ys]).unwrap();
    assert_eq!(ys, [0.0; 4]);
}

#[test]
fn out_of_bounds_kernels_are_rejected() {
    let mut k = Kernel::new("bad");
    let x = k.buffer("x", 10, Access::Read);
    let y = k.buffer("y", 10, Access::Write);
    // The last vector load would read elements 8..12 of a 10-element buffer.
    let body = k.for_loop(0, 10, 4, 1, |_, i| {
        vec![Stmt::Store {
            buf: y,
            index: Affine::var(i),
            value: Expr::load(x, Affine::var(i), Ty::F32x4),
        }]
    });
    k.body.push(body);
    let err = compile(&k).unwrap_err();
    assert!(
        matches!(err, JitError::OutOfBounds { ref buffer, min: 0, max_end: 12, len: 10, .. } if buffer == "y" || buffer == "x"),
        "{err}"
    );

    // A negative index.
    let mut k = Kernel::new("neg");
    let y = k.buffer("y", 4, Access::Write);
    let body = k.for_loop(0, 4, 1, 1, |_, i| {
        vec![Stmt::Store {
            buf: y,
            index: Affine::var(i).plus(-1),
            value: Expr::Const(1.0),
        }]
    });
    k.body.push(body);
    assert!(matches!(
        compile(&k).unwrap_err(),
        JitError::OutOfBounds { min: -1, .. }
    ));

    // A store to a read-only buffer, and a type mismatch.
    let mut k = Kernel::new("ro");
    let x = k.buffer("x", 4, Access::Read);
    k.body.push(Stmt::Store {
        buf: x,
        index: Affine::constant(0),
        value: Expr::Const(1.0),
    });
    assert!(matches!(
        compile(&k).unwrap_err(),
        JitError::Malformed { .. }
    ));
    let mut k = Kernel::new("ty");
    let y = k.buffer("y", 4, Access::Write);
    k.body.push(Stmt::Store {
        buf: y,
        index: Affine::constant(0),
        value: Expr::add(Expr::Const(1.0), Expr::constant(1.0, Ty::F32x4)),
    });
    assert!(matches!(
        compile(&k).unwrap_err(),
        JitError::TypeMismatch { .. }
    ));
}

#[test]
fn calls_check_counts_and_lengths() {
    let f = compile(&axpy("axpy", 5, 2.0)).unwrap();
    let x = [1.0f32; 5];
    let short = [1.0f32; 4];
    let mut out = [0.0f32; 5];
    assert!(matches!(
        f.call(&[&x], &mut [&mut out]),
        Err(JitError::BufferCount { role: "inputs", .. })
    ));
    assert!(matches!(
        f.call(&[&x, &x], &mut []),
        Err(JitError::BufferCount {
            role: "outputs",
            ..
        })
    ));
    assert!(matches!(
        f.call(&[&x, &short], &mut [&mut out]),
        Err(JitError::BufferLength {
            expected: 5,
            found: 4,
            ..
        })
    ));
    f.call(&[&x, &x], &mut [&mut out]).unwrap();
    assert_eq!(out, [3.0; 5]);
}

#[test]
fn clif_text_shows_vector_code() {
    let spec = MatmulSpec {
        m: 8,
        k: 8,
        n: 8,
        transpose_b: false,
        bias: true,
        activation: Activation::Relu,
    };
    let text = nnc_jit::clif_text(&matmul("mm", spec)).unwrap();
    assert!(text.starts_with("function %mm("), "{text}");
    assert!(text.contains("f32x4"), "{text}");
    assert!(text.contains("fmax"), "{text}");
    assert!(text.contains("fma") || text.contains("fmul"), "{text}");
}
