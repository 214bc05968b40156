"""Anthropic's Message Batches API over tiergate's batch jobs.

POST   /v1/messages/batches                create (up to ``batch.max_requests`` requests)
GET    /v1/messages/batches                list, newest first (limit, before_id, after_id)
GET    /v1/messages/batches/{id}           retrieve: status and counts
POST   /v1/messages/batches/{id}/cancel    cancel: unstarted requests are dropped
GET    /v1/messages/batches/{id}/results   the results, JSON Lines, once the job has ended
DELETE /v1/messages/batches/{id}           delete an ended job
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tiergate.batch import Job
from tiergate.errors import GatewayError, InvalidRequest, NotFound
from tiergate.server.auth import Principal
from tiergate.server.batches import ANTHROPIC_PREFIX, base_url, visible_to
from tiergate.server.query import page_limit, query_params
from tiergate.server.responses import (
    Receive,
    Scope,
    Send,
    json_body,
    read_body,
    send_chunks,
    send_json,
)
from tiergate.wire import anthropic_batches as shapes
from tiergate.wire.anthropic import FORMAT as ANTHROPIC
from tiergate.wire.batch_states import ItemState

if TYPE_CHECKING:
    from tiergate.server.batches import Batches

__all__ = ["handle"]

_JSONL = (b"content-type", b"application/x-jsonl")


async def handle(
    batches: Batches, principal: Principal, scope: Scope, receive: Receive, send: Send
) -> None:
    method: str = scope["method"]
    parts = scope["path"][len(ANTHROPIC_PREFIX) :].strip("/").split("/")
    if parts == [""]:
        if method == "POST":
            await _create(batches, principal, receive, send)
        elif method == "GET":
            await _list(batches, principal, scope, send)
        else:
            raise GatewayError(f"method {method} is not allowed on {ANTHROPIC_PREFIX}", status=405)
        return
    job = await batches.job(parts[0], principal, ANTHROPIC)
    action = (method, parts[1] if len(parts) == 2 else "" if len(parts) == 1 else None)
    if action == ("GET", ""):
        await send_json(send, 200, await _shown(batches, job, scope))
    elif action == ("DELETE", ""):
        if job.ended_ms is None:
            raise InvalidRequest(
                f"batch {job.id} is still {job.status}; cancel it and wait for it to end "
                "before deleting it"
            )
        await batches.jobs.delete(job.id)
        await send_json(send, 200, shapes.encode_deleted(job.id))
    elif action == ("POST", "cancel"):
        await batches.jobs.cancel(job)
        job = await batches.job(job.id, principal, ANTHROPIC)
        await send_json(send, 200, await _shown(batches, job, scope))
    elif action == ("GET", "results"):
        await _results(batches, job, send)
    else:
        raise NotFound(f"no such endpoint: {method} {scope['path']}")


async def _create(batches: Batches, principal: Principal, receive: Receive, send: Send) -> None:
    config = batches.config
    body = await read_body(receive, config.max_body_bytes)
    # Up to 256 MB of JSON: parsed and checked off the event loop, which keeps serving.
    items = await asyncio.to_thread(_decode, body, config.max_requests)
    job = await batches.submit(
        principal, ANTHROPIC, "msgbatch_", items, "requests[{}].params.model".format
    )
    await send_json(send, 200, shapes.encode_batch(job, {ItemState.QUEUED: job.total}, None))


def _decode(body: bytes, max_requests: int) -> list[tuple[str, str, str]]:
    return shapes.decode_batch(json_body(body), max_requests)


async def _list(batches: Batches, principal: Principal, scope: Scope, send: Send) -> None:
    query = query_params(scope)
    jobs, more = await batches.jobs.page(
        visible_to(principal),
        page_limit(query),
        after=query.get("after_id"),
        before=query.get("before_id"),
        client_format=ANTHROPIC.name,
    )
    shown = [await _shown(batches, job, scope) for job in jobs]
    await send_json(send, 200, shapes.encode_page(shown, more))


async def _results(batches: Batches, job: Job, send: Send) -> None:
    if job.ended_ms is None:
        raise InvalidRequest(
            f"batch {job.id} is still {job.status}; its results are ready once "
            "processing_status is ended"
        )
    lines = (
        b"".join(shapes.result_line(r.custom_id, r.state, r.result, r.request_id) for r in rows)
        async for rows in batches.jobs.pages(job.id)
    )
    await send_chunks(send, [_JSONL], lines)


async def _shown(batches: Batches, job: Job, scope: Scope) -> dict[str, Any]:
    results_url = f"{base_url(scope)}{ANTHROPIC_PREFIX}/{job.id}/results"
    return shapes.encode_batch(job, await batches.jobs.counts(job.id), results_url)
