#!/usr/bin/env bash
# Install the gateway benchmark's fixtures, idempotently: wrk (Debian), LiteLLM's proxy in its
# own venv, Portkey's gateway from npm, and py-spy/psutil for the runner. Everything but wrk lands
# in bench/_work/ (gitignored): the peers are benchmark fixtures, never dependencies of tiergate.
set -euo pipefail

# 1.105.4+ need a certifi release newer than this machine's PyPI mirror holds.
LITELLM_VERSION="${LITELLM_VERSION:-1.105.3}"
PORTKEY_VERSION="${PORTKEY_VERSION:-1.15.2}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$root/bench/_work"
py="${PYTHON:-python3}"
mkdir -p "$work"

# wrk: the load generator (and taskset, from util-linux, which Debian always has).
if ! command -v wrk >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q wrk
fi

# The runner's own helpers (psutil, py-spy) and the pass-through's client (aiohttp), into tiergate's venv (dev tools, not tiergate dependencies).
"$root/.venv/bin/python" -c "import psutil" 2>/dev/null \
    || "$root/.venv/bin/pip" install -q psutil
[ -x "$root/.venv/bin/py-spy" ] || "$root/.venv/bin/pip" install -q py-spy
# aiohttp: the client of the pass-through reference issue 7 names (tiergate itself uses pyreqwest).
"$root/.venv/bin/python" -c "import aiohttp" 2>/dev/null \
    || "$root/.venv/bin/pip" install -q aiohttp

# LiteLLM proxy, pinned, in its own venv.
lvenv="$work/litellm-venv"
if ! "$lvenv/bin/python" -c "import litellm, sys; from importlib.metadata import version; \
sys.exit(version('litellm') != '$LITELLM_VERSION')" 2>/dev/null; then
    "$py" -m venv "$lvenv"
    "$lvenv/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION"
fi

# Portkey gateway (Node), pinned, in its own folder.
pdir="$work/portkey"
if [ ! -f "$pdir/node_modules/@portkey-ai/gateway/package.json" ] \
    || ! grep -q "\"version\": \"$PORTKEY_VERSION\"" "$pdir/node_modules/@portkey-ai/gateway/package.json" \
    || ! grep -q '"version": "1.13.8"' "$pdir/node_modules/@hono/node-server/package.json"; then
    mkdir -p "$pdir"
    # @hono/node-server 1.14 and newer make Portkey's streaming path fail with
    # "TypeError: immutable" (Portkey-AI/gateway#1389), so the fixture pins it via overrides.
    cat > "$pdir/package.json" <<JSON
{"name": "portkey-bench", "private": true,
 "dependencies": {"@portkey-ai/gateway": "$PORTKEY_VERSION"},
 "overrides": {"@hono/node-server": "1.13.8"}}
JSON
    (cd "$pdir" && npm install --no-audit --no-fund)
fi

echo "wrk: $(command -v wrk)"
echo "litellm: $("$lvenv/bin/python" -c "from importlib.metadata import version; print(version('litellm'))")"
echo "portkey: $(node -p "require('$pdir/node_modules/@portkey-ai/gateway/package.json').version")"
