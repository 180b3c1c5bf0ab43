//! The ONNX model as the whole-model runs see it: decoded with every tensor inline, If
//! nodes whose condition the inputs fix replaced by the branch taken, and the rewrites
//! the runs need (weights replaced, activations fake-quantized, values kept as outputs).

use std::collections::{HashMap, HashSet};

use half::{bf16, f16};
use prost::Message;

use crate::error::{Error, Result};
use crate::formats::generated::onnx::{
    attribute_proto::AttributeType, tensor_proto::DataLocation, tensor_proto::DataType, type_proto,
    AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, TypeProto, ValueInfoProto,
};
use crate::tensor::DType;

/// Operators whose second input is the weight a scheme quantizes (when it is a constant),
/// as ONNX Runtime's static quantizer and AIMET pick "layers".
pub const WEIGHT_OPS: &[&str] = &["Conv", "ConvTranspose", "MatMul", "Gemm"];

pub(crate) fn decode(bytes: &[u8]) -> Result<ModelProto> {
    ModelProto::decode(bytes).map_err(|e| Error::OnnxDecode(e.to_string()))
}

pub(crate) fn graph(m: &ModelProto) -> Result<&GraphProto> {
    m.graph
        .as_ref()
        .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))
}

fn graph_mut(m: &mut ModelProto) -> Result<&mut GraphProto> {
    m.graph
        .as_mut()
        .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))
}

/// Moves every tensor kept in an external data file into the model (the engine never
/// touches a file system).
pub(crate) fn inline_external(g: &mut GraphProto, external: &[(&str, &[u8])]) -> Result<()> {
    use crate::formats::source::{ByteSource, InMemory};
    let sources: Vec<InMemory<&[u8]>> = external.iter().map(|(_, b)| InMemory(*b)).collect();
    let files: Vec<(&str, &dyn ByteSource)> = external
        .iter()
        .zip(&sources)
        .map(|((n, _), s)| (*n, s as &dyn ByteSource))
        .collect();
    inline_from(g, &files)
}

fn inline_from(
    g: &mut GraphProto,
    external: &[(&str, &dyn crate::formats::source::ByteSource)],
) -> Result<()> {
    fn one(
        t: &mut TensorProto,
        external: &[(&str, &dyn crate::formats::source::ByteSource)],
    ) -> Result<()> {
        if t.data_location() == DataLocation::External {
            let bytes = crate::formats::onnx::external_bytes(t, t.name(), external)?;
            t.raw_data = Some(bytes);
            t.external_data.clear();
            t.data_location = None;
        }
        Ok(())
    }
    for t in &mut g.initializer {
        one(t, external)?;
    }
    for n in &mut g.node {
        for a in &mut n.attribute {
            for t in a.t.iter_mut().chain(a.tensors.iter_mut()) {
                one(t, external)?;
            }
            for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                inline_from(sg, external)?;
            }
        }
    }
    Ok(())
}

/// A node's name as the tensor reader and the QDQ writer name it: its own name, or
/// `{op}#{index}` when it has none.
pub(crate) fn node_name(n: &NodeProto, index: usize) -> String {
    if n.name().is_empty() {
        format!("{}#{index}", n.op_type())
    } else {
        n.name().to_string()
    }
}

/// A dimension of a declared input: a number, or a name the user fixes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum Dim {
    Fixed(usize),
    Symbol(String),
}

/// A graph input as the model declares it.
#[derive(Clone, Debug, serde::Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct InputSpec {
    pub name: String,
    #[cfg_attr(feature = "ts-types", ts(type = "string"))]
    pub dtype: DType,
    pub dims: Vec<Dim>,
}

pub(crate) fn elem_dtype(elem: i32) -> Option<DType> {
    Some(match DataType::try_from(elem).ok()? {
        DataType::Float => DType::F32,
        DataType::Float16 => DType::F16,
        DataType::Double => DType::F64,
        DataType::Int64 => DType::I64,
        DataType::Int32 => DType::I32,
        DataType::Bool => DType::Bool,
        DataType::Uint8 => DType::U8,
        DataType::Int8 => DType::I8,
        _ => return None,
    })
}

