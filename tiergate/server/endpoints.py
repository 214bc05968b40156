"""The small endpoints: health, the model list, token counting, reports, request records."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from tiergate.errors import InvalidRequest, NotFound
from tiergate.server.responses import Scope, Send, send_bytes, send_json
from tiergate.wire.nesting import json_body

if TYPE_CHECKING:
    from tiergate.gateway.gateway import Gateway
    from tiergate.gateway.health import Health
    from tiergate.server.routes import Call

_CREATED = 1_735_689_600  # 2025-01-01: catalog entries carry no creation time of their own


async def health(deployments: Mapping[str, object], state: Health, send: Send) -> None:
    """200 when every part answers, else 503 naming the failing ones (``gateway/health.py``
    checks them); ``status`` and ``models`` as before the parts were checked."""
    body: dict[str, Any] = {
        "status": "ok" if state.ok else "unavailable",
        "models": len(deployments),
        "checks": {name: part.as_json() for name, part in state.parts.items()},
    }
    if not state.ok:
        body["failing"] = state.failing
    await send_json(send, 200 if state.ok else 503, body, {"cache-control": "no-store"})


async def models(gateway: Gateway, scope: Scope, send: Send) -> None:
    """One list both SDKs parse: OpenAI's ``object``/``owned_by`` fields and Anthropic's
    ``type``/``display_name``/``has_more`` fields side by side (each ignores the other's)."""
    data: list[dict[str, Any]] = []
    for model in gateway.served_models():
        data.append(_model_entry(model.id, model.provider))
    for route in gateway.policies:
        data.append(_model_entry(route, "tiergate"))
    payload = {
        "object": "list",
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
    await send_json(send, 200, payload)


def _model_entry(model_id: str, owner: str) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": _CREATED,
        "owned_by": owner,
        "type": "model",
        "display_name": model_id,
        "created_at": "2025-01-01T00:00:00Z",
    }


async def count_tokens(gateway: Gateway, body: bytes, send: Send) -> None:
    """An estimate, and says so: exact counts need the provider's own tokenizer."""
    from tiergate.tokens import estimate_input_tokens
    from tiergate.wire.anthropic import FORMAT

    payload = json_body(body)
    if isinstance(payload, dict) and "max_tokens" not in payload:
        payload = {**payload, "max_tokens": 1}  # count_tokens takes no max_tokens
    request = FORMAT.decode_request(payload)
    await send_json(
        send,
        200,
        {"input_tokens": estimate_input_tokens(request)},
        {"x-tiergate-token-count": "estimate"},
    )


@functools.cache
def _dashboard_page() -> bytes:
    return files("tiergate.server").joinpath("static/dashboard.html").read_bytes()


async def dashboard(send: Send) -> None:
    """The dashboard is one static page; it reads ``/v1/tiergate/report`` with the caller's key."""
    html = (b"content-type", b"text/html; charset=utf-8")
    await send_bytes(send, 200, _dashboard_page(), content_type=html)


async def metrics(gateway: Gateway, send: Send) -> None:
    from tiergate.observability.metrics import CONTENT_TYPE

    body = gateway.metrics.exposition()
    await send_bytes(send, 200, body, content_type=(b"content-type", CONTENT_TYPE.encode()))


async def trace(gateway: Gateway, call: Call) -> None:
    """Every call logged under one trace id (a multi-call route's, an agent conversation's),
    with its total and its all-on-the-strong-model counterfactual; a key reads its own
    tenant's traces only."""
    from tiergate.errors import NotFound
    from tiergate.store.traces import trace_summary

    trace_id = call.params["trace_id"]
    if len(trace_id) > 128:
        raise NotFound("no such trace")
    await gateway.log.flush()
    found = await trace_summary(gateway.store, trace_id, call.principal.report_tenant(None))
    if found is None:
        raise NotFound(f"no calls logged under trace {trace_id}")
    await send_json(call.send, 200, found)


async def report(gateway: Gateway, call: Call) -> None:
    """The dashboard's data: spend, savings, mix, latency for a time range, tenant, route."""
    from tiergate.server.query import query_params
    from tiergate.store.reports import ReportFilter, summary

    principal = call.principal
    query = query_params(call.scope)
    query["tenant"] = principal.report_tenant(query.get("tenant") or None) or ""
    try:
        filters = ReportFilter.from_query(query)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    with gateway.reports.enter(principal.tenant):
        await gateway.log.flush()
        data = await summary(gateway.store, filters)
    await send_json(call.send, 200, data)


async def request_record(gateway: Gateway, call: Call) -> None:
    """``GET /v1/requests/{id}``: one request's record (model, attempts, tokens, cost,
    baseline), for the caller's own tenant only; another tenant's id is not found."""
    from tiergate.store.lookup import request_record as lookup

    request_id = call.params["request_id"]
    if len(request_id) > 200:
        raise NotFound(f"no such request: {request_id!r}")
    await gateway.log.flush()  # a request answered a moment ago is readable at once
    # A key reads its own tenant's records; the admin key (and open mode) any.
    record = await lookup(gateway.store, request_id, call.principal.report_tenant(None))
    if record is None:
        raise NotFound(f"no such request: {request_id!r}")
    await send_json(call.send, 200, record)
