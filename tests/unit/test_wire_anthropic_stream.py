"""Calling direction, streaming: upstream Messages SSE bytes -> core stream events, and the
encoder -> decoder round trip."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from tiergate.errors import ProviderError
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    ContentBlock,
    MessageDelta,
    MessageStart,
    MessageStop,
    OpaqueBlock,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.anthropic import FORMAT

STREAM = (
    Path(__file__).parent.parent / "fixtures" / "anthropic" / "upstream_stream.sse"
).read_bytes()
START_USAGE = Usage(
    input_tokens=120,
    output_tokens=1,
    cache_creation_input_tokens=3000,
    cache_read_input_tokens=500,
    cache_creation_5m=1000,
    cache_creation_1h=2000,
)
EXPECTED: list[StreamEvent] = [
    MessageStart("msg_01StreamXYZ", "claude-sonnet-4-6", START_USAGE),
    BlockStart(0, ThinkingBlock("")),
    BlockDelta(0, "thinking", "The user wants "),
    BlockDelta(0, "thinking", "the weather — ☀️."),
    BlockDelta(0, "signature", "EqQBCgIYAhIM1gbcDa9GJwZA"),
    BlockStop(0),
    BlockStart(1, TextBlock("")),
    BlockDelta(1, "text", "Let me "),
    BlockDelta(1, "text", "check."),
    BlockStop(1),
    # server tool blocks have no core type: they pass as opaque starts, with the server tool's
    # input as input_json deltas (an Anthropic client gets them back; other formats skip them)
    BlockStart(
        2,
        OpaqueBlock(
            {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {}}
        ),
    ),
    BlockDelta(2, "input_json", '{"query": "paris weather"}'),
    BlockStop(2),
    BlockStart(
        3,
        OpaqueBlock(
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": []}
        ),
    ),
    BlockStop(3),
    BlockStart(4, ToolUseBlock("toolu_01A", "get_weather", {})),
    BlockDelta(4, "input_json", ""),
    BlockDelta(4, "input_json", '{"city": "Pa'),
    BlockDelta(4, "input_json", 'ris"}'),
    BlockStop(4),
    MessageDelta(
        "tool_use",
        None,
        Usage(
            input_tokens=120,
            output_tokens=80,
            cache_creation_input_tokens=3000,
            cache_read_input_tokens=500,
            cache_creation_5m=1000,
            cache_creation_1h=2000,
        ),
    ),
    MessageStop(),
]


def decode_all(chunks: list[bytes]) -> list[StreamEvent]:
    decoder = FORMAT.stream_decoder()
    events: list[StreamEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    events.extend(decoder.close())
    return events


def test_fixture_stream_decodes_to_core_events() -> None:
    assert decode_all([STREAM]) == EXPECTED


def test_byte_split_chunks_give_the_same_events() -> None:
    # one byte at a time splits every line and every multi-byte UTF-8 character (the ☀️)
    assert decode_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED
    rng = random.Random(7)
    for _ in range(30):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 40)))
        chunks = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        assert decode_all(chunks) == EXPECTED


def test_crlf_line_endings() -> None:
    assert decode_all([STREAM.replace(b"\n", b"\r\n")]) == EXPECTED


def test_final_frame_without_blank_line_is_flushed_on_close() -> None:
    decoder = FORMAT.stream_decoder()
    body = STREAM.rstrip(b"\n")
    events = decoder.feed(body)
    assert events == EXPECTED[:-1]
    assert decoder.close() == [MessageStop()]


def frame(payload: dict[str, Any]) -> bytes:
    name = str(payload["type"]).encode()
    return b"event: " + name + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def message_start(usage: dict[str, Any]) -> bytes:
    return frame(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "m",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
        }
    )


def test_final_usage_merges_fields_from_either_event() -> None:
    data = (
        message_start({"input_tokens": 50, "output_tokens": 1})
        + frame(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {
                    "output_tokens": 9,
                    "cache_read_input_tokens": 400,
                    "cache_creation_input_tokens": 60,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": 0,
                        "ephemeral_1h_input_tokens": 60,
                    },
                },
            }
        )
        + frame({"type": "message_stop"})
    )
    events = decode_all([data])
    assert events[0] == MessageStart("msg_1", "m", Usage(50, 1))
    assert events[1] == MessageDelta(
        "end_turn",
        None,
        Usage(
            input_tokens=50,
            output_tokens=9,
            cache_creation_input_tokens=60,
            cache_read_input_tokens=400,
            cache_creation_5m=0,
            cache_creation_1h=60,
        ),
    )
    assert events[2] == MessageStop()


def test_message_delta_repeating_input_counts_keeps_them() -> None:
    data = message_start({"input_tokens": 50, "output_tokens": 1}) + frame(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
            "usage": {"input_tokens": 50, "output_tokens": 100},
        }
    )
    assert decode_all([data])[1] == MessageDelta("max_tokens", None, Usage(50, 100))


def test_ping_comments_and_unknown_events_are_ignored() -> None:
    data = (
        b": keep-alive\n\n"
        + frame({"type": "ping"})
        + message_start({"input_tokens": 1, "output_tokens": 0})
        + frame(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
        + frame(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "brand_new_delta", "value": {}},
            }
        )
        + frame({"type": "brand_new_event"})
        + b"event: content_block_delta\ndata: not json\n\n"
        + frame({"type": "content_block_stop", "index": 0})
    )
    events = decode_all([data])
    assert [type(e) for e in events] == [MessageStart, BlockStart, BlockStop]


def test_citations_delta_becomes_a_citation_event_and_back() -> None:
    citation = {
        "type": "char_location",
        "cited_text": "jam",
        "document_index": 0,
        "start_char_index": 0,
        "end_char_index": 3,
    }
    data = (
        message_start({"input_tokens": 1, "output_tokens": 0})
        + frame(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
        + frame(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "citations_delta", "citation": citation},
            }
        )
    )
    event = decode_all([data])[2]
    assert isinstance(event, BlockDelta) and event.kind == "citation"
    sent = FORMAT.stream_encoder("m", True).encode(event)
    assert json.loads(sent.split(b"data: ", 1)[1]) == {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "citations_delta", "citation": citation},
    }


def test_block_start_content_is_resent_as_deltas() -> None:
    data = message_start({"input_tokens": 1, "output_tokens": 0}) + b"".join(
        frame(p)
        for p in [
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": "pre"},
            },
            {"type": "content_block_stop", "index": 0},
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}},
            },
            {"type": "content_block_stop", "index": 1},
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "redacted_thinking", "data": "SECRET"},
            },
            {"type": "content_block_stop", "index": 2},
        ]
    )
    assert decode_all([data])[1:] == [
        BlockStart(0, TextBlock("")),
        BlockDelta(0, "text", "pre"),
        BlockStop(0),
        BlockStart(1, ToolUseBlock("t", "f", {})),
        BlockDelta(1, "input_json", '{"a":1}'),
        BlockStop(1),
        BlockStart(2, ThinkingBlock("SECRET", redacted=True)),
        BlockStop(2),
    ]


@pytest.mark.parametrize(
    ("error_type", "status", "retryable"),
    [
        ("overloaded_error", 529, True),
        ("api_error", 500, True),
        ("rate_limit_error", 429, True),
        ("invalid_request_error", 400, False),
        ("something_new", 502, True),
    ],
)
def test_error_event_raises_provider_error(error_type: str, status: int, retryable: bool) -> None:
    decoder = FORMAT.stream_decoder()
    decoder.feed(message_start({"input_tokens": 1, "output_tokens": 0}))
    error = {"type": "error", "error": {"type": error_type, "message": "Overloaded"}}
    with pytest.raises(ProviderError) as caught:
        decoder.feed(frame(error))
    assert caught.value.status == status
    assert caught.value.kind == error_type
    assert caught.value.retryable is retryable
    assert "Overloaded" in caught.value.message


def test_delta_without_index_is_a_provider_error() -> None:
    decoder = FORMAT.stream_decoder()
    with pytest.raises(ProviderError, match="malformed"):
        decoder.feed(frame({"type": "content_block_delta", "delta": {"type": "text_delta"}}))


# --- encoder -> decoder round trip -------------------------------------------------------------


def assemble(events: list[StreamEvent]) -> ChatResponse:
    """A minimal consumer of the core event contract (what the executor does)."""
    start = events[0]
    assert isinstance(start, MessageStart)
    blocks: list[ContentBlock] = []
    json_parts: dict[int, list[str]] = {}
    response = ChatResponse(
        id=start.id,
        model=start.model,
        content=blocks,
        stop_reason=None,
        stop_sequence=None,
        usage=start.usage,
    )
    for event in events[1:]:
        if isinstance(event, BlockStart):
            assert event.index == len(blocks)
            blocks.append(event.block)
        elif isinstance(event, BlockDelta):
            block = blocks[event.index]
            if event.kind == "text" and isinstance(block, TextBlock):
                block.text += event.value
            elif event.kind == "thinking" and isinstance(block, ThinkingBlock):
                block.thinking += event.value
            elif event.kind == "signature" and isinstance(block, ThinkingBlock):
                block.signature = (block.signature or "") + event.value
            elif event.kind == "input_json":
                json_parts.setdefault(event.index, []).append(event.value)
        elif isinstance(event, BlockStop):
            block = blocks[event.index]
            if isinstance(block, ToolUseBlock):
                block.input = orjson.loads("".join(json_parts.get(event.index, [])) or "{}")
            elif isinstance(block, OpaqueBlock) and event.index in json_parts:
                block.data = {**block.data, "input": orjson.loads("".join(json_parts[event.index]))}
        elif isinstance(event, MessageDelta):
            response.stop_reason, response.stop_sequence = event.stop_reason, event.stop_sequence
            response.usage = event.usage
    assert isinstance(events[-1], MessageStop)
    return response


def test_fixture_stream_assembles_like_the_non_streaming_answer() -> None:
    response = assemble(decode_all([STREAM]))
    assert response.content == [
        ThinkingBlock("The user wants the weather — ☀️.", "EqQBCgIYAhIM1gbcDa9GJwZA"),
        TextBlock("Let me check."),
        OpaqueBlock(
            {
                "type": "server_tool_use",
                "id": "srvtoolu_01",
                "name": "web_search",
                "input": {"query": "paris weather"},
            }
        ),
        OpaqueBlock(
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": []}
        ),
        ToolUseBlock("toolu_01A", "get_weather", {"city": "Paris"}),
    ]
    assert response.stop_reason == "tool_use"
    assert response.usage == Usage(
        input_tokens=120,
        output_tokens=80,
        cache_creation_input_tokens=3000,
        cache_read_input_tokens=500,
        cache_creation_5m=1000,
        cache_creation_1h=2000,
    )


def test_encoder_to_decoder_round_trip() -> None:
    events: list[StreamEvent] = [
        # the encoder always states the TTL split, so the events here state it too
        MessageStart(
            "msg_rt",
            "claude-sonnet-4-6",
            Usage(
                input_tokens=10,
                output_tokens=1,
                cache_creation_input_tokens=300,
                cache_read_input_tokens=7,
                cache_creation_5m=100,
                cache_creation_1h=200,
            ),
        ),
        BlockStart(0, ThinkingBlock("")),
        BlockDelta(0, "thinking", "step 1; "),
        BlockDelta(0, "thinking", "step 2"),
        BlockDelta(0, "signature", "sig=="),
        BlockStop(0),
        BlockStart(1, ThinkingBlock("ENC", redacted=True)),
        BlockStop(1),
        BlockStart(2, TextBlock("")),
        BlockDelta(2, "text", 'Line one\nline "two" ünïcode'),
        BlockStop(2),
        BlockStart(3, ToolUseBlock("toolu_x", "search", {})),
        BlockDelta(3, "input_json", '{"q": "a\\nb",'),
        BlockDelta(3, "input_json", ' "k": [1, 2]}'),
        BlockStop(3),
        MessageDelta(
            "tool_use",
            None,
            Usage(
                input_tokens=10,
                output_tokens=33,
                cache_creation_input_tokens=300,
                cache_read_input_tokens=7,
                cache_creation_5m=100,
                cache_creation_1h=200,
            ),
        ),
        MessageStop(),
    ]
    encoder = FORMAT.stream_encoder("claude-sonnet-4-6", include_usage=True)
    wire = b"".join(encoder.encode(e) for e in events) + encoder.finish()
    decoded = decode_all([wire[i : i + 5] for i in range(0, len(wire), 5)])
    assert decoded == events
    response = assemble(decoded)
    assert response.content == [
        ThinkingBlock("step 1; step 2", "sig=="),
        ThinkingBlock("ENC", redacted=True),
        TextBlock('Line one\nline "two" ünïcode'),
        ToolUseBlock("toolu_x", "search", {"q": "a\nb", "k": [1, 2]}),
    ]


def test_server_tool_blocks_reach_anthropic_clients_only() -> None:
    anthropic_sse = b"".join(FORMAT.stream_encoder("m", True).encode(e) for e in EXPECTED)
    assert b'"content_block":{"type":"server_tool_use","id":"srvtoolu_01"' in anthropic_sse
    assert b'"partial_json":"{\\"query\\": \\"paris weather\\"}"' in anthropic_sse
    from tiergate.wire.openai import FORMAT as OPENAI

    encoder = OPENAI.stream_encoder("m", True)
    openai_sse = b"".join(encoder.encode(e) for e in EXPECTED) + encoder.finish()
    assert b"srvtoolu" not in openai_sse and b"paris weather" not in openai_sse
    assert openai_sse.count(b'"tool_calls"') >= 1  # the client tool call still streams
