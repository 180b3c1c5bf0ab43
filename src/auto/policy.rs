//! A chosen mix as files and recipes other tools take: the JSON policy that
//! `quantscope quantize --policy FILE` reads back, llama.cpp's `--tensor-type` lines, and
//! ONNX Runtime's `nodes_to_exclude` with per-tensor overrides.

use serde::Serialize;
use serde_json::{json, Value};

use super::{Mix, Sensitivity};
use crate::error::Result;
use crate::export::policy::TensorPolicy;
use crate::quant::{FloatFormat, GgmlType, Granularity, Scheme};

/// The mix as a per-tensor policy.
pub fn tensor_policy(table: &Sensitivity, mix: &Mix) -> Result<TensorPolicy> {
    let mut p = TensorPolicy::default();
    for (name, s) in table.schemes(&mix.choice)? {
        p.tensors.insert(name, s);
    }
    Ok(p)
}

/// The policy file's text, with the search's figures beside the tensors.
pub fn policy_json(table: &Sensitivity, mix: &Mix) -> Result<String> {
    let p = tensor_policy(table, mix)?;
    Ok(p.to_json(&[
        ("objective", json!(table.objective.name())),
        ("bytes", json!(mix.bytes)),
        ("bits_per_weight", json!(mix.bpw)),
        ("estimated", json!(finite(mix.estimated))),
        ("measured", json!(mix.measured.and_then(finite))),
    ]))
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// llama.cpp's name of a ggml type (`llama-quantize --tensor-type NAME=TYPE`), None when
/// the scheme has no llama.cpp type (int8/int4 with per-channel or group scales, NF4,
/// ...: their codes and scales are laid out differently from every ggml block).
pub fn llama_type(s: Option<&Scheme>) -> Option<&'static str> {
    let Some(s) = s else { return Some("f32") };
    match s {
        Scheme::Ggml(g) => Some(match g.format {
            GgmlType::Q8_0 => "q8_0",
            GgmlType::Q4_0 => "q4_0",
            GgmlType::Q4_1 => "q4_1",
            GgmlType::Q5_0 => "q5_0",
            GgmlType::Q5_1 => "q5_1",
            GgmlType::Q2_K => "q2_k",
            GgmlType::Q3_K => "q3_k",
            GgmlType::Q4_K => "q4_k",
            GgmlType::Q5_K => "q5_k",
            GgmlType::Q6_K => "q6_k",
            GgmlType::F16 => "f16",
            GgmlType::BF16 => "bf16",
            GgmlType::F32 => "f32",
        }),
        Scheme::Float(f) => match f.format {
            FloatFormat::Fp16 => Some("f16"),
            FloatFormat::Bf16 => Some("bf16"),
            _ => None,
        },
        _ => None,
    }
}

/// A regular expression matching exactly `name` (llama.cpp searches each pattern in the
/// tensor names with std::regex).
fn exact_regex(name: &str) -> String {
    let mut out = String::from("^");
    for c in name.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// `--tensor-type` arguments for llama-quantize, one per tensor, and a comment line for
/// each tensor whose scheme has no llama.cpp type.
pub fn llama_cpp_lines(table: &Sensitivity, mix: &Mix) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (name, s) in table.schemes(&mix.choice)? {
        match llama_type(s.as_ref()) {
            Some(t) => out.push(format!("--tensor-type '{}={t}'", exact_regex(&name))),
            None => out.push(format!(
                "# {name}: {} has no llama.cpp type (choose among q8_0, q6_k, q5_0, q5_1, q4_k, q4_0, q4_1, f16 for llama.cpp)",
                s.map(|s| s.to_string()).unwrap_or_default()
            )),
        }
    }
    Ok(out)
}

/// ONNX Runtime's form of a mix: the nodes to leave float, per-weight overrides for
/// `quantize_static` / `quantize_dynamic` (`extra_options["TensorQuantOverrides"]`),
/// the weights in 4-bit blocks (its MatMulNBits quantizer's form), and the weights whose
/// scheme ONNX Runtime has no form for.
#[derive(Clone, Debug, Serialize)]
pub struct OrtRecipe {
    pub nodes_to_exclude: Vec<String>,
    pub tensor_quant_overrides: serde_json::Map<String, Value>,
    pub matmul_nbits: Vec<Value>,
    pub unsupported: Vec<String>,
    pub python: String,
}

/// `nodes_of(weight)`: the node names reading a weight (from the graph session).
pub fn ort_recipe(
    table: &Sensitivity,
    mix: &Mix,
    nodes_of: &dyn Fn(&str) -> Vec<String>,
) -> Result<OrtRecipe> {
    let mut r = OrtRecipe {
        nodes_to_exclude: Vec::new(),
        tensor_quant_overrides: serde_json::Map::new(),
        matmul_nbits: Vec::new(),
        unsupported: Vec::new(),
        python: String::new(),
    };
    for (name, s) in table.schemes(&mix.choice)? {
        let Some(s) = s else {
            r.nodes_to_exclude.extend(nodes_of(&name));
            continue;
        };
        match &s {
            Scheme::Linear(l) if matches!(l.granularity, Granularity::PerGroup { .. }) => {
                let Granularity::PerGroup { size, .. } = l.granularity else {
                    continue;
                };
                r.matmul_nbits.push(json!({
                    "weight": name, "nodes": nodes_of(&name), "bits": l.bits,
                    "block_size": size, "is_symmetric": l.symmetric,
                }));
            }
            Scheme::Linear(l) if matches!(l.bits, 4 | 8 | 16) => {
                let ty = match (l.bits, l.signed) {
                    (8, true) => "QInt8",
                    (8, false) => "QUInt8",
                    (4, true) => "QInt4",
                    (4, false) => "QUInt4",
                    (16, true) => "QInt16",
                    _ => "QUInt16",
                };
                let mut o = json!({"quant_type": ty, "symmetric": l.symmetric});
                if let Granularity::PerChannel { axis } = l.granularity {
                    o["axis"] = json!(axis);
                }
                r.tensor_quant_overrides.insert(name, json!([o]));
            }
            other => r.unsupported.push(format!(
                "{name}: {other} has no ONNX Runtime form (its quantizers write 4/8/16-bit linear codes); write the mix as GGUF or use a linear candidate"
            )),
        }
    }
    r.python = format!(
        "from onnxruntime.quantization import QuantType, quantize_static\n\
         overrides = {}\n\
         for v in overrides.values():\n    for o in v:\n        o[\"quant_type\"] = getattr(QuantType, o[\"quant_type\"])\n\
         quantize_static(\"model.onnx\", \"model.qdq.onnx\", calibration_data_reader,\n    \
         nodes_to_exclude={},\n    per_channel=True,\n    \
         extra_options={{\"TensorQuantOverrides\": overrides}})\n",
        Value::Object(r.tensor_quant_overrides.clone()),
        json!(r.nodes_to_exclude),
    );
    Ok(r)
}
