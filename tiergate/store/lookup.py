"""One request's record as the log holds it: what ``GET /v1/requests/{id}`` answers.

A client that streamed its answer (no cost header), or that wants the attempts behind a
request, reads the record by the ``x-tiergate-request-id`` it was given. Money is given as exact
decimal strings (``null`` when unpriced); ``cost_estimated`` says when usage the upstream did not
report was estimated. Tenant isolation: with ``tenant`` set, a row of another tenant is not
found, exactly as a row that does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tiergate.store.backend import Store
from tiergate.store.records import from_pico

_COLUMNS = (
    "id",
    "ts_ms",
    "tenant",
    "client_format",
    "requested_model",
    "model",
    "deployment",
    "route",
    "reason",
    "tier",
    "status",
    "error_class",
    "stream",
    "batch_id",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_pusd",
    "credits_p",
    "baseline_pusd",
    "cache_savings_pusd",
    "cost_estimated",
    "latency_ms",
    "ttft_ms",
    "stop_reason",
)
_ATTEMPTS = (
    "n",
    "tier",
    "model",
    "deployment",
    "outcome",
    "status",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_pusd",
    "estimated",
    "latency_ms",
    "error",
)


def _money(value: Any) -> str | None:
    amount = from_pico(None if value is None else int(value))
    return None if amount is None else format(amount, "f")


async def request_record(
    store: Store, request_id: str, tenant: str | None
) -> dict[str, Any] | None:
    """The request's record and its attempts; None when absent (or another tenant's)."""
    where, params = "id = ?", [request_id]
    if tenant is not None:
        where, params = "id = ? AND tenant = ?", [request_id, tenant]
    rows = await store.fetchall(f"SELECT {', '.join(_COLUMNS)} FROM requests WHERE {where}", params)
    if not rows:
        return None
    r = dict(zip(_COLUMNS, rows[0], strict=True))
    attempts = await store.fetchall(
        f"SELECT {', '.join(_ATTEMPTS)} FROM attempts WHERE request_id = ? ORDER BY n",
        [request_id],
    )
    return {
        "id": r["id"],
        "object": "tiergate.request",
        "created": datetime.fromtimestamp(int(r["ts_ms"]) / 1000, UTC).isoformat(
            timespec="milliseconds"
        ),
        "tenant": r["tenant"],
        "format": r["client_format"],
        "requested_model": r["requested_model"],
        "model": r["model"],
        "deployment": r["deployment"],
        "route": r["route"],
        "reason": r["reason"],
        "tier": r["tier"],
        "status": int(r["status"]),
        "error": r["error_class"],
        "stop_reason": r["stop_reason"],
        "stream": bool(r["stream"]),
        "batch_id": r["batch_id"],
        "usage": {
            "input_tokens": int(r["input_tokens"]),
            "output_tokens": int(r["output_tokens"]),
            "cache_creation_input_tokens": int(r["cache_creation_tokens"]),
            "cache_read_input_tokens": int(r["cache_read_tokens"]),
        },
        "cost_usd": _money(r["cost_pusd"]),
        "cost_estimated": bool(r["cost_estimated"]),
        "credits": _money(r["credits_p"]),
        "baseline_cost_usd": _money(r["baseline_pusd"]),
        "cache_savings_usd": _money(r["cache_savings_pusd"]),
        "latency_ms": r["latency_ms"],
        "ttft_ms": r["ttft_ms"],
        "attempts": [
            {
                **{k: a[k] for k in ("n", "tier", "model", "deployment", "outcome", "status")},
                "usage": {
                    "input_tokens": int(a["input_tokens"]),
                    "output_tokens": int(a["output_tokens"]),
                    "cache_creation_input_tokens": int(a["cache_creation_tokens"]),
                    "cache_read_input_tokens": int(a["cache_read_tokens"]),
                },
                "cost_usd": _money(a["cost_pusd"]),
                "estimated": bool(a["estimated"]),
                "latency_ms": a["latency_ms"],
                "error": a["error"],
            }
            for a in (dict(zip(_ATTEMPTS, row, strict=True)) for row in attempts)
        ],
    }
