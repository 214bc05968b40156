"""Exact percentiles on both stores agree with the nearest-rank definition on awkward data:
sub-millisecond values, many equal values, several values in one millisecond, a filter."""

from __future__ import annotations

import random
from typing import Any

from tiergate.store.latency import nearest_rank, percentiles_by_model
from tiergate.store.records import RequestRecord
from tiergate.store.request_log import RequestLog


def _latency(rng: random.Random) -> float:
    kind = rng.random()
    if kind < 0.2:
        return round(rng.random(), 3)  # under one millisecond
    if kind < 0.4:
        return 250.0  # a pile of equal values
    if kind < 0.8:
        return round(rng.uniform(100, 104), 3)  # dozens of values in each millisecond
    return round(rng.lognormvariate(5, 1.2), 3)


async def test_percentiles_match_nearest_rank_on_random_data(store: Any) -> None:
    rng = random.Random(11)
    records = []
    for i in range(1500):
        model = ("a", "b", "c")[i % 3] if i % 50 else "rare"
        records.append(
            RequestRecord(
                id=f"req_{i:05d}",
                ts_ms=1_000 + i,
                tenant="t" if i % 4 else "u",
                model=model,
                latency_ms=_latency(rng),
                ttft_ms=_latency(rng) if i % 2 else None,
            )
        )
    log = RequestLog(store)
    await log.start()
    for record in records:
        log.submit(record)
    await log.aclose()

    got = await percentiles_by_model(store, "tenant = ?", ["t"])
    kept = [r for r in records if r.tenant == "t"]
    assert set(got) == {r.model for r in kept}
    for model, figures in got.items():
        latencies = sorted(r.latency_ms for r in kept if r.model == model)
        ttfts = sorted(r.ttft_ms for r in kept if r.model == model and r.ttft_ms is not None)
        assert figures == {
            **{f"p{p}_ms": nearest_rank(latencies, p) for p in (50, 95, 99)},
            **{f"ttft_p{p}_ms": nearest_rank(ttfts, p) for p in (50, 95)},
        }, model


async def test_batch_job_rows_are_left_out_of_the_percentiles(store: Any) -> None:
    # An answer collected from a provider batch is logged with ~0 ms; a live-run item waited
    # on nobody. Neither may pull the interactive figures down.
    interactive = [
        RequestRecord(
            id=f"req_{i}", ts_ms=1_000 + i, model="m", latency_ms=100.0 + i, ttft_ms=50.0 + i
        )
        for i in range(20)
    ]
    batch = [
        RequestRecord(
            id=f"bat_{i}",
            ts_ms=2_000 + i,
            model="m",
            latency_ms=0.01 * i,
            ttft_ms=0.01 * i,
            batch_id="msgbatch_1",
        )
        for i in range(60)
    ]
    only_batch = RequestRecord(id="bat_x", ts_ms=3_000, model="n", latency_ms=1.0, batch_id="b2")
    log = RequestLog(store)
    await log.start()
    for record in [*interactive, *batch, only_batch]:
        log.submit(record)
    await log.aclose()

    got = await percentiles_by_model(store, "1 = 1", [])
    latencies = sorted(r.latency_ms for r in interactive)
    ttfts = sorted(r.ttft_ms for r in interactive if r.ttft_ms is not None)
    assert got == {
        "m": {
            **{f"p{p}_ms": nearest_rank(latencies, p) for p in (50, 95, 99)},
            **{f"ttft_p{p}_ms": nearest_rank(ttfts, p) for p in (50, 95)},
        }
    }
    rows = await store.fetchall("SELECT count(*) FROM requests WHERE batch_id = ?", ["msgbatch_1"])
    assert rows[0][0] == 60  # still logged, with the job named
