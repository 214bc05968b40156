"""Serving OpenAI-SDK clients: ChatResponse, stream events and errors -> Chat Completions shapes,
checked against the official SDK's own models (and the SDK itself over a mock transport)."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

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
    StopReason,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.openai import FORMAT
from tiergate.wire.sse import SSEParser

USAGE = Usage(
    input_tokens=10, output_tokens=7, cache_creation_input_tokens=5, cache_read_input_tokens=100
)


def response(*content: Any, stop: StopReason | None = "end_turn") -> ChatResponse:
    return ChatResponse(
        id="msg_01", model="upstream-x", content=list(content), stop_reason=stop, usage=USAGE
    )


def test_text_response_shape() -> None:
    body = FORMAT.encode_response(response(TextBlock("Hello"), TextBlock(" there")), "alias-model")
    parsed = ChatCompletion.model_validate(body)
    assert parsed.id == "chatcmpl-msg_01"
    assert parsed.object == "chat.completion"
    assert parsed.model == "alias-model"
    assert isinstance(parsed.created, int) and parsed.created > 1_600_000_000
    choice = parsed.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "Hello there"
    assert choice.message.tool_calls is None
    assert choice.message.refusal is None
    assert choice.finish_reason == "stop"
    assert choice.logprobs is None
    assert body["usage"] == {
        "prompt_tokens": 115,
        "completion_tokens": 7,
        "total_tokens": 122,
        "prompt_tokens_details": {"cached_tokens": 100},
    }


def test_id_already_prefixed_is_kept() -> None:
    body = FORMAT.encode_response(ChatResponse(id="chatcmpl-abc", model="m", content=[]), "m")
    assert body["id"] == "chatcmpl-abc"
    assert body["choices"][0]["message"]["content"] == ""


def test_tool_calls_only_have_null_content_and_json_string_arguments() -> None:
    body = FORMAT.encode_response(
        response(
            ThinkingBlock("secret plan", signature="sig"),
            ToolUseBlock("toolu_1", "weather", {"city": "Oslo", "days": [1, 2]}),
            ToolUseBlock("toolu_2", "time", {}),
            stop="tool_use",
        ),
        "m",
    )
    parsed = ChatCompletion.model_validate(body)
    message = parsed.choices[0].message
    assert message.content is None
    assert parsed.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None
    calls = [
        (c.id, c.type, c.function.name, orjson.loads(c.function.arguments))
        for c in message.tool_calls
        if c.type == "function"
    ]
    assert calls == [
        ("toolu_1", "function", "weather", {"city": "Oslo", "days": [1, 2]}),
        ("toolu_2", "function", "time", {}),
    ]
    assert "secret plan" not in orjson.dumps(body).decode()


def test_text_and_tool_calls_together() -> None:
    body = FORMAT.encode_response(
        response(TextBlock("Let me check."), ToolUseBlock("t", "f", {})), "m"
    )
    message = ChatCompletion.model_validate(body).choices[0].message
    assert message.content == "Let me check."
    assert message.tool_calls is not None and len(message.tool_calls) == 1


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reason_mapping(stop: StopReason | None, finish: str) -> None:
    body = FORMAT.encode_response(response(TextBlock("x"), stop=stop), "m")
    assert ChatCompletion.model_validate(body).choices[0].finish_reason == finish


# --- streaming -------------------------------------------------------------------------------

TOOL_EVENTS: list[StreamEvent] = [
    MessageStart("msg_9", "up", Usage(input_tokens=20, cache_read_input_tokens=30)),
    BlockStart(0, ThinkingBlock("")),
    BlockDelta(0, "thinking", "hmm"),
    BlockDelta(0, "signature", "sig"),
    BlockStop(0),
    BlockStart(1, TextBlock("")),
    BlockDelta(1, "text", "Checking "),
    BlockDelta(1, "text", "two cities."),
    BlockStop(1),
    BlockStart(2, ToolUseBlock("toolu_a", "weather", {})),
    BlockDelta(2, "input_json", '{"city": '),
    BlockDelta(2, "input_json", '"Oslo"}'),
    BlockStop(2),
    BlockStart(3, ToolUseBlock("toolu_b", "weather", {})),
    BlockDelta(3, "input_json", '{"city": "Rome"}'),
    BlockStop(3),
    MessageDelta("tool_use", None, Usage(output_tokens=42)),
    MessageStop(),
]


def frames(events: list[StreamEvent], include_usage: bool) -> tuple[bytes, list[dict[str, Any]]]:
    encoder = FORMAT.stream_encoder("alias", include_usage)
    raw = b"".join(encoder.encode(e) for e in events) + encoder.finish()
    parsed = SSEParser().feed(raw)
    assert parsed[-1].data == "[DONE]"
    return raw, [orjson.loads(p.data) for p in parsed[:-1]]


@pytest.mark.parametrize("include_usage", [True, False])
def test_stream_frames_validate_and_carry_everything(include_usage: bool) -> None:
    raw, chunks = frames(TOOL_EVENTS, include_usage)
    assert raw.endswith(b"data: [DONE]\n\n")
    for chunk in chunks:
        parsed = ChatCompletionChunk.model_validate(chunk)
        assert parsed.id == "chatcmpl-msg_9" and parsed.model == "alias"
        assert parsed.object == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("content") or "" for d in deltas) == "Checking two cities."
    calls = [tc for d in deltas for tc in d.get("tool_calls", [])]
    assert calls == [
        {
            "index": 0,
            "id": "toolu_a",
            "type": "function",
            "function": {"name": "weather", "arguments": ""},
        },
        {"index": 0, "function": {"arguments": '{"city": '}},
        {"index": 0, "function": {"arguments": '"Oslo"}'}},
        {
            "index": 1,
            "id": "toolu_b",
            "type": "function",
            "function": {"name": "weather", "arguments": ""},
        },
        {"index": 1, "function": {"arguments": '{"city": "Rome"}'}},
    ]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "tool_calls" and set(finishes[:-1]) == {None}
    assert b"hmm" not in raw and b"sig" not in raw
    if include_usage:
        last = chunks[-1]
        assert last["choices"] == []
        assert last["usage"] == {
            "prompt_tokens": 50,
            "completion_tokens": 42,
            "total_tokens": 92,
            "prompt_tokens_details": {"cached_tokens": 30},
        }
        assert all(c["usage"] is None for c in chunks[:-1])
    else:
        assert all("usage" not in c for c in chunks)


def test_a_streamed_tool_without_parameters_gets_empty_json_arguments() -> None:
    """Anthropic streams a parameterless tool as one empty ``input_json`` delta (or none);
    the client must end up with ``"{}"``, as OpenAI sends it, never ``""``."""
    events: list[StreamEvent] = [
        MessageStart("msg_1", "up", Usage(input_tokens=5)),
        BlockStart(0, ToolUseBlock("toolu_a", "get_time", {})),
        BlockDelta(0, "input_json", ""),
        BlockStop(0),
        BlockStart(1, ToolUseBlock("toolu_b", "get_date", {})),
        BlockStop(1),
        MessageDelta("tool_use", None, Usage(output_tokens=3)),
        MessageStop(),
    ]
    _, chunks = frames(events, include_usage=False)
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    arguments: dict[int, str] = {}
    for call in calls:
        arguments[call["index"]] = arguments.get(call["index"], "") + call["function"]["arguments"]
    assert arguments == {0: "{}", 1: "{}"}


def test_an_openai_refusal_goes_back_in_the_refusal_field_and_the_sdk_reads_it() -> None:
    """OpenAI's ``message.refusal`` (structured outputs): ``content`` null, the text in
    ``refusal``, finish ``stop``, so ``parse()`` exposes it instead of raising a content-filter
    error. A refusal from a format without that field (Claude's) stays ``content_filter``."""
    text = "I can't help."
    refused = ChatResponse("r", "m", [TextBlock(text)], "refusal", refusal=text)
    body = FORMAT.encode_response(refused, "alias")
    parsed = ChatCompletion.model_validate(body)
    assert parsed.choices[0].message.refusal == "I can't help."
    assert parsed.choices[0].message.content is None
    assert parsed.choices[0].finish_reason == "stop"
    claude = ChatResponse("r", "m", [TextBlock("I can't help.")], "refusal")
    other = FORMAT.encode_response(claude, "alias")["choices"][0]
    assert (other["finish_reason"], other["message"]["content"]) == (
        "content_filter",
        "I can't help.",
    )
    events: list[StreamEvent] = [
        MessageStart("r", "m", Usage()),
        BlockStart(0, TextBlock("")),
        BlockDelta(0, "refusal", "I can't "),
        BlockDelta(0, "refusal", "help."),
        BlockStop(0),
        MessageDelta("refusal", None, Usage(output_tokens=4)),
        MessageStop(),
    ]
    _, chunks = frames(events, include_usage=False)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert "".join(d.get("refusal") or "" for d in deltas) == "I can't help."
    assert not any(d.get("content") for d in deltas)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_usage_known_only_at_the_end() -> None:
    events: list[StreamEvent] = [
        MessageStart("m1", "up"),
        BlockStart(0, TextBlock("")),
        BlockDelta(0, "text", "hi"),
        BlockStop(0),
        MessageDelta(
            "max_tokens", None, Usage(input_tokens=9, output_tokens=1, cache_read_input_tokens=4)
        ),
        MessageStop(),
    ]
    _, chunks = frames(events, True)
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["prompt_tokens"] == 13
    assert chunks[-1]["usage"]["completion_tokens"] == 1


def test_stream_error_frame() -> None:
    encoder = FORMAT.stream_encoder("m", False)
    frame = encoder.error(ProviderError("upstream died", status=502, provider="p"))
    parsed = SSEParser().feed(frame)
    assert orjson.loads(parsed[0].data) == {
        "error": {"message": "upstream died", "type": "server_error", "param": None, "code": None}
    }


# --- through the official SDK ----------------------------------------------------------------


def sdk(handler: Any) -> openai.OpenAI:
    transport = httpx2.MockTransport(handler)
    return openai.OpenAI(
        api_key="k",
        base_url="http://gateway.test/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


def stream_body(events: list[StreamEvent], *, error: GatewayError | None = None) -> bytes:
    encoder = FORMAT.stream_encoder("alias", True)
    body = b"".join(encoder.encode(e) for e in events)
    return body + (encoder.error(error) if error else encoder.finish())


def test_sdk_accumulates_the_stream_into_the_same_completion() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200, content=stream_body(TOOL_EVENTS), headers={"content-type": "text/event-stream"}
        )

    with sdk(handler).chat.completions.stream(
        model="alias", messages=[{"role": "user", "content": "x"}]
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Checking two cities."
    assert message.tool_calls is not None
    calls = [
        (c.function.name, c.function.arguments) for c in message.tool_calls if c.type == "function"
    ]
    assert calls == [
        ("weather", '{"city": "Oslo"}'),
        ("weather", '{"city": "Rome"}'),
    ]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.total_tokens == 92


def test_sdk_raises_on_a_mid_stream_error_frame() -> None:
    events = TOOL_EVENTS[:8]

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = stream_body(events, error=ProviderError("gone", status=502, provider="p"))
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

    stream = sdk(handler).chat.completions.create(
        model="alias", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError, match="gone"):
        list(stream)


def test_sdk_parses_a_plain_response() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=FORMAT.encode_response(response(TextBlock("ok")), "alias"))

    completion = sdk(handler).chat.completions.create(
        model="alias", messages=[{"role": "user", "content": "x"}]
    )
    assert completion.choices[0].message.content == "ok"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 100


ERRORS: list[tuple[GatewayError, int, type[openai.APIStatusError], str]] = [
    (
        InvalidRequest("bad field", param="messages[0].content"),
        400,
        openai.BadRequestError,
        "invalid_request_error",
    ),
    (AuthenticationFailed("no key"), 401, openai.AuthenticationError, "authentication_error"),
    (PermissionDenied("not yours"), 403, openai.PermissionDeniedError, "permission_error"),
    (NotFound("no such model"), 404, openai.NotFoundError, "not_found_error"),
    (PayloadTooLarge("too big"), 413, openai.APIStatusError, "invalid_request_error"),
    (RateLimited("slow down", retry_after=1.2), 429, openai.RateLimitError, "rate_limit_error"),
    (InternalError("bug"), 500, openai.InternalServerError, "server_error"),
    (
        ProviderError("busy", status=529, provider="p"),
        529,
        openai.InternalServerError,
        "server_error",
    ),
    (
        ProviderError("busy", status=503, provider="p"),
        503,
        openai.InternalServerError,
        "server_error",
    ),
    (
        ProviderError("slow", status=504, provider="p"),
        504,
        openai.InternalServerError,
        "server_error",
    ),
]


@pytest.mark.parametrize(
    ("error", "status", "cls", "kind"), ERRORS, ids=[str(e[1]) for e in ERRORS]
)
def test_errors_raise_the_matching_sdk_class(
    error: GatewayError, status: int, cls: type[openai.APIStatusError], kind: str
) -> None:
    code, headers, body = FORMAT.encode_error(error)
    assert code == status

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            code, content=body, headers={**headers, "content-type": "application/json"}
        )

    with pytest.raises(cls) as caught:
        sdk(handler).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert type(caught.value) is cls or cls is openai.APIStatusError
    assert caught.value.status_code == status
    assert caught.value.type == kind
    assert caught.value.param == error.param
    assert error.message in caught.value.message


def test_error_body_and_retry_headers() -> None:
    status, headers, body = FORMAT.encode_error(RateLimited("over budget", retry_after=1.2))
    assert status == 429
    assert headers == {"retry-after": "2", "retry-after-ms": "1200"}
    assert orjson.loads(body) == {
        "error": {
            "message": "over budget",
            "type": "rate_limit_error",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    assert FORMAT.encode_error(InvalidRequest("x"))[1] == {}


def test_413_is_a_plain_status_error_not_a_subclass() -> None:
    code, headers, body = FORMAT.encode_error(PayloadTooLarge("too big"))

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(code, content=body, headers=headers)

    with pytest.raises(openai.APIStatusError) as caught:
        sdk(handler).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert type(caught.value) is openai.APIStatusError
    assert caught.value.code == "request_too_large"
