//! nnc's own single-precision matrix product for x86-64 processors with
//! AVX2 and FMA: `C = alpha * C + beta * op(A) op(B)`.
//!
//! # Why a product of our own
//!
//! Cranelift has 128-bit vectors only, so `nnc-jit`'s tiled kernel peaks
//! near a quarter of what the processor can do with 256-bit FMAs; the
//! `gemm` library reaches the processor's peak on large square products
//! but loses a third of it on the shapes a training step of a wide MLP
//! has: 64 rows (the batch) against 1024 x 1024 weights, where the library
//! re-packs the whole weight matrix on every call, and `K = 64` weight
//! gradients (see "Matrix products" in ARCHITECTURE.md for the figures).
//! This module is built for those shapes:
//!
//! - the **micro-kernel** keeps a `6 x 16` tile of the result in twelve
//!   256-bit registers and, for every `p`, broadcasts six values of one
//!   operand (the *broadcast side*, read in place through its strides:
//!   never packed) and loads sixteen of the other (the *vector side*,
//!   packed into `16`-wide panels so its loads are contiguous);
//! - the **orientation** picks which operand is which, so that the large
//!   operand (the weights) is read in place and only the small one (the
//!   batch) is packed: `Direct` broadcasts rows of `op(A)` and stores the
//!   tile as it is, `Transposed` broadcasts columns of `op(B)` and stores
//!   the tile transposed;
//! - `alpha` and `beta` let the caller fold an update into the product
//!   (`W = W - eta * dW` is `alpha = 1`, `beta = -eta`), so a weight
//!   gradient need never be stored;
//! - on two threads the rows of the broadcast side (or the columns of the
//!   vector side, whichever is longer, and the columns whenever the
//!   vector side is the larger operand, so that each thread packs half of
//!   it) are split in two, each half summed by one thread over the whole
//!   of `k` in a fixed order: results do not depend on the thread count.
//!
//! # Invariants
//!
//! - [`Sgemm::run`] checks every slice's length against the shape before
//!   it touches memory; the micro-kernel then reads only elements `(r, p)`
//!   with `r < rows`, `p < k` of the broadcast side (rows of a partial
//!   block repeat the block's first row instead of running past the end)
//!   and only the packed panels, and writes only valid elements of `C`.
//! - Packing buffers belong to the calling thread and serve every
//!   product it runs (one at a time): a graph of hundreds of products (an
//!   unrolled recurrence) holds one set, not one per product. They grow
//!   to the largest product on its first call; later calls allocate
//!   nothing.
//! - The code runs only where [`Sgemm::available`] says the processor has
//!   AVX2 and FMA; lowering asks first and uses the `gemm` library
//!   elsewhere.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Rows of the broadcast side per micro-kernel call.
const MR: usize = 6;
/// Columns of the vector side per micro-kernel call (two 8-lane vectors).
const NR: usize = 16;
/// The most of `k` one pass covers when the broadcast micro-panel is the
/// block kept in L1 (`6 x 512` values, 12 KiB).
const KC: usize = 512;
/// The most of `k` one pass covers when a vector-side panel is the block
/// kept in L1 (`256 x 16` values, 16 KiB).
const KC_PANEL: usize = 256;
/// The most vector-side columns packed at once (`512 x 256` values:
/// half of a 1 MiB L2... a quarter of it per thread on Zen's 512 KiB).
const NC: usize = 256;

/// Which operand the micro-kernel broadcasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// Rows of `op(A)` are broadcast, columns of `op(B)` are packed; the
    /// tile is stored as it is.
    Direct,
    /// Columns of `op(B)` are broadcast, rows of `op(A)` are packed; the
    /// tile is stored transposed.
    Transposed,
}

/// A planned product `C[m, n] = alpha * C + beta * op(A) op(B)`: `A` is
/// stored `[m, k]`, or `[k, m]` when `ta`; `B` is stored `[k, n]`, or
/// `[n, k]` when `tb`; `C` is row-major.
#[derive(Debug)]
pub struct Sgemm {
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    orientation: Orientation,
    threads: usize,
    /// The length of each thread's packing buffer: the vector side's
    /// panels (when the threads split its columns) and a broadcast
    /// micro-panel.
    buffer_len: usize,
    /// The length of the whole vector side packed once, shared by the
    /// threads when they split the broadcast side's rows (0 otherwise).
    shared_len: usize,
}

