//! The one way to open a model: [`ModelFile::open`] takes one file or several (shards
//! with or without their `.index.json`, GGUF splits, an ONNX model with its external
//! data files) from any [`ByteSource`] and is what the CLI, the wasm binding and the
//! writers use. Formats with a header that says where every tensor lies (safetensors,
//! GGUF, torch zips, .npy, stored .npz, ONNX external data) are listed from the header
//! and each tensor is read and decoded when asked for, so a 2 GB file opens at once and
//! analysing it holds about one tensor in memory; other files are decoded whole when
//! opened. Every file goes through the same shard and split rules either way.
//!
//! [`open`] reads one file already in memory (the per-format dispatch, by content);
//! [`open_many`] is [`ModelFile::open`] over files in memory, decoded whole.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::index::{
    check_gguf_splits, check_shards, describe_head, is_zip, read_index, zip_kind, Entry, Layout,
    Part, ZipKind,
};
use super::model::{
    Format, GraphSummary, Model, ModelInfo, OnnxSource, RawKv, StoredQuantization, TensorStore,
};
use super::source::{ByteSource, InMemory};
use super::{ggml_legacy, gguf, npy, onnx, pytorch, safetensors, tfjs, tflite, torchscript};
use crate::error::{Error, Result};
use crate::tensor::{Tensor, TensorInfo};

/// Tells the format from the first bytes of a file. A zip archive is an .npz or a
/// PyTorch checkpoint depending on what it holds, which [`open`] looks at; here any
/// zip is reported as [`Format::Npz`] unless its directory names a `data.pkl`.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(npy::NPY_MAGIC) {
        Some(Format::Npy)
    } else if bytes.starts_with(gguf::MAGIC) {
        Some(Format::Gguf)
    } else if ggml_legacy::looks_like(bytes) {
        Some(Format::Ggml)
    } else if is_zip(bytes) {
        match zip_kind(bytes, "") {
            Ok(ZipKind::Pytorch(_)) => Some(Format::Pytorch),
            Ok(ZipKind::Torchscript(_)) => Some(Format::Torchscript),
            _ => Some(Format::Npz),
        }
    } else if pytorch::is_legacy(bytes) {
        Some(Format::Pytorch)
    } else if tflite::looks_like(bytes) {
        Some(Format::Tflite)
    } else if tfjs::looks_like(bytes) {
        Some(Format::Tfjs)
    } else if safetensors::looks_like(bytes) {
        Some(Format::Safetensors)
    } else if onnx::looks_like(bytes) {
        Some(Format::Onnx)
    } else {
        None
    }
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
            ZipKind::Torchscript(_) => torchscript::read(bytes, name),
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
        // A lone model.json: the reader names the shards it needs.
        Some(Format::Tfjs) => tfjs::read(&[(name, bytes)]),
        Some(Format::Torchscript) => torchscript::read(bytes, name),
        Some(Format::Ggml) => ggml_legacy::read(bytes, name),
        None => Err(Error::UnknownFormat {
            name: name.to_string(),
            head: describe_head(bytes),
        }),
    }
}

/// Opens several files as one model, decoded whole: [`ModelFile::open`] over copies of
/// files in memory, every tensor then read. `files` are (file name, bytes); names
/// matter only for external data, the index and messages.
pub fn open_many(files: &[(&str, &[u8])]) -> Result<Model> {
    let sources: Vec<(String, Box<dyn ByteSource>)> = files
        .iter()
        .map(|(n, b)| {
            (
                n.to_string(),
                Box::new(InMemory(b.to_vec())) as Box<dyn ByteSource>,
            )
        })
        .collect();
    ModelFile::open(sources)?.into_model()
}

/// One file's share of a model: what its header (or its whole read) said, with what
/// only a whole read gives (an ONNX graph, TFLite's stored quantization).
struct Piece {
    name: String,
    part: Part,
    graph: Option<GraphSummary>,
    quantization: BTreeMap<String, StoredQuantization>,
}

