"""What a request-log row costs to write, into an empty log and into one of 1,000,000 rows.

Issue 5 asks that a million rows in the log leave gateway throughput within 5% of an empty
log. The request path never reads the log; the one thing a bigger log can change is what the
batched writer spends per row (deeper indexes, pages no longer in SQLite's cache), and on a
one-core gateway that CPU is taken from the request path. The gateway benchmark's
``tiergate-1m`` target measures the end result, but rounds on this shared machine spread by
+-20%; this measures the cause directly, with far less noise: gateway-shaped rows (time-ordered
ids, "now" timestamps, 1-3 attempts) go through the real ``RequestLog`` in batches of 500,
alternating between the two stores, and CPU seconds of the whole process (the writer thread
does the work) are taken per batch. It prints microseconds per row for each store, their
ratio, and the share of one core the difference costs at a given request rate.

    .venv/bin/python bench/store/log_write_cost.py \
        --template bench/_work/log-template-1000000/tiergate.db
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_1m import make

from tiergate.gateway.request_id import new_request_id
from tiergate.store.backend import Store, open_store
from tiergate.store.request_log import RequestLog


async def _batch_cpu(log: RequestLog, count: int, rng: random.Random) -> float:
    now_ms = int(time.time() * 1000)
    for i in range(count):
        record = make(i, now_ms, rng)
        record.id, record.ts_ms = new_request_id(), now_ms
        for attempt in record.attempt_rows:
            attempt.request_id = record.id
        log.submit(record)
    started = time.process_time()
    await log.flush()
    return time.process_time() - started


async def run(template: Path, batches: int, batch: int, rps: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="log-write-cost-"))
    big = work / "big" / "tiergate.db"
    big.parent.mkdir()
    shutil.copy(template, big)
    stores: dict[str, Store] = {
        "empty": await open_store(f"sqlite:///{work / 'empty.db'}"),
        "1m": await open_store(f"sqlite:///{big}"),
    }
    logs = {name: RequestLog(store, batch_size=batch) for name, store in stores.items()}
    rng = random.Random(7)
    for log in logs.values():  # warm-up: page cache, statements
        await _batch_cpu(log, batch, rng)
    per_row: dict[str, list[float]] = {name: [] for name in logs}
    for i in range(batches):
        order = list(logs) if i % 2 == 0 else list(reversed(logs))
        for name in order:
            per_row[name].append(await _batch_cpu(logs[name], batch, rng) / batch * 1e6)
    for store in stores.values():
        await store.aclose()
    shutil.rmtree(work, ignore_errors=True)
    empty, full = statistics.median(per_row["empty"]), statistics.median(per_row["1m"])
    ratios = [b / a for a, b in zip(per_row["empty"], per_row["1m"], strict=True)]
    print(f"{batches} alternating batches of {batch} rows per store (median CPU per row):")
    print(f"  empty log:     {empty:6.1f} us/row  (p10-p90 {_spread(per_row['empty'])})")
    print(f"  1,000,000 log: {full:6.1f} us/row  (p10-p90 {_spread(per_row['1m'])})")
    print(f"  ratio 1m/empty: median {statistics.median(ratios):.2f}x")
    extra = (full - empty) * rps / 1e6
    print(f"  at {rps:,.0f} requests/s the difference is {extra * 100:.2f}% of one core")


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 10]:.1f}-{ordered[len(ordered) * 9 // 10]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--template",
        type=Path,
        required=True,
        help="a tiergate.db holding the big log (bench/gateway caches one)",
    )
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--rps",
        type=float,
        default=2364.0,
        help="request rate to express the difference at (the gateway's c=16)",
    )
    args = parser.parse_args()
    asyncio.run(run(args.template, args.batches, args.batch, args.rps))


if __name__ == "__main__":
    main()
