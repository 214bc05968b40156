"""Through the gateway, with the SDKs: a probe that ends oddly never leaves its model at 503.

The issue's reproduction: the breaker's one probe got a 400, or was a stream the client left
after its first chunk; the slot stayed claimed and the model answered 503 for good (cool-down
3 s, 60 s and more of 503 with the upstream healthy and no call reaching it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes import Reply
from tests.fakes.upstream import FakeUpstream

MESSAGES: Any = [{"role": "user", "content": "hello"}]
COOLDOWN = 0.3
RETRY = {"max_retries": 0, "breaker_failures": 1, "breaker_cooldown": COOLDOWN}


def answered_within(seconds: float, ask: Callable[[], str]) -> str | None:
    """``ask()`` until it answers (a 503 means the breaker refused), for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return ask()
        except (openai.APIStatusError, anthropic.APIStatusError) as exc:
            assert exc.status_code == 503, exc
        time.sleep(0.05)
    return None


def open_then_cool(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    """One 503 opens gpt-5.4's breaker; then its cool-down ends."""
    upstream.fail(503, "overloaded")
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-5.4", messages=MESSAGES)
    time.sleep(COOLDOWN + 0.1)


def test_a_probe_answered_400_leaves_the_model_usable(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream
) -> None:
    client = openai.OpenAI(base_url=make_gateway(retry=RETRY) + "/v1", api_key="x", max_retries=0)
    open_then_cool(client, openai_upstream)
    openai_upstream.fail(400, "bad request").reply("healthy again")
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-5.4", messages=MESSAGES)

    def ask() -> str:
        answer = client.chat.completions.create(model="gpt-5.4", messages=MESSAGES)
        return answer.choices[0].message.content or ""

    assert answered_within(3 * COOLDOWN + 2, ask) == "healthy again"
    assert len(openai_upstream.requests) == 3


def test_a_probe_stream_dropped_after_its_first_chunk_leaves_the_model_usable(
    make_gateway: Callable[..., str], openai_upstream: FakeUpstream
) -> None:
    base = make_gateway(retry=RETRY)
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
    open_then_cool(client, openai_upstream)
    words = " ".join(f"w{i}" for i in range(50))
    openai_upstream.script(Reply(words, chunk_delay=0.05)).reply("healthy again")
    with client.chat.completions.create(model="gpt-5.4", messages=MESSAGES, stream=True) as s:
        next(iter(s))  # one chunk, then the client goes

    claude = anthropic.Anthropic(base_url=base, api_key="x", max_retries=0)

    def ask() -> str:  # the other wire format, same model: the breaker is the model's
        answer = claude.messages.create(model="gpt-5.4", max_tokens=16, messages=MESSAGES)
        return answer.content[0].text  # type: ignore[union-attr]

    assert answered_within(3 * COOLDOWN + 2, ask) == "healthy again"
    assert len(openai_upstream.requests) == 3
