#!/usr/bin/env bash
# The sandbox's tests under Python 3.12+, where the tracer has a second implementation on
# sys.monitoring (3.11, the default, only has sys.settrace). The sandbox needs the standard
# library alone, so .venv312 holds pytest and psutil (the tests count child processes) and
# nothing else. Extra arguments go to pytest.
# Exits 1 with a one-line reason when no Python 3.12+ is found (set PYTHON312 to choose one).
set -uo pipefail
cd "$(dirname "$0")/.."
# The first that runs and is 3.12+: PYTHON312, python3.12/3.13 on PATH (a pyenv shim only runs
# when that version is selected), then pyenv's own installs.
PY=""
for cand in ${PYTHON312:-} python3.12 python3.13 "$(pyenv root 2>/dev/null)"/versions/3.1[23]*/bin/python3; do
  if "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then PY=$cand; break; fi
done
if [ -z "$PY" ]; then
  echo "no Python 3.12+ found (tried PYTHON312, python3.12, python3.13, pyenv's versions)"; exit 1
fi
VENV=${EGCFG_SYSMON_VENV:-.venv312}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import pytest, psutil" 2>/dev/null; then
  "$PY" -m venv "$VENV" && "$VENV/bin/pip" install -q "pytest>=7" psutil || { echo "could not set up $VENV"; exit 1; }
fi
"$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider "$@" tests/sandbox; rc=$?
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi
exit "$rc"
