"""A/B of two models on one route: the same traffic, answered by either, side by side.

Rows come from ``by_model`` restricted to the filter (set ``route``), so the two sides are
measured exactly as the per-model report measures them; ``delta`` is B minus A for the
figures a routing decision turns on: cost per request, latency, error, refusal, escalation
and tool-failure rates.
"""

from __future__ import annotations

from typing import Any

from tiergate.store.backend import Store
from tiergate.store.reports import ReportFilter, by_model

_COMPARED = (
    "cost_per_request_usd",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "ttft_p50_ms",
    "error_rate",
    "refusal_rate",
    "escalation_rate",
    "tool_failure_rate",
)


async def compare_models(
    store: Store, filters: ReportFilter, model_a: str, model_b: str
) -> dict[str, Any]:
    """``{"route", "a": row, "b": row, "delta": {figure: b - a}}``; a model with no rows in
    the window has ``requests`` 0 and None for its percentiles."""
    rows = {row["model"]: row for row in await by_model(store, filters)}
    sides = [rows.get(model) or _empty(model) for model in (model_a, model_b)]
    delta: dict[str, float | None] = {}
    for figure in _COMPARED:
        a, b = sides[0].get(figure), sides[1].get(figure)
        delta[figure] = (b - a) if a is not None and b is not None else None
    return {"route": filters.route, "a": sides[0], "b": sides[1], "delta": delta}


def _empty(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "requests": 0,
        "cost_usd": 0.0,
        "cost_per_request_usd": None,
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "ttft_p50_ms": None,
        "error_rate": None,
        "refusal_rate": None,
        "escalation_rate": None,
        "tool_failure_rate": None,
    }
