//! Logarithmic quantization: signed powers of two with an exact zero (`pot<bits>`), and
//! additive powers of two (`apot<bits>`, sums of two powers, after Li et al. 2020).
//!
//! Levels, for a top exponent E:
//! - `pot<b>`: one sign bit; the other b-1 bits code zero and the 2^(b-1) - 1 powers
//!   2^E, 2^(E-1), ..., 2^(E - 2^(b-1) + 2).
//! - `apot<b>`: one sign bit; the other m = b-1 bits split into m0 = ceil(m/2) bits for
//!   a first term p0 in {0, 2^E, 2^(E-2), 2^(E-4), ...} (2^m0 - 1 powers on even
//!   offsets) and m1 = floor(m/2) bits for a second term p1 in {0, 2^(E-1), 2^(E-3), ...}
//!   (2^m1 - 1 powers on odd offsets); a level is p0 + p1. Even and odd offsets never
//!   coincide, so the 2^m sums are distinct, zero among them; the top level is
//!   1.5 * 2^E. (The paper's weight quantizer has the same shape: a sign and b-1 bits
//!   of additive powers, with interleaved exponents.)
//!
//! With `-e<min>_<max>` the top exponent is `max` and no power below 2^min is used
//! (pot: exactly the exponents min..=max, which must fit the codes). Without it, the top
//! level t * 2^E (t = 1 for pot, 1.5 for apot) is the one nearest the tensor's largest
//! |x| in the linear domain, ties upward: for pot that is INQ's rule
//! E = floor(log2(4/3 * max|x|)) (Zhou et al. 2017), so the largest weight lands on the
//! top level and no level sits unused above it (ceil(log2 max|x|) can leave the top
//! level empty; round(log2 max|x|) rounds in the log domain, unlike the values). Powers
//! below 2^-126 (f32's smallest normal) are not used.
//!
//! Each value goes to the nearest level in the linear domain, a tie to the level of
//! larger magnitude (INQ's thresholds: beta when (alpha + beta) / 2 <= |w| < 3 beta / 2).
//! The seed survey rounds log2|x| instead (nearest in the log domain), which sends
//! values between 2^e * sqrt(2) and 2^e * 1.5 up where the linear rule sends them down:
//! we follow INQ and APoT, whose projection is the nearest level.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::encoded::{check_finite, Encoded, Grid};
use crate::error::Result;
use crate::tensor::Tensor;

/// Smallest exponent used: f32's smallest normal power of two.
const MIN_EXP: i32 = -126;
/// Largest exponent a top level may have (2^127 and 1.5 * 2^127 are finite in f32).
const MAX_EXP: i32 = 127;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogScheme {
    /// Sums of two powers of two (APoT) instead of single powers.
    pub additive: bool,
    /// Code width including the sign bit: pot 2..=8, apot 3..=6.
    pub bits: u8,
    /// Exponent range (min, max), or None to take the top from the data.
    pub exponents: Option<(i32, i32)>,
}

impl fmt::Display for LogScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.additive { "apot" } else { "pot" };
        write!(f, "{name}{}", self.bits)?;
        if let Some((lo, hi)) = self.exponents {
            write!(f, "-e{lo}_{hi}")?;
        }
        Ok(())
    }
}

/// Parses `{pot|apot}<bits>[-e<min>_<max>]`; None when the string is not of this family.
pub fn parse(s: &str) -> Option<std::result::Result<LogScheme, String>> {
    let (additive, rest) = if let Some(r) = s.strip_prefix("apot") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("pot") {
        (false, r)
    } else {
        return None;
    };
    Some((|| {
        let (bits, range) = match rest.split_once('-') {
            Some((b, r)) => (b, Some(r)),
            None => (rest, None),
        };
        let bits: u8 = bits
            .parse()
            .map_err(|_| format!("`{bits}`: bits must be a number, e.g. pot4"))?;
        let (lo, hi) = if additive { (3, 6) } else { (2, 8) };
        if !(lo..=hi).contains(&bits) {
            return Err(format!(
                "{bits} bits: between {lo} and {hi} for this family"
            ));
        }
        let exponents = match range {
            None => None,
            Some(r) => {
                let e = r
                    .strip_prefix('e')
                    .ok_or_else(|| format!("`{r}`: expected e<min>_<max>, e.g. e-8_0"))?;
                let (a, b) = e
                    .split_once('_')
                    .ok_or_else(|| format!("`{r}`: expected e<min>_<max>, e.g. e-8_0"))?;
                let num = |v: &str| {
                    v.parse::<i32>()
                        .map_err(|_| format!("`{v}`: exponent must be an integer"))
                };
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("exponent range {a}_{b}: min is above max"));
                }
                if a < MIN_EXP || b > MAX_EXP {
                    return Err(format!(
                        "exponent range {a}_{b}: must lie within {MIN_EXP}..{MAX_EXP} (f32 normals)"
                    ));
                }
                let codes = (1i64 << (bits - 1)) - 1;
                if !additive && (b - a + 1) as i64 > codes {
                    return Err(format!(
                        "pot{bits} codes {codes} exponents; e{a}_{b} asks for {}",
                        b - a + 1
                    ));
                }
                Some((a, b))
            }
        };
        Ok(LogScheme {
            additive,
            bits,
            exponents,
        })
    })())
}

