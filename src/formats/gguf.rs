//! GGUF v2/v3 (llama.cpp / ggml): metadata key/values, tensor infos, then aligned tensor
//! data in F32/F16/BF16, integer types, or the ggml block formats (dequantized by
//! `quant::ggml`, bit-exact with gguf.quants.dequantize).
//!
//! The header is parsed here rather than by a crate: the GGUF crates on crates.io read
//! from a file or take counts from the header at their word (`Vec::with_capacity(n)`),
//! while this reader must work over a browser `File` read in slices, list tensors from
//! the header alone, and allocate nothing that the file's size does not justify.
//! The layout follows ggml's docs/gguf.md: little-endian; strings are a u64 length and
//! UTF-8 bytes; dimensions are listed fastest-varying first (ggml's `ne[0]`), so the
//! C-order shape is their reverse.

use std::collections::BTreeMap;

use super::index::{Entry, Layout, Part};
use super::model::{Format, Model, RawKv};
use super::source::{check_range, ByteSource, HeaderReader, InMemory};
use crate::error::{Error, Result};
use crate::quant::GgmlType;
use crate::tensor::DType;

pub const MAGIC: &[u8; 4] = b"GGUF";

/// Data alignment when `general.alignment` is absent (ggml's GGUF_DEFAULT_ALIGNMENT).
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml tensors have at most 4 dimensions (GGML_MAX_DIMS).
const MAX_DIMS: u32 = 4;
/// Arrays of arrays are legal; deeper nesting than this is a corrupt or hostile file
/// (and would otherwise recurse without bound).
const MAX_ARRAY_NESTING: usize = 4;
/// Array values listed in full in the metadata shown; longer arrays show their first few.
const SHOWN_ARRAY_VALUES: usize = 8;
/// Strings shown in metadata are cut after this many characters.
const SHOWN_STRING_CHARS: usize = 256;

/// One metadata value, rendered for people (numbers, strings, arrays summarised).
fn value_type_name(t: u32) -> &'static str {
    match t {
        0 => "uint8",
        1 => "int8",
        2 => "uint16",
        3 => "int16",
        4 => "uint32",
        5 => "int32",
        6 => "float32",
        7 => "bool",
        8 => "string",
        9 => "array",
        10 => "uint64",
        11 => "int64",
        12 => "float64",
        _ => "unknown",
    }
}

/// Smallest encoding of one value of type `t` (bytes), to check an array's count
/// against what the file has left before walking it.
fn min_value_size(t: u32) -> u64 {
    match t {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 | 8 => 8,
        9 => 12,
        _ => 1,
    }
}

/// Names of the ggml types quantscope cannot decode, for the error that names them
/// (ggml's `enum ggml_type`).
fn unsupported_type_name(id: u32) -> Option<&'static str> {
    Some(match id {
        9 => "Q8_1",
        15 => "Q8_K",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        29 => "IQ1_M",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => return None,
    })
}

/// The element type of ggml type `id`, as quantscope reports it.
pub(crate) fn dtype_of(id: u32, tensor: &str) -> Result<DType> {
    Ok(match id {
        0 => DType::F32,
        1 => DType::F16,
        30 => DType::BF16,
        24 => DType::I8,
        25 => DType::I16,
        26 => DType::I32,
        27 => DType::I64,
        28 => DType::F64,
        _ => match GgmlType::from_id(id) {
            Some(t) => DType::Ggml(t),
            None => {
                return Err(Error::UnsupportedDtype {
                    name: tensor.to_string(),
                    dtype: match unsupported_type_name(id) {
                        Some(n) => {
                            format!("ggml type {n} (id {id}), which quantscope cannot decode yet")
                        }
                        None => format!("ggml type id {id}, which ggml does not define"),
                    },
                })
            }
        },
    })
}

fn err(reason: String) -> Error {
    Error::Gguf(reason)
}

struct Parser<'a> {
    r: HeaderReader<'a>,
}

