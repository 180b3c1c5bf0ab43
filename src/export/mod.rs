//! Writers: a model quantized with a scheme, in a format other tools load.
//!
//! - [`onnx`]: the original ONNX model with each float weight replaced by integer codes,
//!   a scale and a zero point feeding a DequantizeLinear node (ONNX Runtime's QDQ weight
//!   form), per tensor, per axis or block-wise;
//! - [`gguf`]: GGUF v3 with ggml block types (Q8_0, Q4_0, ...) or F16/BF16;
//! - [`safetensors`]: integer codes plus scales and zero points under compressed-tensors'
//!   names (docs/EXPORT.md).
//!
//! Every writer reads tensors through [`TensorStore`], one at a time, and reports for
//! each tensor what it stored and, where that loses anything, the metrics of exactly the
//! stored values ([`analysis::summary_of`], the row `quantscope quantize --json` prints).

pub mod gguf;
pub mod onnx;
pub mod policy;
pub mod safetensors;

use serde::Serialize;

use crate::analysis::TensorSummary;
use crate::error::{Error, Result};
use crate::formats::TensorStore;
use crate::quant::{Convention, LinearScheme, Scheme};
use crate::tensor::{DType, TensorInfo};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Onnx,
    Gguf,
    Safetensors,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [
        ExportFormat::Onnx,
        ExportFormat::Gguf,
        ExportFormat::Safetensors,
    ];

    /// `onnx`, `gguf` or `safetensors` (any case).
    pub fn parse(s: &str) -> Result<ExportFormat> {
        let lower = s.trim().trim_start_matches('.').to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|f| f.name() == lower)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown output format `{s}`; expected onnx, gguf or safetensors"
                ))
            })
    }

    /// The format a file name asks for, by its extension.
    pub fn from_file_name(name: &str) -> Result<ExportFormat> {
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        ExportFormat::parse(ext).map_err(|_| {
            Error::Invalid(format!(
                "cannot tell the output format of `{name}`: name it .onnx, .gguf or .safetensors"
            ))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Onnx => "onnx",
            ExportFormat::Gguf => "gguf",
            ExportFormat::Safetensors => "safetensors",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ExportFormat::Onnx => "ONNX",
            ExportFormat::Gguf => "GGUF",
            ExportFormat::Safetensors => "safetensors",
        }
    }
}

/// What a writer did, tensor by tensor.
#[derive(Clone, Debug, Serialize)]
pub struct ExportReport {
    pub format: ExportFormat,
    /// The scheme asked for (canonical string).
    pub scheme: String,
    /// Every tensor of the source, in the source's order.
    pub tensors: Vec<ExportedTensor>,
    /// Whole-file remarks (an opset raised, metadata left out, ...).
    pub notes: Vec<String>,
    /// Size of the written file.
    pub bytes: u64,
}

/// One source tensor in the written file.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    /// The source's element type.
    pub dtype: DType,
    /// What the file holds for it, e.g. `Q4_0`, `F32`, `INT8 codes, 64 scales along axis 0`.
    pub stored: String,
    /// True when the requested scheme was applied to it.
    pub quantized: bool,
    /// Why it was stored otherwise (a fallback, a tensor kept as it was), or a caveat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Metrics of the stored values against the source's, as `quantscope quantize --json`
    /// prints them for the scheme in `summary.scheme`; absent when stored exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<TensorSummary>,
}

impl ExportedTensor {
    fn kept(info: &TensorInfo, stored: impl Into<String>, note: impl Into<String>) -> Self {
        ExportedTensor {
            name: info.name.clone(),
            shape: info.shape.clone(),
            dtype: info.dtype,
            stored: stored.into(),
            quantized: false,
            note: Some(note.into()),
            summary: None,
        }
    }
}

/// A written file and its report.
#[derive(Clone, Debug)]
pub struct Exported {
    pub bytes: Vec<u8>,
    pub report: ExportReport,
}

/// The original ONNX model the ONNX writer rewrites: the model file's bytes and its
/// external data files by file name (as [`crate::formats::open_many`] takes them).
#[derive(Clone, Copy, Debug)]
pub struct OnnxSource<'a> {
    pub model: &'a [u8],
    pub external: &'a [(&'a str, &'a [u8])],
}

/// Writes `store`'s model in `format` with `scheme`. The ONNX writer needs the original
/// ONNX file (`onnx`); the other writers ignore it.
pub fn export<S: TensorStore + ?Sized>(
    store: &S,
    format: ExportFormat,
    scheme: &Scheme,
    onnx: Option<OnnxSource<'_>>,
) -> Result<Exported> {
    export_with(store, format, policy::Assign::All(scheme), onnx)
}

