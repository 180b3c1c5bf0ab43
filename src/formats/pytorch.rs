//! PyTorch checkpoints (.pt/.pth/.bin): torch.save's zip format and the legacy stream
//! format, read with the restricted unpickler in [`super::pickle`] (nothing is executed).
//!
//! Zip (torch >= 1.6): `<archive>/data.pkl` is the pickled object; each storage is the
//! record `<archive>/data/<key>`; `<archive>/byteorder` says "little" or "big".
//! Legacy: five things in a row: a pickled magic number, a pickled protocol version, a
//! pickled dict of system info (endianness), the pickled object, a pickled list of
//! storage keys; then, for each key in that order, an 8-byte element count and the
//! storage's raw bytes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;

use super::index::{checked_numel, zip_kind, Deflated, Entry, Layout, Part, ZipKind};
use super::model::{Format, Model};
use super::pickle::{self, Heap, Id, Obj, StorageRef, TensorRef};
use super::source::{check_range, ByteSource, SourceReader};
use super::view::View;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The legacy format's first pickle: protocol 2, then LONG1 of 10 bytes holding the
/// magic number 0x1950a86a20f9469cfc6c.
const LEGACY_HEAD: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
const LEGACY_PROTOCOL: i64 = 1001;

pub fn is_legacy(bytes: &[u8]) -> bool {
    bytes.starts_with(LEGACY_HEAD)
}

/// Nesting deeper than this in a checkpoint's containers is refused (real checkpoints
/// nest a few levels: {"model": {"layer.weight": tensor}}).
const MAX_DEPTH: usize = 64;

pub fn read(bytes: &[u8], name: &str) -> Result<Model> {
    if is_legacy(bytes) {
        return read_legacy(bytes);
    }
    match zip_kind(bytes, name)? {
        ZipKind::Pytorch(prefix) => read_zip(bytes, name, &prefix),
        // Dispatched by `open` to the TorchScript reader, which builds on this one.
        ZipKind::Torchscript(_) => Err(Error::Pytorch(format!(
            "`{name}` is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; open it with formats::open"
        ))),
        ZipKind::Npz => Err(Error::Pytorch(format!(
            "`{name}` is a zip archive without a data.pkl record"
        ))),
    }
}

/// Where a storage's bytes are and in which byte order.
pub(crate) struct StorageBytes<'a> {
    pub by_key: HashMap<String, std::borrow::Cow<'a, [u8]>>,
    pub big_endian: bool,
}

fn read_zip(bytes: &[u8], name: &str, prefix: &str) -> Result<Model> {
    let zerr = |reason: String| Error::Zip {
        name: name.to_string(),
        reason,
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| zerr(e.to_string()))?;
    let mut member = |path: &str| -> Result<Option<Vec<u8>>> {
        let mut entry = match zip.by_name(path) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(zerr(format!("record `{path}`: {e}"))),
        };
        // torch stores records uncompressed; a compressed one may claim any size: it is
        // refused when it claims more than deflate can produce from its compressed size.
        let what = format!("zip `{name}`: record `{path}`");
        super::zipped::read_member(&what, &mut entry, bytes.len() as u64).map(Some)
    };
    let pkl = member(&format!("{prefix}data.pkl"))?.expect("zip_kind found data.pkl");
    if pkl.starts_with(b"PK\x03\x04") {
        return Err(Error::NestedArchive {
            outer: name.to_string(),
            member: format!("{prefix}data.pkl"),
        });
    }
    let big_endian = match member(&format!("{prefix}byteorder"))? {
        None => false, // written only since torch 1.12; earlier files are little-endian
        Some(b) if b == b"little" => false,
        Some(b) if b == b"big" => true,
        Some(b) => {
            return Err(Error::Pytorch(format!(
                "byteorder record says `{}`; expected `little` or `big`",
                String::from_utf8_lossy(&b)
            )))
        }
    };
    let mut storages: Vec<StorageRef> = Vec::new();
    let (heap, root, _) = pickle::load(&pkl, &mut |heap: &Heap, pid: Id| {
        let s = pickle::storage_from_pid(heap, pid)?;
        storages.push(s.clone());
        Ok(Obj::Storage(s))
    })?;
    let mut by_key = HashMap::new();
    for s in &storages {
        if by_key.contains_key(&s.key) {
            continue;
        }
        let path = format!("{prefix}data/{}", s.key);
        let raw = member(&path)?.ok_or_else(|| {
            Error::Pytorch(format!(
                "storage `{}` is missing: the archive has no record `{path}`",
                s.key
            ))
        })?;
        by_key.insert(s.key.clone(), std::borrow::Cow::Owned(raw));
    }
    let data = StorageBytes { by_key, big_endian };
    build(&heap, root, &data, bytes.len())
}