/// The packing buffers of the products a thread runs ([`Sgemm::run`]).
#[derive(Default)]
struct Packing {
    buffers: [Vec<f32>; 2],
    shared: Vec<f32>,
}

thread_local! {
    static PACKING: std::cell::RefCell<Packing> = std::cell::RefCell::new(Packing::default());
}

/// `buffer` at least `len` long (grown with zeros when shorter).
fn at_least(buffer: &mut Vec<f32>, len: usize) {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
}

/// Strides of the two sides and of the result, as the micro-kernel sees
/// them: broadcast element `(r, p)` at `r * urs + p * ups` of its
/// operand, vector element `(p, c)` at `p * vps + c * vcs`, result
/// element `(r, c)` at `r * crs + c * ccs` of `C`.
#[derive(Clone, Copy, Debug)]
struct Layout {
    rows: usize,
    cols: usize,
    k: usize,
    urs: usize,
    ups: usize,
    vps: usize,
    vcs: usize,
    crs: usize,
    ccs: usize,
}

impl Sgemm {
    /// The orientation chosen.
    pub fn orientation(&self) -> Orientation {
        self.orientation
    }

    /// The threads the product runs on (1 or 2).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Whether this processor runs the product (x86-64 with AVX2 and FMA).
    pub fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// Plans the product and allocates its packing buffers, in the
    /// orientation with the smaller [`Sgemm::overhead`].
    pub fn new(m: usize, k: usize, n: usize, ta: bool, tb: bool, threads: usize) -> Self {
        let direct = Self::with_orientation(m, k, n, ta, tb, threads, Orientation::Direct);
        let transposed = Self::with_orientation(m, k, n, ta, tb, threads, Orientation::Transposed);
        if transposed.overhead() < direct.overhead() {
            transposed
        } else {
            direct
        }
    }

    /// The work besides the multiply-adds, in rough element operations:
    /// packing the vector side (a contiguous copy costs 1 per element, a
    /// gather 4), gathering the broadcast side when it is not contiguous
    /// along `k` (4 per element), and storing the result (a transposed
    /// tile goes through memory element by element: 4 per element and
    /// pass over `k`, else 1/2). On W2's shapes this picks the faster
    /// orientation of the measured pair (ARCHITECTURE.md, "Matrix
    /// products").
    pub fn overhead(&self) -> usize {
        let l = self.layout();
        let pack_v = l.k * l.cols * if l.vcs == 1 { 1 } else { 4 };
        let gather_u = if l.ups == 1 { 0 } else { 4 * l.k * l.rows };
        let passes = l.k.div_ceil(KC).max(1);
        let store = match self.orientation {
            Orientation::Direct => l.rows * l.cols * passes / 2,
            Orientation::Transposed => 4 * l.rows * l.cols * passes,
        };
        pack_v + gather_u + store
    }

    /// Plans the product with the given orientation.
    pub fn with_orientation(
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        threads: usize,
        orientation: Orientation,
    ) -> Self {
        let mut s = Sgemm {
            m,
            k,
            n,
            ta,
            tb,
            orientation,
            threads: threads.clamp(1, 2),
            buffer_len: 0,
            shared_len: 0,
        };
        let layout = s.layout();
        let cols = layout.cols.div_ceil(NR) * NR;
        let kc = KC.min(k.max(1));
        let len = if s.split_rows() {
            s.shared_len = k.max(1) * cols.max(NR);
            0
        } else {
            kc * NC.min(cols.max(NR))
        };
        s.buffer_len = len + kc * MR;
        s
    }

    /// Whether the threads split the rows of the broadcast side (else the
    /// columns of the vector side): the longer of the two, in blocks,
    /// unless the vector side is the larger operand. Split by rows, the
    /// whole vector side is packed once, by one thread, before the two
    /// start; split by columns, each thread packs its own half. So a large
    /// vector side (the weights of `dz W` in backpropagation through time:
    /// `64 x 512 x 128`, twice as slow split by rows) splits by columns.
    fn split_rows(&self) -> bool {
        let l = self.layout();
        let longer = l.rows.div_ceil(MR) >= l.cols.div_ceil(NR);
        let vector_larger = l.cols > l.rows && l.cols.div_ceil(NR) >= 2;
        longer && !vector_larger
    }

