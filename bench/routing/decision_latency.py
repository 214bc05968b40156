"""p50 / p99 latency of one ``LearnedRouter.score(prompt)`` call on this CPU.

Usage: .venv/bin/python bench/routing/decision_latency.py ROUTER_FILE DATA.jsonl [--n 2000]
Scores real prompts from DATA one at a time (the gateway's case: one request, one decision),
after a warm-up, and prints a JSON object with the percentiles in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from tiergate.routing.learned import LearnedRouter, load_outcomes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("router")
    parser.add_argument("data")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    router = LearnedRouter.load(args.router)
    prompts = list(load_outcomes(args.data).prompts)
    rng = np.random.default_rng(0)
    sample = [prompts[i] for i in rng.integers(0, len(prompts), size=args.n)]
    for prompt in sample[:100]:
        router.score(prompt)
    timings = []
    for prompt in sample:
        started = time.perf_counter_ns()
        router.score(prompt)
        timings.append((time.perf_counter_ns() - started) / 1e6)
    ms = np.asarray(timings)
    print(
        json.dumps(
            {
                "featuriser": router.spec,
                "calls": args.n,
                "p50_ms": round(float(np.percentile(ms, 50)), 3),
                "p99_ms": round(float(np.percentile(ms, 99)), 3),
                "mean_ms": round(float(ms.mean()), 3),
                "cpu": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
