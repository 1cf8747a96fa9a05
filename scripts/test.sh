#!/usr/bin/env bash
# The test suite, in two pytest processes: the sandbox's own tests assert that no child process
# is left behind, so they run apart from the harness tests (lm-eval, EvalPlus, agent pools),
# whose libraries may keep helper processes alive. Extra arguments go to both runs.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SANDBOX_TESTS=(tests/sandbox)
ignores=()
for t in "${SANDBOX_TESTS[@]}"; do ignores+=(--ignore "$t"); done
"$PY" -m pytest -q -rs -p no:cacheprovider "$@" "${SANDBOX_TESTS[@]}"; a=$?
"$PY" -m pytest -q -rs -p no:cacheprovider "$@" "${ignores[@]}" tests; b=$?
for rc in $a $b; do
  if [ "$rc" -eq 5 ]; then echo "pytest collected no tests in one of the runs"; exit 1; fi
  if [ "$rc" -ne 0 ]; then exit "$rc"; fi
done
exit 0
