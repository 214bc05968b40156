"""The official SDKs, pointed at tiergate, served by fake upstreams of either format."""

from __future__ import annotations

import base64

import anthropic
import openai
import pytest

from tests.fakes.script import FakeUsage, Reply, ToolCall
from tests.fakes.upstream import FakeUpstream


def oai(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)


def ant(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)


# --- same format ------------------------------------------------------------------------------


def test_openai_client_openai_upstream(gateway: str, openai_upstream: FakeUpstream) -> None:
    openai_upstream.reply("hello there", usage=FakeUsage(input_tokens=12, output_tokens=3))
    raw = oai(gateway).chat.completions.with_raw_response.create(
        model="gpt-5.4", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens == 12
    assert raw.headers["x-tiergate-model"] == "gpt-5.4"
    assert raw.headers["x-tiergate-request-id"].startswith("req_")
    assert raw.headers["x-tiergate-attempts"] == "1"
    # gpt-5.4: $2.50 / $15 per million -> 12 * 2.5 + 3 * 15 = 75 micro-dollars
    assert raw.headers["x-tiergate-cost-usd"] == "0.000075"
    sent = openai_upstream.last
    assert sent.header("authorization") == "Bearer sk-openai-upstream-secret"
    assert sent.json["messages"] == [{"role": "user", "content": "hi"}]


def test_anthropic_client_anthropic_upstream(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply("bonjour", usage=FakeUsage(input_tokens=1000, output_tokens=100))
    raw = ant(gateway).messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "salut"}]
    )
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "bonjour"
    assert message.usage.input_tokens == 1000
    assert raw.headers["x-tiergate-model"] == "claude-haiku-4-5"
    assert raw.headers["x-tiergate-cost-usd"] == "0.0015"  # 1000*$1 + 100*$5 per million
    sent = anthropic_upstream.last
    assert sent.json["model"] == "claude-haiku-4-5-20251001"  # alias pinned to the snapshot
    assert sent.header("x-api-key") == "sk-ant-upstream-secret"
    assert sent.header("anthropic-version")


def test_anthropic_beta_header_is_passed_through(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(
        model="claude-haiku-4-5",
        max_tokens=5,
        messages=[{"role": "user", "content": "x"}],
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    )
    assert anthropic_upstream.last.header("anthropic-beta") == "context-1m-2025-08-07"


# --- cross format, both ways, streaming too --------------------------------------------------


def test_openai_client_served_by_anthropic_upstream_streaming(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply("one two three", usage=FakeUsage(input_tokens=7, output_tokens=3))
    stream = oai(gateway).chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    finish = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finish == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    sent = anthropic_upstream.last.json
    assert (
        sent["system"][0]["text"] == "be brief"
        if isinstance(sent["system"], list)
        else sent["system"] == "be brief"
    )
    assert sent["stream"] is True


def test_anthropic_client_served_by_openai_upstream_streaming(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.reply("alpha beta", usage=FakeUsage(input_tokens=9, output_tokens=2))
    with ant(gateway).messages.stream(
        model="gpt-5.4", max_tokens=20, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "alpha beta"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 2
    assert openai_upstream.last.json["stream_options"] == {"include_usage": True}


def test_anthropic_client_served_by_openai_upstream(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.reply("plain", usage=FakeUsage(input_tokens=4, output_tokens=1, cache_read=6))
    message = ant(gateway).messages.create(
        model="gpt-5.4", max_tokens=20, system="sys", messages=[{"role": "user", "content": "q"}]
    )
    assert message.content[0].text == "plain"  # type: ignore[union-attr]
    assert message.usage.input_tokens == 4
    assert message.usage.cache_read_input_tokens == 6
    assert openai_upstream.last.json["messages"][0] == {"role": "system", "content": "sys"}


# --- async clients ---------------------------------------------------------------------------


async def test_async_clients(
    gateway: str, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> None:
    async_oai = openai.AsyncOpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    async_ant = anthropic.AsyncAnthropic(base_url=gateway, api_key="x", max_retries=0)
    anthropic_upstream.reply("from claude")
    openai_upstream.reply("from gpt")
    completion = await async_oai.chat.completions.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "a"}]
    )
    message = await async_ant.messages.create(
        model="gpt-5.4", max_tokens=10, messages=[{"role": "user", "content": "b"}]
    )
    assert completion.choices[0].message.content == "from claude"
    assert message.content[0].text == "from gpt"  # type: ignore[union-attr]
    anthropic_upstream.reply("streamed async")
    async with async_ant.messages.stream(
        model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "c"}]
    ) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert text == "streamed async"
    await async_oai.close()
    await async_ant.close()


# --- tools -----------------------------------------------------------------------------------

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_round_trip_openai_client_anthropic_upstream(
    gateway: str, anthropic_upstream: FakeUpstream, stream: bool
) -> None:
    client = oai(gateway)
    anthropic_upstream.script(Reply(tool_calls=(ToolCall("get_weather", {"city": "Paris"}),)))
    messages: list[dict[str, object]] = [{"role": "user", "content": "weather in Paris?"}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                model="claude-haiku-4-5", messages=messages, tools=[WEATHER_TOOL], stream=True
            )
        )
        calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        call_id = calls[0].id
        name = calls[0].function.name  # type: ignore[union-attr]
        arguments = "".join(tc.function.arguments or "" for tc in calls if tc.function)
        finish = [
            c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
        ]
        assert finish == ["tool_calls"]
    else:
        completion = client.chat.completions.create(
            model="claude-haiku-4-5", messages=messages, tools=[WEATHER_TOOL]
        )
        assert completion.choices[0].finish_reason == "tool_calls"
        call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
        call_id, name, arguments = call.id, call.function.name, call.function.arguments  # type: ignore[union-attr]
    assert name == "get_weather"
    assert __import__("json").loads(arguments) == {"city": "Paris"}
    sent_tools = anthropic_upstream.last.json["tools"]
    assert sent_tools[0]["name"] == "get_weather"
    assert sent_tools[0]["input_schema"]["required"] == ["city"]

    anthropic_upstream.reply("It is sunny in Paris.")
    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "sunny, 21C"},
    ]
    final = client.chat.completions.create(
        model="claude-haiku-4-5", messages=messages, tools=[WEATHER_TOOL]
    )
    assert final.choices[0].message.content == "It is sunny in Paris."
    sent = anthropic_upstream.last.json["messages"]
    assert sent[1]["role"] == "assistant"
    assert sent[1]["content"][-1]["type"] == "tool_use" and sent[1]["content"][-1]["id"] == call_id
    result = sent[2]["content"][0]
    assert result["type"] == "tool_result" and result["tool_use_id"] == call_id