impl Parser<'_> {
    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.r.u64()?;
        if n > self.r.remaining() {
            return Err(err(format!(
                "{what}: string length {n} at offset {} is more than the {} bytes left in the file",
                self.r.position() - 8,
                self.r.remaining()
            )));
        }
        let bytes = self.r.take(n as usize)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| err(format!("{what}: string is not valid UTF-8")))
    }

    /// Reads one value of type `t`; returns it rendered for display, and as a number
    /// where it is one (for `general.alignment`).
    fn value(&mut self, t: u32, key: &str, depth: usize) -> Result<(String, Option<u64>)> {
        Ok(match t {
            0 => {
                let v = self.r.array::<1>()?[0];
                (v.to_string(), Some(v as u64))
            }
            1 => (i8::from_le_bytes(self.r.array()?).to_string(), None),
            2 => {
                let v = u16::from_le_bytes(self.r.array()?);
                (v.to_string(), Some(v as u64))
            }
            3 => (i16::from_le_bytes(self.r.array()?).to_string(), None),
            4 => {
                let v = self.r.u32()?;
                (v.to_string(), Some(v as u64))
            }
            5 => (i32::from_le_bytes(self.r.array()?).to_string(), None),
            6 => (f32::from_le_bytes(self.r.array()?).to_string(), None),
            7 => match self.r.array::<1>()?[0] {
                0 => ("false".into(), None),
                1 => ("true".into(), None),
                b => {
                    return Err(err(format!(
                        "metadata `{key}`: bool byte {b} is not 0 or 1"
                    )))
                }
            },
            8 => {
                let s = self.string(&format!("metadata `{key}`"))?;
                let shown = if s.chars().count() > SHOWN_STRING_CHARS {
                    let cut: String = s.chars().take(SHOWN_STRING_CHARS).collect();
                    format!("{cut}… ({} bytes)", s.len())
                } else {
                    s
                };
                (shown, None)
            }
            9 => (self.array(key, depth)?, None),
            10 => {
                let v = self.r.u64()?;
                (v.to_string(), Some(v))
            }
            11 => (i64::from_le_bytes(self.r.array()?).to_string(), None),
            12 => (f64::from_le_bytes(self.r.array()?).to_string(), None),
            other => {
                return Err(err(format!(
                    "metadata `{key}`: value type {other} is not a GGUF type (0..=12)"
                )))
            }
        })
    }

    fn array(&mut self, key: &str, depth: usize) -> Result<String> {
        if depth >= MAX_ARRAY_NESTING {
            return Err(err(format!(
                "metadata `{key}`: arrays nested more than {MAX_ARRAY_NESTING} deep"
            )));
        }
        let t = self.r.u32()?;
        let n = self.r.u64()?;
        let fits = n
            .checked_mul(min_value_size(t))
            .is_some_and(|b| b <= self.r.remaining());
        if !fits {
            return Err(err(format!(
                "metadata `{key}`: array of {n} {} values cannot fit in the {} bytes left in the file",
                value_type_name(t),
                self.r.remaining()
            )));
        }
        let mut shown = Vec::new();
        for i in 0..n {
            let (v, _) = self.value(t, key, depth + 1)?;
            if (i as usize) < SHOWN_ARRAY_VALUES {
                shown.push(if t == 8 { format!("{v:?}") } else { v });
            }
        }
        let more = if n as usize > SHOWN_ARRAY_VALUES {
            ", …"
        } else {
            ""
        };
        Ok(format!(
            "[{n} × {}] [{}{more}]",
            value_type_name(t),
            shown.join(", ")
        ))
    }
}

