//! Model file formats: one file per container, detected by magic bytes, not by extension.

pub mod decode;
pub mod gguf;
pub mod lazy;
pub mod npy;
pub mod onnx;
pub mod pickle;
pub mod pytorch;
pub mod safetensors;
pub mod source;
pub mod tflite;

#[allow(clippy::all, clippy::pedantic, missing_docs, unused, non_camel_case_types)]
#[rustfmt::skip]
pub(crate) mod generated;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Cursor;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorInfo};

/// The container a model came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Safetensors,
    Npy,
    Npz,
    Onnx,
    Tflite,
    Pytorch,
    Gguf,
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
pub struct NodeRef {
    pub node: String,
    pub op_type: String,
}

/// Quantization parameters a file stores beside a tensor's integer codes:
/// real = scale * (code - zero_point), per tensor or per slice along `quantized_dimension`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredQuantization {
    /// The integer type of the stored codes (e.g. "I8").
    pub code_dtype: String,
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    /// The axis the parameters vary along; meaningful when there is more than one scale.
    pub quantized_dimension: usize,
}

/// What `inspect` and the page's tensor list show.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub format: Format,
    pub tensors: Vec<TensorInfo>,
    pub metadata: BTreeMap<String, String>,
    pub total_params: usize,
    pub total_bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphSummary>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub quantization: BTreeMap<String, StoredQuantization>,
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
        let tensors: Vec<TensorInfo> = self.tensors.iter().map(Tensor::info).collect();
        ModelInfo {
            format: self.format,
            total_params: tensors.iter().map(|t| t.numel).sum(),
            total_bytes: tensors.iter().map(|t| t.size_bytes).sum(),
            tensors,
            metadata: self.metadata.clone(),
            graph: self.graph.clone(),
            quantization: self.quantization.clone(),
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
    fn gguf_metadata(&self) -> &[gguf::RawKv] {
        &[]
    }
}

impl TensorStore for Model {
    fn info(&self) -> ModelInfo {
        Model::info(self)
    }

    fn load(&self, name: &str) -> Result<Cow<'_, Tensor>> {
        self.tensor(name).map(Cow::Borrowed)
    }
}

/// Tells the format from the first bytes of a file. A zip archive is an .npz or a
/// PyTorch checkpoint depending on what it holds, which [`open`] looks at; here any
/// zip is reported as [`Format::Npz`] unless its directory names a `data.pkl`.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(npy::NPY_MAGIC) {
        Some(Format::Npy)
    } else if bytes.starts_with(gguf::MAGIC) {
        Some(Format::Gguf)
    } else if is_zip(bytes) {
        match zip_kind(bytes, "") {
            Ok(ZipKind::Pytorch(_)) => Some(Format::Pytorch),
            _ => Some(Format::Npz),
        }
    } else if pytorch::is_legacy(bytes) {
        Some(Format::Pytorch)
    } else if tflite::looks_like(bytes) {
        Some(Format::Tflite)
    } else if safetensors::looks_like(bytes) {
        Some(Format::Safetensors)
    } else if onnx::looks_like(bytes) {
        Some(Format::Onnx)
    } else {
        None
    }
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// What a zip archive holds, told by its member names.
pub(crate) enum ZipKind {
    /// torch.save's archive: the folder that holds data.pkl (with its trailing `/`).
    Pytorch(String),
    Npz,
}

pub(crate) fn zip_kind(bytes: &[u8], name: &str) -> Result<ZipKind> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Error::Zip {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    let names: Vec<&str> = zip.file_names().collect();
    // torch.save writes `<archive>/data.pkl` first; TorchScript archives also have one
    // but keep their weights in `__torch__` objects, which the unpickler refuses by name.
    if let Some(pkl) = names
        .iter()
        .filter(|n| *n == &"data.pkl" || n.ends_with("/data.pkl"))
        .min_by_key(|n| n.len())
    {
        return Ok(ZipKind::Pytorch(
            pkl.trim_end_matches("data.pkl").to_string(),
        ));
    }
    Ok(ZipKind::Npz)
}

