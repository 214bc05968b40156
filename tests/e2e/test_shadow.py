"""Shadow traffic through the real gateway: a route's candidate model gets a sample of its
answered requests after the reply; the client sees only the served answer, the caller's key
pays only for it, and the candidate's answer is logged, linked and compared, on both stores."""

from __future__ import annotations

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
from tests.e2e.test_tenancy import ADMIN, admin, new_key
from tests.fakes.script import FakeUsage, Reply, ToolCall
from tests.fakes.upstream import FakeUpstream

# Served by claude-sonnet-4-6 ($3/$15 per million, the Anthropic fake); every answered request
# is shadowed to gpt-5.4 ($2.50/$15, the OpenAI fake): the candidate costs 0.84x.
ROUTES = {"auto": {"default": "claude-sonnet-4-6", "shadow": {"model": "gpt-5.4", "sample": 1}}}
USAGE = FakeUsage(input_tokens=1000, output_tokens=10)
SERVED_USD = Decimal("0.00315")  # 1000 x $3 + 10 x $15 per million
CANDIDATE_USD = Decimal("0.00265")  # 1000 x $2.50 + 10 x $15 per million


def oai(gateway: str, key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway + "/v1", api_key=key, max_retries=0)


def report(gateway: str, shadows: int, key: str = "x") -> dict[str, Any]:
    """The report once ``shadows`` shadow calls are logged (they finish after the reply)."""
    deadline = time.monotonic() + 10
    while True:
        data = httpx.get(
            gateway + "/v1/tiergate/report", headers={"authorization": f"Bearer {key}"}
        ).json()
        logged = sum(row["shadows"] for row in data["shadows"])
        if logged >= shadows or time.monotonic() > deadline:
            assert logged == shadows, data["shadows"]
            return dict(data)
        time.sleep(0.05)


def test_an_answered_request_is_shadowed_compared_and_priced(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    database_url: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway = make_gateway(routes=ROUTES, database_url=database_url)
    anthropic_upstream.reply("Billing", usage=USAGE)
    openai_upstream.reply("  billing\n", usage=USAGE)  # the same label, spaced and cased apart
    raw = oai(gateway).chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Classify: my invoice is wrong."}],
        stream=False,
    )
    assert raw.parse().choices[0].message.content == "Billing"  # the served answer only
    assert raw.headers["x-tiergate-model"] == "claude-sonnet-4-6"
    assert Decimal(raw.headers["x-tiergate-cost-usd"]) == SERVED_USD

    data = report(gateway, 1)
    assert data["totals"]["requests"] == 1  # spend and mix stay the served traffic's
    assert Decimal(data["totals"]["exact"]["cost_usd"]) == SERVED_USD
    (row,) = data["shadows"]
    assert row["route"] == "auto"
    assert row["served_model"] == "claude-sonnet-4-6" and row["model"] == "gpt-5.4"
    assert row["error_rate"] == 0 and row["compared"] == 1 and row["agreement_rate"] == 1
    assert Decimal(str(row["served_cost_usd"])) == SERVED_USD
    assert Decimal(str(row["candidate_cost_usd"])) == CANDIDATE_USD
    assert row["spend_usd"] == row["candidate_cost_usd"]
    assert row["cost_ratio"] == pytest.approx(2650 / 3150)
    # The candidate got the same conversation, as a plain (non-streamed) call.
    sent = openai_upstream.last.json
    assert sent["messages"] == [{"role": "user", "content": "Classify: my invoice is wrong."}]
    assert not sent.get("stream")

    # `tiergate report` shows the same, as a table for people.
    printed = cli_report([], database_url, tmp_path, monkeypatch)
    assert "shadow traffic" in printed
    line = next(x for x in printed.splitlines() if "gpt-5.4" in x)
    assert "claude-sonnet-4-6" in line and "100.0%" in line and "0.84x" in line


def test_disagreements_and_failed_shadow_calls_are_logged_and_never_reach_the_client(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    gateway = make_gateway(routes=ROUTES, log={"bodies": True})
    anthropic_upstream.default = Reply(text="billing", usage=USAGE)
    openai_upstream.script(Reply(text="shipping", usage=USAGE))
    openai_upstream.fail(500, "candidate is down")
    client = oai(gateway)
    for _ in range(2):
        answer = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "where is my refund?"}]
        )
        assert answer.choices[0].message.content == "billing"
    (row,) = report(gateway, 2)["shadows"]
    assert row["shadows"] == 2 and row["error_rate"] == 0.5
    assert row["compared"] == 1 and row["agreement_rate"] == 0
    # Over the one request the candidate answered: its cost against the served one's.
    assert Decimal(str(row["candidate_cost_usd"])) == CANDIDATE_USD
    assert Decimal(str(row["served_cost_usd"])) == SERVED_USD

    import sqlite3

    db = sqlite3.connect(tmp_path / "tiergate.db")
    rows = db.execute(
        "SELECT s.status, s.error_class, s.agrees, s.response, r.model, r.response "
        "FROM shadows s JOIN requests r ON r.id = s.shadow_of ORDER BY s.ts_ms, s.status"
    ).fetchall()
    assert len(rows) == 2
    assert (200, None, 0, "shipping", "claude-sonnet-4-6", "billing") in rows
    failed = next(r for r in rows if r[0] != 200)
    assert failed[0] == 500 and failed[1] and failed[2] is None and failed[3] is None


