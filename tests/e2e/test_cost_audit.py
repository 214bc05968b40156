"""A cost audit through the gateway: chosen usage blocks from the fake upstreams, the official
SDKs as clients, every figure priced by hand from the provider's published rule (the rules and
their sources: docs/cost.md). Each case is checked three ways: the ``x-tiergate-cost-usd``
header (or, for streams, the ``cost`` field of the final usage event), and the request's record
from ``GET /v1/requests/{id}`` (cost and whether it is estimated).

Hand arithmetic in micro-dollars (µ$ = 1e-6 USD); rates per million tokens: gpt-5.4 $2.50 in,
$0.25 cached, $15 out (over 272K input: $5 / $0.50 / $22.50); Sonnet 4.6 $3 / $15; Opus 4.7
$5 / $25; web search $10 per 1,000.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.gateway_fixtures import gateway_settings
from tests.fakes.script import FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream

D = Decimal
HI = [{"role": "user", "content": "Hi"}]
# The estimate of HI as the gateway makes it (tiergate/tokens.py): 3 for the request, 4 for the
# message, "Hi" 2 ASCII characters = 1 token.
HI_TOKENS = 8


@pytest.fixture
def audit(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> str:
    base = gateway_settings(anthropic_upstream, openai_upstream, tmp_path)
    deployments = [d.model_dump() for d in base.deployments]
    opus = {**deployments[1], "name": "anthropic-opus", "model": "claude-opus-4-7"}
    return make_gateway(deployments=[*deployments, opus])


def record(gateway: str, request_id: str) -> dict[str, Any]:
    response = httpx.get(f"{gateway}/v1/requests/{request_id}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def oa(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)


def an(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)


# (case, upstream reply, expected USD or None for unpriced) -- OpenAI format, gpt-5.4.
OPENAI_CASES = [
    (
        "plain: 1000 x 2.5 + 200 x 15 = 5500 µ$",
        Reply(text="ok", usage=FakeUsage(input_tokens=1000, output_tokens=200)),
        "0.0055",
    ),
    (
        "cached: 2000 x 2.5 + 1000 x 0.25 + 100 x 15 = 6750 µ$",
        Reply(text="ok", usage=FakeUsage(input_tokens=2000, cache_read=1000, output_tokens=100)),
        "0.00675",
    ),
    (
        "over 272K: 300000 x 5 + 1000 x 22.5 = 1522500 µ$",
        Reply(text="ok", usage=FakeUsage(input_tokens=300_000, output_tokens=1000)),
        "1.5225",
    ),
    (
        "service_tier priority: (1000 x 2.5 + 100 x 15) x 2 = 8000 µ$",
        Reply(
            text="ok",
            usage=FakeUsage(input_tokens=1000, output_tokens=100),
            service_tier="priority",
        ),
        "0.008",
    ),
    (
        "service_tier flex: (1000 x 2.5 + 100 x 15) x 0.5 = 2000 µ$",
        Reply(
            text="ok", usage=FakeUsage(input_tokens=1000, output_tokens=100), service_tier="flex"
        ),
        "0.002",
    ),
    (
        "service_tier scale: no per-token price: unpriced",
        Reply(
            text="ok", usage=FakeUsage(input_tokens=1000, output_tokens=100), service_tier="scale"
        ),
        None,
    ),
]


@pytest.mark.parametrize(("case", "reply", "expected"), OPENAI_CASES)
@pytest.mark.parametrize("stream", [False, True])
def test_openai_usage_blocks(
    audit: str,
    openai_upstream: FakeUpstream,
    case: str,
    reply: Reply,
    expected: str | None,
    stream: bool,
) -> None:
    openai_upstream.default = reply
    client = oa(audit)
    if stream:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-5.4",
            messages=HI,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
        request_id = raw.headers["x-tiergate-request-id"]
        chunks = list(raw.parse())
        usage = chunks[-1].usage
        assert usage is not None and usage.prompt_tokens > 0
        shown = (usage.model_extra or {})["cost"]
        assert shown == (None if expected is None else float(expected)), case
    else:
        raw = client.chat.completions.with_raw_response.create(model="gpt-5.4", messages=HI)  # type: ignore[arg-type]
        raw.parse()
        assert raw.headers["x-tiergate-cost-usd"] == (expected or "unpriced"), case
        assert "x-tiergate-cost-estimated" not in raw.headers
        request_id = raw.headers["x-tiergate-request-id"]
    logged = record(audit, request_id)
    assert logged["cost_usd"] == expected and logged["cost_estimated"] is False, case


ANTHROPIC_CASES = [
    (
        "web search: 1000 x 3 + 100 x 15 = 4500 µ$ + 2 x $0.01",
        "claude-sonnet-4-6",
        Reply(
            text="ok",
            usage=FakeUsage(input_tokens=1000, output_tokens=100),
            usage_fields={"server_tool_use": {"web_search_requests": 2}},
        ),
        "0.0245",
    ),
    (
        "web fetch: tokens only, 1000 x 3 + 100 x 15 = 4500 µ$",
        "claude-sonnet-4-6",
        Reply(
            text="ok",
            usage=FakeUsage(input_tokens=1000, output_tokens=100),
            usage_fields={"server_tool_use": {"web_fetch_requests": 3}},
        ),
        "0.0045",
    ),
    (
        "code execution: container hours, unpriced",
        "claude-sonnet-4-6",
        Reply(
            text="ok",
            usage=FakeUsage(input_tokens=1000, output_tokens=100),
            usage_fields={"server_tool_use": {"code_execution_requests": 1}},
        ),
        None,
    ),
    (
        "inference_geo us: (1000 x 5 + 100 x 25) x 1.1 = 8250 µ$",
        "claude-opus-4-7",
        Reply(
            text="ok",
            usage=FakeUsage(input_tokens=1000, output_tokens=100),
            usage_fields={"inference_geo": "us"},
        ),
        "0.00825",
    ),
    (
        "cache: 100 x 3 + 2000 x 3.75 + 10000 x 0.30 + 50 x 15 = 11550 µ$",
        "claude-sonnet-4-6",
        Reply(
            text="ok",
            usage=FakeUsage(
                input_tokens=100, cache_write_5m=2000, cache_read=10_000, output_tokens=50
            ),
        ),
        "0.01155",
    ),
]


@pytest.mark.parametrize(("case", "model", "reply", "expected"), ANTHROPIC_CASES)
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_usage_blocks(
    audit: str,
    anthropic_upstream: FakeUpstream,
    case: str,
    model: str,
    reply: Reply,
    expected: str | None,
    stream: bool,
) -> None:
    anthropic_upstream.default = reply
    client = an(audit)
    if stream:
        raw = client.messages.with_raw_response.create(
            model=model,
            max_tokens=100,
            messages=HI,
            stream=True,  # type: ignore[arg-type]
        )
        request_id = raw.headers["x-tiergate-request-id"]
        events = list(raw.parse())
        final = [e for e in events if e.type == "message_delta"][-1]
        shown = (final.usage.model_extra or {})["cost"]
        assert shown == (None if expected is None else float(expected)), case
    else:
        raw_response = client.messages.with_raw_response.create(
            model=model,
            max_tokens=100,
            messages=HI,  # type: ignore[arg-type]
        )
        raw_response.parse()
        assert raw_response.headers["x-tiergate-cost-usd"] == (expected or "unpriced"), case
        request_id = raw_response.headers["x-tiergate-request-id"]
    logged = record(audit, request_id)
    assert logged["cost_usd"] == expected and logged["cost_estimated"] is False, case


# Usage the upstream did not report (or reported only in part before a cut): estimated from
# the request (HI: 8 tokens) and what was delivered, recorded as estimated, never $0.
ESTIMATED_CASES = [
    (
        "no usage in the stream: 8 x 2.5 + 5 x 15 = 95 µ$ ('Hello there, friend!' is 20 ASCII "
        "characters, 5 tokens)",
        Reply(text="Hello there, friend!", no_usage=True),
        "0.000095",
        (8, 5),
    ),
    (
        "no usage, CJK text: 8 x 2.5 + 4 x 15 = 80 µ$ (4 CJK characters are 4 tokens)",
        Reply(text="你好世界", no_usage=True),
        "0.00008",
        (8, 4),
    ),
]


@pytest.mark.parametrize(("case", "reply", "expected", "tokens"), ESTIMATED_CASES)
@pytest.mark.parametrize("stream", [False, True])
def test_usage_the_upstream_did_not_report_is_estimated(
    audit: str,
    openai_upstream: FakeUpstream,
    case: str,
    reply: Reply,
    expected: str,
    tokens: tuple[int, int],
    stream: bool,
) -> None:
    """Regression: a stream whose upstream sent no usage was logged at $0, and the client got
    an all-zero usage chunk."""
    openai_upstream.default = reply
    client = oa(audit)
    if stream:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-5.4",
            messages=HI,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
        request_id = raw.headers["x-tiergate-request-id"]
        usage = list(raw.parse())[-1].usage
        assert usage is not None
        assert (usage.model_extra or {}) == {"cost": float(expected), "cost_estimated": True}
    else:
        answer = client.chat.completions.with_raw_response.create(model="gpt-5.4", messages=HI)  # type: ignore[arg-type]
        assert answer.headers["x-tiergate-cost-usd"] == expected, case
        assert answer.headers["x-tiergate-cost-estimated"] == "true"
        usage = answer.parse().usage
        request_id = answer.headers["x-tiergate-request-id"]
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == tokens
    logged = record(audit, request_id)
    assert logged["cost_usd"] == expected and logged["cost_estimated"] is True, case
    assert logged["attempts"][0]["estimated"] is True


def test_a_stream_the_openai_upstream_cuts_pays_for_what_was_delivered(
    audit: str, openai_upstream: FakeUpstream
) -> None:
    """Regression: a cut stream was billed for the usage reported before the cut (none, from
    OpenAI), although text had reached the client. Frames: role, 'Hello', ' there,' and then an
    error: 12 characters delivered, 3 tokens; 8 x 2.5 + 3 x 15 = 65 µ$."""
    openai_upstream.default = Reply(text="Hello there, friend!", error_after=3)
    raw = oa(audit).chat.completions.with_raw_response.create(
        model="gpt-5.4",
        messages=HI,
        stream=True,  # type: ignore[arg-type]
    )
    request_id = raw.headers["x-tiergate-request-id"]
    with pytest.raises(openai.APIError):
        list(raw.parse())
    logged = record(audit, request_id)
    assert logged["cost_usd"] == "0.000065" and logged["cost_estimated"] is True
    assert logged["usage"]["output_tokens"] == 3 and logged["usage"]["input_tokens"] == 8


def test_a_stream_the_anthropic_upstream_cuts_pays_for_what_was_delivered(
    audit: str, anthropic_upstream: FakeUpstream
) -> None:
    """message_start reported 1000 input and 1 output token; 'Hello there,' (3 tokens) was
    delivered before the error: 1000 x 3 + 3 x 15 = 3045 µ$ on Sonnet, estimated."""
    anthropic_upstream.default = Reply(
        text="Hello there, friend!",
        usage=FakeUsage(input_tokens=1000, output_tokens=100),
        error_after=5,
    )
    raw = an(audit).messages.with_raw_response.create(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=HI,
        stream=True,  # type: ignore[arg-type]
    )
    request_id = raw.headers["x-tiergate-request-id"]
    with pytest.raises(anthropic.APIError):
        list(raw.parse())
    logged = record(audit, request_id)
    assert logged["cost_usd"] == "0.003045" and logged["cost_estimated"] is True
    assert (logged["usage"]["input_tokens"], logged["usage"]["output_tokens"]) == (1000, 3)


def test_tool_calls_delivered_without_usage_are_estimated(
    audit: str, openai_upstream: FakeUpstream
) -> None:
    """The tool's name (11 characters) and its arguments '{"city": "Oslo"}' (16) were
    delivered: 27 quarter tokens, 7 tokens; 8 x 2.5 + 7 x 15 = 125 µ$."""
    from tests.fakes.script import ToolCall

    openai_upstream.default = Reply(
        tool_calls=(ToolCall("get_weather", {"city": "Oslo"}),), no_usage=True
    )
    raw = oa(audit).chat.completions.with_raw_response.create(
        model="gpt-5.4",
        messages=HI,
        stream=True,  # type: ignore[arg-type]
        stream_options={"include_usage": True},
    )
    usage = list(raw.parse())[-1].usage
    assert usage is not None and usage.completion_tokens == 7
    logged = record(audit, raw.headers["x-tiergate-request-id"])
    assert logged["cost_usd"] == "0.000125" and logged["cost_estimated"] is True


def test_a_request_record_is_read_by_its_own_tenant_only(make_gateway: Callable[..., str]) -> None:
    admin_key = "admin-secret-for-cost-tests"
    gateway = make_gateway(admin_key=admin_key)
    admin = {"authorization": f"Bearer {admin_key}"}

    def key(tenant: str) -> str:
        made = httpx.post(f"{gateway}/admin/keys", json={"tenant": tenant}, headers=admin)
        assert made.status_code == 201, made.text
        return str(made.json()["key"])

    acme, globex = key("acme"), key("globex")
    raw = (
        oa(gateway)
        .with_options(api_key=acme)
        .chat.completions.with_raw_response.create(
            model="gpt-5.4",
            messages=HI,  # type: ignore[arg-type]
        )
    )
    request_id = raw.headers["x-tiergate-request-id"]
    mine = httpx.get(f"{gateway}/v1/requests/{request_id}", headers={"x-api-key": acme})
    assert mine.status_code == 200 and mine.json()["tenant"] == "acme"
    assert mine.json()["cost_usd"] == raw.headers["x-tiergate-cost-usd"]
    assert mine.json()["attempts"][0]["model"] == "gpt-5.4"
    theirs = httpx.get(f"{gateway}/v1/requests/{request_id}", headers={"x-api-key": globex})
    assert theirs.status_code == 404  # not 403: another tenant's ids are not disclosed
    assert httpx.get(f"{gateway}/v1/requests/{request_id}", headers=admin).status_code == 200
    assert httpx.get(f"{gateway}/v1/requests/{request_id}").status_code == 401
    assert httpx.get(f"{gateway}/v1/requests/nope", headers=admin).status_code == 404


def test_a_streamed_responses_api_answer_carries_its_cost(
    audit: str, openai_upstream: FakeUpstream
) -> None:
    """POST /v1/responses streamed: the final response's usage has the cost too
    (1000 x 2.5 + 200 x 15 = 5500 µ$)."""
    openai_upstream.default = Reply(
        text="ok", usage=FakeUsage(input_tokens=1000, output_tokens=200)
    )
    events = list(oa(audit).responses.create(model="gpt-5.4", input="Hi", stream=True))
    final = events[-1]
    assert final.type == "response.completed"
    usage = final.response.usage
    assert usage is not None and (usage.model_extra or {})["cost"] == 0.0055