/// The inputs a caller feeds: graph inputs that no initializer gives a value.
pub(crate) fn input_specs(g: &GraphProto) -> Result<Vec<InputSpec>> {
    let inits: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    let mut out = Vec::new();
    for v in g.input.iter().filter(|v| !inits.contains(v.name())) {
        let Some(TypeProto {
            value: Some(type_proto::Value::TensorType(t)),
            ..
        }) = &v.r#type
        else {
            return Err(Error::Graph(format!(
                "input `{}` is not a tensor (sequences, maps and optionals cannot be generated)",
                v.name()
            )));
        };
        let dtype = elem_dtype(t.elem_type()).ok_or_else(|| {
            Error::Graph(format!(
                "input `{}` has element type {} ({}), which the runs cannot feed",
                v.name(),
                t.elem_type(),
                DataType::try_from(t.elem_type())
                    .map(|d| d.as_str_name())
                    .unwrap_or("unknown")
            ))
        })?;
        let dims = match &t.shape {
            None => Vec::new(),
            Some(s) => s
                .dim
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    use crate::formats::generated::onnx::tensor_shape_proto::dimension::Value as D;
                    match &d.value {
                        Some(D::DimValue(n)) if *n >= 0 => Dim::Fixed(*n as usize),
                        Some(D::DimParam(p)) if !p.is_empty() && p != "?" => Dim::Symbol(p.clone()),
                        _ => Dim::Symbol(format!("{}.{i}", v.name())),
                    }
                })
                .collect(),
        };
        out.push(InputSpec {
            name: v.name().to_string(),
            dtype,
            dims,
        });
    }
    Ok(out)
}

/// Values of a tensor proto as f32 (float types only), or None for other types.
pub(crate) fn float_values(t: &TensorProto) -> Option<Vec<f32>> {
    let dt = DataType::try_from(t.data_type()).ok()?;
    let raw = t.raw_data.as_deref();
    Some(match dt {
        DataType::Float => match raw {
            Some(r) => r
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            None => t.float_data.clone(),
        },
        DataType::Float16 => match raw {
            Some(r) => r
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            None => t
                .int32_data
                .iter()
                .map(|&v| f16::from_bits(v as u16).to_f32())
                .collect(),
        },
        DataType::Bfloat16 => match raw {
            Some(r) => r
                .chunks_exact(2)
                .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            None => t
                .int32_data
                .iter()
                .map(|&v| bf16::from_bits(v as u16).to_f32())
                .collect(),
        },
        DataType::Double => match raw {
            Some(r) => r
                .chunks_exact(8)
                .map(|b| {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                })
                .collect(),
            None => t.double_data.iter().map(|&v| v as f32).collect(),
        },
        _ => return None,
    })
}

/// Stores `values` into a float tensor proto in its own element type (an f16 weight
/// gets the dequantized values rounded to f16, as the QDQ writer's Cast does).
pub(crate) fn set_float_values(t: &mut TensorProto, values: &[f32]) {
    let dt = DataType::try_from(t.data_type()).unwrap_or(DataType::Float);
    let raw: Vec<u8> = match dt {
        DataType::Float16 => values
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect(),
        DataType::Bfloat16 => values
            .iter()
            .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
            .collect(),
        DataType::Double => values
            .iter()
            .flat_map(|&v| (v as f64).to_le_bytes())
            .collect(),
        _ => values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
    };
    t.float_data.clear();
    t.int32_data.clear();
    t.double_data.clear();
    t.raw_data = Some(raw);
}

pub(crate) fn tensor_dims(t: &TensorProto) -> Vec<usize> {
    t.dims.iter().map(|&d| d.max(0) as usize).collect()
}

/// The tensor a top-level Constant node holds in its `value` attribute.
fn constant_tensor(n: &mut NodeProto) -> Option<&mut TensorProto> {
    if n.op_type() != "Constant" || !n.domain().is_empty() {
        return None;
    }
    n.attribute
        .iter_mut()
        .find(|a| a.name() == "value")
        .and_then(|a| a.t.as_mut())
}

