#!/usr/bin/env bash
# clippy for the wasm32 target, so the cfg-gated SIMD128 kernels and the binding are
# linted too (with `bench-hooks`, which only adds src/wasm/bench.rs, so every line is seen). Uses the same toolchain choice as the wasm build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/wasm-env.sh
if [ "${WASM_CARGO[0]}" = /usr/bin/cargo ]; then
  # Debian's cargo-clippy must win over rustup's proxy of the same name.
  export PATH="/usr/bin:$PATH"
fi
"${WASM_CARGO[@]}" clippy --release --no-default-features --target wasm32-unknown-unknown \
  "${WASM_BUILD_STD[@]}" --features bench-hooks --lib --tests -- -D warnings
# The relaxed-SIMD build compiles src/kernels/gemm/relaxed.rs, which the line above
# does not see.
CARGO_TARGET_DIR=target/wasm-relaxed RUSTFLAGS="$RUSTFLAGS -C target-feature=+relaxed-simd" \
  "${WASM_CARGO[@]}" clippy --release --no-default-features --target wasm32-unknown-unknown \
  "${WASM_BUILD_STD[@]}" --features bench-hooks --lib --tests -- -D warnings