/// Opens a model from its bytes. `name` is only used in messages and, for a lone .npy,
/// as the tensor's name.
pub fn open(bytes: &[u8], name: &str) -> Result<Model> {
    if bytes.is_empty() {
        return Err(Error::EmptyFile(name.to_string()));
    }
    if is_zip(bytes) {
        // Tell an .npz from a torch.save archive by what it holds; a broken zip is
        // reported as such rather than as a broken .npz.
        return match zip_kind(bytes, name)? {
            ZipKind::Pytorch(_) => pytorch::read(bytes, name),
            ZipKind::Npz => npy::read_npz(bytes, name),
        };
    }
    match detect(bytes) {
        Some(Format::Safetensors) => safetensors::read(bytes),
        Some(Format::Npy) => npy::read_npy(bytes, name),
        Some(Format::Npz) => npy::read_npz(bytes, name),
        Some(Format::Onnx) => onnx::read(bytes, &[]),
        Some(Format::Tflite) => tflite::read(bytes),
        Some(Format::Pytorch) => pytorch::read(bytes, name),
        Some(Format::Gguf) => gguf::read(bytes, name),
        None => Err(Error::UnknownFormat {
            name: name.to_string(),
            head: describe_head(bytes),
        }),
    }
}

/// Opens several files as one model: an ONNX model with its external data files, or the
/// shards of a checkpoint (several safetensors files, with `model.safetensors.index.json`
/// when present; or any files of one format whose tensor names do not collide).
/// `files` are (file name, bytes); names matter only for external data and the index.
pub fn open_many(files: &[(&str, &[u8])]) -> Result<Model> {
    match files {
        [] => Err(Error::Shard("no files given".into())),
        [(name, bytes)] => {
            let model = open(bytes, name)?;
            if model.format == Format::Gguf {
                check_gguf_splits(&[(name, &model.metadata)])?;
            }
            Ok(model)
        }
        _ => {
            let onnx: Vec<usize> = (0..files.len())
                .filter(|&i| detect(files[i].1) == Some(Format::Onnx))
                .collect();
            match onnx.as_slice() {
                [] => open_shards(files),
                &[main] => {
                    let others: Vec<(&str, &[u8])> = files
                        .iter()
                        .enumerate()
                        .filter(|&(i, _)| i != main)
                        .map(|(_, &f)| f)
                        .collect();
                    onnx::read(files[main].1, &others)
                }
                several => Err(Error::Shard(format!(
                    "{} ONNX models given ({}); open one at a time, with its external data files",
                    several.len(),
                    several
                        .iter()
                        .map(|&i| files[i].0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
    }
}

/// The last path component of a file name, for matching names an index or an ONNX
/// file refers to against the names of the files given.
pub fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

fn open_shards(files: &[(&str, &[u8])]) -> Result<Model> {
    let (index, shards): (Vec<_>, Vec<_>) =
        files.iter().partition(|(n, _)| n.ends_with(".index.json"));
    let weight_map: Option<BTreeMap<String, String>> = match index.as_slice() {
        [] => None,
        [(name, bytes)] => Some(read_index(name, bytes)?),
        _ => return Err(Error::Shard("more than one .index.json given".into())),
    };
    let mut format = None;
    let mut models = Vec::with_capacity(shards.len());
    for (name, bytes) in &shards {
        let model = open(bytes, name)?;
        if *format.get_or_insert(model.format) != model.format {
            return Err(Error::Shard(format!(
                "`{name}` is {:?} but the other files are {:?}; shards must share one format",
                model.format,
                format.unwrap_or(model.format)
            )));
        }
        models.push((*name, model));
    }
    let names: Vec<(&str, Vec<&str>)> = models
        .iter()
        .map(|(n, m)| (*n, m.tensors.iter().map(|t| t.name.as_str()).collect()))
        .collect();
    check_shards(weight_map.as_ref(), &names)?;
    if format == Some(Format::Gguf) {
        let metas: Vec<(&str, &BTreeMap<String, String>)> =
            models.iter().map(|(n, m)| (*n, &m.metadata)).collect();
        check_gguf_splits(&metas)?;
    }
    let mut tensors: Vec<Tensor> = Vec::new();
    let mut quantization = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for (_, model) in models {
        tensors.extend(model.tensors);
        quantization.extend(model.quantization);
        for (k, v) in model.metadata {
            metadata.entry(k).or_insert(v);
        }
    }
    // GGUF splits keep their files' order (blk.0, blk.1, ...); checkpoint shards list
    // in name order.
    if format != Some(Format::Gguf) {
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
    }
    metadata.insert("shards".into(), shards.len().to_string());
    Ok(Model {
        format: format.unwrap_or(Format::Safetensors),
        tensors,
        metadata,
        graph: None,
        quantization,
    })
}

/// Checks the tensor names of shards (file name, its tensors) against each other (no
/// tensor in two files) and against the index's weight map when one was given (every
/// tensor where the index puts it, every indexed tensor present).
pub(crate) fn check_shards(
    weight_map: Option<&BTreeMap<String, String>>,
    shards: &[(&str, Vec<&str>)],
) -> Result<()> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, tensors) in shards {
        for &t in tensors {
            if let Some(first) = owner.insert(t, name) {
                return Err(Error::DuplicateTensor {
                    name: t.to_string(),
                    first: first.to_string(),
                    second: name.to_string(),
                });
            }
            if let Some(map) = weight_map {
                match map.get(t) {
                    Some(f) if f == base_name(name) => {}
                    Some(f) => {
                        return Err(Error::Shard(format!(
                            "tensor `{t}` is in `{name}` but the index puts it in `{f}`"
                        )))
                    }
                    None => {
                        return Err(Error::Shard(format!(
                            "tensor `{t}` in `{name}` is not listed in the index"
                        )))
                    }
                }
            }
        }
    }
    if let Some(map) = weight_map {
        if let Some((t, f)) = map.iter().find(|(t, _)| !owner.contains_key(t.as_str())) {
            return Err(Error::Shard(format!(
                "the index puts tensor `{t}` in `{f}`, which was not given"
            )));
        }
    }
    Ok(())
}

/// `gguf-split` writes `split.count` into every file of a split model: all of them
/// must be given together. `files` are (file name, its metadata).
pub(crate) fn check_gguf_splits(files: &[(&str, &BTreeMap<String, String>)]) -> Result<()> {
    for (name, metadata) in files {
        if let Some(count) = metadata.get("split.count") {
            if count.parse::<usize>().ok() != Some(files.len()) {
                return Err(Error::Shard(format!(
                    "`{name}` is one of {count} GGUF split files (split.count) but {} were given; open all of them together",
                    files.len()
                )));
            }
        }
    }
    Ok(())
}

/// `model.safetensors.index.json`: `{"metadata": {...}, "weight_map": {tensor: file}}`.
pub(crate) fn read_index(name: &str, bytes: &[u8]) -> Result<BTreeMap<String, String>> {
    #[derive(serde::Deserialize)]
    struct Index {
        weight_map: BTreeMap<String, String>,
    }
    let index: Index = serde_json::from_slice(bytes)
        .map_err(|e| Error::Shard(format!("`{name}` is not a shard index: {e}")))?;
    Ok(index
        .weight_map
        .into_iter()
        .map(|(t, f)| (t, base_name(&f).to_string()))
        .collect())
}

/// The first bytes of a file, printable, for an error message.
fn describe_head(bytes: &[u8]) -> String {
    let head: String = bytes
        .iter()
        .take(8)
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect();
    format!("\"{head}\"")
}

/// Checks that `shape` describes no more bytes than `available` before anything is
/// allocated for it, so a lying header cannot make us allocate more than the file holds.
pub(crate) fn checked_numel(
    name: &str,
    shape: &[u64],
    item_size: usize,
    available: usize,
) -> Result<usize> {
    let too_large = |needed: String| Error::ShapeTooLarge {
        name: name.to_string(),
        shape: shape.to_vec(),
        needed,
        available,
    };
    let mut numel: u64 = 1;
    for &d in shape {
        numel = numel
            .checked_mul(d)
            .ok_or_else(|| too_large("more than 2^64".into()))?;
    }
    let bytes = numel
        .checked_mul(item_size as u64)
        .ok_or_else(|| too_large("more than 2^64".into()))?;
    if bytes > available as u64 {
        return Err(too_large(bytes.to_string()));
    }
    Ok(numel as usize)
}