/// Every float constant of the top-level graph (initializers and Constant nodes), by
/// value name.
pub(crate) fn constants(g: &GraphProto) -> HashMap<String, &TensorProto> {
    let mut out: HashMap<String, &TensorProto> = HashMap::new();
    for t in &g.initializer {
        out.insert(t.name().to_string(), t);
    }
    for n in &g.node {
        if n.op_type() == "Constant" && n.domain().is_empty() {
            if let (Some(o), Some(t)) = (
                n.output.first(),
                n.attribute
                    .iter()
                    .find(|a| a.name() == "value")
                    .and_then(|a| a.t.as_ref()),
            ) {
                out.insert(o.clone(), t);
            }
        }
    }
    out
}

/// Replaces the values of the named top-level constants.
pub(crate) fn replace_constants(g: &mut GraphProto, values: &HashMap<String, Vec<f32>>) {
    for t in &mut g.initializer {
        if let Some(v) = values.get(t.name()) {
            set_float_values(t, v);
        }
    }
    for n in &mut g.node {
        let Some(out) = n.output.first().cloned() else {
            continue;
        };
        if let Some(v) = values.get(&out) {
            if let Some(t) = constant_tensor(n) {
                set_float_values(t, v);
            }
        }
    }
}

fn value_info(name: &str) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.to_string()),
        ..Default::default()
    }
}

/// Makes the graph's outputs exactly `names` (values of the top-level graph).
pub(crate) fn set_outputs(g: &mut GraphProto, names: &[String]) {
    let declared: HashMap<String, ValueInfoProto> = g
        .output
        .iter()
        .map(|v| (v.name().to_string(), v.clone()))
        .collect();
    g.output = names
        .iter()
        .map(|n| declared.get(n).cloned().unwrap_or_else(|| value_info(n)))
        .collect();
}

/// Top-level nodes with every value in the graph's `needed` set computed: the nodes
/// `targets` depend on (for evaluating an If's condition alone).
pub(crate) fn slice_for(m: &ModelProto, targets: &[String]) -> Result<ModelProto> {
    let g = graph(m)?;
    let producer: HashMap<&str, usize> = g
        .node
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.output.iter().map(move |o| (o.as_str(), i)))
        .collect();
    let mut keep = vec![false; g.node.len()];
    let mut stack: Vec<&str> = targets.iter().map(String::as_str).collect();
    let mut seen: HashSet<&str> = HashSet::new();
    while let Some(v) = stack.pop() {
        if !seen.insert(v) {
            continue;
        }
        if let Some(&i) = producer.get(v) {
            if !keep[i] {
                keep[i] = true;
                let n = &g.node[i];
                stack.extend(n.input.iter().filter(|s| !s.is_empty()).map(String::as_str));
                for a in &n.attribute {
                    for sg in a.g.iter().chain(a.graphs.iter()) {
                        let mut outer = Vec::new();
                        outer_refs(sg, &mut outer);
                        for o in outer {
                            if let Some(s) = producer.get_key_value(o.as_str()) {
                                stack.push(s.0);
                            }
                        }
                    }
                }
            }
        }
    }
    let mut out = m.clone();
    let og = graph_mut(&mut out)?;
    let nodes = std::mem::take(&mut og.node);
    og.node = nodes
        .into_iter()
        .zip(keep)
        .filter_map(|(n, k)| k.then_some(n))
        .collect();
    let used: HashSet<String> = og
        .node
        .iter()
        .flat_map(|n| n.input.iter().cloned())
        .chain(targets.iter().cloned())
        .collect();
    og.input.retain(|v| used.contains(v.name()));
    set_outputs(og, targets);
    Ok(out)
}

/// Names a subgraph reads from outside itself.
fn outer_refs(g: &GraphProto, out: &mut Vec<String>) {
    let mut local: HashSet<&str> = g.initializer.iter().map(|t| t.name()).collect();
    local.extend(g.input.iter().map(|v| v.name()));
    for n in &g.node {
        for i in n.input.iter().filter(|s| !s.is_empty()) {
            if !local.contains(i.as_str()) {
                out.push(i.clone());
            }
        }
        for a in &n.attribute {
            for sg in a.g.iter().chain(a.graphs.iter()) {
                outer_refs(sg, out);
            }
        }
        local.extend(n.output.iter().map(String::as_str));
    }
}

