"""Calling direction: ``ChatRequest`` -> Messages body, and upstream answers/errors -> core.

Every encoded body is also run through ``tests.fakes.anthropic_checks``, the validation the
real API performs (written from the API reference, not from this code)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.anthropic_checks import check_messages_request
from tiergate.errors import ProviderError
from tiergate.types import (
    ChatRequest,
    ImageBlock,
    Message,
    OpaqueBlock,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.anthropic import FORMAT

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"


def load(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def encode(request: ChatRequest, model: str = "claude-haiku-4-5") -> dict[str, Any]:
    body = FORMAT.encode_request(request, model)
    assert check_messages_request(body) is None, check_messages_request(body)
    return body


def user(*blocks: Any) -> Message:
    return Message("user", list(blocks))


def assistant(*blocks: Any) -> Message:
    return Message("assistant", list(blocks))


def test_round_trip_of_an_anthropic_request_is_lossless() -> None:
    body = load("client_request.json")
    again = encode(FORMAT.decode_request(body), body["model"])
    assert again == body


def test_round_trip_adds_only_normal_forms() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "metadata": {},
    }
    assert encode(FORMAT.decode_request(body), "upstream-m") == {
        "model": "upstream-m",
        "max_tokens": 10,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "stream": True,
    }


def test_defaults_and_merging_of_same_role_messages() -> None:
    request = ChatRequest(
        model="x",
        messages=[
            user(TextBlock("one")),
            user(TextBlock("two")),
            assistant(TextBlock("three")),
            assistant(TextBlock("four")),
            user(TextBlock("five")),
        ],
    )
    body = encode(request)
    assert body["max_tokens"] == 4096
    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "three"}, {"type": "text", "text": "four"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "five"}]},
    ]
    assert "stream" not in body and "system" not in body and "tools" not in body


def test_openai_shaped_conversation_becomes_a_valid_messages_body() -> None:
    """What the OpenAI decoder produces for assistant tool_calls followed by two ``tool``
    messages and a user text: separate user messages, text possibly before results."""
    request = ChatRequest(
        model="x",
        system=[TextBlock("sys", {"type": "ephemeral"})],
        messages=[
            user(TextBlock("weather in Paris and Rome?")),
            assistant(
                ThinkingBlock("unsigned local reasoning"),
                ToolUseBlock("call_1", "weather", {"city": "Paris"}),
                ToolUseBlock("call_2", "weather", {"city": "Rome"}),
            ),
            user(TextBlock("also, be quick")),
            user(ToolResultBlock("call_1", [TextBlock("18C")])),
            user(ToolResultBlock("call_2", [], is_error=True)),
        ],
        tools=[Tool("weather", "Weather", {"type": "object", "properties": {}})],
        tool_choice=ToolChoice("tool", "weather", disable_parallel_tool_use=True),
        temperature=1.7,
        stop_sequences=["###"],
        metadata={"user_id": 42, "team": "search"},
        extra={"logit_bias": {"1": 2}, "seed": 7},
        source_format="openai",
    )
    body = encode(request)
    assert body["system"] == [
        {"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"][1] == {
        "role": "assistant",
        "content": [
            {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}},
        ],
    }
    assert body["messages"][2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "call_1",
                "content": [{"type": "text", "text": "18C"}],
            },
            {"type": "tool_result", "tool_use_id": "call_2", "is_error": True},
            {"type": "text", "text": "also, be quick"},
        ],
    }
    assert len(body["messages"]) == 3
    assert body["tool_choice"] == {
        "type": "tool",
        "name": "weather",
        "disable_parallel_tool_use": True,
    }
    assert body["temperature"] == 1.0
    assert body["stop_sequences"] == ["###"]
    assert body["metadata"] == {"user_id": "42"}
    for absent in ("response_format", "output_config", "logit_bias", "seed", "team"):
        assert absent not in body


def test_thinking_blocks_kept_only_when_signed_or_redacted() -> None:
    request = ChatRequest(
        model="x",
        messages=[
            user(TextBlock("q")),
            assistant(
                ThinkingBlock("signed", "sig"),
                ThinkingBlock("", None),
                ThinkingBlock("opaque", redacted=True),
                TextBlock("a"),
            ),
            user(TextBlock("q2")),
        ],
        thinking={"type": "enabled", "budget_tokens": 2000},
        max_tokens=3000,
    )
    body = encode(request)
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "signed", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "a"},
    ]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}


def test_a_message_left_empty_is_dropped_and_neighbours_merge() -> None:
    request = ChatRequest(
        model="x",
        messages=[user(TextBlock("a")), assistant(ThinkingBlock("unsigned")), user(TextBlock("b"))],
    )
    assert encode(request)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_images_both_sources_and_inside_tool_results() -> None:
    png = ImageBlock("base64", media_type="image/png", data="iVBORw0KGgo=")
    url = ImageBlock("url", url="https://x.test/a.jpg", cache_control={"type": "ephemeral"})
    request = ChatRequest(
        model="x",
        messages=[
            user(png, url),
            assistant(ToolUseBlock("t", "shot", {})),
            user(ToolResultBlock("t", [TextBlock("here"), png])),
        ],
    )
    body = encode(request)
    png_json = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert body["messages"][0]["content"] == [
        png_json,
        {
            "type": "image",
            "source": {"type": "url", "url": "https://x.test/a.jpg"},
            "cache_control": {"type": "ephemeral"},
        },
    ]
    assert body["messages"][2]["content"][0]["content"] == [
        {"type": "text", "text": "here"},
        png_json,
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (ToolChoice("auto"), {"type": "auto"}),
        (ToolChoice("any", None, True), {"type": "any", "disable_parallel_tool_use": True}),
        (ToolChoice("none", None, True), {"type": "none"}),
        (ToolChoice("tool", "f"), {"type": "tool", "name": "f"}),
    ],
)
def test_tool_choice_mapping(choice: ToolChoice, expected: dict[str, Any]) -> None:
    request = ChatRequest(
        model="x", messages=[user(TextBlock("q"))], tools=[Tool("f")], tool_choice=choice
    )
    body = encode(request)
    assert body["tool_choice"] == expected
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]


def test_tool_choice_without_tools_is_not_sent() -> None:
    request = ChatRequest(model="x", messages=[user(TextBlock("q"))], tool_choice=ToolChoice("any"))
    assert "tool_choice" not in encode(request)


def test_server_tools_forwarded_only_to_anthropic_sources() -> None:
    search = {"type": "web_search_20250305", "name": "web_search"}
    request = ChatRequest(
        model="x",
        messages=[user(TextBlock("q"))],
        extra={"server_tools": [search]},
        source_format="openai",
    )
    assert "tools" not in encode(request)
    request.source_format = "anthropic"
    assert encode(request)["tools"] == [search]


# --- responses ---------------------------------------------------------------------------------


def test_decode_response_fixture() -> None:
    response = FORMAT.decode_response(load("upstream_response.json"))
    assert response.id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert response.model == "claude-sonnet-4-6"
    # server tool blocks have no core type: kept as given (an Anthropic client gets them back,
    # as it must to continue the turn); everything is kept in order
    body = load("upstream_response.json")
    opaque = [OpaqueBlock(b) for b in body["content"] if b["type"].startswith(("server", "web"))]
    assert [b for b in response.content if not isinstance(b, OpaqueBlock)] == [
        ThinkingBlock("The user wants the weather.", "EqQBCgIYAhIM1gbcDa9GJwZA"),
        ThinkingBlock("EmwKAhgBEgy3va3pzix/LafPsn4a", redacted=True),
        TextBlock("Let me check."),
        ToolUseBlock("toolu_01A", "get_weather", {"city": "Paris"}),
    ]
    assert [b for b in response.content if isinstance(b, OpaqueBlock)] == opaque and opaque
    assert response.stop_reason == "tool_use" and response.stop_sequence is None
    assert response.usage == Usage(
        input_tokens=120,
        output_tokens=80,
        cache_creation_input_tokens=3000,
        cache_read_input_tokens=500,
        cache_creation_5m=1000,
        cache_creation_1h=2000,
        # priced too: the tier served on and the server-tool calls (the search's fee)
        service_tier="standard",
        web_search_requests=1,
    )


def test_decode_usage_reads_every_priced_field() -> None:
    """What Anthropic's usage block reports that changes the price (tiergate/cost/engine.py)."""
    usage = FORMAT.decode_response(
        {
            "id": "m",
            "model": "m",
            "content": [],
            "stop_reason": "end_turn",
            "usage": {
                "input_tokens": 1,
                "output_tokens": 2,
                "inference_geo": "us",
                "speed": "fast",
                "service_tier": "priority",
                "server_tool_use": {
                    "web_search_requests": 3,
                    "web_fetch_requests": 2,
                    "code_execution_requests": 1,
                },
            },
        }
    ).usage
    assert (usage.inference_geo, usage.speed, usage.service_tier) == ("us", "fast", "priority")
    assert usage.server_tool_calls() == {"web_search": 3, "web_fetch": 2, "code_execution": 1}


