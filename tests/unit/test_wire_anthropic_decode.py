"""Serving direction, request side: an Anthropic Messages body -> ``ChatRequest``."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tiergate.errors import InvalidRequest
from tiergate.types import (
    ChatRequest,
    ImageBlock,
    OpaqueBlock,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)
from tiergate.wire.anthropic import FORMAT

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"


def full_request() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "client_request.json").read_text())
    return body


def minimal(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    body.update(overrides)
    return body


def decode(body: Any) -> ChatRequest:
    return FORMAT.decode_request(body)


def test_format_identity() -> None:
    assert FORMAT.name == "anthropic"
    assert FORMAT.request_path == "/v1/messages"
    assert FORMAT.auth_headers("sk-ant-1") == {
        "x-api-key": "sk-ant-1",
        "anthropic-version": "2023-06-01",
    }
    assert FORMAT.auth_headers(None) == {"anthropic-version": "2023-06-01"}


def test_minimal_request() -> None:
    request = decode(minimal())
    assert request.model == "claude-haiku-4-5"
    assert request.max_tokens == 100
    assert [m.role for m in request.messages] == ["user"]
    assert request.messages[0].content == [TextBlock("hi")]
    assert request.system == []
    assert request.tools == [] and request.tool_choice is None
    assert request.stream is False
    assert request.extra == {}
    assert request.source_format == "anthropic"


def test_full_request_maps_every_field() -> None:
    request = decode(full_request())
    assert request.system == [
        TextBlock("You are terse."),
        TextBlock("Answer in English.", {"type": "ephemeral", "ttl": "1h"}),
    ]
    first, second, third, fourth, fifth = request.messages
    text, b64, url = first.content
    assert text == TextBlock("What is in these pictures, and what is the weather in Paris?")
    assert isinstance(b64, ImageBlock) and b64.source_type == "base64"
    assert b64.media_type == "image/png" and b64.data and b64.url is None
    assert url == ImageBlock(
        "url", url="https://example.com/cat.jpg", cache_control={"type": "ephemeral"}
    )
    assert second.role == "assistant"
    assert second.content == [
        ThinkingBlock("I need the weather tool.", "EqQBCkgIARABGAIiQL"),
        ThinkingBlock("EmwKAhgBEgy3va3pzix", None, redacted=True),
        TextBlock("Checking."),
        ToolUseBlock("toolu_01A", "get_weather", {"city": "Paris", "unit": "celsius"}),
    ]
    assert third.content == [
        ToolResultBlock("toolu_01A", [TextBlock("18C, sunny")], False, {"type": "ephemeral"}),
        TextBlock("Thanks. Now summarise."),
    ]
    assert fourth.content == [ToolUseBlock("toolu_01B", "get_weather", {"city": "Lyon"})]
    assert fifth.content == [ToolResultBlock("toolu_01B", [TextBlock("unknown city")], True)]
    assert request.tools == [
        Tool(
            "get_weather",
            "Current weather for a city.",
            full_request()["tools"][0]["input_schema"],
            {"type": "ephemeral"},
        )
    ]
    assert request.tool_choice == ToolChoice("auto", None, disable_parallel_tool_use=True)
    assert request.stop_sequences == ["\n\nHuman:"]
    assert (request.temperature, request.top_p, request.top_k) == (0.5, 0.9, 40)
    assert request.metadata == {"user_id": "user-123"}
    assert request.thinking == {"type": "enabled", "budget_tokens": 1024}
    assert request.extra == {
        "service_tier": "auto",
        "server_tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
    }
    assert request.has_images()


def test_system_string_and_empty_string() -> None:
    assert decode(minimal(system="Be brief.")).system == [TextBlock("Be brief.")]
    assert decode(minimal(system="")).system == []


def test_tool_result_string_content_image_content_and_no_content() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}}
    messages = [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                {"type": "tool_use", "id": "t2", "name": "f", "input": {}},
                {"type": "tool_use", "id": "t3", "name": "f"},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "plain"},
                {"type": "tool_result", "tool_use_id": "t2", "content": [image]},
                {"type": "tool_result", "tool_use_id": "t3"},
            ],
        },
    ]
    request = decode(minimal(messages=messages))
    assert request.messages[0].content[2] == ToolUseBlock("t3", "f", {})
    plain, with_image, empty = request.messages[1].content
    assert plain == ToolResultBlock("t1", [TextBlock("plain")])
    assert with_image == ToolResultBlock("t2", [ImageBlock("url", url="https://x.test/a.png")])
    assert empty == ToolResultBlock("t3", [])
    assert request.has_images()


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, ToolChoice("auto")),
        ({"type": "any"}, ToolChoice("any")),
        ({"type": "none"}, ToolChoice("none")),
        ({"type": "tool", "name": "f"}, ToolChoice("tool", "f")),
        ({"type": "any", "disable_parallel_tool_use": True}, ToolChoice("any", None, True)),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: ToolChoice) -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    assert decode(minimal(tools=tools, tool_choice=choice)).tool_choice == expected


def test_custom_typed_tool_is_a_client_tool() -> None:
    tools = [{"type": "custom", "name": "f", "input_schema": {"type": "object"}}]
    request = decode(minimal(tools=tools))
    assert request.tools == [Tool("f", None, {"type": "object"})]
    assert "server_tools" not in request.extra


def test_stream_and_unknown_fields() -> None:
    request = decode(minimal(stream=True, container="c1", mcp_servers=[{"name": "m"}]))
    assert request.stream is True and request.stream_include_usage is True
    assert request.extra == {"container": "c1", "mcp_servers": [{"name": "m"}]}


def test_integer_temperature_is_a_number() -> None:
    assert decode(minimal(temperature=1)).temperature == 1.0


def test_decoding_does_not_mutate_the_body() -> None:
    body = full_request()
    before = copy.deepcopy(body)
    decode(body)
    assert body == before


def _message(content: Any, role: str = "user") -> dict[str, Any]:
    return minimal(messages=[{"role": role, "content": content}])


BAD_IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}
INVALID: list[tuple[Any, str]] = [
    ([1, 2], ""),
    ("text", ""),
    ({"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}, "model"),
    (minimal(model=""), "model"),
    (minimal(model=7), "model"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    (minimal(max_tokens=0), "max_tokens"),
    (minimal(max_tokens="100"), "max_tokens"),
    (minimal(max_tokens=True), "max_tokens"),
    (minimal(max_tokens=1.5), "max_tokens"),
    ({"model": "m", "max_tokens": 5}, "messages"),
    (minimal(messages=[]), "messages"),
    (minimal(messages={"role": "user"}), "messages"),
    (minimal(messages=["hi"]), "messages[0]"),
    (minimal(messages=[{"role": "system", "content": "x"}]), "messages[0].role"),
    (minimal(messages=[{"role": "tool", "content": "x"}]), "messages[0].role"),
    (minimal(messages=[{"content": "x"}]), "messages[0].role"),
    (_message(None), "messages[0].content"),
    (_message(42), "messages[0].content"),
    (_message(["hi"]), "messages[0].content[0]"),
    (_message([{"type": "document", "source": {}}]), "messages[0].content[0].source.type"),
    (_message([{"type": "document"}]), "messages[0].content[0].source"),
    (
        _message([{"type": "document", "source": {"type": "base64", "data": "JVBE"}}]),
        "messages[0].content[0].source.media_type",
    ),
    (
        _message([{"type": "document", "source": {"type": "url"}}]),
        "messages[0].content[0].source.url",
    ),
    (
        _message([{"type": "document", "source": {"type": "text"}}]),
        "messages[0].content[0].source.data",
    ),
    (
        minimal(
            messages=[{"role": "user", "content": "x"}, {"role": "system", "content": [BAD_IMAGE]}]
        ),
        "messages[1].content[0].source",
    ),
    (
        minimal(
            messages=[
                {"role": "user", "content": "x"},
                {
                    "role": "system",
                    "content": [
                        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
                    ],
                },
            ]
        ),
        "messages[1].content[0]",
    ),
    (
        minimal(tools=[{"name": "f", "input_schema": {"type": "object"}, "strict": "yes"}]),
        "tools[0].strict",
    ),
    (minimal(output_config={"format": {"type": "json_object"}}), "output_config.format.type"),
    (minimal(output_config={"format": {"type": "json_schema"}}), "output_config.format.schema"),
    (minimal(output_format={"type": "json_schema", "schema": []}), "output_format.schema"),
    (minimal(output_config="json"), "output_config"),
    (_message([{"text": "no type"}]), "messages[0].content[0].type"),
    (_message([{"type": "text"}]), "messages[0].content[0].text"),
    (_message([{"type": "text", "text": 3}]), "messages[0].content[0].text"),
    (
        _message([{"type": "text", "text": "a", "cache_control": "yes"}]),
        "messages[0].content[0].cache_control",
    ),
    (_message([{"type": "image"}]), "messages[0].content[0].source"),
    (_message([BAD_IMAGE]), "messages[0].content[0].source"),
    (
        _message([{"type": "image", "source": {"type": "file", "file_id": "f"}}]),
        "messages[0].content[0].source.type",
    ),
    (_message([{"type": "image", "source": {"type": "url"}}]), "messages[0].content[0].source.url"),
    (
        _message([{"type": "tool_use", "name": "f", "input": {}}], "assistant"),
        "messages[0].content[0].id",
    ),
    (
        _message([{"type": "tool_use", "id": "t", "input": {}}], "assistant"),
        "messages[0].content[0].name",
    ),
    (
        _message([{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}], "assistant"),
        "messages[0].content[0].input",
    ),
    (_message([{"type": "tool_result", "content": "x"}]), "messages[0].content[0].tool_use_id"),
    (
        _message([{"type": "tool_result", "tool_use_id": "", "content": "x"}]),
        "messages[0].content[0].tool_use_id",
    ),
    (
        _message([{"type": "tool_result", "tool_use_id": "t", "content": 5}]),
        "messages[0].content[0].content",
    ),
    (
        _message(
            [
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": [{"type": "tool_use", "id": "x", "name": "f", "input": {}}],
                }
            ]
        ),
        "messages[0].content[0].content[0]",
    ),
    (
        _message([{"type": "tool_result", "tool_use_id": "t", "is_error": "yes"}]),
        "messages[0].content[0].is_error",
    ),
    (
        _message([{"type": "thinking", "signature": "s"}], "assistant"),
        "messages[0].content[0].thinking",
    ),
    (
        _message([{"type": "thinking", "thinking": "t", "signature": 1}], "assistant"),
        "messages[0].content[0].signature",
    ),
    (_message([{"type": "redacted_thinking"}], "assistant"), "messages[0].content[0].data"),
    (minimal(system=5), "system"),
    (minimal(system=[{"type": "image", "source": {"type": "url", "url": "u"}}]), "system[0]"),
    (minimal(system=[{"type": "text"}]), "system[0].text"),
    (minimal(stream="yes"), "stream"),
    (minimal(temperature="hot"), "temperature"),
    (minimal(temperature=True), "temperature"),
    (minimal(top_p=[1]), "top_p"),
    (minimal(top_k=2.5), "top_k"),
    (minimal(top_k=True), "top_k"),
    (minimal(stop_sequences="stop"), "stop_sequences"),
    (minimal(stop_sequences=["a", 1]), "stop_sequences"),
    (minimal(metadata="m"), "metadata"),
    (minimal(thinking=True), "thinking"),
    (minimal(tools={"name": "f"}), "tools"),
    (minimal(tools=["f"]), "tools[0]"),
    (minimal(tools=[{"input_schema": {}}]), "tools[0].name"),
    (minimal(tools=[{"name": "f"}]), "tools[0].input_schema"),
    (minimal(tools=[{"name": "f", "input_schema": "{}"}]), "tools[0].input_schema"),
    (minimal(tools=[{"name": "f", "input_schema": {}, "description": 1}]), "tools[0].description"),
    (
        minimal(tools=[{"name": "f", "input_schema": {}, "cache_control": 1}]),
        "tools[0].cache_control",
    ),
    (minimal(tool_choice="auto"), "tool_choice.type"),
    (minimal(tool_choice={"type": "required"}), "tool_choice.type"),
    (minimal(tool_choice={"type": "tool"}), "tool_choice.name"),
    (
        minimal(tool_choice={"type": "auto", "disable_parallel_tool_use": "no"}),
        "tool_choice.disable_parallel_tool_use",
    ),
]


@pytest.mark.parametrize(("body", "param"), INVALID)
def test_invalid_requests_name_the_field(body: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(body)
    error = caught.value
    assert error.status == 400 and error.kind == "invalid_request_error"
    if param:
        assert error.param == param
        assert error.message.startswith(f"{param}: ")
    else:
        assert "JSON object" in error.message


def test_nested_error_in_a_later_message_names_its_path() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": [{"type": "text", "text": "c"}, {"type": "image"}]},
    ]
    with pytest.raises(InvalidRequest) as caught:
        decode(minimal(messages=messages))
    assert caught.value.param == "messages[2].content[1].source"


def test_blocks_without_a_core_type_are_kept_as_given() -> None:
    block = {
        "type": "search_result",
        "source": "https://x.test",
        "title": "t",
        "content": [{"type": "text", "text": "r"}],
    }
    request = decode(minimal(messages=[{"role": "user", "content": [block]}]))
    assert request.messages[0].content == [OpaqueBlock(block)]
    with pytest.raises(InvalidRequest) as caught:
        decode(minimal(messages=[{"role": "user", "content": [{"type": ""}]}]))
    assert caught.value.param == "messages[0].content[0].type"
