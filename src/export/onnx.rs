//! ONNX writer: the original model with each float weight replaced, as
//! onnxruntime.quantization writes QDQ weights, by
//!
//! ```text
//! W_quantized (INT8/UINT8, INT4/UINT4 or INT16/UINT16 codes, W's dims)
//! W_scale (FLOAT), W_zero_point (the codes' type)  ──►  DequantizeLinear ──► W
//! ```
//!
//! The DequantizeLinear node outputs the weight's original name, so every consumer is
//! unchanged. Per tensor: scalar scale and zero point (opset 10); per channel: 1-D ones
//! and the `axis` attribute (opset 13); per group: ONNX's blocked layout (the weight's
//! shape with the group axis replaced by the group count) with `axis` and `block_size`
//! (opset 21). 2- and 3-bit codes are stored in INT4/UINT4 and 5- to 7-bit codes in
//! INT8/UINT8 (ONNX has no narrower integer types that ONNX Runtime runs); the values
//! are the scheme's own. A FLOAT16, BFLOAT16 or DOUBLE weight is dequantized in float32
//! and cast back with a Cast node. 1-D tensors, integer tensors and FP8 tensors stay as
//! they were. Decoding and encoding are prost's, with the types generated from
//! onnx.proto (src/formats/generated/onnx.rs).
//!
//! The default-domain opset is raised to what the nodes need, unless the graph uses an
//! operator whose inputs or attributes changed between the two versions (then the writer
//! refuses and says which); the IR version is raised to the one that opset needs.
//! Tensors kept in external data files are written inline: the output is one file.

use std::collections::{HashMap, HashSet};

use prost::Message;

use super::policy::{Assign, Pick};
use super::report::{ExportFormat, ExportReport, Exported, ExportedTensor};
use super::rules::{keep_reason, linear_for};
use crate::analysis::summary_of;
use crate::error::{Error, Result};
use crate::formats::generated::onnx::{
    attribute_proto::AttributeType, tensor_proto::DataLocation, tensor_proto::DataType,
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
};
use crate::formats::source::ByteSource;
use crate::formats::{OnnxSource, TensorStore};
use crate::quant::{pack, Granularity, LinearScheme, QuantizedLinear, Scheme};
use crate::tensor::TensorInfo;

fn err(reason: String) -> Error {
    Error::Export {
        format: "ONNX",
        reason,
    }
}

/// Operators whose inputs or attributes changed incompatibly at a default-domain opset
/// version (from ONNX's Changelog.md): a model using one of them cannot simply have its
/// opset import raised past that version.
const BREAKING: &[(&str, i64)] = &[
    ("Scan", 9),
    ("Upsample", 10),
    ("Slice", 10),
    ("TopK", 10),
    ("Clip", 11),
    ("Pad", 11),
    ("Resize", 11),
    ("Scatter", 11),
    ("Dropout", 12),
    ("Split", 13),
    ("Squeeze", 13),
    ("Unsqueeze", 13),
    ("ReduceSum", 13),
    ("Softmax", 13),
    ("LogSoftmax", 13),
    ("Hardmax", 13),
    ("ReduceMean", 18),
    ("ReduceMax", 18),
    ("ReduceMin", 18),
    ("ReduceProd", 18),
    ("ReduceL1", 18),
    ("ReduceL2", 18),
    ("ReduceLogSum", 18),
    ("ReduceLogSumExp", 18),
    ("ReduceSumSquare", 18),
    ("DFT", 20),
    ("GridSample", 20),
];

/// The lowest IR version a default-domain opset needs (onnx.helper's VERSION_TABLE).
fn min_ir_version(opset: i64) -> i64 {
    match opset {
        ..=8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        12..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        21..=22 => 10,
        _ => 11,
    }
}

/// The ONNX type the codes of a scheme are stored in, and the opset its
/// DequantizeLinear needs.
#[derive(Clone, Copy, Debug)]
struct Container {
    elem: DataType,
    bits: u8,
    opset: i64,
}

fn container(l: &LinearScheme) -> Container {
    let (elem, bits, mut opset) = match (l.bits, l.signed) {
        (2..=4, true) => (DataType::Int4, 4, 21),
        (2..=4, false) => (DataType::Uint4, 4, 21),
        (16, true) => (DataType::Int16, 16, 21),
        (16, false) => (DataType::Uint16, 16, 21),
        (_, true) => (DataType::Int8, 8, 10),
        (_, false) => (DataType::Uint8, 8, 10),
    };
    opset = opset.max(match l.granularity {
        Granularity::PerTensor => 10,
        Granularity::PerChannel { .. } => 13,
        Granularity::PerGroup { .. } => 21,
    });
    Container { elem, bits, opset }
}

