//! 4-bit codebooks with one absmax per block, as bitsandbytes defines them: NF4 and FP4.
//!
//! The rules are those of bitsandbytes' reference (`default`) backend, which is also what
//! its CPU backend runs for `quantize_4bit` (bitsandbytes 0.50, backends/default/ops.py):
//! - the tensor is flattened (C order) and cut into blocks of `block` values; the last
//!   block may be shorter;
//! - absmax = max |x| of the block, kept in f32;
//! - a full block is scaled by multiplying with the f32 reciprocal
//!   `1 / max(absmax, 1e-38)`, the short tail block by dividing by it; then clamped to
//!   [-1, 1];
//! - the code is `bucketize(scaled, midpoints)`: the midpoints between neighbouring
//!   levels (sorted ascending), computed in f32, and a value exactly on a midpoint goes
//!   to the lower level (torch.bucketize with right=False);
//! - codes are packed two per byte, the first of each pair in the high nibble; an odd
//!   count is padded with the code of 0.0;
//! - dequantization is `level[code] * absmax` in f32.
//!
//! bitsandbytes' CUDA kernels choose codes with a hand-written decision tree whose
//! thresholds are decimal approximations of the same midpoints, so a value within about
//! 1e-7 of a midpoint may land on the other side there; we follow the reference backend.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::encoded::{check_finite, Encoded, Grid};
use crate::error::Result;
use crate::tensor::Tensor;

/// Which 16-level table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FourBitFormat {
    /// NormalFloat: quantiles of N(0, 1) scaled to [-1, 1] (QLoRA).
    Nf4,
    /// bitsandbytes' FP4: e2m1 with its own bias, scaled so the largest level is 1.
    Fp4,
}

/// `nf4[-b<block>]` or `fp4[-b<block>]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FourBitScheme {
    pub format: FourBitFormat,
    /// Values per absmax block (bitsandbytes: 32, 64, ..., 4096; 64 by default).
    pub block: usize,
}

/// bitsandbytes' default block.
pub const DEFAULT_BLOCK: usize = 64;
/// The block sizes bitsandbytes' `quantize_4bit` accepts.
pub const BLOCKS: [usize; 8] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

impl fmt::Display for FourBitScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.format {
            FourBitFormat::Nf4 => "nf4",
            FourBitFormat::Fp4 => "fp4",
        };
        f.write_str(name)?;
        if self.block != DEFAULT_BLOCK {
            write!(f, "-b{}", self.block)?;
        }
        Ok(())
    }
}

/// Parses `{nf4|fp4}[-b<block>]`; None when the string is not of this family.
pub fn parse(s: &str) -> Option<std::result::Result<FourBitScheme, String>> {
    let (format, rest) = if let Some(r) = s.strip_prefix("nf4") {
        (FourBitFormat::Nf4, r)
    } else if let Some(r) = s.strip_prefix("fp4") {
        (FourBitFormat::Fp4, r)
    } else {
        return None;
    };
    Some((|| {
        let block = match rest {
            "" => DEFAULT_BLOCK,
            _ => {
                let b = rest
                    .strip_prefix("-b")
                    .ok_or_else(|| format!("`{rest}`: expected -b<block>, e.g. -b64"))?;
                let block: usize = b
                    .parse()
                    .map_err(|_| format!("`b{b}`: block must be a number, e.g. -b64"))?;
                if !BLOCKS.contains(&block) {
                    return Err(format!(
                        "block {block}: bitsandbytes takes 32, 64, 128, 256, 512, 1024, 2048 or 4096"
                    ));
                }
                block
            }
        };
        Ok(FourBitScheme { format, block })
    })())
}

/// NF4 levels as bitsandbytes lists them (functional.get_4bit_type("nf4")), ascending;
/// the code is the index. Written as f64 and narrowed, as torch.tensor narrows the
/// Python floats; tests/schemes_reference.rs holds this table to the one read out of
/// the bitsandbytes package.
const NF4: [f32; 16] = [
    -1.0f64 as f32,
    -0.6961928009986877f64 as f32,
    -0.5250730514526367f64 as f32,
    -0.39491748809814453f64 as f32,
    -0.28444138169288635f64 as f32,
    -0.18477343022823334f64 as f32,
    -0.09105003625154495f64 as f32,
    0.0,
    0.07958029955625534f64 as f32,
    0.16093020141124725f64 as f32,
    0.24611230194568634f64 as f32,
    0.33791524171829224f64 as f32,
    0.44070982933044434f64 as f32,
    0.5626170039176941f64 as f32,
    0.7229568362236023f64 as f32,
    1.0,
];

/// FP4 before normalisation, in bitsandbytes' bit-pattern order (bit 3 is the sign).
/// Code 8 is -0.0 as bitsandbytes' C kernels decode it (its Python table writes the
/// integer `-0`, i.e. +0.0, which only its fallback path uses); the two zeros compare
/// equal, so the midpoints and the code order are the same either way.
const FP4_RAW: [f32; 16] = [
    0.0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0.0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0,
];

/// The 16 levels of a format, indexed by code (FP4 divided by its largest magnitude in
/// f32, as `data.div_(data.abs().max())` does).
pub fn levels(format: FourBitFormat) -> [f32; 16] {
    match format {
        FourBitFormat::Nf4 => NF4,
        FourBitFormat::Fp4 => {
            let max = FP4_RAW.iter().fold(0f32, |m, v| m.max(v.abs()));
            FP4_RAW.map(|v| v / max)
        }
    }
}

