"""Calling OpenAI-compatible upstreams: ChatRequest -> body, answers and errors -> core types,
and round trips through both halves of the format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tiergate.errors import ProviderError
from tiergate.types import (
    ChatRequest,
    ChatResponse,
    ImageBlock,
    Message,
    StopReason,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.openai import FORMAT

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}}


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def anthropic_style_request(**changes: Any) -> ChatRequest:
    """What an Anthropic-SDK client's request looks like once decoded."""
    fields: dict[str, Any] = {
        "model": "claude-alias",
        "system": [
            TextBlock("Be brief.", cache_control={"type": "ephemeral"}),
            TextBlock("No emoji."),
        ],
        "messages": [
            Message(
                "user",
                [
                    TextBlock("Look:"),
                    ImageBlock("base64", media_type="image/jpeg", data="/9j/4AAQ"),
                    ImageBlock("url", url="https://example.com/a.png"),
                ],
            ),
            Message(
                "assistant",
                [
                    ThinkingBlock("private", signature="sig"),
                    TextBlock("Calling."),
                    ToolUseBlock("toolu_1", "weather", {"city": "Oslo"}),
                    ToolUseBlock("toolu_2", "chart", {}),
                ],
            ),
            Message(
                "user",
                [
                    ToolResultBlock("toolu_1", [TextBlock("rain"), TextBlock("cold")]),
                    ToolResultBlock(
                        "toolu_2",
                        [
                            TextBlock("see image"),
                            ImageBlock("base64", media_type="image/png", data="iVBO"),
                        ],
                        is_error=False,
                    ),
                    TextBlock("and?"),
                ],
            ),
        ],
        "max_tokens": 512,
        "temperature": 0.5,
        "top_p": 0.8,
        "top_k": 40,
        "stop_sequences": ["\n\nHuman:"],
        "tools": [Tool("weather", "By city", WEATHER), Tool("chart")],
        "tool_choice": ToolChoice("tool", name="weather", disable_parallel_tool_use=True),
        "metadata": {"user_id": "u-1", "task": "chat"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "extra": {"anthropic_only": True},
        "source_format": "anthropic",
    }
    fields.update(changes)
    return ChatRequest(**fields)


def test_encode_request_from_an_anthropic_client() -> None:
    body = FORMAT.encode_request(anthropic_style_request(), "gpt-4o")
    assert body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief.\n\nNo emoji."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": "Calling.",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                    },
                    {
                        "id": "toolu_2",
                        "type": "function",
                        "function": {"name": "chart", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "rain\ncold"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": "see image"},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                    {"type": "text", "text": "and?"},
                ],
            },
        ],
        "max_completion_tokens": 512,
        "temperature": 0.5,
        "top_p": 0.8,
        "stop": ["\n\nHuman:"],
        "tools": [
            {
                "type": "function",
                "function": {"name": "weather", "description": "By city", "parameters": WEATHER},
            },
            {"type": "function", "function": {"name": "chart", "parameters": {"type": "object"}}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "parallel_tool_calls": False,
        "user": "u-1",
    }


def test_the_encoded_messages_and_tools_fit_the_sdk_param_types() -> None:
    """The SDK's TypedDicts, checked by pydantic (message and tool level; the SDK types parts
    as lazy Iterables, which pydantic does not look into, so parts are pinned by the test above).
    """
    from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
    from pydantic import TypeAdapter, ValidationError

    body = FORMAT.encode_request(anthropic_style_request(), "gpt-4o")
    messages = TypeAdapter(list[ChatCompletionMessageParam])
    messages.validate_python(body["messages"])
    TypeAdapter(list[ChatCompletionToolParam]).validate_python(body["tools"])
    with pytest.raises(ValidationError):  # the check has teeth
        messages.validate_python([{"role": "tool", "content": "no tool_call_id"}])


def test_stream_always_asks_for_usage() -> None:
    body = FORMAT.encode_request(anthropic_style_request(stream=True), "m")
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    extra = {"stream_options": {"include_usage": False}, "seed": 1}
    body = FORMAT.encode_request(
        anthropic_style_request(stream=True, source_format="openai", extra=extra), "m"
    )
    assert body["stream_options"] == {"include_usage": True} and body["seed"] == 1


def test_extra_is_forwarded_only_to_the_same_format() -> None:
    assert "anthropic_only" not in FORMAT.encode_request(anthropic_style_request(), "m")
    body = FORMAT.encode_request(
        anthropic_style_request(source_format="openai", extra={"seed": 3, "logprobs": True}), "m"
    )
    assert body["seed"] == 3 and body["logprobs"] is True


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (ToolChoice("auto"), "auto"),
        (ToolChoice("any"), "required"),
        (ToolChoice("none"), "none"),
        (ToolChoice("tool", name="f"), {"type": "function", "function": {"name": "f"}}),
    ],
)
def test_tool_choice_back(choice: ToolChoice, expected: Any) -> None:
    body = FORMAT.encode_request(anthropic_style_request(tool_choice=choice), "m")
    assert body["tool_choice"] == expected
    assert "parallel_tool_calls" not in body


