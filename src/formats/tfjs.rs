//! TensorFlow.js models: a `model.json` (layers or graph model; or a bare
//! `*weights_manifest.json`, as face-api ships) whose `weightsManifest` lists groups of
//! weights, each group stored in one or more `.bin` shards that are concatenated and cut
//! in the listed order. Weights are float32, int32 or bool; the converter's quantization
//! stores them as float16 or as affine uint8/uint16 codes with a `scale` and `min` per
//! tensor (real = code * scale + min), which come out dequantized as TF.js's
//! `io.decodeWeights` computes them (in f64, rounded once to f32; rounded to integers for
//! an int32 original), the codes' parameters kept in `Model::quantization`.
//!
//! The manifest is read with serde_json; the shards are plain little-endian arrays.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::decode::decode;
use super::index::{base_name, checked_numel};
use super::model::{Format, GraphSummary, Model, NodeRef, StoredQuantization};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

fn err(reason: impl Into<String>) -> Error {
    Error::Tfjs(reason.into())
}

/// `model.json`: the fields quantscope reads (others, e.g. `userDefinedMetadata`, are
/// ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ModelJson {
    format: Option<String>,
    generated_by: Option<String>,
    converted_by: Option<String>,
    model_topology: Option<serde_json::Value>,
    weights_manifest: Vec<Group>,
}

/// One weights group: its shards (in order) and the weights they hold, in order.
#[derive(Deserialize)]
struct Group {
    paths: Vec<String>,
    weights: Vec<WeightSpec>,
}

#[derive(Deserialize)]
struct WeightSpec {
    name: String,
    shape: Vec<i64>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Deserialize)]
struct Quantization {
    dtype: String,
    scale: Option<f64>,
    min: Option<f64>,
    #[allow(dead_code)]
    original_dtype: Option<String>,
}

/// True for a JSON file that looks like a TF.js model or weights manifest: an object
/// with a `weightsManifest`, or an array of `{"paths", "weights"}` groups. Only the
/// first bytes are looked at (the topology of a graph model comes first and can be MBs,
/// so the key is searched for in the whole text only when the start is JSON).
pub fn looks_like(bytes: &[u8]) -> bool {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim_start(),
        Err(_) => return false,
    };
    (text.starts_with('{') && text.contains("\"weightsManifest\""))
        || (text.starts_with('[') && text.contains("\"paths\"") && text.contains("\"weights\""))
}

/// The names a TF.js manifest comes as: `model.json` (also `<name>.model.json`) and
/// `*weights_manifest.json`. Such a file among dropped files is read as the model's
/// manifest even when it does not parse, so that a broken one is reported as such.
pub fn is_manifest_name(name: &str) -> bool {
    let n = base_name(name).to_ascii_lowercase();
    n == "model.json" || n.ends_with(".model.json") || n.ends_with("weights_manifest.json")
}

/// Parses a model.json or weights manifest.
fn parse(bytes: &[u8], name: &str) -> Result<ModelJson> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| err(format!("`{name}` is not UTF-8 text: {e}")))?;
    if text.trim_start().starts_with('[') {
        let groups: Vec<Group> = serde_json::from_str(text)
            .map_err(|e| err(format!("`{name}` is not a weights manifest: {e}")))?;
        return Ok(ModelJson {
            format: Some("weights-manifest".into()),
            generated_by: None,
            converted_by: None,
            model_topology: None,
            weights_manifest: groups,
        });
    }
    serde_json::from_str(text).map_err(|e| err(format!("`{name}` is not a TF.js model.json: {e}")))
}

/// The stored element: its size in bytes and how the bytes decode.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stored {
    F32,
    I32,
    Bool,
    F16,
    /// Affine codes: real = code * scale + min.
    U8 {
        scale: f64,
        min: f64,
    },
    U16 {
        scale: f64,
        min: f64,
    },
}

impl Stored {
    fn size(self) -> usize {
        match self {
            Stored::F32 | Stored::I32 => 4,
            Stored::F16 | Stored::U16 { .. } => 2,
            Stored::Bool | Stored::U8 { .. } => 1,
        }
    }
}

