"""Mixed probe outcomes against the circuit breakers for 60 s: does any breaker wedge?

A real gateway on loopback, two fake upstreams of one model answering with random outcomes
(answers, long streams, slow and hung answers, 503, 429, 400, 401, connections that die),
clients that read, drop streams after the first chunk or give up early, half of them through
a route with a healthy fallback. What is measured, and why those bounds, is in
``tests/support/breaker_faults.py``; ``tests/e2e/test_breaker_faults.py`` runs the same mix
for a few seconds. Exits 1 if a breaker wedged.

    .venv/bin/python bench/fault/breaker.py [--seconds 60] [--clients 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository: tests.support

from tests.support.breaker_faults import COOLDOWN, TIMEOUT, run

SLACK = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        report = run(args.seconds, args.clients, Path(data_dir), seed=args.seed)
    print(report.summary())
    wedged = [
        name for name, longest in report.longest_stall.items() if longest > report.bound + SLACK
    ]
    problems = []
    if wedged:
        problems.append(f"stalled past the bound: {wedged}")
    if report.held_when_idle:
        problems.append(f"probe slots held with nothing in flight: {sorted(report.held_when_idle)}")
    if report.route_5xx:
        problems.append(f"{report.route_5xx} route requests answered 5xx")
    if report.recovery is None or report.recovery > COOLDOWN + TIMEOUT + SLACK:
        problems.append(f"no recovery within {COOLDOWN + TIMEOUT + SLACK:g} s")
    print("WEDGED: " + "; ".join(problems) if problems else "no breaker wedged")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
