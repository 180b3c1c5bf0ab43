#!/usr/bin/env bash
# Regenerates tests/fixtures/ggml/ with the pinned gguf package and ggml's C reference
# (fetched from crates.io and compiled into .cache/, never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
.venv/bin/python scripts/gen_ggml_fixtures.py
