#!/usr/bin/env bash
# Runs the wasm build's tests in Node (wasm-bindgen-test-runner) with the SIMD128
# kernels: tests/wasm_simd.rs, tests/wasm_convert.rs (F16 decoding) and tests/wasm_kernels.rs (GEMM/GEMV twins, numpy and gguf
# fixtures).
#
# The relaxed-SIMD build is tested in Chromium instead (tests/e2e/relaxed_kernels.test.mjs,
# part of `npm run test:e2e`): Node 20's V8 11.3 has relaxed SIMD only behind
# --experimental-wasm-relaxed-simd, and with it i32x4.relaxed_dot_i8x16_i7x16_add_s gave
# wrong sums in our kernels, where Chromium 156 gives exact ones. On a Node whose V8
# ships relaxed SIMD, `QUANTSCOPE_RELAXED_NODE=1` also runs tests/wasm_kernels.rs in a
# +relaxed-simd build here.
set -euo pipefail
cd "$(dirname "$0")/.."
(
  source scripts/wasm-env.sh
  "${WASM_CARGO[@]}" test --release --no-default-features --target wasm32-unknown-unknown \
    "${WASM_BUILD_STD[@]}" --test wasm_simd --test wasm_ggml --test wasm_kernels --test wasm_convert
)
if [ "${QUANTSCOPE_RELAXED_NODE:-}" = 1 ]; then
  (
    export CARGO_TARGET_DIR_WASM=target/wasm-relaxed EXTRA_WASM_RUSTFLAGS="-C target-feature=+relaxed-simd"
    export QUANTSCOPE_EXPECT_RELAXED=1 NODE_ARGS="--experimental-wasm-relaxed-simd"
    source scripts/wasm-env.sh
    "${WASM_CARGO[@]}" test --release --no-default-features --target wasm32-unknown-unknown \
      "${WASM_BUILD_STD[@]}" --test wasm_kernels
  )
fi
