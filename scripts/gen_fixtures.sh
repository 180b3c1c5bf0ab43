#!/usr/bin/env bash
# Regenerates the committed fixtures with the pinned reference tools (numpy, safetensors,
# onnxruntime from the package registry) in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
.venv/bin/python scripts/gen_fixtures.py
