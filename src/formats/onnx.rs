//! ONNX models: initializers and Constant-node weights (also inside If/Loop/Scan
//! subgraphs), external data files, and a summary of the graph. Decoding is prost's, with
//! types generated from onnx.proto (src/formats/generated/onnx.rs).

use std::collections::{BTreeMap, HashMap, HashSet};

use half::{bf16, f16};
use prost::Message;

use super::decode::decode;
use super::generated::onnx::{
    tensor_proto::DataLocation, tensor_proto::DataType, AttributeProto, GraphProto, ModelProto,
    TensorProto,
};
use super::index::{base_name, checked_numel};
use super::model::{Format, GraphSummary, Model, NodeRef};
use super::source::{ByteSource, InMemory};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// ModelProto field numbers, to tell a serialized model from other bytes: protobuf has
/// no magic number, but every exporter writes `ir_version` (field 1) first.
const MODEL_FIELDS: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 21, 25];

pub fn looks_like(bytes: &[u8]) -> bool {
    let Some((ir_version, n)) = varint(bytes.get(1..).unwrap_or_default()) else {
        return false;
    };
    let Some((tag, _)) = varint(bytes.get(1 + n..).unwrap_or_default()) else {
        return false;
    };
    bytes[0] == 0x08
        && (1..=64).contains(&ir_version)
        && MODEL_FIELDS.contains(&(tag >> 3))
        && matches!(tag & 7, 0 | 2)
}

fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().take(10).enumerate() {
        v |= ((byte & 0x7f) as u64) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Reads a model; `external` are the other files given with it, by file name, where
/// tensors stored outside the model are looked up (by the last component of their
/// `location`).
pub fn read(bytes: &[u8], external: &[(&str, &[u8])]) -> Result<Model> {
    let sources: Vec<InMemory<&[u8]>> = external.iter().map(|(_, b)| InMemory(*b)).collect();
    let files: Vec<(&str, &dyn ByteSource)> = external
        .iter()
        .zip(&sources)
        .map(|((n, _), s)| (*n, s as &dyn ByteSource))
        .collect();
    Ok(read_with(bytes, &files, false)?.0)
}

/// Where a tensor kept in an external data file lies: which of the files given, and the
/// byte range there.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExternalRange {
    pub file: usize,
    pub offset: u64,
    pub length: u64,
}

/// Reads a model whose external data files are `external` (file name, source). With
/// `defer`, tensors kept in external files are not read: they come back with empty
/// `data`, and the map says where each one's bytes are (by the tensor's name in the
/// model), for reading them one at a time later ([`super::lazy`]).
pub(crate) fn read_with(
    bytes: &[u8],
    external: &[(&str, &dyn ByteSource)],
    defer: bool,
) -> Result<(Model, HashMap<String, ExternalRange>)> {
    let model = ModelProto::decode(bytes).map_err(|e| Error::OnnxDecode(e.to_string()))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))?;
    let budget = external
        .iter()
        .fold(bytes.len() as u64, |n, (_, s)| n.saturating_add(s.len()));
    let mut r = Reader {
        external,
        defer,
        deferred: HashMap::new(),
        budget: usize::try_from(budget).unwrap_or(usize::MAX),
        tensors: Vec::new(),
        names: HashSet::new(),
        skipped: Vec::new(),
        summary: GraphSummary::default(),
        consumers: Vec::new(),
    };
    r.graph(graph, "")?;
    // Which weight feeds which node: only names that turned out to be weights count.
    for (input, node) in std::mem::take(&mut r.consumers) {
        if r.names.contains(&input) {
            r.summary
                .weight_consumers
                .entry(input)
                .or_default()
                .push(node);
        }
    }
    for op in &model.opset_import {
        r.summary
            .opsets
            .insert(op.domain().to_string(), op.version());
    }
    let mut metadata = BTreeMap::new();
    metadata.insert("ir_version".into(), model.ir_version().to_string());
    for (k, v) in [
        ("producer_name", model.producer_name()),
        ("producer_version", model.producer_version()),
        ("domain", model.domain()),
        ("doc_string", model.doc_string()),
        ("graph_name", graph.name()),
    ] {
        if !v.is_empty() {
            metadata.insert(k.into(), v.to_string());
        }
    }
    for p in &model.metadata_props {
        metadata.insert(p.key().to_string(), p.value().to_string());
    }
    if !r.skipped.is_empty() {
        metadata.insert("skipped_tensors".into(), r.skipped.join(", "));
    }
    let mut tensors = r.tensors;
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    let model = Model {
        format: Format::Onnx,
        tensors,
        metadata,
        graph: Some(r.summary),
        quantization: BTreeMap::new(),
    };
    Ok((model, r.deferred))
}

