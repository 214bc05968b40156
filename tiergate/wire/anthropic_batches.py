"""Anthropic's Message Batches shapes: the create body in (read as it arrives, with
``ijson``), batch objects, pages and result lines out, as the official SDK's
``client.messages.batches`` reads them.

Each request's ``params`` is checked here, when the job is created, with the same decoder as
``/v1/messages``: a malformed request is refused at once (400, naming ``requests[i]``) rather
than found hours later as an errored result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import ijson
import orjson

from tiergate.errors import GatewayError, InvalidRequest, PayloadTooLarge
from tiergate.wire.anthropic_decode import decode_request
from tiergate.wire.batch_job import BatchJob, rfc3339
from tiergate.wire.batch_states import ItemState
from tiergate.wire.nesting import check_depth

__all__ = [
    "BatchReader",
    "encode_batch",
    "encode_deleted",
    "encode_page",
    "result_line",
]

_CUSTOM_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")
# An escaped high surrogate (after an even run of backslashes) not followed by a low one.
_LONE_HIGH = re.compile(
    rb"(?<!\\)(?:\\\\)*(\\u[dD][89abAB][0-9a-fA-F]{2})(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)
_TAIL = 64  # bytes of a piece looked at again with the next
_NO_RESULT = (ItemState.CANCELED, ItemState.EXPIRED)  # states whose result line is a type only


class BatchReader:
    """The create body, fed a piece at a time as it arrives: each ``feed`` returns the
    requests completed in that piece, checked, as (custom_id, params as JSON text, model).

    Only one piece and the requests in it are held, never the whole body or its parsed
    copy, so a job's memory does not grow with its size. The refusal is the one a whole-body
    check gives: the body is read to its end first (a syntax error there outranks a bad
    request before it, and too many requests outrank both, counted in full), then ``finish``
    raises the first refusal, which its caller turns into the whole job refused."""

    def __init__(self, max_requests: int) -> None:
        self._found: list[Any] = ijson.sendable_list()
        self._parser = ijson.items_coro(self._found, "requests.item", use_float=True)
        self._max = max_requests
        self._count = 0
        self._seen: set[str] = set()
        self._started = False  # the body's first non-blank byte has been looked at
        self._tail = b""  # the previous piece's last bytes, for ``_lone_surrogate``
        self._not_object = False
        self._broken: InvalidRequest | None = None  # not JSON: nothing more is parsed
        self._too_deep: InvalidRequest | None = None
        self._refused: InvalidRequest | None = None  # the first bad request

    def feed(self, piece: bytes) -> list[tuple[str, str, str]]:
        if self._broken is not None:
            return []
        if not self._started and piece.strip():
            self._started = True
            self._not_object = not piece.lstrip().startswith(b"{")
        try:
            self._lone_surrogate(piece)
            self._parser.send(piece)
        except (ijson.JSONError, ValueError) as exc:
            self._broken = _not_json(exc)
        return self._take()

    def finish(self) -> list[tuple[str, str, str]]:
        """The requests left, once the whole body has been fed; raises the refusal."""
        if self._broken is None:
            try:
                self._lone_surrogate(b"", final=True)
                self._parser.close()
            except (ijson.JSONError, ValueError) as exc:
                self._broken = _not_json(exc)
        items = self._take()
        if self._broken is not None:
            raise self._broken
        if self._too_deep is not None:
            raise self._too_deep
        if self._not_object:
            raise InvalidRequest("request body must be a JSON object")
        if not self._count:
            raise InvalidRequest("requests: required, a non-empty array", param="requests")
        if self._count > self._max:
            raise PayloadTooLarge(
                f"requests: {self._count} requests; a batch holds at most {self._max}",
                param="requests",
            )
        if self._refused is not None:
            raise self._refused
        return items

    def _lone_surrogate(self, piece: bytes, *, final: bool = False) -> None:
        """Refuse a ``\\uD800``-``\\uDBFF`` escape with no low surrogate after it, as a
        whole-body parse does: the streaming parser would read it as ``?`` (a lone low one it
        refuses itself). The last bytes are looked at again with the next piece, so an escape
        pair split between two pieces is seen whole."""
        if b"\\" not in piece and b"\\" not in self._tail and not final:
            self._tail = piece[-_TAIL:]
            return
        text = self._tail + piece
        for found in _LONE_HIGH.finditer(text):
            if final or found.end() + 6 <= len(text):
                raise ValueError(f"lone surrogate {found.group(1).decode()} in a string")
        # Kept from the start of a run of backslashes, never its middle, or an escaped
        # backslash cut in two would read as an escape of its own.
        start = max(0, len(text) - _TAIL)
        while start and text[start - 1] == 0x5C:
            start -= 1
        self._tail = text[start:]

    def _take(self) -> list[tuple[str, str, str]]:
        """The requests parsed so far, checked; once the job is refused, only counted."""
        items: list[tuple[str, str, str]] = []
        for entry in self._found:
            i = self._count
            self._count += 1
            if self._too_deep is None:
                try:  # nested as in the body: the object, ``requests``, the entry
                    check_depth({"requests": [entry]})
                except InvalidRequest as exc:
                    self._too_deep = exc
            if self._refused is None and self._too_deep is None and self._count <= self._max:
                try:
                    items.append(self._checked(i, entry))
                except InvalidRequest as exc:
                    self._refused = exc
        del self._found[:]
        if self._refused or self._too_deep or self._count > self._max:
            return []  # the job is refused: nothing more goes to the store
        return items

    def _checked(self, i: int, entry: Any) -> tuple[str, str, str]:
        where = f"requests[{i}]"
        if not isinstance(entry, dict):
            raise InvalidRequest(f"{where}: must be an object", param=where)
        custom_id = entry.get("custom_id")
        if not isinstance(custom_id, str) or not _CUSTOM_ID.fullmatch(custom_id):
            raise InvalidRequest(
                f"{where}.custom_id: required, 1-64 letters, digits, '-' or '_'",
                param=f"{where}.custom_id",
            )
        if custom_id in self._seen:
            raise InvalidRequest(
                f"{where}.custom_id: {custom_id!r} is used twice; custom_id must be unique "
                "within a batch",
                param=f"{where}.custom_id",
            )
        self._seen.add(custom_id)
        params = entry.get("params")
        try:
            request = decode_request(params)
            text = orjson.dumps(params).decode()
        except GatewayError as exc:
            message = f"{where}.params: {exc.message}"
            raise InvalidRequest(message, param=f"{where}.params") from None
        except orjson.JSONEncodeError as exc:
            raise InvalidRequest(f"{where}.params: {exc}", param=f"{where}.params") from None
        if request.stream:
            raise InvalidRequest(
                f"{where}.params.stream: batch requests cannot stream", param=f"{where}.params"
            )
        return custom_id, text, request.model


def _not_json(exc: Exception) -> InvalidRequest:
    said = str(exc).strip().splitlines()
    return InvalidRequest(f"request body is not valid JSON: {said[0] if said else exc}")


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
