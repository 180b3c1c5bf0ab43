//! A trained model through the existing writers: safetensors (codes, scales and zero
//! points under compressed-tensors' names) and ONNX QDQ. For ONNX, the float graph is
//! built here (Gemm / Conv / Relu / MaxPool, with each quantized layer input as
//! Mul(1 / scale) -> Clip -> QuantizeLinear(scale 1) -> DequantizeLinear(scale), PyTorch's
//! rounding, over the range the model trained with) and
//! handed to the ONNX writer, which replaces the weights by QDQ codes exactly as it does
//! for any model. The weights' codes are the ones the training's forward pass used: the
//! writer recomputes the same `torch-` min-max scales from the final float weights.

use prost::Message;

use super::{fakequant::FqParams, Method, ModelKind, TrainResult, TrainedModel};
use crate::error::{Error, Result};
use crate::export::{self, ExportFormat, Exported, OnnxSource};
use crate::formats::generated::onnx::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::quant::Scheme;
use crate::tensor::{DType, Tensor};
use crate::{Format, Model};

fn refuse(reason: String) -> Error {
    Error::Export {
        format: "trained model",
        reason,
    }
}

/// The weights and biases as a model the writers read (`<layer>.weight`, `<layer>.bias`).
pub fn to_store(m: &TrainedModel) -> Model {
    let mut tensors = Vec::new();
    for l in &m.layers {
        tensors.push(Tensor {
            name: format!("{}.weight", l.name),
            shape: l.shape.clone(),
            dtype: DType::F32,
            data: l.weight.clone(),
        });
        tensors.push(Tensor {
            name: format!("{}.bias", l.name),
            shape: vec![l.bias.len()],
            dtype: DType::F32,
            data: l.bias.clone(),
        });
    }
    Model::new(Format::Safetensors, tensors, Default::default())
}

/// The weight scheme to write with, or why the result has none.
fn scheme_of(r: &TrainResult) -> Result<Scheme> {
    match r.config.method {
        Method::Float => Err(refuse(
            "the float model has no quantization scheme: train with --method ptq, qat, kd or qat-kd to export".into(),
        )),
        Method::Lsq => Err(refuse(
            "LSQ's learned step sizes are not a scheme's min-max scales, so the writers cannot reproduce its codes; export a qat, kd or qat-kd model".into(),
        )),
        _ => r
            .config
            .weight_scheme()
            .ok_or_else(|| refuse("no weight scheme".into())),
    }
}

/// Writes the quantized model in `format` (ONNX or safetensors).
pub fn write(r: &TrainResult, format: ExportFormat) -> Result<Exported> {
    let scheme = scheme_of(r)?;
    match format {
        ExportFormat::Safetensors => export::safetensors::write(&to_store(&r.model), &scheme),
        ExportFormat::Onnx => {
            let bytes = float_onnx(r)?;
            let store = crate::formats::onnx::read(&bytes, &[])?;
            export::onnx::write(
                OnnxSource {
                    model: bytes.as_slice().into(),
                    external: Vec::new(),
                },
                &store,
                &scheme,
            )
        }
        ExportFormat::Gguf => Err(refuse(
            "GGUF holds language models' ggml blocks; write .onnx or .safetensors".into(),
        )),
        ExportFormat::Tfjs => Err(refuse(
            "the lab writes .onnx or .safetensors; a TF.js manifest holds no graph to run".into(),
        )),
    }
}

fn tensor_f32(name: &str, dims: &[usize], data: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.into()),
        name: Some(format!("{op}_{output}")),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn value(name: &str, dims: Vec<tensor_shape_proto::dimension::Value>) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .into_iter()
                        .map(|v| tensor_shape_proto::Dimension {
                            value: Some(v),
                            ..Default::default()
                        })
                        .collect(),
                }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The trained model as a float ONNX graph (opset 13), with the quantized inputs'
