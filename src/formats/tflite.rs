//! TFLite flatbuffers: every constant tensor (one with data in a buffer) of every
//! subgraph; int8/uint8/int16 tensors with quantization parameters come out dequantized,
//! their scales, zero points and quantized dimension kept in `Model::quantization`.
//! Reading is planus' generated code (src/formats/generated/tflite.rs, from TFLite's
//! schema.fbs), which checks every offset it follows.

use std::collections::BTreeMap;

use super::decode::decode;
use super::generated::tflite::tflite as fb;
use super::index::checked_numel;
use super::model::{Format, Model, StoredQuantization};
use super::tflite_sparse::Sparsity;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};
use planus::ReadAsRoot;

/// A TFLite file carries its file identifier "TFL3" at bytes 4..8.
pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.get(4..8) == Some(b"TFL3")
}

/// How much larger than its file a sparse tensor's dense form may be. mediapipe's
/// sparse models densify to about 3x their file; 64x leaves room for sparser ones
/// while a lying shape still cannot make the reader allocate without bound.
const SPARSE_RATIO: usize = 64;

fn decode_err(e: planus::Error) -> Error {
    Error::TfliteDecode(e.to_string())
}

pub fn read(bytes: &[u8]) -> Result<Model> {
    let model = fb::ModelRef::read_as_root(bytes).map_err(decode_err)?;
    let buffers = model.buffers().map_err(decode_err)?;
    let n_buffers = buffers.as_ref().map_or(0, |b| b.len());
    let subgraphs = model.subgraphs().map_err(decode_err)?;
    let mut tensors = Vec::new();
    let mut quantization = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    metadata.insert(
        "version".into(),
        model.version().map_err(decode_err)?.to_string(),
    );
    if let Some(d) = model.description().map_err(decode_err)? {
        metadata.insert("description".into(), d.to_string());
    }
    let n_subgraphs = subgraphs.as_ref().map_or(0, |s| s.len());
    metadata.insert("subgraphs".into(), n_subgraphs.to_string());
    for (si, sg) in subgraphs.iter().flat_map(|v| v.iter()).enumerate() {
        let sg = sg.map_err(decode_err)?;
        let Some(ts) = sg.tensors().map_err(decode_err)? else {
            continue;
        };
        for (ti, t) in ts.iter().enumerate() {
            let t = t.map_err(decode_err)?;
            let raw_name = t.name().map_err(decode_err)?.unwrap_or_default();
            let base = if raw_name.is_empty() {
                format!("tensor{ti}")
            } else {
                raw_name.to_string()
            };
            // Subgraph 0 is the model; names in the others are prefixed to stay unique.
            let name = if si == 0 {
                base
            } else {
                format!("subgraph{si}/{base}")
            };
            let index = t.buffer().map_err(decode_err)?;
            if index == 0 {
                continue; // buffer 0 is the empty sentinel: an activation, not a weight
            }
            let Some(buffer) = buffers.as_ref().and_then(|b| b.get(index as usize)) else {
                return Err(Error::TfliteBufferIndex {
                    name,
                    index,
                    buffers: n_buffers,
                });
            };
            let data = buffer
                .map_err(decode_err)?
                .data()
                .map_err(decode_err)?
                .unwrap_or_default();
            if data.is_empty() {
                continue; // a buffer filled at run time
            }
            let terr = |reason: String| Error::TfliteTensor {
                name: name.clone(),
                reason,
            };
            let ttype = t.type_().map_err(decode_err)?;
            let dtype = map_dtype(ttype).ok_or_else(|| Error::UnsupportedDtype {
                name: name.clone(),
                dtype: format!("TFLite {ttype:?}"),
            })?;
            let shape: Vec<u64> = match t.shape().map_err(decode_err)? {
                Some(s) => s
                    .iter()
                    .map(|d| u64::try_from(d).map_err(|_| terr(format!("negative dimension {d}"))))
                    .collect::<Result<_>>()?,
                None => vec![],
            };
            let densified;
            let data: &[u8] = match t.sparsity().map_err(decode_err)? {
                None => data,
                Some(sp) => {
                    let sp = Sparsity::read(&sp, shape.len()).map_err(terr)?;
                    // A sparse tensor's dense form is larger than its buffer by design:
                    // allow up to SPARSE_RATIO times the whole file, no more.
                    checked_numel(
                        &name,
                        &shape,
                        dtype.size(),
                        bytes.len().saturating_mul(SPARSE_RATIO),
                    )?;
                    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
                    densified = sp.densify(&dims, dtype.size(), data).map_err(terr)?;
                    &densified
                }
            };
            let numel = checked_numel(&name, &shape, dtype.size(), data.len())?;
            if numel * dtype.size() != data.len() {
                return Err(terr(format!(
                    "buffer {index} holds {} bytes, shape {shape:?} of {dtype} needs {}",
                    data.len(),
                    numel * dtype.size()
                )));
            }
            let mut values = decode(data, dtype);
            let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
            if let Some(q) = t.quantization().map_err(decode_err)? {
                if let Some(sq) = stored_quantization(&q, dtype, &shape).map_err(terr)? {
                    dequantize(&mut values, &shape, &sq);
                    quantization.insert(name.clone(), sq);
                }
            }
            tensors.push(Tensor {
                name,
                shape,
                dtype,
                data: values,
            });
        }
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Model {
        format: Format::Tflite,
        tensors,
        metadata,
        graph: None,
        quantization,
    })
}