/// Codes in ascending level order and the f32 midpoints between neighbours. The sort is
/// stable and takes -0.0 == +0.0, so FP4's two zeros keep code order (0, then 8), as
/// torch's argsort of bitsandbytes' table (two +0.0) does: a scaled value in
/// (midpoint below 0, 0] gets code 0, one in (0, midpoint above 0] code 8.
fn bounds(levels: &[f32; 16]) -> ([u8; 16], [f32; 15]) {
    let mut order: [u8; 16] = std::array::from_fn(|i| i as u8);
    order.sort_by(|&a, &b| {
        levels[a as usize]
            .partial_cmp(&levels[b as usize])
            .expect("finite table")
    });
    let mids =
        std::array::from_fn(|i| (levels[order[i] as usize] + levels[order[i + 1] as usize]) / 2.0);
    (order, mids)
}

/// The code of one scaled value: the first midpoint not below it, mapped back to the
/// code of that level.
#[inline]
fn code_of(s: f32, order: &[u8; 16], mids: &[f32; 15]) -> u8 {
    order[mids.partition_point(|&m| m < s)]
}

impl FourBitScheme {
    pub fn quantize(&self, t: &Tensor) -> Result<FourBit> {
        check_finite(t)?;
        let levels = levels(self.format);
        let (order, mids) = bounds(&levels);
        // torch clamps with the Python float 1e-38, narrowed to f32 (a subnormal).
        let floor = 1e-38f64 as f32;
        let n = t.numel();
        let mut absmax = Vec::with_capacity(n.div_ceil(self.block));
        let mut codes = Vec::with_capacity(n + 1);
        for chunk in t.data.chunks(self.block) {
            let am = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
            absmax.push(am);
            let d = am.max(floor);
            if chunk.len() == self.block {
                let inv = 1.0 / d;
                codes.extend(
                    chunk
                        .iter()
                        .map(|&x| code_of((x * inv).clamp(-1.0, 1.0), &order, &mids)),
                );
            } else {
                codes.extend(
                    chunk
                        .iter()
                        .map(|&x| code_of((x / d).clamp(-1.0, 1.0), &order, &mids)),
                );
            }
        }
        if codes.len() % 2 == 1 {
            codes.push(code_of(0.0, &order, &mids));
        }
        let packed = codes.chunks(2).map(|p| (p[0] << 4) | p[1]).collect();
        Ok(FourBit {
            scheme: *self,
            len: n,
            packed,
            absmax,
        })
    }
}

/// A tensor in NF4 or FP4: packed codes and one f32 absmax per block.
#[derive(Clone, Debug)]
pub struct FourBit {
    pub scheme: FourBitScheme,
    /// Number of values (the packed codes may hold one pad code more).
    pub len: usize,
    /// Two codes per byte, the first in the high nibble (bitsandbytes' layout).
    pub packed: Vec<u8>,
    /// One per block, f32.
    pub absmax: Vec<f32>,
}

impl FourBit {
    /// The code of value `i`.
    pub fn code(&self, i: usize) -> u8 {
        let b = self.packed[i / 2];
        if i % 2 == 0 {
            b >> 4
        } else {
            b & 0xF
        }
    }
}

impl Encoded for FourBit {
    fn dequantize(&self) -> Vec<f32> {
        let levels = levels(self.scheme.format);
        (0..self.len)
            .map(|i| levels[self.code(i) as usize] * self.absmax[i / self.scheme.block])
            .collect()
    }

    /// The packed codes plus one f32 absmax per block. The 16-entry table is part of the
    /// format, not of the tensor, so it is not counted.
    fn packed_bytes(&self) -> usize {
        self.packed.len() + 4 * self.absmax.len()
    }

    fn describe(&self) -> String {
        let name = match self.scheme.format {
            FourBitFormat::Nf4 => "NF4",
            FourBitFormat::Fp4 => "FP4 (e2m1)",
        };
        format!(
            "{name} codes (bitsandbytes table), {} absmax scales (f32), one per {}-value block",
            self.absmax.len(),
            self.scheme.block
        )
    }

    fn scales(&self) -> Vec<f32> {
        self.absmax.clone()
    }

    /// The 16 levels times the widest block's absmax (FP4's two zeros drawn once).
    fn grid(&self) -> Grid {
        let widest = self
            .absmax
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1));
        let Some((i, &am)) = widest else {
            return Grid::default();
        };
        let mut levels: Vec<f32> = levels(self.scheme.format).iter().map(|l| l * am).collect();
        levels.sort_by(f32::total_cmp);
        // -0.0 and +0.0 are one level on a chart.
        levels.dedup_by(|a, b| a == b);
        Grid {
            channel: Some(i),
            levels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ["nf4", "fp4", "nf4-b128", "fp4-b4096"] {
            assert_eq!(parse(s).unwrap().unwrap().to_string(), s);
        }
        assert_eq!(parse("nf4-b64").unwrap().unwrap().to_string(), "nf4");
        assert!(parse("int4").is_none());
        for (s, needle) in [
            ("nf4-b63", "block 63"),
            ("nf4-x", "`-x`"),
            ("fp4-bq", "`bq`"),
        ] {
            let e = parse(s).unwrap().unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
    }

    #[test]
    fn fp4_midpoint_order_puts_levels_ascending() {
        let l = levels(FourBitFormat::Fp4);
        let (order, mids) = bounds(&l);
        for w in order.windows(2) {
            assert!(l[w[0] as usize] <= l[w[1] as usize]);
        }
        assert!(mids.windows(2).all(|w| w[0] <= w[1]));
    }
}
