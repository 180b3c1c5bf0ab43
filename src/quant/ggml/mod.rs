//! ggml / GGUF block formats: the type table, quantize, dequantize, and the `q8_0`,
//! `q4_0`, ... schemes.
//!
//! Conventions are the reference tools' own, bit for bit: Q8_0, Q4_0, Q4_1, Q5_0 and
//! Q5_1 quantize as the `gguf` package (gguf.quants.quantize); every dequantizer is
//! gguf.quants.dequantize; Q4_K and Q6_K quantize as ggml's C reference
//! (quantize_row_q4_K_ref / quantize_row_q6_K_ref). tests/ggml_reference.rs holds them
//! to fixtures those tools wrote (scripts/gen_ggml_fixtures.py).

mod kquants;
mod legacy;

use std::fmt;

use half::{bf16, f16};
use serde::{Deserialize, Serialize};

use super::encoded::{check_finite, Encoded, Grid};
pub use crate::dtype::GgmlType;
use crate::error::{Error, Result};
use crate::kernels;
use crate::tensor::Tensor;

/// Quantizes `x` (a whole number of blocks) into `ty`'s block bytes.
pub fn quantize(ty: GgmlType, x: &[f32]) -> Result<Vec<u8>> {
    if !ty.can_quantize() {
        return Err(Error::GgmlUnsupported {
            ty: ty.name(),
            what: "quantization",
        });
    }
    let mut out = vec![0u8; ty.bytes_for(x.len())?];
    quantize_into(ty, x, &mut out);
    Ok(out)
}

/// Quantizes `x` into `out`, which must be exactly `ty.bytes_for(x.len())` long: for
/// callers that reuse one buffer (a writer streaming tensors, a benchmark).
pub fn quantize_to(ty: GgmlType, x: &[f32], out: &mut [u8]) -> Result<()> {
    if !ty.can_quantize() {
        return Err(Error::GgmlUnsupported {
            ty: ty.name(),
            what: "quantization",
        });
    }
    let needed = ty.bytes_for(x.len())?;
    if out.len() != needed {
        return Err(Error::GgmlBytes {
            ty: ty.name(),
            n: x.len(),
            needed,
            got: out.len(),
        });
    }
    quantize_into(ty, x, out);
    Ok(())
}

/// `x.len()` a whole number of blocks and `out` exactly its bytes: checked by callers.
fn quantize_into(ty: GgmlType, x: &[f32], out: &mut [u8]) {
    let block: fn(&[f32], &mut [u8]) = match ty {
        GgmlType::Q8_0 => return kernels::quantize_q8_0(x, out),
        GgmlType::Q4_0 => return kernels::quantize_q4_0(x, out),
        GgmlType::Q4_1 => legacy::q4_1_block,
        GgmlType::Q5_0 => legacy::q5_0_block,
        GgmlType::Q5_1 => legacy::q5_1_block,
        GgmlType::Q4_K => kquants::q4_k_block,
        GgmlType::Q6_K => kquants::q6_k_block,
        // Callers admit only QUANTIZABLE types; anything else leaves zeros.
        _ => return,
    };
    let (bs, ts) = (ty.block_size(), ty.type_size());
    for (b, o) in x.chunks_exact(bs).zip(out.chunks_exact_mut(ts)) {
        block(b, o);
    }
}

/// Decodes `n` values of type `ty` from `bytes`, which must hold exactly their blocks.
pub fn dequantize(ty: GgmlType, bytes: &[u8], n: usize) -> Result<Vec<f32>> {
    let needed = ty.bytes_for(n)?;
    if bytes.len() != needed {
        return Err(Error::GgmlBytes {
            ty: ty.name(),
            n,
            needed,
            got: bytes.len(),
        });
    }
    let mut out = vec![0f32; n];
    dequantize_into(ty, bytes, &mut out);
    Ok(out)
}

/// Decodes every whole block of `bytes` (a trailing partial block is ignored).
pub fn dequantize_blocks(ty: GgmlType, bytes: &[u8]) -> Vec<f32> {
    let blocks = bytes.len() / ty.type_size();
    let mut out = vec![0f32; blocks * ty.block_size()];
    dequantize_into(ty, &bytes[..blocks * ty.type_size()], &mut out);
    out
}

