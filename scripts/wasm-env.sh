# Sourced by the wasm build and test scripts: sets how cargo is called for wasm32.
# - rustup has the wasm32 target: plain cargo, prebuilt std.
# - otherwise Debian's rustc-web (/usr/bin/rustc) builds std from source (-Zbuild-std).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR_WASM:-target/wasm}"
export RUSTFLAGS="-C target-feature=+simd128 ${EXTRA_WASM_RUSTFLAGS:-}"
if rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  WASM_CARGO=(cargo)
  WASM_BUILD_STD=()
else
  export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  export RUSTFLAGS="$RUSTFLAGS -C linker=wasm-ld-22"
  WASM_CARGO=(/usr/bin/cargo)
  WASM_BUILD_STD=(-Zbuild-std=std,panic_abort)
fi
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
