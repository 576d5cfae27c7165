//! Scalar formulas: what a pointwise op computes at one element, written
//! once in the op table ([`crate::ops::table`]) and translated by every
//! backend: the interpreter evaluates it (`nnc-interp`), the CPU backend
//! turns it into `nnc-jit` expressions, the WGSL emitter into shader text.
//! A new pointwise op is a new formula over these primitives and needs no
//! backend edit; a new primitive is added to every translator at once.
//!
//! Semantics of the primitives (each translator keeps them):
//! - `Sigmoid` is `1 / (1 + e^-x)`, `Tanh` is `tanh x`, both for any `x`
//!   (no overflow);
//! - `Max`/`Min` of a NaN operand are unspecified;
//! - `Erf` is the error function: exact (to f64 rounding) in the
//!   interpreter, and [`Scalar::expand_erf`]'s polynomial, whose absolute
//!   error is below `1.5e-7`, in compiled code;
//! - `Select { cmp, a, b, then, otherwise }` is `then` where `a cmp b`
//!   holds, else `otherwise` (both are computed).

use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// A formula over the operands of a pointwise op.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// Operand `i`'s element.
    Arg(usize),
    Const(f64),
    Un(Un, Box<Scalar>),
    Bin(Bin, Box<Scalar>, Box<Scalar>),
    /// `if a cmp b { then } else { otherwise }`.
    Select {
        cmp: Cmp,
        a: Box<Scalar>,
        b: Box<Scalar>,
        then: Box<Scalar>,
        otherwise: Box<Scalar>,
    },
}

/// Unary primitives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Un {
    Neg,
    Abs,
    Sqrt,
    Exp,
    Log,
    Sigmoid,
    Tanh,
    Erf,
}

/// Binary primitives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Max,
    Min,
}

/// Comparisons of [`Scalar::Select`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Cmp {
    /// Whether `a cmp b` holds.
    pub fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }

    /// The operator's text (`>`, `>=`, ...), as Rust, WGSL and the IR
    /// printer write it.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
        }
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $bin:ident) => {
        impl $trait for Scalar {
            type Output = Scalar;
            fn $method(self, b: Scalar) -> Scalar {
                Scalar::bin(Bin::$bin, self, b)
            }
        }
    };
}

binary_operator!(Add, add, Add);
binary_operator!(Sub, sub, Sub);
binary_operator!(Mul, mul, Mul);
binary_operator!(Div, div, Div);

impl Neg for Scalar {
    type Output = Scalar;
    fn neg(self) -> Scalar {
        Scalar::un(Un::Neg, self)
    }
}

/// Operand `i` (builder shorthand).
pub fn arg(i: usize) -> Scalar {
    Scalar::Arg(i)
}

/// A constant (builder shorthand).
pub fn c(v: f64) -> Scalar {
    Scalar::Const(v)
}

impl Scalar {
    pub fn un(op: Un, x: Scalar) -> Scalar {
        Scalar::Un(op, Box::new(x))
    }

    pub fn bin(op: Bin, a: Scalar, b: Scalar) -> Scalar {
        Scalar::Bin(op, Box::new(a), Box::new(b))
    }

    pub fn max(self, b: Scalar) -> Scalar {
        Scalar::bin(Bin::Max, self, b)
    }

    pub fn min(self, b: Scalar) -> Scalar {
        Scalar::bin(Bin::Min, self, b)
    }

    pub fn abs(self) -> Scalar {
        Scalar::un(Un::Abs, self)
    }

    pub fn sqrt(self) -> Scalar {
        Scalar::un(Un::Sqrt, self)
    }

    pub fn exp(self) -> Scalar {
        Scalar::un(Un::Exp, self)
    }

    pub fn log(self) -> Scalar {
        Scalar::un(Un::Log, self)
    }

    pub fn sigmoid(self) -> Scalar {
        Scalar::un(Un::Sigmoid, self)
    }

    pub fn tanh(self) -> Scalar {
        Scalar::un(Un::Tanh, self)
    }

    pub fn erf(self) -> Scalar {
        Scalar::un(Un::Erf, self)
    }

