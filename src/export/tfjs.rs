//! TensorFlow.js weights: a weights manifest (`*weights_manifest.json`, the JSON array of
//! groups that `tf.io.loadWeights` and face-api read, and the `weightsManifest` of a
//! model.json) and its `.bin` shards, cut every `shard_bytes` as the converter cuts them
//! (4 MiB by default, what browsers cache).
//!
//! Weights are written as TF.js's converter quantizes them: `tfjs-uint8` / `tfjs-uint16`
//! store each float weight's affine codes with its `scale` and `min` (real = code *
//! scale + min, both in f64 as the JSON carries them), `fp16` stores float16. Tensors
//! the other writers keep (1-D biases and norms, integer tensors) are kept here too:
//! float32, int32 or bool. The topology of a model is not written (the source may not
//! have one); a TF.js model's own model.json takes this manifest as its weightsManifest.

use serde_json::{json, Value};

use super::report::{ExportFormat, ExportReport, ExportedTensor};
use super::rules::{keep_reason, rounded_ints};
use crate::analysis::summary_of;
use crate::error::{Error, Result};
use crate::formats::TensorStore;
use crate::quant::{Convention, FloatFormat, FloatScheme, Granularity, Scheme};
use crate::tensor::DType;

/// The converter's default shard size (tensorflowjs.write_weights: 4 MiB).
pub const DEFAULT_SHARD_BYTES: usize = 4 << 20;

/// The manifest and its shards, by file name (the shards' names are relative to the
/// manifest, as TF.js resolves them), and the report.
#[derive(Clone, Debug)]
pub struct TfjsFiles {
    pub manifest: (String, Vec<u8>),
    pub shards: Vec<(String, Vec<u8>)>,
    pub report: ExportReport,
}

fn err(reason: String) -> Error {
    Error::Export {
        format: "TF.js",
        reason,
    }
}

/// How the requested scheme is stored.
enum Form {
    /// Affine codes of `bits` (8 or 16).
    Affine(u8),
    Float16,
}

fn form_of(scheme: &Scheme) -> Result<Form> {
    Ok(match scheme {
        Scheme::Linear(l)
            if l.convention == Convention::Tfjs && l.granularity == Granularity::PerTensor =>
        {
            Form::Affine(l.bits)
        }
        Scheme::Float(f) if f.format == FloatFormat::Fp16 => Form::Float16,
        _ => {
            return Err(err(format!(
                "scheme `{scheme}` cannot be written as TF.js weights: TF.js stores affine uint8/uint16 codes with a scale and min per tensor (tfjs-uint8, tfjs-uint16) or float16 (fp16)"
            )))
        }
    })
}

/// Whether this writer stores a weight under `scheme` (`export::writes`).
pub(crate) fn writes(scheme: &Scheme) -> Result<()> {
    form_of(scheme).map(|_| ())
}

