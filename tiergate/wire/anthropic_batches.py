"""Anthropic's Message Batches shapes: the create body in, batch objects, pages and result
lines out, as the official SDK's ``client.messages.batches`` reads them.

Each request's ``params`` is checked here, when the job is created, with the same decoder as
``/v1/messages``: a malformed request is refused at once (400, naming ``requests[i]``) rather
than found hours later as an errored result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from tiergate.errors import GatewayError, InvalidRequest, PayloadTooLarge
from tiergate.wire.anthropic_decode import decode_request
from tiergate.wire.batch_job import BatchJob, rfc3339
from tiergate.wire.batch_states import ItemState

__all__ = [
    "decode_batch",
    "encode_batch",
    "encode_deleted",
    "encode_page",
    "result_line",
]

_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_NO_RESULT = (ItemState.CANCELED, ItemState.EXPIRED)  # states whose result line is a type only


def decode_batch(payload: Any, max_requests: int) -> list[tuple[str, str, str]]:
    """The create body -> [(custom_id, params as JSON text, model)], every request checked."""
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    requests = payload.get("requests")
    if not isinstance(requests, list) or not requests:
        raise InvalidRequest("requests: required, a non-empty array", param="requests")
    if len(requests) > max_requests:
        raise PayloadTooLarge(
            f"requests: {len(requests)} requests; a batch holds at most {max_requests}",
            param="requests",
        )
    items: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for i, entry in enumerate(requests):
        where = f"requests[{i}]"
        if not isinstance(entry, dict):
            raise InvalidRequest(f"{where}: must be an object", param=where)
        custom_id = entry.get("custom_id")
        if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
            raise InvalidRequest(
                f"{where}.custom_id: required, 1-64 letters, digits, '-' or '_'",
                param=f"{where}.custom_id",
            )
        if custom_id in seen:
            raise InvalidRequest(
                f"{where}.custom_id: {custom_id!r} is used twice; custom_id must be unique "
                "within a batch",
                param=f"{where}.custom_id",
            )
        seen.add(custom_id)
        params = entry.get("params")
        try:
            request = decode_request(params)
        except GatewayError as exc:
            message = f"{where}.params: {exc.message}"
            raise InvalidRequest(message, param=f"{where}.params") from None
        if request.stream:
            raise InvalidRequest(
                f"{where}.params.stream: batch requests cannot stream", param=f"{where}.params"
            )
        items.append((custom_id, orjson.dumps(params).decode(), request.model))
    return items


def encode_batch(
    job: BatchJob, counts: Mapping[ItemState, int], results_url: str | None
) -> dict[str, Any]:
    """A ``message_batch`` object; ``counts``: items by state (queued, succeeded, errored,
    canceled, expired); ``results_url`` is shown only once the job has ended."""
    return {
        "id": job.id,
        "type": "message_batch",
        "processing_status": job.status,
        "request_counts": {
            "processing": counts.get(ItemState.QUEUED, 0),
            "succeeded": counts.get(ItemState.SUCCEEDED, 0),
            "errored": counts.get(ItemState.ERRORED, 0),
            "canceled": counts.get(ItemState.CANCELED, 0),
            "expired": counts.get(ItemState.EXPIRED, 0),
        },
        "created_at": rfc3339(job.created_ms),
        "expires_at": rfc3339(job.expires_ms),
        "ended_at": rfc3339(job.ended_ms),
        "cancel_initiated_at": rfc3339(job.cancel_ms),
        "archived_at": None,
        "results_url": results_url if job.ended_ms is not None else None,
    }


def encode_page(batches: Sequence[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "data": list(batches),
        "has_more": has_more,
        "first_id": batches[0]["id"] if batches else None,
        "last_id": batches[-1]["id"] if batches else None,
    }


def encode_deleted(job_id: str) -> dict[str, Any]:
    return {"id": job_id, "type": "message_batch_deleted"}


def result_line(
    custom_id: str, state: ItemState, body: str | None, request_id: str | None
) -> bytes:
    """One JSONL line of the results file. ``body`` is the item's answer as ``/v1/messages``
    gives it (a message, or an error body); canceled and expired items have none. The item's
    request-log row rides along under ``tiergate``, which the SDK ignores."""
    if state in _NO_RESULT or body is None:
        result = b'{"type":"%s"}' % state.encode()
    elif state is ItemState.SUCCEEDED:
        result = b'{"type":"succeeded","message":%s}' % body.encode()
    else:
        result = b'{"type":"errored","error":%s}' % body.encode()
    line = b'{"custom_id":%s,"result":%s' % (orjson.dumps(custom_id), result)
    if request_id is not None:
        line += b',"tiergate":{"request_id":%s}' % orjson.dumps(request_id)
    return line + b"}\n"