struct Reader<'a> {
    external: &'a [(&'a str, &'a dyn ByteSource)],
    /// Leave external tensors unread, noting where they are (see [`read_with`]).
    defer: bool,
    deferred: HashMap<String, ExternalRange>,
    /// Bytes of all input files: no tensor may claim more.
    budget: usize,
    tensors: Vec<Tensor>,
    names: HashSet<String>,
    /// Non-numeric tensors (strings, complex, sparse), listed in the metadata.
    skipped: Vec<String>,
    summary: GraphSummary,
    /// (input name, node) for every node input; filtered to weights at the end.
    consumers: Vec<(String, NodeRef)>,
}

impl<'a> Reader<'a> {
    fn graph(&mut self, g: &GraphProto, path: &str) -> Result<()> {
        for t in &g.initializer {
            self.tensor(t, t.name(), path)?;
        }
        for s in &g.sparse_initializer {
            let name = s.values.as_ref().map(|v| v.name()).unwrap_or_default();
            self.skipped.push(format!("{name} (sparse)"));
        }
        for (i, node) in g.node.iter().enumerate() {
            self.summary.node_count += 1;
            *self
                .summary
                .op_types
                .entry(node.op_type().to_string())
                .or_default() += 1;
            let node_name = if node.name().is_empty() {
                format!("{path}{}#{i}", node.op_type())
            } else {
                format!("{path}{}", node.name())
            };
            let node_ref = NodeRef {
                node: node_name.clone(),
                op_type: node.op_type().to_string(),
            };
            for input in node.input.iter().filter(|i| !i.is_empty()) {
                self.consumers.push((input.clone(), node_ref.clone()));
            }
            if node.op_type() == "Constant" && node.domain().is_empty() {
                if let Some(out) = node.output.first() {
                    self.constant(&node.attribute, out, path)?;
                }
            }
            for a in &node.attribute {
                let sub = format!("{node_name}/{}/", a.name());
                if let Some(g) = &a.g {
                    self.summary.subgraph_count += 1;
                    self.graph(g, &sub)?;
                }
                for (j, g) in a.graphs.iter().enumerate() {
                    self.summary.subgraph_count += 1;
                    self.graph(g, &format!("{sub}{j}/"))?;
                }
            }
        }
        Ok(())
    }

    /// A Constant node's value, from whichever `value*` attribute it has.
    fn constant(&mut self, attrs: &[AttributeProto], output: &str, path: &str) -> Result<()> {
        for a in attrs {
            let (dtype, shape, data): (DType, Vec<usize>, Vec<f32>) = match a.name() {
                "value" => match &a.t {
                    Some(t) => return self.tensor(t, output, path),
                    None => continue,
                },
                "value_float" => (DType::F32, vec![], vec![a.f()]),
                "value_floats" => (DType::F32, vec![a.floats.len()], a.floats.clone()),
                "value_int" => (DType::I64, vec![], vec![a.i() as f32]),
                "value_ints" => (
                    DType::I64,
                    vec![a.ints.len()],
                    a.ints.iter().map(|&v| v as f32).collect(),
                ),
                "sparse_value" | "value_string" | "value_strings" => {
                    self.skipped.push(format!("{output} ({})", a.name()));
                    return Ok(());
                }
                _ => continue,
            };
            return self
                .push(
                    Tensor {
                        name: output.to_string(),
                        shape,
                        dtype,
                        data,
                    },
                    path,
                )
                .map(drop);
        }
        Ok(())
    }

