"""The fake Anthropic upstream, checked with the official ``anthropic`` SDK pointed straight at
it: if the SDK parses what the fake sends, the fake is a fair stand-in for the real API."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

from tests.fakes import Fail, FakeUpstream, FakeUsage, Reply, ToolCall
from tests.fakes.fixtures import anthropic_upstream, fake_anthropic_server, make_upstream

__all__ = ["anthropic_upstream", "fake_anthropic_server", "make_upstream"]

MODEL = "claude-haiku-4-5-20251001"
HELLO = [{"role": "user", "content": "hello there"}]


def client(upstream: FakeUpstream, key: str = "k") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=upstream.url, api_key=key, max_retries=0, timeout=10)


def test_default_reply_echoes_the_last_user_text(anthropic_upstream: FakeUpstream) -> None:
    message = client(anthropic_upstream).messages.create(
        model=MODEL,
        max_tokens=50,
        messages=HELLO,
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: hello there"
    assert message.model == MODEL and message.role == "assistant"
    assert message.stop_reason == "end_turn" and message.id.startswith("msg_")
    sent = anthropic_upstream.last
    assert sent.path == "/v1/messages"
    # anthropic SDK 2.x sends the key as a bearer token; 0.x as x-api-key. Either is accepted.
    assert sent.header("x-api-key") == "k" or sent.header("authorization") == "Bearer k"
    assert sent.header("anthropic-version")
    assert sent.header("anthropic-beta") == "prompt-caching-2024-07-31"
    assert sent.json == {"model": MODEL, "max_tokens": 50, "messages": HELLO}


def test_scripted_usage_carries_the_cache_ttl_split(anthropic_upstream: FakeUpstream) -> None:
    anthropic_upstream.reply(
        "cached answer",
        usage=FakeUsage(
            input_tokens=12,
            output_tokens=3,
            cache_read=1000,
            cache_write_5m=200,
            cache_write_1h=300,
        ),
    )
    message = client(anthropic_upstream).messages.create(model=MODEL, max_tokens=50, messages=HELLO)
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (12, 3)
    assert usage.cache_read_input_tokens == 1000
    assert usage.cache_creation_input_tokens == 500
    assert usage.cache_creation is not None
    assert usage.cache_creation.ephemeral_5m_input_tokens == 200
    assert usage.cache_creation.ephemeral_1h_input_tokens == 300


def test_stream_sends_the_documented_event_sequence(anthropic_upstream: FakeUpstream) -> None:
    anthropic_upstream.script(
        Reply(
            text="four word answer here",
            thinking="let me think",
            tool_calls=(ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}),),
            usage=FakeUsage(input_tokens=7, output_tokens=42, cache_read=5),
        )
    )
    events = list(
        client(anthropic_upstream).messages.create(
            model=MODEL, max_tokens=2000, messages=HELLO, stream=True
        )
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    blocks = [(e.index, e.content_block.type) for e in events if e.type == "content_block_start"]
    assert blocks == [(0, "thinking"), (1, "text"), (2, "tool_use")]
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert deltas.count("signature_delta") == 1
    assert deltas.count("input_json_delta") >= 3  # arguments arrive in several pieces
    assert "thinking_delta" in deltas and "text_delta" in deltas
    assert events[0].message.usage.input_tokens == 7
    assert events[-2].usage.output_tokens == 42
    assert events[-2].delta.stop_reason == "tool_use"
    raw = anthropic_upstream.last.json
    assert raw["stream"] is True


def test_stream_helper_accumulates_text_tools_and_thinking(
    anthropic_upstream: FakeUpstream,
) -> None:
    args = {"query": "weather in Paris", "limit": 3, "nested": {"a": [1, 2]}}
    anthropic_upstream.script(
        Reply(
            text="Let me look.",
            thinking="The user wants weather.",
            tool_calls=[ToolCall("search", args, id="toolu_fixed")],
        )
    )
    with client(anthropic_upstream).messages.stream(
        model=MODEL,
        max_tokens=2000,
        messages=HELLO,
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Let me look."
    thinking, said, tool = final.content
    assert thinking.type == "thinking" and thinking.thinking == "The user wants weather."
    assert thinking.signature
    assert said.type == "text" and said.text == "Let me look."
    assert tool.type == "tool_use" and tool.id == "toolu_fixed" and tool.input == args
    assert final.stop_reason == "tool_use"


def test_tool_round_trip_is_accepted(anthropic_upstream: FakeUpstream) -> None:
    sdk = client(anthropic_upstream)
    tools = [
        {
            "name": "add",
            "description": "add",
            "input_schema": {"type": "object", "properties": {"a": {"type": "integer"}}},
        }
    ]
    anthropic_upstream.tool_call("add", {"a": 2})
    first = sdk.messages.create(model=MODEL, max_tokens=100, messages=HELLO, tools=tools)
    call = first.content[0]
    assert call.type == "tool_use"
    second = sdk.messages.create(
        model=MODEL,
        max_tokens=100,
        tools=tools,
        messages=[
            *HELLO,
            {"role": "assistant", "content": [call.model_dump()]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "4"}],
            },
        ],
    )
    assert second.content[0].text == "echo: 4"


async def test_async_client_streams(anthropic_upstream: FakeUpstream) -> None:
    anthropic_upstream.reply("async works", chunk_delay=0.01)
    sdk = anthropic.AsyncAnthropic(base_url=anthropic_upstream.url, api_key="k", max_retries=0)
    async with sdk.messages.stream(model=MODEL, max_tokens=10, messages=HELLO) as stream:
        pieces = [text async for text in stream.text_stream]
    assert "".join(pieces) == "async works" and len(pieces) == 2
    await sdk.close()


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (413, anthropic.ContentTooLargeError, "request_too_large"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (503, anthropic.ServiceUnavailableError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_scripted_errors_raise_the_sdk_exception(
    anthropic_upstream: FakeUpstream,
    status: int,
    error_class: type[Exception],
    error_type: str,
) -> None:
    anthropic_upstream.script(Fail(status, "scripted", retry_after=1))
    with pytest.raises(error_class) as caught:
        client(anthropic_upstream).messages.create(model=MODEL, max_tokens=5, messages=HELLO)
    error = caught.value
    assert isinstance(error, anthropic.APIStatusError) and error.status_code == status
    assert error.body["error"] == {"type": error_type, "message": "scripted"}
    assert error.response.headers["retry-after"] == "1"
    assert anthropic_upstream.pending == 0


def test_auth_and_version_headers_are_required(anthropic_upstream: FakeUpstream) -> None:
    url = anthropic_upstream.url + "/v1/messages"
    body = {"model": MODEL, "max_tokens": 5, "messages": HELLO}
    no_key = httpx.post(url, json=body, headers={"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "authentication_error"
    no_version = httpx.post(url, json=body, headers={"x-api-key": "k"})
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]


def test_a_configured_key_must_match(make_upstream: object) -> None:
    upstream = make_upstream("anthropic", api_key="right")  # type: ignore[operator]
    with pytest.raises(anthropic.AuthenticationError):
        client(upstream, "wrong").messages.create(model=MODEL, max_tokens=5, messages=HELLO)
    ok = client(upstream, "right").messages.create(model=MODEL, max_tokens=5, messages=HELLO)
    assert ok.content[0].text == "echo: hello there"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"temperature": 1.5}, "temperature"),
        ({"messages": [{"role": "system", "content": "x"}]}, "role"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_x", "content": "4"}
                        ],
                    }
                ]
            },
            "tool_use_id",
        ),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "budget_tokens"),
    ],
)
def test_requests_the_real_api_rejects_are_rejected(
    anthropic_upstream: FakeUpstream,
    change: dict[str, object],
    needle: str,
) -> None:
    body: dict[str, object] = {"model": MODEL, "max_tokens": 50, "messages": HELLO, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = httpx.post(
        anthropic_upstream.url + "/v1/messages",
        json=body,
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and needle in error["message"]


def test_count_tokens_and_models(anthropic_upstream: FakeUpstream) -> None:
    sdk = client(anthropic_upstream)
    counted = sdk.messages.count_tokens(model=MODEL, messages=HELLO, system="be brief")
    assert counted.input_tokens > 0
    assert anthropic_upstream.last.path == "/v1/messages/count_tokens"
    assert [m.id for m in sdk.models.list()] == anthropic_upstream.models


def test_error_event_mid_stream_raises(anthropic_upstream: FakeUpstream) -> None:
    anthropic_upstream.reply("a b c d e f", error_after=4)
    with pytest.raises(anthropic.APIStatusError) as caught:
        for _ in client(anthropic_upstream).messages.create(
            model=MODEL, max_tokens=50, messages=HELLO, stream=True
        ):
            pass
    assert "overloaded_error" in json.dumps(caught.value.body)
