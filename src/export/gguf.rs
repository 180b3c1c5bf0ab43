//! GGUF v3 writer: ggml block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K) or
//! F16/BF16 for the weights, F32 for 1-D tensors, in the layout of ggml's `gguf.cpp` and
//! the `gguf` package's GGUFWriter:
//!
//! ```text
//! "GGUF" u32 version=3  u64 tensor_count  u64 kv_count
//! kv:     gguf_string key, u32 value_type, value         (strings: u64 length + bytes)
//! tensor: gguf_string name, u32 n_dims, u64 ne[n_dims] (innermost first: the reverse
//!         of the C-order shape), u32 ggml_type, u64 offset (from the data section)
//! zero padding to general.alignment (32), then every tensor's bytes, each padded to 32
//! ```
//!
//! Written by hand: the format is a few dozen lines, and no maintained Rust crate writes
//! it from caller-supplied block bytes (the GGUF crates on crates.io read files, or write
//! only through their own tensor types such as candle's, which would mean a second copy
//! of every tensor and a large dependency in the wasm build). The block bytes are the
//! core's ggml quantizers (src/quant/ggml/), byte-exact with `gguf.quants.quantize`.
//!
//! Tensors are read one at a time from the store, quantized, written and dropped: every
//! tensor's type and size follows from its shape alone, so the header goes out first.
//! Fallbacks follow llama.cpp's convert_hf_to_gguf.py: 1-D tensors are F32; a tensor
//! whose rows do not split into the type's blocks is F16.

use std::io::Write;

use super::policy::{Assign, Pick};
use super::report::{ExportFormat, ExportReport, ExportedTensor};
use super::rules::{is_float_weight, rounded_ints};
use crate::analysis::summary_of;
use crate::error::{Error, Result};
use crate::formats::TensorStore;
use crate::quant::{FloatFormat, FloatScheme, GgmlScheme, GgmlType, Scheme};
use crate::tensor::{DType, TensorInfo};

/// `general.alignment`: the default, written out as the brief of the format asks.
pub const ALIGNMENT: u64 = 32;
const VERSION: u32 = 3;
/// ggml's GGML_QNT_VERSION, which llama.cpp writes as general.quantization_version.
const QUANTIZATION_VERSION: u32 = 2;
/// ggml's GGML_MAX_NAME is 64 bytes including the terminating NUL.
const MAX_NAME: usize = 63;
/// ggml's GGML_MAX_DIMS.
const MAX_DIMS: usize = 4;

/// GGUF metadata value types (gguf_type).
const GGUF_TYPE_UINT32: u32 = 4;
const GGUF_TYPE_STRING: u32 = 8;

/// A GGUF tensor type: a ggml float/block type, or one of GGUF's integer types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TensorType {
    Ggml(GgmlType),
    I8,
    I16,
    I32,
    I64,
}

impl TensorType {
    fn id(self) -> u32 {
        match self {
            TensorType::Ggml(t) => t.id(),
            // ggml_type GGML_TYPE_I8 .. GGML_TYPE_I64.
            TensorType::I8 => 24,
            TensorType::I16 => 25,
            TensorType::I32 => 26,
            TensorType::I64 => 27,
        }
    }

    fn name(self) -> String {
        match self {
            TensorType::Ggml(t) => t.name().to_ascii_uppercase(),
            TensorType::I8 => "I8".into(),
            TensorType::I16 => "I16".into(),
            TensorType::I32 => "I32".into(),
            TensorType::I64 => "I64".into(),
        }
    }

    fn bytes_for(self, n: usize) -> Result<usize> {
        let per = match self {
            TensorType::Ggml(t) => return t.bytes_for(n),
            TensorType::I8 => 1,
            TensorType::I16 => 2,
            TensorType::I32 => 4,
            TensorType::I64 => 8,
        };
        n.checked_mul(per)
            .ok_or_else(|| err(format!("{n} values overflow")))
    }
}

