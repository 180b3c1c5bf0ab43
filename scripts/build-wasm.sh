#!/usr/bin/env bash
# Builds the WebAssembly core (release) and its JS bindings twice:
#   www/pkg/          +simd128                 runs everywhere with wasm SIMD
#   www/pkg-relaxed/  +simd128,+relaxed-simd   faster int8 kernels where exact; a module
#                     with relaxed opcodes fails to validate where they are unsupported
#                     (Safari; Node 20 without --experimental-wasm-relaxed-simd), so the
#                     loader picks it with WebAssembly.validate.
# Picks the toolchain: rustup's wasm32 target where it is installed (an ordinary
# laptop), otherwise Debian's rustc with -Zbuild-std (see scripts/setup.sh).
# `--simd128-only` skips the relaxed build.
set -euo pipefail
cd "$(dirname "$0")/.."

build() { # out_dir target_dir extra_rustflags
  (
    export CARGO_TARGET_DIR_WASM="$2" EXTRA_WASM_RUSTFLAGS="$3"
    source scripts/wasm-env.sh
    "${WASM_CARGO[@]}" build --release --lib --no-default-features \
      --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}"
    wasm-bindgen --target web --out-dir "$1" \
      "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/quantscope.wasm"
    ls -l "$1/quantscope_bg.wasm" | awk '{print $9 ": " $5 " bytes"}'
  )
}

build www/pkg target/wasm ""
if [ "${1:-}" != --simd128-only ]; then
  build www/pkg-relaxed target/wasm-relaxed "-C target-feature=+relaxed-simd"
fi
