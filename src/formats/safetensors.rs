//! safetensors: an 8-byte little-endian header length, a JSON header, then raw data.
//! Parsing and validation (offsets, overlaps, header size) are the `safetensors` crate's.

use std::collections::{BTreeMap, HashMap};

use half::{bf16, f16};
use safetensors::tensor::{Dtype as StDtype, Metadata, TensorInfo as StTensorInfo};
use safetensors::SafeTensorError;

use super::lazy::{Entry, Layout, Part};
use super::source::{ByteSource, InMemory};
use super::{Format, Model};
use crate::error::{Error, Result};
use crate::tensor::DType;

/// safetensors has no magic number: an 8-byte header length followed by `{`.
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.len() >= 9 && bytes[8] == b'{'
}

pub fn read(bytes: &[u8]) -> Result<Model> {
    let src = InMemory(bytes);
    index(&src)?.load_all(&src)
}

/// The header in the layout the crate reads it (`__metadata__` beside the tensors), so
/// that [`Metadata`]'s own validation (offsets in order, no gaps, sizes that match the
/// shapes) runs on a header read alone, without the tensors' bytes.
#[derive(serde::Deserialize)]
struct Header {
    #[serde(rename = "__metadata__")]
    metadata: Option<HashMap<String, String>>,
    #[serde(flatten)]
    tensors: HashMap<String, StTensorInfo>,
}

/// Lists the tensors of a safetensors file from its header: only the 8-byte length and
/// the JSON header are read.
pub(crate) fn index(src: &dyn ByteSource) -> Result<Part> {
    let file_len = src.len();
    if file_len < 8 {
        return Err(Error::Safetensors(format!(
            "file is {file_len} bytes, too short for the 8-byte header length"
        )));
    }
    let n = u64::from_le_bytes(
        src.read_at(0, 8)?
            .as_ref()
            .try_into()
            .expect("read_at returns 8 bytes"),
    );
    let rest = file_len - 8;
    if n > rest {
        return Err(Error::Safetensors(format!(
            "header length field says {n} bytes but only {rest} bytes follow (truncated file or corrupt header)"
        )));
    }
    let header_bytes = src.read_at(8, n as usize)?;
    let data_len = rest - n;
    let header: Header = serde_json::from_slice(&header_bytes)
        .map_err(|e| Error::Safetensors(format!("header is not valid safetensors JSON: {e}")))?;
    let mut tensors: Vec<(String, StTensorInfo)> = header.tensors.into_iter().collect();
    tensors.sort_by_key(|a| a.1.data_offsets);
    let explain = |e| explain(e, &header_bytes, data_len);
    let meta = Metadata::new(header.metadata, tensors).map_err(explain)?;
    if meta.data_len() as u64 != data_len {
        return Err(explain(SafeTensorError::MetadataIncompleteBuffer));
    }
    let metadata: BTreeMap<String, String> = meta
        .metadata()
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let data_start = 8 + n;
    let mut entries = Vec::new();
    for (name, info) in meta.tensors() {
        let dtype = map_dtype(&name, info.dtype)?;
        let (start, end) = info.data_offsets;
        entries.push(Entry {
            name,
            shape: info.shape.clone(),
            dtype,
            offset: data_start + start as u64,
            nbytes: (end - start) as u64,
            layout: Layout::Plain,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Part {
        format: Format::Safetensors,
        metadata,
        entries,
        gguf_kv: Vec::new(),
    })
}

fn explain(e: SafeTensorError, header: &[u8], data_len: u64) -> Error {
    use safetensors::SafeTensorError as E;
    let bad = || find_bad_tensor(header, data_len);
    Error::Safetensors(match e {
        E::TensorInvalidInfo => bad().unwrap_or_else(|| "invalid shape, dtype or offsets".into()),
        E::MetadataIncompleteBuffer => bad().unwrap_or_else(|| {
            "the tensors' data offsets do not cover the data section exactly (truncated file, or bytes the header does not account for)".into()
        }),
        E::ValidationOverflow => {
            bad().unwrap_or_else(|| "a tensor's shape overflows when multiplied out".into())
        }
        E::InvalidOffset(name) => format!(
            "tensor `{name}`: data offsets are out of order, overlap, or run past the end of the file"
        ),
        other => other.to_string(),
    })
}

/// The crate rejects a tensor whose shape, dtype and offsets disagree without saying
/// which; look at the header again (already known to be valid JSON) to name it.
fn find_bad_tensor(header: &[u8], data_len: u64) -> Option<String> {
    let header: serde_json::Value = serde_json::from_slice(header).ok()?;
    for (name, info) in header.as_object()? {
        if name == "__metadata__" {
            continue;
        }
        let dtype: StDtype = serde_json::from_value(info.get("dtype")?.clone()).ok()?;
        let shape: Vec<u64> = serde_json::from_value(info.get("shape")?.clone()).ok()?;
        let [start, end]: [u64; 2] =
            serde_json::from_value(info.get("data_offsets")?.clone()).ok()?;
        let numel = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
        let needed = numel.and_then(|n| n.checked_mul(dtype.bitsize() as u64 / 8));
        let span = end.checked_sub(start);
        if needed.is_none() || span != needed {
            return Some(format!(
                "tensor `{name}`: shape {shape:?} of {dtype} needs {} bytes but data_offsets [{start}, {end}] span {}",
                needed.map_or("more than 2^64".into(), |b| b.to_string()),
                span.map_or("a negative range".into(), |b| b.to_string()),
            ));
        }
        if end > data_len {
            return Some(format!(
                "tensor `{name}`: data_offsets end at {end}, past the {data_len}-byte data section"
            ));
        }
    }
    None
}

fn map_dtype(name: &str, d: StDtype) -> Result<DType> {
    Ok(match d {
        StDtype::F64 => DType::F64,
        StDtype::F32 => DType::F32,
        StDtype::F16 => DType::F16,
        StDtype::BF16 => DType::BF16,
        StDtype::I64 => DType::I64,
        StDtype::I32 => DType::I32,
        StDtype::I16 => DType::I16,
        StDtype::I8 => DType::I8,
        StDtype::U64 => DType::U64,
        StDtype::U32 => DType::U32,
        StDtype::U16 => DType::U16,
        StDtype::U8 => DType::U8,
        StDtype::BOOL => DType::Bool,
        StDtype::F8_E4M3 => DType::F8E4M3,
        StDtype::F8_E5M2 => DType::F8E5M2,
        other => {
            return Err(Error::UnsupportedDtype {
                name: name.to_string(),
                dtype: format!("{other:?}"),
            })
        }
    })
}

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
