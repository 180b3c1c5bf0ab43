//! What the readers share, below every format: where a tensor lies in its file
//! ([`Entry`], [`Layout`]) and what a header says about one file ([`Part`]); the rules
//! for shards and GGUF splits; the check that a header claims no more than the file
//! holds; and telling a torch.save zip from an .npz.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

use super::decode::decode;
use super::model::{Format, Model, RawKv};
use super::source::{check_range, ByteSource};
use super::view::View;
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
    Torch(View),
    /// Decoded when the file was opened (a format without a header index, or an ONNX
    /// tensor stored inside the model beside others kept in external data files);
    /// `offset`/`nbytes` are unused.
    Memory(Arc<Tensor>),
}

impl Entry {
    pub(crate) fn info(&self) -> TensorInfo {
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
    pub(crate) fn load(&self, src: &dyn ByteSource) -> Result<Tensor> {
        if let Layout::Memory(t) = &self.layout {
            return Ok(t.as_ref().clone());
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
            Layout::Plain => decode(&raw, self.dtype),
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
    pub gguf_kv: Vec<RawKv>,
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

pub(crate) fn is_zip(bytes: &[u8]) -> bool {
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

/// The last path component of a file name, for matching names an index or an ONNX
/// file refers to against the names of the files given.
pub fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
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
pub(crate) fn describe_head(bytes: &[u8]) -> String {
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
