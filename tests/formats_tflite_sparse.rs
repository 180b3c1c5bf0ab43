//! TFLite sparse tensors densified as TFLite does: a model TensorFlow's converter stored
//! sparse (CSR levels and 1x4 blocks), held to TFLite's interpreter and to the Keras
//! kernels it was made from; and every .tflite file of the mediapipe 0.10.21 wheel, whose
//! tensor lists equal the `tflite` package's and whose sparse tensors equal the
//! interpreter's dense values (scripts/gen_tflite_sparse_fixtures.py made the fixtures).
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/models.rs"]
mod models_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use quantscope::Model;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("tests/fixtures/tflite_sparse")
}

fn expected() -> Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("expected.json")).unwrap()).unwrap()
}

fn fnv1a64(values: &[f32]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in values.iter().flat_map(|v| v.to_le_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Every sparse tensor the interpreter densified has its dense values here.
fn assert_dense_as_tflite(model: &Model, want: &Value, file: &str) {
    let want = want.as_object().unwrap();
    assert!(
        !want.is_empty(),
        "{file}: the expectation lists sparse tensors"
    );
    for (name, w) in want {
        let t = model.tensor(name).unwrap();
        let shape: Vec<usize> = serde_json::from_value(w["shape"].clone()).unwrap();
        assert_eq!(t.shape, shape, "{file} {name}");
        assert_eq!(t.data.len() as u64, w["count"].as_u64().unwrap());
        let nonzero = t.data.iter().filter(|v| **v != 0.0).count() as u64;
        assert_eq!(nonzero, w["nonzero"].as_u64().unwrap(), "{file} {name}");
        assert_eq!(
            fnv1a64(&t.data),
            w["fnv1a64"].as_str().unwrap(),
            "{file} {name}: dense values differ from TFLite's"
        );
    }
}

#[test]
fn converter_sparse_tensors_equal_the_interpreter_and_the_kernels() {
    let bytes = std::fs::read(fixtures().join("pruned.tflite")).unwrap();
    let model = quantscope::open(&bytes, "pruned.tflite").unwrap();
    assert_dense_as_tflite(&model, &expected()["pruned.tflite"], "pruned.tflite");
    let npz = std::fs::read(fixtures().join("pruned_dense.npz")).unwrap();
    let want = quantscope::open(&npz, "pruned_dense.npz").unwrap();
    // The interpreter's dense values, bit for bit.
    let mut from_interpreter = 0;
    for w in &want.tensors {
        if let Some(name) = w.name.strip_prefix("interpreter/") {
            assert_eq!(model.tensor(name).unwrap().data, w.data, "{name}");
            from_interpreter += 1;
        }
    }
    assert_eq!(from_interpreter, 2);
    // The kernels the model was built from, including the block-sparse one that
    // FullyConnected reads without a DENSIFY operator.
    let by_shape = |shape: &[usize]| -> Vec<&quantscope::Tensor> {
        model
            .tensors
            .iter()
            .filter(|t| t.shape == shape && t.data.iter().any(|v| *v != 0.0))
            .collect()
    };
    for key in ["conv", "dense_random", "dense_blocks"] {
        let k = want.tensor(key).unwrap();
        let found = by_shape(&k.shape);
        assert!(
            found.iter().any(|t| t.data == k.data),
            "{key}: no tensor of shape {:?} holds the kernel",
            k.shape
        );
    }
}

#[test]
fn broken_sparsity_is_an_error_not_a_panic() {
    let bytes = std::fs::read(fixtures().join("pruned.tflite")).unwrap();
    // Every truncation is refused or read; none panics or allocates without bound.
    for cut in (0..bytes.len()).step_by(97) {
        let _ = quantscope::open(&bytes[..cut], "cut.tflite");
    }
    // Each byte of the file changed in turn: a lying index, segment or dense size in the
    // sparsity metadata must come back as an error (or a different but valid model).
    for at in 0..bytes.len() {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        if let Err(e) = quantscope::open(&b, "lying.tflite") {
            assert!(!e.to_string().is_empty());
        }
    }
}

fn mediapipe_dir() -> Option<PathBuf> {
    let dir = root().join(".cache/mediapipe-0.10.21");
    if dir.join(".done").is_file() {
        Some(dir)
    } else {
        models_support::skip(
            "the mediapipe 0.10.21 wheel's models in .cache",
            "Run `bash scripts/setup-python.sh` (npm test does) to fetch them.",
        );
        None
    }
}

fn tflite_reference(path: &Path) -> Vec<Value> {
    let out = Command::new(root().join(".venv/bin/python"))
        .arg(root().join("scripts/tflite_reference.py"))
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["tensors"].as_array().unwrap().clone()
}

#[test]
fn every_mediapipe_model_opens_with_the_tflite_packages_tensors() {
    let Some(dir) = mediapipe_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tflite"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 14, "the wheel ships 14 .tflite files");
    let expected = expected();
    let mut sparse_files = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_str().unwrap();
        let bytes = std::fs::read(path).unwrap();
        let model = quantscope::open(&bytes, file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let want = tflite_reference(path);
        assert_eq!(model.tensors.len(), want.len(), "{file}: tensor count");
        let mut got: Vec<(String, Vec<usize>)> = model
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.shape.clone()))
            .collect();
        let mut want_list: Vec<(String, Vec<usize>)> = want
            .iter()
            .map(|w| {
                (
                    w["name"].as_str().unwrap().to_string(),
                    serde_json::from_value(w["shape"].clone()).unwrap(),
                )
            })
            .collect();
        got.sort();
        want_list.sort();
        assert_eq!(got, want_list, "{file}: names and shapes");
        if want.iter().any(|w| w["sparse"] == true) {
            sparse_files += 1;
            assert_dense_as_tflite(&model, &expected[file], file);
        }
    }
    assert_eq!(
        sparse_files, 2,
        "pose_detection and face_detection_full_range_sparse"
    );
}
