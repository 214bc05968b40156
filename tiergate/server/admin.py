"""The admin API for virtual keys, protected by the admin key (``TIERGATE_ADMIN_KEY``).

POST   /admin/keys                 create (the secret is in this response only)
GET    /admin/keys[?tenant=T]      list (never secrets or hashes)
POST   /admin/keys/{id}/rotate     new secret, same key id, limits and spend
DELETE /admin/keys/{id}            revoke
GET    /admin/keys/{id}/spend      spent and reserved USD in the current budget period

One handler per endpoint; ``server/app.py``'s route table maps the paths to them and lets
only the admin key through.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tiergate.errors import InvalidRequest, NotFound
from tiergate.server.query import query_params
from tiergate.server.responses import read_body, send_json
from tiergate.store.records import from_nano
from tiergate.tenancy.keys import (
    MAX_EXPIRY_DAYS,
    MAX_RATE,
    PERIODS,
    check_tenant,
    parse_budget,
    usd_text,
)
from tiergate.wire.ids import check_text
from tiergate.wire.nesting import json_body

if TYPE_CHECKING:
    from tiergate.gateway.gateway import Gateway
    from tiergate.server.routes import Call

_MAX_BODY_BYTES = 1024 * 1024


def _int(body: dict[str, Any], key: str, limit: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        raise InvalidRequest(f"{key} must be an integer from 1 to {limit}", param=key)
    return value


def tenant_name(value: object) -> str:
    """A tenant name from a request, or a 400 giving the rule (``check_tenant``)."""
    try:
        return check_tenant(value)
    except ValueError as exc:
        raise InvalidRequest(f"tenant: {exc}", param="tenant") from None


def _create_args(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidRequest("body must be a JSON object")
    tenant = tenant_name(body.get("tenant"))
    name = body.get("name")
    models = body.get("models")
    if models is not None and (
        not isinstance(models, list)
        or not all(isinstance(m, str) and "\x00" not in m for m in models)
    ):
        raise InvalidRequest("models must be a list of model or route names", param="models")
    budget: Decimal | None = None
    if body.get("budget_usd") is not None:
        try:
            budget = parse_budget(body["budget_usd"])
        except ValueError as exc:
            raise InvalidRequest(f"budget_usd {exc}", param="budget_usd") from None
    period = body.get("budget_period", "month" if budget is not None else None)
    if budget is not None and period not in PERIODS:
        raise InvalidRequest("budget_period must be day, month or total", param="budget_period")
    days = _int(body, "expires_in_days", MAX_EXPIRY_DAYS)
    return {
        "tenant": tenant,
        "name": check_text(name, "name")[:200] if isinstance(name, str) else None,
        "models": models,
        "budget_usd": budget,
        "budget_period": period,
        "rpm": _int(body, "rpm", MAX_RATE),
        "tpm": _int(body, "tpm", MAX_RATE),
        "expires_ms": int((time.time() + days * 86400) * 1000) if days else None,
    }


async def create_key(gateway: Gateway, call: Call) -> None:
    payload = json_body(await read_body(call.receive, _MAX_BODY_BYTES) or b"{}")
    info, secret = await gateway.keys.create(**_create_args(payload))
    gateway.auth.closed()
    await send_json(call.send, 201, {**info.public(), "key": secret})


async def list_keys(gateway: Gateway, call: Call) -> None:
    keys = gateway.keys
    tenant = query_params(call.scope).get("tenant")
    if tenant is not None:
        tenant = tenant_name(tenant)
    await send_json(call.send, 200, {"data": [k.public() for k in await keys.list(tenant)]})


async def revoke_key(gateway: Gateway, call: Call) -> None:
    key_id = call.params["key_id"]
    if not await gateway.keys.revoke(key_id):
        raise NotFound(f"no active key {key_id}")
    await send_json(call.send, 200, {"id": key_id, "revoked": True})


async def rotate_key(gateway: Gateway, call: Call) -> None:
    key_id = call.params["key_id"]
    rotated = await gateway.keys.rotate(key_id)
    if rotated is None:
        raise NotFound(f"no active key {key_id}")
    info, secret = rotated
    await send_json(call.send, 200, {**info.public(), "key": secret})


async def key_spend(gateway: Gateway, call: Call) -> None:
    key_id = call.params["key_id"]
    found = await gateway.keys.get(key_id)
    if found is None:
        raise NotFound(f"no key {key_id}")
    spent, reserved = await gateway.guard.ledger.spent(found)
    budget = found.budget_usd
    spend = {
        "id": key_id,
        "spent_usd": usd_text(from_nano(spent) or Decimal(0)),
        "reserved_usd": usd_text(from_nano(reserved) or Decimal(0)),
        "budget_usd": usd_text(budget) if budget is not None else None,
    }
    await send_json(call.send, 200, spend)
