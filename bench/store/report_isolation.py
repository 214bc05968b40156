"""One tenant's report loops against another tenant's chat, on SQLite with many rows.

    PYTHONPATH=. .venv/bin/python bench/store/report_isolation.py [--rows 300000] \\
        [--loops 6] [--seconds 10]

Seeds ``--rows`` request-log rows (``report_1m.py``'s generator, all of them tenant
``noisy``'s) into a fresh SQLite file, starts the fake upstream of ``bench/gateway/upstream.py``
and ``tiergate serve`` on that file, and makes two keys: ``noisy`` and ``quiet``. Then, for
``--seconds`` each: (1) ``quiet`` alone sends chat requests back to back; (2) the same while
``--loops`` clients of ``noisy`` fetch ``/v1/tiergate/report`` back to back (after a 429 they
wait its ``retry-after``, unless ``--ignore-retry-after``). Printed: quiet's requests, p50 /
p95 / max, and the p50 ratio of (2) to (1); the report loops' answers by status.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from report_1m import seed

from tests.support.serving import free_port, serving

ADMIN = "bench-admin-key"
BODY = {"model": "gpt-5.4", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


async def chat_loop(client: httpx.AsyncClient, key: str, stop: float) -> list[float]:
    latencies: list[float] = []
    headers = {"authorization": f"Bearer {key}"}
    while time.monotonic() < stop:
        began = time.perf_counter()
        response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
        assert response.status_code == 200, response.text
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


async def report_loop(
    client: httpx.AsyncClient, key: str, stop: float, seen: Counter[int], polite: bool
) -> None:
    headers = {"authorization": f"Bearer {key}"}
    while time.monotonic() < stop:
        response = await client.get("/v1/tiergate/report", headers=headers)
        seen[response.status_code] += 1
        if polite and response.status_code == 429:
            wait = float(response.headers.get("retry-after", "1"))
            await asyncio.sleep(min(wait, max(0.0, stop - time.monotonic())))


async def phase(
    url: str, quiet: str, noisy: str, loops: int, seconds: float, polite: bool = True
) -> tuple[list[float], Counter[int]]:
    stop = time.monotonic() + seconds
    seen: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        reports = [report_loop(client, noisy, stop, seen, polite) for _ in range(loops)]
        results = await asyncio.gather(chat_loop(client, quiet, stop), *reports)
    return results[0], seen


def describe(name: str, latencies: list[float]) -> float:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p95 = ordered[int(len(ordered) * 0.95)]
    print(
        f"{name}: {len(ordered)} chat requests, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"max {ordered[-1]:.1f} ms"
    )
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--loops", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--ignore-retry-after",
        action="store_true",
        help="report loops send again at once after a 429",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tiergate-report-isolation-"))
    database = work / "tiergate.db"
    seconds = asyncio.run(seed(f"sqlite:///{database}", args.rows))
    import sqlite3

    with sqlite3.connect(database) as db:
        db.execute("UPDATE requests SET tenant = 'noisy'")
    print(f"seeded {args.rows:,} rows of tenant noisy in {seconds:.1f} s")
    upstream_port = free_port()
    bench = Path(__file__).resolve().parents[1]
    upstream = subprocess.Popen(
        [sys.executable, str(bench / "gateway" / "upstream.py"), "--port", str(upstream_port)],
        stdout=subprocess.DEVNULL,
    )
    config = work / "tiergate.yaml"
    config.write_text(
        "deployments:\n"
        f"  - {{name: o, model: gpt-5.4, provider: openai, "
        f"base_url: 'http://127.0.0.1:{upstream_port}/v1', api_key: k}}\n"
    )
    env = {**os.environ, "TIERGATE_DATA_DIR": str(work), "TIERGATE_ADMIN_KEY": ADMIN}
    env.pop("TIERGATE_DATABASE_URL", None)
    try:
        with serving(config, env, stderr=subprocess.DEVNULL, start_seconds=60) as (url, _):
            admin = {"authorization": f"Bearer {ADMIN}"}
            keys = {
                tenant: httpx.post(
                    url + "/admin/keys", headers=admin, json={"tenant": tenant}
                ).json()["key"]
                for tenant in ("noisy", "quiet")
            }
            alone, _ = asyncio.run(phase(url, keys["quiet"], keys["noisy"], 0, args.seconds))
            beside, seen = asyncio.run(
                phase(
                    url,
                    keys["quiet"],
                    keys["noisy"],
                    args.loops,
                    args.seconds,
                    not args.ignore_retry_after,
                )
            )
    finally:
        upstream.terminate()
        shutil.rmtree(work, ignore_errors=True)
    before = describe("quiet alone", alone)
    after = describe(f"quiet beside {args.loops} report loops of noisy", beside)
    print(f"report loops' answers by status: {dict(sorted(seen.items()))}")
    print(f"p50 ratio: {after / before:.2f}x")


if __name__ == "__main__":
    main()
