"""A guarded rollout on two gateway replicas sharing one PostgreSQL database.

The candidate (gpt-5.4, the fake OpenAI server) ramps 20% -> 50% -> 100% of route ``auto``
in steps of 12 requests, each user staying on the candidate once moved; then the fake starts
failing, and the guard (error rate over 25% in a 4 s window, after 6 calls) rolls the share
back to 0 within that window, once, whichever replica saw it first; both replicas then serve
everyone with the incumbent. Every change is one event with its reason; ``tiergate rollout``
reads and resumes the same state. Bounded: about 10 seconds."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from click.testing import CliRunner

from tests.e2e.gateway_fixtures import gateway_settings
from tests.fakes.script import Fail, Reply
from tests.fakes.upstream import FakeUpstream
from tests.store.conftest import _fresh_postgres_url
from tiergate.routing.rollout import BUCKETS, rollout_bucket
from tiergate.types import ChatRequest

WINDOW_S = 4.0
ROUTES = {
    "auto": {
        "default": "claude-sonnet-4-6",
        "rollout": {
            "model": "gpt-5.4",
            "ramp": {"steps": [20, 50, 100], "every": 12},
            "guard": {
                "max_error_rate": 0.25,
                "min_requests": 6,
                "window": f"{WINDOW_S:g}s",
                "check_every": "100ms",
            },
        },
    }
}
USERS = [f"user-{i}" for i in range(24)]
_PERCENT = re.compile(
    r'tiergate_rollout_percent\{model="gpt-5.4",route="auto",state="(\w+)"\} ([\d.]+)'
)
_EVENTS = re.compile(r'tiergate_rollout_events_total\{kind="(\w+)",route="auto"\} ([\d.]+)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _fresh_postgres_url()


def share(gateway: str) -> tuple[str, float]:
    found = _PERCENT.search(httpx.get(gateway + "/metrics").text)
    assert found, "no rollout gauge"
    return found.group(1), float(found.group(2))


def made(gateways: list[str], kind: str) -> int:
    """Changes of ``kind`` made by all replicas together (each counts its own)."""
    total = 0.0
    for gateway in gateways:
        for event_kind, count in _EVENTS.findall(httpx.get(gateway + "/metrics").text):
            total += float(count) if event_kind == kind else 0
    return int(total)


def moved(user: str, percent: float) -> bool:
    request = ChatRequest(model="auto", messages=[], metadata={"user_id": user})
    return rollout_bucket(request) < percent * BUCKETS / 100


class Traffic:
    """Requests from the users, round robin over users and replicas, as they were served."""

    def __init__(self, gateways: list[str]) -> None:
        self.clients = [
            openai.OpenAI(base_url=g + "/v1", api_key="x", max_retries=0) for g in gateways
        ]
        self.served: list[tuple[int, str, str, float | None]] = []  # replica, user, model, %
        self.n = 0

    def send(self) -> str:
        replica, user = self.n % len(self.clients), USERS[self.n % len(USERS)]
        self.n += 1
        raw = self.clients[replica].chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "hi"}], user=user
        )
        model, reason = raw.headers["x-tiergate-model"], raw.headers["x-tiergate-reason"]
        found = re.match(r"rollout ([\d.]+)% -> gpt-5.4", reason)
        self.served.append((replica, user, model, float(found.group(1)) if found else None))
        return model

    def until(self, done: Callable[[], bool], seconds: float) -> float:
        started = time.monotonic()
        while not done():
            assert time.monotonic() - started < seconds, "timed out"
            self.send()
        return time.monotonic() - started


def test_two_replicas_ramp_in_steps_and_roll_back_once_when_the_candidate_fails(
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    make_gateway: Callable[..., str],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    anthropic_upstream.default = Reply(text="from sonnet")
    openai_upstream.default = Reply(text="from gpt")
    settings: dict[str, Any] = {
        "routes": ROUTES,
        "database_url": postgres_url,
        "log": {"flush_interval": 0.05},
    }
    gateways = [make_gateway(**settings), make_gateway(**settings)]
    assert [share(g) for g in gateways] == [("ramping", 20.0)] * 2  # started once, read by both
    traffic = Traffic(gateways)

    # Ramp: 20% -> 50% -> 100%, a step every 12 requests of the route (both replicas').
    traffic.until(lambda: all(share(g) == ("ramping", 100.0) for g in gateways), 20)
    ramped = len(traffic.served)
    for _ in range(6):
        assert traffic.send() == "gpt-5.4"  # everyone, on both replicas
    for replica in range(2):  # each replica: a user once moved stays on the candidate
        on_candidate: set[str] = set()
        for served_by, user, model, percent in traffic.served:
            if served_by != replica:
                continue
            if model == "gpt-5.4":
                assert percent is not None and moved(user, percent)
                on_candidate.add(user)
            else:
                assert user not in on_candidate, f"{user} moved back on replica {replica}"
        shares = [p for r, _, _, p in traffic.served if p is not None and r == replica]
        assert shares == sorted(shares)  # one replica's share only grows while ramping
    assert {20.0, 50.0, 100.0} <= {p for _, _, _, p in traffic.served}
    assert made(gateways, "start") == 1 and made(gateways, "step") == 2

    # The candidate starts failing: the guard rolls back within its window.
    openai_upstream.default = Fail(500, "candidate broke")
    failing_from = time.monotonic()
    traffic.until(lambda: any(share(g)[1] == 0 for g in gateways), WINDOW_S)
    rolled_back_after = time.monotonic() - failing_from
    assert rolled_back_after < WINDOW_S
    print(
        f"ramped in {ramped} requests; rolled back {rolled_back_after:.2f}s "
        f"after the candidate started failing"
    )
    traffic.until(lambda: all(share(g) == ("rolled_back", 0.0) for g in gateways), 1)
    assert made(gateways, "rollback") == 1  # once, though both replicas check
    before = len(traffic.served)
    for _ in range(12):  # both replicas now serve everyone with the incumbent
        assert traffic.send() == "claude-sonnet-4-6"
    assert all(p is None for _, _, _, p in traffic.served[before:])

    # `tiergate rollout` (same store as serve, through --config) shows the history, resumes.
    config = tmp_path / "tiergate.yaml"
    raw = gateway_settings(anthropic_upstream, openai_upstream, tmp_path, **settings)
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": postgres_url,
                "routes": ROUTES,
                "deployments": [dict(d) for d in raw.deployments],
            }
        )
    )
    from tiergate.cli.main import main

    runner = CliRunner()
    status = runner.invoke(main, ["rollout", "status", "--json", "--config", str(config)])
    assert status.exit_code == 0, status.output
    (state,) = json.loads(status.output)["rollouts"]
    assert (state["route"], state["state"], state["percent"]) == ("auto", "rolled_back", 0.0)
    history = [(e["kind"], e["from_percent"], e["to_percent"]) for e in reversed(state["events"])]
    assert history == [
        ("start", 0.0, 20.0),
        ("step", 20.0, 50.0),
        ("step", 50.0, 100.0),
        ("rollback", 100.0, 0.0),
    ]
    assert [e["version"] for e in reversed(state["events"])] == [1, 2, 3, 4]
    reason = state["events"][0]["reason"]
    assert reason.startswith("guard: error rate ") and f"over the last {WINDOW_S:g}s" in reason

    openai_upstream.default = Reply(text="from gpt")  # fixed: try again from the first step
    resumed = runner.invoke(
        main, ["rollout", "resume", "auto", "--reason", "fixed", "--config", str(config)]
    )
    assert resumed.exit_code == 0, resumed.output
    assert "resume 0% -> 20% (ramping)" in resumed.output
    deadline = time.monotonic() + 2
    while any(share(g) != ("ramping", 20.0) for g in gateways):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    paused = runner.invoke(main, ["rollout", "pause", "auto", "--config", str(config)])
    assert paused.exit_code == 0 and "pause 20% -> 20% (paused)" in paused.output
    again = runner.invoke(main, ["rollout", "pause", "auto", "--config", str(config)])
    assert again.exit_code != 0 and "is paused, not ramping" in again.output


def test_judged_quality_below_the_guard_rolls_back_and_a_restart_keeps_the_state(
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
    make_gateway: Callable[..., str],
) -> None:
    """The candidate answers right for ten requests, then wrong; a sample of its answers is
    judged against the incumbent's (called off the request path), and the judged quality
    falling under 0.4 rolls the rollout back. A gateway started again on the same store keeps
    it rolled back instead of starting over."""
    from tests.e2e.test_judged_shadow import anthropic_side

    def candidate(body: dict[str, Any]) -> Reply:
        asked = body["messages"][-1]["content"]
        index = int(re.search(r"ticket (\d+)", asked).group(1))  # type: ignore[union-attr]
        truth = re.search(r"truth: (\w+)", asked).group(1)  # type: ignore[union-attr]
        return Reply(text=truth if index < 10 else "no idea")

    anthropic_upstream.responder = anthropic_side
    openai_upstream.responder = candidate
    guard = {
        "min_judged_quality": 0.4,
        "min_requests": 8,
        "window": "30s",
        "check_every": "100ms",
        "judge": {"model": "claude-haiku-4-5", "mode": "pairwise", "sample": 1},
    }
    rollout = {"model": "gpt-5.4", "percent": 100, "guard": guard}
    routes = {"auto": {"default": "claude-sonnet-4-6", "rollout": rollout}}
    settings: dict[str, Any] = {"routes": routes, "log": {"flush_interval": 0.05}}
    gateway = make_gateway(**settings)
    client = openai.OpenAI(base_url=gateway + "/v1", api_key="x", max_retries=0)
    served: list[str] = []
    deadline = time.monotonic() + 20
    while share(gateway)[1] > 0:
        assert time.monotonic() < deadline, "no rollback"
        i = len(served)
        raw = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=[{"role": "user", "content": f"Label ticket {i}. (truth: billing)"}],
        )
        served.append(raw.headers["x-tiergate-model"])
    assert share(gateway) == ("rolled_back", 0.0)
    assert served[:10] == ["gpt-5.4"] * 10  # the candidate served everyone until then
    data = httpx.get(gateway + "/v1/tiergate/report").json()
    (row,) = data["judged"]
    assert (row["kind"], row["served_model"], row["candidate_model"]) == (
        "rollout",
        "claude-sonnet-4-6",
        "gpt-5.4",
    )
    assert row["win_rate"] == 0 and row["loss_rate"] > 0 and row["judge_calls"] >= 3 * 8
    (state,) = data["rollouts"]
    reason = state["events"][0]["reason"]
    assert state["state"] == "rolled_back" and reason.startswith("guard: judged quality 0.")
    assert [e["kind"] for e in reversed(state["events"])] == ["start", "rollback"]

    again = make_gateway(**settings)  # a restart (same data dir, same store)
    assert share(again) == ("rolled_back", 0.0)
    answer = openai.OpenAI(base_url=again + "/v1", api_key="x", max_retries=0)
    raw = answer.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Label ticket 99. (truth: x)"}]
    )
    assert raw.headers["x-tiergate-model"] == "claude-sonnet-4-6"
