"""Upstream Chat Completions SSE -> core stream events: block building, the documented event
order, usage from the final chunk, error frames, and any byte split giving the same events."""

from __future__ import annotations

from pathlib import Path

import pytest

from tiergate.errors import ProviderError
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.openai import FORMAT

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"


def whole(raw: bytes) -> list[StreamEvent]:
    decoder = FORMAT.stream_decoder()
    return decoder.feed(raw) + decoder.close()


def split(raw: bytes, size: int) -> list[StreamEvent]:
    decoder = FORMAT.stream_decoder()
    events: list[StreamEvent] = []
    for i in range(0, len(raw), size):
        events.extend(decoder.feed(raw[i : i + size]))
    return events + decoder.close()


def check_order(events: list[StreamEvent]) -> None:
    """The sequence documented at the bottom of tiergate/types.py."""
    assert isinstance(events[0], MessageStart)
    assert isinstance(events[-2], MessageDelta) and isinstance(events[-1], MessageStop)
    open_index: int | None = None
    next_index = 0
    for event in events[1:-2]:
        if isinstance(event, BlockStart):
            assert open_index is None and event.index == next_index
            open_index, next_index = event.index, next_index + 1
        elif isinstance(event, BlockDelta):
            assert event.index == open_index
        elif isinstance(event, BlockStop):
            assert event.index == open_index
            open_index = None
        else:
            raise AssertionError(f"unexpected {event!r}")
    assert open_index is None


FIXTURE_NAMES = [
    "stream_text_usage.sse",
    "stream_tool_calls.sse",
    "stream_deepseek_reasoning.sse",
    "stream_no_done.sse",
]


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_byte_split_every_7_bytes_gives_the_same_events(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    expected = whole(raw)
    check_order(expected)
    assert split(raw, 7) == expected
    assert split(raw, 1) == expected


def test_text_stream_with_usage_chunk() -> None:
    events = whole((FIXTURES / "stream_text_usage.sse").read_bytes())
    assert events == [
        MessageStart("chatcmpl-Bx1", "gpt-4o-mini-2024-07-18"),
        BlockStart(0, TextBlock("")),
        BlockDelta(0, "text", "Héllo"),
        BlockDelta(0, "text", " wörld 🌍"),
        BlockStop(0),
        MessageDelta(
            "end_turn",
            None,
            # the chunks' service_tier goes with the usage: the price depends on it
            Usage(
                input_tokens=48,
                output_tokens=4,
                cache_read_input_tokens=1152,
                service_tier="default",
            ),
        ),
        MessageStop(),
    ]


def test_tool_calls_become_one_block_each() -> None:
    events = whole((FIXTURES / "stream_tool_calls.sse").read_bytes())
    assert events == [
        MessageStart("chatcmpl-T1", "gpt-4o"),
        BlockStart(0, ToolUseBlock("call_a", "weather", {})),
        BlockDelta(0, "input_json", '{"ci'),
        BlockDelta(0, "input_json", 'ty": "Oslo"}'),
        BlockStop(0),
        BlockStart(1, ToolUseBlock("call_b", "time", {})),
        BlockDelta(1, "input_json", "{}"),
        BlockStop(1),
        MessageDelta("tool_use", None, Usage(input_tokens=80, output_tokens=30)),
        MessageStop(),
    ]


def test_deepseek_reasoning_is_a_thinking_block_before_the_text() -> None:
    events = whole((FIXTURES / "stream_deepseek_reasoning.sse").read_bytes())
    assert events == [
        MessageStart("ds-1", "deepseek-reasoner"),
        BlockStart(0, ThinkingBlock("")),
        BlockDelta(0, "thinking", "Think"),
        BlockDelta(0, "thinking", "ing."),
        BlockStop(0),
        BlockStart(1, TextBlock("")),
        BlockDelta(1, "text", "Answer"),
        BlockStop(1),
        MessageDelta(
            "max_tokens", None, Usage(input_tokens=2, output_tokens=50, cache_read_input_tokens=8)
        ),
        MessageStop(),
    ]


def test_no_done_but_finished_is_completed_on_close() -> None:
    """llama.cpp-style: CRLF, a comment, a last frame without its blank line, no [DONE]."""
    decoder = FORMAT.stream_decoder()
    raw = (FIXTURES / "stream_no_done.sse").read_bytes()
    fed = decoder.feed(raw)
    assert not any(isinstance(e, MessageStop) for e in fed)
    closed = decoder.close()
    assert closed[-2:] == [
        MessageDelta("end_turn", None, Usage(input_tokens=5, output_tokens=1)),
        MessageStop(),
    ]


def test_a_stream_cut_before_finish_is_not_completed() -> None:
    """No finish_reason and no [DONE]: no MessageStop, so the caller reports a truncation."""
    raw = (FIXTURES / "stream_text_usage.sse").read_bytes()
    cut = raw[: raw.index(b'"finish_reason":"stop"')]
    cut = cut[: cut.rindex(b"\n\n") + 2]
    events = whole(cut)
    assert events and not any(isinstance(e, MessageDelta | MessageStop) for e in events)


def test_nothing_after_done() -> None:
    raw = (FIXTURES / "stream_text_usage.sse").read_bytes()
    extra = b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"late"}}]}\n\n'
    assert whole(raw + extra) == whole(raw)


