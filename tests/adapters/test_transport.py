"""The shared upstream HTTP session against raw sockets on loopback: a pooled connection the
upstream closes as the request goes out, a silent upstream, a refused port, a cut stream."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import trustme
from pyreqwest.exceptions import ConnectTimeoutError

from tiergate import __version__
from tiergate.errors import GatewayError, ProviderError
from tiergate.providers.base import CallOptions, Deployment
from tiergate.providers.http import HTTPProvider
from tiergate.providers.transport import UpstreamSession, as_provider_error
from tiergate.types import BlockDelta, ChatRequest, Message, TextBlock
from tiergate.wire.openai import FORMAT as OPENAI


def _answer(text: str) -> bytes:
    body = orjson.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
    )
    head = (
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _read_request(reader: asyncio.StreamReader, heads: list[str]) -> bool:
    """Read one HTTP request (headers + content-length body); False at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return False
    heads.append(head.decode("latin-1").lower())
    length = 0
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return True


class RawUpstream:
    """Answers the first request on every connection; on a connection's second request it
    closes the socket without a status line (what a keep-alive timeout race looks like)."""

    def __init__(self, mode: str = "close-second", tls: ssl.SSLContext | None = None) -> None:
        self.mode = mode
        self.tls = tls
        self.connections = 0
        self.requests = 0
        self.heads: list[str] = []
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while await _read_request(reader, self.heads):
                self.requests += 1
                if self.mode == "silent":
                    await asyncio.sleep(30)
                if self.mode == "read-then-die":
                    await asyncio.sleep(0.3)  # working on it... then the process dies
                    break
                if self.mode == "cut-stream":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                        b"transfer-encoding: chunked\r\n\r\n"
                    )
                    frame = b'data: {"id":"c","object":"chat.completion.chunk","created":0,'
                    frame += b'"model":"m","choices":[{"index":0,"delta":{"content":"par"}}]}\n\n'
                    writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                    await writer.drain()
                    break  # close mid-stream, without the terminating chunk
                if served == 1 and self.mode != "keep-alive":
                    break  # second request on this connection: close, no response
                answer = _answer(f"answer {self.requests}")
                if self.mode == "set-cookie":
                    answer = answer.replace(b"\r\n\r\n", b"\r\nset-cookie: tenant=a\r\n\r\n", 1)
                writer.write(answer)
                await writer.drain()
                served += 1
        finally:
            writer.close()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/v1"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


REQUEST = ChatRequest(model="m", messages=[Message(role="user", content=[TextBlock("hi")])])


def _deployment(url: str, timeout: float = 5.0) -> Deployment:
    return Deployment("raw", "gpt-5.4", "openai", "m", base_url=url, api_key="k", timeout=timeout)


@pytest.fixture
async def provider() -> AsyncIterator[HTTPProvider]:
    session = UpstreamSession()
    yield HTTPProvider(OPENAI, session)
    await session.aclose()


async def test_a_pooled_connection_closed_before_the_status_line_is_retried_once(
    provider: HTTPProvider,
) -> None:
    upstream = RawUpstream()
    async with upstream as url:
        first = await provider.complete(REQUEST, _deployment(url), CallOptions())
        second = await provider.complete(REQUEST, _deployment(url), CallOptions())
    assert first.text() == "answer 1"
    # request 2 reached the first connection, which closed; it was sent again on a new one
    assert second.text() == "answer 3"
    assert upstream.connections == 2 and upstream.requests == 3


async def test_an_upstream_that_dies_after_reading_the_request_is_not_sent_it_again(
    provider: HTTPProvider,
) -> None:
    """A close before the status line but well after sending is not the keep-alive race: the
    upstream read the request (and may have started, and billed, the generation), so it is a
    retryable 502 for the executor to retry visibly, never a hidden second send."""
    upstream = RawUpstream("read-then-die")
    async with upstream as url:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(REQUEST, _deployment(url), CallOptions())
    assert caught.value.status == 502 and caught.value.retryable
    assert upstream.requests == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_a_silent_upstream_times_out_as_504_reported_as_a_read_timeout(
    provider: HTTPProvider, stream: bool
) -> None:
    """The upstream accepted the connection and read the request, then said nothing. pyreqwest
    raises ``ConnectTimeoutError`` for that too; the message must not send whoever reads it
    to look at the network when the upstream is what was slow."""
    async with RawUpstream("silent") as url:
        with pytest.raises(ProviderError) as caught:
            if stream:
                async for _ in provider.stream(REQUEST, _deployment(url, 0.3), CallOptions()):
                    pass
            else:
                await provider.complete(REQUEST, _deployment(url, timeout=0.3), CallOptions())
    assert caught.value.status == 504 and caught.value.retryable
    assert caught.value.message == (
        "upstream raw read timed out (no answer within the deployment's timeout)"
    )


def test_a_timeout_while_connecting_is_reported_as_a_connect_timeout() -> None:
    """What reqwest raises when the TCP connection itself is not made in time (its causes,
    as pyreqwest hands them over for a port whose accept queue is full)."""
    causes: Any = [
        {"message": "error sending request for url (http://127.0.0.1:9/v1/chat/completions)"},
        {"message": "client error (Connect)"},
        {"message": "tcp connect error"},
        {"message": "deadline has elapsed"},
    ]
    error = as_provider_error(ConnectTimeoutError("connection timeout", {"causes": causes}), "x")
    assert error.status == 504
    assert error.message == "upstream x connect timed out (no connection within 10 s)"