    fn layout(&self) -> Layout {
        let (m, k, n) = (self.m, self.k, self.n);
        // op(A)(i, p) and op(B)(p, j) as offsets into A and B.
        let (a_is, a_ps) = if self.ta { (1, m) } else { (k, 1) };
        let (b_ps, b_js) = if self.tb { (1, k) } else { (n, 1) };
        match self.orientation {
            Orientation::Direct => Layout {
                rows: m,
                cols: n,
                k,
                urs: a_is,
                ups: a_ps,
                vps: b_ps,
                vcs: b_js,
                crs: n,
                ccs: 1,
            },
            Orientation::Transposed => Layout {
                rows: n,
                cols: m,
                k,
                urs: b_js,
                ups: b_ps,
                vps: a_ps,
                vcs: a_is,
                crs: 1,
                ccs: n,
            },
        }
    }

    /// Computes `C = alpha * C + beta * op(A) op(B)`; with `alpha == 0`
    /// the old values of `C` are not read (they may be anything, even
    /// NaN). Returns `false`, touching nothing, when a slice's length
    /// does not fit the shape or the processor lacks AVX2 or FMA.
    pub fn run(&mut self, a: &[f32], b: &[f32], c: &mut [f32], alpha: f32, beta: f32) -> bool {
        let (m, k, n) = (self.m, self.k, self.n);
        if a.len() != m * k || b.len() != k * n || c.len() != m * n || !Self::available() {
            return false;
        }
        if m == 0 || n == 0 {
            return true;
        }
        let layout = self.layout();
        let (u, v) = match self.orientation {
            Orientation::Direct => (a, b),
            Orientation::Transposed => (b, a),
        };
        PACKING.with(|packing| {
            let Ok(mut packing) = packing.try_borrow_mut() else {
                return false;
            };
            let Packing { buffers, shared } = &mut *packing;
            at_least(shared, self.shared_len);
            for buffer in buffers.iter_mut().take(self.threads) {
                at_least(buffer, self.buffer_len);
            }
            let [one, two] = buffers;
            let second = self.buffer_len.min(two.len());
            let own: &mut [&mut [f32]] =
                &mut [&mut one[..self.buffer_len], &mut two[..second]][..self.threads];
            self.run_packed(
                layout,
                u,
                v,
                c,
                alpha,
                beta,
                &mut shared[..self.shared_len],
                own,
            )
        })
    }

    /// [`Sgemm::run`] with the packing buffers given.
    #[allow(clippy::too_many_arguments)]
    fn run_packed(
        &self,
        layout: Layout,
        u: &[f32],
        v: &[f32],
        c: &mut [f32],
        alpha: f32,
        beta: f32,
        shared_buffer: &mut [f32],
        buffers: &mut [&mut [f32]],
    ) -> bool {
        let out = OutPtr(c.as_mut_ptr());
        let split_rows = self.split_rows();
        let shared: &[f32] = if split_rows {
            // SAFETY: `shared_buffer` holds `k x cols` rounded up to whole
            // panels (`shared_len`), and the lengths of the operands were
            // checked by `run`.
            unsafe { pack_all(&layout, v, shared_buffer) };
            shared_buffer
        } else {
            &[]
        };
        let whole = ((0, layout.rows), (0, layout.cols));
        match buffers {
            [one, two] => {
                // Halves aligned to the micro-kernel's blocks.
                let (total, unit) = if split_rows {
                    (layout.rows, MR)
                } else {
                    (layout.cols, NR)
                };
                let mid = (total.div_ceil(unit).div_ceil(2) * unit).min(total);
                let ranges = |lo: usize, hi: usize| {
                    if split_rows {
                        ((lo, hi), (0, layout.cols))
                    } else {
                        ((0, layout.rows), (lo, hi))
                    }
                };
                let (first, second) = (ranges(0, mid), ranges(mid, total));
                let (one, two) = (std::sync::Mutex::new(one), std::sync::Mutex::new(two));
                let half = |range, buffer: &std::sync::Mutex<&mut &mut [f32]>| {
                    // Each half locks only its own buffer (never contended).
                    if let Ok(mut buffer) = buffer.lock() {
                        // SAFETY: the ranges are disjoint blocks of the
                        // result, so the two threads write disjoint
                        // elements of `C`; everything else they touch is
                        // read-only or their own buffer. `pair::both`
                        // returns only after both halves finish.
                        unsafe { part(&layout, u, v, shared, out, alpha, beta, range, &mut buffer) }
                    }
                };
                if !crate::pair::both(&|| half(first, &one), &|| half(second, &two)) {
                    return false;
                }
            }
            [one, ..] => {
                // SAFETY: one thread, the whole result.
                unsafe { part(&layout, u, v, shared, out, alpha, beta, whole, one) }
            }
            [] => return false,
        }
        true
    }
}