/// The types the reader decodes (formats/onnx.rs `map_dtype`); others it skips, and
/// they take no name in the model's tensor list.
fn is_read(t: DataType) -> bool {
    matches!(
        t,
        DataType::Float
            | DataType::Double
            | DataType::Float16
            | DataType::Bfloat16
            | DataType::Int64
            | DataType::Int32
            | DataType::Int16
            | DataType::Int8
            | DataType::Uint64
            | DataType::Uint32
            | DataType::Uint16
            | DataType::Uint8
            | DataType::Bool
            | DataType::Float8e4m3fn
            | DataType::Float8e5m2
    )
}

fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

fn tensor_proto(name: String, dims: Vec<i64>, elem: DataType, raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: Some(name),
        dims,
        data_type: Some(elem as i32),
        raw_data: Some(raw),
        ..Default::default()
    }
}

/// Every name a model uses (values, initializers, nodes), in every graph.
fn collect_names(g: &GraphProto, out: &mut HashSet<String>) {
    out.extend(g.initializer.iter().map(|t| t.name().to_string()));
    out.extend(g.input.iter().map(|v| v.name().to_string()));
    out.extend(g.output.iter().map(|v| v.name().to_string()));
    out.extend(g.value_info.iter().map(|v| v.name().to_string()));
    for n in &g.node {
        out.insert(n.name().to_string());
        out.extend(n.input.iter().cloned());
        out.extend(n.output.iter().cloned());
        for a in &n.attribute {
            if let Some(sg) = &a.g {
                collect_names(sg, out);
            }
            for sg in &a.graphs {
                collect_names(sg, out);
            }
        }
    }
}

/// Default-domain operator types used anywhere in the graph.
fn collect_ops(g: &GraphProto, out: &mut HashSet<String>) {
    for n in &g.node {
        if n.domain().is_empty() || n.domain() == "ai.onnx" {
            out.insert(n.op_type().to_string());
        }
        for a in &n.attribute {
            if let Some(sg) = &a.g {
                collect_ops(sg, out);
            }
            for sg in &a.graphs {
                collect_ops(sg, out);
            }
        }
    }
}

/// Which weights the writer quantizes: None for a weight to quantize, else why it stays
/// float (by the name the reader lists it under).
pub type Select<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// A rewritten weight: the initializers and nodes that stand for it.
struct Rewrite {
    inits: Vec<TensorProto>,
    nodes: Vec<NodeProto>,
}

struct Ctx<'a, S: ?Sized> {
    store: &'a S,
    assign: Assign<'a>,
    /// The highest opset the quantized weights' DequantizeLinear nodes need so far.
    need: i64,
    external: &'a [(&'a str, &'a dyn ByteSource)],
    listing: HashMap<String, TensorInfo>,
    /// Every name in the model, and every name this writer added.
    names: HashSet<String>,
    /// Tensor names as the reader gave them so far (it prefixes a subgraph's name that
    /// repeats one already seen with the subgraph's path).
    seen: HashSet<String>,
    report: Vec<ExportedTensor>,
    needs_bf16_cast: bool,
    /// Which weights to quantize (by the name the reader lists them under), and why the
    /// others stay float; None quantizes every float weight.
    select: Option<&'a Select<'a>>,
}

