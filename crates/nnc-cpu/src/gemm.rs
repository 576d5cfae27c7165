//! Large matrix products, computed outside `nnc-jit`: by nnc's own AVX2
//! product (module `sgemm`) where the processor has AVX2 and FMA, else by
//! the `gemm` library (see "Matrix products" in
//! ARCHITECTURE.md for the measurements behind [`use_library`] and the
//! thresholds below).
//!
//! A library product is an action of its own ([`LibraryProduct`]); the
//! bias and activation that `nnc-jit` would fuse into its tiled kernel's
//! epilogue are left to the pointwise kernel that follows, run on the
//! product's result while it is still in cache (the largest, `64 x 1024`,
//! is 256 KiB). Transposed operands are read in place through strides, so
//! no transposing kernel runs before it. `C = alpha C + beta AB` lets a
//! plain SGD update be folded into its weight gradient (module `fold`).
//!
//! Our own product allocates its packing buffers once, when planned; the
//! `gemm` library allocates its packing buffers on every call that packs
//! (`tests/allocations.rs` counts: none with ours, at most two per product
//! with the library). Products of at least 500k multiply-adds (every W2
//! product, none of W1's) run on two threads when the
//! machine has two cores (ours on the caller and one helper thread, module
//! `pair`; the library on rayon's pool); the rest run single-threaded.
//! The split is over blocks of the result, each summed over `k` by one
//! thread in a fixed order, so results do not depend on the thread count
//! (tested below and in module `sgemm`).

use crate::error::LowerError;
use crate::sgemm::Sgemm;

/// Products with fewer multiply-adds than this (`m * k * n`) stay with
/// `nnc-jit`: at the W1 shapes (`10 x 30 x 10`, `10 x 10 x 30`) its kernel
/// is as fast or faster and keeps the epilogue in registers; from
/// `10 x 784 x 30` (235k) up the library is as fast or, on every W2
/// shape, 1.5 to 3 times faster.
const LIBRARY_MIN_MACS: usize = 100_000;

/// Whether the product `[m, k] x [k, n]` goes to the library.
pub(crate) fn use_library(m: usize, k: usize, n: usize) -> bool {
    m.saturating_mul(k).saturating_mul(n) >= LIBRARY_MIN_MACS
}

/// Products with at least this many multiply-adds are split over two
/// threads, when the machine has two cores or more. The helper thread's
/// hand-off costs a few microseconds, so W2's small products (`64 x 1024
/// x 10` and its two gradients, 0.66M) gain from it: 41, 31 and 39 us on
/// one thread, 28, 17 and 23 on two. W1's (at most 235k) stay on one.
const TWO_THREADS_MIN_MACS: usize = 500_000;

/// The threads for the product `[m, k] x [k, n]` (decided at lowering:
/// asking the system for its cores allocates).
pub(crate) fn threads_for(m: usize, k: usize, n: usize) -> usize {
    let cores = crate::pair::cores();
    let macs = m.saturating_mul(k).saturating_mul(n);
    if macs >= TWO_THREADS_MIN_MACS && cores >= 2 {
        2
    } else {
        1
    }
}

/// `C[m, n] = alpha C + beta op(A) op(B)`: `A` is stored `[m, k]`, or
/// `[k, m]` and used transposed when `ta`; `B` is stored `[k, n]`, or
/// `[n, k]` and used transposed when `tb`; `C` is row-major. Computed by
/// nnc's own AVX2 product (module `sgemm`) where the processor has AVX2
/// and FMA, else by the `gemm` library.
#[derive(Debug)]
pub(crate) struct LibraryProduct {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub ta: bool,
    pub tb: bool,
    /// 1, or 2 to split the product over two threads.
    pub threads: usize,
    /// Our own product and its packing buffers, when the processor runs it.
    own: Option<Sgemm>,
}

