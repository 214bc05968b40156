"""Multi-call routes through the real gateway: fan-out (planner, parallel workers, composer)
and draft-then-review, with the official SDKs as clients and the Anthropic fake as every model.

Each inner call must be a logged, priced row under the client request's trace id; the trace
read back (``GET /v1/tiergate/traces/{id}``) must sum to its calls' costs, and the workers'
logged start and end times must overlap (they ran in parallel).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.e2e.gateway_fixtures import cli_report
from tests.fakes.script import Fail, FakeUsage, Reply
from tests.fakes.upstream import FakeUpstream

HAIKU, SONNET = "claude-haiku-4-5", "claude-sonnet-4-6"  # $1/$5 and $3/$15 per million
ROUTES = {
    "research": {
        "type": "fanout",
        "fanout": {"planner": SONNET, "workers": [HAIKU, SONNET], "max_parallel": 3},
    },
    "drafts": {"draft_review": {"drafter": HAIKU, "reviewer": SONNET, "drafts": 3}},
}
PLAN = (
    '{"subtasks": [{"id": "a", "prompt": "part A"}, {"id": "b", "prompt": "part B"},'
    ' {"id": "c", "prompt": "part C"}]}'
)


def trace(gateway: str, trace_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{gateway}/v1/tiergate/traces/{trace_id}", timeout=10)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def usd(value: str | None) -> Decimal:
    assert value is not None
    return Decimal(value)


def test_fanout_runs_workers_in_parallel_and_prices_the_trace(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    database_url: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway = make_gateway(routes=ROUTES, database_url=database_url)
    anthropic_upstream.script(
        Reply(text=PLAN, usage=FakeUsage(200, 50)),
        *[Reply(delay=0.5, usage=FakeUsage(100, 40)) for _ in range(3)],  # echo the subtask
        Reply(text="Composed: A, B and C.", usage=FakeUsage(300, 60)),
    )
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="research", messages=[{"role": "user", "content": "Research A, B and C."}]
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == "Composed: A, B and C."
    trace_id = raw.headers["x-tiergate-trace-id"]
    assert trace_id == raw.headers["x-tiergate-request-id"]
    # The workers got the subtasks; the composer got the workers' answers.
    sent = [r.json for r in anthropic_upstream.requests]
    assert len(sent) == 5 and anthropic_upstream.pending == 0
    worker_prompts = sorted(s["messages"][-1]["content"][0]["text"] for s in sent[1:4])
    assert worker_prompts == ["part A", "part B", "part C"]
    assert {s["model"] for s in sent[1:4]} == {"claude-haiku-4-5-20251001"}
    composed = str(sent[4]["messages"])
    assert all(f"echo: part {x}" in composed for x in "ABC")

    data = trace(gateway, trace_id)
    calls = data["calls"]
    assert len(calls) == 5 and all(c["status"] == 200 for c in calls)
    assert calls[-1]["id"] == trace_id  # the composer's row is the client request's
    workers = [c for c in calls if "worker" in (c["reason"] or "")]
    assert len(workers) == 3 and {c["model"] for c in workers} == {HAIKU}
    # Parallel: every worker started before any worker ended.
    assert max(c["started_ms"] for c in workers) < min(c["ended_ms"] for c in workers)
    # Priced per call at catalog prices; the trace is their sum.
    expected = [Decimal("0.00135"), *[Decimal("0.0003")] * 3, Decimal("0.0018")]
    by_role = sorted(calls, key=lambda c: ("planner" not in c["reason"], "composer" in c["reason"]))
    assert [usd(c["cost_usd"]) for c in by_role] == expected
    assert usd(data["cost_usd"]) == sum(usd(c["cost_usd"]) for c in calls) == Decimal("0.00405")
    # All on the planner (Sonnet): each worker's answer would cost $0.0009.
    assert usd(data["baseline_cost_usd"]) == Decimal("0.00585")
    # The same trace from the command line, on the same store.
    printed = cli_report(["--trace", trace_id, "--json"], database_url, tmp_path, monkeypatch)
    assert json.loads(printed) == data


def test_fanout_failing_worker_retries_then_escalates_alone_and_streams(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    routes = {"research": {"fanout": {**ROUTES["research"]["fanout"], "max_parallel": 1}}}
    gateway = make_gateway(routes=routes)
    anthropic_upstream.script(
        Reply(text='{"subtasks": [{"id": "a", "prompt": "part A"}, {"prompt": "part B"}]}'),
        Fail(500),  # subtask a on Haiku
        Fail(500),  # ... its one retry there
        Reply(delay=0.3),  # ... escalated to Sonnet
        Reply(delay=0.3),  # subtask b (its id defaults to s2), on Haiku at once
        Reply(text="Composed, streamed."),
    )
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    with client.messages.stream(
        model="research", max_tokens=200, messages=[{"role": "user", "content": "A and B"}]
    ) as stream:
        text = "".join(stream.text_stream)
        trace_id = stream.response.headers["x-tiergate-trace-id"]
    assert text == "Composed, streamed."
    sent = [r.json["model"] for r in anthropic_upstream.requests]
    haiku, sonnet = "claude-haiku-4-5-20251001", "claude-sonnet-4-6"
    assert sent == [sonnet, haiku, haiku, sonnet, haiku, sonnet]
    calls = trace(gateway, trace_id)["calls"]
    reasons = [(c["reason"], c["status"]) for c in calls]
    assert ("fanout research: worker a (1/2) on claude-haiku-4-5", 500) in reasons
    assert ("fanout research: worker a (1/2) on claude-haiku-4-5, retry 1", 500) in reasons
    assert ("fanout research: worker a (1/2) on claude-sonnet-4-6, escalated", 200) in reasons
    assert ("fanout research: worker s2 (2/2) on claude-haiku-4-5", 200) in reasons
    assert len(calls) == 6
    # One worker at a time (max_parallel: 1): each starts after the one before it ended.
    workers = sorted((c for c in calls if "worker" in c["reason"]), key=lambda c: c["started_ms"])
    for before, after in itertools.pairwise(workers):
        assert after["started_ms"] >= before["ended_ms"] - 50, workers


def test_fanout_plan_that_is_not_json_is_a_clear_error(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    gateway = make_gateway(routes=ROUTES)
    anthropic_upstream.script(Reply(text="Sure! First, I would..."))
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(
            model="research", messages=[{"role": "user", "content": "go"}]
        )
    assert caught.value.status_code == 502
    assert "not JSON" in str(caught.value.body)


@pytest.mark.parametrize("stream", [False, True])
def test_draft_review_logs_n_plus_one_calls_and_names_the_winner(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream, stream: bool
) -> None:
    gateway = make_gateway(routes=ROUTES)
    anthropic_upstream.script(
        *[Reply(text=f"Draft text {x}.", usage=FakeUsage(50, 20)) for x in "XYZ"],
        Reply(text='{"winner": 2}', usage=FakeUsage(400, 8)),
    )
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    messages: Any = [{"role": "user", "content": "Write a tagline."}]
    if stream:
        raw = client.chat.completions.with_raw_response.create(
            model="drafts", messages=messages, stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    else:
        raw = client.chat.completions.with_raw_response.create(model="drafts", messages=messages)
        text = raw.parse().choices[0].message.content or ""
    assert raw.headers["x-tiergate-draft-winner"] == "2"
    # Draft 2 is whichever answer the reviewer was shown second (the drafts ran in parallel).
    shown = anthropic_upstream.requests[-1].json["messages"][-1]["content"][0]["text"]
    second = shown.split("## Draft 2\n", 1)[1].split("\n\n", 1)[0]
    assert text == second and second.startswith("Draft text ")
    data = trace(gateway, raw.headers["x-tiergate-trace-id"])
    calls = data["calls"]
    assert len(calls) == 4  # N drafts + the reviewer
    assert sorted(c["model"] for c in calls) == [HAIKU, HAIKU, HAIKU, SONNET]
    assert calls[-1]["reason"] == "draft_review drafts: pick: draft 2 of 3 won"
    assert usd(data["cost_usd"]) == sum(usd(c["cost_usd"]) for c in calls)
    # 3 drafts at $0.00015 each, the review at $0.00132.
    assert usd(data["cost_usd"]) == Decimal("0.00177")


def test_fanout_runs_under_the_callers_budget(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    """Each inner call is admitted against the caller's key: once the planner has spent most
    of a $0.02 budget, the workers (each reserving ~$0.005 at 1,000 tokens on Haiku) cannot
    all run, and the request ends in the caller's 429, with nothing left reserved."""
    from tests.e2e.test_tenancy import ADMIN, admin, new_key

    routes = {"research": {"fanout": {**ROUTES["research"]["fanout"], "worker_max_tokens": 1000}}}
    gateway = make_gateway(routes=routes, admin_key=ADMIN)
    key = new_key(gateway, tenant="acme", budget_usd="0.02", budget_period="day")
    anthropic_upstream.script(Reply(text=PLAN, usage=FakeUsage(10, 1000)))  # $0.01503
    anthropic_upstream.default = Reply(usage=FakeUsage(10, 5))
    client = openai.OpenAI(base_url=gateway + "/v1", api_key=key["key"], max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="research",
            max_tokens=1000,
            messages=[{"role": "user", "content": "Research A, B and C."}],
        )
    assert "budget" in str(caught.value)
    assert len(anthropic_upstream.requests) < 4  # the planner and at most some workers ran
    deadline = time.monotonic() + 5
    while True:
        spend = admin(gateway, "GET", f"/admin/keys/{key['id']}/spend").json()
        if Decimal(spend["reserved_usd"]) == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert Decimal(spend["reserved_usd"]) == 0
    assert Decimal("0.015") < Decimal(spend["spent_usd"]) <= Decimal("0.02")


