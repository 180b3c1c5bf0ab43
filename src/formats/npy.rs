//! NumPy .npy (one array) and .npz (a zip of .npy files, stored or deflated).
//! Header parsing and element decoding are the `npyz` crate's; the zip is the `zip` crate's.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use half::f16;
use ndarray::{ArrayD, IxDyn};
use npyz::{NpyFile, NpyHeader, Order, TypeChar};

use super::index::{checked_numel, Deflated, Entry, Layout, Part};
use super::model::{Format, Model};
use super::source::{check_range, ByteSource, SourceReader};
use super::zipped;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

pub const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Deepest bracket nesting accepted in an .npy header (see `precheck_shape`).
const MAX_HEADER_NESTING: usize = 8;

/// Reads a lone .npy file; the tensor is named after the file, without extension.
pub fn read_npy(bytes: &[u8], file_name: &str) -> Result<Model> {
    let tensor = read_array(bytes, array_name(file_name))?;
    Ok(Model::new(Format::Npy, vec![tensor], BTreeMap::new()))
}

/// The array an .npz member holds (its name without `.npy`); nested archives and other
/// members are refused by name.
fn array_of_member<'a>(member: &'a str, archive: &str) -> Result<&'a str> {
    if member.ends_with(".zip") || member.ends_with(".npz") {
        return Err(Error::NestedArchive {
            outer: archive.to_string(),
            member: member.to_string(),
        });
    }
    member
        .strip_suffix(".npy")
        .ok_or_else(|| Error::Npz(format!("member `{member}` is not an .npy array")))
}

fn array_name(file_name: &str) -> &str {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    base.strip_suffix(".npy").unwrap_or(base)
}

/// Lists a lone .npy from its header, for [`super::lazy`]: the array is read when it is
/// asked for. `None` (read whole) where the data cannot be used in place: Fortran order,
/// big-endian, bool (npyz checks each byte is 0 or 1).
pub(crate) fn index_npy(src: &dyn ByteSource, file_name: &str) -> Result<Option<Part>> {
    let name = array_name(file_name);
    Ok(index_array(src, 0, src.len(), name)?.map(|entry| Part {
        format: Format::Npy,
        metadata: BTreeMap::new(),
        entries: vec![entry],
        gguf_kv: Vec::new(),
    }))
}

/// An .npy header inflated for listing is read only this far; numpy itself refuses
/// headers over 10 000 bytes unless told otherwise (`max_header_size`).
const MAX_LISTED_HEADER: usize = 1 << 16;

/// Lists an .npz from the zip directory and each member's .npy header: stored members
/// (`np.savez`) are read in place, deflated ones (`np.savez_compressed`) are inflated
/// only as far as their header now and whole, once, when the tensor is read. A member
/// declaring more than deflate can produce from its compressed size is refused here,
/// before anything is inflated. `None` (read whole) when a member cannot be used in
/// place (Fortran order, big-endian, bool, encrypted); errors are those of [`read_npz`].
pub(crate) fn index_npz(src: &dyn ByteSource, archive: &str) -> Result<Option<Part>> {
    let reader = std::io::BufReader::with_capacity(1 << 16, SourceReader::new(src));
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| Error::Npz(e.to_string()))?;
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| Error::Npz(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let member = entry.name().to_string();
        let name = array_of_member(&member, archive)?;
        if entry.encrypted() {
            return Ok(None);
        }
        let method = entry.compression();
        if method == zip::CompressionMethod::Deflated {
            let what = format!("npz: member `{member}`");
            let (start, csize, declared) =
                (entry.data_start(), entry.compressed_size(), entry.size());
            check_range(&what, start, csize, src.len())?;
            zipped::check_member(&what, method, csize, declared)?;
            drop(entry);
            match index_deflated(src, start, csize, declared, name, &what)? {
                Some(e) => entries.push(e),
                None => return Ok(None),
            }
            continue;
        }
        if method != zip::CompressionMethod::Stored {
            return Ok(None);
        }
        let (start, size) = (entry.data_start(), entry.compressed_size());
        check_range(&format!("member `{member}`"), start, size, src.len())?;
        let magic = src.read_at(start, size.min(NPY_MAGIC.len() as u64) as usize)?;
        if magic.starts_with(b"PK") {
            return Ok(None); // a nested archive: read_npz names it
        }
        if !magic.starts_with(NPY_MAGIC) {
            return Err(Error::Npz(format!(
                "member `{member}` does not start with the .npy magic"
            )));
        }
        match index_array(src, start, size, name)? {
            Some(e) => entries.push(e),
            None => return Ok(None),
        }
    }
    if entries.is_empty() {
        return Err(Error::Npz("the archive holds no arrays".into()));
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(Part {
        format: Format::Npz,
        metadata: BTreeMap::new(),
        entries,
        gguf_kv: Vec::new(),
    }))
}

