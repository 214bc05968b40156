#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine and runs them:
# a venv with tiergate and its test extras, a throwaway PostgreSQL server on loopback
# (Debian's packages), headless Chromium, then lint, types and pytest (SQLite and PostgreSQL),
# on the default build and then on the optional compiled one.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
# Headless Chromium for the dashboard test (Debian's package; needs root, as CI has).
if ! command -v chromium >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
# Claude Code for tests/e2e/test_claude_code.py, pinned by its lockfile. Its native binary comes
# from its platform package on npm (@anthropic-ai/claude-code-linux-x64, ...), so the package's
# install script, which only copies that binary, is not needed. Without npm the test is skipped.
if command -v npm >/dev/null 2>&1; then
    npm ci --prefix tests/e2e/claude_code --ignore-scripts --no-audit --no-fund >&2
fi
eval "$(bash .ci/postgres.sh)"
.venv/bin/ruff check tiergate tests
.venv/bin/mypy
.venv/bin/pytest -q -p no:cacheprovider "$@"
# The same suite once more against the optional compiled build (mypyc, setup.py), so it is held
# to the same tests; TIERGATE_EXPECT_COMPILED makes the suite check that the compiled modules are
# what ran. --import-mode=append keeps the checkout's own sources behind build/compiled on the path.
# TIERGATE_TEST_COMPILED=0 skips this pass (quicker local runs).
if [ "${TIERGATE_TEST_COMPILED:-1}" != "0" ]; then
    bash scripts/build-compiled.sh
    TIERGATE_EXPECT_COMPILED=1 PYTHONPATH=build/compiled \
        .venv/bin/pytest -q -p no:cacheprovider --import-mode=append "$@"
fi