def test_inner_calls_pass_the_routes_cost_cap(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream, database_url: str | None
) -> None:
    """The route's ``max_cost_usd`` applies to every inner call, as to a single-call route's
    model: at 1,000 output tokens the Sonnet reviewer (~$0.015) is over a $0.01 cap, so the
    cheapest capable model (Haiku, ~$0.005) reviews, and the reason says why."""
    routes = {"drafts": {**ROUTES["drafts"], "max_cost_usd": 0.01}}
    gateway = make_gateway(routes=routes, database_url=database_url)
    anthropic_upstream.script(
        *[Reply(text=f"Draft {x}.") for x in "XYZ"], Reply(text='{"winner": 1}')
    )
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="drafts", max_tokens=1000, messages=[{"role": "user", "content": "A tagline."}]
    )
    assert raw.parse().choices[0].message.content
    assert {r.json["model"] for r in anthropic_upstream.requests} == {"claude-haiku-4-5-20251001"}
    calls = trace(gateway, raw.headers["x-tiergate-trace-id"])["calls"]
    assert [c["model"] for c in calls] == [HAIKU] * 4
    review = calls[-1]["reason"]
    assert "claude-sonnet-4-6 estimate $" in review and "over cap $0.01" in review, review


def test_inner_call_in_an_outage_gets_the_routes_fallback(
    make_gateway: Callable[..., str], anthropic_upstream: FakeUpstream
) -> None:
    """A reviewer whose model fails as an outage does (503) is answered in the same call by
    the route's cheapest capable fallback model, as a single-call route's request is."""
    gateway = make_gateway(routes=ROUTES)
    anthropic_upstream.script(
        *[Reply(text=f"Draft {x}.") for x in "XYZ"], Fail(503), Reply(text='{"winner": 3}')
    )
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="drafts", messages=[{"role": "user", "content": "A tagline."}]
    )
    assert raw.headers["x-tiergate-draft-winner"] == "3"
    sent = [r.json["model"] for r in anthropic_upstream.requests]
    assert sent[3:] == ["claude-sonnet-4-6", "claude-haiku-4-5-20251001"]
    calls = trace(gateway, raw.headers["x-tiergate-trace-id"])["calls"]
    assert calls[-1]["model"] == HAIKU
    assert "claude-sonnet-4-6 failed (503), fallback claude-haiku-4-5" in calls[-1]["reason"]