/// The result's base pointer, sent to the second thread.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: the two threads of one call write disjoint elements through it
// (see `Sgemm::run`), and it does not outlive the call.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// Computes the block `rows x cols` of the result with one thread.
///
/// # Safety
///
/// `u`, `v` and `out` must hold the operands and the result of `layout`
/// (lengths checked by the caller), the ranges must lie inside
/// `layout.rows` and `layout.cols`, no other thread may touch this block
/// of the result, and the processor must have AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
unsafe fn part(
    layout: &Layout,
    u: &[f32],
    v: &[f32],
    shared: &[f32],
    out: OutPtr,
    alpha: f32,
    beta: f32,
    ((r_lo, r_hi), (c_lo, c_hi)): ((usize, usize), (usize, usize)),
    buffer: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    {
        part_avx2(
            layout,
            u,
            v,
            shared,
            out,
            alpha,
            beta,
            (r_lo, r_hi),
            (c_lo, c_hi),
            buffer,
        )
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (
            layout, u, v, shared, out, alpha, beta, r_lo, r_hi, c_lo, c_hi, buffer,
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn part_avx2(
    l: &Layout,
    u: &[f32],
    v: &[f32],
    shared: &[f32],
    out: OutPtr,
    alpha: f32,
    beta: f32,
    (r_lo, r_hi): (usize, usize),
    (c_lo, c_hi): (usize, usize),
    buffer: &mut [f32],
) {
    let k = l.k;
    // The broadcast micro-panel, when the broadcast side steps more than
    // one element per `p` (then it is gathered once per block of rows and
    // read from L1 by every panel).
    let (panels_buf, micro) = buffer.split_at_mut(buffer.len() - KC.min(k.max(1)) * MR);
    // When this thread packs its own columns and the broadcast side is
    // contiguous along `k`, each packed panel stays in L1 while every
    // block of rows passes over it (the rows stream from L2); otherwise
    // each micro-panel of rows stays in L1 while the panels stream.
    let panel_outer = shared.is_empty() && l.ups == 1;
    let kc = if panel_outer { KC_PANEL } else { KC };
    let mut p0 = 0;
    loop {
        let kb = kc.min(k - p0);
        // The first pass over `k` applies alpha; later ones accumulate.
        let (a_pass, first) = if p0 == 0 { (alpha, true) } else { (1.0, false) };
        let mut c0 = c_lo;
        while c0 < c_hi {
            let cb = if shared.is_empty() {
                NC.min(c_hi - c0)
            } else {
                c_hi - c0
            };
            // Panel `q` of this block starts at `panels + q * step`, and
            // its rows are `vstep` apart (16: packed).
            let (panels, step, vstep) = if shared.is_empty() {
                pack(l, v, p0, kb, c0, cb, panels_buf);
                (panels_buf.as_ptr(), kb * NR, NR)
            } else {
                (shared.as_ptr().add(c0 * k + p0 * NR), k * NR, NR)
            };
            if panel_outer {
                let mut q = 0;
                while q * NR < cb {
                    let nr = NR.min(cb - q * NR);
                    let panel = panels.add(q * step);
                    let mut r0 = r_lo;
                    while r0 < r_hi {
                        let rb = MR.min(r_hi - r0);
                        // Rows past the end repeat the block's first row.
                        let mut rows = [u.as_ptr(); MR];
                        for (r, ptr) in rows.iter_mut().enumerate() {
                            let row = if r < rb { r0 + r } else { r0 };
                            *ptr = u.as_ptr().add(row * l.urs + p0);
                        }
                        let dst = out.0.add(r0 * l.crs + (c0 + q * NR) * l.ccs);
                        tile(
                            kb, &rows, 1, panel, vstep, dst, l.crs, l.ccs, rb, nr, a_pass, beta,
                            first,
                        );
                        r0 += MR;
                    }
                    q += 1;
                }
                c0 += cb;
                continue;
            }
            let mut r0 = r_lo;
            while r0 < r_hi {
                let rb = MR.min(r_hi - r0);
                // Rows past the end repeat the block's first row.
                let mut rows = [u.as_ptr(); MR];
                let ups = if l.ups == 1 {
                    for (r, ptr) in rows.iter_mut().enumerate() {
                        let row = if r < rb { r0 + r } else { r0 };
                        *ptr = u.as_ptr().add(row * l.urs + p0);
                    }
                    1
                } else {
                    for p in 0..kb {
                        for r in 0..MR {
                            let row = if r < rb { r0 + r } else { r0 };
                            *micro.get_unchecked_mut(p * MR + r) =
                                *u.get_unchecked(row * l.urs + (p0 + p) * l.ups);
                        }
                    }
                    for (r, ptr) in rows.iter_mut().enumerate() {
                        *ptr = micro.as_ptr().add(r);
                    }
                    MR
                };
                let mut q = 0;
                while q * NR < cb {
                    let nr = NR.min(cb - q * NR);
                    let panel = panels.add(q * step);
                    let dst = out.0.add(r0 * l.crs + (c0 + q * NR) * l.ccs);
                    tile(
                        kb, &rows, ups, panel, NR, dst, l.crs, l.ccs, rb, nr, a_pass, beta, first,
                    );
                    q += 1;
                }
                r0 += MR;
            }
            c0 += cb;
        }
        p0 += kb;
        if p0 >= k {
            break;
        }
    }
}

/// Packs the whole vector side (`k x cols`) into `16`-wide panels, each
/// holding all of `k` (`p`-major inside a panel), zero-filling columns
/// past the end.
///
/// # Safety
///
/// `v` must hold the vector side of `l` and `dst` at least
/// `k x cols` rounded up to whole panels; the processor must have AVX2.
unsafe fn pack_all(l: &Layout, v: &[f32], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        pack(l, v, 0, l.k, 0, l.cols, dst)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (l, v, dst);
    }
}

/// Packs the vector-side block `[p0, p0 + kb) x [c0, c0 + cb)` into
/// `16`-wide panels, `p`-major inside a panel, zero-filling the columns
/// past `cb`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack(
    l: &Layout,
    v: &[f32],
    p0: usize,
    kb: usize,
    c0: usize,
    cb: usize,
    buffer: &mut [f32],
) {
    let panels = cb.div_ceil(NR);
    if l.vcs == 1 && cb.is_multiple_of(NR) {
        // Row by row: each row of the block is read contiguously and
        // spread over the panels (sequential reads and writes).
        for p in 0..kb {
            let src = v.as_ptr().add((p0 + p) * l.vps + c0);
            let d = buffer.as_mut_ptr().add(p * NR);
            for q in 0..panels {
                let s = src.add(q * NR);
                let d = d.add(q * kb * NR);
                _mm256_storeu_ps(d, _mm256_loadu_ps(s));
                _mm256_storeu_ps(d.add(8), _mm256_loadu_ps(s.add(8)));
            }
        }
        return;
    }
    for q in 0..panels {
        let nr = NR.min(cb - q * NR);
        let dst = &mut buffer[q * kb * NR..(q + 1) * kb * NR];
        let col = c0 + q * NR;
        if l.vps == 1 && nr == NR {
            // A transposed operand: each column's `p`s are contiguous.
            // Blocks of 8 columns x 8 `p`s are transposed in registers.
            let whole = kb / 8 * 8;
            for half in 0..2 {
                for p in (0..whole).step_by(8) {
                    let src = v.as_ptr().add(p0 + p + (col + half * 8) * l.vcs);
                    transpose_8x8(src, l.vcs, dst.as_mut_ptr().add(p * NR + half * 8), NR);
                }
            }
            for c in 0..NR {
                for p in whole..kb {
                    *dst.get_unchecked_mut(p * NR + c) =
                        *v.get_unchecked(p0 + p + (col + c) * l.vcs);
                }
            }
            continue;
        }
        // Column by column: each reads a contiguous run of `v` when its
        // `p` stride is one (a transposed operand).
        for c in 0..NR {
            for p in 0..kb {
                *dst.get_unchecked_mut(p * NR + c) = if c < nr {
                    *v.get_unchecked((p0 + p) * l.vps + (col + c) * l.vcs)
                } else {
                    0.0
                };
            }
        }
    }
}

/// Reads 8 rows of 8 values (row `i` at `src + i * src_step`) and writes
/// them transposed: row `j` of the result, at `dst + j * dst_step`, holds
/// value `j` of every source row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_8x8(src: *const f32, src_step: usize, dst: *mut f32, dst_step: usize) {
    let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_step)));
    // Pairs of rows interleaved, then pairs of pairs, then the halves.
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    let out = [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ];
    for (j, row) in out.into_iter().enumerate() {
        _mm256_storeu_ps(dst.add(j * dst_step), row);
    }
}

