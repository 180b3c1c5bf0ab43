//! Models whose tensors are read from the file one at a time. Formats with a header
//! that says where every tensor lies (safetensors, GGUF, torch zips, .npy, stored .npz) are listed from the header
//! alone and each tensor is read and decoded when it is asked for, so a 2 GB file opens
//! at once and analysing it holds about one tensor in memory. Other formats are decoded
//! whole when opened, as [`super::open_many`] does.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::source::{check_range, ByteSource};
use super::{
    gguf, npy, onnx, pytorch, safetensors, Format, GraphSummary, Model, ModelInfo, TensorStore,
};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor, TensorInfo};

/// Where one tensor's bytes lie in its file, and how they are laid out.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub name: String,
    /// C order.
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Absolute offset in the file.
    pub offset: u64,
    pub nbytes: u64,
    pub layout: Layout,
}

#[derive(Clone, Debug)]
pub(crate) enum Layout {
    /// The tensor's elements in C order, little-endian (safetensors, GGUF).
    Plain,
    /// A view into a PyTorch storage: offset, strides and byte order; `offset`/`nbytes`
    /// cover the part of the storage the view touches.
    Torch(pytorch::View),
    /// Decoded when the file was opened (an ONNX tensor stored inside the model beside
    /// others kept in external data files); `offset`/`nbytes` are unused.
    Memory(Arc<Vec<f32>>),
}

impl Entry {
    fn info(&self) -> TensorInfo {
        TensorInfo {
            name: self.name.clone(),
            shape: self.shape.clone(),
            dtype: self.dtype,
            numel: self.shape.iter().product(),
            size_bytes: self.dtype.bytes_for(self.shape.iter().product()),
        }
    }

    /// Reads and decodes the tensor. The range was checked against the file when the
    /// header was read; the source may still fail (a file changed since), and says so.
    fn load(&self, src: &dyn ByteSource) -> Result<Tensor> {
        if let Layout::Memory(data) = &self.layout {
            return Ok(Tensor {
                name: self.name.clone(),
                shape: self.shape.clone(),
                dtype: self.dtype,
                data: data.as_ref().clone(),
            });
        }
        check_range(
            &format!("tensor `{}`", self.name),
            self.offset,
            self.nbytes,
            src.len(),
        )?;
        let len = usize::try_from(self.nbytes).map_err(|_| {
            Error::Invalid(format!(
                "tensor `{}`: {} bytes do not fit in this machine's memory",
                self.name, self.nbytes
            ))
        })?;
        let raw = src.read_at(self.offset, len)?;
        let data = match &self.layout {
            Layout::Plain => super::decode::decode(&raw, self.dtype),
            Layout::Torch(view) => view.decode(&view.gather(&raw), self.dtype),
            Layout::Memory(_) => unreachable!("returned above"),
        };
        let numel: usize = self.shape.iter().product();
        if data.len() != numel {
            return Err(Error::Invalid(format!(
                "tensor `{}`: {} bytes of {} decode to {} values, the shape {:?} has {numel}",
                self.name,
                self.nbytes,
                self.dtype,
                data.len(),
                self.shape
            )));
        }
        Ok(Tensor {
            name: self.name.clone(),
            shape: self.shape.clone(),
            dtype: self.dtype,
            data,
        })
    }
}

/// What a format's header says about one file.
pub(crate) struct Part {
    pub format: Format,
    pub metadata: BTreeMap<String, String>,
    pub entries: Vec<Entry>,
    /// A GGUF file's metadata as encoded (empty for other formats).
    pub gguf_kv: Vec<gguf::RawKv>,
}

impl Part {
    /// Decodes every tensor: the in-memory [`Model`] of the same file.
    pub(crate) fn load_all(self, src: &dyn ByteSource) -> Result<Model> {
        let tensors = self
            .entries
            .iter()
            .map(|e| e.load(src))
            .collect::<Result<Vec<_>>>()?;
        Ok(Model::new(self.format, tensors, self.metadata))
    }
}

/// Lists one file's tensors from its header, for the formats that allow it: safetensors,
/// GGUF, torch.save zip checkpoints whose storage records are stored uncompressed
/// (as torch writes them), little-endian C-order .npy arrays and .npz archives of stored
/// ones. `None` for every other file, which is then read whole.
fn index_part(name: &str, src: &dyn ByteSource) -> Result<Option<Part>> {
    let head = src.read_at(0, src.len().min(16) as usize)?;
    if head.starts_with(gguf::MAGIC) {
        gguf::index(src, name).map(Some)
    } else if safetensors::looks_like(&head) {
        safetensors::index(src).map(Some)
    } else if head.starts_with(b"PK\x03\x04") {
        // A zip that is not a plain checkpoint (an .npz, a compressed record) or that is
        // broken is read whole, which names its problem the way open_many does.
        Ok(match pytorch::index_zip(src, name).unwrap_or(None) {
            Some(part) => Some(part),
            None => npy::index_npz(src, name).unwrap_or(None),
        })
    } else if head.starts_with(npy::NPY_MAGIC) {
        npy::index_npy(src, name)
    } else {
        Ok(None)
    }
}

