#!/usr/bin/env bash
# Creates .venv-bigcode: bigcode-evaluation-harness (PyPI: nvidia-bigcode-eval, import name
# bigcode_eval) in a virtualenv of its own, because it pins tree_sitter~=0.21, which clashes with
# evalplus in .venv. `egcfg bigcode` runs its prompts and its scorer there (docs/bigcode.md).
# Safe to re-run: when the marker for this version is present it exits in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${EGCFG_BIGCODE_VENV:-.venv-bigcode}
VERSION=26.3
MARKER="$VENV/.egcfg-bigcode-$VERSION"

if [ -f "$MARKER" ] && [ -x "$VENV/bin/python" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
# bigcode_eval.main imports torch and accelerate even when it only scores loaded generations.
# The same pinned release as .venv (setup.sh), CPU build: nothing here runs a model, and the CUDA
# build would add gigabytes. pip takes a local CPU wheel where one is on its find-links path.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/pip" install -q "torch==2.13.0" --extra-index-url https://download.pytorch.org/whl/cpu
fi
# accelerate, and the modules its task registry imports that its metadata does not declare.
"$VENV/bin/pip" install -q "nvidia-bigcode-eval==$VERSION" accelerate
"$VENV/bin/python" -c "import bigcode_eval.main"
touch "$MARKER"
echo "bigcode-evaluation-harness is set up in $VENV"
