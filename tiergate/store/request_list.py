"""The requests behind a figure: the dashboard's drill-down, newest first, a page at a time.

Every figure on the dashboard is a count over the request log with some filter (a model, a
route, an outcome such as escalated or refused, a time bucket, a batch job); this lists the
rows that count was made of, with the same ``ReportFilter`` (tenant-scoped by the caller, as
every report is). Pages are keyed on (time, id), so rows written while someone pages through
neither repeat nor go missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tiergate.store.backend import Store
from tiergate.store.records import PICO
from tiergate.store.reports import ReportFilter
from tiergate.store.timeseries import REJECTED_SQL

# What each outcome means as SQL over one row; the report's rates count the same rows.
OUTCOMES = {
    "ok": "status < 400",
    "error": "status >= 400",
    "rejected": REJECTED_SQL,
    "escalated": "tier > 0",
    "refused": "refusal",
    "tool_failed": "tool_args_valid = FALSE",
    "unpriced": "cost_pusd IS NULL AND status < 400",
}
_COLUMNS = (
    "id, ts_ms, tenant, route, requested_model, model, reason, attempts, tier, status, "
    "error_class, input_tokens, output_tokens, cache_read_tokens, cost_pusd, baseline_pusd, "
    "latency_ms, ttft_ms, refusal, tool_calls, tool_args_valid, stream, batch_id"
)


@dataclass(frozen=True, slots=True)
class RequestQuery:
    filters: ReportFilter
    model: str | None = None
    outcome: str | None = None
    batch: str | None = None
    before: tuple[int, str] | None = None  # the last row of the previous page
    limit: int = 50

    @classmethod
    def from_query(cls, query: dict[str, str], filters: ReportFilter, limit: int) -> RequestQuery:
        """``model``, ``outcome`` (one of ``OUTCOMES``), ``batch`` (a job id) and ``before``
        (the ``next`` cursor of the previous page); raises ValueError naming the bad one."""
        outcome = query.get("outcome") or None
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome: one of {', '.join(OUTCOMES)}")
        before = None
        if query.get("before"):
            ts, _, request_id = query["before"].partition(":")
            if not ts.isdigit() or not request_id:
                raise ValueError("before: the `next` value of the previous page")
            before = (int(ts), request_id)
        return cls(
            filters,
            model=query.get("model") or None,
            outcome=outcome,
            batch=query.get("batch") or None,
            before=before,
            limit=limit,
        )


async def list_requests(store: Store, query: RequestQuery) -> dict[str, Any]:
    """One page: ``data`` (rows, newest first) and ``next`` (cursor, None on the last page)."""
    where, params = query.filters.where()
    for clause, value in (("model = ?", query.model), ("batch_id = ?", query.batch)):
        if value is not None:
            where += f" AND {clause}"
            params.append(value)
    if query.outcome is not None:
        where += f" AND ({OUTCOMES[query.outcome]})"
    if query.before is not None:
        where += " AND (ts_ms < ? OR (ts_ms = ? AND id < ?))"
        params += [query.before[0], query.before[0], query.before[1]]
    rows = await store.scan(
        f"SELECT {_COLUMNS} FROM requests WHERE {where} "
        f"ORDER BY ts_ms DESC, id DESC LIMIT {query.limit + 1}",
        params,
    )
    data = [_row(r) for r in rows[: query.limit]]
    more = len(rows) > query.limit
    return {"data": data, "next": f"{data[-1]['ts_ms']}:{data[-1]['id']}" if more else None}


def _usd(pusd: Any) -> float | None:
    return None if pusd is None else float(int(pusd) / PICO)


def _row(r: tuple[Any, ...]) -> dict[str, Any]:
    (
        request_id,
        ts,
        tenant,
        route,
        requested,
        model,
        reason,
        attempts,
        tier,
        status,
        error,
        tokens_in,
        tokens_out,
        cache_read,
        cost,
        baseline,
        latency,
        ttft,
        refusal,
        tool_calls,
        tool_args_valid,
        stream,
        batch_id,
    ) = r
    return {
        "id": request_id,
        "ts_ms": int(ts),
        "time": datetime.fromtimestamp(int(ts) / 1000, UTC).isoformat(timespec="seconds"),
        "tenant": tenant,
        "route": route,
        "requested_model": requested,
        "model": model,
        "reason": reason,
        "attempts": int(attempts),
        "tier": tier,
        "status": int(status),
        "error": error,
        "input_tokens": int(tokens_in),
        "output_tokens": int(tokens_out),
        "cache_read_tokens": int(cache_read),
        "cost_usd": _usd(cost),
        "baseline_usd": _usd(baseline),
        "latency_ms": latency,
        "ttft_ms": ttft,
        "refusal": bool(refusal),
        "tool_calls": int(tool_calls),
        "tool_args_valid": None if tool_args_valid is None else bool(tool_args_valid),
        "stream": bool(stream),
        "batch_id": batch_id,
    }