impl Piece {
    /// A model decoded whole: its tensors held in memory.
    fn decoded(name: &str, model: Model) -> Piece {
        let entries = model.tensors.into_iter().map(Entry::decoded).collect();
        Piece {
            name: name.to_string(),
            part: Part {
                format: model.format,
                metadata: model.metadata,
                entries,
                gguf_kv: Vec::new(),
            },
            graph: model.graph,
            quantization: model.quantization,
        }
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
        // broken is read whole, which names its problem the way `open` does.
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

/// All of a file's bytes (files the formats can only read whole).
fn whole<'a>(name: &str, src: &'a dyn ByteSource) -> Result<Cow<'a, [u8]>> {
    let len = usize::try_from(src.len())
        .map_err(|_| Error::Invalid(format!("{name}: {} bytes do not fit in memory", src.len())))?;
    src.read_at(0, len)
}

/// A model opened from its files (see the module documentation).
pub struct ModelFile {
    format: Format,
    metadata: BTreeMap<String, String>,
    graph: Option<GraphSummary>,
    quantization: BTreeMap<String, StoredQuantization>,
    /// The model's GGUF metadata entries as encoded: split 0's (the other splits hold
    /// little more than split.*).
    gguf_kv: Vec<RawKv>,
    /// The files, by name; None where nothing is read from a file after opening (its
    /// tensors were decoded), so that its bytes are let go.
    sources: Vec<(String, Option<Box<dyn ByteSource>>)>,
    /// For an ONNX model, which source is the model file (the writer rewrites it).
    onnx_main: Option<usize>,
    /// Each tensor, with the source it is read from.
    entries: Vec<(usize, Entry)>,
    by_name: HashMap<String, usize>,
}

