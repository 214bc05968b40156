"""Exact latency and time-to-first-token percentiles per model, computed in the database.

Percentiles are nearest-rank: the p-th percentile of n values is the ceil(p/100 * n)-th
smallest, always a latency that was actually observed. PostgreSQL has that as
``percentile_disc``; on SQLite the same rank is found by walking a covering index (model,
value, time, tenant, route) to that offset: no sort, no table row read, and only a handful of
values per model leave the database, never the million latencies.
Both backends return the same figures for the same rows.
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
    # Per model: count the matching values, then step to each rank along the covering index
    # (model, column, ts_ms, tenant, route), so nothing is sorted and no table row is read.
    matching = f"FROM requests WHERE model = ? AND {column} IS NOT NULL AND {where}"
    models = await store.fetchall("SELECT DISTINCT model FROM requests WHERE model IS NOT NULL")
    out: dict[str, dict[int, float]] = {}
    for (model,) in models:
        ((n,),) = await store.fetchall(f"SELECT count(*) {matching}", [model, *params])
        for p in percentiles if n else ():
            rows = await store.fetchall(
                f"SELECT {column} {matching} ORDER BY {column} LIMIT 1 OFFSET ?",
                [model, *params, (p * n + 99) // 100 - 1],
            )
            out.setdefault(model, {})[p] = float(rows[0][0])
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