/// Clip/QuantizeLinear/DequantizeLinear in place; input `input` (batch, features),
/// output `logits` (batch, classes).
pub fn float_onnx(r: &TrainResult) -> Result<Vec<u8>> {
    use tensor_shape_proto::dimension::Value as Dim;
    let m = &r.model;
    let act = r.config.activation_scheme();
    let features: usize = m.sample_shape.iter().product();
    let mut g = GraphProto {
        name: Some(format!("quantscope-train-{}", r.config.method)),
        input: vec![value(
            "input",
            vec![
                Dim::DimParam("batch".into()),
                Dim::DimValue(features as i64),
            ],
        )],
        output: vec![value(
            "logits",
            vec![
                Dim::DimParam("batch".into()),
                Dim::DimValue(m.classes as i64),
            ],
        )],
        ..Default::default()
    };
    let mut h = "input".to_string();
    if m.kind == ModelKind::Cnn {
        let (c, hh, ww) = match m.sample_shape[..] {
            [c, a, b] => (c, a, b),
            [a, b] => (1, a, b),
            [d] => {
                let s = (d as f64).sqrt().round() as usize;
                (1, s, s)
            }
            _ => {
                return Err(refuse(format!(
                    "samples {:?} are not images",
                    m.sample_shape
                )))
            }
        };
        g.initializer.push(TensorProto {
            name: Some("image_shape".into()),
            dims: vec![4],
            data_type: Some(DataType::Int64 as i32),
            int64_data: vec![-1, c as i64, hh as i64, ww as i64],
            ..Default::default()
        });
        g.node
            .push(node("Reshape", &["input", "image_shape"], "image", vec![]));
        h = "image".into();
    }
    let last = m.layers.len() - 1;
    for (i, l) in m.layers.iter().enumerate() {
        let conv = l.shape.len() == 4;
        if !conv && m.kind == ModelKind::Cnn {
            g.node.push(node(
                "MaxPool",
                &[&h],
                "pooled",
                vec![
                    attr_ints("kernel_shape", &[2, 2]),
                    attr_ints("strides", &[2, 2]),
                ],
            ));
            g.node.push(node(
                "Flatten",
                &["pooled"],
                "flat",
                vec![attr_int("axis", 1)],
            ));
            h = "flat".into();
        }
        if let Some(Scheme::Linear(a)) = &act {
            let (lo, hi) = m.input_ranges.get(i).copied().unwrap_or((0.0, 0.0));
            let p = FqParams::from_ranges(a, &[(lo, hi)]);
            let (s, z) = (p.scale[0], p.zero_point[0]);
            let n = &l.name;
            // PyTorch's code is zp + round(x * (1 / scale)); QuantizeLinear divides by its
            // scale, and x / s and x * (1 / s) can round to different codes near a half
            // step. So the graph multiplies by the same f32 inverse first and quantizes
            // with scale 1, then dequantizes with the real scale: ONNX Runtime's codes are
            // then the training's, for the same inputs.
            g.initializer
                .push(tensor_f32(&format!("{n}.in_inv_scale"), &[], &[1.0 / s]));
            g.initializer
                .push(tensor_f32(&format!("{n}.in_unit"), &[], &[1.0]));
            g.initializer
                .push(tensor_f32(&format!("{n}.in_scale"), &[], &[s]));
            g.initializer.push(TensorProto {
                name: Some(format!("{n}.in_zero_point")),
                data_type: Some(DataType::Uint8 as i32),
                int32_data: vec![z],
                ..Default::default()
            });
            let mut src = format!("{n}.in_scaled");
            g.node.push(node(
                "Mul",
                &[&h, &format!("{n}.in_inv_scale")],
                &src,
                vec![],
            ));
            // Below 8 bits the uint8 QuantizeLinear would saturate at 0 and 255, not at the
            // scheme's code range: clip to it first (integers, so rounding is unchanged).
            if (p.qmin, p.qmax) != (0, 255) {
                let lo = (p.qmin - z) as f32;
                let hi = (p.qmax - z) as f32;
                g.initializer
                    .push(tensor_f32(&format!("{n}.in_min"), &[], &[lo]));
                g.initializer
                    .push(tensor_f32(&format!("{n}.in_max"), &[], &[hi]));
                let out = format!("{n}.in_clipped");
                g.node.push(node(
                    "Clip",
                    &[&src, &format!("{n}.in_min"), &format!("{n}.in_max")],
                    &out,
                    vec![],
                ));
                src = out;
            }
            let q = format!("{n}.in_q");
            let dq = format!("{n}.in_dq");
            g.node.push(node(
                "QuantizeLinear",
                &[&src, &format!("{n}.in_unit"), &format!("{n}.in_zero_point")],
                &q,
                vec![],
            ));
            g.node.push(node(
                "DequantizeLinear",
                &[&q, &format!("{n}.in_scale"), &format!("{n}.in_zero_point")],
                &dq,
                vec![],
            ));
            h = dq;
        }
        let w = format!("{}.weight", l.name);
        let b = format!("{}.bias", l.name);
        g.initializer.push(tensor_f32(&w, &l.shape, &l.weight));
        g.initializer.push(tensor_f32(&b, &[l.bias.len()], &l.bias));
        let out = if i == last {
            "logits".to_string()
        } else {
            format!("{}.out", l.name)
        };
        if conv {
            g.node.push(node(
                "Conv",
                &[&h, &w, &b],
                &out,
                vec![
                    attr_ints("kernel_shape", &[3, 3]),
                    attr_ints("pads", &[1, 1, 1, 1]),
                ],
            ));
        } else {
            g.node.push(node(
                "Gemm",
                &[&h, &w, &b],
                &out,
                vec![attr_int("transB", 1)],
            ));
        }
        h = out;
        if i < last {
            let relu = format!("{}.relu", l.name);
            g.node.push(node("Relu", &[&h], &relu, vec![]));
            h = relu;
        }
    }
    let model = ModelProto {
        ir_version: Some(8),
        producer_name: Some("quantscope train".into()),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(g),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}
