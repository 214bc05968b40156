"""The fake OpenAI upstream, checked with the official ``openai`` SDK pointed straight at it."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import openai
import pytest

from tests.fakes import Fail, FakeUpstream, FakeUsage, Reply, ToolCall
from tests.fakes.fixtures import fake_openai_server, make_upstream, openai_upstream

__all__ = ["fake_openai_server", "make_upstream", "openai_upstream"]

MODEL = "gpt-4o-mini"
HELLO = [{"role": "user", "content": "hello there"}]


def client(upstream: FakeUpstream, key: str = "k") -> openai.OpenAI:
    return openai.OpenAI(base_url=upstream.url + "/v1", api_key=key, max_retries=0, timeout=10)


def test_default_reply_echoes_the_last_user_text(openai_upstream: FakeUpstream) -> None:
    completion = client(openai_upstream).chat.completions.create(model=MODEL, messages=HELLO)
    choice = completion.choices[0]
    assert choice.message.content == "echo: hello there"
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert completion.object == "chat.completion" and completion.model == MODEL
    sent = openai_upstream.last
    assert sent.path == "/v1/chat/completions"
    assert sent.header("authorization") == "Bearer k"
    assert sent.json == {"model": MODEL, "messages": HELLO}


def test_usage_reports_cached_tokens_inside_prompt_tokens(openai_upstream: FakeUpstream) -> None:
    openai_upstream.reply(
        "ok", usage=FakeUsage(input_tokens=20, output_tokens=4, cache_read=1000, reasoning_tokens=2)
    )
    usage = client(openai_upstream).chat.completions.create(model=MODEL, messages=HELLO).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1020, 4, 1024)
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1000
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 2


def test_stream_with_usage_chunk_and_done(openai_upstream: FakeUpstream) -> None:
    openai_upstream.reply("one two three", usage=FakeUsage(input_tokens=9, output_tokens=3))
    chunks = list(
        client(openai_upstream).chat.completions.create(
            model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 9 and chunks[-1].usage.completion_tokens == 3
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage_chunk(openai_upstream: FakeUpstream) -> None:
    raw = httpx.post(
        openai_upstream.url + "/v1/chat/completions",
        headers={"authorization": "Bearer k"},
        json={"model": MODEL, "messages": HELLO, "stream": True},
    )
    frames = [f for f in raw.text.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    payloads = [json.loads(f.removeprefix("data: ")) for f in frames[:-1]]
    assert all("usage" not in p for p in payloads)
    assert raw.headers["content-type"].startswith("text/event-stream")


def test_streamed_tool_calls_accumulate_to_valid_json(openai_upstream: FakeUpstream) -> None:
    args = {"city": "Paris", "days": [1, 2, 3]}
    openai_upstream.script(
        Reply(tool_calls=[ToolCall("forecast", args, id="call_1"), ToolCall("time", {"tz": "CET"})])
    )
    chunks = list(
        client(openai_upstream).chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    )
    calls: dict[int, dict[str, str]] = {}
    pieces = 0
    for chunk in chunks:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += delta.id or ""
            if delta.function:
                entry["name"] += delta.function.name or ""
                entry["arguments"] += delta.function.arguments or ""
                pieces += 1
    assert calls[0]["id"] == "call_1" and calls[0]["name"] == "forecast"
    assert json.loads(calls[0]["arguments"]) == args
    assert calls[1]["name"] == "time" and json.loads(calls[1]["arguments"]) == {"tz": "CET"}
    assert pieces >= 6
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_tool_round_trip_non_streaming(openai_upstream: FakeUpstream) -> None:
    sdk = client(openai_upstream)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "add",
                "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
            },
        }
    ]
    openai_upstream.tool_call("add", {"a": 2})
    first = sdk.chat.completions.create(model=MODEL, messages=HELLO, tools=tools)
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and message.content is None
    call = message.tool_calls[0]
    assert json.loads(call.function.arguments) == {"a": 2}
    second = sdk.chat.completions.create(
        model=MODEL,
        tools=tools,
        messages=[
            *HELLO,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "4"},
        ],
    )
    assert second.choices[0].message.content == "echo: hello there"


async def test_async_client_streams(openai_upstream: FakeUpstream) -> None:
    openai_upstream.reply("async works", chunk_delay=0.01)
    sdk = openai.AsyncOpenAI(base_url=openai_upstream.url + "/v1", api_key="k", max_retries=0)
    stream = await sdk.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "async works"
    await sdk.close()


@pytest.mark.parametrize(
    ("status", "error_class", "code"),
    [
        (400, openai.BadRequestError, None),
        (401, openai.AuthenticationError, "invalid_api_key"),
        (403, openai.PermissionDeniedError, "unsupported_country_region_territory"),
        (404, openai.NotFoundError, "model_not_found"),
        (413, openai.APIStatusError, "request_too_large"),
        (429, openai.RateLimitError, "rate_limit_exceeded"),
        (500, openai.InternalServerError, None),
        (503, openai.InternalServerError, None),
    ],
)
def test_scripted_errors_raise_the_sdk_exception(
    openai_upstream: FakeUpstream,
    status: int,
    error_class: type[Exception],
    code: str | None,
) -> None:
    openai_upstream.script(Fail(status, "scripted", retry_after=1))
    with pytest.raises(error_class) as caught:
        client(openai_upstream).chat.completions.create(model=MODEL, messages=HELLO)
    error = caught.value
    assert isinstance(error, openai.APIStatusError) and error.status_code == status
    assert error.code == code
    assert isinstance(error.body, dict) and error.body["message"] == "scripted"
    assert error.response.headers["retry-after"] == "1"


def test_key_is_checked(make_upstream: Callable[..., FakeUpstream]) -> None:
    upstream = make_upstream("openai", api_key="right")
    with pytest.raises(openai.AuthenticationError) as caught:
        client(upstream, "wrong").chat.completions.create(model=MODEL, messages=HELLO)
    assert caught.value.code == "invalid_api_key"
    missing = httpx.post(
        upstream.url + "/v1/chat/completions", json={"model": MODEL, "messages": HELLO}
    )
    assert missing.status_code == 401
    assert client(upstream, "right").models.list().data[0].id == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"thinking": {"type": "enabled"}}, "thinking"),
        ({"temperature": 2.5}, "temperature"),
        ({"messages": [{"role": "tool", "tool_call_id": "x", "content": "4"}]}, "tool"),
        ({"messages": []}, "messages"),
    ],
)
def test_requests_the_real_api_rejects_are_rejected(
    openai_upstream: FakeUpstream,
    change: dict[str, object],
    needle: str,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client(openai_upstream).chat.completions.create(
            model=MODEL,
            messages=change.pop("messages", HELLO),  # type: ignore[arg-type]
            extra_body=change,
        )
    assert needle in caught.value.message


def test_error_frame_mid_stream_raises(openai_upstream: FakeUpstream) -> None:
    openai_upstream.reply("a b c d e f", error_after=3)
    with pytest.raises(openai.APIError) as caught:
        for _ in client(openai_upstream).chat.completions.create(
            model=MODEL, messages=HELLO, stream=True
        ):
            pass
    assert "server had an error" in caught.value.message


def test_thinking_is_sent_as_reasoning_content(openai_upstream: FakeUpstream) -> None:
    openai_upstream.reply("answer", thinking="pondering")
    message = (
        client(openai_upstream)
        .chat.completions.create(model=MODEL, messages=HELLO)
        .choices[0]
        .message
    )
    assert message.content == "answer"
    assert message.model_extra == {"reasoning_content": "pondering"}
