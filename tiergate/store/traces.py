"""One trace read back: the request-log rows that share a ``trace_id`` and their totals.

A trace is a multi-call route's calls (planner, workers, composer; drafts, reviewer) or the
turns of one agent conversation. Its total is the sum of its rows' costs, and its
counterfactual ("all on the strong model") the sum of their ``baseline_cost_usd``: each row's
answer priced at the route's strong model.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tiergate.store.backend import Store
from tiergate.store.records import from_pico

_COLUMNS = (
    "id, ts_ms, latency_ms, model, deployment, route, reason, status, input_tokens, "
    "output_tokens, cache_creation_tokens, cache_read_tokens, cost_pusd, baseline_pusd"
)


async def trace_summary(store: Store, trace_id: str, tenant: str | None) -> dict[str, Any] | None:
    """The trace's calls, oldest first, with each one's start and end (epoch ms), and its
    totals; None when no row has that trace id (within ``tenant`` when given)."""
    sql = f"SELECT {_COLUMNS} FROM requests WHERE trace_id = ?"
    params: list[Any] = [trace_id]
    if tenant:
        sql += " AND tenant = ?"
        params.append(tenant)
    rows = await store.fetchall(sql + " ORDER BY ts_ms, id", params)
    if not rows:
        return None
    calls: list[dict[str, Any]] = []
    total: Decimal | None = Decimal(0)
    baseline: Decimal | None = Decimal(0)
    for row in rows:
        cost, counterfactual = from_pico(row[12]), from_pico(row[13])
        total = None if total is None or cost is None else total + cost
        baseline = None if baseline is None or counterfactual is None else baseline + counterfactual
        ended = int(row[1])
        calls.append(
            {
                "id": row[0],
                "started_ms": ended - round(float(row[2])),
                "ended_ms": ended,
                "latency_ms": float(row[2]),
                "model": row[3],
                "deployment": row[4],
                "route": row[5],
                "reason": row[6],
                "status": int(row[7]),
                "input_tokens": int(row[8]),
                "output_tokens": int(row[9]),
                "cache_creation_tokens": int(row[10]),
                "cache_read_tokens": int(row[11]),
                "cost_usd": _money(cost),
                "baseline_cost_usd": _money(counterfactual),
            }
        )
    return {
        "trace_id": trace_id,
        "calls": calls,
        "cost_usd": _money(total),
        "baseline_cost_usd": _money(baseline),
    }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
