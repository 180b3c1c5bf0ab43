#!/usr/bin/env bash
# Regenerates the committed readers for ONNX (protobuf) and TFLite (flatbuffers):
#   src/formats/schema/onnx.proto  -> src/formats/generated/onnx.rs    (prost-build + protox)
#   src/formats/schema/tflite.fbs  -> src/formats/generated/tflite.rs  (planus)
# The schemas are copies: onnx.proto from the `onnx` PyPI package (the version pinned in
# scripts/requirements.txt), tflite.fbs (TensorFlow's schema.fbs) from the `tract-tflite`
# crate 0.23.9 on crates.io. The generated code is committed so builds need no generator.
set -euo pipefail
cd "$(dirname "$0")/.."
PLANUS_VERSION=1.3.0
cargo run -q --release --manifest-path scripts/codegen/Cargo.toml
if ! cargo install --list | grep -q "^planus-cli v$PLANUS_VERSION:"; then
  cargo install -q planus-cli --version "$PLANUS_VERSION"
fi
planus rust -o src/formats/generated/tflite.rs src/formats/schema/tflite.fbs
rustfmt --edition 2021 src/formats/generated/onnx.rs
