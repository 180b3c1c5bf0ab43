//! TensorFlow.js models: the layers and graph fixtures the `tensorflowjs` package wrote
//! (scripts/gen_tfjs_fixtures.py: shards spanning weights, float16 and affine
//! uint8/uint16 weights) and every model of the `@vladmandic/face-api` npm package, each
//! held bit for bit to what TensorFlow.js itself decodes (scripts/tfjs_reference.mjs
//! with @tensorflow/tfjs-core), and the broken cases a user can drop.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/models.rs"]
mod models_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use quantscope::formats::open_many;
use quantscope::{Format, Model};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What TF.js decodes from `manifest`, or None (and a loud message) without node_modules.
fn tfjs_reference(manifest: &Path) -> Option<Value> {
    if !root().join("node_modules/@tensorflow/tfjs-core").is_dir() {
        models_support::skip("@tensorflow/tfjs-core", "Run `npm ci` (npm test does).");
        return None;
    }
    let out = Command::new("node")
        .arg(root().join("scripts/tfjs_reference.mjs"))
        .arg(manifest)
        .arg("--values")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Every file of a folder, as a user drops them together.
fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn open(files: &[(String, Vec<u8>)]) -> quantscope::Result<Model> {
    let named: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    open_many(&named)
}

/// Names, shapes and every value's bits equal TF.js's decoding.
fn assert_equals_tfjs(model: &Model, want: &Value, what: &str) {
    let want = want["tensors"].as_object().unwrap();
    assert_eq!(model.tensors.len(), want.len(), "{what}: tensor count");
    for t in &model.tensors {
        let w = want
            .get(&t.name)
            .unwrap_or_else(|| panic!("{what}: {} not in TF.js's list", t.name));
        let shape: Vec<usize> = serde_json::from_value(w["shape"].clone()).unwrap();
        assert_eq!(t.shape, shape, "{what} {}", t.name);
        let bits: Vec<u32> = serde_json::from_value(w["bits"].clone()).unwrap();
        let got: Vec<u32> = t.data.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, bits, "{what} {}: values differ from TF.js's", t.name);
    }
}

fn fixture(kind: &str) -> PathBuf {
    root().join("tests/fixtures/tfjs").join(kind)
}

#[test]
fn layers_and_graph_models_equal_tfjs() {
    for kind in ["layers", "graph"] {
        let dir = fixture(kind);
        let model = open(&files_in(&dir)).unwrap();
        assert_eq!(model.format, Format::Tfjs);
        assert_eq!(model.metadata["format"], format!("{kind}-model"));
        let Some(want) = tfjs_reference(&dir.join("model.json")) else {
            return;
        };
        assert_equals_tfjs(&model, &want, kind);
        // The stored quantization is the manifest's, exactly.
        let json: Value =
            serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
        let mut quantized = 0;
        for group in json["weightsManifest"].as_array().unwrap() {
            for w in group["weights"].as_array().unwrap() {
                let name = w["name"].as_str().unwrap();
                let q = &w["quantization"];
                match q["dtype"].as_str() {
                    Some(d @ ("uint8" | "uint16")) => {
                        let sq = &model.quantization[name];
                        assert_eq!(sq.code_dtype, if d == "uint8" { "U8" } else { "U16" });
                        assert_eq!(
                            sq.affine,
                            vec![(q["scale"].as_f64().unwrap(), q["min"].as_f64().unwrap())]
                        );
                        quantized += 1;
                    }
                    Some("float16") => {
                        assert_eq!(model.tensor(name).unwrap().dtype.name(), "F16");
                        assert!(!model.quantization.contains_key(name));
                    }
                    _ => assert!(!model.quantization.contains_key(name)),
                }
            }
        }
        assert!(quantized > 0, "{kind}: the fixture has affine weights");
    }
    // A graph model's topology gives the graph summary: which node reads which weight.
    let graph = open(&files_in(&fixture("graph"))).unwrap().graph.unwrap();
    assert_eq!(graph.op_types["MatMul"], 2);
    assert_eq!(graph.weight_consumers["MatMul/b"][0].op_type, "MatMul");
}