fn err(reason: String) -> Error {
    Error::Export {
        format: "GGUF",
        reason,
    }
}

/// The type every weight is asked to take under `scheme`.
pub(crate) fn target(scheme: &Scheme) -> Result<GgmlType> {
    match scheme {
        Scheme::Ggml(g) => Ok(g.format),
        Scheme::Float(FloatScheme {
            format: FloatFormat::Fp16,
        }) => Ok(GgmlType::F16),
        Scheme::Float(FloatScheme {
            format: FloatFormat::Bf16,
        }) => Ok(GgmlType::BF16),
        _ => Err(err(format!(
            "scheme `{scheme}` has no GGUF tensor type; GGUF stores ggml types: use {}, fp16 or bf16",
            GgmlType::quantizable_names()
        ))),
    }
}

/// llama.cpp's `llama_ftype` for a file of mostly `t` (general.file_type).
fn file_type(t: GgmlType) -> Option<u32> {
    Some(match t {
        GgmlType::F32 => 0,
        GgmlType::F16 => 1,
        GgmlType::Q4_0 => 2,
        GgmlType::Q4_1 => 3,
        GgmlType::Q8_0 => 7,
        GgmlType::Q5_0 => 8,
        GgmlType::Q5_1 => 9,
        // LLAMA_FTYPE_MOSTLY_Q4_K_S / Q6_K: every weight in one K type.
        GgmlType::Q4_K => 14,
        GgmlType::Q6_K => 18,
        GgmlType::BF16 => 32,
        _ => return None,
    })
}

/// One tensor's place in the file, decided from its shape and dtype alone.
struct Plan {
    info: TensorInfo,
    ty: TensorType,
    /// GGUF's dimensions, innermost first.
    ne: Vec<u64>,
    quantized: bool,
    note: Option<String>,
    offset: u64,
    size: u64,
}

/// `want`: the type asked for this tensor, or Err(why) to keep it float.
fn plan(info: &TensorInfo, want: std::result::Result<GgmlType, &str>) -> Result<Plan> {
    if info.name.len() > MAX_NAME {
        return Err(err(format!(
            "tensor name `{}` is {} bytes; GGUF (ggml's GGML_MAX_NAME) allows at most {MAX_NAME}",
            info.name,
            info.name.len()
        )));
    }
    if info.shape.len() > MAX_DIMS {
        return Err(err(format!(
            "tensor `{}` has {} axes {:?}; ggml tensors have at most {MAX_DIMS}",
            info.name,
            info.shape.len(),
            info.shape
        )));
    }
    // A scalar is a 1-element 1-D tensor to ggml (ggml_n_dims is at least 1).
    let mut ne: Vec<u64> = info.shape.iter().rev().map(|&d| d as u64).collect();
    let mut note = None;
    if ne.is_empty() {
        ne.push(1);
        note = Some("scalar: stored as shape [1] (ggml tensors have at least one axis)".into());
    }
    let (ty, quantized, why) = if !is_float_weight(info.dtype) {
        let ty = match info.dtype {
            DType::I8 | DType::Bool => TensorType::I8,
            DType::U8 | DType::I16 => TensorType::I16,
            DType::U16 | DType::I32 => TensorType::I32,
            _ => TensorType::I64,
        };
        (
            ty,
            false,
            Some(format!(
                "{} tensor: kept as GGUF {} (values as the reader decoded them)",
                info.dtype,
                ty.name()
            )),
        )
    } else if info.shape.len() < 2 {
        (
            TensorType::Ggml(GgmlType::F32),
            false,
            Some(format!(
                "{}-D tensor: F32, as llama.cpp's converter keeps 1-D tensors",
                info.shape.len()
            )),
        )
    } else if info.numel == 0 {
        (
            TensorType::Ggml(GgmlType::F32),
            false,
            Some("empty tensor: F32".into()),
        )
    } else if let Err(why) = want {
        // Kept float: a 16-bit source stays in its type, anything else is F32.
        let ty = match info.dtype {
            DType::F16 => GgmlType::F16,
            DType::BF16 => GgmlType::BF16,
            _ => GgmlType::F32,
        };
        (
            TensorType::Ggml(ty),
            false,
            Some(format!("{why}: {}", ty.name())),
        )
    } else {
        // The Err case is the branch above.
        let want = want.unwrap_or(GgmlType::F32);
        let row = info.shape[info.shape.len() - 1];
        let block = want.block_size();
        if row % block == 0 {
            (TensorType::Ggml(want), true, None)
        } else {
            (
                TensorType::Ggml(GgmlType::F16),
                false,
                Some(format!(
                    "rows of {row} values do not split into {} blocks of {block}: F16, as llama.cpp's converter falls back",
                    want.name().to_ascii_uppercase()
                )),
            )
        }
    };
    if info.dtype == DType::F64 && ty == TensorType::Ggml(GgmlType::F32) {
        note = Some("F64 tensor: F32 (the reader decodes every tensor to f32)".into());
    }
    let note = match (note, why) {
        (Some(a), Some(b)) => Some(format!("{b}; {a}")),
        (a, b) => b.or(a),
    };
    let size = ty.bytes_for(info.numel)? as u64;
    Ok(Plan {
        info: info.clone(),
        ty,
        ne,
        quantized,
        note,
        offset: 0,
        size,
    })
}