impl ModelFile {
    /// Opens one file, or several as one model (shards with or without their
    /// `.index.json`; GGUF splits, in any order; an ONNX model with its external data
    /// files); `files` are (file name, source).
    pub fn open(files: Vec<(String, Box<dyn ByteSource>)>) -> Result<ModelFile> {
        if files.is_empty() {
            return Err(Error::Shard("no files given".into()));
        }
        for (name, src) in &files {
            if src.is_empty() {
                return Err(Error::EmptyFile(name.clone()));
            }
        }
        // A TF.js model.json (or weights manifest) among them: the others are its weight
        // shards, whose bytes are no format of their own (and may look like one).
        if let Some(main) = Self::tfjs_manifest(&files)? {
            return Self::open_tfjs(files, main);
        }
        // ONNX has no magic number: tell it the way `detect` does, after the formats
        // that have one (the first 16 bytes are all any of those checks read).
        let onnx_files = files
            .iter()
            .map(|(_, s)| {
                let head = s.read_at(0, s.len().min(16) as usize)?;
                Ok(detect(&head) == Some(Format::Onnx))
            })
            .collect::<Result<Vec<bool>>>()?;
        let onnx: Vec<usize> = (0..files.len()).filter(|&i| onnx_files[i]).collect();
        match onnx[..] {
            [] => Self::open_parts(files),
            [main] => Self::open_onnx(files, main),
            _ => Err(Error::Shard(format!(
                "{} ONNX models given ({}); open one at a time, with its external data files",
                onnx.len(),
                onnx.iter()
                    .map(|&i| files[i].0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Which file is a TF.js manifest: one named as TF.js names them, or a JSON file
    /// (by its first byte) that holds a `weightsManifest`. Shards are not read for this.
    fn tfjs_manifest(files: &[(String, Box<dyn ByteSource>)]) -> Result<Option<usize>> {
        for (i, (name, src)) in files.iter().enumerate() {
            if tfjs::is_manifest_name(name) {
                return Ok(Some(i));
            }
            let head = src.read_at(0, src.len().min(16) as usize)?;
            let text = head.trim_ascii_start();
            if (text.starts_with(b"{") || text.starts_with(b"["))
                && !name.ends_with(".index.json")
                && tfjs::looks_like(&whole(name, &**src)?)
            {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// A TF.js model: the manifest and its shards read whole and decoded.
    fn open_tfjs(files: Vec<(String, Box<dyn ByteSource>)>, main: usize) -> Result<ModelFile> {
        let bytes = files
            .iter()
            .map(|(n, s)| whole(n, &**s))
            .collect::<Result<Vec<_>>>()?;
        let named: Vec<(&str, &[u8])> = files
            .iter()
            .zip(&bytes)
            .map(|((n, _), b)| (n.as_str(), &**b))
            .collect();
        let piece = Piece::decoded(&files[main].0, tfjs::read(&named)?);
        let entries = piece.part.entries.into_iter().map(|e| (main, e)).collect();
        Ok(ModelFile::new(
            piece.part.format,
            piece.part.metadata,
            piece.graph,
            piece.quantization,
            Vec::new(),
            files.into_iter().map(|(n, _)| (n, None)).collect(),
            None,
            entries,
        ))
    }

    /// An ONNX model, with its external data files if any: the model file is read whole
    /// and its inline tensors decoded; tensors in the data files are read when asked
    /// for (a model over protobuf's 2 GiB must keep its weights there, so this is how
    /// large ONNX models come). Every file is kept: the ONNX writer rewrites them.
    fn open_onnx(files: Vec<(String, Box<dyn ByteSource>)>, main: usize) -> Result<ModelFile> {
        let (main_name, main_src) = &files[main];
        let bytes = whole(main_name, &**main_src)?.into_owned();
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
            .map(|t| match deferred.get(&t.name) {
                Some(r) => (
                    others[r.file],
                    Entry {
                        name: t.name,
                        shape: t.shape,
                        dtype: t.dtype,
                        offset: r.offset,
                        nbytes: r.length,
                        layout: Layout::Plain,
                    },
                ),
                None => (main, Entry::decoded(t)),
            })
            .collect();
        Ok(ModelFile::new(
            Format::Onnx,
            model.metadata,
            model.graph,
            model.quantization,
            Vec::new(),
            files.into_iter().map(|(n, s)| (n, Some(s))).collect(),
            Some(main),
            entries,
        ))
    }

    /// Files of one format (not ONNX): each listed from its header where it has one,
    /// else decoded whole, then joined by the shard and split rules.
    fn open_parts(files: Vec<(String, Box<dyn ByteSource>)>) -> Result<ModelFile> {
        let mut weight_map = None;
        let mut pieces: Vec<(Piece, Box<dyn ByteSource>)> = Vec::new();
        for (name, src) in files {
            if name.ends_with(".index.json") {
                if weight_map.is_some() {
                    return Err(Error::Shard("more than one .index.json given".into()));
                }
                weight_map = Some(read_index(&name, &whole(&name, &*src)?)?);
                continue;
            }
            let piece = match index_part(&name, &*src)? {
                Some(part) => Piece {
                    name: name.clone(),
                    part,
                    graph: None,
                    quantization: BTreeMap::new(),
                },
                None => Piece::decoded(&name, open(&whole(&name, &*src)?, &name)?),
            };
            pieces.push((piece, src));
        }
        let Some(format) = pieces.first().map(|(p, _)| p.part.format) else {
            return Err(Error::Shard(
                "only an index file was given; give the shards it lists too".into(),
            ));
        };
        if let Some((p, _)) = pieces.iter().find(|(p, _)| p.part.format != format) {
            return Err(Error::Shard(format!(
                "`{}` is {:?} but the other files are {format:?}; shards must share one format",
                p.name, p.part.format
            )));
        }
        let names: Vec<(&str, Vec<&str>)> = pieces
            .iter()
            .map(|(p, _)| {
                (
                    p.name.as_str(),
                    p.part.entries.iter().map(|e| e.name.as_str()).collect(),
                )
            })
            .collect();
        check_shards(weight_map.as_ref(), &names)?;
        if format == Format::Gguf {
            let metas: Vec<(&str, &BTreeMap<String, String>)> = pieces
                .iter()
                .map(|(p, _)| (p.name.as_str(), &p.part.metadata))
                .collect();
            check_gguf_splits(&metas)?;
            order_gguf_splits(&mut pieces)?;
        }
        let shards = pieces.len();
        let gguf_kv = pieces
            .first()
            .map(|(p, _)| p.part.gguf_kv.clone())
            .unwrap_or_default();
        let (mut metadata, mut quantization, mut graph) = (BTreeMap::new(), BTreeMap::new(), None);
        let mut entries = Vec::new();
        let mut sources = Vec::new();
        for (i, (piece, src)) in pieces.into_iter().enumerate() {
            // The first file's value wins: GGUF split 0 holds the model's metadata.
            for (k, v) in piece.part.metadata {
                metadata.entry(k).or_insert(v);
            }
            quantization.extend(piece.quantization);
            graph = graph.or(piece.graph);
            let lazy = piece
                .part
                .entries
                .iter()
                .any(|e| !matches!(e.layout, Layout::Memory(_)));
            entries.extend(piece.part.entries.into_iter().map(|e| (i, e)));
            sources.push((piece.name, lazy.then_some(src)));
        }
        if shards > 1 {
            metadata.insert("shards".into(), shards.to_string());
            // Shards of a checkpoint list as one model in name order; GGUF splits in the
            // order of their split numbers (blk.0, blk.1, ...).
            if format != Format::Gguf {
                entries.sort_by(|a, b| a.1.name.cmp(&b.1.name));
            }
        }
        Ok(ModelFile::new(
            format,
            metadata,
            graph,
            quantization,
            gguf_kv,
            sources,
            None,
            entries,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        format: Format,
        metadata: BTreeMap<String, String>,
        graph: Option<GraphSummary>,
        quantization: BTreeMap<String, StoredQuantization>,
        gguf_kv: Vec<RawKv>,
        sources: Vec<(String, Option<Box<dyn ByteSource>>)>,
        onnx_main: Option<usize>,
        entries: Vec<(usize, Entry)>,
    ) -> ModelFile {
        let by_name = entries
            .iter()
            .enumerate()
            .map(|(i, (_, e))| (e.name.clone(), i))
            .collect();
        ModelFile {
            format,
            metadata,
            graph,
            quantization,
            gguf_kv,
            sources,
            onnx_main,
            entries,
            by_name,
        }
    }

    /// Bytes of decoded values this model keeps in memory (a model read whole, ONNX
    /// tensors stored inside the model file), other than those of tensor `except`: what
    /// a memory budget must leave to it.
    pub fn resident_bytes(&self, except: &str) -> u64 {
        self.entries
            .iter()
            .filter(|(_, e)| e.name != except)
            .map(|(_, e)| match &e.layout {
                Layout::Memory(t) => t.data.len() as u64 * 4,
                _ => 0,
            })
            .sum()
    }

    /// True when tensors are read from the file on demand rather than held decoded.
    pub fn is_lazy(&self) -> bool {
        self.entries
            .iter()
            .any(|(_, e)| !matches!(e.layout, Layout::Memory(_)))
    }

    /// Every tensor read and decoded: the [`Model`] of the same files.
    pub fn into_model(self) -> Result<Model> {
        let tensors = self
            .entries
            .iter()
            .map(|(_, e)| self.load(&e.name).map(Cow::into_owned))
            .collect::<Result<Vec<_>>>()?;
        Ok(Model {
            format: self.format,
            tensors,
            metadata: self.metadata,
            graph: self.graph,
            quantization: self.quantization,
        })
    }
}

/// GGUF splits in the order of their `split.no` (files may be given in any order):
/// every file of a split model must carry a distinct number below `split.count`.
/// Files without split metadata keep the order they were given in.
fn order_gguf_splits<T>(pieces: &mut [(Piece, T)]) -> Result<()> {
    if pieces
        .iter()
        .all(|(p, _)| !p.part.metadata.contains_key("split.no"))
    {
        return Ok(());
    }
    let mut numbers = Vec::with_capacity(pieces.len());
    for (p, _) in pieces.iter() {
        let no = p
            .part
            .metadata
            .get("split.no")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n < pieces.len())
            .ok_or_else(|| {
                Error::Shard(format!(
                    "`{}` has no split.no between 0 and {} but the other GGUF files are splits",
                    p.name,
                    pieces.len() - 1
                ))
            })?;
        if let Some(first) = numbers.iter().position(|&n| n == no) {
            return Err(Error::Shard(format!(
                "`{}` and `{}` are both GGUF split {no}",
                pieces[first].0.name, p.name
            )));
        }
        numbers.push(no);
    }
    pieces.sort_by_key(|(p, _)| p.part.metadata["split.no"].parse::<usize>().unwrap_or(0));
    Ok(())
}

impl TensorStore for ModelFile {
    fn info(&self) -> ModelInfo {
        ModelInfo::new(
            self.format,
            self.entries.iter().map(|(_, e)| e.info()).collect(),
            self.metadata.clone(),
            self.graph.clone(),
            self.quantization.clone(),
        )
    }

    fn gguf_metadata(&self) -> &[RawKv] {
        &self.gguf_kv
    }

    fn tensor_info(&self, name: &str) -> Option<TensorInfo> {
        self.by_name.get(name).map(|&i| self.entries[i].1.info())
    }

    fn read_extra(&self, name: &str) -> u64 {
        let Some(&i) = self.by_name.get(name) else {
            return 0;
        };
        let (src, e) = &self.entries[i];
        let borrows = self.sources[*src].1.as_deref().is_some_and(|s| s.borrows());
        let copied = |n: u64| if borrows { 0 } else { n };
        match &e.layout {
            Layout::Plain => copied(e.nbytes),
            // A view is gathered into a contiguous copy.
            Layout::Torch(_) => copied(e.nbytes) + e.nbytes,
            // Held decoded: borrowed, nothing read.
            Layout::Memory(_) => 0,
            // The compressed bytes, the member inflated past the header, and a gathered
            // copy of a torch view.
            Layout::Deflated(z) => {
                copied(z.compressed)
                    + z.inflated.saturating_sub(e.offset)
                    + if matches!(z.inner, Layout::Torch(_)) {
                        e.nbytes
                    } else {
                        0
                    }
            }
        }
    }

    fn load(&self, name: &str) -> Result<Cow<'_, Tensor>> {
        let &i = self
            .by_name
            .get(name)
            .ok_or_else(|| Error::NoSuchTensor(name.to_string()))?;
        let (src, entry) = &self.entries[i];
        if let Layout::Memory(t) = &entry.layout {
            return Ok(Cow::Borrowed(t.as_ref()));
        }
        let src = self.sources[*src].1.as_deref().ok_or_else(|| {
            Error::Invalid(format!("tensor `{name}`: its file was not kept open"))
        })?;
        entry.load(src).map(Cow::Owned)
    }

    fn onnx_source(&self) -> Result<Option<OnnxSource<'_>>> {
        let Some(main) = self.onnx_main else {
            return Ok(None);
        };
        let file = |i: usize| -> Result<(&str, &dyn ByteSource)> {
            let (name, src) = &self.sources[i];
            let src = src
                .as_deref()
                .ok_or_else(|| Error::Invalid(format!("{name}: the file was not kept open")))?;
            Ok((name.as_str(), src))
        };
        let (name, src) = file(main)?;
        let external = (0..self.sources.len())
            .filter(|&i| i != main)
            .map(file)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(OnnxSource {
            model: whole(name, src)?,
            external,
        }))
    }
}
