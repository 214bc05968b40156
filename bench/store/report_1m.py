"""Seed a request log with N rows (default 1,000,000) and time ``tiergate report`` over it.

    .venv/bin/python bench/store/report_1m.py [--rows 1000000] [--url sqlite:///PATH | postgresql://...]

Rows are written through the real ``RequestLog`` (batches of 5,000), spread over 30 days,
8 tenants, 6 routes and 5 models, 1-3 attempts each, streamed or not. Then the report runs
as a person runs it, in a fresh process (``tiergate report --json`` and the table form), and
once more with a tenant + 7-day filter; wall-clock seconds are printed for each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from tiergate.store.backend import open_store
from tiergate.store.records import AttemptRecord, RequestRecord
from tiergate.store.request_log import RequestLog

MODELS = [
    ("claude-haiku-4-5", Decimal("0.000001"), Decimal("0.000005")),
    ("claude-sonnet-4-6", Decimal("0.000003"), Decimal("0.000015")),
    ("gpt-5.4", Decimal("0.000002"), Decimal("0.000008")),
    ("gemini-3.1-flash-lite", Decimal("0.00000025"), Decimal("0.0000015")),
    ("local/smollm2-135m", Decimal(0), Decimal(0)),
]
ROUTES = ["auto", "support-triage", "code", "extract", "summarise", "direct"]
DAY_MS = 86_400_000


def make(i: int, now_ms: int, rng: random.Random) -> RequestRecord:
    model, price_in, price_out = MODELS[rng.randrange(len(MODELS))]
    tokens_in, tokens_out = rng.randint(50, 4000), rng.randint(5, 800)
    cost = tokens_in * price_in + tokens_out * price_out
    baseline = tokens_in * Decimal("0.000003") + tokens_out * Decimal("0.000015")
    attempts = rng.choice((1, 1, 1, 1, 1, 1, 1, 2, 2, 3))
    stream = rng.random() < 0.4
    rows = [
        AttemptRecord(
            n=n,
            tier=n - 1,
            model=model,
            deployment="dep",
            outcome="ok" if n == attempts else "validator_failed",
            status=200,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cost_usd=cost,
            latency_ms=100.0,
        )
        for n in range(1, attempts + 1)
    ]
    return RequestRecord(
        id=f"bench_{i:08d}",
        ts_ms=now_ms - rng.randrange(30 * DAY_MS),
        tenant=f"tenant-{rng.randrange(8)}",
        route=rng.choice(ROUTES),
        requested_model="auto",
        model=model,
        deployment="dep",
        attempts=attempts,
        tier=attempts - 1,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=cost,
        baseline_cost_usd=baseline,
        latency_ms=rng.lognormvariate(6, 0.8),
        ttft_ms=rng.lognormvariate(5, 0.5) if stream else None,
        stream=stream,
        status=429 if rng.random() < 0.01 else 200,
        attempt_rows=rows,
    )


async def seed(url: str, rows: int) -> float:
    store = await open_store(url)
    (existing,) = (await store.fetchall("SELECT count(*) FROM requests"))[0]
    log = RequestLog(store, batch_size=5000, flush_interval=0.05, max_pending=10_000_000)
    await log.start()
    rng = random.Random(42)
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    for i in range(int(existing), rows):
        log.submit(make(i, now_ms, rng))
        if i % 5000 == 0:
            await asyncio.sleep(0)  # let the writer keep up, as a server's loop would
    await log.aclose()
    elapsed = time.perf_counter() - started
    assert log.dropped == 0 and log.rejected == 0
    await store.aclose()
    return elapsed


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tiergate.cli", "report", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.gettempdir()) / 'tiergate-bench-1m.db'}"
    seconds = asyncio.run(seed(url, args.rows))
    print(f"seeded {args.rows:,} rows into {url.split('@')[-1]} in {seconds:.1f} s")
    env = {**os.environ, "TIERGATE_DATABASE_URL": url, "COLUMNS": "160"}
    for label, report_args in (
        ("report --json (all rows)", ["--json"]),
        ("report (table, by model)", []),
        (
            "report --json --tenant tenant-3 --since 7d",
            ["--json", "--tenant", "tenant-3", "--since", "7d"],
        ),
    ):
        print(f"{label}: {timed(report_args, env):.2f} s")


if __name__ == "__main__":
    main()
