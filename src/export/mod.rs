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
pub mod report;
pub mod rules;
pub mod safetensors;
pub mod tfjs;

use crate::error::{Error, Result};
use crate::formats::TensorStore;
use crate::quant::Scheme;
pub use report::{ExportFormat, ExportReport, Exported, ExportedTensor};

pub use crate::formats::OnnxSource;

/// Writes `store`'s model in `format` with `scheme`. The ONNX writer rewrites the ONNX
/// files the model was opened from ([`TensorStore::onnx_source`]).
pub fn export<S: TensorStore + ?Sized>(
    store: &S,
    format: ExportFormat,
    scheme: &Scheme,
) -> Result<Exported> {
    export_with(store, format, policy::Assign::All(scheme))
}

/// As [`export`], with a scheme per tensor (a [`policy::TensorPolicy`]) or one for all.
pub fn export_with<S: TensorStore + ?Sized>(
    store: &S,
    format: ExportFormat,
    assign: policy::Assign<'_>,
) -> Result<Exported> {
    match format {
        ExportFormat::Onnx => {
            let source = store.onnx_source()?.ok_or_else(|| Error::Export {
                format: "ONNX",
                reason: format!(
                    "the ONNX writer rewrites an ONNX model, and the input is {:?}: open an .onnx file (with its external data files) to write one, or write .gguf or .safetensors",
                    store.info().format
                ),
            })?;
            onnx::write_with(source, store, assign, None)
        }
        ExportFormat::Gguf => {
            let mut bytes = Vec::new();
            let report = gguf::write_with(store, assign, &mut bytes)?;
            Ok(Exported { bytes, report })
        }
        ExportFormat::Safetensors => safetensors::write_with(store, assign),
        ExportFormat::Tfjs => Err(Error::Export {
            format: "TF.js",
            reason: "TF.js weights are a manifest and .bin shards, several files: write them with export::tfjs::write".into(),
        }),
    }
}

/// Whether `format`'s writer can store a weight under `scheme` (before any file is
/// read): Ok, or the writer's own refusal. The automatic search uses it to keep to the
/// candidates one file can hold (`quantscope auto --format`).
pub fn writes(format: ExportFormat, scheme: &Scheme) -> Result<()> {
    match format {
        ExportFormat::Onnx => {
            rules::linear_for(scheme, format, "QuantizeLinear/DequantizeLinear weights").map(|_| ())
        }
        ExportFormat::Gguf => gguf::target(scheme).map(|_| ()),
        ExportFormat::Safetensors => safetensors::writes(scheme),
        ExportFormat::Tfjs => tfjs::writes(scheme),
    }
}

/// Refuses to write `store` in `format` under `scheme` when the writing would exceed
/// `budget`, before anything is read or written: the largest tensor's encoding (its
/// values, codes, parameters, reconstruction for the report) plus the output the
/// writer holds in memory (ONNX and safetensors build the whole file; so does GGUF
/// unless it is streamed to a file: `streamed`).
pub fn check_budget<S: TensorStore + ?Sized>(
    store: &S,
    format: ExportFormat,
    assign: policy::Assign<'_>,
    budget: &crate::budget::Budget,
    streamed: bool,
) -> Result<()> {
    use crate::budget::{estimate, Estimate, Operation};
    let info = store.info();
    let mut output = 0u64;
    let mut worst: Option<Estimate> = None;
    for t in &info.tensors {
        let n = t.numel as u64;
        let extra = store.read_extra(&t.name);
        let pick = assign.pick(&t.name);
        let scheme = match pick {
            policy::Pick::Quantize(s) if rules::keep_reason(t).is_none() => Some(s),
            _ => None,
        };
        let Some(scheme) = scheme else {
            // Kept as it was (or as F32): read, decoded, and encoded again for the file.
            let stored = (t.size_bytes as u64).max(n.saturating_mul(4));
            output = output.saturating_add(stored);
            let e = Estimate::custom(
                &t.name,
                &assign.label(),
                Operation::Export,
                vec![
                    ("read from the file", extra),
                    ("values", n.saturating_mul(4)),
                ],
                vec![
                    ("values", n.saturating_mul(4)),
                    ("stored copy", stored),
                    ("fixed", 64 << 10),
                ],
            );
            if worst.as_ref().is_none_or(|w| e.peak() > w.peak()) {
                worst = Some(e);
            }
            continue;
        };
        let e = estimate(t, scheme, Operation::Export, extra);
        let stored = e
            .work
            .iter()
            .filter(|(k, _)| *k == "codes" || *k == "parameters")
            .fold(0u64, |a, (_, b)| a.saturating_add(*b));
        // A writer may fall back to F16 (GGUF rows that do not split into blocks).
        output = output.saturating_add(stored.max(n.saturating_mul(2)));
        if worst.as_ref().is_none_or(|w| e.peak() > w.peak()) {
            worst = Some(e);
        }
    }
    if format == ExportFormat::Onnx {
        // The writer decodes the source model and re-encodes it.
        output = output.saturating_add(info.total_bytes as u64);
    }
    if streamed {
        output = 0;
    }
    let Some(mut e) = worst else {
        return Ok(());
    };
    e.work.push(("output file", output));
    e.read.push(("output file", output));
    budget.check(&e)
}

#[cfg(test)]
mod tests {
    use super::rules::linear_for;
    use super::*;
    use crate::tensor::DType;

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
            e.to_string().contains(".onnx, .gguf, .safetensors or"),
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
        let onnx = crate::formats::ModelFile::open(vec![(
            "m.onnx".into(),
            Box::new(crate::formats::source::InMemory(bytes)),
        )])
        .unwrap();
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
                    ExportFormat::Onnx => (export(&onnx, f, &scheme), shapes.len()),
                    ExportFormat::Gguf => (export(&four, f, &scheme), shapes.len() - 1),
                    ExportFormat::Safetensors => (export(&st, f, &scheme), shapes.len()),
                    ExportFormat::Tfjs => unreachable!("not in ALL"),
                };
                // Which combinations must work: the format has the scheme and its axis exists.
                let expressible = match f {
                    ExportFormat::Gguf => matches!(s, "q4_0" | "q6_k" | "fp16"),
                    ExportFormat::Onnx => s.starts_with("int") || s.starts_with("uint"),
                    ExportFormat::Safetensors => !s.starts_with('q'),
                    ExportFormat::Tfjs => unreachable!("not in ALL"),
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