def test_tool_use_anthropic_client_openai_upstream(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    openai_upstream.script(Reply(tool_calls=(ToolCall("lookup", {"id": 7}),)))
    message = ant(gateway).messages.create(
        model="gpt-5.4",
        max_tokens=100,
        tools=[{"name": "lookup", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "find 7"}],
    )
    assert message.stop_reason == "tool_use"
    block = message.content[-1]
    assert block.type == "tool_use" and block.input == {"id": 7}
    assert openai_upstream.last.json["tools"][0]["function"]["name"] == "lookup"


# --- images ----------------------------------------------------------------------------------

PNG_1PX = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def test_image_input_openai_client_to_anthropic_upstream(
    gateway: str, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply("a single pixel")
    completion = oai(gateway).chat.completions.create(
        model="claude-haiku-4-5",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}"}},
                ],
            }
        ],
    )
    assert completion.choices[0].message.content == "a single pixel"
    image = anthropic_upstream.last.json["messages"][0]["content"][1]
    assert image == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG_1PX},
    }


def test_image_url_anthropic_client_to_openai_upstream(
    gateway: str, openai_upstream: FakeUpstream
) -> None:
    ant(gateway).messages.create(
        model="gpt-5.4",
        max_tokens=10,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/cat.png"},
                    },
                    {"type": "text", "text": "describe"},
                ],
            }
        ],
    )
    parts = openai_upstream.last.json["messages"][0]["content"]
    assert {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}} in parts


# --- models / health / count_tokens -----------------------------------------------------------


def test_models_list_both_sdks(gateway: str) -> None:
    ids = {m.id for m in oai(gateway).models.list()}
    assert {"claude-haiku-4-5", "gpt-5.4"} <= ids
    ant_ids = {m.id for m in ant(gateway).models.list()}
    assert ant_ids == ids


def test_count_tokens_is_an_estimate(gateway: str) -> None:
    raw = ant(gateway).messages.with_raw_response.count_tokens(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "hello " * 100}]
    )
    assert raw.headers["x-tiergate-token-count"] == "estimate"
    assert 100 <= raw.parse().input_tokens <= 300
