//! The model listing tells weights from constants (TensorInfo::role) and picks the
//! largest weight to show first, on the files the issue names: silero-vad's ONNX model
//! (158 one-element int64 constants before its first weight) and TFLite models (int32
//! padding and shape constants beside float and int8 weights).
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/models.rs"]
mod models_support;

mod common;

use std::path::{Path, PathBuf};

use quantscope::tensor::TensorRole;
use quantscope::DType;

fn package_file(package: &str, rel: &str) -> Option<PathBuf> {
    let out = std::process::Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
    )
    .args([
        "-c",
        &format!("import importlib.util as u; s = u.find_spec('{package}'); print(s.submodule_search_locations[0] if s else '')"),
    ])
    .output()
    .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()).join(rel);
    if p.is_file() {
        Some(p)
    } else {
        models_support::skip(
            &format!("{rel} of `{package}`"),
            "Run `bash scripts/setup-python.sh` (npm test does).",
        );
        None
    }
}

#[test]
fn silero_onnx_constants_are_not_weights() {
    let Some(p) = package_file("silero_vad", "data/silero_vad.onnx") else {
        return;
    };
    let model = quantscope::open(&std::fs::read(&p).unwrap(), "silero_vad.onnx").unwrap();
    let info = model.info();
    // The file lists about 150 integer and one-element constants before its first
    // weight; none of them is a weight, and a viewer that skips them lands on one.
    let first_weight = info
        .tensors
        .iter()
        .position(|t| t.role == TensorRole::Weight)
        .unwrap();
    assert!(first_weight > 150, "first weight at {first_weight}");
    assert!(info.tensors[first_weight].dtype.is_float());
    for t in &info.tensors {
        let want = if (t.dtype.is_float()) && t.numel > 1 {
            TensorRole::Weight
        } else {
            TensorRole::Constant
        };
        assert_eq!(t.role, want, "{} {} {:?}", t.name, t.dtype, t.shape);
    }
    let pick = info.largest_weight().unwrap();
    assert_eq!(pick.role, TensorRole::Weight);
    assert!(pick.dtype.is_float());
    let max = info
        .tensors
        .iter()
        .filter(|t| t.dtype.is_float())
        .map(|t| t.numel)
        .max();
    assert_eq!(Some(pick.numel), max);
}

#[test]
fn tflite_int32_constants_are_not_weights_and_int8_codes_are() {
    let rel = "tflite/weights.tflite";
    let model = quantscope::open(&common::read(rel), rel).unwrap();
    let info = model.info();
    for t in &info.tensors {
        let quantized = model.quantization.contains_key(&t.name);
        if quantized {
            assert_eq!(
                t.role,
                TensorRole::Weight,
                "{}: int8 codes with scales",
                t.name
            );
        }
        if !quantized && !t.dtype.is_float() {
            assert_eq!(t.role, TensorRole::Constant, "{}", t.name);
        }
    }
    assert!(info
        .tensors
        .iter()
        .any(|t| model.quantization.contains_key(&t.name)));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tflite_sparse");
    let model = quantscope::open(
        &std::fs::read(dir.join("pruned.tflite")).unwrap(),
        "pruned.tflite",
    )
    .unwrap();
    let info = model.info();
    let ints: Vec<_> = info
        .tensors
        .iter()
        .filter(|t| t.dtype == DType::I32)
        .collect();
    assert!(
        !ints.is_empty(),
        "the converter keeps int32 shape constants"
    );
    assert!(ints.iter().all(|t| t.role == TensorRole::Constant));
    let pick = info.largest_weight().unwrap();
    assert_eq!(pick.dtype, DType::F32);
    assert_eq!(
        pick.shape,
        vec![32, 128],
        "the largest kernel: {}",
        pick.name
    );
}

#[test]
fn roles_serialize_for_the_page() {
    let rel = "tflite/weights.tflite";
    let model = quantscope::open(&common::read(rel), rel).unwrap();
    let json = serde_json::to_value(model.info()).unwrap();
    let roles: Vec<&str> = json["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["role"].as_str().unwrap())
        .collect();
    assert!(roles.iter().all(|r| *r == "weight" || *r == "constant"));
    assert!(roles.contains(&"weight"));
}