async def test_a_call_in_flight_is_cancelled_not_broken(provider: HTTPProvider) -> None:
    """A cancelled upstream call (a client gone, a stream's first-event deadline) ends in
    ``CancelledError``, never in another error from pyreqwest's own coroutines (which would
    answer 500 where a deadline means 504)."""

    async def first_event(url: str) -> object:
        async for event in provider.stream(REQUEST, _deployment(url), CallOptions()):
            return event
        return None

    async with RawUpstream("silent") as url:
        calls = [
            asyncio.ensure_future(provider.complete(REQUEST, _deployment(url), CallOptions())),
            asyncio.ensure_future(first_event(url)),
        ]
        await asyncio.sleep(0.3)  # both sent, both waiting for the status line
        for call in calls:
            call.cancel()
        for call in calls:
            with pytest.raises(asyncio.CancelledError):
                await call


@pytest.mark.parametrize("trusted", [True, False])
async def test_tls_upstreams_are_verified_against_the_trusted_cas(
    trusted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every real provider is HTTPS. The client verifies the upstream's certificate against the
    system's CAs, or the bundle ``SSL_CERT_FILE`` names (a private CA in front of a self-hosted
    model); a certificate from any other CA is a failed connection, never a silent answer."""
    issuer = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    issuer.issue_cert("127.0.0.1").configure_cert(server_tls)
    bundle = tmp_path / "ca.pem"
    (issuer if trusted else trustme.CA()).cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    session = UpstreamSession()  # its client reads the CAs when first used, below
    provider = HTTPProvider(OPENAI, session)
    try:
        async with RawUpstream("keep-alive", tls=server_tls) as url:
            assert url.startswith("https://")
            if trusted:
                answer = await provider.complete(REQUEST, _deployment(url), CallOptions())
                assert answer.text() == "answer 1"
            else:
                with pytest.raises(ProviderError) as caught:
                    await provider.complete(REQUEST, _deployment(url), CallOptions())
                assert caught.value.status == 502
    finally:
        await session.aclose()


async def test_a_refused_connection_is_a_retryable_502(provider: HTTPProvider) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ProviderError) as caught:
        await provider.complete(REQUEST, _deployment(f"http://127.0.0.1:{port}/v1"), CallOptions())
    assert caught.value.status == 502 and caught.value.retryable
    assert "connection failed" in caught.value.message


async def test_a_stream_cut_mid_body_is_an_error_not_a_short_answer(
    provider: HTTPProvider,
) -> None:
    """What arrived before the cut is passed on. pyreqwest by default holds a streamed response
    back until 64 KB of it has arrived, and then lost this text with the error; tiergate asks
    for no read-ahead, which is also what lets a stream's first event through at once."""
    texts: list[str] = []
    async with RawUpstream("cut-stream") as url:
        with pytest.raises(ProviderError) as caught:
            async for event in provider.stream(REQUEST, _deployment(url), CallOptions()):
                if isinstance(event, BlockDelta) and event.kind == "text":
                    texts.append(event.value)
    assert caught.value.status == 502
    assert texts == ["par"]


async def test_a_cookie_set_by_an_upstream_never_rides_on_a_later_call(
    provider: HTTPProvider,
) -> None:
    upstream = RawUpstream("set-cookie")
    async with upstream as url:
        url = url.replace("127.0.0.1", "localhost")  # a jar keeps no cookies set by an IP
        await provider.complete(REQUEST, _deployment(url), CallOptions())
        await provider.complete(REQUEST, _deployment(url), CallOptions())
    assert len(upstream.heads) >= 2
    assert not any("cookie:" in head for head in upstream.heads)


async def test_headers_are_fixed_per_deployment_and_the_caller_key_per_call(
    provider: HTTPProvider,
) -> None:
    """tiergate's own User-Agent (never aiohttp's), the deployment's key and headers, and for a
    bring-your-own-key deployment each call's own key: the per-deployment header cache must
    never carry one caller's key into another's call."""
    upstream = RawUpstream("keep-alive")
    async with upstream as url:
        fixed = Deployment(
            "raw",
            "gpt-5.4",
            "openai",
            "m",
            base_url=url,
            api_key="k-deploy",
            headers={"x-team": "search"},
        )
        byok = Deployment("byok", "gpt-5.4", "openai", "m", base_url=url, byok=True)
        await provider.complete(REQUEST, fixed, CallOptions())
        await provider.complete(REQUEST, byok, CallOptions(caller_key="k-alice"))
        await provider.complete(REQUEST, byok, CallOptions(caller_key="k-bob"))
        with pytest.raises(GatewayError) as caught:
            await provider.complete(REQUEST, byok, CallOptions())
    assert caught.value.status == 401
    first, alice, bob = upstream.heads
    assert f"user-agent: tiergate/{__version__}" in first
    assert "aiohttp" not in first + alice + bob
    assert "authorization: bearer k-deploy" in first and "x-team: search" in first
    assert "authorization: bearer k-alice" in alice and "k-deploy" not in alice
    assert "authorization: bearer k-bob" in bob and "k-alice" not in bob
