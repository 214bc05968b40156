"""OpenAI Chat Completions body -> ChatRequest: every mapping, and each 400 naming its field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from tiergate.errors import InvalidRequest
from tiergate.types import (
    ChatRequest,
    ImageBlock,
    Message,
    TextBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)
from tiergate.wire.openai import FORMAT

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
USER = [{"role": "user", "content": "hi"}]


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


def decode(**body: Any) -> ChatRequest:
    return FORMAT.decode_request({"model": "m", "messages": USER, **body})


def test_format_identity() -> None:
    assert FORMAT.name == "openai"
    assert FORMAT.request_path == "/chat/completions"
    assert FORMAT.auth_headers("sk-1") == {"authorization": "Bearer sk-1"}
    assert FORMAT.auth_headers(None) == {}


def test_full_request_maps_every_field() -> None:
    request = FORMAT.decode_request(load("request_full.json"))
    weather = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    assert request == ChatRequest(
        model="gpt-4o-mini",
        system=[TextBlock("You are terse."), TextBlock("Use tools when asked.")],
        messages=[
            Message(
                "user",
                [
                    TextBlock("What is in these images, and the weather?"),
                    ImageBlock("base64", media_type="image/png", data="iVBORw0KGgo="),
                    ImageBlock("url", url="https://example.com/cat.jpg"),
                ],
            ),
            Message(
                "assistant",
                [
                    TextBlock("Checking."),
                    ToolUseBlock("call_a", "weather", {"city": "Oslo"}),
                    ToolUseBlock("call_b", "weather", {"city": "Rome"}),
                ],
            ),
            Message(
                "user",
                [
                    ToolResultBlock("call_a", [TextBlock("rain")]),
                    ToolResultBlock("call_b", [TextBlock("sun")]),
                ],
            ),
            Message("user", [TextBlock("Thanks. Summarise.")]),
        ],
        max_tokens=256,
        temperature=0.2,
        top_p=0.9,
        stop_sequences=["END", "STOP"],
        tools=[Tool("weather", "Weather by city", weather)],
        tool_choice=ToolChoice("any", disable_parallel_tool_use=True),
        metadata={"team": "search", "user_id": "u-42"},
        stream=True,
        stream_include_usage=True,
        response_format={"type": "json_object"},
        extra={"seed": 7, "reasoning_effort": "low"},
        source_format="openai",
    )


def test_decode_does_not_mutate_the_body() -> None:
    body = load("request_full.json")
    before = copy.deepcopy(body)
    FORMAT.decode_request(body)
    assert body == before


def test_minimal_request_defaults() -> None:
    request = decode()
    assert request.messages == [Message("user", [TextBlock("hi")])]
    assert request.system == []
    assert request.max_tokens is None
    assert request.tool_choice is None
    assert request.stream is False and request.stream_include_usage is False
    assert request.extra == {} and request.metadata == {}
    assert request.source_format == "openai"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"max_tokens": 10}, 10),
        ({"max_completion_tokens": 20}, 20),
        ({"max_tokens": 10, "max_completion_tokens": 20}, 20),
        ({"max_tokens": 10, "max_completion_tokens": None}, 10),
    ],
)
def test_max_tokens_prefers_max_completion_tokens(body: dict[str, Any], expected: int) -> None:
    assert decode(**body).max_tokens == expected


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, ToolChoice("auto")),
        ("none", None, ToolChoice("none")),
        ("required", None, ToolChoice("any")),
        ({"type": "function", "function": {"name": "f"}}, None, ToolChoice("tool", name="f")),
        ("auto", False, ToolChoice("auto", disable_parallel_tool_use=True)),
        (None, False, ToolChoice("auto", disable_parallel_tool_use=True)),
        (None, True, None),
        ("required", True, ToolChoice("any")),
    ],
)
def test_tool_choice(choice: Any, parallel: bool | None, expected: ToolChoice | None) -> None:
    body: dict[str, Any] = {"tool_choice": choice} if choice is not None else {}
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert decode(**body).tool_choice == expected


def test_stop_string_becomes_a_list() -> None:
    assert decode(stop="###").stop_sequences == ["###"]


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tools = decode(tools=[{"type": "function", "function": {"name": "ping"}}]).tools
    assert tools == [Tool("ping", None, {"type": "object", "properties": {}})]


def test_assistant_tool_calls_only_keep_no_empty_text() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    request = decode(messages=messages)
    assert request.messages[1] == Message("assistant", [ToolUseBlock("c1", "f", {})])
    assert request.messages[2] == Message("user", [ToolResultBlock("c1", [TextBlock("done")])])


def test_legacy_function_call_and_function_message() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "f", "arguments": '{"a":1}'},
        },
        {"role": "function", "name": "f", "content": "42"},
    ]
    request = decode(messages=messages)
    assert request.messages[1].content == [ToolUseBlock("f", "f", {"a": 1})]
    assert request.messages[2].content == [ToolResultBlock("f", [TextBlock("42")])]


def test_order_is_kept_without_forcing_alternation() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"},
        {"role": "assistant", "content": "d"},
    ]
    texts = [(m.role, m.content) for m in decode(messages=messages).messages]
    assert texts == [
        ("user", [TextBlock("a")]),
        ("user", [TextBlock("b")]),
        ("assistant", [TextBlock("c")]),
        ("assistant", [TextBlock("d")]),
    ]


def test_tool_result_then_user_text_stay_separate_in_order() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c", "content": "r"},
        {"role": "user", "content": "next"},
        {"role": "tool", "tool_call_id": "c", "content": "late"},
    ]
    roles = [[b.type for b in m.content] for m in decode(messages=messages).messages]
    assert roles == [["text"], ["tool_use"], ["tool_result"], ["text"], ["tool_result"]]


def test_assistant_refusal_only_becomes_text() -> None:
    messages = [*USER, {"role": "assistant", "content": None, "refusal": "I can't."}]
    assert decode(messages=messages).messages[1].content == [TextBlock("I can't.")]


def test_user_refusal_part_is_kept_as_text() -> None:
    messages = [{"role": "user", "content": [{"type": "refusal", "refusal": "no"}]}]
    assert decode(messages=messages).messages[0].content == [TextBlock("no")]


def test_string_image_url_shorthand() -> None:
    messages = [
        {"role": "user", "content": [{"type": "image_url", "image_url": "https://x.io/a.png"}]}
    ]
    assert decode(messages=messages).messages[0].content == [
        ImageBlock("url", url="https://x.io/a.png")
    ]


def _tool_call(arguments: Any) -> list[dict[str, Any]]:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return [*USER, {"role": "assistant", "content": None, "tool_calls": [call]}]


BAD: list[tuple[Any, str]] = [
    ([], ""),
    ("text", ""),
    ({"messages": USER}, "model"),
    ({"model": 3, "messages": USER}, "model"),
    ({"model": "m"}, "messages"),
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": "hi"}, "messages"),
    ({"model": "m", "messages": ["hi"]}, "messages[0]"),
    ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role"),
    ({"model": "m", "messages": [{"role": "system", "content": "only system"}]}, "messages"),
    ({"model": "m", "messages": [*USER, {"role": "user", "content": 5}]}, "messages[1].content"),
    ({"model": "m", "messages": [{"role": "user", "content": None}]}, "messages[0].content"),
    ({"model": "m", "messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content[0]"),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]},
        "messages[0].content[0].type",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]},
        "messages[0].content[0].text",
    ),
    (
        {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        "messages[0].content[0].image_url",
    ),
    (
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}],
                }
            ],
        },
        "messages[0].content[0].image_url",
    ),
    (
        {
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "data:text/plain,hi"}}],
                }
            ],
        },
        "messages[0].content[0].image_url",
    ),
    (
        {"model": "m", "messages": [{"role": "system", "content": [{"type": "image_url"}]}, *USER]},
        "messages[0].content[0].type",
    ),
    (
        {"model": "m", "messages": _tool_call("{not json")},
        "messages[1].tool_calls[0].function.arguments",
    ),
    (
        {"model": "m", "messages": _tool_call("[1, 2]")},
        "messages[1].tool_calls[0].function.arguments",
    ),
    ({"model": "m", "messages": _tool_call(7)}, "messages[1].tool_calls[0].function.arguments"),
    (
        {"model": "m", "messages": [*USER, {"role": "assistant", "tool_calls": {"id": "c"}}]},
        "messages[1].tool_calls",
    ),
    (
        {"model": "m", "messages": [*USER, {"role": "assistant", "tool_calls": [{"id": "c"}]}]},
        "messages[1].tool_calls[0].function",
    ),
    (
        {
            "model": "m",
            "messages": [
                *USER,
                {"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]},
            ],
        },
        "messages[1].tool_calls[0].function.name",
    ),
    (
        {"model": "m", "messages": [*USER, {"role": "tool", "content": "r"}]},
        "messages[1].tool_call_id",
    ),
    ({"model": "m", "messages": USER, "n": 2}, "n"),
    ({"model": "m", "messages": USER, "max_tokens": -5}, "max_tokens"),
    ({"model": "m", "messages": USER, "max_tokens": 0}, "max_tokens"),
    ({"model": "m", "messages": USER, "max_tokens": "10"}, "max_tokens"),
    ({"model": "m", "messages": USER, "max_completion_tokens": 1.5}, "max_completion_tokens"),
    ({"model": "m", "messages": USER, "temperature": "hot"}, "temperature"),
    ({"model": "m", "messages": USER, "top_p": True}, "top_p"),
    ({"model": "m", "messages": USER, "stop": [1]}, "stop"),
    ({"model": "m", "messages": USER, "stream": "yes"}, "stream"),
    ({"model": "m", "messages": USER, "stream_options": []}, "stream_options"),
    (
        {"model": "m", "messages": USER, "stream_options": {"include_usage": 1}},
        "stream_options.include_usage",
    ),
    ({"model": "m", "messages": USER, "metadata": ["x"]}, "metadata"),
    ({"model": "m", "messages": USER, "user": 9}, "user"),
    ({"model": "m", "messages": USER, "response_format": "json"}, "response_format"),
    ({"model": "m", "messages": USER, "parallel_tool_calls": "no"}, "parallel_tool_calls"),
    ({"model": "m", "messages": USER, "tools": {}}, "tools"),
    ({"model": "m", "messages": USER, "tools": ["f"]}, "tools[0]"),
    (
        {
            "model": "m",
            "messages": USER,
            "tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}],
        },
        "tools[0].function.strict",
    ),
    (
        {"model": "m", "messages": USER, "tools": [{"type": "custom", "custom": {}}]},
        "tools[0].type",
    ),
    ({"model": "m", "messages": USER, "tools": [{"type": "function"}]}, "tools[0].function"),
    (
        {"model": "m", "messages": USER, "tools": [{"function": {"name": ""}}]},
        "tools[0].function.name",
    ),
    (
        {"model": "m", "messages": USER, "tools": [{"function": {"name": "f", "parameters": "x"}}]},
        "tools[0].function.parameters",
    ),
    (
        {"model": "m", "messages": USER, "tools": [{"function": {"name": "f", "description": 1}}]},
        "tools[0].function.description",
    ),
    ({"model": "m", "messages": USER, "tool_choice": "sometimes"}, "tool_choice"),
    ({"model": "m", "messages": USER, "tool_choice": {"type": "function"}}, "tool_choice"),
]


@pytest.mark.parametrize(("body", "param"), BAD, ids=[p or repr(b)[:20] for b, p in BAD])
def test_invalid_requests_name_the_field(body: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        FORMAT.decode_request(body)
    error = caught.value
    assert error.status == 400
    assert error.param == (param or None)
    if param:
        assert param in error.message
