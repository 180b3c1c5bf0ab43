#!/usr/bin/env bash
# Every test and check, in the order that fails fastest. `npm test` runs this after
# `scripts/setup.sh --test`; .ci/run runs `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo; echo "=== $* ==="; }

# The free disk, first: a clean run needs about 10 GB (9 GB of it in the tree: target/
# with the native, release and three wasm builds, the venv, node_modules; measured on
# 2026-12-07); the last CI failure on record ran out of space 107 s in, while linting.
df -h . | tail -1 | awk '{print "disk: " $4 " free of " $2}'
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
if [ "${free_kb:-0}" -lt $((12 * 1024 * 1024)) ]; then
  echo "WARNING: under 12 GB free here; the builds below may run out of disk space"
fi
# CI builds once: incremental state (1.2 GB in target/debug) only helps a rebuild.
if [ -n "${CI:-}" ]; then export CARGO_INCREMENTAL=0; fi

step "Rust format and lint (native and wasm32)"
cargo fmt --check
cargo clippy --all-targets -- -D warnings
bash scripts/clippy-wasm.sh

step "Rust tests (native)"
# The real models are set up by `scripts/setup.sh --test`: here a missing one fails.
QUANTSCOPE_REQUIRE_MODELS=1 cargo test
# www/src/shared/core-types.ts equals what ts-rs derives from the Rust types.
cargo test --features ts-types --test ts_types

step "wasm tests in Node (SIMD128 kernels)"
bash scripts/test-wasm.sh

step "build: wasm, app, npm package, CLI"
npm run -s build
# package/: the npm package's bundles and declarations (tests/node, tests/e2e/package_consumer).
npm run -s build:package
cargo build --release
# The benchmark variant (kernel entry points), for the relaxed-SIMD kernel test in Chromium.
npm run -s build:wasm-bench

# Files the CLI writes (quantize -o), read back by onnxruntime, gguf and safetensors.
step "interop: exported ONNX / GGUF / safetensors in the real tools (Python venv)"
.venv/bin/python tests/interop/interop.py target/release/quantscope
.venv/bin/python tests/interop/train_interop.py target/release/quantscope

step "interop: whole-model runs (quantscope run) against ONNX Runtime"
.venv/bin/python tests/interop/graph_interop.py target/release/quantscope

step "interop: the automatic mix's exports (quantscope auto) in gguf and ONNX Runtime"
.venv/bin/python tests/interop/auto_interop.py target/release/quantscope

# After the build: the worker's types come from the generated www/pkg/*.d.ts.
step "TypeScript types and format"
npm run -s typecheck
npm run -s fmt:check

step "the npm package in Node"
npm run -s test:node

step "end-to-end tests in headless Chromium"
# A real model that is missing fails here too (tests/e2e/whole_model.test.mjs).
QUANTSCOPE_REQUIRE_MODELS=1 npm run -s test:e2e