/// Writes `store`'s tensors with `scheme` as `<stem>-weights_manifest.json` and
/// `<stem>.group1-shard<i>of<n>.bin` files.
pub fn write<S: TensorStore + ?Sized>(
    store: &S,
    scheme: &Scheme,
    stem: &str,
    shard_bytes: usize,
) -> Result<TfjsFiles> {
    let form = form_of(scheme)?;
    if shard_bytes == 0 {
        return Err(err("the shard size must be at least one byte".into()));
    }
    let info = store.info();
    let mut data: Vec<u8> = Vec::new();
    let mut weights = Vec::with_capacity(info.tensors.len());
    let mut report = Vec::with_capacity(info.tensors.len());
    for ti in &info.tensors {
        let t = store.load(&ti.name)?;
        if let Some(why) = keep_reason(ti) {
            let (dtype, note) = match t.dtype {
                DType::Bool => ("bool", None),
                d if d.is_float() || matches!(d, DType::Ggml(_)) => ("float32", None),
                // Stored codes decoded to reals (a 1-D TFLite int8 or TF.js uint8 bias).
                _ if ti.role == crate::tensor::TensorRole::Weight => ("float32", None),
                _ => ("int32", rounded_ints(&t)),
            };
            match dtype {
                "bool" => data.extend(t.data.iter().map(|&v| (v != 0.0) as u8)),
                "float32" => data.extend(t.data.iter().flat_map(|v| v.to_le_bytes())),
                _ => {
                    if let Some(v) = t
                        .data
                        .iter()
                        .find(|v| !(i32::MIN as f32..=i32::MAX as f32).contains(*v))
                    {
                        return Err(err(format!(
                            "tensor `{}`: value {v} does not fit TF.js's int32",
                            ti.name
                        )));
                    }
                    data.extend(t.data.iter().flat_map(|&v| (v as i32).to_le_bytes()))
                }
            }
            weights.push(json!({"name": ti.name, "shape": ti.shape, "dtype": dtype}));
            let mut e = ExportedTensor::kept(ti, dtype, why);
            if let Some(n) = note {
                e.note = e.note.map(|w| format!("{w}; {n}"));
            }
            report.push(e);
            continue;
        }
        let (spec, stored, summary) = match form {
            Form::Affine(bits) => {
                let Scheme::Linear(l) = scheme else {
                    unreachable!("Form::Affine comes from a linear scheme")
                };
                let q = l.quantize(&t)?;
                let (scale, min) = *q
                    .tfjs
                    .first()
                    .ok_or_else(|| err(format!("tensor `{}`: no TF.js parameters", ti.name)))?;
                let codes = q.codes();
                let qdtype = if bits == 8 {
                    data.extend(codes.iter().map(|&c| c as u8));
                    "uint8"
                } else {
                    data.extend(codes.iter().flat_map(|&c| (c as u16).to_le_bytes()));
                    "uint16"
                };
                let spec = json!({
                    "name": ti.name,
                    "shape": ti.shape,
                    "dtype": "float32",
                    "quantization": {"dtype": qdtype, "scale": scale, "min": min, "original_dtype": "float32"},
                });
                (
                    spec,
                    format!("{qdtype} codes, scale {scale}, min {min}"),
                    summary_of(&t, scheme, &q),
                )
            }
            Form::Float16 => {
                let cast = FloatScheme {
                    format: FloatFormat::Fp16,
                }
                .quantize(&t)?;
                data.extend(cast.codes.iter().flat_map(|c| c.to_le_bytes()));
                let spec = json!({
                    "name": ti.name,
                    "shape": ti.shape,
                    "dtype": "float32",
                    "quantization": {"dtype": "float16", "original_dtype": "float32"},
                });
                let e = scheme.encode(&t)?;
                (
                    spec,
                    "float16".to_string(),
                    summary_of(&t, scheme, e.as_ref()),
                )
            }
        };
        weights.push(spec);
        report.push(ExportedTensor {
            name: ti.name.clone(),
            shape: ti.shape.clone(),
            dtype: ti.dtype,
            stored,
            quantized: true,
            note: None,
            summary: Some(summary),
        });
    }
    let n = data.len().div_ceil(shard_bytes).max(1);
    let shards: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let part =
                &data[(i * shard_bytes).min(data.len())..((i + 1) * shard_bytes).min(data.len())];
            (
                format!("{stem}.group1-shard{}of{n}.bin", i + 1),
                part.to_vec(),
            )
        })
        .collect();
    let paths: Vec<&str> = shards.iter().map(|(n, _)| n.as_str()).collect();
    let manifest: Value = json!([{"paths": paths, "weights": weights}]);
    let manifest = serde_json::to_vec(&manifest).map_err(|e| err(e.to_string()))?;
    let bytes = manifest.len() as u64 + data.len() as u64;
    Ok(TfjsFiles {
        manifest: (format!("{stem}-weights_manifest.json"), manifest),
        shards,
        report: ExportReport {
            format: ExportFormat::Tfjs,
            scheme: scheme.to_string(),
            tensors: report,
            notes: vec![format!(
                "{n} shard(s) of at most {shard_bytes} bytes; weights only (no topology): a TF.js model's model.json takes the manifest as its weightsManifest"
            )],
            bytes,
        },
    })
}