/// The ggml type most quantized tensors take (by count; ties to the first in order).
fn dominant(plans: &[Plan]) -> Option<GgmlType> {
    let mut counts: Vec<(GgmlType, usize)> = Vec::new();
    for p in plans.iter().filter(|p| p.quantized) {
        if let TensorType::Ggml(t) = p.ty {
            match counts.iter_mut().find(|(x, _)| *x == t) {
                Some(c) => c.1 += 1,
                None => counts.push((t, 1)),
            }
        }
    }
    let mut best: Option<(GgmlType, usize)> = None;
    for c in counts {
        if best.is_none_or(|b| c.1 > b.1) {
            best = Some(c);
        }
    }
    best.map(|b| b.0)
}

fn pad(n: u64) -> u64 {
    n.next_multiple_of(ALIGNMENT) - n
}

/// Counts what goes through, and turns io errors into the core's error.
struct Out<'w, W: Write> {
    w: &'w mut W,
    n: u64,
}

impl<W: Write> Out<'_, W> {
    fn bytes(&mut self, b: &[u8]) -> Result<()> {
        self.w
            .write_all(b)
            .map_err(|e| err(format!("writing: {e}")))?;
        self.n += b.len() as u64;
        Ok(())
    }
    fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }
    fn string(&mut self, s: &str) -> Result<()> {
        self.u64(s.len() as u64)?;
        self.bytes(s.as_bytes())
    }
    fn zeros(&mut self, n: u64) -> Result<()> {
        self.bytes(&vec![0u8; n as usize])
    }
}

enum Value {
    U32(u32),
    Str(String),
    /// A GGUF source's entry, written back exactly as it was encoded.
    Raw {
        value_type: u32,
        bytes: Vec<u8>,
    },
}