impl LogScheme {
    /// The top level relative to 2^E.
    fn top(&self) -> f64 {
        let m1 = (self.bits as u32 - 1) / 2;
        if self.additive && m1 > 0 {
            1.5
        } else {
            1.0
        }
    }

    /// Magnitudes, ascending, zero first, for top exponent `e` and lowest power `min`.
    pub fn magnitudes(&self, e: i32, min: i32) -> Vec<f32> {
        let m = self.bits as i32 - 1;
        let pow = pow2;
        let mut mags: Vec<f64> = if self.additive {
            let (m0, m1) = ((m + 1) / 2, m / 2);
            let first = (0..(1 << m0) - 1).map(|i| e - 2 * i).filter(|&x| x >= min);
            let second: Vec<i32> = (0..(1 << m1) - 1)
                .map(|i| e - 1 - 2 * i)
                .filter(|&x| x >= min)
                .collect();
            let p0: Vec<f64> = std::iter::once(0.0).chain(first.map(pow)).collect();
            let p1: Vec<f64> = std::iter::once(0.0)
                .chain(second.iter().map(|&x| pow(x)))
                .collect();
            p0.iter()
                .flat_map(|a| p1.iter().map(move |b| a + b))
                .collect()
        } else {
            let n = (1 << m) - 1;
            std::iter::once(0.0)
                .chain((0..n).map(|i| e - i).filter(|&x| x >= min).map(pow))
                .collect()
        };
        mags.sort_by(f64::total_cmp);
        mags.dedup();
        // Exact in f32: at most 2^12 apart, within f32's normal range.
        mags.into_iter().map(|v| v as f32).collect()
    }

    /// The top exponent for a tensor whose largest |x| is `absmax`: the E whose top
    /// level t * 2^E is nearest `absmax`, ties upward (module docs).
    pub fn top_exponent(&self, absmax: f32) -> i32 {
        if let Some((_, hi)) = self.exponents {
            return hi;
        }
        if absmax == 0.0 {
            return 0;
        }
        let r = absmax as f64 / self.top();
        // floor(log2 r) from the bits: r is a positive normal f64.
        let e0 = ((r.to_bits() >> 52) & 0x7FF) as i32 - 1023;
        let e = if r >= 1.5 * pow2(e0) { e0 + 1 } else { e0 };
        e.clamp(MIN_EXP, MAX_EXP)
    }

    pub fn quantize(&self, t: &Tensor) -> Result<LogQuantized> {
        check_finite(t)?;
        let absmax = t.data.iter().fold(0f32, |m, v| m.max(v.abs()));
        let e = self.top_exponent(absmax);
        let min = self.exponents.map_or(MIN_EXP, |(lo, _)| lo);
        let mags = self.magnitudes(e, min);
        let sign_bit = 1u8 << (self.bits - 1);
        let codes = t
            .data
            .iter()
            .map(|&x| {
                let i = nearest(&mags, x.abs()) as u8;
                if x < 0.0 && i > 0 {
                    sign_bit | i
                } else {
                    i
                }
            })
            .collect();
        Ok(LogQuantized {
            scheme: *self,
            top_exponent: e,
            magnitudes: mags,
            codes,
        })
    }
}

