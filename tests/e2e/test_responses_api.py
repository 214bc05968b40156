"""``POST /v1/responses`` driven by the official ``openai`` SDK, served by both fake upstreams."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.test_tenancy import ADMIN, new_key
from tests.fakes.script import FakeUsage, Reply, ToolCall
from tests.fakes.upstream import FakeUpstream
from tests.support.log_rows import logged

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def oai(gateway: str, key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway + "/v1", api_key=key, max_retries=0)


def user_texts(sent: dict[str, Any]) -> list[str]:
    """The user-visible text of an upstream request body, in order, in either format."""
    texts: list[str] = []
    for message in sent["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.extend(b["text"] for b in content if b.get("type") == "text")
    return texts


# --- plain ------------------------------------------------------------------------------------


def test_plain_text_served_by_anthropic(
    gateway: str, anthropic_upstream: FakeUpstream, tmp_path: Path
) -> None:
    anthropic_upstream.reply(
        "bonjour", usage=FakeUsage(input_tokens=1000, output_tokens=100, cache_read=2000)
    )
    raw = oai(gateway).responses.with_raw_response.create(
        model="claude-haiku-4-5",
        instructions="Answer in French.",
        input="hello",
        max_output_tokens=64,
        temperature=0.2,
        metadata={"ticket": "T-1"},
    )
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "bonjour"
    assert response.model == "claude-haiku-4-5"
    assert response.instructions == "Answer in French."
    assert response.metadata == {"ticket": "T-1"}
    assert response.max_output_tokens == 64 and response.temperature == 0.2
    item = response.output[0]
    assert item.type == "message" and item.role == "assistant" and item.status == "completed"
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == 3000 and usage.input_tokens_details.cached_tokens == 2000
    assert usage.output_tokens == 100 and usage.total_tokens == 3100
    # The same headers, price and log row as the chat endpoints.
    request_id = raw.headers["x-tiergate-request-id"]
    assert response.id == "resp_" + request_id.removeprefix("req_")
    assert raw.headers["x-tiergate-model"] == "claude-haiku-4-5"
    # haiku: $1 / $5 per million, cache reads at $0.10: 1000 + 500 + 200 micro-dollars
    assert raw.headers["x-tiergate-cost-usd"] == "0.0017"
    row, attempts = logged(tmp_path, request_id, "client_format, status, output_tokens")
    assert row == ("responses", 200, 100) and len(attempts) == 1
    sent = anthropic_upstream.last.json
    assert sent["system"] == [{"type": "text", "text": "Answer in French."}]
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    assert sent["max_tokens"] == 64 and sent["temperature"] == 0.2


def test_plain_served_by_openai_reports_reasoning_and_cached_tokens(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.reply(
        "42",
        usage=FakeUsage(input_tokens=20, output_tokens=30, cache_read=1000, reasoning_tokens=25),
    )
    response = oai(gateway).responses.create(
        model="gpt-5.4",
        input=[
            {"role": "developer", "content": "Be exact."},
            {"role": "user", "content": [{"type": "input_text", "text": "6 x 7?"}]},
        ],
        reasoning={"effort": "low"},
        text={"verbosity": "low"},
    )
    assert response.output_text == "42"
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens == 1020 and usage.input_tokens_details.cached_tokens == 1000
    assert usage.output_tokens_details.reasoning_tokens == 25
    sent = openai_upstream.last.json
    assert sent["messages"] == [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "6 x 7?"},
    ]
    assert sent["reasoning_effort"] == "low" and sent["verbosity"] == "low"


def test_image_input_reaches_anthropic_as_an_image_block(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    oai(gateway).responses.create(
        model="claude-haiku-4-5",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "what is this?"},
                    {"type": "input_image", "image_url": f"data:image/png;base64,{png}"},
                ],
            }
        ],
    )
    content = anthropic_upstream.last.json["messages"][0]["content"]
    assert content[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": png},
    }


def test_json_schema_format_reaches_openai_as_response_format(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.reply('{"answer": 4}')
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    response = oai(gateway).responses.create(
        model="gpt-5.4",
        input="2+2",
        text={"format": {"type": "json_schema", "name": "sum", "schema": schema, "strict": True}},
    )
    assert json.loads(response.output_text) == {"answer": 4}
    assert response.text is not None and response.text.format.type == "json_schema"
    assert openai_upstream.last.json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "sum", "schema": schema, "strict": True},
    }


def test_answer_cut_by_max_output_tokens_is_incomplete(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply("a long", stop_reason="max_tokens")
    response = oai(gateway).responses.create(
        model="claude-haiku-4-5", input="write", max_output_tokens=2
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "a long"


# --- streamed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "gpt-5.4"])
def test_streamed_text_events_in_openai_order(
    gateway: str, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream, model: str
) -> None:
    upstream = anthropic_upstream if model.startswith("claude") else openai_upstream
    upstream.reply("one two three", usage=FakeUsage(input_tokens=7, output_tokens=3))
    with oai(gateway).responses.with_streaming_response.create(
        model=model, input="count", stream=True
    ) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        assert raw.headers["x-tiergate-model"] == model
        events = list(raw.parse())
    kinds = [e.type for e in events]
    deltas = kinds.count("response.output_text.delta")
    assert deltas >= 2
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "one two three"
    done = events[-1]
    assert done.type == "response.completed"
    assert done.response.output_text == "one two three" and done.response.status == "completed"
    assert done.response.usage is not None and done.response.usage.output_tokens == 3
    item_ids = {getattr(e, "item_id", None) for e in events} - {None}
    assert item_ids == {done.response.output[0].id}
    assert events[0].response.id == done.response.id


def test_stream_helper_accumulates_a_tool_call(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    """The SDK's ``responses.stream`` rebuilds the response from the events and checks them
    against each other (item ids, indexes, snapshots)."""
    anthropic_upstream.script(
        Reply(text="Let me check.", tool_calls=(ToolCall("get_weather", {"city": "Paris"}),))
    )
    with oai(gateway).responses.stream(
        model="claude-haiku-4-5", input="weather in Paris?", tools=[WEATHER]
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    message, call = final.output
    assert message.type == "message" and final.output_text == "Let me check."
    assert call.type == "function_call" and call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id.startswith("toolu_")


# --- tools ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "gpt-5.4"])
def test_function_call_round_trip(
    gateway: str, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream, model: str
) -> None:
    upstream = anthropic_upstream if model.startswith("claude") else openai_upstream
    upstream.tool_call("get_weather", {"city": "Paris"})
    client = oai(gateway)
    first = client.responses.create(
        model=model, input="weather in Paris?", tools=[WEATHER], tool_choice="required"
    )
    (call,) = first.output
    assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Paris"}
    sent = upstream.last.json
    if model.startswith("claude"):
        assert sent["tool_choice"] == {"type": "any"}
        assert sent["tools"][0]["name"] == "get_weather"
    else:
        assert sent["tool_choice"] == "required"
        assert sent["tools"][0]["function"]["name"] == "get_weather"
    upstream.reply("Sunny, 21 C.")
    second = client.responses.create(
        model=model,
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "weather in Paris?"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21"},
        ],
    )
    assert second.output_text == "Sunny, 21 C."
    sent = upstream.last.json
    if model.startswith("claude"):
        assert sent["messages"][1]["content"][0]["type"] == "tool_use"
        result = sent["messages"][2]["content"][0]
        assert result["type"] == "tool_result" and result["tool_use_id"] == call.call_id
    else:
        assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
        assert sent["messages"][2] == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": "sunny, 21",
        }


# --- previous_response_id ---------------------------------------------------------------------


def test_previous_response_id_continues_the_stored_conversation(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    database_url: str | None,
) -> None:
    gateway = make_gateway(database_url=database_url)
    client = oai(gateway)
    anthropic_upstream.reply("Nice to meet you, Ada.")
    first = client.responses.create(
        model="claude-haiku-4-5", instructions="Be kind.", input="I am Ada."
    )
    anthropic_upstream.tool_call("lookup", {"name": "Ada"})
    second = client.responses.create(
        model="claude-haiku-4-5",
        previous_response_id=first.id,
        input="Look me up.",
        tools=[{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
        stream=True,
    )
    completed = [e for e in second if e.type == "response.completed"]
    (call,) = completed[0].response.output
    assert completed[0].response.previous_response_id == first.id
    anthropic_upstream.reply("You are Ada Lovelace.")
    third = client.responses.create(
        model="claude-haiku-4-5",
        previous_response_id=completed[0].response.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Lovelace"}],
    )
    assert third.output_text == "You are Ada Lovelace."
    sent = anthropic_upstream.last.json
    # Instructions are not carried over from earlier responses (as OpenAI does).
    assert "system" not in sent
    roles = [m["role"] for m in sent["messages"]]
    assert roles == ["user", "assistant", "user", "assistant", "user"]
    assert user_texts(sent) == ["I am Ada.", "Nice to meet you, Ada.", "Look me up."]
    assert sent["messages"][3]["content"][0]["type"] == "tool_use"
    assert sent["messages"][4]["content"][0]["tool_use_id"] == call.call_id


def test_previous_response_id_errors(gateway: str, anthropic_upstream: FakeUpstream) -> None:
    client = oai(gateway)
    with pytest.raises(openai.BadRequestError) as missing:
        client.responses.create(
            model="claude-haiku-4-5", previous_response_id="resp_nope", input="hi"
        )
    assert missing.value.code == "previous_response_not_found"
    assert missing.value.param == "previous_response_id"
    unstored = client.responses.create(model="claude-haiku-4-5", input="hi", store=False)
    assert unstored.store is False
    with pytest.raises(openai.BadRequestError, match="not found"):
        client.responses.create(
            model="claude-haiku-4-5", previous_response_id=unstored.id, input="again"
        )
    assert len(anthropic_upstream.requests) == 1  # nothing was sent for the refused ones


def test_previous_response_id_is_tenant_scoped(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    gateway = make_gateway(admin_key=ADMIN)
    acme, globex = new_key(gateway, tenant="acme"), new_key(gateway, tenant="globex")
    first = oai(gateway, acme["key"]).responses.create(model="claude-haiku-4-5", input="secret")
    with pytest.raises(openai.BadRequestError) as other:
        oai(gateway, globex["key"]).responses.create(
            model="claude-haiku-4-5", previous_response_id=first.id, input="tell me"
        )
    assert other.value.code == "previous_response_not_found"
    same = oai(gateway, acme["key"]).responses.create(
        model="claude-haiku-4-5", previous_response_id=first.id, input="and?"
    )
    assert same.status == "completed"
    assert user_texts(anthropic_upstream.last.json)[0] == "secret"


def test_a_response_past_keep_days_is_refused_as_an_unknown_id_is(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    database_url: str | None,
) -> None:
    """Past ``responses.keep_days`` a stored answer is gone for follow-ups, with the error an
    unknown id gets, before anything is sent upstream, pruned or not yet."""
    gateway = make_gateway(database_url=database_url, responses={"keep_days": 1.5 / 86_400})
    client = oai(gateway)
    first = client.responses.create(model="claude-haiku-4-5", input="I am Ada.")
    soon = client.responses.create(
        model="claude-haiku-4-5", previous_response_id=first.id, input="Who am I?"
    )
    assert soon.status == "completed"
    time.sleep(1.6)
    sent = len(anthropic_upstream.requests)
    errors = []
    for previous in (first.id, "resp_never"):
        with pytest.raises(openai.BadRequestError) as refused:
            client.responses.create(
                model="claude-haiku-4-5", previous_response_id=previous, input="again"
            )
        errors.append(refused.value)
    expired, unknown = errors
    assert expired.status_code == unknown.status_code == 400
    assert expired.code == unknown.code == "previous_response_not_found"
    assert expired.param == unknown.param == "previous_response_id"
    assert expired.message == unknown.message.replace("resp_never", first.id)
    assert len(anthropic_upstream.requests) == sent


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
        ),
        ({"background": True}, "background"),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"input": [{"type": "function_call", "call_id": "c", "name": "f"}]}, "input[0].arguments"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
    ],
)
def test_unsupported_or_malformed_requests_are_400s(
    gateway: str, anthropic_upstream: FakeUpstream, fields: dict[str, Any], param: str
) -> None:
    body: dict[str, Any] = {"model": "claude-haiku-4-5", "input": "hi", **fields}
    with pytest.raises(openai.BadRequestError) as error:
        oai(gateway).responses.create(**body)
    assert error.value.param == param
    assert isinstance(error.value.body, dict)
    assert error.value.body["type"] == "invalid_request_error"
    assert anthropic_upstream.requests == []


def test_error_statuses_in_openai_shape(gateway: str, anthropic_upstream: FakeUpstream) -> None:
    client = oai(gateway)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="hi")
    anthropic_upstream.fail(429, retry_after=3)
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model="claude-haiku-4-5", input="hi")
    assert limited.value.response.headers["retry-after"] == "3"
    bad = httpx.post(gateway + "/v1/responses", content=b"{not json")
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    wrong = httpx.get(gateway + "/v1/responses")
    assert wrong.status_code == 405


def test_failure_mid_stream_is_an_error_event_then_response_failed(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.script(Reply(text="one two three four", error_after=4))
    events = list(
        oai(gateway).responses.create(model="claude-haiku-4-5", input="count", stream=True)
    )
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-2:] == ["error", "response.failed"]
    assert "response.completed" not in kinds
    failed = events[-1].response
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.code == "server_error"


def test_thinking_comes_back_as_reasoning_and_returns_signed(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.script(
        Reply(thinking="The user wants a number.", tool_calls=(ToolCall("pick", {"n": 3}),))
    )
    tool = {"type": "function", "name": "pick", "parameters": {"type": "object"}}
    client = oai(gateway)
    first = client.responses.create(model="claude-haiku-4-5", input="pick one", tools=[tool])
    reasoning, call = first.output
    assert reasoning.type == "reasoning"
    assert reasoning.content is not None
    assert reasoning.content[0].text == "The user wants a number."
    assert call.type == "function_call"
    client.responses.create(
        model="claude-haiku-4-5",
        tools=[tool],
        input=[
            {"role": "user", "content": "pick one"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "ok"},
        ],
    )
    thinking, tool_use = anthropic_upstream.last.json["messages"][1]["content"]
    assert thinking == {
        "type": "thinking",
        "thinking": "The user wants a number.",
        "signature": "EqQBCkYIBxgCKkBfakesignature==",
    }
    assert tool_use["type"] == "tool_use" and tool_use["id"] == call.call_id


def test_agent_loop_route_keys_on_the_conversation_header(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream, database_url: str | None
) -> None:
    """``x-tiergate-conversation`` names an agent loop's conversation on ``/v1/responses`` as
    on the chat endpoints: the turns' trace id is the caller's, not a hash of the start."""
    routes = {"agent": {"agent_loop": {"strong": "claude-sonnet-4-6", "cheap": "claude-haiku-4-5"}}}
    gateway = make_gateway(routes=routes, database_url=database_url)
    anthropic_upstream.reply("planned")
    raw = oai(gateway).responses.with_raw_response.create(
        model="agent",
        input="Write a.txt",
        tools=[WEATHER],
        extra_headers={"x-tiergate-conversation": "job-7", "x-tiergate-task": "agent"},
    )
    assert raw.parse().output_text == "planned"
    assert raw.headers["x-tiergate-trace-id"] == "job-7"
    calls = httpx.get(f"{gateway}/v1/tiergate/traces/job-7", timeout=10).json()["calls"]
    assert [c["id"] for c in calls] == [raw.headers["x-tiergate-request-id"]]