/// The array in a deflated member (compressed bytes `[start, start + csize)`, `declared`
/// bytes inflated), from its header alone, inflated no further than the header.
fn index_deflated(
    src: &dyn ByteSource,
    start: u64,
    csize: u64,
    declared: u64,
    name: &str,
    what: &str,
) -> Result<Option<Entry>> {
    let total = usize::try_from(declared).map_err(|_| Error::Npy {
        name: name.to_string(),
        reason: format!("{declared} bytes do not fit in this machine's memory"),
    })?;
    let mut reader = SourceReader::new(src);
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(start))
        .map_err(|e| Error::Npz(format!("{what}: {e}")))?;
    let compressed = std::io::BufReader::with_capacity(1 << 14, reader.take(csize));
    let limit = total.min(MAX_LISTED_HEADER);
    let head = zipped::inflate_prefix(what, compressed, limit)?;
    if head.starts_with(b"PK") {
        return Ok(None); // a nested archive: read_npz names it
    }
    if !head.starts_with(NPY_MAGIC) {
        return Err(Error::Npz(format!(
            "{what} does not start with the .npy magic"
        )));
    }
    let Some(header_len) = header_len(&head) else {
        return Ok(None); // too short to hold a header: the whole read says why
    };
    if header_len > head.len() {
        return Ok(None); // a header longer than is listed: read whole
    }
    let h = parse_header(&head[..header_len], total, name)?;
    if h.order != Order::C || !h.little_endian || h.dtype == DType::Bool {
        return Ok(None);
    }
    let numel: u64 = h.shape.iter().product();
    Ok(Some(Entry {
        name: name.to_string(),
        shape: h.shape.iter().map(|&d| d as usize).collect(),
        dtype: h.dtype,
        offset: h.data_offset as u64,
        nbytes: numel * h.dtype.size() as u64,
        layout: Layout::Deflated(Box::new(Deflated {
            start,
            compressed: csize,
            inflated: declared,
            inner: Layout::Plain,
        })),
    }))
}

/// Magic, version, then the header length (2 bytes in version 1, 4 after): the bytes
/// before the data, or None when `pre` is too short to say.
fn header_len(pre: &[u8]) -> Option<usize> {
    match pre.get(6) {
        Some(1) => pre
            .get(8..10)
            .map(|b| 10 + u16::from_le_bytes([b[0], b[1]]) as usize),
        _ => pre
            .get(8..12)
            .map(|b| 12 + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
    }
}

/// The array stored in bytes `[start, start + len)` of `src`, from its header alone,
/// when its data can be decoded in place (C order, little-endian, not bool).
fn index_array(src: &dyn ByteSource, start: u64, len: u64, name: &str) -> Result<Option<Entry>> {
    let total = usize::try_from(len).map_err(|_| Error::Npy {
        name: name.to_string(),
        reason: format!("{len} bytes do not fit in this machine's memory"),
    })?;
    // Magic, version, then the header length (2 bytes in version 1, 4 after).
    let pre = src.read_at(start, total.min(12))?;
    let header_len = header_len(&pre);
    let head = src.read_at(start, header_len.unwrap_or(0).clamp(pre.len(), total))?;
    let h = parse_header(&head, total, name)?;
    if h.order != Order::C || !h.little_endian || h.dtype == DType::Bool {
        return Ok(None);
    }
    let numel: u64 = h.shape.iter().product();
    Ok(Some(Entry {
        name: name.to_string(),
        shape: h.shape.iter().map(|&d| d as usize).collect(),
        dtype: h.dtype,
        offset: start + h.data_offset as u64,
        nbytes: numel * h.dtype.size() as u64,
        layout: Layout::Plain,
    }))
}

/// Reads every array of an .npz archive. Each member is inflated only up to the size
/// its zip entry declares and never beyond what its own .npy header justifies.
pub fn read_npz(bytes: &[u8], archive: &str) -> Result<Model> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Error::Npz(e.to_string()))?;
    let mut tensors = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| Error::Npz(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let member = entry.name().to_string();
        let name = array_of_member(&member, archive)?;
        let name = name.to_string();
        // A deflated member can claim any size: refused when it claims more than deflate
        // can produce from its compressed bytes, else inflated once to what it claims.
        let raw = zipped::read_member(
            &format!("npz: member `{member}`"),
            &mut entry,
            bytes.len() as u64,
        )?;
        if raw.starts_with(b"PK\x03\x04") || raw.starts_with(b"PK\x05\x06") {
            return Err(Error::NestedArchive {
                outer: archive.to_string(),
                member,
            });
        }
        if !raw.starts_with(NPY_MAGIC) {
            return Err(Error::Npz(format!(
                "member `{member}` does not start with the .npy magic"
            )));
        }
        tensors.push(read_array(&raw, &name)?);
    }
    if tensors.is_empty() {
        return Err(Error::Npz("the archive holds no arrays".into()));
    }
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Model::new(Format::Npz, tensors, BTreeMap::new()))
}