/// 2^e built from its bits: exact and the same on every platform, for
/// -1022 <= e <= 1023 (here e stays near f32's exponents, -150..128).
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// Index of the level nearest `a` (>= 0) in ascending `mags`, a tie to the larger.
#[inline]
pub fn nearest(mags: &[f32], a: f32) -> usize {
    let p = mags.partition_point(|&m| m < a);
    if p == mags.len() {
        return p - 1;
    }
    if p == 0 {
        return 0;
    }
    let (lo, hi, a) = (mags[p - 1] as f64, mags[p] as f64, a as f64);
    if a - lo < hi - a {
        p - 1
    } else {
        p
    }
}

/// A tensor in powers of two: sign-magnitude codes and the level set.
#[derive(Clone, Debug)]
pub struct LogQuantized {
    pub scheme: LogScheme,
    pub top_exponent: i32,
    /// Ascending magnitudes, zero first; a code's low bits index it.
    pub magnitudes: Vec<f32>,
    /// Sign in bit `bits - 1`, magnitude index below (negative only when nonzero).
    pub codes: Vec<u8>,
}

impl Encoded for LogQuantized {
    fn dequantize(&self) -> Vec<f32> {
        let sign_bit = 1u8 << (self.scheme.bits - 1);
        self.codes
            .iter()
            .map(|&c| {
                let m = self.magnitudes[(c & !sign_bit) as usize];
                if c & sign_bit != 0 {
                    -m
                } else {
                    m
                }
            })
            .collect()
    }

    /// Codes at their bit width plus one byte for the top exponent.
    fn packed_bytes(&self) -> usize {
        (self.codes.len() * self.scheme.bits as usize).div_ceil(8) + 1
    }

    fn describe(&self) -> String {
        let kind = if self.scheme.additive {
            "sums of two powers of two"
        } else {
            "powers of two"
        };
        let from = match self.scheme.exponents {
            Some((lo, hi)) => format!("exponents {lo}..{hi}"),
            None => format!("top exponent {} from the data", self.top_exponent),
        };
        format!(
            "{}-bit sign + {} magnitudes ({kind}, zero included), {from}",
            self.scheme.bits,
            self.magnitudes.len()
        )
    }

    fn grid(&self) -> Grid {
        let levels = self
            .magnitudes
            .iter()
            .rev()
            .filter(|&&m| m > 0.0)
            .map(|m| -m)
            .chain(self.magnitudes.iter().copied())
            .collect();
        Grid {
            channel: None,
            levels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ["pot4", "apot4", "pot5-e-8_0", "apot6-e-20_3", "pot2"] {
            assert_eq!(parse(s).unwrap().unwrap().to_string(), s);
        }
        assert!(parse("int4").is_none());
        for (s, needle) in [
            ("pot9", "between 2 and 8"),
            ("apot2", "between 3 and 6"),
            ("pot4-e0_-3", "min is above max"),
            ("pot4-e-10_0", "asks for 11"),
            ("pot4-x", "`x`"),
            ("pot4-e-200_0", "within"),
        ] {
            let e = parse(s).unwrap().unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }

    #[test]
    fn level_counts_fill_the_codes() {
        for bits in 2..=8u8 {
            let s = LogScheme {
                additive: false,
                bits,
                exponents: None,
            };
            assert_eq!(s.magnitudes(0, MIN_EXP).len(), 1 << (bits - 1));
        }
        for bits in 3..=6u8 {
            let s = LogScheme {
                additive: true,
                bits,
                exponents: None,
            };
            let m = s.magnitudes(0, MIN_EXP);
            assert_eq!(m.len(), 1 << (bits - 1));
            assert_eq!(*m.last().unwrap(), 1.5);
        }
    }

    #[test]
    fn top_exponent_is_the_nearest_power() {
        let s = LogScheme {
            additive: false,
            bits: 4,
            exponents: None,
        };
        // 0.75 * 2^e is the midpoint between 2^(e-1) and 2^e: ties go up.
        assert_eq!(s.top_exponent(1.0), 0);
        assert_eq!(s.top_exponent(1.4999), 0);
        assert_eq!(s.top_exponent(1.5), 1);
        assert_eq!(s.top_exponent(0.75), 0);
        assert_eq!(s.top_exponent(0.7499), -1);
        assert_eq!(s.top_exponent(f32::MAX), 127);
    }
}