    /// `then` where `self cmp b`, else `otherwise`.
    pub fn select(self, cmp: Cmp, b: Scalar, then: Scalar, otherwise: Scalar) -> Scalar {
        Scalar::Select {
            cmp,
            a: Box::new(self),
            b: Box::new(b),
            then: Box::new(then),
            otherwise: Box::new(otherwise),
        }
    }

    /// The number of operands the formula reads (one more than the largest
    /// `Arg` index).
    pub fn arity(&self) -> usize {
        match self {
            Scalar::Arg(i) => i + 1,
            Scalar::Const(_) => 0,
            Scalar::Un(_, x) => x.arity(),
            Scalar::Bin(_, a, b) => a.arity().max(b.arity()),
            Scalar::Select {
                a,
                b,
                then,
                otherwise,
                ..
            } => a
                .arity()
                .max(b.arity())
                .max(then.arity())
                .max(otherwise.arity()),
        }
    }

    /// Whether the formula uses `Erf`.
    pub fn uses_erf(&self) -> bool {
        match self {
            Scalar::Arg(_) | Scalar::Const(_) => false,
            Scalar::Un(op, x) => *op == Un::Erf || x.uses_erf(),
            Scalar::Bin(_, a, b) => a.uses_erf() || b.uses_erf(),
            Scalar::Select {
                a,
                b,
                then,
                otherwise,
                ..
            } => a.uses_erf() || b.uses_erf() || then.uses_erf() || otherwise.uses_erf(),
        }
    }

    /// The formula with every `Erf` replaced by the polynomial compiled
    /// code uses (Abramowitz and Stegun 7.1.26: absolute error below
    /// `1.5e-7`): `sign(x) (1 - t (a1 + t (a2 + ... + t a5)) e^(-x^2))`
    /// with `t = 1 / (1 + p |x|)`.
    pub fn expand_erf(&self) -> Scalar {
        match self {
            Scalar::Arg(_) | Scalar::Const(_) => self.clone(),
            Scalar::Un(Un::Erf, x) => erf_polynomial(x.expand_erf()),
            Scalar::Un(op, x) => Scalar::un(*op, x.expand_erf()),
            Scalar::Bin(op, a, b) => Scalar::bin(*op, a.expand_erf(), b.expand_erf()),
            Scalar::Select {
                cmp,
                a,
                b,
                then,
                otherwise,
            } => a.expand_erf().select(
                *cmp,
                b.expand_erf(),
                then.expand_erf(),
                otherwise.expand_erf(),
            ),
        }
    }

    /// Evaluates the formula in `f64` with `args` as the operands (the
    /// interpreter's evaluation, for tests and constant folding).
    pub fn eval(&self, args: &[f64]) -> f64 {
        match self {
            Scalar::Arg(i) => args[*i],
            Scalar::Const(v) => *v,
            Scalar::Un(op, x) => un_f64(*op, x.eval(args)),
            Scalar::Bin(op, a, b) => bin_f64(*op, a.eval(args), b.eval(args)),
            Scalar::Select {
                cmp,
                a,
                b,
                then,
                otherwise,
            } => {
                let (t, o) = (then.eval(args), otherwise.eval(args));
                if cmp.holds(a.eval(args), b.eval(args)) {
                    t
                } else {
                    o
                }
            }
        }
    }
}

/// `erf x` by the polynomial of [`Scalar::expand_erf`].
fn erf_polynomial(x: Scalar) -> Scalar {
    const P: f64 = 0.327_591_1;
    const A: [f64; 5] = [
        0.254_829_592,
        -0.284_496_736,
        1.421_413_741,
        -1.453_152_027,
        1.061_405_429,
    ];
    let t = c(1.0).div(c(1.0).add(c(P).mul(x.clone().abs())));
    let mut poly = c(A[4]);
    for &a in A[..4].iter().rev() {
        poly = c(a).add(t.clone().mul(poly));
    }
    let tail = t.mul(poly).mul(x.clone().mul(x.clone()).neg().exp());
    let magnitude = c(1.0).sub(tail);
    x.select(Cmp::Lt, c(0.0), magnitude.clone().neg(), magnitude)
}

