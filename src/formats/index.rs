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
    /// A zip member compressed with deflate (a `savez_compressed` array, a compressed
    /// torch record): inflated when the tensor is read, once per read; `offset`/`nbytes`
    /// and the inner layout then apply to the inflated member.
    Deflated(Box<Deflated>),
}

/// Where a deflated zip member lies in its file.
#[derive(Clone, Debug)]
pub(crate) struct Deflated {
    /// The member's compressed bytes: `[start, start + compressed)` of the file.
    pub start: u64,
    pub compressed: u64,
    /// Its size inflated, as the zip entry declares it (checked against the ratio
    /// deflate can reach when it was listed).
    pub inflated: u64,
    /// How the tensor lies in the inflated bytes (Plain or Torch).
    pub inner: Layout,
}

impl Entry {
    /// A tensor decoded when its file was opened, held in memory.
    pub(crate) fn decoded(t: Tensor) -> Entry {
        Entry {
            name: t.name.clone(),
            shape: t.shape.clone(),
            dtype: t.dtype,
            offset: 0,
            nbytes: 0,
            layout: Layout::Memory(Arc::new(t)),
        }
    }

    pub(crate) fn info(&self) -> TensorInfo {
        TensorInfo {
            name: self.name.clone(),
            shape: self.shape.clone(),
            dtype: self.dtype,
            numel: self.shape.iter().product(),
            size_bytes: self.dtype.bytes_for(self.shape.iter().product()),
            role: crate::tensor::TensorRole::of(self.dtype, self.shape.iter().product(), false),
        }
    }

    /// Reads and decodes the tensor. The range was checked against the file when the
    /// header was read; the source may still fail (a file changed since), and says so.
    pub(crate) fn load(&self, src: &dyn ByteSource) -> Result<Tensor> {
        if let Layout::Memory(t) = &self.layout {
            return Ok(t.as_ref().clone());
        }
        if !matches!(self.layout, Layout::Deflated(_)) {
            check_range(
                &format!("tensor `{}`", self.name),
                self.offset,
                self.nbytes,
                src.len(),
            )?;
        }
        let len = usize::try_from(self.nbytes).map_err(|_| {
            Error::Invalid(format!(
                "tensor `{}`: {} bytes do not fit in this machine's memory",
                self.name, self.nbytes
            ))
        })?;
        let data = match &self.layout {
            Layout::Deflated(z) => {
                let what = format!("tensor `{}`", self.name);
                check_range(&what, z.start, z.compressed, src.len())?;
                let clen = usize::try_from(z.compressed)
                    .map_err(|_| Error::Invalid(format!("{what}: member too large")))?;
                let packed = src.read_at(z.start, clen)?;
                let inflated = super::zipped::inflate(&what, &packed, z.inflated, self.offset)?;
                drop(packed);
                let raw = inflated.get(..len).ok_or_else(|| {
                    Error::Invalid(format!(
                        "{what}: its member holds {} bytes after the header, the tensor needs {len}",
                        inflated.len()
                    ))
                })?;
                match &z.inner {
                    Layout::Torch(view) => view.decode(&view.gather(raw), self.dtype),
                    _ => decode(raw, self.dtype),
                }
            }
            layout => {
                let raw = src.read_at(self.offset, len)?;
                match layout {
                    Layout::Plain => decode(&raw, self.dtype),
                    Layout::Torch(view) => view.decode(&view.gather(&raw), self.dtype),
                    Layout::Memory(_) | Layout::Deflated(_) => unreachable!("handled above"),
                }
            }
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
    /// torch.jit.save's archive (data.pkl, constants.pkl, code/): the same folder.
    Torchscript(String),
    Npz,
}

pub(crate) fn zip_kind(bytes: &[u8], name: &str) -> Result<ZipKind> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Error::Zip {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    let names: Vec<&str> = zip.file_names().collect();
    // torch.save writes `<archive>/data.pkl` first; TorchScript archives also have one,
    // and beside it a constants.pkl and the scripted code (their weights are attributes
    // of `__torch__` objects, which only the TorchScript reader accepts).
    if let Some(pkl) = names
        .iter()
        .filter(|n| *n == &"data.pkl" || n.ends_with("/data.pkl"))
        .min_by_key(|n| n.len())
    {
        let prefix = pkl.trim_end_matches("data.pkl").to_string();
        let constants = format!("{prefix}constants.pkl");
        let code = format!("{prefix}code/");
        if names
            .iter()
            .any(|n| *n == constants || n.starts_with(&code))
        {
            return Ok(ZipKind::Torchscript(prefix));
        }
        return Ok(ZipKind::Pytorch(prefix));
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
