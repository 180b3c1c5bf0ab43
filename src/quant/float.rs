//! Casts to narrower floats: FP16, BF16, FP8 E4M3 (OCP E4M3FN) and FP8 E5M2, saturating.
//!
//! Every cast rounds to nearest, ties to even, and saturates as ONNX's `Cast` with
//! `saturate=1` does: a value beyond the largest finite value becomes ±that value
//! (E4M3FN: 448, E5M2: 57344), ±Inf too; NaN stays NaN. ONNX defines `saturate` only
//! for the FP8 types; we apply the same rule to FP16 (±65504) and BF16 so that every
//! reconstruction stays finite and the metrics stay meaningful (numpy's `astype` would
//! give ±Inf there instead). The scheme refuses NaN/Inf weights like every other
//! scheme; the element casts below still follow the rule for them.
//!
//! FP16/BF16 use the `half` crate; FP8 uses the `float8` crate (a port of CUDA's
//! `__nv_cvt_double_to_fp8` with finite saturation), which tests/schemes_reference.rs
//! holds to ONNX's reference evaluator bit for bit.

use std::fmt;

use float8::{F8E4M3, F8E5M2};
use half::{bf16, f16};
use serde::{Deserialize, Serialize};

use super::encoded::{check_finite, Encoded, Grid};
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FloatFormat {
    Fp16,
    Bf16,
    /// OCP FP8 E4M3FN: no infinities, largest finite 448.
    Fp8E4m3,
    /// OCP FP8 E5M2: IEEE-like, largest finite 57344.
    Fp8E5m2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatScheme {
    pub format: FloatFormat,
}

impl FloatFormat {
    pub const ALL: [FloatFormat; 4] = [
        FloatFormat::Fp16,
        FloatFormat::Bf16,
        FloatFormat::Fp8E4m3,
        FloatFormat::Fp8E5m2,
    ];

    pub fn bits(self) -> u8 {
        match self {
            FloatFormat::Fp16 | FloatFormat::Bf16 => 16,
            FloatFormat::Fp8E4m3 | FloatFormat::Fp8E5m2 => 8,
        }
    }

    /// The scheme name (`fp16`, `fp8-e4m3`).
    pub fn name(self) -> &'static str {
        match self {
            FloatFormat::Fp16 => "fp16",
            FloatFormat::Bf16 => "bf16",
            FloatFormat::Fp8E4m3 => "fp8-e4m3",
            FloatFormat::Fp8E5m2 => "fp8-e5m2",
        }
    }

    /// The bit pattern of `x` in this format (in the low bits), saturating.
    pub fn encode(self, x: f32) -> u16 {
        match self {
            FloatFormat::Fp16 => {
                let h = f16::from_f32(x);
                if h.is_infinite() {
                    (if x < 0.0 { f16::MIN } else { f16::MAX }).to_bits()
                } else {
                    h.to_bits()
                }
            }
            FloatFormat::Bf16 => {
                let h = bf16::from_f32(x);
                if h.is_infinite() {
                    (if x < 0.0 { bf16::MIN } else { bf16::MAX }).to_bits()
                } else {
                    h.to_bits()
                }
            }
            FloatFormat::Fp8E4m3 => {
                if x.is_nan() {
                    // ONNX's canonical E4M3FN NaN, sign dropped.
                    0x7F
                } else {
                    F8E4M3::from_f32(x).to_bits() as u16
                }
            }
            FloatFormat::Fp8E5m2 => {
                if x.is_nan() {
                    0x7E
                } else {
                    F8E5M2::from_f32(x).to_bits() as u16
                }
            }
        }
    }

    /// The value of a bit pattern (exact in f32).
    pub fn decode(self, bits: u16) -> f32 {
        match self {
            FloatFormat::Fp16 => f16::from_bits(bits).to_f32(),
            FloatFormat::Bf16 => bf16::from_bits(bits).to_f32(),
            FloatFormat::Fp8E4m3 => F8E4M3::from_bits(bits as u8).to_f32(),
            FloatFormat::Fp8E5m2 => F8E5M2::from_bits(bits as u8).to_f32(),
        }
    }
}

impl fmt::Display for FloatScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format.name())
    }
}

