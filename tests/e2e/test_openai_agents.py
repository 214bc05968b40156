"""The OpenAI Agents SDK with its default model settings (the Responses API) through tiergate.

A tool-using agent runs to its final answer, plain (``Runner.run``) and streamed
(``Runner.run_streamed``), served by the fake Anthropic and the fake OpenAI upstream. The SDK
picks its model the default way (``OpenAIProvider``: Responses API); only the client's base
URL points at the gateway. Its tracing export (an HTTPS call to OpenAI) is switched off.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agents import (
    Agent,
    OpenAIProvider,
    RunConfig,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from tests.fakes.script import FakeUsage, Reply, ToolCall
from tests.fakes.upstream import FakeUpstream

MODELS = ["claude-haiku-4-5", "gpt-5.4"]

set_tracing_disabled(True)  # before any run: the exporter would call api.openai.com


@pytest.fixture(autouse=True)
def no_tracing() -> Iterator[None]:
    set_tracing_disabled(True)  # again, in case another test switched it back on
    yield


@function_tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"{city}: sunny, 21 C"


def agent_and_config(gateway: str, model: str) -> tuple[Agent, RunConfig]:
    client = AsyncOpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    agent = Agent(
        name="forecaster",
        instructions="Answer weather questions with the get_weather tool.",
        model=model,
        tools=[get_weather],
    )
    return agent, RunConfig(model_provider=OpenAIProvider(openai_client=client))


def script(upstream: FakeUpstream) -> None:
    upstream.script(
        Reply(tool_calls=(ToolCall("get_weather", {"city": "Paris"}),)),
        Reply(text="It is sunny in Paris.", usage=FakeUsage(input_tokens=40, output_tokens=6)),
    )


def pick(model: str, anthropic: FakeUpstream, openai: FakeUpstream) -> FakeUpstream:
    return anthropic if model.startswith("claude") else openai


def formats_logged(data_dir: Path, count: int) -> list[str]:
    """The client format of each logged request, once ``count`` rows have landed."""
    deadline = time.monotonic() + 10
    with sqlite3.connect(data_dir / "tiergate.db") as db:
        while True:
            rows = db.execute("SELECT client_format FROM requests ORDER BY ts_ms").fetchall()
            if len(rows) >= count or time.monotonic() > deadline:
                return [row[0] for row in rows]
            time.sleep(0.05)


def check_tool_result_went_back(upstream: FakeUpstream, model: str) -> None:
    """The second model call carries the tool's call and its output, in the upstream's format."""
    assert len(upstream.requests) == 2
    sent = upstream.last.json
    if model.startswith("claude"):
        assert sent["system"][0]["text"].startswith("Answer weather questions")
        call = sent["messages"][1]["content"][0]
        assert call["type"] == "tool_use" and call["input"] == {"city": "Paris"}
        result = sent["messages"][2]["content"][0]
        assert result["type"] == "tool_result" and result["tool_use_id"] == call["id"]
        assert result["content"][0]["text"] == "Paris: sunny, 21 C"
    else:
        assert sent["messages"][0]["role"] == "system"
        call = sent["messages"][2]["tool_calls"][0]
        assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
        assert sent["messages"][3] == {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": "Paris: sunny, 21 C",
        }
    assert sent["tools"]


@pytest.mark.parametrize("model", MODELS)
async def test_agent_runs_a_tool_through_responses_api(
    gateway: str,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    model: str,
    tmp_path: Path,
) -> None:
    upstream = pick(model, anthropic_upstream, openai_upstream)
    script(upstream)
    agent, config = agent_and_config(gateway, model)
    result = await Runner.run(agent, "What is the weather in Paris?", run_config=config)
    assert result.final_output == "It is sunny in Paris."
    kinds = [item.type for item in result.new_items]
    assert kinds == ["tool_call_item", "tool_call_output_item", "message_output_item"]
    assert result.context_wrapper.usage.requests == 2
    assert result.context_wrapper.usage.output_tokens > 0
    check_tool_result_went_back(upstream, model)
    assert formats_logged(tmp_path, 2) == ["responses", "responses"]


@pytest.mark.parametrize("model", MODELS)
async def test_agent_runs_a_tool_streamed(
    gateway: str,
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    model: str,
    tmp_path: Path,
) -> None:
    upstream = pick(model, anthropic_upstream, openai_upstream)
    script(upstream)
    agent, config = agent_and_config(gateway, model)
    result = Runner.run_streamed(agent, "What is the weather in Paris?", run_config=config)
    raw: list[str] = []
    items: list[str] = []
    async for event in result.stream_events():
        if event.type == "raw_response_event":
            raw.append(event.data.type)
        elif event.type == "run_item_stream_event":
            items.append(event.item.type)
    assert result.final_output == "It is sunny in Paris."
    assert items == ["tool_call_item", "tool_call_output_item", "message_output_item"]
    assert raw.count("response.completed") == 2
    assert "response.function_call_arguments.delta" in raw
    assert "response.output_text.delta" in raw
    assert all(request.json["stream"] is True for request in upstream.requests)
    check_tool_result_went_back(upstream, model)
    assert formats_logged(tmp_path, 2) == ["responses", "responses"]