/// The metadata: general.* keys, the scheme, and the source's own metadata. A GGUF
/// source's entries are carried over as they were encoded, types and all (tokenizer,
/// hyperparameters: what llama.cpp needs to load the file), but for the keys this writer
/// sets and the split.* keys of a split source; any other source's metadata comes as
/// strings under `source.`, except general.* keys such as general.architecture.
fn metadata(
    source: &std::collections::BTreeMap<String, String>,
    gguf_source: &[crate::formats::RawKv],
    scheme: &str,
    want: GgmlType,
    notes: &mut Vec<String>,
) -> Vec<(String, Value)> {
    let ours = [
        "general.alignment",
        "general.quantization_version",
        "general.file_type",
    ];
    let mut kv: Vec<(String, Value)> = Vec::new();
    let from_gguf = !gguf_source.is_empty();
    let architecture = if from_gguf {
        gguf_source
            .iter()
            .any(|e| e.key == "general.architecture")
            .then(String::new)
    } else {
        source.get("general.architecture").cloned()
    };
    match architecture {
        Some(_) if from_gguf => {}
        Some(a) => kv.push(("general.architecture".into(), Value::Str(a))),
        None => notes.push(
            "general.architecture not written: the source does not say which architecture it is, and llama.cpp would misread a made-up one".into(),
        ),
    }
    kv.push(("general.alignment".into(), Value::U32(ALIGNMENT as u32)));
    if !matches!(want, GgmlType::F16 | GgmlType::BF16 | GgmlType::F32) {
        kv.push((
            "general.quantization_version".into(),
            Value::U32(QUANTIZATION_VERSION),
        ));
    }
    if let Some(ft) = file_type(want) {
        kv.push(("general.file_type".into(), Value::U32(ft)));
    }
    kv.push(("quantscope.scheme".into(), Value::Str(scheme.to_string())));
    if from_gguf {
        for e in gguf_source {
            if ours.contains(&e.key.as_str())
                || e.key == "quantscope.scheme"
                || e.key.starts_with("split.")
            {
                continue;
            }
            kv.push((
                e.key.clone(),
                Value::Raw {
                    value_type: e.value_type,
                    bytes: e.value.clone(),
                },
            ));
        }
        return kv;
    }
    for (k, v) in source {
        if k == "general.architecture" || ours.contains(&k.as_str()) {
            continue;
        }
        let key = if k.starts_with("general.") {
            k.clone()
        } else {
            format!("source.{k}")
        };
        kv.push((key, Value::Str(v.clone())));
    }
    kv
}

/// Writes `store`'s model as GGUF to `w`, one tensor at a time.
pub fn write<S: TensorStore + ?Sized, W: Write>(
    store: &S,
    scheme: &Scheme,
    w: &mut W,
) -> Result<ExportReport> {
    write_with(store, Assign::All(scheme), w)
}