/// Replaces the top-level If node `index` by the nodes of its `then` (`cond` true) or
/// `else` branch: the branch's outputs are renamed to the If's outputs, its initializers
/// join the graph's.
pub(crate) fn inline_if(g: &mut GraphProto, index: usize, cond: bool) -> Result<()> {
    let node = g.node[index].clone();
    let want = if cond { "then_branch" } else { "else_branch" };
    let branch = node
        .attribute
        .iter()
        .find(|a| a.name() == want)
        .and_then(|a| a.g.as_ref())
        .ok_or_else(|| Error::Graph(format!("If node `{}` has no {want}", node.name())))?
        .clone();
    if branch.output.len() != node.output.len() {
        return Err(Error::Graph(format!(
            "If node `{}`: {want} has {} outputs, the node {}",
            node.name(),
            branch.output.len(),
            node.output.len()
        )));
    }
    let mut rename: HashMap<String, String> = HashMap::new();
    let produced: HashSet<&str> = branch
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(String::as_str))
        .collect();
    let mut tail = Vec::new();
    for (b, o) in branch.output.iter().zip(&node.output) {
        if o.is_empty() {
            continue;
        }
        if produced.contains(b.name()) && !rename.contains_key(b.name()) {
            rename.insert(b.name().to_string(), o.clone());
        } else {
            // An outer or repeated value passed straight through.
            tail.push(NodeProto {
                name: Some(format!("{}/{}", node_name(&node, index), o)),
                op_type: Some("Identity".into()),
                input: vec![rename
                    .get(b.name())
                    .cloned()
                    .unwrap_or_else(|| b.name().to_string())],
                output: vec![o.clone()],
                ..Default::default()
            });
        }
    }
    let prefix = format!("{}/{want}/", node_name(&node, index));
    let mut nodes: Vec<NodeProto> = branch
        .node
        .into_iter()
        .enumerate()
        .map(|(i, mut n)| {
            n.name = Some(format!("{prefix}{}", node_name(&n, i)));
            for s in n.input.iter_mut().chain(n.output.iter_mut()) {
                if let Some(r) = rename.get(s) {
                    *s = r.clone();
                }
            }
            rename_in_subgraphs(&mut n.attribute, &rename);
            n
        })
        .collect();
    nodes.extend(tail);
    g.initializer.extend(branch.initializer);
    g.node.splice(index..=index, nodes);
    Ok(())
}

fn rename_in_subgraphs(attrs: &mut [AttributeProto], rename: &HashMap<String, String>) {
    for a in attrs {
        for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
            for n in &mut sg.node {
                for s in n.input.iter_mut() {
                    if let Some(r) = rename.get(s) {
                        *s = r.clone();
                    }
                }
                rename_in_subgraphs(&mut n.attribute, rename);
            }
        }
    }
}

pub(crate) fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

pub(crate) fn scalar_f32(name: String, v: f32) -> TensorProto {
    TensorProto {
        name: Some(name),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(v.to_le_bytes().to_vec()),
        ..Default::default()
    }
}

pub(crate) fn scalar_int(name: String, v: i32, elem: DataType) -> TensorProto {
    let raw = match elem {
        DataType::Uint8 => vec![v as u8],
        _ => vec![v as i8 as u8],
    };
    TensorProto {
        name: Some(name),
        data_type: Some(elem as i32),
        raw_data: Some(raw),
        ..Default::default()
    }
}

pub(crate) fn encode(m: &ModelProto) -> Vec<u8> {
    m.encode_to_vec()
}

pub(crate) fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

/// A float tensor value; an empty `shape` leaves the shape to the engine.
pub(crate) fn value_info_f32(name: &str, shape: &[usize]) -> ValueInfoProto {
    use crate::formats::generated::onnx::{tensor_shape_proto, TensorShapeProto};
    let shape = (!shape.is_empty()).then(|| TensorShapeProto {
        dim: shape
            .iter()
            .map(|&d| tensor_shape_proto::Dimension {
                value: Some(tensor_shape_proto::dimension::Value::DimValue(d as i64)),
                ..Default::default()
            })
            .collect(),
    });
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
