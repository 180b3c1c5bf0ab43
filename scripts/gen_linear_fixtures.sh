#!/usr/bin/env bash
# Regenerates tests/fixtures/linear/ with the pinned reference tools: .venv (numpy,
# onnxruntime, ...), .venv-torch (PyTorch, for the torch-* presets; about 5 GB) and
# .venv-tf (TensorFlow's TFLite converter, for tflite-*; about 1.5 GB), the last two
# made here on first use and never by npm test, which only reads the committed fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
venv() { # dir, requirements
  local stamp="$1/.requirements.txt"
  if ! { [ -x "$1/bin/python" ] && cmp -s "$2" "$stamp"; }; then
    echo "gen_linear_fixtures: creating $1 from $2 (a few minutes)"
    python3 -m venv "$1"
    "$1/bin/pip" install -q --disable-pip-version-check -r "$2"
    cp "$2" "$stamp"
  fi
}
venv .venv-torch scripts/requirements-torch.txt
venv .venv-tf scripts/requirements-tf.txt
TORCH_PYTHON=.venv-torch/bin/python TF_PYTHON=.venv-tf/bin/python \
  .venv/bin/python scripts/gen_linear_fixtures.py
