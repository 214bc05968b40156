"""Exact latency and time-to-first-token percentiles per model, computed in the database.

Percentiles are nearest-rank: the p-th percentile of n values is the ceil(p/100 * n)-th
smallest, always a latency that was actually observed. PostgreSQL has that as
``percentile_disc``; on SQLite one window query ranks every model's values and returns only
the rows at the wanted ranks, so a handful of values per model leave the database, never the
million latencies. Both backends return the same figures for the same rows.

No index is kept for this: an index keyed on (model, latency) puts every new row on a random
page of a large index, which doubled what the request log pays per row at a million rows
(``bench/store/log_write_cost.py``) to make an occasional report faster. The log's write path
is the hot one.
"""

from __future__ import annotations

from typing import Any

from tiergate.store.backend import Store

LATENCY_PERCENTILES = (50, 95, 99)
TTFT_PERCENTILES = (50, 95)


def nearest_rank(sorted_values: list[float], p: int) -> float | None:
    """The reference definition (tests and small in-memory sets use it)."""
    if not sorted_values:
        return None
    n = len(sorted_values)
    return sorted_values[max(0, (p * n + 99) // 100 - 1)]


async def _sqlite(
    store: Store, column: str, percentiles: tuple[int, ...], where: str, params: list[Any]
) -> dict[str, dict[int, float]]:
    # One pass for every model: rank each matching value within its model, then keep only the
    # rows at a wanted rank (the n values are sorted inside SQLite; only the hits leave it).
    ranks = " OR ".join(f"rank = ({p} * n + 99) / 100" for p in percentiles)
    rows = await store.fetchall(
        f"SELECT model, n, rank, {column} FROM ("
        f"SELECT model, {column}, "
        f"row_number() OVER (PARTITION BY model ORDER BY {column}) AS rank, "
        "count(*) OVER (PARTITION BY model) AS n "
        f"FROM requests WHERE {where} AND model IS NOT NULL AND {column} IS NOT NULL"
        f") WHERE {ranks}",
        params,
    )
    out: dict[str, dict[int, float]] = {}
    for model, n, rank, value in rows:
        for p in percentiles:
            if (p * n + 99) // 100 == rank:
                out.setdefault(model, {})[p] = float(value)
    return out


async def _postgres(
    store: Store, column: str, percentiles: tuple[int, ...], where: str, params: list[Any]
) -> dict[str, dict[int, float]]:
    fractions = ", ".join(str(p / 100) for p in percentiles)
    rows = await store.fetchall(
        f"SELECT model, percentile_disc(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY {column}) "
        f"FROM requests WHERE {where} AND model IS NOT NULL AND {column} IS NOT NULL "
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
    out: dict[str, dict[str, float | None]] = {}
    for model in latency.keys() | ttft.keys():
        mine = latency.get(model, {})
        first = ttft.get(model, {})
        out[model] = {
            **{f"p{p}_ms": mine.get(p) for p in LATENCY_PERCENTILES},
            **{f"ttft_p{p}_ms": first.get(p) for p in TTFT_PERCENTILES},
        }
    return out