/// Lists a GGUF file's metadata and tensors from its header, reading only the header.
pub(crate) fn index(src: &dyn ByteSource, file_name: &str) -> Result<Part> {
    let file_len = src.len();
    let mut p = Parser {
        r: HeaderReader::new(src, "GGUF header"),
    };
    if p.r.take(4)? != MAGIC {
        return Err(err(format!("{file_name}: does not start with \"GGUF\"")));
    }
    let version = p.r.u32()?;
    match version {
        2 | 3 => {}
        1 => {
            return Err(err(format!(
                "{file_name}: GGUF version 1 (32-bit counts, 2023) is not supported; re-save it with a current llama.cpp"
            )))
        }
        v => {
            return Err(err(format!(
                "{file_name}: GGUF version {v} is unknown (this reader knows 2 and 3)"
            )))
        }
    }
    let n_tensors = p.r.u64()?;
    let n_kv = p.r.u64()?;
    // Every key/value takes at least 12 bytes and every tensor info at least 24.
    for (count, min, what) in [
        (n_kv, 12u64, "metadata entries"),
        (n_tensors, 24, "tensors"),
    ] {
        if count.checked_mul(min).is_none_or(|b| b > p.r.remaining()) {
            return Err(err(format!(
                "{file_name}: header claims {count} {what}, more than the {file_len}-byte file can hold"
            )));
        }
    }

    let mut metadata = BTreeMap::new();
    metadata.insert("gguf.version".to_string(), version.to_string());
    let mut raw = Vec::new();
    let mut alignment = DEFAULT_ALIGNMENT;
    for _ in 0..n_kv {
        let key = p.string("metadata key")?;
        let t = p.r.u32()?;
        let start = p.r.position();
        let (shown, number) = p.value(t, &key, 0)?;
        let len = (p.r.position() - start) as usize;
        raw.push(RawKv {
            key: key.clone(),
            value_type: t,
            value: src.read_at(start, len)?.into_owned(),
        });
        if key == "general.alignment" {
            alignment = match (t, number) {
                (4, Some(a)) if a > 0 && a.is_power_of_two() => a,
                _ => {
                    return Err(err(format!(
                        "general.alignment must be a uint32 power of two, got {} {shown}",
                        value_type_name(t)
                    )))
                }
            };
        }
        if metadata.insert(key.clone(), shown).is_some() {
            return Err(err(format!("metadata key `{key}` appears twice")));
        }
    }

    struct Info {
        name: String,
        dims: Vec<u64>,
        dtype: DType,
        offset: u64,
    }
    let mut infos: Vec<Info> = Vec::new();
    for _ in 0..n_tensors {
        let name = p.string("tensor name")?;
        let n_dims = p.r.u32()?;
        if n_dims > MAX_DIMS {
            return Err(err(format!(
                "tensor `{name}`: {n_dims} dimensions (ggml tensors have at most {MAX_DIMS})"
            )));
        }
        let dims = (0..n_dims)
            .map(|_| p.r.u64())
            .collect::<Result<Vec<u64>>>()?;
        let dtype = dtype_of(p.r.u32()?, &name)?;
        let offset = p.r.u64()?;
        infos.push(Info {
            name,
            dims,
            dtype,
            offset,
        });
    }
    let data_start = p.r.position().next_multiple_of(alignment);

    let mut entries = Vec::with_capacity(infos.len());
    for info in infos {
        let name = info.name;
        // C order: the slowest-varying dimension first.
        let shape_u64: Vec<u64> = info.dims.iter().rev().copied().collect();
        let numel = info
            .dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| {
                err(format!(
                    "tensor `{name}`: shape {shape_u64:?} has more than 2^64 elements"
                ))
            })?;
        if let DType::Ggml(t) = info.dtype {
            let row = info.dims.first().copied().unwrap_or(1);
            if row % t.block_size() as u64 != 0 {
                return Err(err(format!(
                    "tensor `{name}`: rows of {row} values do not split into {} blocks of {}",
                    t.upper_name(),
                    t.block_size()
                )));
            }
        }
        let block = match info.dtype {
            DType::Ggml(t) => t.block_size() as u64,
            _ => 1,
        };
        let nbytes = (numel / block)
            .checked_mul(info.dtype.size() as u64)
            .ok_or_else(|| err(format!("tensor `{name}`: size overflows")))?;
        if info.offset % alignment != 0 {
            return Err(err(format!(
                "tensor `{name}`: data offset {} is not a multiple of the alignment {alignment}",
                info.offset
            )));
        }
        let start = data_start
            .checked_add(info.offset)
            .ok_or_else(|| err(format!("tensor `{name}`: offset {} overflows", info.offset)))?;
        check_range(&format!("GGUF tensor `{name}`"), start, nbytes, file_len).map_err(
            |_| {
                err(format!(
                    "tensor `{name}`: shape {shape_u64:?} of {} needs {nbytes} bytes at offset {start}, past the end of the {file_len}-byte file",
                    info.dtype
                ))
            },
        )?;
        entries.push(Entry {
            name,
            shape: shape_u64.iter().map(|&d| d as usize).collect(),
            dtype: info.dtype,
            offset: start,
            nbytes,
            layout: Layout::Plain,
        });
    }
    check_no_overlap(&entries)?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = entries.iter().find(|e| !seen.insert(e.name.as_str())) {
        return Err(err(format!("tensor name `{}` appears twice", dup.name)));
    }
    Ok(Part {
        format: Format::Gguf,
        metadata,
        entries,
        gguf_kv: raw,
    })
}

/// Two tensors whose byte ranges overlap make a file that no writer produces.
fn check_no_overlap(entries: &[Entry]) -> Result<()> {
    let mut by_offset: Vec<&Entry> = entries.iter().filter(|e| e.nbytes > 0).collect();
    by_offset.sort_by_key(|e| e.offset);
    for w in by_offset.windows(2) {
        if w[0].offset + w[0].nbytes > w[1].offset {
            return Err(err(format!(
                "tensors `{}` and `{}` overlap in the file (bytes from {} and from {})",
                w[0].name, w[1].name, w[0].offset, w[1].offset
            )));
        }
    }
    Ok(())
}

/// Reads a whole GGUF file held in memory.
pub fn read(bytes: &[u8], file_name: &str) -> Result<Model> {
    let src = InMemory(bytes);
    index(&src, file_name)?.load_all(&src)
}