    /// Adds a weight; returns the name it is listed under (a subgraph's weight whose name
    /// is taken gets its path in front).
    fn push(&mut self, mut t: Tensor, path: &str) -> Result<String> {
        if t.name.is_empty() {
            return Err(Error::OnnxTensor {
                name: format!("{path}(unnamed)"),
                reason: "a weight without a name".into(),
            });
        }
        // Names are unique in a well-formed model; a subgraph reusing one gets its path.
        if self.names.contains(&t.name) {
            t.name = format!("{path}{}", t.name);
            if self.names.contains(&t.name) {
                return Err(Error::OnnxTensor {
                    name: t.name,
                    reason: "two weights have this name".into(),
                });
            }
        }
        self.names.insert(t.name.clone());
        let name = t.name.clone();
        self.tensors.push(t);
        Ok(name)
    }

    fn tensor(&mut self, t: &TensorProto, name: &str, path: &str) -> Result<()> {
        let err = |reason: String| Error::OnnxTensor {
            name: name.to_string(),
            reason,
        };
        let Ok(onnx_type) = DataType::try_from(t.data_type()) else {
            return Err(err(format!("unknown data_type {}", t.data_type())));
        };
        let Some(dtype) = map_dtype(onnx_type) else {
            self.skipped
                .push(format!("{name} ({})", onnx_type.as_str_name()));
            return Ok(());
        };
        let dims: Vec<u64> = t
            .dims
            .iter()
            .map(|&d| {
                u64::try_from(d)
                    .map_err(|_| err(format!("negative dimension {d} in dims {:?}", t.dims)))
            })
            .collect::<Result<_>>()?;
        // An external tensor is measured against its file, which must be found first:
        // a lone .onnx whose data file was not given says so (and the CLI then looks
        // beside it) rather than that its shapes exceed the .onnx file's size.
        let external = if t.data_location() == DataLocation::External {
            Some(self.external_range(t, name)?)
        } else {
            None
        };
        let numel = checked_numel(name, &dims, dtype.size(), self.budget)?;
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        let need = numel * dtype.size();
        let mut deferred = None;
        let data = if let Some(range) = external {
            if range.length != need as u64 {
                return Err(err(format!(
                    "external data holds {} bytes, dims {shape:?} of {} need {need}",
                    range.length,
                    onnx_type.as_str_name()
                )));
            }
            if self.defer {
                deferred = Some(range);
                Vec::new()
            } else {
                let raw = self.external[range.file]
                    .1
                    .read_at(range.offset, range.length as usize)?;
                decode(&raw, dtype)
            }
        } else if let Some(raw) = &t.raw_data {
            if raw.len() != need {
                return Err(err(format!(
                    "raw_data holds {} bytes, dims {shape:?} of {} need {need}",
                    raw.len(),
                    onnx_type.as_str_name()
                )));
            }
            decode(raw, dtype)
        } else {
            typed_field(t, dtype, numel).map_err(err)?
        };
        let listed = self.push(
            Tensor {
                name: name.to_string(),
                shape,
                dtype,
                data,
            },
            path,
        )?;
        if let Some(range) = deferred {
            self.deferred.insert(listed, range);
        }
        Ok(())
    }

    fn external_range(&self, t: &TensorProto, name: &str) -> Result<ExternalRange> {
        let lens: Vec<(&str, u64)> = self.external.iter().map(|(n, s)| (*n, s.len())).collect();
        external_range(t, name, &lens)
    }
}

/// The bytes of an external-data tensor among the files given, for the ONNX writer,
/// which inlines them.
pub(crate) fn external_bytes(
    t: &TensorProto,
    name: &str,
    external: &[(&str, &dyn ByteSource)],
) -> Result<Vec<u8>> {
    let lens: Vec<(&str, u64)> = external.iter().map(|(n, s)| (*n, s.len())).collect();
    let r = external_range(t, name, &lens)?;
    let len = usize::try_from(r.length).map_err(|_| Error::OnnxTensor {
        name: name.to_string(),
        reason: format!("{} bytes of external data do not fit in memory", r.length),
    })?;
    Ok(external[r.file].1.read_at(r.offset, len)?.into_owned())
}

