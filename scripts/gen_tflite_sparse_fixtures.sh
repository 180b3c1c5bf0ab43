#!/usr/bin/env bash
# Regenerates tests/fixtures/tflite_sparse/ with TensorFlow's converter and interpreter
# (.venv-tf, about 1.5 GB, made here on first use; never by npm test, which only reads
# the committed fixtures) and the mediapipe wheel's models (scripts/setup-model-wheels.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
stamp=.venv-tf/.requirements.txt
if ! { [ -x .venv-tf/bin/python ] && cmp -s scripts/requirements-tf.txt "$stamp"; }; then
  echo "gen_tflite_sparse_fixtures: creating .venv-tf from scripts/requirements-tf.txt (a few minutes)"
  python3 -m venv .venv-tf
  .venv-tf/bin/pip install -q --disable-pip-version-check -r scripts/requirements-tf.txt
  cp scripts/requirements-tf.txt "$stamp"
fi
.venv-tf/bin/python scripts/gen_tflite_sparse_fixtures.py
