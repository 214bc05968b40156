#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine and runs them:
# a venv with tiergate and its test extras, a throwaway PostgreSQL server on loopback
# (Debian's packages), then pytest against both SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test]'
if [ -f .ci/postgres.sh ]; then
    eval "$(bash .ci/postgres.sh)"
fi
.venv/bin/ruff check tiergate tests
.venv/bin/mypy
exec .venv/bin/pytest -q -p no:cacheprovider "$@"
