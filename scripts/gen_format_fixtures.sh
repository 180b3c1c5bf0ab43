#!/usr/bin/env bash
# Regenerates tests/fixtures/formats2/ (readers against the real tools) and
# tests/fixtures/broken/ (the bad-input corpus) with the pinned tools in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh
.venv/bin/python scripts/gen_format_fixtures.py
.venv/bin/python scripts/gen_broken_fixtures.py
