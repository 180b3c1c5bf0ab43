//! What an opened model is, whatever its format: [`Format`], [`Model`] (every tensor
//! decoded), [`ModelInfo`] (what a tensor list shows), and [`TensorStore`], the one
//! interface the reports and writers read tensors through.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use super::source::ByteSource;
use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorInfo, TensorRole};

/// The container a model came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Safetensors,
    Npy,
    Npz,
    Onnx,
    Tflite,
    Pytorch,
    Gguf,
    /// TensorFlow.js: model.json (or a weights manifest) and its .bin weight shards.
    Tfjs,
    /// A TorchScript archive (torch.jit.save).
    Torchscript,
    /// The legacy ggml container (`lmgg` magic: whisper.cpp's models).
    Ggml,
}

/// Every tensor of one file, decoded to f32, plus the file's free-form metadata.
#[derive(Clone, Debug)]
pub struct Model {
    pub format: Format,
    pub tensors: Vec<Tensor>,
    pub metadata: BTreeMap<String, String>,
    /// The computation graph, for formats that have one (ONNX).
    pub graph: Option<GraphSummary>,
    /// Quantization parameters stored with a tensor in the file (TFLite int8), by tensor
    /// name. Such a tensor's `data` holds the dequantized values.
    pub quantization: BTreeMap<String, StoredQuantization>,
}

/// What a graph looks like, without its weights: how many nodes, which operators, and
/// which weight feeds which node.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct GraphSummary {
    /// Nodes in the main graph and in every subgraph (If/Loop/Scan bodies).
    pub node_count: usize,
    /// Subgraphs found in node attributes.
    pub subgraph_count: usize,
    /// Operator type -> number of nodes.
    pub op_types: BTreeMap<String, usize>,
    /// Weight tensor name -> the nodes that take it as an input.
    pub weight_consumers: BTreeMap<String, Vec<NodeRef>>,
    /// Opset imports: domain ("" is the default ONNX domain) -> version.
    pub opsets: BTreeMap<String, i64>,
}

/// One node of a graph, named as its file names it (or `op_type#index` when unnamed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct NodeRef {
    pub node: String,
    pub op_type: String,
}

/// Quantization parameters a file stores beside a tensor's integer codes:
/// real = scale * (code - zero_point), per tensor or per slice along `quantized_dimension`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct StoredQuantization {
    /// The integer type of the stored codes (e.g. "I8").
    pub code_dtype: String,
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    /// The axis the parameters vary along; meaningful when there is more than one scale.
    pub quantized_dimension: usize,
    /// TF.js's affine form, (scale, min) per slot in f64 as its manifest stores them:
    /// real = code * scale + min (its nudged `min` makes `zero_points` exact integers,
    /// but the reals are computed this way). Empty for scale/zero-point formats.
    #[cfg_attr(feature = "ts-types", ts(optional, as = "Option<Vec<(f64, f64)>>"))]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affine: Vec<(f64, f64)>,
}

/// What `inspect` and the page's tensor list show.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "ts-types", derive(ts_rs::TS))]
pub struct ModelInfo {
    pub format: Format,
    pub tensors: Vec<TensorInfo>,
    pub metadata: BTreeMap<String, String>,
    pub total_params: usize,
    pub total_bytes: usize,
    #[cfg_attr(feature = "ts-types", ts(optional))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphSummary>,
    #[cfg_attr(
        feature = "ts-types",
        ts(as = "Option<BTreeMap<String, StoredQuantization>>", optional)
    )]
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub quantization: BTreeMap<String, StoredQuantization>,
}

impl ModelInfo {
    /// The tensor a viewer shows first: the largest weight (by element count; the first
    /// listed among equals), or the largest tensor when there is no weight at all.
    pub fn largest_weight(&self) -> Option<&TensorInfo> {
        let largest = |role: Option<TensorRole>| {
            self.tensors
                .iter()
                .filter(|t| role.is_none_or(|r| t.role == r))
                .rev()
                .max_by_key(|t| t.numel)
        };
        largest(Some(TensorRole::Weight)).or_else(|| largest(None))
    }
}