def test_a_streamed_answer_is_compared_from_what_was_streamed(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    gateway = make_gateway(routes=ROUTES)
    lookup = ToolCall("lookup", {"order": 42})
    anthropic_upstream.script(
        Reply(text="billing", usage=USAGE), Reply(tool_calls=[lookup], usage=USAGE)
    )
    openai_upstream.script(
        Reply(text="Billing", usage=USAGE), Reply(tool_calls=[ToolCall("lookup", {"order": 7})])
    )
    client = anthropic.Anthropic(base_url=gateway, api_key="x", max_retries=0)
    with client.messages.stream(
        model="auto", max_tokens=20, messages=[{"role": "user", "content": "classify"}]
    ) as stream:
        assert stream.get_final_message().content[0].text == "billing"  # type: ignore[union-attr]
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    chunks = list(
        oai(gateway).chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "find it"}],
            tools=tools,
            stream=True,
        )
    )
    assert any(c.choices and c.choices[0].delta.tool_calls for c in chunks)
    (row,) = report(gateway, 2)["shadows"]
    # The text agreed (case apart); the tool call's arguments did not.
    assert row["compared"] == 2 and row["agreement_rate"] == 0.5
    assert all(not r.json.get("stream") for r in openai_upstream.requests)


def test_the_callers_budget_pays_only_for_its_own_answer(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    gateway = make_gateway(routes=ROUTES, admin_key=ADMIN)
    # $5: the reservation holds Sonnet 4.6's 128K max output ($1.92) until the answer is in.
    key = new_key(gateway, tenant="acme", budget_usd="5")
    anthropic_upstream.reply("billing", usage=USAGE)
    openai_upstream.reply("billing", usage=USAGE)
    oai(gateway, key["key"]).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "classify"}]
    )
    (row,) = report(gateway, 1, key=ADMIN)["shadows"]
    deadline = time.monotonic() + 5
    while True:
        spend = admin(gateway, "GET", f"/admin/keys/{key['id']}/spend").json()
        if Decimal(spend["spent_usd"]) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert Decimal(spend["spent_usd"]) == SERVED_USD  # not SERVED_USD + CANDIDATE_USD
    tenant = report(gateway, 1, key=key["key"])["shadows"]  # the tenant sees its shadows
    assert tenant == [row]


def test_past_max_in_flight_requests_are_not_shadowed(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    routes = {
        "auto": {
            "default": "claude-sonnet-4-6",
            "shadow": {"model": "gpt-5.4", "sample": 1, "max_in_flight": 1},
        }
    }
    gateway = make_gateway(routes=routes)
    anthropic_upstream.default = Reply(text="billing", usage=USAGE)
    openai_upstream.default = Reply(text="billing", usage=USAGE, delay=1.5)  # a slow candidate
    client = oai(gateway)
    for _ in range(3):  # all three answered while the first shadow call still runs
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}])
    metrics = httpx.get(gateway + "/metrics").text
    assert "tiergate_shadow_launched_total 1.0" in metrics
    assert "tiergate_shadow_skipped_total 2.0" in metrics
    (row,) = report(gateway, 1)["shadows"]
    assert row["shadows"] == 1 and row["agreement_rate"] == 1
    assert len(openai_upstream.requests) == 1


def test_a_route_without_shadow_calls_no_candidate(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    gateway = make_gateway(routes={"auto": {"default": "claude-sonnet-4-6"}})
    anthropic_upstream.reply("billing", usage=USAGE)
    oai(gateway).chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}])
    time.sleep(0.3)
    assert openai_upstream.requests == []
    assert httpx.get(gateway + "/v1/tiergate/report").json()["shadows"] == []
    assert "tiergate_shadow" not in httpx.get(gateway + "/metrics").text


def test_the_dashboard_shows_shadow_traffic(
    make_gateway: Callable[..., str],
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    tmp_path: Path,
) -> None:
    from tests.e2e.test_dashboard import _chromium

    gateway = make_gateway(routes=ROUTES)
    anthropic_upstream.reply("billing", usage=USAGE)
    openai_upstream.reply("billing", usage=USAGE)
    oai(gateway).chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}])
    report(gateway, 1)
    dom = _chromium(["--dump-dom", gateway + "/dashboard"], tmp_path / "profile").stdout
    assert 'data-loaded="1"' in dom
    card = dom[dom.index('id="shadow-card"') :]
    assert card.split(">", 1)[0].count("hidden") == 0  # shown: there is shadow traffic
    assert "<td>claude-sonnet-4-6</td><td>gpt-5.4</td><td>1</td><td>100.0%</td>" in card
    assert "<td>0.84x</td>" in card
