"""``import tiergate``: the three cheap-worker routes from Python, against a running gateway
and against one started in process (``tiergate.serve``), as ``docs/recipes.md`` shows."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tiergate
from tests.fakes.script import FakeUsage, Reply, ToolCall
from tests.fakes.upstream import FakeUpstream

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-6"
ROUTES: dict[str, Any] = {
    "research": {"fanout": {"planner": SONNET, "workers": [HAIKU]}},
    "drafts": {"draft_review": {"drafter": HAIKU, "reviewer": SONNET, "drafts": 2}},
    "agent": {"agent_loop": {"strong": SONNET, "cheap": HAIKU}},
}
WRITE = {
    "type": "function",
    "function": {
        "name": "write",
        "parameters": {
            "type": "object",
            "required": ["path"],
            "properties": {"path": {"type": "string"}},
        },
    },
}


def run_recipes(gw: tiergate.Client, upstream: FakeUpstream) -> None:
    upstream.script(
        Reply(text='{"subtasks": [{"prompt": "one"}, {"prompt": "two"}]}'),
        Reply(),
        Reply(),
        Reply(text="Both parts, composed.", usage=FakeUsage(100, 10)),
    )
    fanned = gw.chat("research", "Do one and two.")
    assert fanned.text == "Both parts, composed." and fanned.trace_id == fanned.request_id
    trace = gw.trace(fanned.trace_id or "")
    assert len(trace["calls"]) == 4
    assert Decimal(trace["cost_usd"]) < Decimal(trace["baseline_cost_usd"])

    upstream.script(Reply(text="first"), Reply(text="second"), Reply(text='{"winner": 1}'))
    reviewed = gw.chat("drafts", "A tagline, please.")
    assert reviewed.draft_winner == 1 and reviewed.text in ("first", "second")
    assert len(gw.trace(reviewed.trace_id or "")["calls"]) == 3

    # An agent loop, one turn at a time: plan on the strong model, the step on the cheap one.
    upstream.script(
        Reply(tool_calls=(ToolCall("write", {"path": "a.txt"}, id="call_1"),)),
        Reply(text="done"),
    )
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Write a.txt"}]
    planned = gw.chat("agent", messages, tools=[WRITE], conversation="job-1")
    assert planned.model == SONNET and planned.trace_id == "job-1"
    messages += [
        planned.body["choices"][0]["message"],
        {"role": "tool", "tool_call_id": planned.tool_calls[0]["id"], "content": "ok"},
    ]
    step = gw.chat("agent", messages, tools=[WRITE], conversation="job-1")
    assert step.model == HAIKU and step.text == "done"
    assert step.reason is not None and "tool-loop turn" in step.reason
    assert len(gw.trace("job-1")["calls"]) == 2

    with pytest.raises(tiergate.GatewayHTTPError) as caught:
        gw.trace("no-such-trace")
    assert caught.value.status == 404


def test_against_a_running_gateway(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    run_recipes(tiergate.Client(make_gateway(routes=ROUTES)), anthropic_upstream)


def test_in_process(anthropic_upstream: FakeUpstream, tmp_path: Path) -> None:
    deployment = {"provider": "anthropic", "base_url": anthropic_upstream.url, "api_key": "k"}
    config = {
        "deployments": [
            {"name": "haiku", "model": HAIKU, **deployment},
            {"name": "sonnet", "model": SONNET, **deployment},
        ],
        "routes": ROUTES,
        "data_dir": str(tmp_path),
    }
    with tiergate.serve(config) as gw:
        run_recipes(gw, anthropic_upstream)
