//! Rough throughput and compile-time measurements. Ignored by default (the
//! numbers depend on the machine and its load); run with
//! `cargo test -p nnc-jit --release --test bench -- --ignored --nocapture`.

use std::time::Instant;

use nnc_jit::kernels::{
    axpy, col_sum, elementwise, matmul, row_sum, scale, Activation, MatmulSpec, Operand,
};
use nnc_jit::{compile, compile_many, Expr, UnOp};

fn gflops(spec: MatmulSpec) -> f64 {
    let f = compile(&matmul("mm", spec)).unwrap();
    let a = vec![0.5f32; spec.m * spec.k];
    let b = vec![0.25f32; spec.k * spec.n];
    let bias = vec![0.0f32; spec.n];
    let mut c = vec![0.0f32; spec.m * spec.n];
    let inputs: Vec<&[f32]> = if spec.bias {
        vec![&a, &b, &bias]
    } else {
        vec![&a, &b]
    };
    let flops = 2.0 * (spec.m * spec.k * spec.n) as f64;
    let reps = ((2e9 / flops) as usize).clamp(3, 100_000);
    f.call(&inputs, &mut [&mut c]).unwrap();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..reps {
            f.call(&inputs, &mut [&mut c]).unwrap();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    flops / best / 1e9
}

#[test]
#[ignore]
fn matmul_throughput() {
    for (m, k, n) in [(10, 784, 30), (64, 1024, 1024)] {
        for transpose_b in [false, true] {
            let spec = MatmulSpec {
                m,
                k,
                n,
                transpose_b,
                bias: true,
                activation: Activation::Sigmoid,
            };
            println!(
                "[{m},{k}]x[{k},{n}] transpose_b={transpose_b}: {:.1} GFLOP/s",
                gflops(spec)
            );
        }
    }
}

/// The kernels of one MLP training step (784-30-10, batch 10): forward
/// matmuls with fused epilogues, backward matmuls (both transposes), bias
/// gradients, activation gradients and SGD updates.
#[test]
#[ignore]
fn compile_time_of_a_training_step() {
    let mm = |m, k, n, transpose_b, bias, activation| MatmulSpec {
        m,
        k,
        n,
        transpose_b,
        bias,
        activation,
    };
    let kernels = vec![
        matmul("fc1", mm(10, 784, 30, false, true, Activation::Sigmoid)),
        matmul("fc2", mm(10, 30, 10, false, true, Activation::Sigmoid)),
        elementwise("dsig2", 10, 10, &[Operand::Full, Operand::Full], |a, ty| {
            let one = Expr::constant(1.0, ty);
            Expr::mul(
                a[1].clone(),
                Expr::mul(a[0].clone(), Expr::sub(one, a[0].clone())),
            )
        }),
        matmul("dx2", mm(10, 10, 30, true, false, Activation::None)),
        elementwise("dsig1", 10, 30, &[Operand::Full, Operand::Full], |a, ty| {
            let one = Expr::constant(1.0, ty);
            Expr::mul(
                a[1].clone(),
                Expr::mul(a[0].clone(), Expr::sub(one, a[0].clone())),
            )
        }),
        matmul("dw2", mm(30, 10, 10, false, false, Activation::None)),
        matmul("dw1", mm(784, 10, 30, false, false, Activation::None)),
        col_sum("db2", 10, 10),
        col_sum("db1", 10, 30),
        axpy("sgd_w1", 784 * 30, -0.1),
        axpy("sgd_w2", 30 * 10, -0.1),
        axpy("sgd_b1", 30, -0.1),
        axpy("sgd_b2", 10, -0.1),
        scale("scale", 100, 0.5),
        row_sum("rows", 10, 10),
        elementwise("tanh", 10, 30, &[Operand::Full], |a, _| {
            Expr::unary(UnOp::Tanh, a[0].clone())
        }),
    ];
    let t = Instant::now();
    let compiled = compile_many(kernels).unwrap();
    let total = t.elapsed();
    for c in &compiled {
        println!(
            "{:>8}: {:>6} bytes, {:>7.2} ms",
            c.kernel().name,
            c.code_size(),
            c.compile_time().as_secs_f64() * 1e3
        );
    }
    println!(
        "{} kernels compiled in {:.1} ms",
        compiled.len(),
        total.as_secs_f64() * 1e3
    );
}
