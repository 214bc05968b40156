"""Mixed probe outcomes wedge no breaker (a short run of ``bench/fault/breaker.py``'s mix).

The run and what it measures are in ``tests/support/breaker_faults.py``; the 60 s run's
figures are in docs/benchmarks.md.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.breaker_faults import COOLDOWN, TIMEOUT, run

SLACK = 1.0  # a busy shared machine: sampling and scheduling delays


def test_mixed_probe_outcomes_wedge_no_breaker(tmp_path: Path) -> None:
    report = run(seconds=4, clients=4, data_dir=tmp_path)
    print(report.summary())
    assert report.held_when_idle == frozenset(), report.summary()
    assert report.route_5xx == 0, report.summary()
    assert report.recovery is not None and report.recovery <= COOLDOWN + TIMEOUT + SLACK
    assert set(report.openings) == {"gpt-a", "gpt-b"}, report.summary()  # probes happened
    for name, longest in report.longest_stall.items():
        assert longest <= report.bound + SLACK, (name, report.summary())
