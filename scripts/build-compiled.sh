#!/usr/bin/env bash
# Builds the optional compiled tiergate (mypyc; see setup.py) into DIR, default build/compiled,
# to run with PYTHONPATH=DIR: the test suite's second pass (scripts/test.sh) and the gateway
# benchmark's `tiergate-compiled` target use it. Needs .venv with the test extras (mypy).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/compiled}"
rm -rf "$out"
# setuptools 70.1+ builds wheels without the separate `wheel` package.
.venv/bin/pip install -q "setuptools>=70.1"
TIERGATE_COMPILE=1 .venv/bin/pip install -q --no-build-isolation --no-deps --target "$out" .
ls "$out"/tiergate/types.*.so >/dev/null  # fail loudly if nothing was compiled