/// What an .npy header says about its array.
struct ArrayHeader {
    header: NpyHeader,
    dtype: DType,
    shape: Vec<u64>,
    order: Order,
    /// Stored little-endian (or in single bytes, where order does not matter).
    little_endian: bool,
    /// Bytes before the data: magic, version, header length and the header text.
    data_offset: usize,
}

/// Parses the header at the start of `head` (which holds at least the header; the
/// whole array is `total_len` bytes) and checks that the shape fits in what follows it.
fn parse_header(head: &[u8], total_len: usize, name: &str) -> Result<ArrayHeader> {
    let err = |reason: String| Error::Npy {
        name: name.to_string(),
        reason,
    };
    precheck_shape(head, total_len, name)?;
    let mut rest: &[u8] = head;
    let header = NpyHeader::from_reader(&mut rest).map_err(|e| err(format!("bad header: {e}")))?;
    let data_offset = head.len() - rest.len();
    let npy = NpyFile::with_header(header, &[][..]);
    let shape = npy.shape().to_vec();
    let order = npy.order();
    let npyz::DType::Plain(ts) = npy.dtype() else {
        return Err(Error::UnsupportedDtype {
            name: name.to_string(),
            dtype: "structured record".into(),
        });
    };
    let size = ts.size_field() as usize;
    let dtype = match (ts.type_char(), size) {
        (TypeChar::Float, 8) => DType::F64,
        (TypeChar::Float, 4) => DType::F32,
        (TypeChar::Float, 2) => DType::F16,
        (TypeChar::Int, 8) => DType::I64,
        (TypeChar::Int, 4) => DType::I32,
        (TypeChar::Int, 2) => DType::I16,
        (TypeChar::Int, 1) => DType::I8,
        (TypeChar::Uint, 8) => DType::U64,
        (TypeChar::Uint, 4) => DType::U32,
        (TypeChar::Uint, 2) => DType::U16,
        (TypeChar::Uint, 1) => DType::U8,
        (TypeChar::Bool, 1) => DType::Bool,
        _ => {
            return Err(Error::UnsupportedDtype {
                name: name.to_string(),
                dtype: ts.to_string(),
            })
        }
    };
    let little_endian = size == 1 || ts.endianness() == npyz::Endianness::Little;
    // What follows the header is all the data there is: the shape must fit in it.
    checked_numel(name, &shape, size, total_len - data_offset)?;
    Ok(ArrayHeader {
        header: npy.header().clone(),
        dtype,
        shape,
        order,
        little_endian,
        data_offset,
    })
}

