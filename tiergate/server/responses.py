"""Sending ASGI responses: the few byte-level helpers every endpoint shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any

import orjson

from tiergate.errors import PayloadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = (b"content-type", b"application/json")


def header_list(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers.items()]


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    headers: Mapping[str, str] | list[tuple[bytes, bytes]] | None = None,
    content_type: tuple[bytes, bytes] = _JSON,
) -> None:
    """``headers``: a mapping, or ASGI byte pairs already encoded (the chat path's)."""
    raw = [content_type, (b"content-length", b"%d" % len(body))]
    if headers:
        raw.extend(headers if isinstance(headers, list) else header_list(headers))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_chunks(
    send: Send, headers: list[tuple[bytes, bytes]], chunks: AsyncIterator[bytes]
) -> None:
    """A 200 whose body goes out as ``chunks`` come (its size is not known up front)."""
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    async for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def send_json(
    send: Send, status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> None:
    await send_bytes(send, status, orjson.dumps(payload), headers)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes with a 413."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk, more = await receive_chunk(receive, size, limit)
        size += len(chunk)
        chunks.append(chunk)
        if not more:
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def body_pieces(receive: Receive, limit: int, size: int) -> AsyncIterator[bytes]:
    """The request body in pieces of about ``size`` bytes (the last may be shorter, or
    empty), as it arrives: a large body is handled a piece at a time, never held whole.
    Refuses more than ``limit`` bytes with a 413 as soon as they are seen."""
    received = 0
    pending: list[bytes] = []
    held = 0
    while True:
        chunk, more = await receive_chunk(receive, received, limit)
        received += len(chunk)
        pending.append(chunk)
        held += len(chunk)
        if held >= size or not more:
            yield pending[0] if len(pending) == 1 else b"".join(pending)
            pending, held = [], 0
        if not more:
            return


async def receive_chunk(receive: Receive, received: int, limit: int) -> tuple[bytes, bool]:
    """The request body's next piece and whether more follows: ``ClientGone`` if the client
    left, a 413 once the ``received`` bytes before it and this piece pass ``limit``."""
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone()
    chunk: bytes = message.get("body", b"")
    if received + len(chunk) > limit:
        raise PayloadTooLarge(f"request body is larger than the {limit}-byte limit")
    return chunk, message.get("more_body", False)


class ClientGone(Exception):
    """The client disconnected before we could answer; nothing is sent."""


def request_headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