/// Where an external-data tensor's bytes are among the files given (name, size),
/// matched by file name only, checked against its `offset` and `length`.
pub(crate) fn external_range(
    t: &TensorProto,
    name: &str,
    external: &[(&str, u64)],
) -> Result<ExternalRange> {
    let mut location = None;
    let (mut offset, mut length) = (0u64, None);
    for kv in &t.external_data {
        let bad = |what: &str| Error::OnnxTensor {
            name: name.to_string(),
            reason: format!("external_data {what} `{}` is not a number", kv.value()),
        };
        match kv.key() {
            "location" => location = Some(kv.value()),
            "offset" => offset = kv.value().parse().map_err(|_| bad("offset"))?,
            "length" => length = Some(kv.value().parse().map_err(|_| bad("length"))?),
            _ => {}
        }
    }
    let location = location.ok_or_else(|| Error::OnnxTensor {
        name: name.to_string(),
        reason: "data_location is EXTERNAL but external_data has no `location`".into(),
    })?;
    // Only the file name counts: the core never touches a file system, and a
    // location with `..` in it must not reach anything but the files given.
    let file = base_name(location);
    let (index, &(_, file_len)) = external
        .iter()
        .enumerate()
        .find(|(_, (n, _))| base_name(n) == file)
        .ok_or_else(|| Error::MissingExternalData {
            name: name.to_string(),
            location: location.to_string(),
        })?;
    let range_err = |length: u64| Error::ExternalDataRange {
        name: name.to_string(),
        location: location.to_string(),
        offset,
        length,
        file_len: file_len as usize,
    };
    let length = length.unwrap_or_else(|| file_len.saturating_sub(offset));
    offset
        .checked_add(length)
        .filter(|&e| e <= file_len)
        .ok_or_else(|| range_err(length))?;
    Ok(ExternalRange {
        file: index,
        offset,
        length,
    })
}

/// The numeric ONNX types quantscope reads; others are listed as skipped.
fn map_dtype(t: DataType) -> Option<DType> {
    Some(match t {
        DataType::Float => DType::F32,
        DataType::Double => DType::F64,
        DataType::Float16 => DType::F16,
        DataType::Bfloat16 => DType::BF16,
        DataType::Int64 => DType::I64,
        DataType::Int32 => DType::I32,
        DataType::Int16 => DType::I16,
        DataType::Int8 => DType::I8,
        DataType::Uint64 => DType::U64,
        DataType::Uint32 => DType::U32,
        DataType::Uint16 => DType::U16,
        DataType::Uint8 => DType::U8,
        DataType::Bool => DType::Bool,
        DataType::Float8e4m3fn => DType::F8E4M3,
        DataType::Float8e5m2 => DType::F8E5M2,
        _ => return None,
    })
}

/// Values kept in the typed repeated fields, as onnx.proto assigns them: float_data for
/// FLOAT; int32_data for the narrow types (FLOAT16/BFLOAT16/FLOAT8 as their bit
/// patterns); int64_data; uint64_data for UINT32/UINT64; double_data.
fn typed_field(
    t: &TensorProto,
    dtype: DType,
    numel: usize,
) -> std::result::Result<Vec<f32>, String> {
    let count = |field: &str, n: usize| {
        if n == numel {
            Ok(())
        } else {
            Err(format!(
                "{field} holds {n} values, dims {:?} need {numel}",
                t.dims
            ))
        }
    };
    Ok(match dtype {
        DType::F32 => {
            count("float_data", t.float_data.len())?;
            t.float_data.clone()
        }
        DType::F64 => {
            count("double_data", t.double_data.len())?;
            t.double_data.iter().map(|&v| v as f32).collect()
        }
        DType::I64 => {
            count("int64_data", t.int64_data.len())?;
            t.int64_data.iter().map(|&v| v as f32).collect()
        }
        DType::U32 | DType::U64 => {
            count("uint64_data", t.uint64_data.len())?;
            t.uint64_data.iter().map(|&v| v as f32).collect()
        }
        _ => {
            count("int32_data", t.int32_data.len())?;
            let bits = |v: i32| v as u32;
            t.int32_data
                .iter()
                .map(|&v| match dtype {
                    DType::F16 => f16::from_bits(bits(v) as u16).to_f32(),
                    DType::BF16 => bf16::from_bits(bits(v) as u16).to_f32(),
                    DType::F8E4M3 => super::decode::f8_e4m3_to_f32(bits(v) as u8),
                    DType::F8E5M2 => super::decode::f8_e5m2_to_f32(bits(v) as u8),
                    _ => v as f32,
                })
                .collect()
        }
    })
}
