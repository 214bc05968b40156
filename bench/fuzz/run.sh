#!/usr/bin/env bash
# The fuzz campaign recorded in docs/security.md: hypothesis-generated malformed requests
# against /v1/chat/completions, /v1/messages and /v1/messages/count_tokens of a real gateway
# (fake upstreams on loopback). Usage: bash bench/fuzz/run.sh [EXAMPLES]  (default 10500)
set -euo pipefail
cd "$(dirname "$0")/../.."
TIERGATE_FUZZ_EXAMPLES=${1:-10500} .venv/bin/pytest -q -s -p no:cacheprovider \
    tests/fuzz/test_fuzz_endpoints.py
