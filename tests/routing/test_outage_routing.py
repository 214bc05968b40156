"""Routes around an outage: a model whose deployments all have their breaker open is replaced
by the cheapest capable model that can still be reached, and the reason says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from tests.e2e.gateway_fixtures import make_gateway  # noqa: F401  (pytest fixture)
from tests.fakes.upstream import FakeUpstream
from tests.routing.builders import CATALOG, ask, policies
from tiergate.routing.plan import Plan, RoutingState

RULES: dict[str, Any] = {
    "auto": {
        "rules": [{"when": {"has_tools": True}, "use": "local/smollm2-135m"}],
        "default": "claude-haiku-4-5",
    }
}
LADDER: dict[str, Any] = {
    "triage": {"ladder": ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"]}
}


def down(state: RoutingState, *models: str) -> RoutingState:
    """``state`` with the breakers of every deployment of ``models`` open."""
    names = frozenset(d.name for m in models for d in state.deployments_for(m))
    return RoutingState(state.deployments, names)


def route(routes: dict[str, Any], *outage: str, **request: Any) -> Plan:
    table, state = policies(routes)
    name = next(iter(routes))
    return table[name](ask(model=name, **request), CATALOG, down(state, *outage))


def models(plan: Plan) -> list[str]:
    return [tier.model.id for tier in plan.tiers]


def test_reachable_model_is_kept_while_another_is_down() -> None:
    table, state = policies(RULES)
    healthy = table["auto"](ask(), CATALOG, state)
    other_down = table["auto"](ask(), CATALOG, down(state, "claude-opus-4-7"))
    assert models(other_down) == ["claude-haiku-4-5"]
    assert other_down is healthy  # same plan, same reason: nothing to say


def test_rules_choice_that_is_down_moves_to_the_cheapest_reachable_capable_model() -> None:
    plan = route(RULES, "claude-haiku-4-5")
    # The local model is the cheapest served one and can answer "hello".
    assert models(plan) == ["local/smollm2-135m"]
    assert plan.reason == (
        "no rule matched, default -> claude-haiku-4-5; "
        "claude-haiku-4-5 circuit open, cheapest capable is local/smollm2-135m"
    )
    both_down = route(RULES, "claude-haiku-4-5", "local/smollm2-135m")
    assert models(both_down) == ["claude-sonnet-4-6"]


def test_capability_stand_in_skips_models_that_are_down() -> None:
    """A tools request: the rule's local model has no tool use, the cheapest capable one
    (Haiku) is down, so Sonnet answers."""
    assert models(route(RULES, tools=True)) == ["claude-haiku-4-5"]
    plan = route(RULES, "claude-haiku-4-5", tools=True)
    assert models(plan) == ["claude-sonnet-4-6"]
    assert "local/smollm2-135m no tools, cheapest capable is claude-sonnet-4-6" in plan.reason


def test_everything_down_keeps_the_choice_for_the_executor_to_report() -> None:
    """No reachable stand-in: the wanted model stays (the executor answers 503, or probes a
    breaker whose cool-down ended), and an outage never becomes an invalid request."""
    every = ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7", "local/smollm2-135m")
    plan = route(RULES, *every)
    assert models(plan) == ["claude-haiku-4-5"]
    assert plan.reason.endswith("claude-haiku-4-5 circuit open, no capable stand-in")
    tools = route(RULES, *every, tools=True)
    assert models(tools) == ["claude-haiku-4-5"]  # capable, though unreachable


def test_ladder_skips_a_rung_that_is_down_and_says_so() -> None:
    plan = route(LADDER, "claude-haiku-4-5")
    assert models(plan) == ["claude-sonnet-4-6", "claude-opus-4-7"]
    assert "skipped claude-haiku-4-5 circuit open" in plan.reason
    top_down = route(LADDER, "claude-opus-4-7")
    assert models(top_down) == ["claude-haiku-4-5", "claude-sonnet-4-6"]


def test_ladder_with_every_rung_down_falls_back_to_a_reachable_model() -> None:
    plan = route(LADDER, "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7")
    assert models(plan) == ["local/smollm2-135m"]
    assert "no rung fits" in plan.reason and "circuit open" in plan.reason


@pytest.mark.parametrize("outage", [(), ("claude-haiku-4-5",)])
def test_reachable_reads_the_deployment_table(outage: tuple[str, ...]) -> None:
    _, state = policies(RULES)
    state = down(state, *outage)
    assert state.reachable("claude-sonnet-4-6")
    assert state.reachable("claude-haiku-4-5") is not bool(outage)
    assert not state.reachable("gpt-5.4")  # not served here


def test_gateway_routes_around_an_upstream_whose_breaker_opened(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    """gpt-5.4 (the route's default) fails twice, its breaker opens, and the next request on
    the route is answered by Claude Haiku, the cheapest capable model still reachable."""
    routes = {"auto": {"rules": [], "default": "gpt-5.4"}}
    retry = {"max_retries": 0, "breaker_failures": 2, "breaker_cooldown": 60}
    base = make_gateway(routes=routes, retry=retry)
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
    messages: Any = [{"role": "user", "content": "hello"}]
    openai_upstream.fail(503, "overloaded").fail(503, "overloaded")
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as failed:
            client.chat.completions.create(model="auto", messages=messages)
        assert failed.value.status_code == 503
    anthropic_upstream.reply("from haiku")
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=messages)
    assert raw.parse().choices[0].message.content == "from haiku"
    assert raw.headers["x-tiergate-model"] == "claude-haiku-4-5"
    assert raw.headers["x-tiergate-reason"] == (
        "no rule matched, default -> gpt-5.4; "
        "gpt-5.4 circuit open, cheapest capable is claude-haiku-4-5"
    )
    assert len(openai_upstream.requests) == 2  # nothing more was sent to the failing one
    # A model named directly is never swapped: its outage is the caller's answer.
    with pytest.raises(openai.APIStatusError) as direct:
        client.chat.completions.create(model="gpt-5.4", messages=messages)
    assert direct.value.status_code == 503
