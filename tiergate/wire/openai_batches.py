"""OpenAI's Batch and Files shapes: the input file's JSON Lines and the create body in; batch
objects, file objects, lists and output lines out, as the official SDK's ``client.batches`` and
``client.files`` read them.

The input file is checked when the batch is created, line by line, with the same decoder as
``/v1/chat/completions``: a malformed request is refused at once (400, naming its line) rather
than found later in the error file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson

from tiergate.errors import GatewayError, InvalidRequest, PayloadTooLarge
from tiergate.wire.batch_job import BatchJob
from tiergate.wire.batch_states import ItemState
from tiergate.wire.ids import is_id
from tiergate.wire.nesting import check_depth
from tiergate.wire.openai_decode import decode_request

__all__ = [
    "ENDPOINT",
    "decode_create",
    "decode_input",
    "encode_batch",
    "encode_file",
    "encode_list",
    "failed_count",
    "output_line",
]

ENDPOINT = "/v1/chat/completions"  # the one endpoint a batch may target here
_WINDOW = "24h"
_FAILED_CODE = {ItemState.CANCELED: "batch_cancelled", ItemState.EXPIRED: "batch_expired"}
_FAILED = (ItemState.ERRORED, ItemState.CANCELED, ItemState.EXPIRED)


class FileView(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def bytes(self) -> int: ...
    @property
    def created_ms(self) -> int: ...
    @property
    def filename(self) -> str: ...
    @property
    def purpose(self) -> str: ...


def decode_create(payload: Any) -> tuple[str, dict[str, str] | None]:
    """The create body -> (input_file_id, metadata)."""
    if not isinstance(payload, dict):
        raise InvalidRequest("request body must be a JSON object")
    file_id = payload.get("input_file_id")
    if not isinstance(file_id, str) or not is_id(file_id):
        raise InvalidRequest("input_file_id: required, a file id", param="input_file_id")
    if payload.get("endpoint") != ENDPOINT:
        raise InvalidRequest(
            f"endpoint: only {ENDPOINT} is supported for batches here", param="endpoint"
        )
    if payload.get("completion_window") != _WINDOW:
        raise InvalidRequest(f"completion_window: must be {_WINDOW!r}", param="completion_window")
    metadata = payload.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and len(metadata) <= 16
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise InvalidRequest(
            "metadata: at most 16 string keys with string values", param="metadata"
        )
    return file_id, metadata


def decode_input(content: bytes, max_requests: int) -> list[tuple[str, str, str]]:
    """The input file -> [(custom_id, body as JSON text, model)], every line checked."""
    reader = InputReader(max_requests)
    return reader.feed(content) + reader.finish()


class InputReader:
    """``decode_input`` fed a piece of the file at a time (a stored file comes out of the
    store in pieces): each ``feed`` returns the requests on the lines it completed, checked,
    so only one piece and its requests are held, never the whole file or all its requests.
    A bad line raises at once; its caller turns that into the whole job refused."""

    def __init__(self, max_requests: int) -> None:
        self._items: list[tuple[str, str, str]] = []  # the current piece's
        self._max = max_requests
        self._count = 0
        self._seen: set[str] = set()
        self._partial = b""
        self._number = 0

    def feed(self, piece: bytes) -> list[tuple[str, str, str]]:
        lines = (self._partial + piece).split(b"\n") if self._partial else piece.split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            self._line(raw)
        return self._take()

    def finish(self) -> list[tuple[str, str, str]]:
        """The requests left, once the whole file has been fed."""
        if self._partial:
            self._line(self._partial)
            self._partial = b""
        if not self._count:
            raise InvalidRequest("input file: no requests in it", param="input_file_id")
        return self._take()

    def _take(self) -> list[tuple[str, str, str]]:
        items, self._items = self._items, []
        return items

    def _line(self, raw: bytes) -> None:
        self._number += 1
        if not raw.strip():
            return
        number, seen, max_requests = self._number, self._seen, self._max
        where = f"input file line {number}"
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InvalidRequest(f"{where}: not valid JSON", param="input_file_id") from None
        check_depth(line, raw, where)
        if not isinstance(line, dict):
            raise InvalidRequest(f"{where}: must be a JSON object", param="input_file_id")
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id or "\x00" in custom_id:
            raise InvalidRequest(
                f"{where}: custom_id: required, a string without NUL", param="input_file_id"
            )
        if custom_id in seen:
            raise InvalidRequest(
                f"{where}: custom_id {custom_id!r} is used twice; it must be unique",
                param="input_file_id",
            )
        seen.add(custom_id)
        if line.get("method") != "POST" or line.get("url") != ENDPOINT:
            raise InvalidRequest(
                f"{where}: method and url must be POST {ENDPOINT}, the batch's endpoint",
                param="input_file_id",
            )
        body = line.get("body")
        try:
            request = decode_request(body)
        except GatewayError as exc:
            raise InvalidRequest(f"{where}: body: {exc.message}", param="input_file_id") from None
        if request.stream:
            raise InvalidRequest(
                f"{where}: body.stream: batch requests cannot stream", param="input_file_id"
            )
        self._items.append((custom_id, orjson.dumps(body).decode(), request.model))
        self._count += 1
        if self._count > max_requests:
            raise PayloadTooLarge(
                f"input file: a batch holds at most {max_requests} requests",
                param="input_file_id",
            )


def _seconds(ms: int | None) -> int | None:
    return None if ms is None else ms // 1000


def failed_count(counts: Mapping[ItemState, int]) -> int:
    """OpenAI's ``failed``: items errored, canceled or expired (the error file's lines)."""
    return sum(counts.get(state, 0) for state in _FAILED)


def status_of(job: BatchJob, counts: Mapping[ItemState, int]) -> str:
    if job.ended_ms is None:
        return "in_progress" if job.cancel_ms is None else "cancelling"
    if job.cancel_ms is not None:
        return "cancelled"
    return "expired" if counts.get(ItemState.EXPIRED, 0) else "completed"


def encode_batch(
    job: BatchJob,
    counts: Mapping[ItemState, int],
    output_file_id: str | None,
    error_file_id: str | None,
) -> dict[str, Any]:
    """A ``batch`` object. ``counts``: items by state; the file ids are given by the caller
    once the job has ended (and only for files with lines in them)."""
    status = status_of(job, counts)
    ended = _seconds(job.ended_ms)
    failed = failed_count(counts)
    return {
        "id": job.id,
        "object": "batch",
        "endpoint": ENDPOINT,
        "errors": None,
        "input_file_id": job.input_file_id,
        "completion_window": _WINDOW,
        "status": status,
        "output_file_id": output_file_id,
        "error_file_id": error_file_id,
        "created_at": _seconds(job.created_ms),
        "in_progress_at": _seconds(job.created_ms),
        "expires_at": _seconds(job.expires_ms),
        "finalizing_at": ended,
        "completed_at": ended if status == "completed" else None,
        "failed_at": None,
        "expired_at": ended if status == "expired" else None,
        "cancelling_at": _seconds(job.cancel_ms),
        "cancelled_at": ended if status == "cancelled" else None,
        "request_counts": {
            "total": job.total,
            "completed": counts.get(ItemState.SUCCEEDED, 0),
            "failed": failed,
        },
        "metadata": orjson.loads(job.metadata) if job.metadata else None,
    }


def encode_file(file: FileView) -> dict[str, Any]:
    return {
        "id": file.id,
        "object": "file",
        "bytes": file.bytes,
        "created_at": _seconds(file.created_ms),
        "filename": file.filename,
        "purpose": file.purpose,
        "status": "processed",
        "status_details": None,
    }


def encode_list(data: Sequence[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": list(data),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


def output_line(
    *,
    job_id: str,
    n: int,
    custom_id: str,
    state: ItemState,
    status: int | None,
    body: str | None,
    request_id: str | None,
) -> bytes:
    """One JSONL line of the output (answered) or error file. ``body`` is the item's answer
    as ``/v1/chat/completions`` gives it (a completion, or an error body); ``request_id`` is
    the item's row in tiergate's request log."""
    line_id = orjson.dumps(f"batch_req_{job_id.removeprefix('batch_')}_{n}")
    head = b'{"id":%s,"custom_id":%s,' % (line_id, orjson.dumps(custom_id))
    if status is None or body is None:
        code = _FAILED_CODE.get(state, state.value)
        message = f"the request was not run: batch {state.value}"
        error = orjson.dumps({"code": code, "message": message})
        return head + b'"response":null,"error":%s}\n' % error
    response = b'{"status_code":%d,"request_id":%s,"body":%s}' % (
        status,
        orjson.dumps(request_id),
        body.encode(),
    )
    return head + b'"response":%s,"error":null}\n' % response
