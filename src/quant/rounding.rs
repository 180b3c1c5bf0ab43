//! Rounding modes of the linear family: half to even, half away from zero, stochastic.
//!
//! Stochastic rounding draws its uniform number from a counter-based hash of
//! (seed, element index) rather than a stateful or OS generator, so the same scheme string
//! gives the same codes natively and in wasm, in any order of evaluation.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Rounding {
    /// Round half to even (numpy, ONNX Runtime, PyTorch): the default, token `rne`.
    #[default]
    HalfEven,
    /// Round half away from zero (C `round`, TFLite, ggml), token `rna`.
    HalfAway,
    /// floor(v + u), u uniform in [0, 1) from hash(seed, index): unbiased in expectation,
    /// token `sr<seed>`.
    Stochastic { seed: u64 },
}

impl Rounding {
    /// Parses a rounding token, or None when the token is not one.
    pub fn parse(tok: &str) -> Option<Result<Rounding, String>> {
        match tok {
            "rne" => Some(Ok(Rounding::HalfEven)),
            "rna" => Some(Ok(Rounding::HalfAway)),
            _ => {
                let digits = tok.strip_prefix("sr")?;
                Some(
                    digits
                        .parse()
                        .map(|seed| Rounding::Stochastic { seed })
                        .map_err(|_| {
                            format!("`{tok}`: stochastic rounding needs a seed, e.g. sr7")
                        }),
                )
            }
        }
    }

    /// Rounds one value (already divided by the scale) to an integer-valued f32.
    #[inline]
    pub fn round(self, v: f32, index: usize) -> f32 {
        match self {
            Rounding::HalfEven => v.round_ties_even(),
            Rounding::HalfAway => v.round(),
            Rounding::Stochastic { seed } => (v + uniform(seed, index as u64)).floor(),
        }
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rounding::HalfEven => f.write_str("rne"),
            Rounding::HalfAway => f.write_str("rna"),
            Rounding::Stochastic { seed } => write!(f, "sr{seed}"),
        }
    }
}

/// SplitMix64's finaliser: a strong 64-bit mixer, cheap and identical on every target.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) with 24 random bits (every value exact in f32), a pure
/// function of (seed, index).
#[inline]
pub fn uniform(seed: u64, index: u64) -> f32 {
    let h = mix(mix(seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_add(index));
    (h >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties() {
        assert_eq!(Rounding::HalfEven.round(2.5, 0), 2.0);
        assert_eq!(Rounding::HalfAway.round(2.5, 0), 3.0);
        assert_eq!(Rounding::HalfAway.round(-2.5, 0), -3.0);
    }

    #[test]
    fn stochastic_is_seeded_and_unbiased() {
        let r = Rounding::Stochastic { seed: 7 };
        assert_eq!(r.round(0.3, 5), r.round(0.3, 5));
        let n = 100_000;
        let ups = (0..n).filter(|&i| r.round(0.25, i) == 1.0).count();
        // Expected 25 000 ups; 5 standard deviations is about 685.
        assert!((ups as i64 - 25_000).abs() < 700, "{ups}");
        let other = Rounding::Stochastic { seed: 8 };
        assert!((0..64).any(|i| r.round(0.5, i) != other.round(0.5, i)));
        for i in 0..1000 {
            let u = uniform(3, i);
            assert!((0.0..1.0).contains(&u));
        }
    }
}
