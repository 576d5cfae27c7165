//! Throughput of the three ways nnc-cpu can compute a matrix product, on
//! the shapes of the W1 (784-30-10, batch 10) and W2 (784-1024-1024-10,
//! batch 64) training steps: `nnc-jit`'s tiled kernel, the `gemm` library
//! and nnc's own AVX2 product (`nnc_cpu::sgemm`, in the orientation its
//! cost model picks), one and two threads each. Ignored by default (the numbers depend on the
//! machine and its load); run with
//! `cargo test -p nnc-cpu --release --test gemm_bench -- --ignored --nocapture`.
//! The table in ARCHITECTURE.md ("Matrix products") comes from here.

use std::time::Instant;

use gemm::Parallelism;
use nnc_jit::kernels::{matmul, Activation, MatmulSpec};

/// One product: `C[m,n] = op(A) op(B)`, with `A` stored `[k,m]` when `ta`
/// and `B` stored `[n,k]` when `tb`.
#[derive(Clone, Copy)]
struct Shape {
    label: &'static str,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
}

/// Seconds per call of `f`, the best of three runs of about 0.2 s each.
fn time(flops: f64, mut f: impl FnMut()) -> f64 {
    let reps = ((4e8 / flops) as usize).clamp(3, 100_000);
    f();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    best
}

/// `nnc-jit`'s kernel. A transposed `A` is taken as already transposed
/// (the lowering transposes it first with a separate kernel, not timed).
fn jit(s: Shape) -> f64 {
    let spec = MatmulSpec {
        m: s.m,
        k: s.k,
        n: s.n,
        transpose_b: s.tb,
        bias: false,
        activation: Activation::None,
    };
    let f = nnc_jit::compile(&matmul("mm", spec)).unwrap();
    let a = vec![0.5f32; s.m * s.k];
    let b = vec![0.25f32; s.k * s.n];
    let mut c = vec![0.0f32; s.m * s.n];
    let flops = 2.0 * (s.m * s.k * s.n) as f64;
    flops / time(flops, || f.call(&[&a, &b], &mut [&mut c]).unwrap()) / 1e9
}

fn library(s: Shape, threads: usize) -> f64 {
    let a = vec![0.5f32; s.m * s.k];
    let b = vec![0.25f32; s.k * s.n];
    let mut c = vec![0.0f32; s.m * s.n];
    let (a_rs, a_cs) = if s.ta { (1, s.m) } else { (s.k, 1) };
    let (b_rs, b_cs) = if s.tb { (1, s.k) } else { (s.n, 1) };
    let par = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    let flops = 2.0 * (s.m * s.k * s.n) as f64;
    let secs = time(flops, || {
        // SAFETY: the strides describe `a` (`m x k`), `b` (`k x n`) and
        // `c` (`m x n`) within their lengths; `c` does not overlap them.
        unsafe {
            gemm::gemm(
                s.m,
                s.n,
                s.k,
                c.as_mut_ptr(),
                1,
                s.n as isize,
                false,
                a.as_ptr(),
                a_cs as isize,
                a_rs as isize,
                b.as_ptr(),
                b_cs as isize,
                b_rs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                par,
            )
        }
    });
    let expected = 0.125 * s.k as f32;
    assert!((c[0] - expected).abs() <= 1e-4 * expected);
    flops / secs / 1e9
}

/// nnc's own product in the orientation it picks (0 where the processor
/// lacks AVX2 or FMA).
fn own(s: Shape, threads: usize) -> f64 {
    if !nnc_cpu::sgemm::Sgemm::available() {
        return 0.0;
    }
    let a = vec![0.5f32; s.m * s.k];
    let b = vec![0.25f32; s.k * s.n];
    let mut c = vec![0.0f32; s.m * s.n];
    let mut product = nnc_cpu::sgemm::Sgemm::new(s.m, s.k, s.n, s.ta, s.tb, threads);
    let flops = 2.0 * (s.m * s.k * s.n) as f64;
    let secs = time(flops, || {
        assert!(product.run(&a, &b, &mut c, 0.0, 1.0));
    });
    let expected = 0.125 * s.k as f32;
    assert!((c[0] - expected).abs() <= 1e-4 * expected);
    flops / secs / 1e9
}

#[test]
#[ignore]
fn jit_versus_gemm_on_the_model_shapes() {
    let sh = |label, m, k, n, ta, tb| Shape {
        label,
        m,
        k,
        n,
        ta,
        tb,
    };
    let shapes = [
        sh("W1 fwd  x W1^T", 10, 784, 30, false, true),
        sh("W1 fwd  h W2^T", 10, 30, 10, false, true),
        sh("W1 bwd  dY W2", 10, 10, 30, false, false),
        sh("W1 bwd  dY^T X", 30, 10, 784, true, false),
        sh("W1 bwd  dY^T H", 10, 10, 30, true, false),
        sh("W2 fwd  x W1^T", 64, 784, 1024, false, true),
        sh("W2 fwd  h W2^T", 64, 1024, 1024, false, true),
        sh("W2 fwd  h W3^T", 64, 1024, 10, false, true),
        sh("W2 bwd  dY W3", 64, 10, 1024, false, false),
        sh("W2 bwd  dY W2", 64, 1024, 1024, false, false),
        sh("W2 bwd  dY^T X", 1024, 64, 784, true, false),
        sh("W2 bwd  dY^T H", 1024, 64, 1024, true, false),
        sh("W2 bwd  dY^T H2", 10, 64, 1024, true, false),
    ];
    println!("| product | m x k x n | nnc-jit | gemm 1t | gemm 2t | sgemm 1t | sgemm 2t |");
    println!("|---|---|---|---|---|---|---|");
    for s in shapes {
        println!(
            "| {} | {}x{}x{} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            s.label,
            s.m,
            s.k,
            s.n,
            jit(s),
            library(s, 1),
            library(s, 2),
            own(s, 1),
            own(s, 2)
        );
    }
}
