"""Prompt caching done for the user: breakpoints placed on Anthropic requests, savings reported."""

from __future__ import annotations

from collections.abc import Callable

import anthropic
import httpx

from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream

LONG_SYSTEM = "You are a support triage assistant. " * 600  # ~21,600 chars, ~5,400 tokens


def test_breakpoint_placed_on_a_long_system_prompt_and_savings_reported(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    gateway = make_gateway()
    anthropic_upstream.default = Reply(
        text="billing", usage=FakeUsage(input_tokens=20, output_tokens=2, cache_read=5400)
    )
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=5,
        system=LONG_SYSTEM,
        messages=[{"role": "user", "content": "my card was charged twice"}],
    )
    system = anthropic_upstream.last.json["system"]
    assert system[-1]["cache_control"] == {"type": "ephemeral"}
    report = httpx.get(gateway + "/v1/tiergate/report").json()["totals"]
    # 5,400 cache reads at Haiku's $1 input vs $0.10 read: $0.00486 saved
    assert abs(report["cache_savings_usd"] - 0.00486) < 1e-9


def test_short_prompts_and_caller_breakpoints_are_left_alone(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    gateway = make_gateway()
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=5,
        system="short",
        messages=[{"role": "user", "content": "hi"}],
    )
    assert "cache_control" not in str(anthropic_upstream.last.json)
    own = [
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    ]
    client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=5,
        system=own,  # type: ignore[arg-type]
        messages=[{"role": "user", "content": "hi"}],
    )
    sent = anthropic_upstream.last.json
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert str(sent).count("cache_control") == 1