/// One `6 x 16` tile: sums `kb` products of six broadcast values (row
/// pointers `rows`, stepping `ups` per `p`) and sixteen values of a panel
/// (`panel`, stepping `vstep` per `p`: 16 when packed), then
/// writes the valid `rb x nr` part to `dst` (element `(r, c)` at
/// `r * crs + c * ccs`): `dst = alpha * dst + beta * sum` on the first
/// pass over `k` (`dst` not read when `alpha == 0`), `dst += beta * sum`
/// after.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    kb: usize,
    rows: &[*const f32; MR],
    ups: usize,
    panel: *const f32,
    vstep: usize,
    dst: *mut f32,
    crs: usize,
    ccs: usize,
    rb: usize,
    nr: usize,
    alpha: f32,
    beta: f32,
    first: bool,
) {
    let [r0, r1, r2, r3, r4, r5] = *rows;
    let z = _mm256_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
    let mut b = panel;
    let mut off = 0;
    for _ in 0..kb {
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        let a = _mm256_broadcast_ss(&*r0.add(off));
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        let a = _mm256_broadcast_ss(&*r1.add(off));
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        let a = _mm256_broadcast_ss(&*r2.add(off));
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        let a = _mm256_broadcast_ss(&*r3.add(off));
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
        let a = _mm256_broadcast_ss(&*r4.add(off));
        c40 = _mm256_fmadd_ps(a, b0, c40);
        c41 = _mm256_fmadd_ps(a, b1, c41);
        let a = _mm256_broadcast_ss(&*r5.add(off));
        c50 = _mm256_fmadd_ps(a, b0, c50);
        c51 = _mm256_fmadd_ps(a, b1, c51);
        b = b.add(vstep);
        off += ups;
    }
    let acc = [
        [c00, c01],
        [c10, c11],
        [c20, c21],
        [c30, c31],
        [c40, c41],
        [c50, c51],
    ];
    let vb = _mm256_set1_ps(beta);
    if ccs == 1 && nr == NR {
        // Rows of the tile are contiguous in the result.
        let va = _mm256_set1_ps(alpha);
        for (r, [lo, hi]) in acc.iter().enumerate().take(rb) {
            let d = dst.add(r * crs);
            let (x0, x1) = (_mm256_mul_ps(vb, *lo), _mm256_mul_ps(vb, *hi));
            let (y0, y1) = if first && alpha == 0.0 {
                (x0, x1)
            } else if first {
                (
                    _mm256_fmadd_ps(va, _mm256_loadu_ps(d), x0),
                    _mm256_fmadd_ps(va, _mm256_loadu_ps(d.add(8)), x1),
                )
            } else {
                (
                    _mm256_add_ps(_mm256_loadu_ps(d), x0),
                    _mm256_add_ps(_mm256_loadu_ps(d.add(8)), x1),
                )
            };
            _mm256_storeu_ps(d, y0);
            _mm256_storeu_ps(d.add(8), y1);
        }
        return;
    }
    // Anything else goes through memory: a partial tile, or a transposed
    // one (then each column of the tile is a row segment of the result).
    let mut sums = [[0.0f32; NR]; MR];
    for (row, [lo, hi]) in sums.iter_mut().zip(acc) {
        _mm256_storeu_ps(row.as_mut_ptr(), _mm256_mul_ps(vb, lo));
        _mm256_storeu_ps(row.as_mut_ptr().add(8), _mm256_mul_ps(vb, hi));
    }
    for c in 0..nr {
        for (r, row) in sums.iter().enumerate().take(rb) {
            let d = dst.add(r * crs + c * ccs);
            let x = row[c];
            *d = if first && alpha == 0.0 {
                x
            } else if first {
                alpha * *d + x
            } else {
                *d + x
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(s: &Sgemm, a: &[f32], b: &[f32], c: &[f32], alpha: f32, beta: f32) -> Vec<f32> {
        let (m, k, n) = (s.m, s.k, s.n);
        let at = |i: usize, p: usize| if s.ta { a[p * m + i] } else { a[i * k + p] };
        let bt = |p: usize, j: usize| if s.tb { b[j * k + p] } else { b[p * n + j] };
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                let sum: f64 = (0..k).map(|p| at(i, p) as f64 * bt(p, j) as f64).sum();
                let old = if alpha == 0.0 {
                    0.0
                } else {
                    alpha as f64 * c[i * n + j] as f64
                };
                out[i * n + j] = (old + beta as f64 * sum) as f32;
            }
        }
        out
    }

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7 + seed * 13) % 23) as f32 - 11.0) / 16.0)
            .collect()
    }

    /// Every orientation, transpose combination, thread count and edge
    /// (sizes that are no multiple of 6 or 16, `k` over one pass) agrees
    /// with a plain loop in f64.
    #[test]
    fn products_match_a_plain_loop() {
        if !Sgemm::available() {
            return;
        }
        let shapes = [
            (7, 13, 5),
            (13, 600, 37),
            (64, 70, 33),
            (1, 3, 1),
            (20, 1, 50),
        ];
        for (m, k, n) in shapes {
            for ta in [false, true] {
                for tb in [false, true] {
                    for orientation in [Orientation::Direct, Orientation::Transposed] {
                        for threads in [1, 2] {
                            for (alpha, beta) in [(0.0, 1.0), (1.0, -0.5), (0.5, 2.0)] {
                                let a = values(m * k, 1);
                                let b = values(k * n, 2);
                                let mut c = if alpha == 0.0 {
                                    vec![f32::NAN; m * n]
                                } else {
                                    values(m * n, 3)
                                };
                                let mut s =
                                    Sgemm::with_orientation(m, k, n, ta, tb, threads, orientation);
                                let want = reference(&s, &a, &b, &c, alpha, beta);
                                assert!(s.run(&a, &b, &mut c, alpha, beta));
                                for (got, want) in c.iter().zip(&want) {
                                    assert!(
                                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                                        "{m}x{k}x{n} ta {ta} tb {tb} {orientation:?} \
                                         threads {threads}: {got} vs {want}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The orientations the cost model picks on W2's products are the ones
    /// measured faster.
    #[test]
    fn the_cost_model_picks_the_measured_orientations() {
        let pick = |m, k, n, ta, tb| Sgemm::new(m, k, n, ta, tb, 1).orientation;
        assert_eq!(pick(64, 1024, 1024, false, true), Orientation::Transposed);
        assert_eq!(pick(64, 784, 1024, false, true), Orientation::Transposed);
        assert_eq!(pick(64, 1024, 1024, false, false), Orientation::Direct);
        assert_eq!(pick(1024, 64, 1024, true, false), Orientation::Direct);
        assert_eq!(pick(1024, 64, 784, true, false), Orientation::Direct);
    }

    #[test]
    fn wrong_lengths_touch_nothing() {
        let mut s = Sgemm::new(2, 3, 4, false, false, 1);
        let mut c = vec![7.0; 8];
        assert!(!s.run(&[0.0; 5], &[0.0; 12], &mut c, 0.0, 1.0));
        assert!(c.iter().all(|&x| x == 7.0));
    }

    /// Two threads give bit-for-bit the result of one.
    #[test]
    fn two_threads_compute_the_same_bits_as_one() {
        if !Sgemm::available() {
            return;
        }
        let (m, k, n) = (64, 300, 200);
        let a = values(m * k, 4);
        let b = values(k * n, 5);
        let run = |threads| {
            let mut c = vec![0.0; m * n];
            assert!(Sgemm::new(m, k, n, false, true, threads).run(&a, &b, &mut c, 0.0, 1.0));
            c
        };
        let one = run(1);
        assert!(one
            .iter()
            .zip(run(2))
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
