//! Transcendental functions emitted inline as Cranelift IR, for scalars and
//! `f32x4` vectors alike (no calls, so they vectorise).
//!
//! * `exp(x)`: `x` is clamped to `[-87, 88]` (so `exp` never returns 0 or
//!   infinity: results saturate at `e^-87 ≈ 1.6e-38` and `e^88 ≈ 1.65e38`).
//!   Then `x = n ln2 + r` with `n` an integer found by the round-to-nearest
//!   "magic number" trick (adding `1.5 * 2^23` leaves `n` in the low
//!   mantissa bits, which also gives the bits of `2^n` without a conversion
//!   instruction), `|r| <= ln2 / 2`, with `ln2` split in two (Cody-Waite) so
//!   `r` is computed exactly. `e^r` is the degree-6 Taylor polynomial, whose
//!   truncation error is below `0.347^7 / 7! ≈ 1.3e-7`; the total relative
//!   error is a few units in the last place (measured: below `2.3e-7` over
//!   `[-87, 88]`).
//! * `log(x)`: the exponent field gives `e` and the mantissa `m` in
//!   `[1, 2)`, halved (and `e` incremented) above `sqrt(2)` so that
//!   `m` lies in `[sqrt(1/2), sqrt(2)]`; then `ln m = 2 atanh(s)` with
//!   `s = (m - 1) / (m + 1)`, `|s| <= 0.172`, by its odd series to `s^11`,
//!   and `ln x = e ln2 + ln m` with `ln2` split as for `exp`. Measured:
//!   relative error below `1.4e-7` where `|ln x| > 1e-3`, absolute error
//!   below `6.2e-8` on `[0.5, 2]`. Defined
//!   only there: zero and subnormals give about `-88` (not `-inf`), `+inf`
//!   about `88.7`, negative numbers and NaN unspecified values. Callers
//!   clamp their arguments (costs clamp probabilities at `1e-30`).
//! * `sigmoid(x) = 1 / (1 + exp(-x))`: relative error below `1e-6` for
//!   `x >= -88` (measured: `2.5e-7`); below that it returns
//!   `1 / (1 + e^88) ≈ 6e-39` instead of a smaller number.
//! * `tanh(x)`: for `|x| < 0.25` the odd Taylor polynomial to `x^9`
//!   (truncation error below `2e-9` relative), otherwise
//!   `sign(x) (1 - e) / (1 + e)` with `e = exp(-2|x|)`, which has no
//!   cancellation there; relative error below `1e-6` everywhere (measured:
//!   `2.1e-7`).

use cranelift_codegen::ir::{condcodes::FloatCC, Endianness};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;

/// `1.5 * 2^23`: adding it to a float of magnitude below `2^22` rounds that
/// float to an integer kept in the low mantissa bits.
const MAGIC: f32 = 12_582_912.0;
const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split so that `n * LN2_HI` is exact for `|n| <= 2^8`.
const LN2_HI: f32 = 355.0 / 512.0;
const LN2_LO: f32 = -2.121_944_4e-4;

/// Emits float constants, scalar or splatted, and lane-wise helpers.
pub(crate) struct Math<'a, 'b> {
    pub b: &'a mut FunctionBuilder<'b>,
    /// `types::F32` or `types::F32X4`.
    pub ty: Type,
    pub has_fma: bool,
}

impl Math<'_, '_> {
    pub fn c(&mut self, v: f32) -> Value {
        let s = self.b.ins().f32const(v);
        if self.ty == types::F32 {
            s
        } else {
            self.b.ins().splat(self.ty, s)
        }
    }

    fn int_ty(&self) -> Type {
        if self.ty == types::F32 {
            types::I32
        } else {
            types::I32X4
        }
    }

    fn ci(&mut self, v: i64) -> Value {
        let s = self.b.ins().iconst(types::I32, v);
        if self.ty == types::F32 {
            s
        } else {
            self.b.ins().splat(types::I32X4, s)
        }
    }

    /// `a * b + c`, fused when the host has FMA.
    pub fn mul_add(&mut self, a: Value, b: Value, c: Value) -> Value {
        if self.has_fma {
            self.b.ins().fma(a, b, c)
        } else {
            let p = self.b.ins().fmul(a, b);
            self.b.ins().fadd(p, c)
        }
    }

    /// Reinterprets the bits of `x` as `to`.
    fn bitcast(&mut self, to: Type, x: Value) -> Value {
        let flags = MemFlagsData::new().with_endianness(Endianness::Little);
        self.b.ins().bitcast(to, flags, x)
    }

    /// Lane-wise `if cond { then } else { otherwise }` for a comparison
    /// result `cond` of [`Math::ty`]'s shape.
    pub fn select(&mut self, cond: Value, then: Value, otherwise: Value) -> Value {
        if self.ty == types::F32 {
            self.b.ins().select(cond, then, otherwise)
        } else {
            let mask = self.bitcast(self.ty, cond);
            self.b.ins().bitselect(mask, then, otherwise)
        }
    }

