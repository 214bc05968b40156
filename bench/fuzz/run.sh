#!/usr/bin/env bash
# The fuzz campaigns recorded in docs/security.md: hypothesis-generated malformed requests
# against a real gateway (fake upstreams on loopback). By default the chat endpoints
# (/v1/chat/completions, /v1/messages, /v1/messages/count_tokens); give
# tests/fuzz/test_fuzz_batches.py for the batch endpoints (EXAMPLES/3 examples, two jobs each).
# Usage: bash bench/fuzz/run.sh [EXAMPLES] [TEST_FILE]  (default 10500, the chat endpoints)
set -euo pipefail
cd "$(dirname "$0")/../.."
TIERGATE_FUZZ_EXAMPLES=${1:-10500} .venv/bin/pytest -q -s -p no:cacheprovider \
    "${2:-tests/fuzz/test_fuzz_endpoints.py}"
