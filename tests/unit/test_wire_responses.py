"""The Responses API translators on JSON: request items -> core, core -> output items/events."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiergate.errors import InvalidRequest
from tiergate.executor.replay import response_events
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    ImageBlock,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    TextBlock,
    ThinkingBlock,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.responses_decode import decode_request, with_history
from tiergate.wire.responses_encode import encode_response, usage_dict
from tiergate.wire.responses_stream import ResponsesStreamEncoder
from tiergate.wire.sse import SSEParser


def decode(**body: Any) -> Any:
    return decode_request({"model": "m", **body})


# --- decode -----------------------------------------------------------------------------------


def test_string_input_and_instructions() -> None:
    decoded = decode(input="hi", instructions="be brief", max_output_tokens=10, stream=True)
    chat = decoded.chat
    assert chat.system == [TextBlock("be brief")]
    assert chat.messages == [Message("user", [TextBlock("hi")])]
    assert chat.max_tokens == 10 and chat.stream is True
    assert decoded.items == [{"type": "message", "role": "user", "content": "hi"}]
    assert decoded.store is True and decoded.previous_response_id is None
    assert decoded.echo["tool_choice"] == "auto" and decoded.echo["text"] == {
        "format": {"type": "text"}
    }


def test_items_fold_into_alternating_turns() -> None:
    items = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "think"}],
            "encrypted_content": "tiergate.signature:sig",
        },
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_1",
            "status": "completed",
            "content": [{"type": "output_text", "text": "let me look", "annotations": []}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": ""},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {
            "type": "function_call_output",
            "call_id": "c2",
            "output": [{"type": "input_text", "text": "two"}],
        },
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": "thanks"},
    ]
    chat = decode(input=items).chat
    assert chat.system == [TextBlock("sys"), TextBlock("dev")]
    assert chat.messages == [
        Message("user", [TextBlock("q")]),
        Message(
            "assistant",
            [
                ThinkingBlock("think", signature="sig"),
                TextBlock("let me look"),
                ToolUseBlock("c1", "f", {"a": 1}),
                ToolUseBlock("c2", "g", {}),
            ],
        ),
        Message(
            "user",
            [
                ToolResultBlock("c1", [TextBlock("one")]),
                ToolResultBlock("c2", [TextBlock("two")]),
                TextBlock("thanks"),
            ],
        ),
    ]


def test_reasoning_items_from_elsewhere_and_redacted() -> None:
    foreign = {
        "type": "reasoning",
        "id": "rs_x",
        "summary": [{"type": "summary_text", "text": "thought"}],
        "encrypted_content": "gAAAA-openai-sealed",
    }
    redacted = {
        "type": "reasoning",
        "id": "rs_y",
        "summary": [],
        "encrypted_content": "tiergate.redacted:EmwKAh",
    }
    answer = {"type": "message", "role": "assistant", "content": "ok"}
    chat = decode(input=[{"role": "user", "content": "q"}, foreign, redacted, answer]).chat
    assert chat.messages[1].content == [
        ThinkingBlock("thought"),
        ThinkingBlock("EmwKAh", redacted=True),
        TextBlock("ok"),
    ]
    body = encode_response(
        ChatResponse("x", "m", [ThinkingBlock("EmwKAh", redacted=True)]),
        "m",
        echo=ECHO,
        rid="resp_z",
        created_at=0,
    )
    assert body["output"][0]["encrypted_content"] == "tiergate.redacted:EmwKAh"
    assert body["output"][0]["content"] == []


def test_image_parts() -> None:
    chat = decode(
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "auto"},
                    {"type": "input_image", "image_url": "data:image/jpeg;base64,QUJD"},
                ],
            }
        ]
    ).chat
    assert chat.messages[0].content == [
        ImageBlock("url", url="https://x.test/a.png"),
        ImageBlock("base64", media_type="image/jpeg", data="QUJD"),
    ]


def test_tools_choice_and_format() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string"}}}
    decoded = decode(
        input="hi",
        tools=[{"type": "function", "name": "f", "parameters": schema, "strict": True}],
        tool_choice={"type": "function", "name": "f"},
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "out", "schema": schema}},
        reasoning={"effort": "high"},
        user="u1",
    )
    chat = decoded.chat
    assert chat.tools[0].name == "f" and chat.tools[0].strict is True
    assert chat.tool_choice == ToolChoice("tool", "f", disable_parallel_tool_use=True)
    assert chat.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": schema},
    }
    assert chat.extra == {"reasoning_effort": "high"}
    assert chat.metadata == {"user_id": "u1"}
    assert decoded.echo["parallel_tool_calls"] is False
    assert decode(input="x", tool_choice="required").chat.tool_choice == ToolChoice("any")
    assert decode(input="x", text={"format": {"type": "json_object"}}).chat.response_format == {
        "type": "json_object"
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x", "model": ""}, "model"),
        ({"input": 5}, "input"),
        ({"input": []}, "input"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "computer_call"}]}, "input[0].type"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        (
            {"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]},
            "input[0].arguments",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]},
            "input[0].content[0].image_url",
        ),
        ({"input": "x", "tools": [{"type": "file_search"}]}, "tools[0].type"),
        ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"input": "x", "conversation": "conv_1"}, "conversation"),
        ({"input": "x", "prompt": {"id": "p"}}, "prompt"),
        ({"input": "x", "max_tool_calls": 3}, "max_tool_calls"),
        ({"input": "x", "top_logprobs": 2}, "top_logprobs"),
        ({"input": "x", "store": "yes"}, "store"),
        ({"input": "x", "previous_response_id": ""}, "previous_response_id"),
        ({"input": "x", "temperature": "hot"}, "temperature"),
        ({"input": "x", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"input": "x", "frobnicate": 1}, "frobnicate"),
        ({"input": "x", "truncation": "middle"}, "truncation"),
        ({"input": "x", "include": [1]}, "include"),
    ],
)
def test_bad_requests_name_the_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as error:
        decode_request({"model": "m", **body})
    assert error.value.param == param and error.value.status == 400


def test_with_history_puts_the_stored_conversation_first() -> None:
    decoded = decode(
        previous_response_id="resp_1",
        instructions="new",
        input=[
            {"role": "developer", "content": "dev now"},
            {"role": "user", "content": "and then?"},
        ],
    )
    history = [
        {"type": "message", "role": "developer", "content": "dev before"},
        {"type": "message", "role": "user", "content": "first"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "answer", "annotations": []}],
        },
    ]
    with_history(decoded, history)
    assert decoded.chat.messages == [
        Message("user", [TextBlock("first")]),
        Message("assistant", [TextBlock("answer")]),
        Message("user", [TextBlock("and then?")]),
    ]
    assert decoded.chat.system == [TextBlock("new"), TextBlock("dev before"), TextBlock("dev now")]
    assert decoded.items[:3] == history and len(decoded.items) == 5


def test_previous_response_alone_needs_no_input() -> None:
    decoded = decode(previous_response_id="resp_1")
    assert decoded.chat.messages == []
    with_history(decoded, [{"role": "user", "content": "stored"}])
    assert decoded.chat.messages == [Message("user", [TextBlock("stored")])]


# --- encode -----------------------------------------------------------------------------------

ANSWER = ChatResponse(
    id="msg_x",
    model="m",
    content=[
        ThinkingBlock("hmm", signature="sig=="),
        TextBlock("Checking."),
        ToolUseBlock("toolu_1", "f", {"a": 1}),
    ],
    stop_reason="tool_use",
    usage=Usage(
        input_tokens=10,
        output_tokens=20,
        cache_read_input_tokens=100,
        cache_creation_input_tokens=5,
        reasoning_tokens=7,
    ),
)
ECHO = decode(input="x").echo


def test_encode_response_items_and_usage() -> None:
    body = encode_response(ANSWER, "m", echo=ECHO, rid="resp_abc", created_at=1700000000)
    assert body["id"] == "resp_abc" and body["status"] == "completed"
    reasoning, message, call = body["output"]
    assert reasoning == {
        "id": "rs_abc_0",
        "type": "reasoning",
        "status": "completed",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": "hmm"}],
        "encrypted_content": "tiergate.signature:sig==",
    }
    assert message["type"] == "message" and message["content"][0]["text"] == "Checking."
    assert call == {
        "id": "fc_abc_2",
        "type": "function_call",
        "status": "completed",
        "call_id": "toolu_1",
        "name": "f",
        "arguments": '{"a":1}',
    }
    assert (
        body["usage"]
        == usage_dict(ANSWER.usage)
        == {
            "input_tokens": 115,
            "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 5},
            "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 7},
            "total_tokens": 135,
        }
    )
    # Given back as input, the items restore the answer's blocks (thinking keeps its signature).
    again = decode(input=body["output"]).chat
    assert again.messages == [Message("assistant", ANSWER.content)]


def test_refusal_is_a_refusal_part() -> None:
    refused = ChatResponse("x", "m", [TextBlock("I can't.")], refusal="I can't.")
    body = encode_response(refused, "m", echo=ECHO, rid="resp_r", created_at=0)
    assert body["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't."}]
    assert body["status"] == "completed"


# --- stream -----------------------------------------------------------------------------------


def stream(events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    encoder = ResponsesStreamEncoder("m", ECHO, "resp_s", 1)
    data = b"".join(encoder.encode(event) for event in events) + encoder.finish()
    frames = SSEParser().feed(data)
    out = [(str(f.event), orjson.loads(f.data)) for f in frames]
    for name, payload in out:
        assert payload["type"] == name
    return out


def test_stream_of_thinking_text_and_tool_call() -> None:
    frames = stream(response_events(ANSWER))
    kinds = [name for name, _ in frames]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [payload["sequence_number"] for _, payload in frames] == list(range(len(frames)))
    final = frames[-1][1]["response"]
    # The streamed answer's items are the whole answer's items.
    assert (
        final["output"]
        == encode_response(ANSWER, "m", echo=ECHO, rid="resp_s", created_at=1)["output"]
    )
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 7
    assert frames[0][1]["response"]["status"] == "in_progress"
    assert frames[0][1]["response"]["output"] == []


def test_stream_tool_without_arguments_gets_empty_object() -> None:
    frames = stream(
        [
            MessageStart("x", "m"),
            BlockStart(0, ToolUseBlock("c", "ping", {})),
            BlockStop(0),
            MessageDelta("tool_use"),
            MessageStop(),
        ]
    )
    done = next(p for n, p in frames if n == "response.function_call_arguments.done")
    assert done["arguments"] == "{}" and done["name"] == "ping"


def test_stream_refusal_and_incomplete() -> None:
    frames = stream(
        [
            MessageStart("x", "m"),
            BlockStart(0, TextBlock("")),
            BlockDelta(0, "refusal", "No."),
            BlockStop(0),
            MessageDelta("refusal"),
            MessageStop(),
        ]
    )
    kinds = [n for n, _ in frames]
    assert "response.refusal.delta" in kinds and "response.refusal.done" in kinds
    assert frames[-1][0] == "response.completed"
    cut = stream(
        [
            MessageStart("x", "m"),
            BlockStart(0, TextBlock("")),
            BlockDelta(0, "text", "par"),
            BlockStop(0),
            MessageDelta("max_tokens", usage=Usage(output_tokens=1)),
            MessageStop(),
        ]
    )
    assert cut[-1][0] == "response.incomplete"
    assert cut[-1][1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_stream_error_frames() -> None:
    encoder = ResponsesStreamEncoder("m", ECHO, "resp_e", 1)
    encoder.encode(MessageStart("x", "m"))
    frames = SSEParser().feed(encoder.error(InvalidRequest("bad", param="input")))
    assert [f.event for f in frames] == ["error", "response.failed"]
    error = orjson.loads(frames[0].data)
    assert error["message"] == "bad" and error["param"] == "input"
    failed = orjson.loads(frames[1].data)["response"]
    assert failed["status"] == "failed" and failed["error"]["code"] == "server_error"


# --- any body: a 400 or a request, never a crash ------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "role",
                    "content",
                    "text",
                    "name",
                    "call_id",
                    "arguments",
                    "output",
                    "image_url",
                    "format",
                    "schema",
                    "effort",
                    "summary",
                    "encrypted_content",
                    "parameters",
                    "verbosity",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)
_FIELDS = [
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "text",
    "reasoning",
    "metadata",
    "max_output_tokens",
    "temperature",
    "store",
    "previous_response_id",
    "truncation",
    "service_tier",
    "include",
    "parallel_tool_calls",
    "stream",
]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=6))
def test_any_body_decodes_or_is_a_400(fields: dict[str, Any]) -> None:
    try:
        decoded = decode_request({"model": "m", **fields})
    except InvalidRequest:
        return
    encode_response(ANSWER, "m", echo=decoded.echo, rid="resp_h", created_at=0)
    orjson.dumps(decoded.echo)