impl<S: TensorStore + ?Sized> Ctx<'_, S> {
    fn fresh(&mut self, base: String) -> String {
        if self.names.insert(base.clone()) {
            return base;
        }
        let name = (1..)
            .map(|i| format!("{base}_{i}"))
            .find(|n| !self.names.contains(n))
            .unwrap_or_default();
        self.names.insert(name.clone());
        name
    }

    fn store_name(&mut self, name: &str, path: &str) -> String {
        let n = if self.seen.contains(name) {
            format!("{path}{name}")
        } else {
            name.to_string()
        };
        self.seen.insert(n.clone());
        n
    }

    fn graph(&mut self, g: &mut GraphProto, path: &str) -> Result<()> {
        let mut inits = Vec::with_capacity(g.initializer.len());
        let mut first_nodes = Vec::new();
        let mut replaced = HashSet::new();
        for t in std::mem::take(&mut g.initializer) {
            let name = t.name().to_string();
            match self.tensor(&t, &name, path)? {
                Some(r) => {
                    inits.extend(r.inits);
                    first_nodes.extend(r.nodes);
                    replaced.insert(name);
                }
                None => inits.push(t),
            }
        }
        let mut nodes = Vec::with_capacity(g.node.len() + first_nodes.len());
        for (i, mut node) in std::mem::take(&mut g.node).into_iter().enumerate() {
            let node_name = if node.name().is_empty() {
                format!("{path}{}#{i}", node.op_type())
            } else {
                format!("{path}{}", node.name())
            };
            if node.op_type() == "Constant" && node.domain().is_empty() {
                if let Some(out) = node.output.first().cloned() {
                    if let Some(r) = self.constant(&node, &out, path)? {
                        inits.extend(r.inits);
                        nodes.extend(r.nodes);
                        continue;
                    }
                }
            }
            for a in &mut node.attribute {
                let sub = format!("{node_name}/{}/", a.name());
                if let Some(sg) = &mut a.g {
                    self.graph(sg, &sub)?;
                }
                for (j, sg) in a.graphs.iter_mut().enumerate() {
                    self.graph(sg, &format!("{sub}{j}/"))?;
                }
            }
            nodes.push(node);
        }
        first_nodes.extend(nodes);
        g.node = first_nodes;
        g.initializer = inits;
        // Models of IR < 4 list initializers among the graph inputs; a weight now made
        // by a node is no longer an input.
        g.input.retain(|v| !replaced.contains(v.name()));
        Ok(())
    }

    /// A Constant node's tensor, named as the reader names it; a rewrite replaces the node.
    fn constant(&mut self, node: &NodeProto, output: &str, path: &str) -> Result<Option<Rewrite>> {
        for a in &node.attribute {
            match a.name() {
                "value" => match &a.t {
                    Some(t) => return self.tensor(t, output, path),
                    None => continue,
                },
                "value_float" | "value_floats" | "value_int" | "value_ints" => {
                    let n = self.store_name(output, path);
                    let info = self.listed(&n)?;
                    self.report.push(ExportedTensor::kept(
                        &info,
                        "Constant node, unchanged",
                        keep_reason(&info).unwrap_or_else(|| "a Constant's value list".into()),
                    ));
                    return Ok(None);
                }
                "sparse_value" | "value_string" | "value_strings" => return Ok(None),
                _ => continue,
            }
        }
        Ok(None)
    }

    fn listed(&self, name: &str) -> Result<TensorInfo> {
        self.listing.get(name).cloned().ok_or_else(|| {
            err(format!(
                "tensor `{name}` is in the ONNX file but not in the opened model's tensor list; export from the model opened from this same file"
            ))
        })
    }

    fn tensor(&mut self, t: &TensorProto, name: &str, path: &str) -> Result<Option<Rewrite>> {
        let Ok(dt) = DataType::try_from(t.data_type()) else {
            return Ok(None);
        };
        if !is_read(dt) {
            return Ok(None);
        }
        let store_name = self.store_name(name, path);
        let info = self.listed(&store_name)?;
        let dims: Vec<i64> = info.shape.iter().map(|&d| d as i64).collect();
        if dims != t.dims {
            return Err(err(format!(
                "tensor `{store_name}` has dims {:?} in the file but {:?} in the opened model",
                t.dims, info.shape
            )));
        }
        let pick = self.assign.pick(&store_name);
        let why = keep_reason(&info)
            .or_else(|| self.select.and_then(|f| f(&store_name)))
            .or_else(|| match pick {
                Pick::Keep(why) => Some(why.to_string()),
                Pick::Quantize(_) => None,
            });
        let (Some(scheme), None) = (
            match pick {
                Pick::Quantize(s) => Some(s),
                Pick::Keep(_) => None,
            },
            &why,
        ) else {
            self.report.push(ExportedTensor::kept(
                &info,
                format!("{} initializer, unchanged", dt.as_str_name()),
                why.unwrap_or_default(),
            ));
            return Ok(None);
        };
        let l = linear_for(
            scheme,
            ExportFormat::Onnx,
            "QuantizeLinear/DequantizeLinear weights",
        )?;
        let w = self.store.load(&store_name)?;
        let q = l.quantize(&w)?;
        let summary = summary_of(&w, scheme, &q);
        drop(w);
        let (r, stored, note) = self.qdq(name, dt, l, &q)?;
        self.report.push(ExportedTensor {
            name: store_name,
            shape: info.shape.clone(),
            dtype: info.dtype,
            stored,
            quantized: true,
            note,
            summary: Some(summary),
        });
        Ok(Some(r))
    }

    /// Codes, scale and zero point initializers and the DequantizeLinear (plus Cast) that
    /// rebuilds the weight `name` of type `dt`.
    fn qdq(
        &mut self,
        name: &str,
        dt: DataType,
        l: &LinearScheme,
        q: &QuantizedLinear,
    ) -> Result<(Rewrite, String, Option<String>)> {
        let c = container(l);
        self.need = self.need.max(c.opset);
        let bits = l.bits;
        let codes = if bits == c.bits {
            q.packed.clone()
        } else {
            pack::pack(&q.codes(), c.bits)
        };
        let dims: Vec<i64> = q.shape.iter().map(|&d| d as i64).collect();
        let (param_dims, mut attrs, layout): (Vec<i64>, Vec<AttributeProto>, String) =
            match (l.granularity, q.axis) {
                (Granularity::PerChannel { .. }, Some(a)) => (
                    vec![dims[a]],
                    vec![attr_int("axis", a as i64)],
                    format!("{} scales along axis {a}", dims[a]),
                ),
                (Granularity::PerGroup { size, .. }, Some(a)) => {
                    let mut pd = dims.clone();
                    pd[a] = (q.shape[a].div_ceil(size)) as i64;
                    (
                        pd,
                        vec![
                            attr_int("axis", a as i64),
                            attr_int("block_size", size as i64),
                        ],
                        format!("blocks of {size} along axis {a}"),
                    )
                }
                _ => (vec![], vec![], "one scale".to_string()),
            };
        let scale: Vec<u8> = q.scales().iter().flat_map(|s| s.to_le_bytes()).collect();
        let zp = pack::pack(&q.zero_points(), c.bits);
        let qn = self.fresh(format!("{name}_quantized"));
        let sn = self.fresh(format!("{name}_scale"));
        let zn = self.fresh(format!("{name}_zero_point"));
        let inits = vec![
            tensor_proto(qn.clone(), dims, c.elem, codes),
            tensor_proto(sn.clone(), param_dims.clone(), DataType::Float, scale),
            tensor_proto(zn.clone(), param_dims, c.elem, zp),
        ];
        let cast = dt != DataType::Float;
        let dq_out = if cast {
            self.fresh(format!("{name}_dequantized"))
        } else {
            name.to_string()
        };
        let mut nodes = vec![NodeProto {
            name: Some(self.fresh(format!("{name}_DequantizeLinear"))),
            op_type: Some("DequantizeLinear".into()),
            input: vec![qn, sn, zn],
            output: vec![dq_out.clone()],
            attribute: std::mem::take(&mut attrs),
            ..Default::default()
        }];
        let mut note = None;
        if bits != c.bits {
            note = Some(format!(
                "{bits}-bit codes stored in {} (ONNX Runtime has no {bits}-bit type); values are the scheme's",
                c.elem.as_str_name()
            ));
        }
        if cast {
            if dt == DataType::Bfloat16 {
                self.needs_bf16_cast = true;
            }
            nodes.push(NodeProto {
                name: Some(self.fresh(format!("{name}_Cast"))),
                op_type: Some("Cast".into()),
                input: vec![dq_out],
                output: vec![name.to_string()],
                attribute: vec![attr_int("to", dt as i32 as i64)],
                ..Default::default()
            });
            let n = format!(
                "dequantized in FLOAT, then Cast to {} as the graph had it (one more rounding than the metrics show)",
                dt.as_str_name()
            );
            note = Some(match note {
                Some(a) => format!("{a}; {n}"),
                None => n,
            });
        }
        let stored = format!(
            "{} codes + FLOAT scale + zero point, {layout} (DequantizeLinear)",
            c.elem.as_str_name()
        );
        Ok((Rewrite { inits, nodes }, stored, note))
    }

    /// The bytes of a tensor kept in an external data file, found among the files given
    /// by the last component of its `location`.
    fn external_bytes(&self, t: &TensorProto) -> Result<Vec<u8>> {
        crate::formats::onnx::external_bytes(t, t.name(), self.external)
    }

    fn inline(&self, t: &mut TensorProto) -> Result<()> {
        if t.data_location() == DataLocation::External {
            t.raw_data = Some(self.external_bytes(t)?);
            t.external_data.clear();
            t.data_location = None;
        }
        Ok(())
    }

    /// Moves every tensor still kept in an external file into the model.
    fn inline_graph(&self, g: &mut GraphProto) -> Result<()> {
        for t in &mut g.initializer {
            self.inline(t)?;
        }
        for s in &mut g.sparse_initializer {
            for t in s.values.iter_mut().chain(s.indices.iter_mut()) {
                self.inline(t)?;
            }
        }
        for n in &mut g.node {
            for a in &mut n.attribute {
                for t in a.t.iter_mut().chain(a.tensors.iter_mut()) {
                    self.inline(t)?;
                }
                for s in a
                    .sparse_tensor
                    .iter_mut()
                    .chain(a.sparse_tensors.iter_mut())
                {
                    for t in s.values.iter_mut().chain(s.indices.iter_mut()) {
                        self.inline(t)?;
                    }
                }
                for sg in a.g.iter_mut().chain(a.graphs.iter_mut()) {
                    self.inline_graph(sg)?;
                }
            }
        }
        Ok(())
    }
}

