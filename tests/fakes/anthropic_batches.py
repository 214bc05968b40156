"""A fake of Anthropic's Message Batches API, written from the API reference.

``POST /v1/messages/batches`` (``{"requests": [{"custom_id", "params"}]}``; a custom_id must
match ``[a-zA-Z0-9_-]{1,64}`` and be unique, else 400), ``GET .../{id}``,
``POST .../{id}/cancel``, ``GET .../{id}/results`` (JSON Lines, once ended; before that 400),
``DELETE .../{id}`` (once ended; before that 400).

A batch stays ``in_progress`` for ``upstream.batch_looks_before_end`` retrieves, then ends: each
request takes the next scripted step, as a ``/v1/messages`` call would (a ``Reply`` is a
``succeeded`` line, a ``Fail`` an ``errored`` one with that status's error type), and a request
the Messages API would refuse is an ``errored`` line with ``invalid_request_error``. A batch
canceled before it ends ends at the next retrieve with every request ``canceled``.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from tests.fakes.anthropic_app import ERROR_TYPES, error_body, message_for
from tests.fakes.anthropic_checks import check_messages_request
from tests.fakes.http import RecordedRequest, Send, send_body, send_json
from tests.fakes.script import Fail, new_id

_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_PREFIX = "/v1/messages/batches"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def handle(upstream: Any, request: RecordedRequest, send: Send) -> None:
    tail = request.path[len(_PREFIX) :].strip("/")
    batch_id, _, action = tail.partition("/")
    if request.method == "POST" and not tail:
        await _create(upstream, request, send)
        return
    batch = upstream.batches.get(batch_id)
    if batch is None:
        await send_json(send, 404, error_body("not_found_error", f"no batch {batch_id}"))
    elif request.method == "GET" and not action:
        batch["looks"] += 1
        if batch["looks"] > upstream.batch_looks_before_end or batch["cancel_initiated_at"]:
            _end(upstream, batch)
        await send_json(send, 200, _shown(batch))
    elif request.method == "DELETE" and not action:
        if batch["ended_at"] is None:
            message = "batch is still in progress: cancel it, and delete it once it has ended"
            await send_json(send, 400, error_body("invalid_request_error", message))
            return
        del upstream.batches[batch_id]
        upstream.deleted.append(batch_id)
        await send_json(send, 200, {"id": batch_id, "type": "message_batch_deleted"})
    elif request.method == "POST" and action == "cancel":
        if batch["ended_at"] is None:
            batch["cancel_initiated_at"] = _now()
        await send_json(send, 200, _shown(batch))
    elif request.method == "GET" and action == "results":
        if batch["ended_at"] is None:
            await send_json(
                send, 400, error_body("invalid_request_error", "batch has not ended yet")
            )
            return
        lines = b"".join(json.dumps(line).encode() + b"\n" for line in batch["results"])
        await send_body(send, 200, lines, headers={"content-type": "application/binary"})
    else:
        await send_json(send, 404, error_body("not_found_error", f"Not found: {request.path}"))


async def _create(upstream: Any, request: RecordedRequest, send: Send) -> None:
    body = request.json
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        await send_json(send, 400, error_body("invalid_request_error", "requests: required"))
        return
    seen: set[str] = set()
    for index, entry in enumerate(requests):
        custom_id = entry.get("custom_id") if isinstance(entry, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
            problem = f"requests.{index}.custom_id: must match ^[a-zA-Z0-9_-]{{1,64}}$"
        elif custom_id in seen:
            problem = f"requests.{index}.custom_id: duplicate {custom_id}"
        elif not isinstance(entry.get("params"), dict):
            problem = f"requests.{index}.params: required"
        else:
            seen.add(custom_id)
            continue
        await send_json(send, 400, error_body("invalid_request_error", problem))
        return
    batch_id = new_id("msgbatch_")
    host = request.header("host") or "127.0.0.1"
    upstream.batches[batch_id] = {
        "id": batch_id,
        "requests": requests,
        "looks": 0,
        "created_at": _now(),
        "cancel_initiated_at": None,
        "ended_at": None,
        "results": [],
        "results_url": f"http://{host}{_PREFIX}/{batch_id}/results",
    }
    await send_json(send, 200, _shown(upstream.batches[batch_id]))


def _end(upstream: Any, batch: dict[str, Any]) -> None:
    if batch["ended_at"] is not None:
        return
    for entry in batch["requests"]:
        batch["results"].append(
            {
                "custom_id": entry["custom_id"],
                "result": _result(upstream, entry["params"], bool(batch["cancel_initiated_at"])),
            }
        )
    batch["ended_at"] = _now()


def _result(upstream: Any, params: dict[str, Any], canceled: bool) -> dict[str, Any]:
    if canceled:
        return {"type": "canceled"}
    problem = check_messages_request(params) or (
        "stream: not allowed in a batch" if params.get("stream") else None
    )
    if problem:
        return {"type": "errored", "error": error_body("invalid_request_error", problem)}
    step = upstream.next_step()
    if isinstance(step, Fail):
        kind = step.error_type or ERROR_TYPES.get(step.status, "api_error")
        return {"type": "errored", "error": error_body(kind, step.message)}
    message, _ = message_for(params, step)
    return {"type": "succeeded", "message": message}


def _shown(batch: dict[str, Any]) -> dict[str, Any]:
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    if batch["ended_at"] is None:
        counts["processing"] = len(batch["requests"])
    for line in batch["results"]:
        counts[line["result"]["type"]] += 1
    ended = batch["ended_at"] is not None
    status = "ended" if ended else "canceling" if batch["cancel_initiated_at"] else "in_progress"
    return {
        "id": batch["id"],
        "type": "message_batch",
        "processing_status": status,
        "request_counts": counts,
        "ended_at": batch["ended_at"],
        "created_at": batch["created_at"],
        "expires_at": datetime.fromtimestamp(time.time() + 86400, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "archived_at": None,
        "cancel_initiated_at": batch["cancel_initiated_at"],
        "results_url": batch["results_url"] if ended else None,
    }