/// As [`export`], with a scheme per tensor (a [`policy::TensorPolicy`]) or one for all.
pub fn export_with<S: TensorStore + ?Sized>(
    store: &S,
    format: ExportFormat,
    assign: policy::Assign<'_>,
    onnx: Option<OnnxSource<'_>>,
) -> Result<Exported> {
    match format {
        ExportFormat::Onnx => {
            let source = onnx.ok_or_else(|| Error::Export {
                format: "ONNX",
                reason: "the ONNX writer rewrites an ONNX model: open an .onnx file (with its external data files) to write one".into(),
            })?;
            onnx::write_with(source, store, assign, None)
        }
        ExportFormat::Gguf => {
            let mut bytes = Vec::new();
            let report = gguf::write_with(store, assign, &mut bytes)?;
            Ok(Exported { bytes, report })
        }
        ExportFormat::Safetensors => safetensors::write_with(store, assign),
    }
}

/// Float values in the source: a float dtype, or a ggml block format (a GGUF source's
/// quantized tensor, decoded to f32 by the reader).
pub(crate) fn is_float_weight(d: DType) -> bool {
    d.is_float() || matches!(d, DType::Ggml(_))
}

/// A remark for an integer tensor whose values went through f32 in the reader: integers
/// beyond ±2^24 come out rounded to the nearest f32.
pub(crate) fn rounded_ints(t: &crate::Tensor) -> Option<String> {
    if t.dtype.is_float() || matches!(t.dtype, DType::Ggml(_)) {
        return None;
    }
    let n = t.data.iter().filter(|v| v.abs() > 16_777_216.0).count();
    (n > 0).then(|| {
        format!("{n} values beyond ±2^24 are stored as the reader decoded them, rounded to f32")
    })
}

/// Why a tensor is left as it is rather than quantized, or None when the scheme applies:
/// float tensors of two or more axes are weights; 1-D tensors (biases, norm scales) stay
/// in float as llama.cpp's converter and ONNX Runtime's weight quantizers leave them.
pub(crate) fn keep_reason(info: &TensorInfo) -> Option<String> {
    if !is_float_weight(info.dtype) {
        Some(format!("{} tensor: not a float weight", info.dtype))
    } else if matches!(info.dtype, DType::F8E4M3 | DType::F8E5M2) {
        Some(format!("already {}: not quantized again", info.dtype))
    } else if info.shape.len() < 2 {
        Some(format!(
            "{}-D tensor: biases and norms stay in float (as llama.cpp's converter and ONNX Runtime's quantizers leave them)",
            info.shape.len()
        ))
    } else if info.numel == 0 {
        Some("empty tensor: nothing to quantize".into())
    } else {
        None
    }
}

