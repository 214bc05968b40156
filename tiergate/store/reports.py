"""Report queries over the request log, shared by ``tiergate report``, the dashboard and tests.

Sums and counts run in SQL (indexed on time, tenant and route); latency percentiles are computed
from the matching rows' latencies in Python, one column fetched per model, which keeps them
exact and stays in seconds on a million rows. Every query takes the same filter, and callers
with a tenant-scoped key always set ``tenant``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tiergate.store.backend import Store
from tiergate.store.records import from_nano


@dataclass(frozen=True, slots=True)
class ReportFilter:
    since_ms: int | None = None
    until_ms: int | None = None
    tenant: str | None = None
    route: str | None = None

    @classmethod
    def from_query(cls, query: dict[str, str]) -> ReportFilter:
        return cls(
            _parse_time(query.get("since")),
            _parse_time(query.get("until"), end_of_day=True),
            query.get("tenant") or None,
            query.get("route") or None,
        )

    def where(self, alias: str = "") -> tuple[str, list[Any]]:
        prefix = f"{alias}." if alias else ""
        clauses, params = ["1=1"], []
        for clause, value in (
            (f"{prefix}ts_ms >= ?", self.since_ms),
            (f"{prefix}ts_ms < ?", self.until_ms),
            (f"{prefix}tenant = ?", self.tenant),
            (f"{prefix}route = ?", self.route),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params


def _parse_time(value: str | None, end_of_day: bool = False) -> int | None:
    """ISO date/datetime, or a relative span like ``7d`` / ``24h`` (before now)."""
    if not value:
        return None
    if value[-1] in "dhm" and value[:-1].isdigit():
        seconds = int(value[:-1]) * {"d": 86400, "h": 3600, "m": 60}[value[-1]]
        return int((time.time() - seconds) * 1000)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a date, datetime or span like 7d: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    millis = int(moment.timestamp() * 1000)
    if end_of_day and len(value) == 10:
        millis += 86_400_000
    return millis


_AGGREGATES = """count(*), sum(cost_nusd), sum(baseline_nusd), sum(cache_savings_nusd),
    sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END),
    sum(CASE WHEN refusal THEN 1 ELSE 0 END), sum(CASE WHEN tool_calls > 0 THEN 1 ELSE 0 END),
    sum(CASE WHEN tool_args_valid THEN 0 WHEN tool_args_valid IS NULL THEN 0 ELSE 1 END),
    sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_creation_tokens),
    sum(CASE WHEN cost_nusd IS NULL AND status < 400 THEN 1 ELSE 0 END)"""


def _usd(nano: Any) -> float:
    value = from_nano(int(nano)) if nano is not None else None
    return float(value) if value is not None else 0.0


def _row(values: tuple[Any, ...]) -> dict[str, Any]:
    (n, cost, baseline, cache, errors, escalated, refusals, with_tools, bad_tools,
     tokens_in, tokens_out, cache_read, cache_write, unpriced) = values  # fmt: skip
    n = int(n or 0)

    def rate(x: Any) -> float:
        return (int(x or 0) / n) if n else 0.0

    return {
        "requests": n,
        "cost_usd": _usd(cost),
        "baseline_usd": _usd(baseline),
        "savings_usd": _usd(baseline) - _usd(cost),
        "cache_savings_usd": _usd(cache),
        "unpriced_requests": int(unpriced or 0),
        "error_rate": rate(errors),
        "escalation_rate": rate(escalated),
        "refusal_rate": rate(refusals),
        "tool_failure_rate": (int(bad_tools or 0) / int(with_tools)) if with_tools else 0.0,
        "input_tokens": int(tokens_in or 0),
        "output_tokens": int(tokens_out or 0),
        "cache_read_tokens": int(cache_read or 0),
        "cache_write_tokens": int(cache_write or 0),
    }


def _day_expr(store: Store) -> str:
    if store.dialect == "sqlite":
        return "strftime('%Y-%m-%d', ts_ms / 1000, 'unixepoch')"
    return "to_char(to_timestamp(ts_ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


async def _grouped(
    store: Store, key: str, name: str, where: str, params: list[Any]
) -> list[dict[str, Any]]:
    rows = await store.fetchall(
        f"SELECT {key}, {_AGGREGATES} FROM requests WHERE {where} GROUP BY {key} ORDER BY 1",
        params,
    )
    return [{name: r[0], **_row(r[1:])} for r in rows]


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[index]


async def _latency(store: Store, where: str, params: list[Any]) -> dict[str, dict[str, Any]]:
    rows = await store.fetchall(
        f"SELECT model, latency_ms, ttft_ms FROM requests WHERE {where} AND model IS NOT NULL",
        params,
    )
    by_model: dict[str, tuple[list[float], list[float]]] = {}
    for model, latency, ttft in rows:
        latencies, ttfts = by_model.setdefault(model, ([], []))
        latencies.append(float(latency))
        if ttft is not None:
            ttfts.append(float(ttft))
    out: dict[str, dict[str, Any]] = {}
    for model, (latencies, ttfts) in by_model.items():
        latencies.sort()
        ttfts.sort()
        out[model] = {
            "p50_ms": _percentile(latencies, 50),
            "p95_ms": _percentile(latencies, 95),
            "p99_ms": _percentile(latencies, 99),
            "ttft_p50_ms": _percentile(ttfts, 50),
            "ttft_p95_ms": _percentile(ttfts, 95),
        }
    return out


async def _tiers(store: Store, where: str, params: list[Any]) -> list[dict[str, Any]]:
    rows = await store.fetchall(
        "SELECT r.route, a.tier, a.model, count(*), "
        "sum(CASE WHEN a.outcome = 'validator_failed' THEN 1 ELSE 0 END), "
        "sum(CASE WHEN a.outcome = 'provider_error' THEN 1 ELSE 0 END), sum(a.cost_nusd) "
        f"FROM attempts a JOIN requests r ON r.id = a.request_id WHERE {where} "
        "GROUP BY r.route, a.tier, a.model ORDER BY 1, 2, 3",
        params,
    )
    return [
        {"route": route, "tier": tier, "model": model, "attempts": int(n),
         "escalated": int(failed or 0), "escalation_rate": int(failed or 0) / int(n),
         "provider_errors": int(errors or 0), "cost_usd": _usd(cost)}
        for route, tier, model, n, failed, errors, cost in rows
    ]  # fmt: skip


async def summary(store: Store, filters: ReportFilter) -> dict[str, Any]:
    where, params = filters.where()
    totals = await store.fetchall(f"SELECT {_AGGREGATES} FROM requests WHERE {where}", params)
    by_model = await _grouped(store, "model", "model", where, params)
    latency = await _latency(store, where, params)
    for row in by_model:
        row.update(latency.get(row["model"], {}))
    aliased, aliased_params = filters.where("r")
    return {
        "filters": {
            "since_ms": filters.since_ms, "until_ms": filters.until_ms,
            "tenant": filters.tenant, "route": filters.route,
        },
        "totals": _row(totals[0]),
        "by_day": await _grouped(store, _day_expr(store), "day", where, params),
        "by_model": by_model,
        "by_tenant": await _grouped(store, "tenant", "tenant", where, params),
        "by_route": await _grouped(store, "route", "route", where, params),
        "by_route_model": [
            {"route": r[0], "model": r[1], **_row(r[2:])}
            for r in await store.fetchall(
                f"SELECT route, model, {_AGGREGATES} FROM requests WHERE {where} "
                "GROUP BY route, model ORDER BY 1, 2",
                params,
            )
        ],
        "tiers": await _tiers(store, aliased, aliased_params),
    }  # fmt: skip
