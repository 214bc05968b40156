"""The little HTTP layer the fakes share: a recorded request and raw-ASGI senders.

Raw ASGI on purpose: the fakes must not depend on any framework's idea of HTTP, and dropping a
connection mid-body (``Drop``) needs control a framework would hide. uvicorn closes the
transport when the app raises after the response has started, which is exactly what a dying
upstream looks like to a client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Drop(Exception):
    """Raised inside a response to make uvicorn close the connection abruptly."""


@dataclass
class RecordedRequest:
    """One request as the fake received it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    query: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


async def read_request(scope: Scope, receive: Receive) -> RecordedRequest:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return RecordedRequest(
        method=scope["method"],
        path=scope["path"],
        headers=headers,
        body=body,
        json=parsed,
        query=scope.get("query_string", b"").decode("latin-1"),
    )


def _raw_headers(content_type: str, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    out = [(b"content-type", content_type.encode())]
    out.extend((k.lower().encode(), str(v).encode()) for k, v in headers.items())
    return out


async def send_body(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
    die: bool = False,
) -> None:
    """A whole response; with ``die``, send the headers and half the body, then drop."""
    raw = _raw_headers(content_type, headers or {})
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    if die:
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        raise Drop("scripted: connection dropped mid-body")
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send,
    status: int,
    payload: Any,
    *,
    headers: Mapping[str, str] | None = None,
    die: bool = False,
) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await send_body(send, status, body, headers=headers, die=die)


async def send_stream(
    send: Send,
    frames: Sequence[bytes],
    *,
    headers: Mapping[str, str] | None = None,
    chunk_delay: float = 0.0,
    die_after: int | None = None,
) -> None:
    """An SSE response, one frame per body message (so each reaches the client at once)."""
    base = {"cache-control": "no-cache", **(headers or {})}
    raw = _raw_headers("text/event-stream; charset=utf-8", base)
    await send({"type": "http.response.start", "status": 200, "headers": raw})
    for sent, frame in enumerate(frames):
        if die_after is not None and sent >= die_after:
            raise Drop(f"scripted: connection dropped after {sent} events")
        if chunk_delay and sent:
            await asyncio.sleep(chunk_delay)
        await send({"type": "http.response.body", "body": frame, "more_body": True})
    if die_after is not None and die_after >= len(frames):
        raise Drop("scripted: connection dropped before the stream ended")
    await send({"type": "http.response.body", "body": b""})


def sse(data: Any, event: str | None = None) -> bytes:
    """One SSE frame; ``data`` is JSON-encoded unless it is already a string."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()