/// As [`write`], with a type per tensor (`assign`): a per-tensor policy gives each weight
/// its own ggml type (or keeps it float); general.file_type then follows the type most
/// of the quantized weights take, as llama.cpp's mixes (Q4_K_M) name the dominant one.
pub fn write_with<S: TensorStore + ?Sized, W: Write>(
    store: &S,
    assign: Assign<'_>,
    w: &mut W,
) -> Result<ExportReport> {
    for s in assign.schemes() {
        target(s)?;
    }
    let info = store.info();
    assign.check(&info.tensors)?;
    let mut notes = Vec::new();
    let mut plans: Vec<Plan> = info
        .tensors
        .iter()
        .map(|t| {
            let want = match assign.pick(&t.name) {
                Pick::Quantize(s) => Ok(target(s)?),
                Pick::Keep(why) => Err(why),
            };
            plan(t, want)
        })
        .collect::<Result<_>>()?;
    let want = match assign {
        Assign::All(s) => target(s)?,
        Assign::PerTensor(_) => dominant(&plans).unwrap_or(GgmlType::F32),
    };
    let label = assign.label();
    let mut offset = 0u64;
    for p in &mut plans {
        p.offset = offset;
        offset += p.size + pad(p.size);
    }
    let kv = metadata(
        &info.metadata,
        store.gguf_metadata(),
        &label,
        want,
        &mut notes,
    );

    let mut out = Out { w, n: 0 };
    out.bytes(b"GGUF")?;
    out.u32(VERSION)?;
    out.u64(plans.len() as u64)?;
    out.u64(kv.len() as u64)?;
    for (k, v) in &kv {
        out.string(k)?;
        match v {
            Value::U32(x) => {
                out.u32(GGUF_TYPE_UINT32)?;
                out.u32(*x)?;
            }
            Value::Str(s) => {
                out.u32(GGUF_TYPE_STRING)?;
                out.string(s)?;
            }
            Value::Raw { value_type, bytes } => {
                out.u32(*value_type)?;
                out.bytes(bytes)?;
            }
        }
    }
    for p in &plans {
        out.string(&p.info.name)?;
        out.u32(p.ne.len() as u32)?;
        for &d in &p.ne {
            out.u64(d)?;
        }
        out.u32(p.ty.id())?;
        out.u64(p.offset)?;
    }
    out.zeros(pad(out.n))?;

    let mut tensors = Vec::with_capacity(plans.len());
    for p in &plans {
        let t = store.load(&p.info.name)?;
        if t.numel() != p.info.numel {
            return Err(err(format!(
                "tensor `{}` has {} values, its listing said {}",
                t.name,
                t.numel(),
                p.info.numel
            )));
        }
        let (bytes, summary) = match p.ty {
            TensorType::Ggml(GgmlType::F32) => {
                (t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), None)
            }
            TensorType::Ggml(ty @ (GgmlType::F16 | GgmlType::BF16)) => {
                let format = if ty == GgmlType::F16 {
                    FloatFormat::Fp16
                } else {
                    FloatFormat::Bf16
                };
                let s = FloatScheme { format };
                let cast = s.quantize(&t)?;
                let bytes: Vec<u8> = cast.codes.iter().flat_map(|c| c.to_le_bytes()).collect();
                // A source already in this type is stored exactly.
                let exact = (ty == GgmlType::F16 && t.dtype == DType::F16)
                    || (ty == GgmlType::BF16 && t.dtype == DType::BF16);
                let summary = (!exact).then(|| summary_of(&t, &Scheme::Float(s), &cast));
                (bytes, summary)
            }
            TensorType::Ggml(ty) => {
                let s = GgmlScheme { format: ty };
                let q = s.quantize(&t)?;
                let summary = summary_of(&t, &Scheme::Ggml(s), &q);
                (q.bytes, Some(summary))
            }
            TensorType::I8 => (t.data.iter().map(|&v| v as i8 as u8).collect(), None),
            TensorType::I16 => (
                t.data
                    .iter()
                    .flat_map(|&v| (v as i16).to_le_bytes())
                    .collect(),
                None,
            ),
            TensorType::I32 => (
                t.data
                    .iter()
                    .flat_map(|&v| (v as i32).to_le_bytes())
                    .collect(),
                None,
            ),
            TensorType::I64 => (
                t.data
                    .iter()
                    .flat_map(|&v| (v as i64).to_le_bytes())
                    .collect(),
                None,
            ),
        };
        debug_assert_eq!(bytes.len() as u64, p.size);
        let note = match (p.note.clone(), rounded_ints(&t)) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        out.bytes(&bytes)?;
        out.zeros(pad(p.size))?;
        tensors.push(ExportedTensor {
            name: p.info.name.clone(),
            shape: p.info.shape.clone(),
            dtype: p.info.dtype,
            stored: p.ty.name(),
            quantized: p.quantized,
            note,
            summary,
        });
    }
    out.w.flush().map_err(|e| err(format!("writing: {e}")))?;
    Ok(ExportReport {
        format: ExportFormat::Gguf,
        scheme: label,
        tensors,
        notes,
        bytes: out.n,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::formats::{Format, Model};
    use crate::quant::ggml;
    use crate::tensor::Tensor;

    fn tensor(name: &str, shape: &[usize], dtype: DType) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype,
            data: (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
                .collect(),
        }
    }

    fn model(tensors: Vec<Tensor>) -> Model {
        let mut meta = BTreeMap::new();
        meta.insert("general.name".to_string(), "tiny".to_string());
        meta.insert("format".to_string(), "pt".to_string());
        Model::new(Format::Safetensors, tensors, meta)
    }

    /// A reader for what these tests write (the `gguf` package checks the real thing in
    /// tests/interop/).
    struct Parsed {
        kv: Vec<(String, u32, Vec<u8>)>,
        tensors: Vec<(String, Vec<u64>, u32, u64)>,
        data: usize,
    }

    fn parse(b: &[u8]) -> Parsed {
        let mut at = 0usize;
        let mut take = |n: usize| {
            let s = &b[at..at + n];
            at += n;
            s
        };
        assert_eq!(take(4), b"GGUF");
        let u32_ = |s: &[u8]| u32::from_le_bytes(s.try_into().unwrap());
        let u64_ = |s: &[u8]| u64::from_le_bytes(s.try_into().unwrap());
        assert_eq!(u32_(take(4)), 3);
        let nt = u64_(take(8));
        let nkv = u64_(take(8));
        let mut kv = Vec::new();
        for _ in 0..nkv {
            let kl = u64_(take(8)) as usize;
            let k = String::from_utf8(take(kl).to_vec()).unwrap();
            let ty = u32_(take(4));
            let v = match ty {
                4 => take(4).to_vec(),
                8 => {
                    let l = u64_(take(8)) as usize;
                    take(l).to_vec()
                }
                _ => panic!("type {ty}"),
            };
            kv.push((k, ty, v));
        }
        let mut tensors = Vec::new();
        for _ in 0..nt {
            let l = u64_(take(8)) as usize;
            let name = String::from_utf8(take(l).to_vec()).unwrap();
            let nd = u32_(take(4)) as usize;
            let ne: Vec<u64> = (0..nd).map(|_| u64_(take(8))).collect();
            let ty = u32_(take(4));
            let off = u64_(take(8));
            tensors.push((name, ne, ty, off));
        }
        let data = at.next_multiple_of(32);
        Parsed { kv, tensors, data }
    }

    #[test]
    fn writes_blocks_and_falls_back_like_llama_cpp() {
        let m = model(vec![
            tensor("w", &[4, 64], DType::F32),
            tensor("odd", &[3, 40], DType::F32),
            tensor("bias", &[7], DType::F16),
            tensor("scalar", &[], DType::F32),
            tensor("ids", &[3], DType::I32),
            tensor("empty", &[0, 32], DType::F32),
            tensor("cube", &[2, 2, 32], DType::BF16),
        ]);
        let scheme: Scheme = "q4_0".parse().unwrap();
        let mut out = Vec::new();
        let r = write(&m, &scheme, &mut out).unwrap();
        assert_eq!(r.bytes as usize, out.len());
        let p = parse(&out);
        let want = [
            ("w", vec![64u64, 4], 2u32),
            ("odd", vec![40, 3], 1),
            ("bias", vec![7], 0),
            ("scalar", vec![1], 0),
            ("ids", vec![3], 26),
            ("empty", vec![32, 0], 0),
            ("cube", vec![32, 2, 2], 2),
        ];
        for ((name, ne, ty, off), (wn, wne, wty)) in p.tensors.iter().zip(&want) {
            assert_eq!((name.as_str(), ne, *ty), (*wn, wne, *wty));
            assert_eq!(off % 32, 0, "{name} offset {off}");
        }
        // Each tensor's bytes are the core's quantizer's, at its offset.
        let at = |name: &str| {
            let (_, _, _, off) = p.tensors.iter().find(|t| t.0 == name).unwrap();
            p.data + *off as usize
        };
        let w = m.tensor("w").unwrap();
        let q = ggml::quantize(GgmlType::Q4_0, &w.data).unwrap();
        assert_eq!(&out[at("w")..at("w") + q.len()], &q[..]);
        let odd = m.tensor("odd").unwrap();
        let h: Vec<u8> = odd
            .data
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        assert_eq!(&out[at("odd")..at("odd") + h.len()], &h[..]);
        let ids: Vec<u8> = m
            .tensor("ids")
            .unwrap()
            .data
            .iter()
            .flat_map(|&v| (v as i32).to_le_bytes())
            .collect();
        assert_eq!(&out[at("ids")..at("ids") + 12], &ids[..]);
        // The report says what fell back and why.
        let odd_r = r.tensors.iter().find(|t| t.name == "odd").unwrap();
        assert_eq!(odd_r.stored, "F16");
        assert!(!odd_r.quantized);
        assert!(odd_r.note.as_deref().unwrap().contains("rows of 40"));
        assert_eq!(odd_r.summary.as_ref().unwrap().scheme, "fp16");
        let w_r = r.tensors.iter().find(|t| t.name == "w").unwrap();
        assert!(w_r.quantized && w_r.summary.as_ref().unwrap().scheme == "q4_0");
        assert!(r
            .tensors
            .iter()
            .find(|t| t.name == "bias")
            .unwrap()
            .summary
            .is_none());
        // Metadata: ours, then the source's.
        let keys: Vec<&str> = p.kv.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "general.alignment",
                "general.quantization_version",
                "general.file_type",
                "quantscope.scheme",
                "source.format",
                "general.name"
            ]
        );
        assert_eq!(p.kv[0].2, 32u32.to_le_bytes());
        assert_eq!(p.kv[2].2, 2u32.to_le_bytes());
        assert!(r.notes.iter().any(|n| n.contains("general.architecture")));
    }

    #[test]
    fn padding_makes_every_offset_aligned_and_the_file_end_at_the_last_tensor() {
        let m = model(vec![
            tensor("a", &[1, 32], DType::F32), // 18 bytes of Q4_0
            tensor("b", &[5], DType::F32),     // 20 bytes
            tensor("c", &[2, 32], DType::F32),
        ]);
        let mut out = Vec::new();
        write(&m, &"q4_0".parse().unwrap(), &mut out).unwrap();
        let p = parse(&out);
        let offs: Vec<u64> = p.tensors.iter().map(|t| t.3).collect();
        assert_eq!(offs, [0, 32, 64]);
        assert_eq!(out.len(), p.data + 64 + 36 + pad(36) as usize);
    }

    #[test]
    fn refusals_name_the_problem() {
        let m = model(vec![tensor("w", &[2, 32], DType::F32)]);
        let mut out = Vec::new();
        let e = write(&m, &"int8-sym-ch0".parse().unwrap(), &mut out).unwrap_err();
        assert!(
            e.to_string()
                .contains("`int8-sym-ch0` has no GGUF tensor type"),
            "{e}"
        );
        let long = "x".repeat(64);
        let m = model(vec![tensor(&long, &[2, 32], DType::F32)]);
        let e = write(&m, &"q8_0".parse().unwrap(), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("at most 63"), "{e}");
        let m = model(vec![tensor("five", &[1, 1, 1, 1, 32], DType::F32)]);
        let e = write(&m, &"q8_0".parse().unwrap(), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("at most 4"), "{e}");
        let mut t = tensor("nan", &[1, 32], DType::F32);
        t.data[3] = f32::NAN;
        let e = write(&model(vec![t]), &"q8_0".parse().unwrap(), &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("NaN"), "{e}");
    }

    #[test]
    fn every_block_type_and_float_type_writes() {
        for s in [
            "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q6_k", "fp16", "bf16",
        ] {
            let m = model(vec![
                tensor("w", &[2, 256], DType::F32),
                tensor("v", &[2, 3], DType::F32),
            ]);
            let scheme: Scheme = s.parse().unwrap();
            let mut out = Vec::new();
            let r = write(&m, &scheme, &mut out).unwrap();
            let p = parse(&out);
            let want = target(&scheme).unwrap();
            assert_eq!(p.tensors[0].2, want.id(), "{s}");
            let blocks = want.block_size() == 1;
            assert_eq!(p.tensors[1].2, if blocks { want.id() } else { 1 }, "{s}");
            assert!(r.tensors[0].quantized, "{s}");
        }
    }
}
