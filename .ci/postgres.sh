#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the tests and prints the one line to
# eval (everything else goes to stderr):
#   export TIERGATE_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:PORT/postgres
# Installs Debian's `postgresql` package first if the machine has no server binaries.
# Idempotent and fast: a server this script already started in $TIERGATE_PG_DIR (default
# /tmp/tiergate-pg) that still answers is reused as it is (other test runs may be using it);
# otherwise a fresh cluster is made there with initdb and started with pg_ctl on a free port
# (or $TIERGATE_PG_PORT), as the `postgres` user when run as root. Durability is switched off
# (fsync, synchronous_commit): it is a test server. Stop it with:
#   pg_ctl -D /tmp/tiergate-pg/data stop   (as postgres)
set -euo pipefail
dir=${TIERGATE_PG_DIR:-/tmp/tiergate-pg}
mkdir -p "$dir"
exec 9>"$dir.lock"
flock 9  # two runs at once: the second waits, then reuses the first one's server

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    {
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
    } >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
url() { echo "export TIERGATE_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:$1/postgres"; }

if [ -f "$dir/data/postmaster.pid" ]; then
    port=$(sed -n 4p "$dir/data/postmaster.pid")  # the running server's own record of its port
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; then
        echo "reusing the PostgreSQL server on 127.0.0.1:$port ($dir)" >&2
        url "$port"
        exit 0
    fi
    as_postgres "$bin/pg_ctl" -D "$dir/data" stop -m immediate >/dev/null 2>&1 || true
fi

port=${TIERGATE_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
rm -rf "$dir/data" "$dir/log"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
# 9>&-: the server must not inherit the lock, or it would hold it for as long as it runs and
# every later run would wait here forever.
as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 start -o \
    "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2 9>&-
url "$port"