def test_assistant_with_only_thinking_sends_empty_content_not_null() -> None:
    request = anthropic_style_request(
        messages=[Message("user", [TextBlock("q")]), Message("assistant", [ThinkingBlock("t")])],
        tools=[],
    )
    assert FORMAT.encode_request(request, "m")["messages"][-1] == {
        "role": "assistant",
        "content": "",
    }


def test_round_trip_request_through_the_client_decoder() -> None:
    """decode_request(encode_request(x)) == x for everything Chat Completions can carry."""
    request = ChatRequest(
        model="gpt-4o",
        system=[TextBlock("sys")],
        messages=[
            Message(
                "user", [TextBlock("hi"), ImageBlock("base64", media_type="image/png", data="AA==")]
            ),
            Message(
                "assistant",
                [TextBlock("calling"), ToolUseBlock("c1", "f", {"a": [1, {"b": None}]})],
            ),
            Message("user", [ToolResultBlock("c1", [TextBlock("r1")])]),
            Message("assistant", [ToolUseBlock("c2", "f", {}), ToolUseBlock("c3", "g", {"x": 1})]),
            Message(
                "user",
                [
                    ToolResultBlock("c2", [TextBlock("r2")]),
                    ToolResultBlock("c3", [TextBlock("r3")]),
                ],
            ),
            Message("user", [TextBlock("thanks"), ImageBlock("url", url="https://x.io/i.png")]),
        ],
        max_tokens=100,
        temperature=0.0,
        top_p=1.0,
        stop_sequences=["a", "b"],
        tools=[Tool("f", "does f", WEATHER), Tool("g", None, {"type": "object"})],
        tool_choice=ToolChoice("any", disable_parallel_tool_use=True),
        metadata={"user_id": "u"},
        stream=True,
        stream_include_usage=True,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        extra={"seed": 5, "frequency_penalty": 0.1},
        source_format="openai",
    )
    assert FORMAT.decode_request(FORMAT.encode_request(request, "gpt-4o")) == request


def test_round_trip_client_body_through_core() -> None:
    """A client body the decoder accepts comes back out unchanged in everything it said."""
    body = load("request_full.json")
    first = FORMAT.decode_request(body)
    again = FORMAT.encode_request(first, body["model"])
    second = FORMAT.decode_request(again)
    # system messages join into one; metadata other than user_id stays in the gateway
    first.system = [TextBlock("You are terse.\n\nUse tools when asked.")]
    first.metadata = {"user_id": "u-42"}
    assert second == first
    assert again["seed"] == 7 and again["reasoning_effort"] == "low"
    assert again["stream_options"] == {"include_usage": True}


def test_round_trip_response() -> None:
    """decode_response(encode_response(x)) == x for everything a chat.completion can carry."""
    response = ChatResponse(
        id="chatcmpl-1",
        model="gpt-4o",
        content=[
            TextBlock("answer"),
            ToolUseBlock("call_1", "f", {"q": "é"}),
            ToolUseBlock("call_2", "g", {}),
        ],
        stop_reason="tool_use",
        usage=Usage(input_tokens=7, output_tokens=3, cache_read_input_tokens=64),
    )
    assert FORMAT.decode_response(FORMAT.encode_response(response, "gpt-4o")) == response
    stops: list[StopReason] = ["end_turn", "max_tokens", "refusal"]
    for stop in stops:
        plain = ChatResponse(id="chatcmpl-2", model="m", content=[TextBlock("x")], stop_reason=stop)
        assert FORMAT.decode_response(FORMAT.encode_response(plain, "m")) == plain


def test_decode_response_tool_calls_and_cached_usage() -> None:
    response = FORMAT.decode_response(load("response_tool_calls.json"))
    assert response.id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
    assert response.model == "gpt-4o-2024-08-06"
    assert response.stop_reason == "tool_use"
    assert response.content == [
        ToolUseBlock("call_1", "weather", {"city": "Oslo"}),
        ToolUseBlock("call_2", "weather", {"_raw": '{"city": "Ro'}),
    ]
    # the answer's top-level service_tier goes with its usage: the price depends on it
    assert response.usage == Usage(
        input_tokens=93, output_tokens=46, cache_read_input_tokens=1024, service_tier="default"
    )
    assert response.usage.total_input() == 1117


def test_decode_response_deepseek_reasoning_and_cache_hits() -> None:
    response = FORMAT.decode_response(load("response_deepseek.json"))
    assert response.content == [
        ThinkingBlock("Compare 9.11 and 9.8..."),
        TextBlock("9.11 is smaller."),
    ]
    assert response.stop_reason == "max_tokens"
    assert response.usage == Usage(
        input_tokens=4, output_tokens=300, cache_read_input_tokens=16, reasoning_tokens=280
    )


