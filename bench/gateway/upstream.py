"""A fake LLM upstream fast enough never to be the bottleneck of the gateway benchmark.

Speaks OpenAI ``POST /v1/chat/completions`` and Anthropic ``POST /v1/messages``, non-streaming
and streaming (20 content chunks, usage included), plus ``GET /health`` and ``GET /v1/models``.
Every answer is a fixed, pre-encoded byte string: the server parses HTTP with httptools on a
raw asyncio protocol under uvloop, looks at the path and whether the body asks for a stream, and
writes. No framework, no JSON parsing, so one core serves several times what any gateway can.

Usage: ``python upstream.py --port 9100 [--chunk-delay-ms 0]``. With a chunk delay, stream chunks
after the first are spaced out, so time-to-first-byte and time-to-last-byte differ visibly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import Any

import httptools

CHUNKS = 20
MODEL = "fake"
WORD = "tok "
USAGE_IN, USAGE_OUT = 12, CHUNKS


def _openai_body() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": WORD * CHUNKS},
                }
            ],
            "usage": {
                "prompt_tokens": USAGE_IN,
                "completion_tokens": USAGE_OUT,
                "total_tokens": USAGE_IN + USAGE_OUT,
            },
        },
        separators=(",", ":"),
    ).encode()


def _openai_events() -> list[bytes]:
    base: dict[str, Any] = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": MODEL,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"

    events = [chunk({"role": "assistant", "content": WORD})]
    events += [chunk({"content": WORD}) for _ in range(CHUNKS - 1)]
    tail = chunk({}, "stop")
    usage = {
        **base,
        "choices": [],
        "usage": {
            "prompt_tokens": USAGE_IN,
            "completion_tokens": USAGE_OUT,
            "total_tokens": USAGE_IN + USAGE_OUT,
        },
    }
    tail += b"data: " + json.dumps(usage, separators=(",", ":")).encode() + b"\n\n"
    tail += b"data: [DONE]\n\n"
    events[-1] += tail
    return events


def _anthropic_body() -> bytes:
    return json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [{"type": "text", "text": WORD * CHUNKS}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": USAGE_IN,
                "output_tokens": USAGE_OUT,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        },
        separators=(",", ":"),
    ).encode()


def _anthropic_events() -> list[bytes]:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return (
            f"event: {name}\ndata: ".encode()
            + json.dumps(data, separators=(",", ":")).encode()
            + b"\n\n"
        )

    start = event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_bench",
                "type": "message",
                "role": "assistant",
                "model": MODEL,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": USAGE_IN,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            },
        },
    )
    start += event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    delta = event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": WORD}},
    )
    events = [start + delta] + [delta] * (CHUNKS - 1)
    events[-1] += event("content_block_stop", {"type": "content_block_stop", "index": 0})
    events[-1] += event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": USAGE_OUT},
        },
    )
    events[-1] += event("message_stop", {"type": "message_stop"})
    return events


def _plain(status: str, body: bytes, ctype: bytes = b"application/json") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\n".encode()
        + b"content-type: "
        + ctype
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)


def _chunked(events: list[bytes]) -> list[bytes]:
    return [f"{len(e):x}\r\n".encode() + e + b"\r\n" for e in events]


RESPONSES = {
    b"/v1/chat/completions": (_plain("200 OK", _openai_body()), _chunked(_openai_events())),
    b"/v1/messages": (_plain("200 OK", _anthropic_body()), _chunked(_anthropic_events())),
}
HEALTH = _plain("200 OK", b'{"status":"ok"}')
MODELS = _plain(
    "200 OK",
    json.dumps(
        {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "bench"}],
        }
    ).encode(),
)
NOT_FOUND = _plain("404 Not Found", b'{"error":{"message":"not found","type":"not_found"}}')


class UpstreamProtocol(asyncio.Protocol):
    """One connection: parse requests with httptools, answer each from the pre-encoded table."""

    chunk_delay = 0.0

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.write(_plain("400 Bad Request", b"{}"))
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        assert transport is not None
        path = self.url.split(b"?", 1)[0]
        answers = RESPONSES.get(path)
        if answers is None:
            transport.write(
                HEALTH if path == b"/health" else MODELS if path == b"/v1/models" else NOT_FOUND
            )
            return
        body = b"".join(self.body)
        if b'"stream":true' not in body.replace(b" ", b""):
            transport.write(answers[0])
            return
        if self.chunk_delay <= 0:
            transport.write(STREAM_HEAD + b"".join(answers[1]) + b"0\r\n\r\n")
            return
        transport.write(STREAM_HEAD + answers[1][0])
        asyncio.get_running_loop().create_task(self._trickle(transport, answers[1][1:]))

    async def _trickle(self, transport: asyncio.Transport, rest: list[bytes]) -> None:
        for piece in rest:
            await asyncio.sleep(self.chunk_delay)
            if transport.is_closing():
                return
            transport.write(piece)
        transport.write(b"0\r\n\r\n")


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(UpstreamProtocol, host, port, backlog=4096)
    print(f"fake upstream on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    UpstreamProtocol.chunk_delay = args.chunk_delay_ms / 1000
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