/// What a weight spec says is stored; `Ok(None)` for strings and complex numbers, which
/// are skipped (they are not weights; strings have per-element lengths, read to skip).
fn stored(w: &WeightSpec) -> Result<Option<Stored>> {
    let werr = |r: String| err(format!("weight `{}`: {r}", w.name));
    if let Some(q) = &w.quantization {
        let affine = |q: &Quantization| -> Result<(f64, f64)> {
            match (q.scale, q.min) {
                (Some(s), Some(m)) if s.is_finite() && m.is_finite() => Ok((s, m)),
                _ => Err(werr(format!(
                    "{} quantization needs a finite `scale` and `min`",
                    q.dtype
                ))),
            }
        };
        if !matches!(w.dtype.as_str(), "float32" | "int32") {
            return Err(werr(format!(
                "{} quantization of a {} weight; TF.js quantizes float32 and int32 only",
                q.dtype, w.dtype
            )));
        }
        return Ok(Some(match q.dtype.as_str() {
            "uint8" => {
                let (scale, min) = affine(q)?;
                Stored::U8 { scale, min }
            }
            "uint16" => {
                let (scale, min) = affine(q)?;
                Stored::U16 { scale, min }
            }
            "float16" if w.dtype == "float32" => Stored::F16,
            "float16" => {
                return Err(werr(format!(
                    "float16 quantization of a {} weight; TF.js allows it for float32 only",
                    w.dtype
                )))
            }
            other => {
                return Err(werr(format!(
                    "quantization dtype `{other}`; TF.js writes uint8, uint16 or float16"
                )))
            }
        }));
    }
    Ok(Some(match w.dtype.as_str() {
        "float32" => Stored::F32,
        "int32" => Stored::I32,
        "bool" => Stored::Bool,
        "string" | "complex64" => return Ok(None),
        other => {
            return Err(Error::UnsupportedDtype {
                name: w.name.clone(),
                dtype: format!("TF.js `{other}`"),
            })
        }
    }))
}

/// A group's shards read as one byte sequence.
struct Shards<'a> {
    parts: Vec<&'a [u8]>,
    len: usize,
}

impl<'a> Shards<'a> {
    /// Bytes [at, at + n): borrowed when they lie in one shard (the usual case: the
    /// converter cuts shards at 4 MB whatever the tensors, so a few span two).
    fn get(&self, at: usize, n: usize) -> Option<Cow<'a, [u8]>> {
        let end = at.checked_add(n).filter(|&e| e <= self.len)?;
        let mut start = 0;
        let mut out: Vec<u8> = Vec::new();
        for p in &self.parts {
            let (lo, hi) = (start, start + p.len());
            start = hi;
            if hi <= at || lo >= end {
                continue;
            }
            let s = &p[at.max(lo) - lo..end.min(hi) - lo];
            if out.is_empty() && lo <= at && end <= hi {
                return Some(Cow::Borrowed(s));
            }
            out.extend_from_slice(s);
        }
        Some(Cow::Owned(out))
    }
}

