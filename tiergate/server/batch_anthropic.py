"""Anthropic's Message Batches API over tiergate's batch jobs.

POST   /v1/messages/batches                create (up to ``batch.max_requests`` requests)
GET    /v1/messages/batches                list, newest first (limit, before_id, after_id)
GET    /v1/messages/batches/{id}           retrieve: status and counts
POST   /v1/messages/batches/{id}/cancel    cancel: unstarted requests are dropped
GET    /v1/messages/batches/{id}/results   the results, JSON Lines, once the job has ended
DELETE /v1/messages/batches/{id}           delete an ended job

One handler per endpoint; ``server/app.py``'s route table maps the paths to them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from tiergate.batch import Job
from tiergate.errors import InvalidRequest
from tiergate.gateway.batch_items import visible_to
from tiergate.server.batches import ANTHROPIC_PREFIX, base_url
from tiergate.server.query import page_limit, query_params
from tiergate.server.responses import (
    Receive,
    Scope,
    body_pieces,
    send_chunks,
    send_json,
)
from tiergate.wire import anthropic_batches as shapes
from tiergate.wire.anthropic import FORMAT as ANTHROPIC
from tiergate.wire.batch_states import ItemState

if TYPE_CHECKING:
    from tiergate.gateway.batch_items import Batches
    from tiergate.server.routes import Call

__all__ = ["cancel", "create", "delete", "list_jobs", "results", "retrieve"]

_JSONL = (b"content-type", b"application/x-jsonl")
_PIECE_BYTES = 1024 * 1024  # of a batch's body parsed at once


async def create(batches: Batches, call: Call) -> None:
    job = await batches.submit(
        call.principal,
        wire=ANTHROPIC,
        id_prefix="msgbatch_",
        items=_requests(batches, call.receive),
        where="requests[{}].params.model".format,
    )
    await send_json(call.send, 200, shapes.encode_batch(job, {ItemState.QUEUED: job.total}, None))


async def retrieve(batches: Batches, call: Call) -> None:
    job = await batches.job(call.params["batch_id"], call.principal, ANTHROPIC)
    await send_json(call.send, 200, await _shown(batches, job, call.scope))


async def delete(batches: Batches, call: Call) -> None:
    job = await batches.job(call.params["batch_id"], call.principal, ANTHROPIC)
    if job.ended_ms is None:
        raise InvalidRequest(
            f"batch {job.id} is still {job.status}; cancel it and wait for it to end "
            "before deleting it"
        )
    await batches.jobs.delete(job.id)
    await send_json(call.send, 200, shapes.encode_deleted(job.id))


async def cancel(batches: Batches, call: Call) -> None:
    job = await batches.job(call.params["batch_id"], call.principal, ANTHROPIC)
    await batches.jobs.cancel(job)
    job = await batches.job(job.id, call.principal, ANTHROPIC)
    await send_json(call.send, 200, await _shown(batches, job, call.scope))


async def _requests(
    batches: Batches, receive: Receive
) -> AsyncIterator[list[tuple[str, str, str]]]:
    """The body's requests as it arrives (up to ``batch.max_body_bytes``), parsed and checked
    off the event loop a piece at a time: neither the body nor all its requests are held in
    memory. A refusal is raised once the whole body has been read."""
    config = batches.config
    reader = shapes.BatchReader(config.max_requests)
    async for piece in body_pieces(receive, config.max_body_bytes, _PIECE_BYTES):
        if items := await asyncio.to_thread(reader.feed, piece):
            yield items
    if items := await asyncio.to_thread(reader.finish):
        yield items


async def list_jobs(batches: Batches, call: Call) -> None:
    query = query_params(call.scope)
    jobs, more = await batches.jobs.page(
        visible_to(call.principal),
        page_limit(query),
        after=query.get("after_id"),
        before=query.get("before_id"),
        client_format=ANTHROPIC.name,
    )
    shown = [await _shown(batches, job, call.scope) for job in jobs]
    await send_json(call.send, 200, shapes.encode_page(shown, more))


async def results(batches: Batches, call: Call) -> None:
    job = await batches.job(call.params["batch_id"], call.principal, ANTHROPIC)
    if job.ended_ms is None:
        raise InvalidRequest(
            f"batch {job.id} is still {job.status}; its results are ready once "
            "processing_status is ended"
        )
    lines = (
        b"".join(shapes.result_line(r.custom_id, r.state, r.result, r.request_id) for r in rows)
        async for rows in batches.jobs.pages(job.id)
    )
    await send_chunks(call.send, [_JSONL], lines)


async def _shown(batches: Batches, job: Job, scope: Scope) -> dict[str, Any]:
    results_url = f"{base_url(scope)}{ANTHROPIC_PREFIX}/{job.id}/results"
    return shapes.encode_batch(job, await batches.jobs.counts(job.id), results_url)
