//! What a writer says it did: the output [`ExportFormat`], and per tensor what the file
//! holds ([`ExportReport`], [`ExportedTensor`]).

use serde::Serialize;

use crate::analysis::TensorSummary;
use crate::error::{Error, Result};
use crate::tensor::{DType, TensorInfo};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Onnx,
    Gguf,
    Safetensors,
    /// A TF.js weights manifest and its .bin shards (`export::tfjs::write`: several files).
    Tfjs,
}

impl ExportFormat {
    /// The single-file writers (`export::export`); TF.js writes several files.
    pub const ALL: [ExportFormat; 3] = [
        ExportFormat::Onnx,
        ExportFormat::Gguf,
        ExportFormat::Safetensors,
    ];

    /// `onnx`, `gguf` or `safetensors` (any case).
    pub fn parse(s: &str) -> Result<ExportFormat> {
        let lower = s.trim().trim_start_matches('.').to_ascii_lowercase();
        if lower == "tfjs" {
            return Ok(ExportFormat::Tfjs);
        }
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
        if name.to_ascii_lowercase().ends_with("weights_manifest.json") {
            return Ok(ExportFormat::Tfjs);
        }
        let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        ExportFormat::parse(ext).map_err(|_| {
            Error::Invalid(format!(
                "cannot tell the output format of `{name}`: name it .onnx, .gguf, .safetensors or <name>-weights_manifest.json (TF.js)"
            ))
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Onnx => "onnx",
            ExportFormat::Gguf => "gguf",
            ExportFormat::Safetensors => "safetensors",
            ExportFormat::Tfjs => "tfjs",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            ExportFormat::Onnx => "ONNX",
            ExportFormat::Gguf => "GGUF",
            ExportFormat::Safetensors => "safetensors",
            ExportFormat::Tfjs => "TF.js",
        }
    }
}

/// What a writer did, tensor by tensor.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct ExportedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    #[cfg_attr(feature = "ts-types", ts(type = "string"))]
    /// The source's element type.
    pub dtype: DType,
    /// What the file holds for it, e.g. `Q4_0`, `F32`, `INT8 codes, 64 scales along axis 0`.
    pub stored: String,
    /// True when the requested scheme was applied to it.
    pub quantized: bool,
    /// Why it was stored otherwise (a fallback, a tensor kept as it was), or a caveat.
    #[cfg_attr(feature = "ts-types", ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Metrics of the stored values against the source's, as `quantscope quantize --json`
    /// prints them for the scheme in `summary.scheme`; absent when stored exactly.
    #[cfg_attr(feature = "ts-types", ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<TensorSummary>,
}

impl ExportedTensor {
    pub(crate) fn kept(
        info: &TensorInfo,
        stored: impl Into<String>,
        note: impl Into<String>,
    ) -> Self {
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
