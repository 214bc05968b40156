#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine and runs them:
# a venv with tiergate and its test extras, a throwaway PostgreSQL server on loopback
# (Debian's packages), headless Chromium, then lint, types, the import layers and pytest (SQLite
# and PostgreSQL).
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
# install script, which only copies that binary, is not needed. npm comes from Debian where the
# machine has none; under CI the tests fail rather than skip without it (test_claude_code_present).
if ! command -v npm >/dev/null 2>&1; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
fi
npm ci --prefix tests/e2e/claude_code --ignore-scripts --no-audit --no-fund >&2
eval "$(bash .ci/postgres.sh)"
.venv/bin/ruff check tiergate tests
.venv/bin/ruff format --check tiergate tests bench scripts
.venv/bin/mypy
.venv/bin/lint-imports --no-logo   # the layer contracts in pyproject.toml, [tool.importlinter]
.venv/bin/pytest -q -p no:cacheprovider "$@"
