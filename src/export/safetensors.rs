//! safetensors writer: integer codes plus scales and zero points under compressed-tensors'
//! names (docs/EXPORT.md has the whole convention). For a weight `W` (a float tensor of
//! two or more axes) and a linear scheme of `b` bits:
//!
//! - `b` = 8: `W` as I8 codes (compressed-tensors' `int-quantized`); `b` = 16: `W` as I16;
//! - `b` < 8: `W_packed` I32 and `W_shape` I64 (`pack-quantized`): each code plus
//!   2^(b-1), 32 / b of them per int32 along the last axis, lowest bits first, every row
//!   padded with zeros to whole int32s;
//! - `W_scale` F32, broadcastable against `W`: `[1]` per tensor; per channel the shape of
//!   `W` with every axis but the channel axis 1; per group the shape of `W` with the group
//!   axis replaced by the number of groups;
//! - `W_zero_point` (I8, I16 for 16 bits), the shape of `W_scale`, when a zero point is
//!   not 0 (absent means 0).
//!
//! Codes are signed (compressed-tensors' `type: int`): an unsigned scheme's codes and zero
//! points are stored minus 2^(b-1), which leaves (q − zero_point) unchanged.
//! W ≈ (q − zero_point) · scale, the scale repeated `group_size` times along the group
//! axis. Float casts (`fp16`, `bf16`, `fp8-e4m3`, `fp8-e5m2`) store `W` in that dtype
//! (FP8 with a `W_scale` of 1, as compressed-tensors' `float-quantized`). Other tensors
//! are written as they were. Serialization is the `safetensors` crate's.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use safetensors::tensor::{Dtype, View};
use serde_json::json;

use super::policy::{Assign, Pick};
use super::report::{ExportFormat, ExportReport, Exported, ExportedTensor};
use super::rules::{keep_reason, linear_for, rounded_ints};
use crate::analysis::summary_of;
use crate::error::{Error, Result};
use crate::formats::TensorStore;
use crate::quant::{FloatFormat, Granularity, LinearScheme, QuantizedLinear, Scheme};
use crate::tensor::{DType, Tensor};

fn err(reason: String) -> Error {
    Error::Export {
        format: "safetensors",
        reason,
    }
}