def test_only_done_yields_nothing() -> None:
    assert whole(b"data: [DONE]\n\n") == []


def test_index_less_tool_calls_are_told_apart_by_id() -> None:
    raw = (
        b'data: {"id":"v","model":"m","choices":[{"index":0,"delta":{"tool_calls":'
        b'[{"id":"a","function":{"name":"f","arguments":"{\\"x\\":"}}]}}]}\n\n'
        b'data: {"id":"v","choices":[{"index":0,"delta":{"tool_calls":'
        b'[{"function":{"arguments":"1}"}}]}}]}\n\n'
        b'data: {"id":"v","choices":[{"index":0,"delta":{"tool_calls":'
        b'[{"id":"b","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    events = whole(raw)
    check_order(events)
    starts = [e.block for e in events if isinstance(e, BlockStart)]
    assert starts == [ToolUseBlock("a", "f", {}), ToolUseBlock("b", "g", {})]
    assert [e.value for e in events if isinstance(e, BlockDelta)] == ['{"x":', "1}", "{}"]


def test_text_then_tool_call_then_refusal_stop() -> None:
    raw = (
        b'data: {"id":"r","model":"m","choices":[{"index":0,"delta":{"refusal":"No."}}]}\n\n'
        b'data: {"id":"r","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    events = whole(raw)
    # A refusal delta of its own kind: OpenAI clients get it back in ``refusal``, Anthropic
    # clients as text.
    assert events[1:3] == [BlockStart(0, TextBlock("")), BlockDelta(0, "refusal", "No.")]
    assert events[-2] == MessageDelta("refusal", None, Usage())


@pytest.mark.parametrize(
    ("frame", "status", "retryable"),
    [
        (b'{"error":{"message":"Rate limited","type":"rate_limit_error"}}', 429, True),
        (b'{"error":{"message":"bad","type":"BadRequestError","code":400}}', 400, False),
        (b'{"error":{"message":"oops","type":"server_error"}}', 500, True),
        (b'{"error":"something broke"}', 502, True),
    ],
)
def test_error_frame_raises_provider_error(frame: bytes, status: int, retryable: bool) -> None:
    decoder = FORMAT.stream_decoder()
    head = b'data: {"id":"e","model":"m","choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
    assert decoder.feed(head)
    with pytest.raises(ProviderError) as caught:
        decoder.feed(b"data: " + frame + b"\n\n")
    assert caught.value.status == status
    assert caught.value.retryable is retryable


def test_keepalives_and_junk_frames_are_skipped() -> None:
    raw = (FIXTURES / "stream_text_usage.sse").read_bytes()
    noisy = b": keep-alive\n\ndata: not json\n\ndata: 42\n\n" + raw
    assert whole(noisy) == whole(raw)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_upstream_stream_re_encoded_for_a_client_is_valid_chunks(name: str) -> None:
    """The gateway's pass-through path: upstream SSE -> core events -> client SSE."""
    import orjson
    from openai.types.chat import ChatCompletionChunk

    from tiergate.wire.sse import SSEParser

    encoder = FORMAT.stream_encoder("alias", True)
    events = whole((FIXTURES / name).read_bytes())
    raw = b"".join(encoder.encode(e) for e in events) + encoder.finish()
    frames = SSEParser().feed(raw)
    assert frames[-1].data == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(orjson.loads(f.data)) for f in frames[:-1]]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    expected = "".join(e.value for e in events if isinstance(e, BlockDelta) and e.kind == "text")
    assert text == expected
    usage = chunks[-1].usage
    final = next(e for e in events if isinstance(e, MessageDelta)).usage
    assert usage is not None and usage.prompt_tokens == final.total_input()
