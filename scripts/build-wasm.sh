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
# `--bench-hooks` builds the benchmark variant instead, into www/pkg-bench/ and
# www/pkg-bench-relaxed/: the same core plus the benchmark hooks and raw kernel entry
# points (src/wasm/bench.rs), which the public build leaves out. The benchmarks
# (scripts/bench/) and tests/e2e/relaxed_kernels.test.mjs load it.
set -euo pipefail
cd "$(dirname "$0")/.."

simd128_only="" features=() suffix=""
for arg in "$@"; do
  case "$arg" in
    --simd128-only) simd128_only=1 ;;
    --bench-hooks) features=(--features bench-hooks) suffix="-bench" ;;
    *) echo "build-wasm.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

build() { # out_dir target_dir extra_rustflags
  (
    export CARGO_TARGET_DIR_WASM="$2" EXTRA_WASM_RUSTFLAGS="$3"
    source scripts/wasm-env.sh
    "${WASM_CARGO[@]}" build --release --lib --no-default-features "${features[@]}" \
      --target wasm32-unknown-unknown "${WASM_BUILD_STD[@]}"
    wasm-bindgen --target web --out-dir "$1" \
      "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/quantscope.wasm"
    ls -l "$1/quantscope_bg.wasm" | awk '{print $9 ": " $5 " bytes"}'
  )
}

# The benchmark variant shares the public build's target directories: the features
# differ only in our crate (bench-hooks enables no dependency's feature), so its
# dependencies (tract, candle, std from source) are built once for both, and only
# quantscope itself is compiled again (a clean clone's test run builds both).
build "www/pkg$suffix" "target/wasm" ""
if [ -z "$simd128_only" ]; then
  build "www/pkg$suffix-relaxed" "target/wasm-relaxed" "-C target-feature=+relaxed-simd"
fi