fn is_default_domain(d: &str) -> bool {
    d.is_empty() || d == "ai.onnx"
}

/// Names of the external data files an ONNX model refers to (by `location`, as written),
/// so that a caller with a file system can find them beside the model.
pub fn external_locations(model: &[u8]) -> Result<Vec<String>> {
    fn walk(g: &GraphProto, out: &mut Vec<String>) {
        let mut add = |t: &TensorProto| {
            if t.data_location() == DataLocation::External {
                for kv in &t.external_data {
                    if kv.key() == "location" && !out.iter().any(|o| o == kv.value()) {
                        out.push(kv.value().to_string());
                    }
                }
            }
        };
        for t in &g.initializer {
            add(t);
        }
        for n in &g.node {
            for a in &n.attribute {
                for t in a.t.iter().chain(a.tensors.iter()) {
                    add(t);
                }
            }
        }
        for n in &g.node {
            for a in &n.attribute {
                for sg in a.g.iter().chain(a.graphs.iter()) {
                    walk(sg, out);
                }
            }
        }
    }
    let m = ModelProto::decode(model).map_err(|e| Error::OnnxDecode(e.to_string()))?;
    let mut out = Vec::new();
    if let Some(g) = &m.graph {
        walk(g, &mut out);
    }
    Ok(out)
}

