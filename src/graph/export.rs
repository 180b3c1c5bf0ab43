//! The quantized model of a run as an ONNX QDQ file: the weights the run quantized as
//! DequantizeLinear of integer codes (the ONNX writer, src/export/onnx.rs; excluded
//! nodes' weights and weights of no MatMul/Gemm/Conv stay float), and in the full mode
//! each quantized activation as QuantizeLinear -> DequantizeLinear before the ops that
//! read it, named as ONNX Runtime's quantizer names them (`X_QuantizeLinear_Output`,
//! `X_DequantizeLinear_Output`), so that its `qdq_loss_debug` pairs them.

use std::collections::{HashMap, HashSet};

use prost::Message;

use super::calibrate::ActQuant;
use super::{proto, RunReport, Session};
use crate::error::{Error, Result};
use crate::export::OnnxSource;
use crate::formats::generated::onnx::{tensor_proto::DataType, GraphProto, ModelProto, NodeProto};
use crate::formats::source::{ByteSource, InMemory};
use crate::quant::Scheme;

/// Writes the QDQ model of `report` (a run of `session` with `scheme`).
pub fn write_qdq(
    bytes: &[u8],
    external: &[(&str, &[u8])],
    session: &Session,
    scheme: &Scheme,
    report: &RunReport,
) -> Result<Vec<u8>> {
    let store = crate::formats::onnx::read(bytes, external)?;
    let quantized: HashSet<&str> = report
        .nodes
        .iter()
        .filter(|n| n.scheme.is_some())
        .filter_map(|n| n.weight.as_deref())
        .collect();
    let excluded: HashSet<&str> = session
        .nodes
        .iter()
        .filter(|n| report.excluded.contains(&n.name))
        .filter_map(|n| n.weight.as_deref())
        .collect();
    let select = |name: &str| -> Option<String> {
        if quantized.contains(name) {
            None
        } else if excluded.contains(name) {
            Some("kept float: its node is excluded".into())
        } else {
            Some("kept float: not the weight of a MatMul/Gemm/Conv".into())
        }
    };
    let sources: Vec<InMemory<&[u8]>> = external.iter().map(|(_, b)| InMemory(*b)).collect();
    let source = OnnxSource {
        model: std::borrow::Cow::Borrowed(bytes),
        external: external
            .iter()
            .zip(&sources)
            .map(|((n, _), s)| (*n, s as &dyn ByteSource))
            .collect(),
    };
    let out = crate::export::onnx::write_selected(source, &store, scheme, Some(&select))?;
    if report.activations.is_empty() {
        return Ok(out.bytes);
    }
    // Which (consumer, input) pairs read a quantized activation: the consumers are named
    // by their first output, which is unique in the model at any depth.
    let acts: HashMap<&str, &ActQuant> = report
        .activations
        .iter()
        .map(|q| (q.value.as_str(), q))
        .collect();
    let mut reads: HashSet<(String, String)> = HashSet::new();
    for n in &session.nodes {
        let quantizes = n.weight.as_deref().is_some_and(|w| quantized.contains(w));
        if !quantizes {
            continue;
        }
        for input in n.inputs.iter().take(2) {
            if acts.contains_key(input.as_str()) {
                if let Some(o) = n.outputs.first() {
                    reads.insert((o.clone(), input.clone()));
                }
            }
        }
    }
    let mut m =
        ModelProto::decode(out.bytes.as_slice()).map_err(|e| Error::OnnxDecode(e.to_string()))?;
    let g = m
        .graph
        .as_mut()
        .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))?;
    insert_qdq(g, &acts, &reads);
    // Per-tensor QuantizeLinear/DequantizeLinear need opset 10; the weights' writer
    // already raised the opset where its own nodes needed more (and refused where that
    // would change other operators).
    for o in m.opset_import.iter_mut() {
        if (o.domain().is_empty() || o.domain() == "ai.onnx") && o.version() < 10 {
            return Err(Error::Export {
                format: "ONNX",
                reason: format!(
                    "activation QuantizeLinear needs opset 10, the model imports {}; convert it first (onnx.version_converter)",
                    o.version()
                ),
            });
        }
    }
    Ok(m.encode_to_vec())
}

fn insert_qdq(
    g: &mut GraphProto,
    acts: &HashMap<&str, &ActQuant>,
    reads: &HashSet<(String, String)>,
) {
    let mut made: HashMap<String, String> = HashMap::new();
    let mut nodes = Vec::with_capacity(g.node.len());
    for mut n in std::mem::take(&mut g.node) {
        for a in &mut n.attribute {
            for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                insert_qdq(sg, acts, reads);
            }
        }
        let first = n.output.first().cloned().unwrap_or_default();
        for slot in 0..n.input.len().min(2) {
            let x = n.input[slot].clone();
            if !reads.contains(&(first.clone(), x.clone())) {
                continue;
            }
            let Some(q) = acts.get(x.as_str()) else {
                continue;
            };
            let dq = match made.get(&x) {
                Some(d) => d.clone(),
                None => {
                    let (sn, zn) = (format!("{x}_scale"), format!("{x}_zero_point"));
                    let qo = format!("{x}_QuantizeLinear_Output");
                    let dqo = format!("{x}_DequantizeLinear_Output");
                    let elem = if q.qmin < 0 {
                        DataType::Int8
                    } else {
                        DataType::Uint8
                    };
                    g.initializer.push(proto::scalar_f32(sn.clone(), q.scale));
                    g.initializer
                        .push(proto::scalar_int(zn.clone(), q.zero_point, elem));
                    nodes.push(NodeProto {
                        name: Some(format!("{x}_QuantizeLinear")),
                        op_type: Some("QuantizeLinear".into()),
                        input: vec![x.clone(), sn.clone(), zn.clone()],
                        output: vec![qo.clone()],
                        ..Default::default()
                    });
                    nodes.push(NodeProto {
                        name: Some(format!("{x}_DequantizeLinear")),
                        op_type: Some("DequantizeLinear".into()),
                        input: vec![qo, sn, zn],
                        output: vec![dqo.clone()],
                        ..Default::default()
                    });
                    made.insert(x.clone(), dqo.clone());
                    dqo
                }
            };
            n.input[slot] = dq;
        }
        nodes.push(n);
    }
    g.node = nodes;
}
