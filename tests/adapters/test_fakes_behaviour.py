"""Scripted behaviour shared by both fakes: order of steps, slowness, dying mid-stream,
being dead and coming back on the same port, and the request log."""

from __future__ import annotations

import time
from collections.abc import Callable

import anthropic
import httpx
import openai
import pytest

from tests.fakes import Fail, FakeUpstream, Reply
from tests.fakes.fixtures import (
    anthropic_upstream,
    fake_anthropic_server,
    fake_openai_server,
    make_upstream,
    openai_upstream,
)

__all__ = [
    "anthropic_upstream",
    "fake_anthropic_server",
    "fake_openai_server",
    "make_upstream",
    "openai_upstream",
]

HELLO = [{"role": "user", "content": "hi"}]
ANTHROPIC_HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def ask_anthropic(upstream: FakeUpstream, **body: object) -> httpx.Response:
    payload = {"model": "claude-x", "max_tokens": 20, "messages": HELLO, **body}
    return httpx.post(
        upstream.url + "/v1/messages", json=payload, headers=ANTHROPIC_HEADERS, timeout=10
    )


def stream_frames(
    upstream: FakeUpstream, path: str, body: dict[str, object], headers: dict[str, str]
) -> tuple[list[str], Exception | None]:
    """Read SSE frames until the stream ends or the connection breaks."""
    frames: list[str] = []
    buffer = ""
    try:
        with httpx.stream(
            "POST", upstream.url + path, json=body, headers=headers, timeout=10
        ) as response:
            for text in response.iter_text():
                buffer += text
                while "\n\n" in buffer:
                    frame, buffer = buffer.split("\n\n", 1)
                    frames.append(frame)
    except httpx.HTTPError as exc:
        return frames, exc
    return frames, None


def test_steps_are_used_in_order_then_the_default(anthropic_upstream: FakeUpstream) -> None:
    anthropic_upstream.script(Fail(429, retry_after=2), Reply("second"))
    first = ask_anthropic(anthropic_upstream)
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert ask_anthropic(anthropic_upstream).json()["content"][0]["text"] == "second"
    assert ask_anthropic(anthropic_upstream).json()["content"][0]["text"] == "echo: hi"
    anthropic_upstream.default = Fail(529)
    assert ask_anthropic(anthropic_upstream).status_code == 529
    assert ask_anthropic(anthropic_upstream).status_code == 529
    assert len(anthropic_upstream.requests) == 5


def test_reset_forgets_script_requests_and_settings(anthropic_upstream: FakeUpstream) -> None:
    anthropic_upstream.script(Fail(500), Fail(500))
    anthropic_upstream.api_key = "other"
    ask_anthropic(anthropic_upstream)
    anthropic_upstream.reset()
    assert anthropic_upstream.pending == 0 and anthropic_upstream.requests == []
    assert ask_anthropic(anthropic_upstream).status_code == 200


def test_the_request_log_keeps_body_and_headers(openai_upstream: FakeUpstream) -> None:
    sdk = openai.OpenAI(base_url=openai_upstream.url + "/v1", api_key="sk-test", max_retries=0)
    sdk.chat.completions.create(
        model="gpt-4o", messages=HELLO, temperature=0.3, extra_headers={"x-trace": "abc"}
    )
    sent = openai_upstream.last
    assert sent.method == "POST" and sent.json["temperature"] == 0.3
    assert sent.header("X-Trace") == "abc" and sent.header("authorization") == "Bearer sk-test"
    assert sent.body.startswith(b"{")


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_die_mid_stream_breaks_the_connection_after_n_events(
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    dialect: str,
) -> None:
    upstream = anthropic_upstream if dialect == "anthropic" else openai_upstream
    upstream.reply("one two three four five six", die_after=3)
    if dialect == "anthropic":
        frames, error = stream_frames(
            upstream,
            "/v1/messages",
            {"model": "m", "max_tokens": 20, "messages": HELLO, "stream": True},
            ANTHROPIC_HEADERS,
        )
    else:
        frames, error = stream_frames(
            upstream,
            "/v1/chat/completions",
            {"model": "m", "messages": HELLO, "stream": True},
            {"authorization": "Bearer k"},
        )
    assert len(frames) == 3
    assert isinstance(error, httpx.RemoteProtocolError)


def test_die_in_a_plain_response_cuts_the_body(anthropic_upstream: FakeUpstream) -> None:
    anthropic_upstream.reply("x", die_after=0)
    with pytest.raises(httpx.RemoteProtocolError):
        ask_anthropic(anthropic_upstream)
    with pytest.raises(anthropic.APIConnectionError):
        anthropic_upstream.reply("x", die_after=0)
        anthropic.Anthropic(
            base_url=anthropic_upstream.url, api_key="k", max_retries=0
        ).messages.create(model="m", max_tokens=5, messages=HELLO)


def test_slow_start_and_slow_chunks(openai_upstream: FakeUpstream) -> None:
    openai_upstream.reply("a b c", delay=0.3)
    sdk = openai.OpenAI(base_url=openai_upstream.url + "/v1", api_key="k", max_retries=0)
    started = time.monotonic()
    sdk.chat.completions.create(model="m", messages=HELLO)
    assert time.monotonic() - started >= 0.3
    openai_upstream.reply("a b c d", chunk_delay=0.1)
    started = time.monotonic()
    arrivals = []
    for _ in sdk.chat.completions.create(model="m", messages=HELLO, stream=True):
        arrivals.append(time.monotonic() - started)
    # 6 chunks the SDK yields, 0.1 s apart: at least 4 gaps, whichever chunk the clock starts on
    assert arrivals[-1] - arrivals[0] >= 0.35
    openai_upstream.reply("late", delay=2)
    slow_client = openai.OpenAI(
        base_url=openai_upstream.url + "/v1", api_key="k", max_retries=0, timeout=0.3
    )
    with pytest.raises(openai.APITimeoutError):
        slow_client.chat.completions.create(model="m", messages=HELLO)


def test_a_stopped_upstream_refuses_then_restarts_on_the_same_port(
    make_upstream: Callable[..., FakeUpstream],
) -> None:
    upstream = make_upstream("anthropic")
    url = upstream.url
    assert ask_anthropic(upstream).status_code == 200
    upstream.stop()
    assert not upstream.alive
    with pytest.raises(httpx.ConnectError):
        ask_anthropic(upstream)
    upstream.start()
    assert upstream.url == url
    assert ask_anthropic(upstream).status_code == 200


def test_stop_does_not_wait_for_a_slow_stream(make_upstream: Callable[..., FakeUpstream]) -> None:
    upstream = make_upstream("openai")
    upstream.reply("a b c d e f g h", chunk_delay=0.5)
    with httpx.stream(
        "POST",
        upstream.url + "/v1/chat/completions",
        json={"model": "m", "messages": HELLO, "stream": True},
        headers={"authorization": "Bearer k"},
        timeout=10,
    ) as response:
        next(response.iter_bytes())
        started = time.monotonic()
        upstream.stop()
        assert time.monotonic() - started < 3
    upstream.restart()
    assert upstream.alive