/// Rewrites the ONNX model `source` with `scheme`'s weights, reading their values from
/// `store` (the model opened from the same files).
pub fn write<S: TensorStore + ?Sized>(
    source: OnnxSource<'_>,
    store: &S,
    scheme: &Scheme,
) -> Result<Exported> {
    write_selected(source, store, scheme, None)
}

/// As [`write`], quantizing only the weights `select` returns None for (it returns why
/// a weight stays float): the whole-model runs' exclusions and their choice of weights.
pub fn write_selected<S: TensorStore + ?Sized>(
    source: OnnxSource<'_>,
    store: &S,
    scheme: &Scheme,
    select: Option<&Select<'_>>,
) -> Result<Exported> {
    write_with(source, store, Assign::All(scheme), select)
}

/// As [`write_selected`], with a scheme per tensor (`assign`): each quantized weight's
/// DequantizeLinear takes its own scheme's codes type, axis and blocks.
pub fn write_with<S: TensorStore + ?Sized>(
    source: OnnxSource<'_>,
    store: &S,
    assign: Assign<'_>,
    select: Option<&Select<'_>>,
) -> Result<Exported> {
    for s in assign.schemes() {
        linear_for(
            s,
            ExportFormat::Onnx,
            "QuantizeLinear/DequantizeLinear weights",
        )?;
    }
    let scheme = assign.label();
    let mut model =
        ModelProto::decode(&*source.model).map_err(|e| Error::OnnxDecode(e.to_string()))?;
    let mut graph = model
        .graph
        .take()
        .ok_or_else(|| Error::OnnxDecode("the model has no graph".into()))?;
    let info = store.info();
    if info.format != crate::Format::Onnx {
        return Err(err(format!(
            "the opened model is {:?}, not ONNX; the ONNX writer rewrites an ONNX model",
            info.format
        )));
    }
    let mut names = HashSet::new();
    collect_names(&graph, &mut names);
    assign.check(&info.tensors)?;
    let mut ctx = Ctx {
        store,
        assign,
        need: 10,
        external: &source.external,
        listing: info
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.clone()))
            .collect(),
        names,
        seen: HashSet::new(),
        report: Vec::new(),
        needs_bf16_cast: false,
        select,
    };
    ctx.graph(&mut graph, "")?;
    ctx.inline_graph(&mut graph)?;
    let mut notes = Vec::new();

    let quantized = ctx.report.iter().filter(|t| t.quantized).count();
    if quantized > 0 {
        let mut need = ctx.need;
        if ctx.needs_bf16_cast {
            need = need.max(13);
        }
        let current = model
            .opset_import
            .iter()
            .filter(|o| is_default_domain(o.domain()))
            .map(|o| o.version())
            .max();
        if current.is_none_or(|v| v < need) {
            let from = current.unwrap_or(0);
            let mut ops = HashSet::new();
            collect_ops(&graph, &mut ops);
            let mut clash: Vec<String> = BREAKING
                .iter()
                .filter(|(op, v)| from < *v && *v <= need && ops.contains(*op))
                .map(|(op, v)| format!("{op} (changed at opset {v})"))
                .collect();
            clash.sort();
            if !clash.is_empty() {
                return Err(err(format!(
                    "scheme `{scheme}` needs DequantizeLinear from opset {need}, but the model imports opset {from} and uses {}, whose inputs or attributes changed in between; convert the model first (onnx.version_converter.convert_version(model, {need})) or pick a scheme the opset allows (per-tensor/per-channel int8 need 10/13, 4-bit and blocks need 21)",
                    clash.join(", ")
                )));
            }
            if model.functions.iter().any(|f| {
                f.opset_import
                    .iter()
                    .any(|o| is_default_domain(o.domain()) && o.version() < need)
            }) {
                return Err(err(format!(
                    "the model's local functions import a default opset below {need}, which this writer does not raise; convert the model first (onnx.version_converter)"
                )));
            }
            model
                .opset_import
                .retain(|o| !is_default_domain(o.domain()));
            model.opset_import.push(OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(need),
            });
            let why = match need {
                10 => "per tensor",
                13 => "per axis",
                _ => "4/16-bit codes or blocks",
            };
            notes.push(match current {
                Some(_) => format!(
                    "default opset raised from {from} to {need} for DequantizeLinear ({why})"
                ),
                None => format!(
                    "default opset {need} imported for DequantizeLinear ({why}); the model imported none"
                ),
            });
            let ir = min_ir_version(need);
            if model.ir_version() < ir {
                notes.push(format!(
                    "IR version raised from {} to {ir}, the lowest opset {need} allows",
                    model.ir_version()
                ));
                model.ir_version = Some(ir);
            }
        }
    }
    if ctx
        .report
        .iter()
        .any(|t| t.quantized && t.dtype == crate::DType::F64)
    {
        notes.push("DOUBLE weights are quantized from their f32 values (the reader decodes every tensor to f32)".into());
    }
    model.graph = Some(graph);
    let len = model.encoded_len();
    if len > i32::MAX as usize {
        return Err(err(format!(
            "the quantized model is {len} bytes, over protobuf's 2 GiB limit; writing external data is not implemented"
        )));
    }
    let bytes = model.encode_to_vec();
    // Report in the model's tensor order, as the other writers do.
    let order: HashMap<&str, usize> = info
        .tensors
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let mut tensors = ctx.report;
    tensors.sort_by_key(|t| order.get(t.name.as_str()).copied().unwrap_or(usize::MAX));
    Ok(Exported {
        report: ExportReport {
            format: ExportFormat::Onnx,
            scheme: scheme.to_string(),
            tensors,
            notes,
            bytes: bytes.len() as u64,
        },
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::generated::onnx::{
        type_proto, StringStringEntryProto, TypeProto, ValueInfoProto,
    };
    use crate::formats::{onnx as reader, Model};

    fn values(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 29 % 31) as f32 - 15.0) / 7.0)
            .collect()
    }

    fn init(name: &str, dims: &[i64], elem: DataType) -> TensorProto {
        let n = dims.iter().product::<i64>() as usize;
        let raw: Vec<u8> = match elem {
            DataType::Float16 => values(n)
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect(),
            DataType::Int64 => (0..n as i64).flat_map(|v| v.to_le_bytes()).collect(),
            _ => values(n).iter().flat_map(|v| v.to_le_bytes()).collect(),
        };
        tensor_proto(name.into(), dims.to_vec(), elem, raw)
    }

    fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
        NodeProto {
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn input(name: &str) -> ValueInfoProto {
        ValueInfoProto {
            name: Some(name.into()),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: Some(DataType::Float as i32),
                    shape: None,
                })),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A MatMul on an f32 weight, an f16 weight, a Constant-node weight, a bias, and an
    /// If whose then-branch holds its own weight initializer.
    fn model(opset: i64, extra_op: Option<&str>) -> Vec<u8> {
        let mut cst = node("Constant", &[], &["cw"]);
        cst.attribute.push(AttributeProto {
            name: Some("value".into()),
            r#type: Some(AttributeType::Tensor as i32),
            t: Some(init("", &[2, 8], DataType::Float)),
            ..Default::default()
        });
        let then_branch = GraphProto {
            name: Some("then".into()),
            initializer: vec![init("sub.w", &[2, 4], DataType::Float)],
            node: vec![node("Identity", &["sub.w"], &["t_out"])],
            ..Default::default()
        };
        let mut if_node = node("If", &["cond"], &["t_out"]);
        if_node.name = Some("branch".into());
        if_node.attribute.push(AttributeProto {
            name: Some("then_branch".into()),
            r#type: Some(AttributeType::Graph as i32),
            g: Some(then_branch),
            ..Default::default()
        });
        let mut nodes = vec![
            node("MatMul", &["x", "W"], &["y"]),
            cst,
            node("MatMul", &["x16", "W16"], &["y16"]),
            if_node,
        ];
        if let Some(op) = extra_op {
            nodes.push(node(op, &["y"], &["z"]));
        }
        let g = GraphProto {
            name: Some("g".into()),
            node: nodes,
            initializer: vec![
                init("W", &[4, 8], DataType::Float),
                init("B", &[8], DataType::Float),
                init("W16", &[3, 8], DataType::Float16),
                init("shape", &[2], DataType::Int64),
            ],
            input: vec![input("x"), input("W")],
            ..Default::default()
        };
        ModelProto {
            ir_version: Some(7),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(opset),
            }],
            graph: Some(g),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn export(bytes: &[u8], scheme: &str) -> Result<(ModelProto, ExportReport, Model)> {
        let m = reader::read(bytes, &[])?;
        let e = write(
            OnnxSource {
                model: bytes.into(),
                external: Vec::new(),
            },
            &m,
            &scheme.parse()?,
        )?;
        Ok((ModelProto::decode(e.bytes.as_slice()).unwrap(), e.report, m))
    }

    fn find<'a>(g: &'a GraphProto, name: &str) -> &'a TensorProto {
        g.initializer
            .iter()
            .find(|t| t.name() == name)
            .unwrap_or_else(|| panic!("no initializer {name}"))
    }

    fn attrs(n: &NodeProto) -> Vec<(String, i64)> {
        n.attribute
            .iter()
            .map(|a| (a.name().to_string(), a.i()))
            .collect()
    }

    fn opset(m: &ModelProto) -> i64 {
        m.opset_import[0].version()
    }

    #[test]
    fn per_tensor_weights_become_int8_codes_feeding_dequantize_linear() {
        let (m, r, src) = export(&model(17, None), "int8-sym").unwrap();
        assert_eq!((opset(&m), m.ir_version()), (17, 7));
        let g = m.graph.as_ref().unwrap();
        // The DequantizeLinear nodes come first and output the weights' own names.
        let dq: Vec<&NodeProto> = g
            .node
            .iter()
            .filter(|n| n.op_type() == "DequantizeLinear")
            .collect();
        assert_eq!(dq[0].input, ["W_quantized", "W_scale", "W_zero_point"]);
        assert_eq!(dq[0].output, ["W"]);
        assert!(attrs(dq[0]).is_empty());
        assert!(g.initializer.iter().all(|t| t.name() != "W"));
        assert!(
            g.input.iter().all(|v| v.name() != "W"),
            "W is no longer an input"
        );
        let q = find(g, "W_quantized");
        assert_eq!(
            (q.data_type(), q.dims.clone()),
            (DataType::Int8 as i32, vec![4, 8])
        );
        let Scheme::Linear(l) = "int8-sym".parse::<Scheme>().unwrap() else {
            unreachable!()
        };
        let want = l.quantize(src.tensor("W").unwrap()).unwrap();
        assert_eq!(q.raw_data(), want.packed.as_slice());
        let s = find(g, "W_scale");
        assert!(s.dims.is_empty());
        assert_eq!(s.raw_data(), want.scales()[0].to_le_bytes());
        // The f16 weight is dequantized in f32 and cast back.
        let cast = g.node.iter().find(|n| n.op_type() == "Cast").unwrap();
        assert_eq!(cast.input, ["W16_dequantized"]);
        assert_eq!(cast.output, ["W16"]);
        assert_eq!(attrs(cast), [("to".to_string(), DataType::Float16 as i64)]);
        // The Constant node is replaced in place by a DequantizeLinear of `cw`.
        let i = g.node.iter().position(|n| n.output == ["cw"]).unwrap();
        assert_eq!(g.node[i].op_type(), "DequantizeLinear");
        assert!(g.node.iter().all(|n| n.op_type() != "Constant"));
        // The subgraph's weight is rewritten inside the subgraph.
        let sub = g
            .node
            .iter()
            .find(|n| n.op_type() == "If")
            .unwrap()
            .attribute[0]
            .g
            .as_ref()
            .unwrap();
        assert_eq!(sub.node[0].op_type(), "DequantizeLinear");
        assert_eq!(sub.node[0].output, ["sub.w"]);
        // 1-D and integer tensors stay.
        assert_eq!(
            find(g, "B").raw_data(),
            init("B", &[8], DataType::Float).raw_data()
        );
        find(g, "shape");
        let quantized: Vec<&str> = r
            .tensors
            .iter()
            .filter(|t| t.quantized)
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(quantized.len(), 4, "{quantized:?}");
        // The output opens again.
        reader::read(&m.encode_to_vec(), &[]).unwrap();
    }

    #[test]
    fn per_axis_and_blocks_set_the_attributes_and_raise_the_opset() {
        let (m, _, src) = export(&model(17, Some("Relu")), "uint8-asym-ch1").unwrap();
        assert_eq!(opset(&m), 17);
        let g = m.graph.as_ref().unwrap();
        let dq = &g.node[0];
        assert_eq!(attrs(dq), [("axis".to_string(), 1)]);
        assert_eq!(find(g, "W_scale").dims, [8]);
        assert_eq!(find(g, "W_zero_point").data_type(), DataType::Uint8 as i32);

        let (m, r, _) = export(&model(17, None), "int4-asym-group4").unwrap();
        assert_eq!((opset(&m), m.ir_version()), (21, 10));
        assert!(
            r.notes.iter().any(|n| n.contains("from 17 to 21")),
            "{:?}",
            r.notes
        );
        let g = m.graph.as_ref().unwrap();
        assert_eq!(
            attrs(&g.node[0]),
            [("axis".to_string(), 1), ("block_size".to_string(), 4)]
        );
        let q = find(g, "W_quantized");
        assert_eq!(q.data_type(), DataType::Int4 as i32);
        assert_eq!(q.raw_data().len(), 16, "32 int4 codes in 16 bytes");
        assert_eq!(find(g, "W_scale").dims, [4, 2]);

        // 3-bit codes go into INT4, repacked at 4 bits, values unchanged.
        let (m, r, _) = export(&model(17, None), "int3-sym-ch0").unwrap();
        let g = m.graph.as_ref().unwrap();
        let q = find(g, "W_quantized");
        assert_eq!(q.data_type(), DataType::Int4 as i32);
        let Scheme::Linear(l) = "int3-sym-ch0".parse::<Scheme>().unwrap() else {
            unreachable!()
        };
        let codes = l.quantize(src.tensor("W").unwrap()).unwrap().codes();
        assert_eq!(pack::unpack(q.raw_data(), 4, true, 32), codes);
        assert!(r.tensors.iter().any(|t| t
            .note
            .as_deref()
            .is_some_and(|n| n.contains("3-bit codes stored in INT4"))));
    }

    #[test]
    fn an_opset_that_cannot_be_raised_is_refused_by_name() {
        let bytes = model(11, Some("Squeeze"));
        let e = export(&bytes, "int4-sym").unwrap_err().to_string();
        assert!(
            e.contains("Squeeze (changed at opset 13)") && e.contains("version_converter"),
            "{e}"
        );
        let e = export(&bytes, "int8-sym-ch0").unwrap_err().to_string();
        assert!(e.contains("Squeeze"), "{e}");
        // Per tensor int8 needs only opset 10: the model keeps its opset.
        let (m, _, _) = export(&bytes, "int8-sym").unwrap();
        assert_eq!(opset(&m), 11);
    }

    #[test]
    fn schemes_and_inputs_it_cannot_write_are_refused() {
        let bytes = model(17, None);
        for s in ["q4_0", "nf4", "fp16", "tfjs-uint8"] {
            let e = export(&bytes, s).unwrap_err().to_string();
            assert!(e.contains(&format!("`{s}`")), "{e}");
        }
        let st = Model::new(crate::Format::Safetensors, vec![], Default::default());
        let e =
            super::super::export(&st, ExportFormat::Onnx, &"int8".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("open an .onnx file"), "{e}");
        let e = write(
            OnnxSource {
                model: bytes.as_slice().into(),
                external: Vec::new(),
            },
            &st,
            &"int8".parse().unwrap(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not ONNX"), "{e}");
        let e = write(
            OnnxSource {
                model: b"\x08\x07garbage".as_slice().into(),
                external: Vec::new(),
            },
            &st,
            &"int8".parse().unwrap(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("ONNX"), "{e}");
        // A scheme whose axis the weights lack names the tensor.
        let e = export(&bytes, "int8-sym-ch2").unwrap_err().to_string();
        assert!(e.contains("axis 2"), "{e}");
    }

    #[test]
    fn new_names_avoid_names_the_model_uses() {
        let mut m = ModelProto::decode(model(17, None).as_slice()).unwrap();
        m.graph
            .as_mut()
            .unwrap()
            .node
            .push(node("Relu", &["y"], &["W_scale"]));
        let (out, _, _) = export(&m.encode_to_vec(), "int8-sym").unwrap();
        let g = out.graph.unwrap();
        assert_eq!(
            g.node[0].input,
            ["W_quantized", "W_scale_1", "W_zero_point"]
        );
    }

    #[test]
    fn external_data_is_read_from_the_files_given_and_written_inline() {
        let mut m = ModelProto::decode(model(17, None).as_slice()).unwrap();
        let g = m.graph.as_mut().unwrap();
        let mut data = Vec::new();
        for t in g
            .initializer
            .iter_mut()
            .filter(|t| t.name() == "W" || t.name() == "B")
        {
            let raw = t.raw_data.take().unwrap();
            let kv = |k: &str, v: String| StringStringEntryProto {
                key: Some(k.into()),
                value: Some(v),
            };
            t.external_data = vec![
                kv("location", "../weights.bin".into()),
                kv("offset", data.len().to_string()),
                kv("length", raw.len().to_string()),
            ];
            t.data_location = Some(DataLocation::External as i32);
            data.extend(raw);
        }
        let bytes = m.encode_to_vec();
        let files: [(&str, &[u8]); 1] = [("dir/weights.bin", &data)];
        let src = reader::read(&bytes, &files).unwrap();
        let data_src = crate::formats::source::InMemory(data.as_slice());
        let e = write(
            OnnxSource {
                model: bytes.as_slice().into(),
                external: vec![("dir/weights.bin", &data_src as &dyn ByteSource)],
            },
            &src,
            &"int8-sym".parse().unwrap(),
        )
        .unwrap();
        let out = ModelProto::decode(e.bytes.as_slice()).unwrap();
        let g = out.graph.as_ref().unwrap();
        let b = find(g, "B");
        assert_eq!(b.data_location(), DataLocation::Default);
        assert_eq!(b.raw_data(), init("B", &[8], DataType::Float).raw_data());
        assert!(external_locations(&e.bytes).unwrap().is_empty());
        assert_eq!(external_locations(&bytes).unwrap(), ["../weights.bin"]);
        // Without the file, the error says which one is missing.
        let e = write(
            OnnxSource {
                model: bytes.as_slice().into(),
                external: Vec::new(),
            },
            &src,
            &"int8-sym".parse().unwrap(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::MissingExternalData { .. }), "{e}");
    }

    #[test]
    fn old_ir_models_get_the_ir_version_their_new_opset_needs() {
        let mut m = ModelProto::decode(model(9, None).as_slice()).unwrap();
        m.ir_version = Some(4);
        let (out, r, _) = export(&m.encode_to_vec(), "int8-sym").unwrap();
        assert_eq!((opset(&out), out.ir_version()), (10, 5));
        assert!(r
            .notes
            .iter()
            .any(|n| n.contains("IR version raised from 4 to 5")));
    }
}