fn read_array(bytes: &[u8], name: &str) -> Result<Tensor> {
    let err = |reason: String| Error::Npy {
        name: name.to_string(),
        reason,
    };
    let h = parse_header(bytes, bytes.len(), name)?;
    let (dtype, shape_u64, order) = (h.dtype, h.shape, h.order);
    let npy = NpyFile::with_header(h.header, &bytes[h.data_offset..]);
    let io = |e: std::io::Error| err(format!("data: {e}"));
    let data: Vec<f32> = match dtype {
        DType::F64 => conv(npy.into_vec::<f64>().map_err(io)?, |v| v as f32),
        DType::F32 => npy.into_vec::<f32>().map_err(io)?,
        DType::F16 => conv(npy.into_vec::<f16>().map_err(io)?, f16::to_f32),
        DType::I64 => conv(npy.into_vec::<i64>().map_err(io)?, |v| v as f32),
        DType::I32 => conv(npy.into_vec::<i32>().map_err(io)?, |v| v as f32),
        DType::I16 => conv(npy.into_vec::<i16>().map_err(io)?, |v| v as f32),
        DType::I8 => conv(npy.into_vec::<i8>().map_err(io)?, |v| v as f32),
        DType::U64 => conv(npy.into_vec::<u64>().map_err(io)?, |v| v as f32),
        DType::U32 => conv(npy.into_vec::<u32>().map_err(io)?, |v| v as f32),
        DType::U16 => conv(npy.into_vec::<u16>().map_err(io)?, |v| v as f32),
        DType::U8 => conv(npy.into_vec::<u8>().map_err(io)?, |v| v as f32),
        DType::Bool => conv(npy.into_vec::<bool>().map_err(io)?, |v| v as u8 as f32),
        DType::BF16 | DType::F8E4M3 | DType::F8E5M2 | DType::Ggml(_) => {
            unreachable!("numpy has no such dtype: not produced by the match above")
        }
    };
    let shape: Vec<usize> = shape_u64.iter().map(|&d| d as usize).collect();
    let data = match order {
        Order::C => data,
        // Fortran order stores the reversed-shape array in C order: transpose it back.
        Order::Fortran => {
            let rev: Vec<usize> = shape.iter().rev().copied().collect();
            let a = ArrayD::from_shape_vec(IxDyn(&rev), data)
                .map_err(|e| err(format!("shape: {e}")))?;
            a.reversed_axes()
                .as_standard_layout()
                .iter()
                .copied()
                .collect()
        }
    };
    Ok(Tensor {
        name: name.to_string(),
        shape,
        dtype,
        data,
    })
}

/// npyz multiplies the shape's dimensions without overflow checks (a panic in debug
/// builds, a wrapped count in release), so a lying header must be caught before it
/// parses. This reads only the `'shape': (...)` entry of the header dict; everything
/// else is left to npyz.
fn precheck_shape(bytes: &[u8], total_len: usize, name: &str) -> Result<()> {
    let header_len = match bytes.get(6) {
        Some(1) => bytes
            .get(8..10)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize),
        Some(2 | 3) => bytes
            .get(8..12)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
        _ => None,
    };
    let start: usize = if bytes.get(6) == Some(&1) { 10 } else { 12 };
    let Some(text) = header_len
        .and_then(|n| bytes.get(start..start.checked_add(n)?))
        .map(String::from_utf8_lossy)
    else {
        return Err(Error::Npy {
            name: name.to_string(),
            reason: "header is truncated or has an unknown format version".into(),
        });
    };
    // npyz parses the header with a Python-literal parser that takes minutes on a few
    // dozen nested brackets (found by fuzz/fuzz_targets/npy.rs). A plain array's header
    // nests two deep ({'shape': (..)}); structured dtypes, which we refuse anyway, a few
    // more. Refuse anything deeper before it reaches that parser.
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_HEADER_NESTING {
        return Err(Error::Npy {
            name: name.to_string(),
            reason: format!(
                "header nests brackets {deepest} deep (at most {MAX_HEADER_NESTING} allowed)"
            ),
        });
    }
    let Some(tuple) = text
        .split_once("'shape'")
        .and_then(|(_, rest)| rest.split_once('('))
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(t, _)| t)
    else {
        return Ok(()); // no shape entry: npyz reports the malformed header
    };
    let dims: Vec<u64> = tuple
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('L').parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Npy {
            name: name.to_string(),
            reason: format!("shape ({tuple}) is not a tuple of non-negative integers"),
        })?;
    checked_numel(name, &dims, 1, total_len).map(|_| ())
}

fn conv<T: Copy>(v: Vec<T>, f: impl Fn(T) -> f32) -> Vec<f32> {
    v.into_iter().map(f).collect()
}
