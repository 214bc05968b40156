"""Spend, savings and the routing mix over time, in buckets that fit the time range.

The dashboard draws a day of traffic as 24 hourly points, an hour as 60 minutes and a month
as 30 days: a bucket width is chosen so a range holds at most ``MAX_BUCKETS`` of them (or
the caller names one). One grouped scan per request: rows are grouped by (bucket, model) in
SQL with the same aggregates as every other report (``reports.grouped``), then pivoted here;
empty buckets are filled in so a chart's x axis is time, not row order.
"""

from __future__ import annotations

import time
from typing import Any

from tiergate.store.backend import Store
from tiergate.store.reports import ReportFilter, grouped

BUCKETS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
MAX_BUCKETS = 240
# A request no model answered, turned away before any upstream call (an unknown model, a
# budget or rate limit, a malformed body) or failed upstream: shown under this name, not blank.
NO_ANSWER = "(no answer)"
# Turned away: failed without a single upstream call.
REJECTED_SQL = "status >= 400 AND attempts = 0"


def choose_bucket(since_ms: int, until_ms: int) -> str:
    """The finest bucket that keeps the range within ``MAX_BUCKETS`` points."""
    span = max(until_ms - since_ms, 1)
    for name, width in BUCKETS.items():
        if span / width <= MAX_BUCKETS:
            return name
    return "day"


async def _span(store: Store, filters: ReportFilter) -> tuple[int, int, int] | None:
    """The first and last request's time, and how many requests were rejected."""
    where, params = filters.where()
    rows = await store.scan(
        f"SELECT min(ts_ms), max(ts_ms), sum(CASE WHEN {REJECTED_SQL} THEN 1 ELSE 0 END) "
        f"FROM requests WHERE {where}",
        params,
    )
    if not rows or rows[0][0] is None:
        return None
    return int(rows[0][0]), int(rows[0][1]) + 1, int(rows[0][2] or 0)


async def timeseries(
    store: Store, filters: ReportFilter, bucket: str | None = None
) -> dict[str, Any]:
    """``points``: per bucket start (``t``, epoch ms) spend, always-baseline, savings, prompt
    cache savings, requests, errors and unpriced requests; ``mix``: requests per model per
    bucket (aligned with ``points``); ``rejected``: requests turned away before any upstream
    call. ``bucket`` is ``minute``, ``hour``, ``day`` or None
    (chosen from the range: the filter's, or the data's when the filter leaves it open)."""
    if bucket is not None and bucket not in BUCKETS:
        raise ValueError(f"bucket: one of {', '.join(BUCKETS)} (or leave it out)")
    span = await _span(store, filters)
    if span is None:
        return {"bucket": bucket or "hour", "points": [], "mix": {}, "rejected": 0}
    since = filters.since_ms if filters.since_ms is not None else span[0]
    until = filters.until_ms if filters.until_ms is not None else max(span[1], since + 1)
    until = min(until, int(time.time() * 1000) + 1)
    name = bucket or choose_bucket(since, until)
    width = BUCKETS[name]
    if (until - since) / width > 4 * MAX_BUCKETS:  # a named bucket too fine for the range
        raise ValueError(
            f"bucket: {name} would draw more than {4 * MAX_BUCKETS} points; "
            "narrow the range or take a wider bucket"
        )
    rows = await grouped(store, {"t": f"(ts_ms / {width}) * {width}", "model": "model"}, filters)
    first, last = (since // width) * width, ((until - 1) // width) * width
    starts = list(range(first, last + width, width))
    index = {t: i for i, t in enumerate(starts)}
    points = [_empty(t) for t in starts]
    mix: dict[str, list[int]] = {}
    for row in rows:
        i = index.get(int(row["t"]))
        if i is None:
            continue
        point = points[i]
        point["requests"] += row["requests"]
        point["errors"] += round(row["error_rate"] * row["requests"])
        point["unpriced_requests"] += row["unpriced_requests"]
        for key in ("cost_usd", "baseline_usd", "savings_usd", "cache_savings_usd"):
            if row[key] is not None:  # no baselined request in the group: no baseline figure
                point[key] += row[key]
        model = row["model"] or NO_ANSWER
        mix.setdefault(model, [0] * len(starts))[i] += row["requests"]
    return {"bucket": name, "points": points, "mix": mix, "rejected": span[2]}


def _empty(t: int) -> dict[str, Any]:
    return {
        "t": t,
        "requests": 0,
        "errors": 0,
        "unpriced_requests": 0,
        "cost_usd": 0.0,
        "baseline_usd": 0.0,
        "savings_usd": 0.0,
        "cache_savings_usd": 0.0,
    }
