#!/usr/bin/env bash
# Regenerates tests/fixtures/tfjs/ with the tensorflowjs package's weight writer in
# .venv-tf (TensorFlow, about 1.5 GB, made here on first use; never by npm test, whose
# tests decode the committed shards with TensorFlow.js itself).
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv-tf/.requirements.txt
if ! { [ -x .venv-tf/bin/python ] && cmp -s scripts/requirements-tf.txt "$stamp"; }; then
  echo "gen_tfjs_fixtures: creating .venv-tf from scripts/requirements-tf.txt (a few minutes)"
  python3 -m venv .venv-tf
  .venv-tf/bin/pip install -q --disable-pip-version-check -r scripts/requirements-tf.txt
  cp scripts/requirements-tf.txt "$stamp"
fi
if ! cmp -s scripts/requirements-tfjs.txt .venv-tf/.requirements-tfjs.txt; then
  .venv-tf/bin/pip install -q --disable-pip-version-check --no-deps -r scripts/requirements-tfjs.txt
  cp scripts/requirements-tfjs.txt .venv-tf/.requirements-tfjs.txt
fi
.venv-tf/bin/python scripts/gen_tfjs_fixtures.py