/// Lengths already checked: `bytes` holds exactly the blocks of `out`.
fn dequantize_into(ty: GgmlType, bytes: &[u8], out: &mut [f32]) {
    let (bs, ts) = (ty.block_size(), ty.type_size());
    let run = |f: fn(&[u8], &mut [f32]), out: &mut [f32]| {
        for (b, y) in bytes.chunks_exact(ts).zip(out.chunks_exact_mut(bs)) {
            f(b, y);
        }
    };
    match ty {
        GgmlType::F32 => run(
            |b, y| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            out,
        ),
        GgmlType::F16 => run(|b, y| y[0] = f16::from_le_bytes([b[0], b[1]]).to_f32(), out),
        GgmlType::BF16 => run(
            |b, y| y[0] = bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            out,
        ),
        GgmlType::Q8_0 => run(legacy::dequantize_q8_0, out),
        GgmlType::Q4_0 => run(legacy::dequantize_q4_0, out),
        GgmlType::Q4_1 => run(legacy::dequantize_q4_1, out),
        GgmlType::Q5_0 => run(legacy::dequantize_q5_0, out),
        GgmlType::Q5_1 => run(legacy::dequantize_q5_1, out),
        GgmlType::Q2_K => run(kquants::dequantize_q2_k, out),
        GgmlType::Q3_K => run(kquants::dequantize_q3_k, out),
        GgmlType::Q4_K => run(kquants::dequantize_q4_k, out),
        GgmlType::Q5_K => run(kquants::dequantize_q5_k, out),
        GgmlType::Q6_K => run(kquants::dequantize_q6_k, out),
    }
}

/// A ggml block scheme: blocks of 32 (or 256 for K types) along the last axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GgmlScheme {
    pub format: GgmlType,
}

impl fmt::Display for GgmlScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format.name())
    }
}

/// Parses `q8_0`, `q4_0`, `q4_1`, `q5_0`, `q5_1`, `q4_k`, `q6_k` (lower case). None
/// when the string is not a ggml type name; an error for a ggml type quantscope can
/// read but not produce (`q2_k`, `f16`, ...).
pub fn parse(s: &str) -> Option<std::result::Result<GgmlScheme, String>> {
    let ty = GgmlType::from_name(s)?;
    if !ty.can_quantize() {
        // f32/f16/bf16 belong to the float family's names; only claim q-types.
        return s.starts_with('q').then(|| {
            Err(format!(
                "ggml {ty} can be read but not produced; quantize to one of {}",
                GgmlType::quantizable_names()
            ))
        });
    }
    Some(Ok(GgmlScheme { format: ty }))
}

impl GgmlScheme {
    pub fn quantize(&self, t: &Tensor) -> Result<QuantizedGgml> {
        let ty = self.format;
        if !ty.can_quantize() {
            return Err(Error::GgmlUnsupported {
                ty: ty.name(),
                what: "quantization",
            });
        }
        let row = t.shape.last().copied().unwrap_or(1);
        let block = ty.block_size();
        if row % block != 0 {
            return Err(Error::GgmlRow {
                name: t.name.clone(),
                ty: ty.name(),
                row,
                block,
            });
        }
        check_finite(t)?;
        let mut bytes = vec![0u8; ty.bytes_for(t.numel())?];
        quantize_into(ty, &t.data, &mut bytes);
        Ok(QuantizedGgml {
            format: ty,
            shape: t.shape.clone(),
            numel: t.numel(),
            bytes,
        })
    }
}

/// A tensor in one ggml block format: the exact bytes a GGUF file would hold.
#[derive(Clone, Debug)]
pub struct QuantizedGgml {
    pub format: GgmlType,
    pub shape: Vec<usize>,
    pub numel: usize,
    /// Blocks in C order, `format.type_size()` bytes each.
    pub bytes: Vec<u8>,
}

