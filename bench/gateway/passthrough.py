"""The bare pass-through: the least a Python gateway can do, as the benchmark's reference point.

A raw ASGI app on uvicorn (uvloop + httptools, as ``tiergate serve`` uses) that reads the
request body, POSTs it unchanged to the same path on the upstream through one pooled client,
and returns the upstream's status and body (streamed through, chunk by chunk, when the upstream
streams). No parsing, no auth, no routing, no logging: whatever tiergate costs beyond this is
the price of its features.

``--client aiohttp`` (default: the reference issue 7 names, "a lean Python pass-through", ~6,500
requests/s on one core, and tiergate's client until 2026-12-01), ``--client pyreqwest`` (Rust's
reqwest, the client tiergate uses since) or ``--client httpx`` (tiergate's until 2026-11-30), so
the table separates the cost of the HTTP client from the cost of the gateway's own work.

Usage: ``python passthrough.py --upstream http://127.0.0.1:9100 --port 9200``
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = [(b"content-type", b"application/json")]
SSE = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def make_app(upstream: str, client_kind: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """An ASGI app forwarding POSTs to ``upstream``; the client is created at startup."""
    state: dict[str, Any] = {}

    async def forward_aiohttp(path: str, body: bytes, send: Send) -> None:
        async with state["client"].post(upstream + path, data=body, headers=state["headers"]) as r:
            streaming = r.content_type == "text/event-stream"
            await send(
                {
                    "type": "http.response.start",
                    "status": r.status,
                    "headers": SSE if streaming else JSON,
                }
            )
            if not streaming:
                await send({"type": "http.response.body", "body": await r.read()})
                return
            async for chunk in r.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    async def forward_httpx(path: str, body: bytes, send: Send) -> None:
        client = state["client"]
        request = client.build_request(
            "POST", upstream + path, content=body, headers=state["headers"]
        )
        r = await client.send(request, stream=True)
        try:
            streaming = r.headers.get("content-type", "").startswith("text/event-stream")
            await send(
                {
                    "type": "http.response.start",
                    "status": r.status_code,
                    "headers": SSE if streaming else JSON,
                }
            )
            if not streaming:
                await send({"type": "http.response.body", "body": await r.aread()})
                return
            async for chunk in r.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await r.aclose()

    async def forward_pyreqwest(path: str, body: bytes, send: Send) -> None:
        # No read-ahead (streamed_read_buffer_limit 0), as tiergate sends: else the response
        # is held back until 64 KB of its body arrived.
        request = state["client"].post(upstream + path).headers(state["headers"])
        async with request.body_bytes(body).streamed_read_buffer_limit(0).build_streamed() as r:
            streaming = (r.headers.get("content-type") or "").startswith("text/event-stream")
            await send(
                {
                    "type": "http.response.start",
                    "status": r.status,
                    "headers": SSE if streaming else JSON,
                }
            )
            if not streaming:
                await send({"type": "http.response.body", "body": (await r.bytes()).to_bytes()})
                return
            reader = r.body_reader
            while (chunk := await reader.read_chunk()) is not None:
                await send(
                    {"type": "http.response.body", "body": chunk.to_bytes(), "more_body": True}
                )
            await send({"type": "http.response.body", "body": b""})

    forward = {
        "aiohttp": forward_aiohttp,
        "httpx": forward_httpx,
        "pyreqwest": forward_pyreqwest,
    }[client_kind]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    state["headers"] = {
                        "content-type": "application/json",
                        "authorization": "Bearer bench",
                    }
                    if client_kind == "aiohttp":
                        import aiohttp

                        state["client"] = aiohttp.ClientSession(
                            connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
                        )
                    elif client_kind == "pyreqwest":
                        from pyreqwest.client import ClientBuilder

                        state["client"] = ClientBuilder().no_proxy().build()
                    else:
                        import httpx

                        state["client"] = httpx.AsyncClient(
                            limits=httpx.Limits(max_connections=None, max_keepalive_connections=512)
                        )
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    client = state.get("client")
                    if client is not None:
                        await (client.aclose() if client_kind == "httpx" else client.close())
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":
            await send({"type": "http.response.start", "status": 200, "headers": JSON})
            await send({"type": "http.response.body", "body": b'{"status":"ok"}'})
            return
        body = await _read_body(receive)
        await forward(scope["path"], body, send)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", default="http://127.0.0.1:9100")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--client", choices=["aiohttp", "httpx", "pyreqwest"], default="aiohttp")
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.upstream.rstrip("/"), args.client),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
