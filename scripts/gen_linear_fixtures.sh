#!/usr/bin/env bash
# Regenerates tests/fixtures/linear/ with the pinned reference tools: .venv (numpy,
# onnxruntime, ...) and .venv-torch (PyTorch, for the torch-* presets; about 5 GB, made
# here on first use and never by npm test, which only reads the committed fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
stamp=.venv-torch/.requirements-torch.txt
if ! { [ -x .venv-torch/bin/python ] && cmp -s scripts/requirements-torch.txt "$stamp"; }; then
  echo "gen_linear_fixtures: creating .venv-torch (PyTorch from PyPI, a few minutes)"
  python3 -m venv .venv-torch
  .venv-torch/bin/pip install -q --disable-pip-version-check -r scripts/requirements-torch.txt
  cp scripts/requirements-torch.txt "$stamp"
fi
TORCH_PYTHON=.venv-torch/bin/python .venv/bin/python scripts/gen_linear_fixtures.py