def test_decode_response_without_ttl_split_leaves_it_unknown() -> None:
    body = {
        "id": "msg_1",
        "model": "m",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 1, "cache_creation_input_tokens": 9},
    }
    usage = FORMAT.decode_response(body).usage
    assert (usage.cache_creation_5m, usage.cache_creation_1h) == (None, None)
    assert usage.cache_writes_by_ttl() == (9, 0)


@pytest.mark.parametrize(
    ("raw", "core"),
    [
        ("max_tokens", "max_tokens"),
        ("refusal", "refusal"),
        ("pause_turn", "pause_turn"),
        ("model_context_window_exceeded", "max_tokens"),
        ("brand_new_reason", "end_turn"),
        (None, None),
    ],
)
def test_decode_response_stop_reasons(raw: str | None, core: str | None) -> None:
    body: dict[str, Any] = {"id": "m", "content": [], "stop_reason": raw, "usage": {}}
    assert FORMAT.decode_response(body).stop_reason == core


def test_encode_then_decode_response_round_trip() -> None:
    from tiergate.types import ChatResponse

    original = ChatResponse(
        id="msg_rt",
        model="claude-sonnet-4-6",
        content=[ThinkingBlock("t", "s"), TextBlock("x"), ToolUseBlock("t1", "f", {"a": 1})],
        stop_reason="stop_sequence",
        stop_sequence="END",
        usage=Usage(1, 2, 30, 4, cache_creation_5m=10, cache_creation_1h=20),
    )
    assert FORMAT.decode_response(FORMAT.encode_response(original, original.model)) == original


