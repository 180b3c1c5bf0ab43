#!/usr/bin/env bash
# Regenerates tests/fixtures/torchscript/ with PyTorch (.venv-torch, about 5 GB, made
# here on first use; never by npm test) and silero-vad's model from .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
stamp=.venv-torch/.requirements.txt
if ! { [ -x .venv-torch/bin/python ] && cmp -s scripts/requirements-torch.txt "$stamp"; }; then
  echo "gen_torchscript_fixtures: creating .venv-torch from scripts/requirements-torch.txt (a few minutes)"
  python3 -m venv .venv-torch
  .venv-torch/bin/pip install -q --disable-pip-version-check -r scripts/requirements-torch.txt
  cp scripts/requirements-torch.txt "$stamp"
fi
# silero-vad is installed (its files only) in .venv: its site-packages go on the path
# for it; torch comes from .venv-torch (numpy has the same pin in both).
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

PYTHONPATH="$site" .venv-torch/bin/python scripts/gen_torchscript_fixtures.py
