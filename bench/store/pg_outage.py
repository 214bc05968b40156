"""A PostgreSQL outage under load: what keyed clients see while the database is away, and how
soon after its return they are served again.

    PYTHONPATH=. .venv/bin/python bench/store/pg_outage.py [--outage 45] [--before 10] \\
        [--after 10] [--clients 4]

Starts a throwaway PostgreSQL cluster of its own (``tests/support/pg_cluster.py``; never the
shared test server), the fake upstream of ``bench/gateway/upstream.py`` and ``tiergate serve``
on loopback with a budgeted virtual key (so every request needs the store: key look-up and
budget reservation). ``--clients`` loops send non-streamed chat requests back to back with
that key (httpx, 60 s timeout) for ``--before`` seconds, then the cluster is stopped (a fast
shutdown, as in a crash or failover) for ``--outage`` seconds, started again, and the load
runs ``--after`` seconds more. Printed per phase: answers by status, latency p50 / max, client
timeouts, and the seconds from the database's return to the first and to steady 200s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.support.pg_cluster import PgCluster
from tests.support.serving import free_port, serving

ADMIN = "bench-admin-key"
BODY = {"model": "gpt-5.4", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


async def load(
    url: str, key: str, clients: int, seconds: float, results: list[tuple[float, float, int]]
) -> None:
    """(started, elapsed, status) of every request; status 0 is a client-side timeout/error."""
    stop = time.monotonic() + seconds
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def loop() -> None:
            while time.monotonic() < stop:
                started = time.monotonic()
                try:
                    response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
                    status = response.status_code
                except httpx.HTTPError:
                    status = 0
                results.append((started, time.monotonic() - started, status))
                if status != 200:
                    await asyncio.sleep(0.05)  # a client honouring nothing, but not spinning

        await asyncio.gather(*(loop() for _ in range(clients)))


def describe(name: str, rows: list[tuple[float, float, int]]) -> None:
    if not rows:
        print(f"{name}: no requests")
        return
    statuses = Counter(status for _, _, status in rows)
    latencies = sorted(elapsed * 1000 for _, elapsed, _ in rows)
    by_status = dict(sorted(statuses.items()))
    p50, worst = statistics.median(latencies), latencies[-1]
    print(
        f"{name}: {len(rows)} requests, by status {by_status}, "
        f"latency p50 {p50:.1f} ms, max {worst:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage", type=float, default=45.0)
    parser.add_argument("--before", type=float, default=10.0)
    parser.add_argument("--after", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tiergate-outage-"))
    upstream_port = free_port()
    bench = Path(__file__).resolve().parents[1]
    upstream = subprocess.Popen(
        [sys.executable, str(bench / "gateway" / "upstream.py"), "--port", str(upstream_port)]
    )
    with PgCluster() as pg:
        config = work / "tiergate.yaml"
        config.write_text(
            "deployments:\n"
            f"  - {{name: o, model: gpt-5.4, provider: openai, "
            f"base_url: 'http://127.0.0.1:{upstream_port}/v1', api_key: k}}\n"
        )
        env = {
            **os.environ,
            "TIERGATE_DATA_DIR": str(work),
            "TIERGATE_ADMIN_KEY": ADMIN,
            "TIERGATE_DATABASE_URL": pg.url,
        }
        log = (work / "serve.log").open("wb")
        try:
            with serving(config, env, stderr=log, start_seconds=60) as (url, _):
                made = httpx.post(
                    url + "/admin/keys",
                    headers={"authorization": f"Bearer {ADMIN}"},
                    json={"tenant": "bench", "budget_usd": "1000", "budget_period": "day"},
                )
                key = made.json()["key"]
                results: list[tuple[float, float, int]] = []

                async def run() -> tuple[float, float, float]:
                    total = args.before + args.outage + args.after
                    task = asyncio.ensure_future(load(url, key, args.clients, total, results))
                    await asyncio.sleep(args.before)
                    down = time.monotonic()
                    await asyncio.to_thread(pg.stop)
                    await asyncio.sleep(max(0.0, args.outage - (time.monotonic() - down)))
                    await asyncio.to_thread(pg.start)
                    back = time.monotonic()
                    await task
                    return down, back, time.monotonic()

                down, back, _ = asyncio.run(run())
        finally:
            log.close()
            upstream.terminate()
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"outage: {back - down:.1f} s (database stopped at {args.before:.0f} s), "
        f"{args.clients} clients"
    )
    describe("before", [r for r in results if r[0] < down])
    describe("outage", [r for r in results if down <= r[0] < back])
    after = [r for r in results if r[0] >= back]
    describe("after", after)
    ok = [start + elapsed - back for start, elapsed, status in after if status == 200]
    failing = [start + elapsed - back for start, elapsed, status in after if status != 200]
    if ok:
        print(
            f"first 200 {min(ok):.2f} s after the database was back; "
            f"last non-200 answered {max(failing, default=0.0):.2f} s after"
        )
    else:
        print("no 200 after the database came back")


if __name__ == "__main__":
    main()
