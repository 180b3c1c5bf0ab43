//! Code generated from the schemas in src/formats/schema/ by scripts/regen-format-code.sh:
//! do not edit by hand.

/// onnx.proto, through prost-build + protox.
pub mod onnx {
    include!("onnx.rs");
}

/// TFLite's schema.fbs, through planus.
pub mod tflite {
    include!("tflite.rs");
}
