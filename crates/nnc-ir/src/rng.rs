//! The one random number generator of nnc: xoshiro256** seeded through
//! SplitMix64. Parameter initialisation, per-epoch shuffling and dropout
//! masks all draw from it, so a run is reproduced exactly by its seed.
//!
//! Streams are derived, not shared: `Rng::derive(seed, stream)` gives an
//! independent generator per purpose (say, stream 1 for initialisation, 2 for
//! shuffling), so drawing more numbers for one purpose never changes another.

/// A small, fast, reproducible generator (not for cryptography).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator from a seed; any seed (zero included) is fine.
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let s = [
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
            splitmix64(&mut state),
        ];
        Rng { s }
    }

    /// An independent generator for purpose `stream` of the run `seed`.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut state = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Rng::new(splitmix64(&mut state))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1), with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n); `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        // Multiply-shift maps 64 random bits onto [0, n) with negligible bias
        // for the sizes used here (at most millions).
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Standard normal N(0, 1), by the Box-Muller transform.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]: the logarithm stays finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// The distributions the IR's `random` op draws from (`normal(shape)` and
/// `uniform(shape)` in a model). Every backend draws through
/// [`Noise::draws`], so they agree value for value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// The standard normal N(0, 1), by [`Rng::normal`].
    Normal,
    /// Uniform on [0, 1), by [`Rng::uniform`].
    Uniform,
}

impl Noise {
    /// The name in the IR's text and in the language (`normal`, `uniform`).
    pub fn name(self) -> &'static str {
        match self {
            Noise::Normal => "normal",
            Noise::Uniform => "uniform",
        }
    }

    /// The values of this distribution drawn in row-major order from
    /// `Rng::derive(seed, stream)`, rounded to `f32`.
    pub fn draws(self, seed: u64, stream: u64) -> impl Iterator<Item = f32> {
        let mut rng = Rng::derive(seed, stream);
        std::iter::from_fn(move || {
            Some(match self {
                Noise::Normal => rng.normal() as f32,
                Noise::Uniform => rng.uniform() as f32,
            })
        })
    }
}

/// The values of an inverted-dropout mask drawn in row-major order from
/// `Rng::derive(seed, stream)`: each `0` with probability `p` (a draw
/// `uniform() < p`), else `1 / (1 - p)`.
pub fn dropout_mask(p: f64, seed: u64, stream: u64) -> impl Iterator<Item = f32> {
    let mut rng = Rng::derive(seed, stream);
    let kept = (1.0 / (1.0 - p)) as f32;
    std::iter::from_fn(move || Some(if rng.uniform() < p { 0.0 } else { kept }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers_other_seed_other_numbers() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(Rng::derive(7, 1), Rng::derive(7, 2));
    }

    #[test]
    fn normal_has_mean_zero_and_unit_variance() {
        let mut rng = Rng::new(42);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn uniform_and_below_stay_in_range() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            let u = rng.uniform();
            assert!((0.0..1.0).contains(&u));
            assert!(rng.below(10) < 10);
        }
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut rng = Rng::new(3);
        let mut v: Vec<usize> = (0..100).collect();
        rng.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
