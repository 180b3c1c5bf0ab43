#!/usr/bin/env bash
# Builds the WebAssembly core (release, +simd128) and its JS bindings into www/pkg/.
# Picks the toolchain: rustup's wasm32 target where it is installed (an ordinary
# laptop), otherwise Debian's rustc with -Zbuild-std (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/wasm-env.sh

"${WASM_CARGO[@]}" build --release --lib --no-default-features \
  --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}"
wasm-bindgen --target web --out-dir www/pkg \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/quantscope.wasm"
ls -l www/pkg/quantscope_bg.wasm | awk '{print "www/pkg/quantscope_bg.wasm: " $5 " bytes"}'