#[test]
fn broken_tfjs_files_are_named() {
    let files = files_in(&fixture("layers"));
    let err = |files: &[(String, Vec<u8>)]| match open(files) {
        Ok(_) => panic!(
            "opened: {:?}",
            files.iter().map(|f| (&f.0, f.1.len())).collect::<Vec<_>>()
        ),
        Err(e) => e.to_string(),
    };
    // A shard left out.
    let some: Vec<_> = files
        .iter()
        .filter(|(n, _)| n != "group1-shard2of2.bin")
        .cloned()
        .collect();
    let e = err(&some);
    assert!(
        e.contains("`group1-shard2of2.bin`, which was not given"),
        "{e}"
    );
    // The model.json alone.
    let e = quantscope::open(
        &files.iter().find(|f| f.0 == "model.json").unwrap().1,
        "model.json",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("which was not given"), "{e}");
    // A truncated shard.
    let mut cut = files.clone();
    for f in &mut cut {
        if f.0 == "group1-shard2of2.bin" {
            f.1.truncate(f.1.len() - 7);
        }
    }
    let e = err(&cut);
    assert!(e.contains("truncated shard"), "{e}");
    // A manifest that lies (a longer or shorter weight than the shards hold), claims an
    // absurd or negative shape, or names a type TF.js does not write.
    let json: Value =
        serde_json::from_slice(&files.iter().find(|f| f.0 == "model.json").unwrap().1).unwrap();
    fn dense(w: &mut Value) -> &mut Value {
        let w = &mut w["weightsManifest"][0]["weights"][6];
        assert_eq!(w["name"], "dense/kernel");
        w
    }
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str); 6] = [
        (
            |w| w["shape"] = serde_json::json!([128, 11]),
            "truncated shard",
        ),
        (
            |w| w["shape"] = serde_json::json!([128, 9]),
            "the weights take",
        ),
        (
            |w| w["shape"] = serde_json::json!([4294967296u64, 4294967296u64, 4294967296u64]),
            "more than 2^64",
        ),
        (
            |w| w["shape"] = serde_json::json!([128, -10]),
            "negative dimension",
        ),
        (
            |w| w["quantization"]["dtype"] = "int4".into(),
            "quantization dtype `int4`",
        ),
        (
            |w| {
                w.as_object_mut().unwrap().remove("quantization");
                w["dtype"] = "float64".into()
            },
            "unsupported dtype TF.js `float64`",
        ),
    ];
    for (edit, needle) in cases {
        let mut j = json.clone();
        edit(dense(&mut j));
        let mut lying = files.clone();
        for f in &mut lying {
            if f.0 == "model.json" {
                f.1 = serde_json::to_vec(&j).unwrap();
            }
        }
        let e = err(&lying);
        assert!(e.contains(needle), "{needle}: {e}");
    }
    // Not JSON after all.
    let mut bad = files.clone();
    for f in &mut bad {
        if f.0 == "model.json" {
            f.1.truncate(f.1.len() / 2);
        }
    }
    let e = err(&bad);
    assert!(e.contains("TF.js"), "{e}");
}

#[test]
fn face_api_models_from_npm_equal_tfjs() {
    let dir = root().join("node_modules/@vladmandic/face-api/model");
    if !dir.is_dir() {
        models_support::skip("@vladmandic/face-api", "Run `npm ci` (npm test does).");
        return;
    }
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with("-weights_manifest.json"))
        .collect();
    manifests.sort();
    assert_eq!(manifests.len(), 7, "face-api 1.7.15 ships 7 models");
    for m in manifests {
        let stem = m
            .to_str()
            .unwrap()
            .trim_end_matches("-weights_manifest.json");
        let bin = PathBuf::from(format!("{stem}.bin"));
        let files = vec![
            (
                m.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read(&m).unwrap(),
            ),
            (
                bin.file_name().unwrap().to_str().unwrap().to_string(),
                std::fs::read(&bin).unwrap(),
            ),
        ];
        let model = open(&files).unwrap_or_else(|e| panic!("{}: {e}", m.display()));
        let Some(want) = tfjs_reference(&m) else {
            return;
        };
        assert_equals_tfjs(&model, &want, m.file_name().unwrap().to_str().unwrap());
        assert!(
            !model.quantization.is_empty(),
            "face-api stores uint8 weights"
        );
    }
}
