//! safetensors: an 8-byte little-endian header length, a JSON header, then raw data.
//! Parsing and validation (offsets, overlaps, header size) are the `safetensors` crate's.

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Dtype as StDtype, Metadata, TensorInfo as StTensorInfo};
use safetensors::SafeTensorError;

use super::index::{Entry, Layout, Part};
use super::model::{Format, Model};
use super::source::{ByteSource, InMemory};
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
