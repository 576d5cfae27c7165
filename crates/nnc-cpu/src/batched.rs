//! [`BatchedProduct`]: a `batch_matmul` run as library products (module
//! `gemm`), one per batch position, or one over the flattened batch when
//! the right operand is shared. Used by the lowering of tensor ops
//! (`lower_tensor`) and run by the pending actions (`pending`).

use crate::error::LowerError;
use crate::gemm::LibraryProduct;
use nnc_ir::ops::matmul::BatchDims;

/// A `batch_matmul`: a library product (module `gemm`) per batch
/// position over consecutive blocks of the operands and the result; with
/// a shared right operand and no transposed left one, the batch's rows
/// are one product (`[batch m, k] x [k, n]`).
pub(crate) struct BatchedProduct {
    dims: BatchDims,
    /// The products run, and the product run for each.
    runs: usize,
    product: LibraryProduct,
}

impl BatchedProduct {
    pub(crate) fn new(dims: BatchDims) -> Self {
        let BatchDims {
            batch,
            m,
            k,
            n,
            ta,
            tb,
            shared_b,
        } = dims;
        let (runs, product) = if shared_b && !ta {
            (1, LibraryProduct::new(batch * m, k, n, false, tb))
        } else {
            (batch, LibraryProduct::new(m, k, n, ta, tb))
        };
        BatchedProduct {
            dims,
            runs,
            product,
        }
    }

    pub(crate) fn describe(&self) -> String {
        let d = &self.dims;
        format!(
            "batched product: {} x [{}, {}] x [{}, {}] (ta: {}, tb: {}{}), {} product(s) on {}",
            d.batch,
            d.m,
            d.k,
            d.k,
            d.n,
            d.ta,
            d.tb,
            if d.shared_b { ", b shared" } else { "" },
            self.runs,
            self.product.engine()
        )
    }

    /// `c = a b` per batch position (`ins`: `a`, `b`; `outs`: `c`).
    pub(crate) fn run(
        &mut self,
        ins: &[&[f32]],
        outs: &mut [&mut [f32]],
    ) -> Result<(), LowerError> {
        // Nothing is allocated unless the buffers are wrong.
        let dims = self.dims;
        let wrong = || LowerError::Internal {
            message: format!("a batched product {dims:?} given buffers of the wrong sizes"),
        };
        let ([a, b], [c]) = (ins, outs) else {
            return Err(wrong());
        };
        let p = &self.product;
        let (a_len, b_len, c_len) = (p.m * p.k, p.k * p.n, p.m * p.n);
        if a.len() != a_len * self.runs || c.len() != c_len * self.runs {
            return Err(wrong());
        }
        if p.k == 0 {
            // Empty sums: zeros (and nothing at all for an empty result).
            c.fill(0.0);
            return Ok(());
        }
        if c_len == 0 {
            return Ok(());
        }
        let shared = self.dims.shared_b;
        for i in 0..self.runs {
            let a_i = a.get(i * a_len..(i + 1) * a_len).ok_or_else(wrong)?;
            let b_i = if shared {
                Some(&b[..])
            } else {
                b.get(i * b_len..(i + 1) * b_len)
            };
            let b_i = b_i.ok_or_else(wrong)?;
            let c_i = c.get_mut(i * c_len..(i + 1) * c_len).ok_or_else(wrong)?;
            self.product.run(a_i, b_i, c_i, 0.0, 1.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7 + seed * 13) % 23) as f32 - 11.0) / 16.0)
            .collect()
    }

    /// Every transpose, batched and shared right operands (the flattened
    /// single product included), against a plain loop.
    #[test]
    fn batched_products_match_a_plain_loop() {
        for (batch, m, k, n) in [(3, 4, 5, 6), (1, 1, 3, 1), (2, 7, 1, 3)] {
            for shared_b in [false, true] {
                for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                    let dims = BatchDims {
                        batch,
                        m,
                        k,
                        n,
                        ta,
                        tb,
                        shared_b,
                    };
                    let a = values(batch * m * k, 1);
                    let b = values(if shared_b { k * n } else { batch * k * n }, 2);
                    let mut c = vec![f32::NAN; batch * m * n];
                    let mut product = BatchedProduct::new(dims);
                    product.run(&[&a, &b], &mut [&mut c]).unwrap();
                    for i in 0..batch {
                        let (a0, b0) = (i * m * k, if shared_b { 0 } else { i * k * n });
                        for r in 0..m {
                            for col in 0..n {
                                let want: f32 = (0..k)
                                    .map(|q| {
                                        let x = if ta {
                                            a[a0 + q * m + r]
                                        } else {
                                            a[a0 + r * k + q]
                                        };
                                        let y = if tb {
                                            b[b0 + col * k + q]
                                        } else {
                                            b[b0 + q * n + col]
                                        };
                                        x * y
                                    })
                                    .sum();
                                let got = c[i * m * n + r * n + col];
                                assert!((got - want).abs() <= 1e-5, "{dims:?}: {got} vs {want}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Empty batches, rows, columns and sums neither panic nor read
    /// outside the buffers; wrong buffer sizes are an error.
    #[test]
    fn empty_and_wrong_sizes() {
        for (batch, m, k, n) in [(0, 2, 3, 4), (2, 0, 3, 4), (2, 3, 0, 4), (2, 3, 4, 0)] {
            let dims = BatchDims {
                batch,
                m,
                k,
                n,
                ta: false,
                tb: false,
                shared_b: false,
            };
            let (a, b) = (vec![1.0; batch * m * k], vec![1.0; batch * k * n]);
            let mut c = vec![f32::NAN; batch * m * n];
            BatchedProduct::new(dims)
                .run(&[&a, &b], &mut [&mut c])
                .unwrap();
            assert!(c.iter().all(|&v| v == 0.0));
        }
        let dims = BatchDims {
            batch: 2,
            m: 2,
            k: 2,
            n: 2,
            ta: false,
            tb: false,
            shared_b: false,
        };
        let mut c = vec![0.0; 8];
        let short = [0.0; 7];
        assert!(BatchedProduct::new(dims)
            .run(&[&short, &[0.0; 8]], &mut [&mut c])
            .is_err());
        assert!(BatchedProduct::new(dims)
            .run(&[&[0.0; 8], &short], &mut [&mut c])
            .is_err());
    }
}