fn read_legacy(bytes: &[u8]) -> Result<Model> {
    let mut pos = 0;
    let mut next = |what: &str, pid: &mut pickle::PersistentLoad| -> Result<(Heap, Id)> {
        let (heap, root, used) = pickle::load(&bytes[pos..], pid)
            .map_err(|e| Error::Pytorch(format!("legacy checkpoint, {what}: {e}")))?;
        pos += used;
        Ok((heap, root))
    };
    let mut no_pid = |_: &Heap, _: Id| -> Result<Obj> {
        Err(Error::Pickle(
            "a persistent id where none belongs (the header pickles)".into(),
        ))
    };
    next("magic number", &mut no_pid)?;
    let (h, v) = next("protocol version", &mut no_pid)?;
    if h.get(v) != &Obj::Int(LEGACY_PROTOCOL) {
        return Err(Error::Pytorch(format!(
            "legacy checkpoint protocol version is {:?}; only {LEGACY_PROTOCOL} exists",
            h.get(v)
        )));
    }
    let (h, info) = next("system info", &mut no_pid)?;
    let big_endian = match h.get(info) {
        Obj::Dict(items) => items
            .iter()
            .find(|(k, _)| h.str(*k) == Some("little_endian"))
            .map(|(_, v)| h.get(*v) == &Obj::Bool(false))
            .unwrap_or(false),
        _ => false,
    };
    let mut storages: HashMap<String, StorageRef> = HashMap::new();
    let (heap, root) = next("the saved object", &mut |heap: &Heap, pid: Id| {
        let s = pickle::storage_from_pid(heap, pid)?;
        storages.entry(s.key.clone()).or_insert_with(|| s.clone());
        Ok(Obj::Storage(s))
    })?;
    let (kh, keys) = next("storage keys", &mut no_pid)?;
    let Obj::List(keys) = kh.get(keys) else {
        return Err(Error::Pytorch(
            "legacy checkpoint: the storage key list is not a list".into(),
        ));
    };
    let mut by_key = HashMap::new();
    for &k in keys {
        let key = kh.str(k).ok_or_else(|| {
            Error::Pytorch("legacy checkpoint: a storage key is not a string".into())
        })?;
        let s = storages.get(key).ok_or_else(|| {
            Error::Pytorch(format!(
                "legacy checkpoint lists storage `{key}`, which no tensor uses (its element size is unknown)"
            ))
        })?;
        let head = bytes.get(pos..pos + 8).ok_or_else(|| {
            Error::Pytorch(format!(
                "legacy checkpoint is truncated before storage `{key}`"
            ))
        })?;
        let head: [u8; 8] = head.try_into().expect("8");
        let numel = if big_endian {
            u64::from_be_bytes(head)
        } else {
            u64::from_le_bytes(head)
        };
        pos += 8;
        let len = numel
            .checked_mul(s.dtype.size() as u64)
            .filter(|&n| n <= (bytes.len() - pos) as u64)
            .ok_or_else(|| {
                Error::Pytorch(format!(
                    "legacy checkpoint: storage `{key}` says it holds {numel} elements of {}, more than the {} bytes left in the file",
                    s.dtype,
                    bytes.len() - pos
                ))
            })? as usize;
        by_key.insert(
            key.to_string(),
            std::borrow::Cow::Borrowed(&bytes[pos..pos + len]),
        );
        pos += len;
    }
    let data = StorageBytes { by_key, big_endian };
    build(&heap, root, &data, bytes.len())
}

