//! TFLite: float32/float16 weights and int8 weights with per-axis and per-tensor
//! quantization, against the `tflite` package's reader (scripts/gen_format_fixtures.py).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use quantscope::formats::Format;

#[test]
fn weights_and_quantization_equal_the_tflite_package() {
    let rel = "tflite/weights.tflite";
    let model = quantscope::open(&common::read(rel), rel).unwrap();
    assert_eq!(model.format, Format::Tflite);
    common::assert_matches_tool(&model, rel);
    let want = common::manifest(rel)["quantization"].clone();
    let want = want.as_object().unwrap();
    assert_eq!(model.quantization.len(), want.len());
    for (name, q) in &model.quantization {
        let w = &want[name];
        assert_eq!(q.code_dtype, w["code_dtype"].as_str().unwrap(), "{name}");
        assert_eq!(
            q.quantized_dimension as u64,
            w["quantized_dimension"].as_u64().unwrap()
        );
        // JSON carries the scales as float64 of the float32s the file holds.
        let scales: Vec<f32> = w["scales"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(q.scales, scales, "{name}");
        let zps: Vec<i64> = w["zero_points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|z| z.as_i64().unwrap())
            .collect();
        assert_eq!(q.zero_points, zps, "{name}");
    }
    let q = &model.quantization["conv/kernel_int8"];
    assert_eq!(q.scales.len(), 3, "per-axis: one scale per output channel");
    assert!(
        model.tensor("input").is_err(),
        "activations have no weights"
    );
}