    pub fn exp(&mut self, x: Value) -> Value {
        let lo = self.c(-87.0);
        let hi = self.c(88.0);
        let x = self.b.ins().fmax(x, lo);
        let x = self.b.ins().fmin(x, hi);
        let log2e = self.c(LOG2E);
        let magic = self.c(MAGIC);
        // `t = x log2(e) + MAGIC` holds `n = round(x log2 e)` in its low bits.
        let xl = self.b.ins().fmul(x, log2e);
        let t = self.b.ins().fadd(xl, magic);
        let n = self.b.ins().fsub(t, magic);
        let ln2_hi = self.c(LN2_HI);
        let ln2_lo = self.c(LN2_LO);
        let nh = self.b.ins().fmul(n, ln2_hi);
        let r = self.b.ins().fsub(x, nh);
        let nl = self.b.ins().fmul(n, ln2_lo);
        let r = self.b.ins().fsub(r, nl);
        // Horner's scheme for 1 + r + r^2/2! + ... + r^6/6!.
        let coeffs = [
            1.0 / 720.0,
            1.0 / 120.0,
            1.0 / 24.0,
            1.0 / 6.0,
            0.5,
            1.0,
            1.0,
        ];
        let mut p = self.c(coeffs[0]);
        for &k in &coeffs[1..] {
            let kc = self.c(k);
            p = self.mul_add(p, r, kc);
        }
        // The bits of 2^n are (n + 127) << 23; the shift discards the bits
        // of MAGIC above the low nine, which are zero there.
        let it = self.int_ty();
        let bits = self.bitcast(it, t);
        let bias = self.ci(127);
        let biased = self.b.ins().iadd(bits, bias);
        let shift = self.b.ins().iconst(types::I32, 23);
        let e = self.b.ins().ishl(biased, shift);
        let scale = self.bitcast(self.ty, e);
        self.b.ins().fmul(p, scale)
    }

    pub fn log(&mut self, x: Value) -> Value {
        // x = 2^e m with m in [1, 2): the exponent and mantissa fields.
        let it = self.int_ty();
        let bits = self.bitcast(it, x);
        let shift = self.b.ins().iconst(types::I32, 23);
        let biased = self.b.ins().sshr(bits, shift);
        let bias = self.ci(127);
        let e = self.b.ins().isub(biased, bias);
        let e = self.b.ins().fcvt_from_sint(self.ty, e);
        let mantissa = self.ci(0x007F_FFFF);
        let one_bits = self.ci(0x3F80_0000);
        let m = self.b.ins().band(bits, mantissa);
        let m = self.b.ins().bor(m, one_bits);
        let m = self.bitcast(self.ty, m);
        // Centre m on 1: above sqrt(2), halve it and count one more power.
        let sqrt2 = self.c(std::f32::consts::SQRT_2);
        let big = self.b.ins().fcmp(FloatCC::GreaterThan, m, sqrt2);
        let half = self.c(0.5);
        let halved = self.b.ins().fmul(m, half);
        let m = self.select(big, halved, m);
        let one = self.c(1.0);
        let zero = self.c(0.0);
        let step = self.select(big, one, zero);
        let e = self.b.ins().fadd(e, step);
        // ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^11/11), s = (m-1)/(m+1),
        // |s| <= 0.172: the first omitted term is below 2e-11 of ln m.
        let num = self.b.ins().fsub(m, one);
        let den = self.b.ins().fadd(m, one);
        let s = self.b.ins().fdiv(num, den);
        let s2 = self.b.ins().fmul(s, s);
        let coeffs = [2.0 / 11.0, 2.0 / 9.0, 2.0 / 7.0, 2.0 / 5.0, 2.0 / 3.0, 2.0];
        let mut p = self.c(coeffs[0]);
        for &k in &coeffs[1..] {
            let kc = self.c(k);
            p = self.mul_add(p, s2, kc);
        }
        let ln_m = self.b.ins().fmul(s, p);
        // e ln 2, with ln 2 split so that e * LN2_HI is exact.
        let ln2_lo = self.c(LN2_LO);
        let ln2_hi = self.c(LN2_HI);
        let low = self.mul_add(e, ln2_lo, ln_m);
        self.mul_add(e, ln2_hi, low)
    }

    pub fn sigmoid(&mut self, x: Value) -> Value {
        let nx = self.b.ins().fneg(x);
        let e = self.exp(nx);
        let one = self.c(1.0);
        let d = self.b.ins().fadd(one, e);
        self.b.ins().fdiv(one, d)
    }

    pub fn tanh(&mut self, x: Value) -> Value {
        let ax = self.b.ins().fabs(x);
        // Large |x|: sign(x) (1 - e) / (1 + e), e = exp(-2|x|).
        let m2 = self.c(-2.0);
        let arg = self.b.ins().fmul(ax, m2);
        let e = self.exp(arg);
        let one = self.c(1.0);
        let num = self.b.ins().fsub(one, e);
        let den = self.b.ins().fadd(one, e);
        let big = self.b.ins().fdiv(num, den);
        let neg_big = self.b.ins().fneg(big);
        let zero = self.c(0.0);
        let is_neg = self.b.ins().fcmp(FloatCC::LessThan, x, zero);
        let big = self.select(is_neg, neg_big, big);
        // Small |x|: x (1 + x^2 (-1/3 + x^2 (2/15 + x^2 (-17/315 + x^2 62/2835)))).
        let x2 = self.b.ins().fmul(x, x);
        let coeffs = [62.0 / 2835.0, -17.0 / 315.0, 2.0 / 15.0, -1.0 / 3.0, 1.0];
        let mut p = self.c(coeffs[0]);
        for &k in &coeffs[1..] {
            let kc = self.c(k);
            p = self.mul_add(p, x2, kc);
        }
        let small = self.b.ins().fmul(x, p);
        let quarter = self.c(0.25);
        let is_small = self.b.ins().fcmp(FloatCC::LessThan, ax, quarter);
        self.select(is_small, small, big)
    }
}
