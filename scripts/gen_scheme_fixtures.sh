#!/usr/bin/env bash
# Regenerates tests/fixtures/schemes/ with the pinned reference tools in .venv and the
# bitsandbytes wheel (fetched with `pip download --no-deps`: its CPU library runs without
# torch; installing it would pull in torch, which is far too large to need here).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
bnb_version=0.50.2
cache=.venv/bnb-$bnb_version
if [ ! -f "$cache/bitsandbytes/functional.py" ]; then
  mkdir -p "$cache"
  .venv/bin/pip download -q --disable-pip-version-check --no-deps \
    "bitsandbytes==$bnb_version" -d "$cache"
  .venv/bin/python -m zipfile -e "$cache"/bitsandbytes-"$bnb_version"-*.whl "$cache"
fi
# .venv-torch (PyTorch + bitsandbytes, about 5 GB; shared with gen_linear_fixtures.sh)
# runs bitsandbytes' own quantize_4bit.
stamp=.venv-torch/.requirements.txt
if ! { [ -x .venv-torch/bin/python ] && cmp -s scripts/requirements-torch.txt "$stamp"; }; then
  echo "gen_scheme_fixtures: creating .venv-torch from scripts/requirements-torch.txt (a few minutes)"
  python3 -m venv .venv-torch
  .venv-torch/bin/pip install -q --disable-pip-version-check -r scripts/requirements-torch.txt
  cp scripts/requirements-torch.txt "$stamp"
fi
TORCH_PYTHON=.venv-torch/bin/python BNB_DIR="$cache" .venv/bin/python scripts/gen_scheme_fixtures.py