def test_decode_response_tolerates_vendor_variants() -> None:
    body = {
        "id": "x",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "reasoning": "thought",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                    "tool_calls": [
                        {"type": "function", "function": {"name": "f", "arguments": {"k": 1}}}
                    ],
                },
                "finish_reason": None,
            }
        ],
    }
    response = FORMAT.decode_response(body)
    assert response.content == [
        ThinkingBlock("thought"),
        TextBlock("ab"),
        ToolUseBlock("call_0", "f", {"k": 1}),
    ]
    assert response.stop_reason == "end_turn"
    assert response.usage == Usage()


def test_decode_response_refusal() -> None:
    body = {
        "id": "x",
        "choices": [
            {"message": {"content": None, "refusal": "Can't help."}, "finish_reason": "stop"}
        ],
    }
    response = FORMAT.decode_response(body)
    assert response.content == [TextBlock("Can't help.")]
    assert response.stop_reason == "refusal"
    assert response.refusal == "Can't help."  # OpenAI's own field, kept for OpenAI clients


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"choices": []},
        {"choices": ["x"]},
        {"choices": [{"message": "hi"}]},
        {"choices": [{"message": {"content": 5}}]},
        {"choices": [{"message": {"tool_calls": {"id": 1}}}]},
        {"choices": [{"message": {"tool_calls": [{"function": {"arguments": "{}"}}]}}]},
    ],
)
def test_malformed_upstream_bodies_are_502_not_retryable(body: Any) -> None:
    with pytest.raises(ProviderError) as caught:
        FORMAT.decode_response(body)
    assert caught.value.status == 502
    assert caught.value.retryable is False
    assert caught.value.provider == "openai"


# --- errors ----------------------------------------------------------------------------------


def test_decode_error_openai_body_and_retry_after() -> None:
    body = (
        b'{"error": {"message": "Rate limit reached", "type": "requests", "param": null,'
        b' "code": "rate_limit_exceeded"}}'
    )
    error = FORMAT.decode_error(429, {"retry-after": "7"}, body, "openai-main")
    assert error.status == 429
    assert error.kind == "rate_limit_error"
    assert error.retryable is True
    assert error.retry_after == 7.0
    assert error.provider == "openai-main"
    assert "Rate limit reached" in error.message


def test_retry_after_ms_wins_and_header_case_is_ignored() -> None:
    error = FORMAT.decode_error(503, {"Retry-After-Ms": "250", "Retry-After": "3"}, b"", "p")
    assert error.retry_after == 0.25
    assert error.retryable is True
    assert "HTTP 503" in error.message


@pytest.mark.parametrize(
    ("status", "body", "message", "kind"),
    [
        (
            404,
            b'{"error": "model \\"llama3\\" not found, try pulling it first"}',
            "not found",
            "not_found_error",
        ),
        (422, b'{"detail": "field required"}', "field required", "invalid_request_error"),
        (
            400,
            b'{"object": "error", "message": "too long", "type": "BadRequestError", "code": 400}',
            "too long",
            "invalid_request_error",
        ),
        (502, b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>", "api_error"),
        (
            400,
            b'{"error": {"message": "ctx", "code": "context_length_exceeded"}}',
            "ctx",
            "invalid_request_error",
        ),
        (500, b"[1, 2]", "[1, 2]", "api_error"),
    ],
)
def test_decode_error_tolerates_other_bodies(
    status: int, body: bytes, message: str, kind: str
) -> None:
    error = FORMAT.decode_error(status, {}, body, "p")
    assert error.status == status
    assert message in error.message
    assert error.kind == kind
    assert error.retry_after is None


def test_decode_error_cuts_long_text_bodies() -> None:
    error = FORMAT.decode_error(500, {}, b"x" * 5000, "p")
    assert len(error.message) < 600


def test_a_strict_tool_stays_strict_from_an_openai_client_to_an_openai_upstream() -> None:
    """``function.strict`` (what ``openai.pydantic_function_tool`` sets) makes the model follow
    the schema exactly; dropping it lets the SDK's strict parsing fail at random."""
    from tiergate.wire.openai import FORMAT as OPENAI

    function = {"name": "lookup", "strict": True, "parameters": {"type": "object"}}
    request = OPENAI.decode_request(
        {
            "model": "gpt-5.4",
            "messages": [{"role": "user", "content": "find it"}],
            "tools": [{"type": "function", "function": function}],
        }
    )
    body = OPENAI.encode_request(request, "gpt-5.4")
    assert body["tools"][0]["function"]["strict"] is True
    plain = OPENAI.decode_request(
        {
            "model": "gpt-5.4",
            "messages": [{"role": "user", "content": "find it"}],
            "tools": [{"type": "function", "function": {"name": "lookup"}}],
        }
    )
    assert "strict" not in OPENAI.encode_request(plain, "gpt-5.4")["tools"][0]["function"]
