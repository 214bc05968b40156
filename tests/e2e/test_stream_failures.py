"""Streams that end badly: each is answered in the caller's format, never hangs, and is logged
and billed for what it used (a stream the client abandons must not be free)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.gateway_fixtures import make_gateway  # noqa: F401  (pytest fixture)
from tests.fakes.script import Fail, FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream
from tests.support.log_rows import logged

LONG = " ".join(["word"] * 100)


def _read_until(gateway: str, path: str, body: bytes, marker: bytes) -> bytes:
    """POST a streaming request on a raw socket, read until ``marker``, then hang up."""
    host, port = gateway.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        got = b""
        while marker not in got:
            chunk = sock.recv(65536)
            assert chunk, "the gateway closed the stream first"
            got += chunk
    return got


def _request_id(head: bytes) -> str:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"x-tiergate-request-id":
            return value.strip().decode()
    raise AssertionError("no request id header")


def test_a_client_that_hangs_up_mid_stream_still_pays_for_its_input(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    """Anthropic reports the input tokens at the start of a stream: a client that leaves after
    the first delta is logged (499) and billed for them, plus the text it was sent."""
    usage = FakeUsage(input_tokens=100_000, output_tokens=500)
    anthropic_upstream.reply(LONG, chunk_delay=0.05, usage=usage)
    body = (
        b'{"model":"claude-haiku-4-5","max_tokens":500,"stream":true,'
        b'"messages":[{"role":"user","content":"write"}]}'
    )
    got = _read_until(make_gateway(), "/v1/messages", body, b"content_block_delta")
    row, attempts = logged(tmp_path, _request_id(got))
    status, error_class, input_tokens, output_tokens, cost, count = row
    assert (status, error_class, input_tokens, count) == (499, None, 100_000, 1)
    assert 1 <= output_tokens < 500  # what was streamed before the hang-up, not the whole
    assert cost >= 100_000 * 1_000_000  # Haiku input at $1 per million = 1e6 pico-$ a token
    assert [(a[3], a[4]) for a in attempts] == [("cut", 499)]
    # the output count was estimated from what was streamed: the row says so
    (estimated,), _ = logged(tmp_path, _request_id(got), "cost_estimated")
    assert estimated


def test_a_stream_over_the_time_limit_is_cut_billed_and_says_why(
    make_gateway: Callable[..., str],  # noqa: F811
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    """OpenAI sends usage only at the end of a stream: a stream cut at ``max_stream_seconds``
    is billed on an estimate (the prompt, and the output streamed), marked estimated."""
    gateway = make_gateway(limits={"max_stream_seconds": 1})
    openai_upstream.reply(LONG, chunk_delay=0.05, usage=FakeUsage(500, 100))
    answer = httpx.post(
        gateway + "/v1/chat/completions",
        timeout=30,
        json={
            "model": "gpt-5.4",
            "stream": True,
            "messages": [{"role": "user", "content": "write " * 200}],
        },
    )
    assert answer.status_code == 200  # the stream had started: the error is its last event
    assert b"exceeded the maximum duration" in answer.content
    row, attempts = logged(tmp_path, answer.headers["x-tiergate-request-id"])
    status, error_class, input_tokens, output_tokens, cost, _ = row
    assert (status, error_class) == (504, "timeout_error")
    assert 150 <= input_tokens <= 600  # estimated from 200 words of prompt
    assert 1 <= output_tokens < 100
    assert cost > 0
    assert [(a[3], a[4]) for a in attempts] == [("cut", 504)]
    (estimated,), _ = logged(tmp_path, answer.headers["x-tiergate-request-id"], "cost_estimated")
    assert estimated


def test_a_mid_stream_upstream_error_is_logged_with_its_class(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    anthropic_upstream.reply("a b c d e f", error_after=4)
    client = anthropic.Anthropic(base_url=make_gateway(), api_key="x", max_retries=0)
    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        request_id = stream.response.headers["x-tiergate-request-id"]
        list(stream.text_stream)
    row, _ = logged(tmp_path, request_id)
    assert row[0] == 529 and row[1] == "overloaded_error"


class CommentsOnly:
    """An OpenAI-style upstream that answers 200 ``text/event-stream`` and then sends only SSE
    comments (keep-alives), one every 0.2 s, never an event."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.requests = 0
        self.port = 0
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(
                asyncio.start_server(self._handle, "127.0.0.1", 0)
            )
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(5)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        self.requests += 1
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        piece = b": PROCESSING\n\n"
        try:
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(0.2)
        except (ConnectionError, OSError):
            writer.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def comments_only() -> Iterator[CommentsOnly]:
    upstream = CommentsOnly()
    yield upstream
    upstream.stop()


def test_an_upstream_sending_only_keep_alives_times_out_as_504(
    make_gateway: Callable[..., str],  # noqa: F811
    comments_only: CommentsOnly,
    tmp_path: Path,
) -> None:
    """The deployment's timeout bounds the wait for a stream's first event: comments keep the
    read timeout from firing, so without that bound the request would wait forever."""
    deployment: dict[str, Any] = {
        "name": "chatty",
        "model": "gpt-5.4",
        "provider": "openai",
        "base_url": f"http://127.0.0.1:{comments_only.port}/v1",
        "api_key": "k",
        "timeout": 1,
    }
    gateway = make_gateway(deployments=[deployment])
    started = time.monotonic()
    answer = httpx.post(
        gateway + "/v1/chat/completions",
        timeout=15,
        json={"model": "gpt-5.4", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    )
    assert time.monotonic() - started < 8
    assert answer.status_code == 504
    assert "sent no event within 1 s" in answer.json()["error"]["message"]
    assert comments_only.requests == 1  # max_retries 0 in these fixtures
    row, attempts = logged(tmp_path, answer.headers["x-tiergate-request-id"])
    assert row[0] == 504 and [(a[3], a[4]) for a in attempts] == [("provider_error", 504)]


@pytest.mark.parametrize("stream", [False, True])
def test_a_ladder_whose_last_rung_fails_still_bills_and_logs_the_rungs_it_paid_for(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    tmp_path: Path,
    stream: bool,
) -> None:
    routes = {
        "triage": {
            "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"],
            "validators": [{"type": "one_of", "labels": ["billing", "bug"]}],
            "fallback": "none",  # else another model would answer after the last rung failed
        }
    }
    usage = FakeUsage(input_tokens=1000, output_tokens=10)
    anthropic_upstream.script(Reply("not a label", usage=usage), Fail(500, "boom"))
    answer = httpx.post(
        make_gateway(routes=routes) + "/v1/messages",
        timeout=30,
        json={
            "model": "triage",
            "max_tokens": 10,
            "stream": stream,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert answer.status_code == 500
    row, attempts = logged(tmp_path, answer.headers["x-tiergate-request-id"])
    # Haiku's answer was paid for: 1000 x $1 + 10 x $5 per million = $0.00105.
    assert row[0] == 500 and row[4] == 1_050_000_000 and row[5] == 2
    assert [(a[2], a[3], a[4]) for a in attempts] == [
        ("claude-haiku-4-5", "validator_failed", 200),
        ("claude-sonnet-4-6", "provider_error", 500),
    ]