/// The linear scheme inside `scheme`, or an error naming the scheme when the format's
/// integer-codes-plus-scale form cannot express it.
pub(crate) fn linear_for<'a>(
    scheme: &'a Scheme,
    format: ExportFormat,
    form: &str,
) -> Result<&'a LinearScheme> {
    let refuse = |why: String| Error::Export {
        format: format.label(),
        reason: format!("scheme `{scheme}` cannot be written as {form}: {why}"),
    };
    match scheme {
        Scheme::Linear(l) if l.convention == Convention::Tfjs => Err(refuse(
            "TF.js reconstructs q·scale + min with f64 parameters, which is not (q − zero_point)·scale in f32".into(),
        )),
        Scheme::Linear(l) => Ok(l),
        Scheme::Ggml(g) => Err(refuse(format!(
            "ggml {} blocks (f16 block scales) exist only in GGUF; write a .gguf instead",
            g.format.name().to_ascii_uppercase()
        ))),
        Scheme::FourBit(_) => Err(refuse(
            "NF4/FP4 map codes through a 16-entry codebook, not a linear scale".into(),
        )),
        Scheme::Vq(_) => Err(refuse(
            "k-means / product quantization codes index a codebook, not a linear scale".into(),
        )),
        Scheme::Log(_) => Err(refuse(
            "power-of-two levels are not evenly spaced integer codes".into(),
        )),
        Scheme::Mixed(_) => Err(refuse(
            "outlier columns kept in FP16 beside int8 codes have no single-tensor form".into(),
        )),
        Scheme::Float(_) => Err(refuse(
            "a float cast has no integer codes; use int8/int4 schemes here".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(
            ExportFormat::from_file_name("out/model.GGUF").unwrap(),
            ExportFormat::Gguf
        );
        assert_eq!(
            ExportFormat::from_file_name("a.b.safetensors").unwrap(),
            ExportFormat::Safetensors
        );
        assert_eq!(ExportFormat::parse(".onnx").unwrap(), ExportFormat::Onnx);
        let e = ExportFormat::from_file_name("model.bin").unwrap_err();
        assert!(
            e.to_string().contains(".onnx, .gguf or .safetensors"),
            "{e}"
        );
        assert!(ExportFormat::from_file_name("noext").is_err());
    }

    #[test]
    fn schemes_without_a_linear_form_are_named() {
        for (s, needle) in [
            ("q4_0", "GGUF"),
            ("nf4", "codebook"),
            ("kmeans16", "codebook"),
            ("pot4", "power-of-two"),
            ("mixed-int8-fp16-t6", "outlier"),
            ("tfjs-uint8", "TF.js"),
        ] {
            let scheme: Scheme = s.parse().unwrap();
            let e = linear_for(&scheme, ExportFormat::Onnx, "QDQ")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("`{s}`")) && e.contains(needle),
                "{s}: {e}"
            );
        }
        let l: Scheme = "int4-asym-group32".parse().unwrap();
        assert!(linear_for(&l, ExportFormat::Onnx, "QDQ").is_ok());
    }

    /// Every writer on awkward shapes and values: a result or an error, never a panic.
    #[test]
    fn odd_shapes_give_files_or_errors_never_panics() {
        use crate::formats::{generated::onnx as pb, Model};
        use prost::Message;
        let shapes: [&[usize]; 10] = [
            &[],
            &[0],
            &[0, 0],
            &[1, 1],
            &[1, 33],
            &[2, 0, 3],
            &[5, 1],
            &[3, 1, 1, 2],
            &[2, 256],
            &[1, 1, 1, 1, 1],
        ];
        let tensors: Vec<crate::Tensor> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| crate::Tensor {
                name: format!("t{i}"),
                shape: s.to_vec(),
                dtype: DType::F32,
                data: (0..s.iter().product::<usize>())
                    .map(|j| if j % 3 == 0 { 0.0 } else { j as f32 * -1e-3 })
                    .collect(),
            })
            .collect();
        let st = Model::new(
            crate::Format::Safetensors,
            tensors.clone(),
            Default::default(),
        );
        // ggml has at most 4 axes: GGUF gets the model without the 5-D tensor.
        let four = Model::new(
            crate::Format::Safetensors,
            tensors[..shapes.len() - 1].to_vec(),
            Default::default(),
        );
        let graph = pb::GraphProto {
            initializer: tensors
                .iter()
                .map(|t| pb::TensorProto {
                    name: Some(t.name.clone()),
                    dims: t.shape.iter().map(|&d| d as i64).collect(),
                    data_type: Some(pb::tensor_proto::DataType::Float as i32),
                    raw_data: Some(t.data.iter().flat_map(|v| v.to_le_bytes()).collect()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let bytes = pb::ModelProto {
            ir_version: Some(8),
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec();
        let onnx = crate::formats::onnx::read(&bytes, &[]).unwrap();
        let source = OnnxSource {
            model: &bytes,
            external: &[],
        };
        for s in [
            "int8-sym",
            "int4-asym-ch1",
            "int3-sym-group2",
            "uint2-asym-group5-ax0",
            "int16-asym",
            "q4_0",
            "q6_k",
            "fp16",
            "fp8-e4m3",
            "int8-sym-ch3",
        ] {
            let scheme: Scheme = s.parse().unwrap();
            for f in ExportFormat::ALL {
                let (r, n) = match f {
                    ExportFormat::Onnx => (export(&onnx, f, &scheme, Some(source)), shapes.len()),
                    ExportFormat::Gguf => (export(&four, f, &scheme, None), shapes.len() - 1),
                    ExportFormat::Safetensors => (export(&st, f, &scheme, None), shapes.len()),
                };
                // Which combinations must work: the format has the scheme and its axis exists.
                let expressible = match f {
                    ExportFormat::Gguf => matches!(s, "q4_0" | "q6_k" | "fp16"),
                    ExportFormat::Onnx => s.starts_with("int") || s.starts_with("uint"),
                    ExportFormat::Safetensors => !s.starts_with('q'),
                } && s != "int8-sym-ch3";
                match r {
                    Ok(e) => {
                        assert!(expressible, "{s} {f:?} should have been refused");
                        assert_eq!(e.report.bytes as usize, e.bytes.len(), "{s} {f:?}");
                        assert_eq!(e.report.tensors.len(), n, "{s} {f:?}");
                    }
                    Err(e) => assert!(!expressible, "{s} {f:?}: {e}"),
                }
            }
        }
    }
}