impl QuantizedGgml {
    fn blocks(&self) -> std::slice::ChunksExact<'_, u8> {
        self.bytes.chunks_exact(self.format.type_size())
    }

    /// The scale of every (sub-)block that has its own: d for the 32-value formats; for
    /// K types the effective sub-block scale d·sc (8 per super-block for Q4_K, 16 for
    /// Q6_K).
    pub fn block_scales(&self) -> Vec<f32> {
        use legacy::f16_at;
        match self.format {
            GgmlType::Q4_K => self
                .blocks()
                .flat_map(|b| {
                    let d = f16_at(b, 0);
                    (0..8).map(move |j| d * kquants::scale_min_k4(j, &b[4..16]).0 as f32)
                })
                .collect(),
            GgmlType::Q6_K => self
                .blocks()
                .flat_map(|b| {
                    let d = f16_at(b, 208);
                    b[192..208].iter().map(move |&s| d * s as i8 as f32)
                })
                .collect(),
            _ => self.blocks().map(|b| f16_at(b, 0)).collect(),
        }
    }

    /// Values per entry of [`QuantizedGgml::block_scales`]: 32, or 16 for Q6_K.
    pub fn values_per_scale(&self) -> usize {
        match self.format {
            GgmlType::Q6_K => 16,
            _ => 32,
        }
    }

    /// Representable values of (sub-)block `i`, in the order of
    /// [`QuantizedGgml::block_scales`]; empty past the end.
    pub fn levels(&self, i: usize) -> Vec<f32> {
        use legacy::f16_at;
        let ty = self.format;
        let per = match ty {
            GgmlType::Q4_K => 8,
            GgmlType::Q6_K => 16,
            _ => 1,
        };
        let Some(b) = self.blocks().nth(i / per) else {
            return Vec::new();
        };
        let j = i % per;
        match ty {
            GgmlType::Q8_0 => (-127..=127).map(|q| q as f32 * f16_at(b, 0)).collect(),
            GgmlType::Q4_0 => (0..16).map(|q| f16_at(b, 0) * (q - 8) as f32).collect(),
            GgmlType::Q5_0 => (0..32).map(|q| f16_at(b, 0) * (q - 16) as f32).collect(),
            GgmlType::Q4_1 | GgmlType::Q5_1 => {
                let (d, m) = (f16_at(b, 0), f16_at(b, 2));
                let top = if ty == GgmlType::Q4_1 { 16 } else { 32 };
                (0..top).map(|q| d * q as f32 + m).collect()
            }
            GgmlType::Q4_K => {
                let (sc, m) = kquants::scale_min_k4(j, &b[4..16]);
                let (dl, ml) = (f16_at(b, 0) * sc as f32, f16_at(b, 2) * m as f32);
                (0..16).map(|q| dl * q as f32 - ml).collect()
            }
            GgmlType::Q6_K => {
                let dl = f16_at(b, 208) * b[192 + j] as i8 as f32;
                (0..64).map(|q| dl * (q - 32) as f32).collect()
            }
            _ => Vec::new(),
        }
    }
}

impl Encoded for QuantizedGgml {
    fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.numel];
        dequantize_into(self.format, &self.bytes, &mut out);
        out
    }
    fn packed_bytes(&self) -> usize {
        self.bytes.len()
    }
    fn describe(&self) -> String {
        let ty = self.format;
        let blocks = self.bytes.len() / ty.type_size();
        let scales = match ty {
            GgmlType::Q4_1 | GgmlType::Q5_1 => "an fp16 scale and min",
            GgmlType::Q4_K => "fp16 d and dmin with 8 six-bit sub-block scales and mins",
            GgmlType::Q6_K => "fp16 d with 16 eight-bit sub-block scales",
            _ => "one fp16 scale",
        };
        format!(
            "ggml {ty}: {}-bit codes in blocks of {} along the last axis, {scales} per block ({blocks} blocks, {} bits per weight)",
            ty.code_bits(),
            ty.block_size(),
            ty.type_size() as f64 * 8.0 / ty.block_size() as f64
        )
    }
    fn scales(&self) -> Vec<f32> {
        self.block_scales()
    }
    /// The widest (sub-)block's levels: the one with the largest |scale|.
    fn grid(&self) -> Grid {
        let widest = self
            .block_scales()
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, _)| i);
        Grid {
            channel: widest,
            levels: widest.map(|i| self.levels(i)).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_table_matches_ids_and_names() {
        for t in GgmlType::ALL {
            assert_eq!(GgmlType::from_id(t.id()), Some(t));
            assert_eq!(GgmlType::from_name(&t.name().to_uppercase()), Some(t));
        }
        assert_eq!(GgmlType::from_id(9), None); // Q8_1: not read here
    }

    #[test]
    fn scheme_json_is_tagged_by_kind() {
        let s: crate::quant::Scheme = "q4_k".parse().unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"kind":"ggml","format":"q4_k"}"#);
        assert_eq!(
            serde_json::from_str::<crate::quant::Scheme>(&json).unwrap(),
            s
        );
    }
}