/// A unary primitive in `f64`.
pub fn un_f64(op: Un, x: f64) -> f64 {
    match op {
        Un::Neg => -x,
        Un::Abs => x.abs(),
        Un::Sqrt => x.sqrt(),
        Un::Exp => x.exp(),
        Un::Log => x.ln(),
        Un::Sigmoid => {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                let e = x.exp();
                e / (1.0 + e)
            }
        }
        Un::Tanh => x.tanh(),
        Un::Erf => erf(x),
    }
}

/// A binary primitive in `f64`.
pub fn bin_f64(op: Bin, a: f64, b: f64) -> f64 {
    match op {
        Bin::Add => a + b,
        Bin::Sub => a - b,
        Bin::Mul => a * b,
        Bin::Div => a / b,
        Bin::Max => a.max(b),
        Bin::Min => a.min(b),
    }
}

/// The error function to about 1e-15: its Maclaurin series below 2 in
/// magnitude, the continued fraction of `erfc` above.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let value = if a < 2.0 {
        // erf a = 2/sqrt(pi) sum_n (-1)^n a^(2n+1) / (n! (2n+1))
        let a2 = a * a;
        let mut term = a;
        let mut sum = a;
        // At most about 40 terms are needed below 2 (the terms fall below
        // 1e-17 of the sum); the bound only guards the loop.
        for n in 1..200 {
            let n = n as f64;
            term *= -a2 / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() {
                break;
            }
        }
        sum * std::f64::consts::FRAC_2_SQRT_PI
    } else if a < 27.0 {
        // erfc a = e^(-a^2)/sqrt(pi) * 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))
        let mut fraction = a;
        for k in (1..=100).rev() {
            fraction = a + (k as f64 / 2.0) / fraction;
        }
        let erfc = (-a * a).exp() / (std::f64::consts::PI.sqrt() * fraction);
        1.0 - erfc
    } else {
        1.0
    };
    value.copysign(x)
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Arg(i) => write!(f, "x{i}"),
            Scalar::Const(v) => write!(f, "{v}"),
            Scalar::Un(op, x) => write!(f, "{}({x})", format!("{op:?}").to_lowercase()),
            Scalar::Bin(op, a, b) => match op {
                Bin::Add => write!(f, "({a} + {b})"),
                Bin::Sub => write!(f, "({a} - {b})"),
                Bin::Mul => write!(f, "({a} * {b})"),
                Bin::Div => write!(f, "({a} / {b})"),
                Bin::Max => write!(f, "max({a}, {b})"),
                Bin::Min => write!(f, "min({a}, {b})"),
            },
            Scalar::Select {
                cmp,
                a,
                b,
                then,
                otherwise,
            } => write!(f, "select({a} {} {b}, {then}, {otherwise})", cmp.symbol()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        // Values from the tables of the error function.
        let cases = [
            (0.0, 0.0),
            (0.1, 0.112_462_916_018_284_9),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (2.9, 0.999_958_902_121_900_1),
            (3.0, 0.999_977_909_503_001_4),
            (4.0, 0.999_999_984_582_742_1),
        ];
        for (x, want) in cases {
            assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 1e-14);
        }
    }

    #[test]
    fn the_compiled_erf_polynomial_is_within_its_bound() {
        let poly = arg(0).erf().expand_erf();
        assert!(!poly.uses_erf());
        let mut worst: f64 = 0.0;
        for i in -6000..=6000 {
            let x = i as f64 / 1000.0;
            worst = worst.max((poly.eval(&[x]) - erf(x)).abs());
        }
        assert!(worst < 1.5e-7, "worst error {worst}");
        assert!(worst > 1e-9, "the polynomial is not the exact function");
    }

    #[test]
    fn select_and_arity() {
        let relu = arg(0).select(Cmp::Gt, c(0.0), arg(0), c(0.0));
        assert_eq!(relu.eval(&[2.0]), 2.0);
        assert_eq!(relu.eval(&[-2.0]), 0.0);
        assert_eq!(relu.arity(), 1);
        assert_eq!(arg(2).mul(arg(0)).arity(), 3);
        assert_eq!(relu.to_string(), "select(x0 > 0, x0, 0)");
    }
}