/// Parses `fp16`, `bf16`, `fp8-e4m3`, `fp8-e5m2` (also `f16`, `fp8-e4m3fn`, `e4m3`,
/// `e5m2`); None when the string is not of this family. A bare `fp8` is refused, naming
/// the two.
pub fn parse(s: &str) -> Option<std::result::Result<FloatScheme, String>> {
    let format = match s {
        "fp16" | "f16" | "float16" => FloatFormat::Fp16,
        "bf16" | "bfloat16" => FloatFormat::Bf16,
        "fp8-e4m3" | "fp8-e4m3fn" | "e4m3" | "e4m3fn" => FloatFormat::Fp8E4m3,
        "fp8-e5m2" | "e5m2" => FloatFormat::Fp8E5m2,
        _ if s == "fp8" || s.starts_with("fp8-") => {
            return Some(Err(format!("`{s}`: FP8 comes as fp8-e4m3 or fp8-e5m2")))
        }
        _ => return None,
    };
    Some(Ok(FloatScheme { format }))
}

impl FloatScheme {
    pub fn quantize(&self, t: &Tensor) -> Result<FloatCast> {
        check_finite(t)?;
        let f = self.format;
        Ok(FloatCast {
            scheme: *self,
            codes: t.data.iter().map(|&x| f.encode(x)).collect(),
        })
    }
}

/// A tensor cast to a narrower float: one bit pattern per value.
#[derive(Clone, Debug)]
pub struct FloatCast {
    pub scheme: FloatScheme,
    /// Bit patterns in the low 8 or 16 bits.
    pub codes: Vec<u16>,
}

impl FloatCast {
    /// How many values were beyond the format's range and saturated.
    pub fn saturated(&self) -> usize {
        let max = self.max_finite();
        let f = self.scheme.format;
        self.codes
            .iter()
            .filter(|&&c| f.decode(c).abs() == max)
            .count()
    }

    fn max_finite(&self) -> f32 {
        match self.scheme.format {
            FloatFormat::Fp16 => f16::MAX.to_f32(),
            FloatFormat::Bf16 => bf16::MAX.to_f32(),
            FloatFormat::Fp8E4m3 => F8E4M3::MAX.to_f32(),
            FloatFormat::Fp8E5m2 => F8E5M2::MAX.to_f32(),
        }
    }
}

/// At most this many grid levels are drawn: a 16-bit format over a wide range has too
/// many to see, and then the grid is left empty.
const MAX_GRID: usize = 1024;

impl Encoded for FloatCast {
    fn dequantize(&self) -> Vec<f32> {
        let f = self.scheme.format;
        self.codes.iter().map(|&c| f.decode(c)).collect()
    }

    fn packed_bytes(&self) -> usize {
        (self.codes.len() * self.scheme.format.bits() as usize).div_ceil(8)
    }

    fn describe(&self) -> String {
        let f = self.scheme.format;
        format!(
            "{}-bit {} cast, round to nearest even, saturating at ±{} (values at the limit: {})",
            f.bits(),
            self.scheme.format.name().to_uppercase(),
            self.max_finite(),
            self.saturated()
        )
    }

    /// Every representable value between the smallest and largest reconstruction, when
    /// there are at most [`MAX_GRID`] of them: always for FP8 (at most 254 finite
    /// values); FP16/BF16 over more than a few binades give no grid.
    fn grid(&self) -> Grid {
        let f = self.scheme.format;
        let (lo, hi) = self
            .codes
            .iter()
            .map(|&c| f.decode(c))
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if lo > hi {
            return Grid::default();
        }
        let patterns: u32 = 1 << f.bits();
        let mut levels: Vec<f32> = (0..patterns)
            .map(|b| f.decode(b as u16))
            .filter(|v| v.is_finite() && *v >= lo && *v <= hi)
            .collect();
        levels.sort_by(f32::total_cmp);
        levels.dedup();
        if levels.len() > MAX_GRID {
            levels.clear();
        }
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
        for s in ["fp16", "bf16", "fp8-e4m3", "fp8-e5m2"] {
            assert_eq!(parse(s).unwrap().unwrap().to_string(), s);
        }
        assert_eq!(parse("e4m3fn").unwrap().unwrap().to_string(), "fp8-e4m3");
        assert!(parse("fp8").unwrap().unwrap_err().contains("fp8-e4m3"));
        assert!(parse("fp4").is_none());
    }

    #[test]
    fn every_pattern_decodes_and_re_encodes_to_itself() {
        for f in [
            FloatFormat::Fp8E4m3,
            FloatFormat::Fp8E5m2,
            FloatFormat::Bf16,
            FloatFormat::Fp16,
        ] {
            for b in 0..(1u32 << f.bits()) {
                let v = f.decode(b as u16);
                if v.is_finite() {
                    assert_eq!(f.decode(f.encode(v)).to_bits(), v.to_bits(), "{f:?} {b:#x}");
                }
            }
        }
    }
}
