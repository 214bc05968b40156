"""Serving direction, answer side: ``ChatResponse`` / stream events / errors -> Anthropic shapes,
checked against the official SDK's own models and exception mapping."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import orjson
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent

from tiergate.errors import (
    AuthenticationFailed,
    GatewayError,
    InternalError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ProviderError,
    RateLimited,
)
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.anthropic import FORMAT
from tiergate.wire.sse import SSEParser

STREAM_EVENT: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)


def response(**overrides: Any) -> ChatResponse:
    fields: dict[str, Any] = {
        "id": "abc123",
        "model": "upstream-name",
        "content": [
            ThinkingBlock("hmm", "sig-1"),
            ThinkingBlock("ENCRYPTED", redacted=True),
            TextBlock("Hello."),
            ToolUseBlock("toolu_1", "lookup", {"q": "x", "n": [1, 2]}),
        ],
        "stop_reason": "tool_use",
        "usage": Usage(10, 20, 300, 40, cache_creation_5m=100, cache_creation_1h=200),
    }
    fields.update(overrides)
    return ChatResponse(**fields)


def test_encode_response_shape() -> None:
    body = FORMAT.encode_response(response(), "claude-sonnet-4-6")
    assert body == {
        "id": "msg_abc123",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "ENCRYPTED"},
            {"type": "text", "text": "Hello."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "lookup",
                "input": {"q": "x", "n": [1, 2]},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 20,
            "cache_creation_input_tokens": 300,
            "cache_read_input_tokens": 40,
            "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
        },
    }
    message = Message.model_validate(orjson.loads(orjson.dumps(body)))
    assert [b.type for b in message.content] == [
        "thinking",
        "redacted_thinking",
        "text",
        "tool_use",
    ]
    assert message.usage.cache_creation is not None
    assert message.usage.cache_creation.ephemeral_1h_input_tokens == 200


def test_encode_response_keeps_msg_prefix_and_unsplit_cache_counts_as_5m() -> None:
    body = FORMAT.encode_response(
        response(
            id="msg_x",
            stop_reason="stop_sequence",
            stop_sequence="END",
            usage=Usage(1, 2, 50, 0),
            content=[TextBlock("a")],
        ),
        "m",
    )
    assert body["id"] == "msg_x"
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "END")
    assert body["usage"]["cache_creation"] == {
        "ephemeral_5m_input_tokens": 50,
        "ephemeral_1h_input_tokens": 0,
    }
    Message.model_validate(body)


def test_unsigned_thinking_is_encoded_with_an_empty_signature() -> None:
    body = FORMAT.encode_response(response(content=[ThinkingBlock("local model thoughts")]), "m")
    assert body["content"] == [
        {"type": "thinking", "thinking": "local model thoughts", "signature": ""}
    ]
    Message.model_validate(body)


# --- streaming ---------------------------------------------------------------------------------

STREAM: list[StreamEvent] = [
    MessageStart("abc", "upstream", Usage(input_tokens=10, cache_read_input_tokens=5)),
    BlockStart(0, ThinkingBlock("")),
    BlockDelta(0, "thinking", "Let me think"),
    BlockDelta(0, "signature", "sig-9"),
    BlockStop(0),
    BlockStart(1, ThinkingBlock("REDACTED-DATA", redacted=True)),
    BlockStop(1),
    BlockStart(2, TextBlock("")),
    BlockDelta(2, "text", "Hi "),
    BlockDelta(2, "text", "there"),
    BlockStop(2),
    BlockStart(3, ToolUseBlock("toolu_9", "lookup", {})),
    BlockDelta(3, "input_json", '{"q": '),
    BlockDelta(3, "input_json", '"x"}'),
    BlockStop(3),
    MessageDelta("tool_use", None, Usage(output_tokens=42)),
    MessageStop(),
]


def frames(data: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    parser = SSEParser()
    events = parser.feed(data) + parser.close()
    return [(e.event, orjson.loads(e.data)) for e in events]


def test_stream_encoder_emits_the_exact_event_sequence() -> None:
    encoder = FORMAT.stream_encoder("claude-sonnet-4-6", include_usage=False)
    data = b"".join(encoder.encode(e) for e in STREAM) + encoder.finish()
    assert encoder.finish() == b""
    decoded = frames(data)
    assert [name for name, _ in decoded] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for name, payload in decoded:
        assert payload["type"] == name  # the event line always matches the payload type
    start = decoded[0][1]["message"]
    assert start["id"] == "msg_abc" and start["model"] == "claude-sonnet-4-6"
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == 10
    assert start["usage"]["cache_read_input_tokens"] == 5
    assert decoded[2][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert decoded[4][1]["delta"] == {"type": "signature_delta", "signature": "sig-9"}
    assert decoded[6][1]["content_block"] == {"type": "redacted_thinking", "data": "REDACTED-DATA"}
    assert decoded[9][1] == {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "text_delta", "text": "Hi "},
    }
    assert decoded[12][1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_9",
        "name": "lookup",
        "input": {},
    }
    assert decoded[13][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"q": '}
    delta = decoded[16][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    # output from the final event, input and cache counts carried over from message_start
    assert delta["usage"]["output_tokens"] == 42
    assert delta["usage"]["input_tokens"] == 10
    assert delta["usage"]["cache_read_input_tokens"] == 5


def test_every_streamed_event_validates_against_the_sdk() -> None:
    encoder = FORMAT.stream_encoder("m", include_usage=True)
    for name, payload in frames(b"".join(encoder.encode(e) for e in STREAM)):
        if name == "ping":
            assert payload == {"type": "ping"}
            continue
        event = STREAM_EVENT.validate_python(payload)
        assert event.type == name


def test_sdk_stream_accumulator_rebuilds_the_message() -> None:
    """The SDK's own stream helper, fed our bytes over a mock transport, assembles the
    final message: the strongest check that the sequence is what the SDK expects."""
    encoder = FORMAT.stream_encoder("claude-sonnet-4-6", include_usage=True)
    data = b"".join(encoder.encode(e) for e in STREAM)

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=data)

    client = anthropic.Anthropic(
        api_key="k",
        base_url="http://gateway.test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    with client.messages.stream(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == [
        "thinking",
        "redacted_thinking",
        "text",
        "tool_use",
    ]
    assert final.content[2].text == "Hi there"  # type: ignore[union-attr]
    assert final.content[3].input == {"q": "x"}  # type: ignore[union-attr]
    assert final.content[0].signature == "sig-9"  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 42


def test_stream_error_frame() -> None:
    encoder = FORMAT.stream_encoder("m", include_usage=True)
    error = ProviderError("busy", status=529, provider="p", kind="overloaded_error")
    assert frames(encoder.error(error)) == [
        ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})
    ]


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "kind", "sdk_class"),
    [
        (InvalidRequest("bad"), 400, "invalid_request_error", anthropic.BadRequestError),
        (AuthenticationFailed("key"), 401, "authentication_error", anthropic.AuthenticationError),
        (PermissionDenied("no"), 403, "permission_error", anthropic.PermissionDeniedError),
        (NotFound("where"), 404, "not_found_error", anthropic.NotFoundError),
        (PayloadTooLarge("big"), 413, "request_too_large", anthropic.RequestTooLargeError),
        (RateLimited("slow", retry_after=1.2), 429, "rate_limit_error", anthropic.RateLimitError),
        (InternalError("oops"), 500, "api_error", anthropic.InternalServerError),
        (
            ProviderError("busy", status=529, provider="p"),
            529,
            "overloaded_error",
            anthropic.OverloadedError,
        ),
        # an upstream's 503 keeps its status; the body names it overloaded
        (
            ProviderError("busy", status=503, provider="p"),
            503,
            "overloaded_error",
            anthropic.ServiceUnavailableError,
        ),
        (
            ProviderError("slow", status=504, provider="p"),
            504,
            "timeout_error",
            anthropic.GatewayTimeoutError,
        ),
        (
            ProviderError("quota", status=429, provider="p", kind="insufficient_quota"),
            429,
            "rate_limit_error",
            anthropic.RateLimitError,
        ),
        (
            ProviderError("gone", status=502, provider="p", kind="server_error"),
            502,
            "api_error",
            anthropic.InternalServerError,
        ),
    ],
)
def test_errors_raise_the_matching_sdk_exception(
    error: GatewayError, status: int, kind: str, sdk_class: type[Exception]
) -> None:
    got_status, headers, body = FORMAT.encode_error(error)
    assert got_status == status
    payload = orjson.loads(body)
    assert payload == {"type": "error", "error": {"type": kind, "message": error.message}}

    def handler(request: httpx2.Request) -> httpx2.Response:
        headers["content-type"] = "application/json"
        return httpx2.Response(got_status, headers=headers, content=body)

    client = anthropic.Anthropic(
        api_key="k",
        base_url="http://gateway.test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert type(caught.value) is sdk_class
    assert caught.value.status_code == status
    assert caught.value.body == payload


def test_retry_after_header_rounds_up_to_whole_seconds() -> None:
    assert FORMAT.encode_error(RateLimited("x", retry_after=1.2))[1] == {"retry-after": "2"}
    assert FORMAT.encode_error(RateLimited("x", retry_after=3))[1] == {"retry-after": "3"}
    assert FORMAT.encode_error(RateLimited("x", retry_after=0))[1] == {"retry-after": "0"}
    assert FORMAT.encode_error(RateLimited("x"))[1] == {}


def test_a_streamed_openai_refusal_reaches_an_anthropic_client_as_text() -> None:
    """The Messages API has no refusal field: the text streams as ``text_delta`` and the
    message ends with stop_reason ``refusal``."""
    encoder = FORMAT.stream_encoder("m", include_usage=False)
    events = [
        MessageStart("r", "m", Usage()),
        BlockStart(0, TextBlock("")),
        BlockDelta(0, "refusal", "No."),
        BlockStop(0),
        MessageDelta("refusal", None, Usage(output_tokens=2)),
        MessageStop(),
    ]
    decoded = frames(b"".join(encoder.encode(e) for e in events))
    deltas = [body["delta"] for name, body in decoded if name == "content_block_delta"]
    assert deltas == [{"type": "text_delta", "text": "No."}]
    stop = [body["delta"]["stop_reason"] for name, body in decoded if name == "message_delta"]
    assert stop == ["refusal"]
