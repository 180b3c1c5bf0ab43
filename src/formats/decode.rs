//! Decoding stored values: the little-endian (and big-endian) bytes of every [`DType`]
//! to f32, for every reader. ggml blocks decode through `quant::ggml`, F16 through the
//! conversion kernel.

use half::{bf16, f16};

use crate::dtype::DType;

/// Decodes little-endian values of `dtype` to f32. Callers have checked that `raw` holds
/// exactly the tensor's bytes (a trailing partial element or block is ignored).
pub(crate) fn decode(raw: &[u8], dtype: DType) -> Vec<f32> {
    fn each<const N: usize>(raw: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
        raw.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact yields N bytes")))
            .collect()
    }
    match dtype {
        DType::F64 => each::<8>(raw, |b| f64::from_le_bytes(b) as f32),
        DType::F32 => each::<4>(raw, f32::from_le_bytes),
        DType::F16 => halves(raw),
        DType::BF16 => each::<2>(raw, |b| bf16::from_le_bytes(b).to_f32()),
        DType::I64 => each::<8>(raw, |b| i64::from_le_bytes(b) as f32),
        DType::I32 => each::<4>(raw, |b| i32::from_le_bytes(b) as f32),
        DType::I16 => each::<2>(raw, |b| i16::from_le_bytes(b) as f32),
        DType::I8 => each::<1>(raw, |b| b[0] as i8 as f32),
        DType::U64 => each::<8>(raw, |b| u64::from_le_bytes(b) as f32),
        DType::U32 => each::<4>(raw, |b| u32::from_le_bytes(b) as f32),
        DType::U16 => each::<2>(raw, |b| u16::from_le_bytes(b) as f32),
        DType::U8 | DType::Bool => each::<1>(raw, |b| b[0] as f32),
        DType::F8E4M3 => each::<1>(raw, |b| f8_e4m3_to_f32(b[0])),
        DType::F8E5M2 => each::<1>(raw, |b| f8_e5m2_to_f32(b[0])),
        DType::Ggml(t) => crate::quant::ggml::dequantize_blocks(t, raw),
    }
}

/// F16 to f32 by the conversion kernel (F16C natively through `half`, SIMD128 in wasm):
/// converting element by element took 1241 ms for the 503 MB F16 file of
/// `cargo bench --bench open` natively, against 380 ms now (docs/BENCHMARKS.md).
fn halves(raw: &[u8]) -> Vec<f32> {
    let mut out = vec![0f32; raw.len() / 2];
    crate::kernels::f16_to_f32(raw, &mut out);
    out
}

/// Decodes `raw` as in [`decode`], but from big-endian bytes (PyTorch checkpoints saved
/// on big-endian machines say so in their `byteorder` record).
pub(crate) fn decode_be(raw: &[u8], dtype: DType) -> Vec<f32> {
    let n = dtype.size();
    let swapped: Vec<u8> = raw
        .chunks_exact(n)
        .flat_map(|c| c.iter().rev().copied())
        .collect();
    decode(&swapped, dtype)
}

// The two OCP 8-bit float formats are decoded by their definition rather than through a
// crate: each is a few lines, and tests/formats_safetensors.rs holds all 256 codes of
// each to ml_dtypes' decoding.

/// E4M3FN: bias 7, no infinities; S.1111.111 is NaN.
pub(crate) fn f8_e4m3_to_f32(b: u8) -> f32 {
    let sign = if b & 0x80 != 0 { -1.0 } else { 1.0 };
    let exp = ((b >> 3) & 0x0f) as i32;
    let man = (b & 0x07) as f32;
    if exp == 0x0f && b & 0x07 == 0x07 {
        return f32::from_bits(0x7fc0_0000 | (((b & 0x80) as u32) << 24));
    }
    sign * if exp == 0 {
        man / 8.0 * 2f32.powi(-6)
    } else {
        (1.0 + man / 8.0) * 2f32.powi(exp - 7)
    }
}

/// E5M2: bias 15, IEEE-like infinities and NaNs.
pub(crate) fn f8_e5m2_to_f32(b: u8) -> f32 {
    // E5M2 is the top byte of an IEEE half: widen it exactly through `half`.
    f16::from_bits((b as u16) << 8).to_f32()
}
