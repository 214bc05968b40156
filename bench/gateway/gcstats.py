"""What Python's cyclic garbage collector costs tiergate under load, with the default
threshold and with the one ``tiergate serve`` sets (``tiergate.server.app.tune_collector``).

Starts the fake upstream and tiergate (the benchmark's config, pinned as in ``run.py``), drives
it with wrk, and reads the collector's own counters from inside the process
(``gcstats/sitecustomize.py``): collections, the time spent in them per request, and the
objects they freed. Each round runs both variants, in turn.

Usage: ``.venv/bin/python bench/gateway/gcstats.py --duration 10 --rounds 2``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import time
from pathlib import Path

import loadgen
import targets


def measure(default: bool, duration: float, concurrency: int, logs: Path) -> dict[str, float]:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    target = targets.tiergate("tiergate-gcstats", 9300, "http://127.0.0.1:9100", 1, "0")
    target.env.update(
        PYTHONPATH=str(targets.HERE / "gcstats"),
        GCSTATS_OUT=str(out),
        GCSTATS_DEFAULT="1" if default else "0",
    )
    try:
        target.start(logs)
        target.wait_healthy()
        assert target.proc is not None
        body, headers = target.body(False), target.all_headers()
        loadgen.run_wrk(target.url, body, headers, concurrency, 2, 1)  # warm-up
        cpu_before = target.cpu_seconds() or 0.0
        os.kill(target.proc.pid, signal.SIGUSR1)
        result = loadgen.run_wrk(target.url, body, headers, concurrency, duration, 1)
        os.kill(target.proc.pid, signal.SIGUSR2)
        cpu = (target.cpu_seconds() or 0.0) - cpu_before
        time.sleep(0.5)
        stats = json.loads(out.read_text())
    finally:
        target.stop()
        out.unlink(missing_ok=True)
    requests = max(result.requests, 1)
    return {
        "threshold": stats["threshold"][0],
        "rps": result.rps,
        "cpu_us": cpu / requests * 1e6,
        "collections_per_1k": sum(stats["collections"]) / requests * 1000,
        "gc_us": sum(stats["seconds"]) / requests * 1e6,
        "freed": sum(stats["freed"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="tiergate-gcstats-"))
    upstream = targets.upstream(9100, "1")
    upstream.start(logs)
    upstream.wait_healthy()
    print(
        "| round | young threshold | rps | CPU us/request | collections per 1k requests "
        "| us in the collector per request | objects freed |"
    )
    print("|---|---|---|---|---|---|---|")
    try:
        for round_ in range(1, args.rounds + 1):
            for default in (True, False):
                row = measure(default, args.duration, args.concurrency, logs)
                print(
                    f"| {round_} | {row['threshold']:,} | {row['rps']:,.0f} | {row['cpu_us']:.0f} "
                    f"| {row['collections_per_1k']:.1f} | {row['gc_us']:.2f} | {row['freed']:,} |",
                    flush=True,
                )
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
