//! Shared by the tests/formats_*.rs files: open a fixture of tests/fixtures/formats2 and
//! hold it to what the tool's own reader returned (scripts/gen_format_fixtures.py).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use quantscope::formats::source::{ByteSource, InMemory};
use quantscope::formats::ModelFile;
use quantscope::{Model, TensorStore};
use serde_json::Value;

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats2")
}

pub fn read(rel: &str) -> Vec<u8> {
    let p = dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn manifest(rel: &str) -> Value {
    let text = std::fs::read_to_string(dir().join("manifest.json")).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    m[rel].clone()
}

/// The expected values, as the tool's reader returned them (float32, in an .npz).
pub fn expected(rel: &str) -> Model {
    let name = format!("expected/{}.npz", rel.replace('/', "__"));
    quantscope::open(&read(&name), &name).unwrap()
}

/// Names, shapes, dtypes and every value (bit for bit; NaN equals NaN) of `model`
/// equal the manifest's and the expected arrays of `rel` (the manifest lists tensors in
/// name order; formats that keep the file's order, GGUF, are compared by name).
pub fn assert_matches_tool(model: &Model, rel: &str) {
    let m = manifest(rel);
    let want = m["tensors"]
        .as_array()
        .unwrap_or_else(|| panic!("{rel} not in manifest"));
    let exp = expected(rel);
    let mut tensors: Vec<&quantscope::Tensor> = model.tensors.iter().collect();
    if model.format == quantscope::Format::Gguf {
        tensors.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    let want_names: Vec<&str> = want.iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, want_names, "{rel}: tensor names");
    for (t, w) in tensors.into_iter().zip(want) {
        let shape: Vec<usize> = w["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(t.shape, shape, "{rel} {}: shape", t.name);
        assert_eq!(
            t.dtype.name(),
            w["dtype"].as_str().unwrap(),
            "{rel} {}",
            t.name
        );
        let e = exp.tensor(&t.name).unwrap();
        assert_eq!(e.data.len(), t.data.len(), "{rel} {}", t.name);
        for (i, (a, b)) in t.data.iter().zip(&e.data).enumerate() {
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{rel} {}[{i}]: {a} vs the tool's {b}",
                t.name
            );
        }
    }
    if let Some(meta) = m["metadata"].as_object() {
        for (k, v) in meta {
            // Numbers and booleans (GGUF) as they print; strings as they are.
            let want = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(model.metadata.get(k), Some(&want), "{rel}: metadata {k}");
        }
    }
}

pub fn lazy(files: &[(&str, Vec<u8>)]) -> ModelFile {
    ModelFile::open(
        files
            .iter()
            .map(|(n, b)| {
                (
                    n.to_string(),
                    Box::new(InMemory(b.clone())) as Box<dyn ByteSource>,
                )
            })
            .collect(),
    )
    .unwrap()
}

/// The model ModelFile opens (read lazily when `lazily`, else decoded whole) lists the
/// same tensors as open_many's, in the same order, and each tensor it loads is
/// bit-identical.
pub fn assert_lazy_equals_eager(files: &[(&str, Vec<u8>)], lazily: bool) {
    let named: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    let eager = quantscope::formats::open_many(&named).unwrap();
    let lazy = lazy(files);
    assert_eq!(
        lazy.is_lazy(),
        lazily,
        "{:?}",
        files.iter().map(|f| f.0).collect::<Vec<_>>()
    );
    let (a, b) = (eager.info(), lazy.info());
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::to_value(&b).unwrap()
    );
    for t in &eager.tensors {
        let l = lazy.load(&t.name).unwrap();
        assert_eq!(l.shape, t.shape);
        assert_eq!(l.dtype, t.dtype);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&l.data), bits(&t.data), "{}", t.name);
    }
}