/// A model opened from its files (see the module documentation).
pub struct ModelFile {
    inner: Inner,
}

enum Inner {
    /// Decoded when opened.
    Decoded(Model),
    /// Listed from headers; `entries` say which source holds each tensor.
    Indexed {
        format: Format,
        metadata: BTreeMap<String, String>,
        graph: Option<GraphSummary>,
        /// The first GGUF file's metadata entries as encoded (split files repeat only
        /// split.* after the first).
        gguf_kv: Vec<gguf::RawKv>,
        sources: Vec<Box<dyn ByteSource>>,
        entries: Vec<(usize, Entry)>,
        by_name: HashMap<String, usize>,
    },
}

impl ModelFile {
    /// Opens one file, or several as one model (shards; an ONNX model with its external
    /// data files), as [`super::open_many`] does; `files` are (file name, source).
    pub fn open(files: Vec<(String, Box<dyn ByteSource>)>) -> Result<ModelFile> {
        if files.is_empty() {
            return Err(Error::Shard("no files given".into()));
        }
        for (name, src) in &files {
            if src.is_empty() {
                return Err(Error::EmptyFile(name.clone()));
            }
        }
        // ONNX has no magic number: tell it the way `detect` does, after the formats
        // that have one (the first 16 bytes are all any of those checks read).
        let onnx_files = files
            .iter()
            .map(|(_, s)| {
                let head = s.read_at(0, s.len().min(16) as usize)?;
                Ok(super::detect(&head) == Some(Format::Onnx))
            })
            .collect::<Result<Vec<bool>>>()?;
        if let [main] = onnx_files
            .iter()
            .enumerate()
            .filter(|(_, &o)| o)
            .map(|(i, _)| i)
            .collect::<Vec<_>>()[..]
        {
            if files.len() > 1 {
                return Self::open_onnx(files, main);
            }
        }
        let mut parts = Vec::with_capacity(files.len());
        for (name, src) in &files {
            if name.ends_with(".index.json") {
                continue;
            }
            match index_part(name, &**src)? {
                Some(p) => parts.push(p),
                None => return Self::decode_all(&files),
            }
        }
        if parts.is_empty() || parts.iter().any(|p| p.format != parts[0].format) {
            return Self::decode_all(&files);
        }
        Self::open_indexed(files, parts)
    }