/// Opens a TF.js model from its files: one model.json (or weights manifest) and the
/// shards it names, matched by file name (the manifest's paths are relative to it).
/// Files the manifest does not name are left out and listed in the metadata.
pub fn read(files: &[(&str, &[u8])]) -> Result<Model> {
    let manifests: Vec<usize> = (0..files.len())
        .filter(|&i| looks_like(files[i].1) || is_manifest_name(files[i].0))
        .collect();
    let main = match manifests.as_slice() {
        [m] => *m,
        [] => return Err(err("no model.json among the files given")),
        several => {
            return Err(err(format!(
                "{} model.json files given ({}); open one model at a time, with its .bin shards",
                several.len(),
                several
                    .iter()
                    .map(|&i| files[i].0)
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let (json_name, json) = files[main];
    let model = parse(json, json_name)?;
    let by_name: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != main)
        .map(|(i, (n, _))| (base_name(n), i))
        .collect();
    let mut used = vec![false; files.len()];
    used[main] = true;
    let mut tensors = Vec::new();
    let mut quantization = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut shard_count = 0;
    for (gi, group) in model.weights_manifest.iter().enumerate() {
        let mut parts = Vec::with_capacity(group.paths.len());
        for p in &group.paths {
            let Some(&i) = by_name.get(base_name(p)) else {
                return Err(err(format!(
                    "`{json_name}` keeps weights in shard `{p}`, which was not given; open it together with its .bin files"
                )));
            };
            used[i] = true;
            parts.push(files[i].1);
        }
        shard_count += parts.len();
        let shards = Shards {
            len: parts.iter().map(|p| p.len()).sum(),
            parts,
        };
        let mut at = 0usize;
        for w in &group.weights {
            let shape: Vec<u64> = w
                .shape
                .iter()
                .map(|&d| {
                    u64::try_from(d)
                        .map_err(|_| err(format!("weight `{}`: negative dimension {d}", w.name)))
                })
                .collect::<Result<_>>()?;
            let left = shards.len - at;
            let Some(kind) = stored(w)? else {
                let numel = checked_numel(&w.name, &shape, 1, left)?;
                at += skip_len(w, numel, &shards, at)?;
                skipped.push(w.name.clone());
                continue;
            };
            let numel = checked_numel(&w.name, &shape, kind.size(), left).map_err(|e| {
                err(format!(
                    "group {gi} ({}): {e}; the shards hold {} bytes (truncated shard, or a manifest that claims more)",
                    group.paths.join(", "),
                    shards.len
                ))
            })?;
            let raw = shards
                .get(at, numel * kind.size())
                .expect("checked against the bytes left");
            at += numel * kind.size();
            let int = w.dtype == "int32";
            let (dtype, data) = match kind {
                Stored::F32 => (DType::F32, decode(&raw, DType::F32)),
                Stored::I32 => (DType::I32, decode(&raw, DType::I32)),
                Stored::Bool => (DType::Bool, decode(&raw, DType::Bool)),
                Stored::F16 => (DType::F16, decode(&raw, DType::F16)),
                Stored::U8 { scale, min } => {
                    let codes = raw.iter().map(|&c| c as f64);
                    (DType::U8, affine(codes, scale, min, int))
                }
                Stored::U16 { scale, min } => {
                    let codes = raw
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]) as f64);
                    (DType::U16, affine(codes, scale, min, int))
                }
            };
            if let Stored::U8 { scale, min } | Stored::U16 { scale, min } = kind {
                quantization.insert(
                    w.name.clone(),
                    StoredQuantization {
                        code_dtype: dtype.name().to_string(),
                        scales: vec![scale as f32],
                        zero_points: vec![(-min / scale).round() as i64],
                        quantized_dimension: 0,
                        affine: vec![(scale, min)],
                    },
                );
            }
            tensors.push(Tensor {
                name: w.name.clone(),
                shape: shape.iter().map(|&d| d as usize).collect(),
                dtype,
                data,
            });
        }
        if at != shards.len {
            return Err(err(format!(
                "group {gi} ({}): the weights take {at} bytes but the shards hold {}; the manifest does not describe these shards",
                group.paths.join(", "),
                shards.len
            )));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for t in &tensors {
        if !seen.insert(t.name.as_str()) {
            return Err(err(format!(
                "weight `{}` is listed twice in the manifest",
                t.name
            )));
        }
    }
    let mut metadata = BTreeMap::new();
    for (k, v) in [
        ("format", &model.format),
        ("generatedBy", &model.generated_by),
        ("convertedBy", &model.converted_by),
    ] {
        if let Some(v) = v {
            metadata.insert(k.to_string(), v.clone());
        }
    }
    metadata.insert("groups".into(), model.weights_manifest.len().to_string());
    metadata.insert("shards".into(), shard_count.to_string());
    if !skipped.is_empty() {
        metadata.insert("skipped (string/complex64)".into(), skipped.join(", "));
    }
    let unused: Vec<&str> = files
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((n, _), _)| *n)
        .collect();
    if !unused.is_empty() {
        metadata.insert("files not in the manifest".into(), unused.join(", "));
    }
    let graph = model
        .model_topology
        .as_ref()
        .and_then(|t| graph_summary(t, &tensors));
    Ok(Model {
        format: Format::Tfjs,
        tensors,
        metadata,
        graph,
        quantization,
    })
}

/// real = code * scale + min in f64, as TF.js computes it, then once to f32 (or to the
/// nearest integer for an int32 original; JavaScript's Math.round rounds halves up).
fn affine(codes: impl Iterator<Item = f64>, scale: f64, min: f64, int: bool) -> Vec<f32> {
    codes
        .map(|q| {
            let v = q * scale + min;
            if int {
                (v + 0.5).floor() as f32
            } else {
                v as f32
            }
        })
        .collect()
}

/// Bytes a skipped weight takes: complex64 is two float32s per element; a string tensor
/// is, per element, a u32 byte length and the bytes.
fn skip_len(w: &WeightSpec, numel: usize, shards: &Shards, at: usize) -> Result<usize> {
    if w.dtype == "complex64" {
        return numel
            .checked_mul(8)
            .filter(|&n| n <= shards.len - at)
            .ok_or_else(|| {
                err(format!(
                    "weight `{}`: complex64 values run past the shards",
                    w.name
                ))
            });
    }
    let mut pos = at;
    for _ in 0..numel {
        let len = shards
            .get(pos, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| {
                err(format!(
                    "weight `{}`: string lengths run past the shards",
                    w.name
                ))
            })?;
        pos = pos
            .checked_add(4 + len)
            .filter(|&p| p <= shards.len)
            .ok_or_else(|| {
                err(format!(
                    "weight `{}`: a string runs past the shards",
                    w.name
                ))
            })?;
    }
    Ok(pos - at)
}

/// A graph model's topology (a GraphDef as JSON): its nodes, their operators, and which
/// node reads which weight. None for layers models (a Keras config, not a graph).
fn graph_summary(topology: &serde_json::Value, tensors: &[Tensor]) -> Option<GraphSummary> {
    let mut nodes: Vec<&serde_json::Value> = topology.get("node")?.as_array()?.iter().collect();
    let mut subgraphs = 0;
    if let Some(fns) = topology
        .get("library")
        .and_then(|l| l.get("function"))
        .and_then(|f| f.as_array())
    {
        for f in fns {
            if let Some(n) = f.get("nodeDef").and_then(|n| n.as_array()) {
                subgraphs += 1;
                nodes.extend(n);
            }
        }
    }
    let weights: std::collections::HashSet<&str> =
        tensors.iter().map(|t| t.name.as_str()).collect();
    let mut g = GraphSummary {
        node_count: nodes.len(),
        subgraph_count: subgraphs,
        ..GraphSummary::default()
    };
    for (i, n) in nodes.iter().enumerate() {
        let op = n
            .get("op")
            .and_then(|o| o.as_str())
            .unwrap_or("?")
            .to_string();
        *g.op_types.entry(op.clone()).or_default() += 1;
        let name = n
            .get("name")
            .and_then(|o| o.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{op}#{i}"));
        for input in n
            .get("input")
            .and_then(|i| i.as_array())
            .into_iter()
            .flatten()
        {
            let Some(s) = input.as_str() else { continue };
            // "^name" is a control edge; "name:1" an output index.
            let s = s.trim_start_matches('^');
            let s = s.rsplit_once(':').map_or(s, |(a, b)| {
                if b.chars().all(|c| c.is_ascii_digit()) {
                    a
                } else {
                    s
                }
            });
            if weights.contains(s) {
                g.weight_consumers
                    .entry(s.to_string())
                    .or_default()
                    .push(NodeRef {
                        node: name.clone(),
                        op_type: op.clone(),
                    });
            }
        }
    }
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(weights: &str, paths: &str) -> Vec<u8> {
        format!(r#"{{"format":"layers-model","modelTopology":{{}},"weightsManifest":[{{"paths":[{paths}],"weights":[{weights}]}}]}}"#).into_bytes()
    }

    #[test]
    fn weights_span_shards_and_quantized_codes_dequantize() {
        let w = r#"{"name":"a","shape":[3],"dtype":"float32"},
                   {"name":"q","shape":[2,2],"dtype":"float32","quantization":{"dtype":"uint8","scale":0.5,"min":-1.0}},
                   {"name":"s","shape":[2],"dtype":"string"},
                   {"name":"i","shape":[1],"dtype":"int32","quantization":{"dtype":"uint16","scale":0.25,"min":0.0}}"#;
        let json = manifest(w, r#""s1.bin","s2.bin""#);
        let mut bin: Vec<u8> = [1.0f32, 2.0, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        bin.extend([0u8, 1, 2, 255]);
        bin.extend(1u32.to_le_bytes());
        bin.push(b'x');
        bin.extend(0u32.to_le_bytes());
        bin.extend(10u16.to_le_bytes());
        let (s1, s2) = bin.split_at(5);
        let m = read(&[("m/model.json", &json), ("m/s1.bin", s1), ("m/s2.bin", s2)]).unwrap();
        assert_eq!(m.format, Format::Tfjs);
        assert_eq!(m.tensor("a").unwrap().data, vec![1.0, 2.0, 3.0]);
        assert_eq!(m.tensor("q").unwrap().data, vec![-1.0, -0.5, 0.0, 126.5]);
        assert_eq!(m.tensor("q").unwrap().dtype, DType::U8);
        assert_eq!(m.tensor("i").unwrap().data, vec![3.0]); // 2.5 rounds up, as Math.round
        assert_eq!(m.quantization["q"].affine, vec![(0.5, -1.0)]);
        assert_eq!(m.quantization["q"].zero_points, vec![2]);
        assert!(m.tensor("s").is_err());
    }

    #[test]
    fn missing_short_and_lying_shards_are_named() {
        let w = r#"{"name":"a","shape":[4],"dtype":"float32"}"#;
        let json = manifest(w, r#""w.bin""#);
        let e = read(&[("model.json", &json)]).unwrap_err().to_string();
        assert!(e.contains("`w.bin`, which was not given"), "{e}");
        let e = read(&[("model.json", &json), ("w.bin", &[0u8; 12])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated shard"), "{e}");
        let e = read(&[("model.json", &json), ("w.bin", &[0u8; 20])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("take 16 bytes but the shards hold 20"), "{e}");
        let absurd = manifest(
            r#"{"name":"a","shape":[4294967296,4294967296,16],"dtype":"float32"}"#,
            r#""w.bin""#,
        );
        let e = read(&[("model.json", &absurd), ("w.bin", &[0u8; 16])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than 2^64"), "{e}");
        let bad = manifest(
            r#"{"name":"a","shape":[4],"dtype":"float32","quantization":{"dtype":"uint8"}}"#,
            r#""w.bin""#,
        );
        let e = read(&[("model.json", &bad), ("w.bin", &[0u8; 4])])
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a finite `scale` and `min`"), "{e}");
        assert!(read(&[("model.json", b"{\"weightsManifest\": 3}")]).is_err());
    }
}
