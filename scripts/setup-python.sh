#!/usr/bin/env bash
# Makes .venv with the pinned reference tools, or leaves it when it is up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.requirements.txt
if [ -x .venv/bin/python ] && cmp -s scripts/requirements.txt "$stamp"; then
  exit 0
fi
echo "setup: creating .venv with $(tr '\n' ' ' < scripts/requirements.txt | sed 's/#[^ ]* //g')"
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements.txt
cp scripts/requirements.txt "$stamp"
