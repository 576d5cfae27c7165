//! Times nnc's own product on one shape in both orientations:
//! `cargo run --release -p nnc-cpu --example sgemm_shapes M K N [ta] [tb] [threads]`
//! (the best of 200 runs of each).

use nnc_cpu::sgemm::{Orientation, Sgemm};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (m, k, n) = (num(0, 64), num(1, 512), num(2, 128));
    let (ta, tb) = (num(3, 0) == 1, num(4, 0) == 1);
    let threads = num(5, 2);
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; m * n];
    let chosen = Sgemm::new(m, k, n, ta, tb, threads).orientation();
    for orientation in [Orientation::Direct, Orientation::Transposed] {
        let mut s = Sgemm::with_orientation(m, k, n, ta, tb, threads, orientation);
        let mut best = f64::INFINITY;
        for _ in 0..200 {
            let t = Instant::now();
            assert!(s.run(&a, &b, &mut c, 0.0, 1.0));
            best = best.min(t.elapsed().as_secs_f64());
        }
        let gflops = 2.0 * (m * k * n) as f64 / best / 1e9;
        println!(
            "{m}x{k}x{n} ta={ta} tb={tb} {orientation:?}{}: {:.1} us, {gflops:.0} GFLOP/s, overhead {}",
            if orientation == chosen { " (chosen)" } else { "" },
            best * 1e6,
            s.overhead()
        );
    }
}
