"""Exact latency and time-to-first-token percentiles per model, computed in the database.

Percentiles are nearest-rank: the p-th percentile of n values is the ceil(p/100 * n)-th
smallest, always a latency that was actually observed. PostgreSQL has that as
``percentile_disc``; on SQLite a per-millisecond histogram finds the bucket that holds each
wanted rank and a second scan brings back only those buckets' values, so a handful of values
per model leave the database, never the million latencies, and nothing big is sorted. Both
backends return the same figures for the same rows.

Batch-job rows (``batch_id`` set) are left out: nobody waited on them, and an answer collected
from a provider's batch has no latency of its own, so they would only pull the figures of the
interactive traffic down.

No index is kept for this: an index keyed on (model, latency) puts every new row on a random
page of a large index, which made every request-log write dearer on a big log
(``bench/store/log_write_cost.py``; figures in docs/benchmarks.md) to make an occasional
report faster. The log's write path
is the hot one.
"""

from __future__ import annotations

from typing import Any

from tiergate.store.backend import Store

LATENCY_PERCENTILES = (50, 95, 99)
TTFT_PERCENTILES = (50, 95)


def _figures(latency: dict[int, float], ttft: dict[int, float]) -> dict[str, float | None]:
    """One model's percentiles under their report names; None where it has none."""
    return {
        **{f"p{p}_ms": latency.get(p) for p in LATENCY_PERCENTILES},
        **{f"ttft_p{p}_ms": ttft.get(p) for p in TTFT_PERCENTILES},
    }


# What a model with no timed rows (only batch work) shows.
NO_PERCENTILES = _figures({}, {})
# The rows whose latency means something: answered by a model, and not a batch job's.
_TIMED = "model IS NOT NULL AND batch_id IS NULL"


def nearest_rank(sorted_values: list[float], p: int) -> float | None:
    """The reference definition (tests and small in-memory sets use it)."""
    if not sorted_values:
        return None
    n = len(sorted_values)
    return sorted_values[max(0, (p * n + 99) // 100 - 1)]


async def _sqlite(
    store: Store, column: str, percentiles: tuple[int, ...], where: str, params: list[Any]
) -> dict[str, dict[int, float]]:
    # Two scans, no sort of the whole set. 1: how many values of each model fall in each
    # whole-millisecond bucket. 2: the values of only the buckets that hold a wanted rank; the
    # rank is then found among those few, sorted here. Exact, like percentile_disc.
    matching = f"FROM requests WHERE {where} AND {_TIMED} AND {column} IS NOT NULL"
    histogram = await store.scan(
        f"SELECT model, CAST({column} AS INTEGER) AS bucket, count(*) {matching} "
        "GROUP BY model, bucket ORDER BY model, bucket",
        params,
    )
    wanted: dict[tuple[str, int], list[tuple[int, int]]] = {}  # bucket -> (p, rank within it)
    for model, buckets in _by_model(histogram).items():
        n = sum(count for _, count in buckets)
        for p in percentiles:
            rank, seen = (p * n + 99) // 100, 0  # 1-based, over the whole model
            for bucket, count in buckets:
                if seen + count >= rank:
                    wanted.setdefault((model, bucket), []).append((p, rank - seen))
                    break
                seen += count
    if not wanted:
        return {}
    ranges = " OR ".join(
        f"(model = ? AND {column} >= ? AND {column} < ?)" for _ in range(len(wanted))
    )
    bounds = [value for model, bucket in wanted for value in (model, bucket, bucket + 1)]
    rows = await store.scan(
        f"SELECT model, CAST({column} AS INTEGER), {column} {matching} AND ({ranges})",
        [*params, *bounds],
    )
    values: dict[tuple[str, int], list[float]] = {}
    for model, bucket, value in rows:
        values.setdefault((model, bucket), []).append(float(value))
    out: dict[str, dict[int, float]] = {}
    for (model, bucket), ranks in wanted.items():
        ordered = sorted(values[(model, bucket)])
        for p, rank in ranks:
            out.setdefault(model, {})[p] = ordered[rank - 1]
    return out


def _by_model(rows: list[tuple[Any, ...]]) -> dict[str, list[tuple[int, int]]]:
    grouped: dict[str, list[tuple[int, int]]] = {}
    for model, bucket, count in rows:
        grouped.setdefault(model, []).append((int(bucket), int(count)))
    return grouped


async def _postgres(
    store: Store, column: str, percentiles: tuple[int, ...], where: str, params: list[Any]
) -> dict[str, dict[int, float]]:
    fractions = ", ".join(str(p / 100) for p in percentiles)
    rows = await store.scan(
        f"SELECT model, percentile_disc(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY {column}) "
        f"FROM requests WHERE {where} AND {_TIMED} AND {column} IS NOT NULL "
        "GROUP BY model",
        params,
    )
    return {
        model: {p: float(v) for p, v in zip(percentiles, values, strict=True)}
        for model, values in rows
    }


async def percentiles_by_model(
    store: Store, where: str, params: list[Any]
) -> dict[str, dict[str, float | None]]:
    """``{model: {p50_ms, p95_ms, p99_ms, ttft_p50_ms, ttft_p95_ms}}`` for the matching rows;
    ``where`` is a ``ReportFilter.where()`` clause over ``requests``."""
    query = _postgres if store.dialect == "postgresql" else _sqlite
    latency = await query(store, "latency_ms", LATENCY_PERCENTILES, where, params)
    ttft = await query(store, "ttft_ms", TTFT_PERCENTILES, where, params)
    return {
        model: _figures(latency.get(model, {}), ttft.get(model, {}))
        for model in latency.keys() | ttft.keys()
    }
