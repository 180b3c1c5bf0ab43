#!/usr/bin/env bash
# Runs the wasm build's tests in Node (wasm-bindgen-test-runner): the SIMD128 kernels,
# then the same GEMM tests again in a +relaxed-simd build. Node 20's V8 has relaxed SIMD
# behind --experimental-wasm-relaxed-simd (off by default), so that run passes it (wasm-bindgen-test-runner reads NODE_ARGS).
set -euo pipefail
cd "$(dirname "$0")/.."
(
  source scripts/wasm-env.sh
  "${WASM_CARGO[@]}" test --release --no-default-features --target wasm32-unknown-unknown \
    "${WASM_BUILD_STD[@]}" --test wasm_simd --test wasm_kernels
)
(
  export CARGO_TARGET_DIR_WASM=target/wasm-relaxed EXTRA_WASM_RUSTFLAGS="-C target-feature=+relaxed-simd"
  export QUANTSCOPE_EXPECT_RELAXED=1 NODE_ARGS="--experimental-wasm-relaxed-simd"
  source scripts/wasm-env.sh
  "${WASM_CARGO[@]}" test --release --no-default-features --target wasm32-unknown-unknown \
    "${WASM_BUILD_STD[@]}" --test wasm_kernels
)