impl LibraryProduct {
    /// Plans the product `[m, k] x [k, n]` on the engine this processor
    /// runs best.
    pub(crate) fn new(m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Self {
        let threads = threads_for(m, k, n);
        LibraryProduct {
            m,
            k,
            n,
            ta,
            tb,
            threads,
            // Ours wherever the processor runs it: on the five large W2
            // products it is 1.0x to 1.5x the library on one thread; on
            // W1's mid-sized ones (`10 x 784 x 30`) a little slower per
            // call, but a W1 epoch is faster with it (0.215 s against
            // 0.273 s, `nnc bench`): it allocates nothing and has no
            // per-call setup.
            own: Sgemm::available().then(|| Sgemm::new(m, k, n, ta, tb, threads)),
        }
    }

    /// Plans the product on the `gemm` library, whatever the processor
    /// (for tests and measurements).
    #[cfg(test)]
    pub(crate) fn on_library(
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        threads: usize,
    ) -> Self {
        LibraryProduct {
            m,
            k,
            n,
            ta,
            tb,
            threads,
            own: None,
        }
    }

    /// What computes the product: `"nnc sgemm (avx2+fma, direct)"`, or the
    /// `gemm` library.
    pub(crate) fn engine(&self) -> String {
        match &self.own {
            Some(s) => format!("nnc sgemm avx2+fma {:?}", s.orientation()).to_lowercase(),
            None => "gemm library".to_string(),
        }
    }

    /// Computes `C = alpha C + beta op(A) op(B)` (with `alpha = 0`, `C` is
    /// not read). Every slice must have exactly its matrix's length
    /// (checked; a mismatch is an error).
    pub(crate) fn run(
        &mut self,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        alpha: f32,
        beta: f32,
    ) -> Result<(), LowerError> {
        let (m, k, n) = (self.m, self.k, self.n);
        if a.len() != m * k || b.len() != k * n || c.len() != m * n {
            return Err(LowerError::Internal {
                message: format!(
                    "a {m}x{k}x{n} library product given buffers of {}, {} and {} values",
                    a.len(),
                    b.len(),
                    c.len()
                ),
            });
        }
        if let Some(own) = &mut self.own {
            if own.run(a, b, c, alpha, beta) {
                return Ok(());
            }
        }
        // Element `(i, p)` of `op(A)` lies at `i * a_rs + p * a_cs`, and
        // likewise for `op(B)` and `C`.
        let (a_rs, a_cs) = if self.ta { (1, m) } else { (k, 1) };
        let (b_rs, b_cs) = if self.tb { (1, k) } else { (n, 1) };
        let parallelism = if self.threads > 1 {
            gemm::Parallelism::Rayon(self.threads)
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: with the length checks above, every element the strides
        // reach (`i < m`, `p < k`, `j < n`) lies inside its slice: for `A`,
        // `i * a_rs + p * a_cs <= (m - 1) * k + (k - 1) < m * k` (or the
        // transposed bound), and the same for `B` and `C`. `c` is an
        // exclusive borrow, so it overlaps neither input, and the inputs
        // (shared borrows) cannot change during the call. With
        // `read_dst = false` the library writes `C` without reading it
        // (`alpha = 0`); otherwise it computes `alpha C + beta AB`. No
        // conjugation (real numbers). With two threads the library's
        // workers only touch these buffers inside the call, which returns
        // after they finish (rayon's scoped parallelism), so nothing
        // outlives it.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                1,
                n as isize,
                alpha != 0.0,
                a.as_ptr(),
                a_cs as isize,
                a_rs as isize,
                b.as_ptr(),
                b_cs as isize,
                b_rs as isize,
                alpha,
                beta,
                false,
                false,
                false,
                parallelism,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The library agrees with a plain triple loop in all four transpose
    /// combinations, on a shape that is no multiple of any register tile.
    #[test]
    fn library_product_matches_a_plain_loop() {
        let (m, k, n) = (7, 13, 5);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 8.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 13) as f32 - 6.0) / 8.0)
            .collect();
        for ta in [false, true] {
            for tb in [false, true] {
                let at = |i: usize, p: usize| if ta { a[p * m + i] } else { a[i * k + p] };
                let bt = |p: usize, j: usize| if tb { b[j * k + p] } else { b[p * n + j] };
                // `C = alpha C + beta AB`, the old `C` unread when alpha is 0.
                for (alpha, beta) in [(0.0f32, 1.0f32), (0.75, -0.5)] {
                    let old: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32 - 2.0).collect();
                    let mut c = if alpha == 0.0 {
                        vec![f32::NAN; m * n]
                    } else {
                        old.clone()
                    };
                    LibraryProduct::on_library(m, k, n, ta, tb, 1)
                        .run(&a, &b, &mut c, alpha, beta)
                        .unwrap();
                    for i in 0..m {
                        for j in 0..n {
                            let sum: f32 = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
                            let base = if alpha == 0.0 {
                                0.0
                            } else {
                                alpha * old[i * n + j]
                            };
                            let want = base + beta * sum;
                            let got = c[i * n + j];
                            assert!(
                                (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                                "{got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wrong_lengths_are_an_error() {
        let mut p = LibraryProduct::new(2, 3, 4, false, false);
        let mut c = vec![0.0; 8];
        assert!(p.run(&[0.0; 5], &[0.0; 12], &mut c, 0.0, 1.0).is_err());
    }

    /// Two threads give bit-for-bit the result of one, on a W2 shape.
    #[test]
    fn two_threads_compute_the_same_bits_as_one() {
        let (m, k, n) = (64, 1024, 1024);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 8.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 5 % 13) as f32 - 6.0) / 8.0)
            .collect();
        let run = |threads| {
            let mut c = vec![0.0; m * n];
            LibraryProduct::on_library(m, k, n, false, true, threads)
                .run(&a, &b, &mut c, 0.0, 1.0)
                .unwrap();
            c
        };
        let one = run(1);
        assert!(one
            .iter()
            .zip(run(2))
            .all(|(x, y)| x.to_bits() == y.to_bits()));
        assert!(one
            .iter()
            .zip(run(2))
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
