#!/usr/bin/env bash
# Runs the wasm build's tests in Node with the SIMD128 kernels (wasm-bindgen-test-runner).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/wasm-env.sh
"${WASM_CARGO[@]}" test --release --no-default-features --target wasm32-unknown-unknown \
  "${WASM_BUILD_STD[@]}" --test wasm_simd --test wasm_ggml