/// Tensor listings with each role as the file's stored quantization tells it: integer
/// codes stored with their scales are weights.
pub(crate) fn with_roles(
    mut tensors: Vec<TensorInfo>,
    quantization: &BTreeMap<String, StoredQuantization>,
) -> Vec<TensorInfo> {
    for t in &mut tensors {
        if quantization.contains_key(&t.name) {
            t.role = TensorRole::of(t.dtype, t.numel, true);
        }
    }
    tensors
}

impl Model {
    /// A model with no graph and no stored quantization.
    pub fn new(format: Format, tensors: Vec<Tensor>, metadata: BTreeMap<String, String>) -> Self {
        Model {
            format,
            tensors,
            metadata,
            graph: None,
            quantization: BTreeMap::new(),
        }
    }

    pub fn tensor(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::NoSuchTensor(name.to_string()))
    }

    pub fn info(&self) -> ModelInfo {
        ModelInfo::new(
            self.format,
            self.tensors.iter().map(Tensor::info).collect(),
            self.metadata.clone(),
            self.graph.clone(),
            self.quantization.clone(),
        )
    }
}

impl ModelInfo {
    /// The listing of `tensors` with their totals, each tensor's role as the stored
    /// quantization tells it (integer codes stored with their scales are weights).
    pub fn new(
        format: Format,
        tensors: Vec<TensorInfo>,
        metadata: BTreeMap<String, String>,
        graph: Option<GraphSummary>,
        quantization: BTreeMap<String, StoredQuantization>,
    ) -> ModelInfo {
        let tensors = with_roles(tensors, &quantization);
        ModelInfo {
            format,
            total_params: tensors.iter().map(|t| t.numel).sum(),
            total_bytes: tensors.iter().map(|t| t.size_bytes).sum(),
            tensors,
            metadata,
            graph,
            quantization,
        }
    }
}

/// Where tensors are read from one at a time: a model decoded into memory ([`Model`]),
/// or one whose tensors are read from the file only when asked for (large files).
/// Writers and whole-model reports take this, so that they hold one tensor at a time.
pub trait TensorStore {
    /// Format, tensor list (in the model's order), metadata, graph summary.
    fn info(&self) -> ModelInfo;
    /// One tensor, decoded to f32; borrowed where the store already holds it.
    fn load(&self, name: &str) -> Result<Cow<'_, Tensor>>;
    /// A GGUF source's metadata entries exactly as encoded, for a GGUF writer to carry
    /// over (empty for other sources, and for GGUF read whole).
    fn gguf_metadata(&self) -> &[RawKv] {
        &[]
    }
    /// One tensor's entry in [`TensorStore::info`], without the values.
    fn tensor_info(&self, name: &str) -> Option<TensorInfo> {
        self.info().tensors.into_iter().find(|t| t.name == name)
    }
    /// Bytes that loading `name` holds besides its decoded values (its bytes copied out
    /// of the file, inflated, or gathered from a strided view), for [`crate::budget`];
    /// 0 where they are decoded in place or the values are already held.
    fn read_extra(&self, _name: &str) -> u64 {
        0
    }
    /// The files of an ONNX source, for the ONNX writer, which rewrites them (None for
    /// other sources, and for a model decoded without its files).
    fn onnx_source(&self) -> Result<Option<OnnxSource<'_>>> {
        Ok(None)
    }
}

/// The original ONNX model the ONNX writer rewrites: the model file's bytes and its
/// external data files by file name.
pub struct OnnxSource<'a> {
    pub model: Cow<'a, [u8]>,
    pub external: Vec<(&'a str, &'a dyn ByteSource)>,
}

impl TensorStore for Model {
    fn info(&self) -> ModelInfo {
        Model::info(self)
    }

    fn load(&self, name: &str) -> Result<Cow<'_, Tensor>> {
        self.tensor(name).map(Cow::Borrowed)
    }
}

/// One metadata entry as the file encodes it: the GGUF value type and the value's bytes
/// exactly (for an array: element type, count, elements), so that a GGUF written from
/// this file can carry every key over unchanged (tokenizer, hyperparameters) for
/// llama.cpp to load.
#[derive(Clone, Debug, PartialEq)]
pub struct RawKv {
    pub key: String,
    pub value_type: u32,
    pub value: Vec<u8>,
}