@pytest.mark.parametrize("body", [None, [], {"id": "x"}, {"content": "text"}])
def test_decode_response_rejects_a_body_without_content(body: Any) -> None:
    with pytest.raises(ProviderError) as caught:
        FORMAT.decode_response(body)
    assert caught.value.status == 502 and caught.value.retryable


# --- errors ------------------------------------------------------------------------------------


def test_decode_error_overloaded() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    error = FORMAT.decode_error(529, {"retry-after": "7"}, body, "anthropic-eu")
    assert (error.status, error.kind, error.retry_after) == (529, "overloaded_error", 7.0)
    assert error.retryable and error.provider == "anthropic-eu"
    assert "Overloaded" in error.message and "anthropic-eu" in error.message


def test_decode_error_invalid_request_is_not_retryable() -> None:
    body = b'{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: bad"}}'
    error = FORMAT.decode_error(400, {}, body, "p")
    assert (error.status, error.kind, error.retryable) == (400, "invalid_request_error", False)
    assert error.retry_after is None


def test_decode_error_tolerates_non_json_and_header_case() -> None:
    error = FORMAT.decode_error(502, {"Retry-After": "3"}, b"<html>Bad Gateway</html>", "p")
    assert error.status == 502 and error.kind == "api_error" and error.retryable
    assert error.retry_after == 3.0
    assert "Bad Gateway" in error.message
    empty = FORMAT.decode_error(429, {"retry-after-ms": "1500"}, b"", "p")
    assert empty.kind == "rate_limit_error" and empty.retry_after == 1.5
    assert "HTTP 429" in empty.message
    odd = FORMAT.decode_error(500, {}, b'{"error": "flat string"}', "p")
    assert odd.kind == "api_error"


def test_empty_text_from_an_openai_client_never_reaches_the_messages_api() -> None:
    """A tool that printed nothing, an empty system prompt or assistant turn: OpenAI accepts
    ``""`` in each, the Messages API refuses an empty text block anywhere."""
    from tiergate.wire.openai import FORMAT as OPENAI

    request = OPENAI.decode_request(
        {
            "model": "claude-haiku-4-5",
            "messages": [
                {"role": "system", "content": ""},
                {"role": "user", "content": "run it"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "sh", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": ""},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "and now?"},
            ],
        }
    )
    body = encode(request)  # passes the API's own checks
    assert "system" not in body
    assert body["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "call_1"}
    texts = [b["text"] for m in body["messages"] for b in m["content"] if b["type"] == "text"]
    assert texts == ["run it", "and now?"]