    /// An ONNX model with external data files: the model file is read whole and its
    /// inline tensors decoded; tensors in the data files are read when asked for (a model
    /// over protobuf's 2 GiB must keep its weights there, so this is how large ONNX
    /// models come).
    fn open_onnx(files: Vec<(String, Box<dyn ByteSource>)>, main: usize) -> Result<ModelFile> {
        let (main_name, main_src) = &files[main];
        let len = usize::try_from(main_src.len()).map_err(|_| {
            Error::Invalid(format!(
                "{main_name}: {} bytes do not fit in memory",
                main_src.len()
            ))
        })?;
        let bytes = main_src.read_at(0, len)?.into_owned();
        let others: Vec<usize> = (0..files.len()).filter(|&i| i != main).collect();
        let external: Vec<(&str, &dyn ByteSource)> = others
            .iter()
            .map(|&i| (files[i].0.as_str(), &*files[i].1))
            .collect();
        let (model, deferred) = onnx::read_with(&bytes, &external, true)?;
        drop(bytes);
        let entries: Vec<(usize, Entry)> = model
            .tensors
            .into_iter()
            .map(|t| {
                let info = t.info();
                let (source, offset, nbytes, layout) = match deferred.get(&t.name) {
                    Some(r) => (others[r.file], r.offset, r.length, Layout::Plain),
                    None => (
                        main,
                        0,
                        info.size_bytes as u64,
                        Layout::Memory(Arc::new(t.data)),
                    ),
                };
                (
                    source,
                    Entry {
                        name: t.name,
                        shape: t.shape,
                        dtype: t.dtype,
                        offset,
                        nbytes,
                        layout,
                    },
                )
            })
            .collect();
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, (_, e))| (e.name.clone(), i))
            .collect();
        Ok(ModelFile {
            inner: Inner::Indexed {
                format: Format::Onnx,
                metadata: model.metadata,
                graph: model.graph,
                gguf_kv: Vec::new(),
                sources: files.into_iter().map(|(_, s)| s).collect(),
                entries,
                by_name,
            },
        })
    }

    /// Reads every file whole and decodes every tensor (formats without a usable header).
    fn decode_all(files: &[(String, Box<dyn ByteSource>)]) -> Result<ModelFile> {
        let bytes = files
            .iter()
            .map(|(n, s)| {
                let len = usize::try_from(s.len()).map_err(|_| {
                    Error::Invalid(format!("{n}: {} bytes do not fit in memory", s.len()))
                })?;
                s.read_at(0, len)
            })
            .collect::<Result<Vec<Cow<[u8]>>>>()?;
        let named: Vec<(&str, &[u8])> = files
            .iter()
            .zip(&bytes)
            .map(|((n, _), b)| (n.as_str(), &**b))
            .collect();
        Ok(ModelFile {
            inner: Inner::Decoded(super::open_many(&named)?),
        })
    }

    /// `parts` are the headers of `files` (in order, skipping an index file).
    fn open_indexed(
        files: Vec<(String, Box<dyn ByteSource>)>,
        parts: Vec<Part>,
    ) -> Result<ModelFile> {
        let mut weight_map = None;
        let mut headers = parts.into_iter();
        let mut parts: Vec<(String, Part)> = Vec::new();
        let mut sources = Vec::new();
        for (name, src) in files {
            if name.ends_with(".index.json") {
                if weight_map.is_some() {
                    return Err(Error::Shard("more than one .index.json given".into()));
                }
                let bytes = src.read_at(0, src.len() as usize)?;
                weight_map = Some(super::read_index(&name, &bytes)?);
                continue;
            }
            let part = headers.next().expect("one header per model file");
            parts.push((name, part));
            sources.push(src);
        }
        let format = parts[0].1.format;
        let names: Vec<(&str, Vec<&str>)> = parts
            .iter()
            .map(|(n, p)| {
                (
                    n.as_str(),
                    p.entries.iter().map(|e| e.name.as_str()).collect(),
                )
            })
            .collect();
        super::check_shards(weight_map.as_ref(), &names)?;
        if format == Format::Gguf {
            let metas: Vec<(&str, &BTreeMap<String, String>)> = parts
                .iter()
                .map(|(n, p)| (n.as_str(), &p.metadata))
                .collect();
            super::check_gguf_splits(&metas)?;
        }
        let shards = parts.len();
        // gguf-split keeps the model's metadata in the first split (split.no 0); the
        // others hold little more than split.*. Files may come in any order.
        let gguf_kv = parts
            .iter()
            .find(|(_, p)| p.metadata.get("split.no").is_some_and(|n| n == "0"))
            .or(parts.first())
            .map(|(_, p)| p.gguf_kv.clone())
            .unwrap_or_default();
        let mut metadata = BTreeMap::new();
        let mut entries = Vec::new();
        for (i, (_, part)) in parts.into_iter().enumerate() {
            for (k, v) in part.metadata {
                metadata.entry(k).or_insert(v);
            }
            entries.extend(part.entries.into_iter().map(|e| (i, e)));
        }
        if shards > 1 {
            metadata.insert("shards".into(), shards.to_string());
            // Shards of a checkpoint list as one model in name order, as open_many does;
            // GGUF splits keep the order of their files (blk.0, blk.1, ...).
            if format != Format::Gguf {
                entries.sort_by(|a, b| a.1.name.cmp(&b.1.name));
            }
        }
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, (_, e))| (e.name.clone(), i))
            .collect();
        Ok(ModelFile {
            inner: Inner::Indexed {
                format,
                metadata,
                graph: None,
                gguf_kv,
                sources,
                entries,
                by_name,
            },
        })
    }

    /// True when tensors are read from the file on demand rather than held decoded.
    pub fn is_lazy(&self) -> bool {
        matches!(self.inner, Inner::Indexed { .. })
    }
}

impl TensorStore for ModelFile {
    fn info(&self) -> ModelInfo {
        match &self.inner {
            Inner::Decoded(m) => m.info(),
            Inner::Indexed {
                format,
                metadata,
                graph,
                entries,
                ..
            } => {
                let tensors: Vec<TensorInfo> = entries.iter().map(|(_, e)| e.info()).collect();
                ModelInfo {
                    format: *format,
                    total_params: tensors.iter().map(|t| t.numel).sum(),
                    total_bytes: tensors.iter().map(|t| t.size_bytes).sum(),
                    tensors,
                    metadata: metadata.clone(),
                    graph: graph.clone(),
                    quantization: BTreeMap::new(),
                }
            }
        }
    }

    fn gguf_metadata(&self) -> &[gguf::RawKv] {
        match &self.inner {
            Inner::Indexed { gguf_kv, .. } => gguf_kv,
            Inner::Decoded(_) => &[],
        }
    }

    fn load(&self, name: &str) -> Result<Cow<'_, Tensor>> {
        match &self.inner {
            Inner::Decoded(m) => m.tensor(name).map(Cow::Borrowed),
            Inner::Indexed {
                sources,
                entries,
                by_name,
                ..
            } => {
                let &i = by_name
                    .get(name)
                    .ok_or_else(|| Error::NoSuchTensor(name.to_string()))?;
                let (src, entry) = &entries[i];
                entry.load(&*sources[*src]).map(Cow::Owned)
            }
        }
    }
}