/// Walks the unpickled object and turns every tensor in it into a [`Tensor`] named by
/// its path of dict keys and list indices; scalar leaves become metadata.
fn build(heap: &Heap, root: Id, data: &StorageBytes, file_len: usize) -> Result<Model> {
    let mut tensors = Vec::new();
    let mut metadata = BTreeMap::new();
    let mut seen = HashSet::new();
    walk(
        heap,
        root,
        String::new(),
        0,
        &mut seen,
        &mut |path, id| match heap.get(id) {
            Obj::Tensor(_) => {
                tensors.push(materialize(heap, id, path, data, file_len)?);
                Ok(())
            }
            Obj::Int(i) => {
                metadata.insert(path, i.to_string());
                Ok(())
            }
            Obj::Float(f) => {
                metadata.insert(path, f.to_string());
                Ok(())
            }
            Obj::Bool(b) => {
                metadata.insert(path, b.to_string());
                Ok(())
            }
            Obj::Str(s) if s.len() <= 256 => {
                metadata.insert(path, s.clone());
                Ok(())
            }
            _ => Ok(()),
        },
    )?;
    if tensors.is_empty() {
        return Err(Error::Pytorch(format!(
            "the checkpoint holds no tensors (its top-level object is {})",
            pickle::kind(heap.get(root))
        )));
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Model::new(Format::Pytorch, tensors, metadata))
}

pub(crate) fn walk(
    heap: &Heap,
    id: Id,
    path: String,
    depth: usize,
    seen: &mut HashSet<Id>,
    leaf: &mut dyn FnMut(String, Id) -> Result<()>,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::Pytorch(format!(
            "containers nest deeper than {MAX_DEPTH} levels at `{path}`"
        )));
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match heap.get(id) {
        Obj::Dict(items) => {
            if !seen.insert(id) {
                return Ok(()); // the same dict reached twice (or a cycle): once is enough
            }
            for (k, v) in items {
                let key = match heap.get(*k) {
                    Obj::Str(s) => s.clone(),
                    Obj::Int(i) => i.to_string(),
                    other => pickle::kind(other).to_string(),
                };
                walk(heap, *v, join(&key), depth + 1, seen, leaf)?;
            }
            Ok(())
        }
        Obj::List(items) | Obj::Tuple(items) => {
            if !seen.insert(id) {
                return Ok(());
            }
            for (i, v) in items.iter().enumerate() {
                walk(heap, *v, join(&i.to_string()), depth + 1, seen, leaf)?;
            }
            Ok(())
        }
        _ => leaf(path, id),
    }
}

impl View {
    /// The tensor's view of storage `s` (of `storage_len` bytes), checked: every element
    /// it touches lies in the storage, and it has no more elements than the file could
    /// describe. Returns the view rebased to the first byte it touches, and that byte
    /// range of the storage.
    fn checked(
        t: &TensorRef,
        s: &StorageRef,
        name: &str,
        storage_len: usize,
        file_len: usize,
        big_endian: bool,
    ) -> Result<(View, std::ops::Range<u64>)> {
        let item = s.dtype.size();
        // Never allocate more than the file could describe (a stride-0 tensor could).
        let numel = checked_numel(name, &t.size, item, file_len)?;
        let out_of_range = |needed: String| Error::StorageOutOfRange {
            name: name.to_string(),
            key: s.key.clone(),
            needed,
            available: storage_len,
        };
        let start = s
            .view_offset
            .checked_add(t.offset)
            .ok_or_else(|| out_of_range("more than 2^64".into()))?;
        let mut range = 0..0;
        if numel > 0 {
            // The last element the view touches decides whether it fits in the storage.
            let mut last = start;
            for (&d, &st) in t.size.iter().zip(&t.stride) {
                last = (d - 1)
                    .checked_mul(st)
                    .and_then(|x| last.checked_add(x))
                    .ok_or_else(|| out_of_range("more than 2^64".into()))?;
            }
            let end = (last + 1)
                .checked_mul(item as u64)
                .ok_or_else(|| out_of_range("more than 2^64".into()))?;
            if end > storage_len as u64 {
                return Err(out_of_range(end.to_string()));
            }
            range = start * item as u64..end;
        }
        Ok((
            View {
                start: 0,
                size: t.size.clone(),
                stride: t.stride.clone(),
                item,
                big_endian,
            },
            range,
        ))
    }
}