/// One tensor of the output: dtype, shape, bytes.
struct Out {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Out {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// The scheme's form in this format.
enum Form<'a> {
    Linear(&'a LinearScheme),
    Cast(FloatFormat),
}

/// `t`'s values in its own dtype (exact for every dtype but F64, which the reader
/// already rounded to f32).
fn plain(t: &Tensor) -> Out {
    let d = &t.data;
    let (dtype, data): (Dtype, Vec<u8>) = match t.dtype {
        // A ggml block tensor (from GGUF) kept as it is: its decoded values.
        DType::F32 | DType::Ggml(_) => {
            (Dtype::F32, d.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
        DType::F64 => (
            Dtype::F64,
            d.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect(),
        ),
        DType::F16 => (
            Dtype::F16,
            d.iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect(),
        ),
        DType::BF16 => (
            Dtype::BF16,
            d.iter()
                .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
                .collect(),
        ),
        DType::F8E4M3 => (
            Dtype::F8_E4M3,
            d.iter()
                .map(|&v| float8::F8E4M3::from_f32(v).to_bits())
                .collect(),
        ),
        DType::F8E5M2 => (
            Dtype::F8_E5M2,
            d.iter()
                .map(|&v| float8::F8E5M2::from_f32(v).to_bits())
                .collect(),
        ),
        DType::I64 => (
            Dtype::I64,
            d.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect(),
        ),
        DType::U64 => (
            Dtype::U64,
            d.iter().flat_map(|&v| (v as u64).to_le_bytes()).collect(),
        ),
        DType::I32 => (
            Dtype::I32,
            d.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect(),
        ),
        DType::U32 => (
            Dtype::U32,
            d.iter().flat_map(|&v| (v as u32).to_le_bytes()).collect(),
        ),
        DType::I16 => (
            Dtype::I16,
            d.iter().flat_map(|&v| (v as i16).to_le_bytes()).collect(),
        ),
        DType::U16 => (
            Dtype::U16,
            d.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect(),
        ),
        DType::I8 => (Dtype::I8, d.iter().map(|&v| v as i8 as u8).collect()),
        DType::U8 => (Dtype::U8, d.iter().map(|&v| v as u8).collect()),
        DType::Bool => (Dtype::BOOL, d.iter().map(|&v| (v != 0.0) as u8).collect()),
    };
    Out {
        dtype,
        shape: t.shape.clone(),
        data,
    }
}

/// Codes offset by 2^(b-1) into unsigned fields, `32 / bits` per int32 along the last
/// axis, lowest bits first, each row padded (compressed-tensors' pack_to_int32).
fn pack_int32(codes: &[i32], bits: u8, shape: &[usize]) -> Out {
    let row = shape.last().copied().unwrap_or(1).max(1);
    let rows = codes.len() / row;
    let per = 32 / bits as usize;
    let words = row.div_ceil(per);
    let offset = 1i32 << (bits - 1);
    let mask = (1u32 << bits) - 1;
    let mut data = Vec::with_capacity(rows * words * 4);
    for r in codes.chunks(row) {
        for w in r.chunks(per) {
            let mut word = 0u32;
            for (i, &c) in w.iter().enumerate() {
                word |= (((c + offset) as u32) & mask) << (bits as usize * i);
            }
            data.extend_from_slice(&word.to_le_bytes());
        }
    }
    let mut out_shape = shape.to_vec();
    if let Some(last) = out_shape.last_mut() {
        *last = words;
    }
    Out {
        dtype: Dtype::I32,
        shape: out_shape,
        data,
    }
}

/// The shape `W_scale` takes: see the module documentation.
fn scale_shape(q: &QuantizedLinear) -> Vec<usize> {
    let s = &q.shape;
    match (q.scheme.granularity, q.axis) {
        (Granularity::PerChannel { .. }, Some(a)) => (0..s.len())
            .map(|i| if i == a { s[i] } else { 1 })
            .collect(),
        (Granularity::PerGroup { size, .. }, Some(a)) => {
            let mut v = s.clone();
            v[a] = s[a].div_ceil(size);
            v
        }
        _ => vec![1],
    }
}

/// The tensors that stand for one quantized weight, by name.
fn linear_tensors(name: &str, q: &QuantizedLinear) -> (Vec<(String, Out)>, String) {
    let l = &q.scheme;
    let bits = l.bits;
    let shift = if l.signed { 0 } else { 1i32 << (bits - 1) };
    let codes: Vec<i32> = q.codes().into_iter().map(|c| c - shift).collect();
    let zps: Vec<i32> = q.zero_points().into_iter().map(|z| z - shift).collect();
    let sshape = scale_shape(q);
    let mut out = Vec::new();
    let stored = match bits {
        8 => {
            out.push((
                name.to_string(),
                Out {
                    dtype: Dtype::I8,
                    shape: q.shape.clone(),
                    data: codes.iter().map(|&c| c as i8 as u8).collect(),
                },
            ));
            format!("I8 `{name}`")
        }
        16 => {
            out.push((
                name.to_string(),
                Out {
                    dtype: Dtype::I16,
                    shape: q.shape.clone(),
                    data: codes
                        .iter()
                        .flat_map(|&c| (c as i16).to_le_bytes())
                        .collect(),
                },
            ));
            format!("I16 `{name}`")
        }
        _ => {
            out.push((format!("{name}_packed"), pack_int32(&codes, bits, &q.shape)));
            out.push((
                format!("{name}_shape"),
                Out {
                    dtype: Dtype::I64,
                    shape: vec![q.shape.len()],
                    data: q
                        .shape
                        .iter()
                        .flat_map(|&d| (d as i64).to_le_bytes())
                        .collect(),
                },
            ));
            format!(
                "I32 `{name}_packed` ({bits}-bit codes, {} per int32) + `{name}_shape`",
                32 / bits
            )
        }
    };
    out.push((
        format!("{name}_scale"),
        Out {
            dtype: Dtype::F32,
            shape: sshape.clone(),
            data: q.scales().iter().flat_map(|v| v.to_le_bytes()).collect(),
        },
    ));
    let mut stored = format!("{stored} + F32 `{name}_scale` {sshape:?}");
    if zps.iter().any(|&z| z != 0) {
        let (dtype, data): (Dtype, Vec<u8>) = if bits == 16 {
            (
                Dtype::I16,
                zps.iter().flat_map(|&z| (z as i16).to_le_bytes()).collect(),
            )
        } else {
            (Dtype::I8, zps.iter().map(|&z| z as i8 as u8).collect())
        };
        out.push((
            format!("{name}_zero_point"),
            Out {
                dtype,
                shape: sshape,
                data,
            },
        ));
        stored += &format!(" + `{name}_zero_point`");
    }
    (out, stored)
}

fn cast_tensors(name: &str, f: FloatFormat, t: &Tensor) -> Result<(Vec<(String, Out)>, String)> {
    let cast = crate::quant::FloatScheme { format: f }.quantize(t)?;
    let (dtype, data): (Dtype, Vec<u8>) = match f {
        FloatFormat::Fp16 | FloatFormat::Bf16 => (
            if f == FloatFormat::Fp16 {
                Dtype::F16
            } else {
                Dtype::BF16
            },
            cast.codes.iter().flat_map(|c| c.to_le_bytes()).collect(),
        ),
        FloatFormat::Fp8E4m3 | FloatFormat::Fp8E5m2 => (
            if f == FloatFormat::Fp8E4m3 {
                Dtype::F8_E4M3
            } else {
                Dtype::F8_E5M2
            },
            cast.codes.iter().map(|&c| c as u8).collect(),
        ),
    };
    let mut out = vec![(
        name.to_string(),
        Out {
            dtype,
            shape: t.shape.clone(),
            data,
        },
    )];
    let mut stored = format!("{dtype:?} `{name}`");
    if f.bits() == 8 {
        out.push((
            format!("{name}_scale"),
            Out {
                dtype: Dtype::F32,
                shape: vec![1],
                data: 1f32.to_le_bytes().to_vec(),
            },
        ));
        stored += &format!(" + F32 `{name}_scale` [1] = 1");
    }
    Ok((out, stored))
}

/// One form's layout fields (compressed-tensors' names where they apply).
fn form_json(form: &Form) -> serde_json::Value {
    match form {
        Form::Linear(l) => {
            let (strategy, group_size, axis) = match l.granularity {
                Granularity::PerTensor => ("tensor", None, None),
                Granularity::PerChannel { axis } => ("channel", None, Some(axis)),
                Granularity::PerGroup { size, axis } => ("group", Some(size), axis),
            };
            json!({
                "format": match l.bits { 8 | 16 => "int-quantized", _ => "pack-quantized" },
                "num_bits": l.bits,
                "type": "int",
                "symmetric": l.symmetric,
                "strategy": strategy,
                "group_size": group_size,
                // None: the last axis (groups) or no axis (per tensor).
                "axis": axis,
                "unsigned_shift": if l.signed { 0 } else { 1u32 << (l.bits - 1) },
            })
        }
        Form::Cast(f) => json!({
            "format": "float-quantized",
            "num_bits": f.bits(),
            "type": "float",
            "strategy": "tensor",
        }),
    }
}

/// The layout record written to `__metadata__["quantscope.layout"]`: one form for the
/// whole file, or (a per-tensor policy) `per_tensor`: each quantized tensor's form.
fn layout_json(
    form: Option<&Form>,
    per_tensor: &[(String, serde_json::Value)],
    quantized: &[String],
    kept: &[String],
) -> String {
    let mut v = match form {
        Some(f) => form_json(f),
        None => json!({
            "per_tensor": per_tensor
                .iter()
                .cloned()
                .collect::<serde_json::Map<String, serde_json::Value>>()
        }),
    };
    v["naming"] = json!("compressed-tensors (docs/EXPORT.md)");
    v["quantized"] = json!(quantized);
    v["kept"] = json!(kept);
    v.to_string()
}

/// Rewrites the JSON header the `safetensors` crate wrote with its keys sorted. The crate
/// takes `__metadata__` as a HashMap and writes it in that map's (per-process random)
/// order, so the same model would give different bytes from run to run, and the page's
/// file would differ from the CLI's. Same keys and values, so the same length.
fn canonical_header(bytes: &mut [u8]) -> Result<()> {
    let bad = |e: String| err(format!("re-reading the header just written: {e}"));
    let n = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| bad("no header".into()))? as usize;
    let header = bytes
        .get(8..8 + n)
        .ok_or_else(|| bad("short header".into()))?;
    let mut v: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| bad(e.to_string()))?;
    if let Some(m) = v.get_mut("__metadata__") {
        let sorted: std::collections::BTreeMap<String, String> =
            serde_json::from_value(m.take()).map_err(|e| bad(e.to_string()))?;
        *m = json!(sorted);
    }
    let mut out = serde_json::to_vec(&v).map_err(|e| bad(e.to_string()))?;
    if out.len() > n {
        return Err(bad(format!("{} bytes, was {n}", out.len())));
    }
    out.resize(n, b' ');
    bytes[8..8 + n].copy_from_slice(&out);
    Ok(())
}

/// Whether this writer stores a weight under `scheme` (`export::writes`).
pub(crate) fn writes(scheme: &Scheme) -> Result<()> {
    form_of(scheme).map(|_| ())
}

fn form_of(scheme: &Scheme) -> Result<Form<'_>> {
    Ok(match scheme {
        Scheme::Float(f) => Form::Cast(f.format),
        _ => Form::Linear(linear_for(
            scheme,
            ExportFormat::Safetensors,
            "integer codes with scales and zero points",
        )?),
    })
}

/// Writes `store`'s model as safetensors with `scheme`.
pub fn write<S: TensorStore + ?Sized>(store: &S, scheme: &Scheme) -> Result<Exported> {
    write_with(store, Assign::All(scheme))
}

/// As [`write`], with a scheme per tensor (`assign`); the layout record then lists each
/// quantized tensor's form under `per_tensor`.
pub fn write_with<S: TensorStore + ?Sized>(store: &S, assign: Assign<'_>) -> Result<Exported> {
    for s in assign.schemes() {
        form_of(s)?;
    }
    let uniform = match assign {
        Assign::All(s) => Some(form_of(s)?),
        Assign::PerTensor(_) => None,
    };
    let mut per_tensor = Vec::new();
    let info = store.info();
    assign.check(&info.tensors)?;
    let mut taken: BTreeSet<String> = info.tensors.iter().map(|t| t.name.clone()).collect();
    let mut outputs: Vec<(String, Out)> = Vec::new();
    let mut report = Vec::with_capacity(info.tensors.len());
    let (mut quantized, mut kept) = (Vec::new(), Vec::new());
    for ti in &info.tensors {
        let t = store.load(&ti.name)?;
        let pick = assign.pick(&ti.name);
        let why = keep_reason(ti).or(match pick {
            Pick::Keep(w) => Some(w.to_string()),
            Pick::Quantize(_) => None,
        });
        if let Some(why) = why {
            let o = plain(&t);
            let mut e =
                ExportedTensor::kept(ti, format!("{:?} `{}` (as it was)", o.dtype, ti.name), why);
            if ti.dtype == DType::F64 {
                e.note = e
                    .note
                    .map(|n| n + "; F64 values went through f32 in the reader");
            }
            if let Some(r) = rounded_ints(&t) {
                e.note = e.note.map(|n| format!("{n}; {r}"));
            }
            report.push(e);
            kept.push(ti.name.clone());
            outputs.push((ti.name.clone(), o));
            continue;
        }
        let Pick::Quantize(scheme) = pick else {
            continue;
        };
        let form = form_of(scheme)?;
        if uniform.is_none() {
            per_tensor.push((ti.name.clone(), form_json(&form)));
        }
        let (tensors, stored, summary) = match &form {
            Form::Linear(l) => {
                let q = l.quantize(&t)?;
                let summary = summary_of(&t, scheme, &q);
                let (tensors, stored) = linear_tensors(&ti.name, &q);
                (tensors, stored, summary)
            }
            Form::Cast(f) => {
                let (tensors, stored) = cast_tensors(&ti.name, *f, &t)?;
                let e = scheme.encode(&t)?;
                (tensors, stored, summary_of(&t, scheme, e.as_ref()))
            }
        };
        for (n, _) in &tensors {
            if n != &ti.name && !taken.insert(n.clone()) {
                return Err(err(format!(
                    "tensor `{}` would be written as `{n}`, a name the model already uses",
                    ti.name
                )));
            }
        }
        outputs.extend(tensors);
        quantized.push(ti.name.clone());
        report.push(ExportedTensor {
            name: ti.name.clone(),
            shape: ti.shape.clone(),
            dtype: ti.dtype,
            stored,
            quantized: true,
            note: None,
            summary: Some(summary),
        });
    }
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    meta.insert("quantscope.scheme".to_string(), assign.label());
    meta.insert(
        "quantscope.layout".to_string(),
        layout_json(uniform.as_ref(), &per_tensor, &quantized, &kept),
    );
    let mut bytes =
        safetensors::tensor::serialize(outputs.iter().map(|(n, o)| (n.as_str(), o)), Some(meta))
            .map_err(|e| err(e.to_string()))?;
    canonical_header(&mut bytes)?;
    Ok(Exported {
        report: ExportReport {
            format: ExportFormat::Safetensors,
            scheme: assign.label(),
            tensors: report,
            notes: Vec::new(),
            bytes: bytes.len() as u64,
        },
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use safetensors::SafeTensors;

    use super::*;
    use crate::formats::{Format, Model};

    fn tensor(name: &str, shape: &[usize], dtype: DType) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            dtype,
            data: (0..n)
                .map(|i| ((i * 53 % 97) as f32 - 40.0) / 13.0)
                .collect(),
        }
    }

    fn model(tensors: Vec<Tensor>) -> Model {
        Model::new(Format::Safetensors, tensors, BTreeMap::new())
    }

    fn i64s(st: &SafeTensors, name: &str) -> Vec<i64> {
        let v = st.tensor(name).unwrap();
        match v.dtype() {
            Dtype::I8 => v.data().iter().map(|&b| b as i8 as i64).collect(),
            Dtype::I16 => v
                .data()
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                .collect(),
            Dtype::I64 => v
                .data()
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            d => panic!("{name}: {d:?}"),
        }
    }

    /// Dequantizes `name` following docs/EXPORT.md, independently of the writer.
    fn dequantize(
        st: &SafeTensors,
        name: &str,
        bits: u32,
        group: Option<(usize, usize)>,
    ) -> Vec<f32> {
        let (codes, shape): (Vec<i64>, Vec<usize>) = if bits < 8 {
            let shape: Vec<usize> = i64s(st, &format!("{name}_shape"))
                .iter()
                .map(|&d| d as usize)
                .collect();
            let p = st.tensor(&format!("{name}_packed")).unwrap();
            assert_eq!(p.dtype(), Dtype::I32);
            let words: Vec<u32> = p
                .data()
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            let per_word = 32 / bits as usize;
            let row = *shape.last().unwrap();
            let wpr = *p.shape().last().unwrap();
            assert_eq!(wpr, row.div_ceil(per_word));
            let mut codes = Vec::new();
            for r in words.chunks(wpr) {
                for j in 0..row {
                    let u =
                        (r[j / per_word] >> (bits as usize * (j % per_word))) & ((1 << bits) - 1);
                    codes.push(u as i64 - (1 << (bits - 1)));
                }
            }
            (codes, shape)
        } else {
            (i64s(st, name), st.tensor(name).unwrap().shape().to_vec())
        };
        let sv = st.tensor(&format!("{name}_scale")).unwrap();
        let scales: Vec<f32> = sv
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let sshape = sv.shape().to_vec();
        let zps = st
            .tensor(&format!("{name}_zero_point"))
            .ok()
            .map(|_| i64s(st, &format!("{name}_zero_point")));
        // The parameter index of element `idx`: broadcast over size-1 axes, and divide the
        // group axis by the group size.
        let mut out = Vec::with_capacity(codes.len());
        for (idx, &q) in codes.iter().enumerate() {
            let mut rem = idx;
            let mut coord = vec![0; shape.len()];
            for a in (0..shape.len()).rev() {
                coord[a] = rem % shape[a];
                rem /= shape[a];
            }
            let mut p = 0;
            if sshape != [1] {
                for a in 0..shape.len() {
                    let c = match group {
                        Some((ga, g)) if ga == a => coord[a] / g,
                        _ if sshape[a] == 1 => 0,
                        _ => coord[a],
                    };
                    p = p * sshape[a] + c;
                }
            }
            let z = zps.as_ref().map_or(0, |z| z[p]);
            out.push((q - z) as f32 * scales[p]);
        }
        out
    }

    #[test]
    fn codes_scales_and_zero_points_rebuild_the_core_reconstruction() {
        let m = model(vec![
            tensor("a.weight", &[6, 40], DType::F32),
            tensor("b.weight", &[3, 4, 10], DType::F16),
            tensor("a.bias", &[6], DType::F32),
            tensor("ids", &[2], DType::I64),
        ]);
        for (s, bits, group) in [
            ("int8-sym-ch0", 8, None),
            ("uint8-asym", 8, None),
            ("int4-asym-group16", 4, Some(16)),
            ("uint4-sym-ch1", 4, None),
            ("int3-asym-ch0", 3, None),
            ("uint2-asym-group8", 2, Some(8)),
            ("int6-sym", 6, None),
            ("int16-asym-ch0", 16, None),
            ("torch-uint4-sym", 4, None),
            ("int4-sym-group3-ax0", 4, None),
        ] {
            let scheme: Scheme = s.parse().unwrap();
            let e = write(&m, &scheme).unwrap();
            let st = SafeTensors::deserialize(&e.bytes).unwrap();
            let Scheme::Linear(l) = scheme else {
                unreachable!()
            };
            for name in ["a.weight", "b.weight"] {
                let t = m.tensor(name).unwrap();
                let q = l.quantize(t).unwrap();
                let g = match l.granularity {
                    Granularity::PerGroup { size, axis } => {
                        Some((axis.unwrap_or(t.shape.len() - 1), size))
                    }
                    _ => group.map(|g| (t.shape.len() - 1, g)),
                };
                let got = dequantize(&st, name, bits, g);
                assert_eq!(got, q.dequantize(), "{s} {name}");
                let r = e.report.tensors.iter().find(|r| r.name == name).unwrap();
                assert!(r.quantized);
                assert_eq!(
                    r.summary.as_ref().unwrap().metrics,
                    crate::analysis::summarize(t, &scheme).unwrap().metrics
                );
            }
            // Kept tensors are stored as they were.
            assert_eq!(st.tensor("a.bias").unwrap().dtype(), Dtype::F32);
            let ids: Vec<i64> = m
                .tensor("ids")
                .unwrap()
                .data
                .iter()
                .map(|&v| v as i64)
                .collect();
            assert_eq!(i64s(&st, "ids"), ids);
            let (_, meta) = SafeTensors::read_metadata(&e.bytes).unwrap();
            let meta = meta.metadata().clone().unwrap();
            assert_eq!(
                meta["quantscope.scheme"],
                s.parse::<Scheme>().unwrap().to_string()
            );
            let layout: serde_json::Value =
                serde_json::from_str(&meta["quantscope.layout"]).unwrap();
            assert_eq!(layout["num_bits"], bits);
            assert_eq!(layout["kept"], json!(["a.bias", "ids"]));
        }
    }

    #[test]
    fn symmetric_signed_codes_have_no_zero_point_tensor_and_8_bits_keep_the_name() {
        let m = model(vec![tensor("w", &[4, 8], DType::F32)]);
        let e = write(&m, &"int8-sym-ch0".parse().unwrap()).unwrap();
        let st = SafeTensors::deserialize(&e.bytes).unwrap();
        let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
        names.sort();
        assert_eq!(names, ["w", "w_scale"]);
        assert_eq!(st.tensor("w").unwrap().dtype(), Dtype::I8);
        assert_eq!(st.tensor("w_scale").unwrap().shape(), [4, 1]);
        let e = write(&m, &"int4-asym".parse().unwrap()).unwrap();
        let st = SafeTensors::deserialize(&e.bytes).unwrap();
        let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
        names.sort();
        assert_eq!(names, ["w_packed", "w_scale", "w_shape", "w_zero_point"]);
        assert_eq!(st.tensor("w_packed").unwrap().shape(), [4, 1]);
        assert_eq!(st.tensor("w_scale").unwrap().shape(), [1]);
    }

    #[test]
    fn float_casts_store_the_narrow_dtype() {
        let m = model(vec![tensor("w", &[4, 8], DType::F32)]);
        for (s, dtype, scale) in [
            ("fp16", Dtype::F16, false),
            ("bf16", Dtype::BF16, false),
            ("fp8-e4m3", Dtype::F8_E4M3, true),
            ("fp8-e5m2", Dtype::F8_E5M2, true),
        ] {
            let e = write(&m, &s.parse().unwrap()).unwrap();
            let st = SafeTensors::deserialize(&e.bytes).unwrap();
            assert_eq!(st.tensor("w").unwrap().dtype(), dtype, "{s}");
            assert_eq!(st.tensor("w_scale").is_ok(), scale, "{s}");
        }
    }

    #[test]
    fn refusals_name_the_scheme_or_the_clash() {
        let m = model(vec![tensor("w", &[4, 32], DType::F32)]);
        let e = write(&m, &"q4_0".parse().unwrap()).unwrap_err().to_string();
        assert!(e.contains("`q4_0`") && e.contains("GGUF"), "{e}");
        let e = write(&m, &"nf4".parse().unwrap()).unwrap_err().to_string();
        assert!(e.contains("`nf4`"), "{e}");
        let m = model(vec![
            tensor("w", &[4, 32], DType::F32),
            tensor("w_scale", &[4], DType::F32),
        ]);
        let e = write(&m, &"int8-sym".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`w_scale`"), "{e}");
        let mut t = tensor("w", &[2, 2], DType::F32);
        t.data[1] = f32::INFINITY;
        let e = write(&model(vec![t]), &"int8-sym".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("NaN or infinite"), "{e}");
    }

    #[test]
    fn the_header_is_the_same_every_time() {
        // HashMap order differs between maps (each has its own random state).
        let m = model(vec![
            tensor("w", &[4, 8], DType::F32),
            tensor("b", &[4], DType::F32),
        ]);
        let scheme: Scheme = "int4-asym".parse().unwrap();
        let first = write(&m, &scheme).unwrap().bytes;
        for _ in 0..8 {
            assert_eq!(write(&m, &scheme).unwrap().bytes, first);
        }
        SafeTensors::deserialize(&first).unwrap();
        let (_, meta) = SafeTensors::read_metadata(&first).unwrap();
        assert_eq!(meta.metadata().as_ref().unwrap().len(), 3);
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        let m = model(vec![
            tensor("zero", &[0, 4], DType::F32),
            tensor("one", &[1, 1], DType::F32),
            tensor("s", &[], DType::F32),
            tensor("wide", &[1, 33], DType::BF16),
            tensor("f8", &[2, 2], DType::F8E4M3),
        ]);
        for s in ["int4-sym-group32", "int3-asym-ch1", "int8-asym", "fp8-e5m2"] {
            let e = write(&m, &s.parse().unwrap()).unwrap();
            SafeTensors::deserialize(&e.bytes).unwrap();
            assert_eq!(e.report.tensors.len(), 5);
        }
    }
}