fn map_dtype(t: fb::TensorType) -> Option<DType> {
    Some(match t {
        fb::TensorType::Float32 => DType::F32,
        fb::TensorType::Float16 => DType::F16,
        fb::TensorType::Float64 => DType::F64,
        fb::TensorType::Int8 => DType::I8,
        fb::TensorType::Uint8 => DType::U8,
        fb::TensorType::Int16 => DType::I16,
        fb::TensorType::Uint16 => DType::U16,
        fb::TensorType::Int32 => DType::I32,
        fb::TensorType::Uint32 => DType::U32,
        fb::TensorType::Int64 => DType::I64,
        fb::TensorType::Uint64 => DType::U64,
        fb::TensorType::Bool => DType::Bool,
        _ => return None,
    })
}

/// The quantization parameters of an integer tensor, checked against its shape; None
/// when the tensor has none (a float tensor may carry min/max only).
fn stored_quantization(
    q: &fb::QuantizationParametersRef,
    dtype: DType,
    shape: &[usize],
) -> std::result::Result<Option<StoredQuantization>, String> {
    let e = |e: planus::Error| e.to_string();
    let scales: Vec<f32> = q
        .scale()
        .map_err(e)?
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if scales.is_empty() || dtype.is_float() {
        return Ok(None);
    }
    let mut zero_points: Vec<i64> = q
        .zero_point()
        .map_err(e)?
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    if zero_points.is_empty() {
        zero_points = vec![0; scales.len()];
    }
    let dim = q.quantized_dimension().map_err(e)?;
    let axis =
        usize::try_from(dim).map_err(|_| format!("quantized_dimension {dim} is negative"))?;
    if zero_points.len() != scales.len() {
        return Err(format!(
            "{} scales but {} zero points",
            scales.len(),
            zero_points.len()
        ));
    }
    if scales.len() > 1 {
        let Some(&n) = shape.get(axis) else {
            return Err(format!(
                "quantized_dimension {axis} is out of range for shape {shape:?}"
            ));
        };
        if n != scales.len() {
            return Err(format!(
                "{} scales along dimension {axis}, which has {n} entries",
                scales.len()
            ));
        }
    }
    Ok(Some(StoredQuantization {
        code_dtype: dtype.name().to_string(),
        scales,
        zero_points,
        quantized_dimension: axis,
        affine: Vec::new(),
    }))
}

/// real = scale * (code - zero_point), in f32 as TFLite's reference kernels compute it.
fn dequantize(values: &mut [f32], shape: &[usize], q: &StoredQuantization) {
    // Elements of one slice along `axis` repeat every `inner` values, cycling `n` slices.
    let (n, inner) = if q.scales.len() > 1 {
        (
            q.scales.len(),
            shape[q.quantized_dimension + 1..].iter().product::<usize>(),
        )
    } else {
        (1, 1)
    };
    for (i, v) in values.iter_mut().enumerate() {
        let c = (i / inner.max(1)) % n;
        *v = (*v - q.zero_points[c] as f32) * q.scales[c];
    }
}