/// Reads a tensor's elements out of its storage, following its offset and strides
/// (so non-contiguous tensors come out in row-major order).
pub(crate) fn materialize(
    heap: &Heap,
    id: Id,
    name: String,
    data: &StorageBytes,
    file_len: usize,
) -> Result<Tensor> {
    let (t, s) = tensor_and_storage(heap, id);
    let raw = data.by_key.get(&s.key).ok_or_else(|| {
        Error::Pytorch(format!("tensor `{name}`: storage `{}` has no data", s.key))
    })?;
    let (view, range) = View::checked(t, s, &name, raw.len(), file_len, data.big_endian)?;
    let contiguous = view.gather(&raw[range.start as usize..range.end as usize]);
    Ok(Tensor {
        shape: t.size.iter().map(|&d| d as usize).collect(),
        dtype: s.dtype,
        data: view.decode(&contiguous, s.dtype),
        name,
    })
}

fn tensor_and_storage(heap: &Heap, id: Id) -> (&TensorRef, &StorageRef) {
    let Obj::Tensor(t) = heap.get(id) else {
        unreachable!("called on tensors only")
    };
    let Obj::Storage(s) = heap.get(t.storage) else {
        unreachable!("checked by the unpickler")
    };
    (t, s)
}

/// Lists the tensors of a torch.save zip checkpoint without reading their storages:
/// the zip directory and data.pkl are read, and each tensor becomes an entry over the
/// bytes of its stored (uncompressed) storage record. `Ok(None)` when the archive is not
/// a checkpoint or a storage record is compressed, which only a whole read handles.
pub(crate) fn index_zip(src: &dyn ByteSource, name: &str) -> Result<Option<Part>> {
    let file_len = src.len() as usize;
    let zerr = |reason: String| Error::Zip {
        name: name.to_string(),
        reason,
    };
    let reader = std::io::BufReader::with_capacity(1 << 16, SourceReader::new(src));
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| zerr(e.to_string()))?;
    let Some(pkl_path) = zip
        .file_names()
        .filter(|n| *n == "data.pkl" || n.ends_with("/data.pkl"))
        .min_by_key(|n| n.len())
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let prefix = pkl_path.trim_end_matches("data.pkl").to_string();
    let mut small = |path: &str| -> Result<Option<Vec<u8>>> {
        let mut entry = match zip.by_name(path) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(zerr(format!("record `{path}`: {e}"))),
        };
        let what = format!("zip `{name}`: record `{path}`");
        super::zipped::read_member(&what, &mut entry, file_len as u64).map(Some)
    };
    let pkl = small(&pkl_path)?.unwrap_or_default();
    if pkl.starts_with(b"PK\x03\x04") {
        return Ok(None);
    }
    let big_endian = match small(&format!("{prefix}byteorder"))?.as_deref() {
        None | Some(b"little") => false,
        Some(b"big") => true,
        Some(_) => return Ok(None),
    };
    let (heap, root, _) = pickle::load(&pkl, &mut |heap: &Heap, pid: Id| {
        Ok(Obj::Storage(pickle::storage_from_pid(heap, pid)?))
    })?;
    // Where each storage record's bytes lie in the file: (start, size, compressed size
    // when deflated).
    let mut records: HashMap<String, Option<(u64, u64, Option<u64>)>> = HashMap::new();
    let mut entries = Vec::new();
    let mut metadata = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut failed: Option<Error> = None;
    walk(&heap, root, String::new(), 0, &mut seen, &mut |path, id| {
        match heap.get(id) {
            Obj::Tensor(_) => {
                let (t, s) = tensor_and_storage(&heap, id);
                let record = match records.get(&s.key) {
                    Some(r) => *r,
                    None => {
                        let rec = format!("{prefix}data/{}", s.key);
                        let raw = match zip.index_for_name(&rec) {
                            Some(i) => zip.by_index_raw(i),
                            None => Err(zip::result::ZipError::FileNotFound),
                        };
                        let r = match raw {
                            Ok(e) if e.compression() == zip::CompressionMethod::Stored => {
                                Some((e.data_start(), e.size(), None))
                            }
                            // A deflated record is inflated when its tensor is read, once
                            // per read; one that claims more than deflate can produce is
                            // refused now.
                            Ok(e)
                                if e.compression() == zip::CompressionMethod::Deflated
                                    && !e.encrypted() =>
                            {
                                let what = format!("zip `{name}`: record `{rec}`");
                                super::zipped::check_member(
                                    &what,
                                    e.compression(),
                                    e.compressed_size(),
                                    e.size(),
                                )?;
                                check_range(
                                    &what,
                                    e.data_start(),
                                    e.compressed_size(),
                                    file_len as u64,
                                )?;
                                Some((e.data_start(), e.size(), Some(e.compressed_size())))
                            }
                            Ok(_) => None,
                            Err(zip::result::ZipError::FileNotFound) => {
                                return Err(Error::Pytorch(format!(
                                    "storage `{}` is missing: the archive has no record `{rec}`",
                                    s.key
                                )))
                            }
                            Err(e) => return Err(zerr(format!("record `{rec}`: {e}"))),
                        };
                        records.insert(s.key.clone(), r);
                        r
                    }
                };
                let Some((at, len, deflated)) = record else {
                    failed = Some(Error::Pytorch("a compressed storage record".into()));
                    return Ok(());
                };
                let Ok(len_usize) = usize::try_from(len) else {
                    failed = Some(Error::Pytorch("a record too large for memory".into()));
                    return Ok(());
                };
                let bound = if deflated.is_some() {
                    len_usize
                } else {
                    file_len
                };
                let (view, range) = View::checked(t, s, &path, len_usize, bound, big_endian)?;
                let (offset, layout) = match deflated {
                    None => (at + range.start, Layout::Torch(view)),
                    Some(compressed) => (
                        range.start,
                        Layout::Deflated(Box::new(Deflated {
                            start: at,
                            compressed,
                            inflated: len,
                            inner: Layout::Torch(view),
                        })),
                    ),
                };
                entries.push(Entry {
                    shape: t.size.iter().map(|&d| d as usize).collect(),
                    dtype: s.dtype,
                    offset,
                    nbytes: range.end - range.start,
                    layout,
                    name: path,
                });
            }
            Obj::Int(i) => {
                metadata.insert(path, i.to_string());
            }
            Obj::Float(f) => {
                metadata.insert(path, f.to_string());
            }
            Obj::Bool(b) => {
                metadata.insert(path, b.to_string());
            }
            Obj::Str(s) if s.len() <= 256 => {
                metadata.insert(path, s.clone());
            }
            _ => {}
        }
        Ok(())
    })?;
    if failed.is_some() || entries.is_empty() {
        return Ok(None);
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(Part {
        format: Format::Pytorch,
        metadata,
        entries,
        gguf_kv: Vec::new(),
    }))
}
