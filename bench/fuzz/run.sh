#!/usr/bin/env bash
# The fuzz campaigns recorded in docs/security.md: hypothesis-generated malformed requests
# against a real gateway (fake upstreams on loopback), once per store (SQLite, and PostgreSQL
# when TIERGATE_TEST_DATABASE_URL is set: `eval "$(bash .ci/postgres.sh)"`). By default the
# chat endpoints (/v1/chat/completions, /v1/messages, /v1/messages/count_tokens) and the
# id-taking ones, with keys and garbage Authorization headers; every chat request must be
# logged. Give tests/fuzz/test_fuzz_batches.py for the batch endpoints (EXAMPLES/3 examples,
# two jobs each).
# Usage: bash bench/fuzz/run.sh [EXAMPLES] [TEST_FILE]  (default 10500 per store, chat endpoints)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-.venv/bin/python}
TIERGATE_FUZZ_EXAMPLES=${1:-10500} "$PYTHON" -m pytest -q -s -p no:cacheprovider \
    "${2:-tests/fuzz/test_fuzz_endpoints.py}"
