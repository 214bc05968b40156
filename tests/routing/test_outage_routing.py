"""Routes around an outage: a model whose deployments all have their breaker open is replaced
by the cheapest capable model that can still be reached, and the reason says so."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.gateway_fixtures import make_gateway  # noqa: F401  (pytest fixture)
from tests.fakes import Reply
from tests.fakes.upstream import FakeUpstream
from tests.routing.builders import CATALOG, SERVED, ask, policies
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
    assert models(plan) == ["claude-sonnet-4-6"]
    assert plan.reason == (
        "no rule matched, default -> claude-haiku-4-5; "
        "claude-haiku-4-5 circuit open, cheapest capable is claude-sonnet-4-6"
    )
    both_down = route(RULES, "claude-haiku-4-5", "claude-sonnet-4-6")
    assert models(both_down) == ["claude-opus-4-7"]


def test_the_embedded_local_model_stands_in_for_a_cloud_model_only_when_listed() -> None:
    """The local model is $0, so under ``fallback: any`` it was always the "cheapest capable"
    stand-in for a cloud model that went down: a 135M model answering for Claude. It is a
    stand-in only where the route lists it."""
    every_cloud = ("claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7")
    plan = route(RULES, *every_cloud)
    assert models(plan) == ["claude-haiku-4-5"]  # nothing else: the executor reports 503
    assert plan.reason.endswith("claude-haiku-4-5 circuit open, no capable stand-in")
    assert plan.fallback is not None  # the fallback of the request itself leaves it out too
    tiers = plan.fallback.tiers(ask(), {"claude-haiku-4-5"}, frozenset())
    assert [tier.model.id for tier in tiers] == ["claude-sonnet-4-6", "claude-opus-4-7"]
    listed = {"auto": {**RULES["auto"], "fallback": ["claude-sonnet-4-6", "local/smollm2-135m"]}}
    chosen = route(listed, "claude-haiku-4-5", "claude-sonnet-4-6")
    assert models(chosen) == ["local/smollm2-135m"]


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
    ladder = {"triage": {**LADDER["triage"], "fallback": ["local/smollm2-135m"]}}
    plan = route(ladder, "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7")
    assert models(plan) == ["local/smollm2-135m"]
    assert "no rung fits" in plan.reason and "circuit open" in plan.reason
    # Under ``fallback: any`` nothing is left: the top rung stays, for the executor to report.
    plan = route(LADDER, "claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7")
    assert models(plan) == ["claude-opus-4-7"]


@pytest.mark.parametrize("outage", [(), ("claude-haiku-4-5",)])
def test_reachable_reads_the_deployment_table(outage: tuple[str, ...]) -> None:
    _, state = policies(RULES)
    state = down(state, *outage)
    assert state.reachable("claude-sonnet-4-6")
    assert state.reachable("claude-haiku-4-5") is not bool(outage)
    assert not state.reachable("gpt-5.4")  # not served here


MESSAGES: Any = [{"role": "user", "content": "hello"}]


def test_a_failing_request_is_answered_by_the_fallback_in_the_same_request(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    """gpt-5.4 (the route's default) fails: that very request is answered by Claude Haiku, the
    cheapest capable model still reachable (it used to get the 503, and only the requests
    after the breaker opened were moved). Once the breaker is open, routing moves the next
    requests before any call to the failing upstream."""
    routes = {"auto": {"rules": [], "default": "gpt-5.4"}}
    retry = {"max_retries": 0, "breaker_failures": 2, "breaker_cooldown": 60}
    base = make_gateway(routes=routes, retry=retry)
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
    openai_upstream.fail(503, "overloaded").fail(503, "overloaded")
    anthropic_upstream.reply("first from haiku").reply("second from haiku")
    for n in ("first", "second"):
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES)
        assert raw.parse().choices[0].message.content == f"{n} from haiku"
        assert raw.headers["x-tiergate-model"] == "claude-haiku-4-5"
        assert raw.headers["x-tiergate-attempts"] == "2"
        assert raw.headers["x-tiergate-reason"] == (
            "no rule matched, default -> gpt-5.4; gpt-5.4 failed (503), fallback claude-haiku-4-5"
        )
    anthropic_upstream.reply("from haiku")
    raw = client.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES)
    assert raw.parse().choices[0].message.content == "from haiku"
    assert raw.headers["x-tiergate-reason"] == (
        "no rule matched, default -> gpt-5.4; "
        "gpt-5.4 circuit open, cheapest capable is claude-haiku-4-5"
    )
    assert len(openai_upstream.requests) == 2  # nothing more was sent to the failing one
    # A model named directly is never swapped: its outage is the caller's answer.
    with pytest.raises(openai.APIStatusError) as direct:
        client.chat.completions.create(model="gpt-5.4", messages=MESSAGES)
    assert direct.value.status_code == 503


def test_a_failing_stream_is_answered_by_the_fallback_before_its_first_byte(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    """The same for a stream, through the Anthropic SDK: nothing had been streamed when the
    upstream refused, so the fallback's stream is the answer."""
    routes = {"auto": {"rules": [], "default": "gpt-5.4"}}
    base = make_gateway(routes=routes)
    client = anthropic.Anthropic(base_url=base, api_key="x", max_retries=0)
    openai_upstream.fail(429, "slow down").fail(401, "Incorrect API key provided")
    anthropic_upstream.reply("streamed by haiku").reply("again by haiku")
    for text in ("streamed by haiku", "again by haiku"):  # a 429, then the gateway's key refused
        with client.messages.stream(model="auto", max_tokens=64, messages=MESSAGES) as stream:
            assert "".join(stream.text_stream) == text
            assert stream.response.headers["x-tiergate-model"] == "claude-haiku-4-5"
    assert len(openai_upstream.requests) == 2


def test_a_route_uses_its_fallback_while_the_probe_of_its_model_is_out(
    make_gateway: Callable[..., str],  # noqa: F811
    anthropic_upstream: FakeUpstream,
    openai_upstream: FakeUpstream,
) -> None:
    """gpt-5.4's cool-down has ended and one slow request is probing it. A breaker past its
    cool-down counted as healthy, so every other request of the route was sent to it, refused
    by the breaker (one probe at a time) and answered 503. They go to the fallback now."""
    routes = {"auto": {"rules": [], "default": "gpt-5.4"}}
    retry = {"max_retries": 0, "breaker_failures": 1, "breaker_cooldown": 0.3}
    base = make_gateway(routes=routes, retry=retry)
    client = openai.OpenAI(base_url=base + "/v1", api_key="x", max_retries=0)
    openai_upstream.fail(503, "overloaded").script(Reply("slow probe", delay=1.5))
    with pytest.raises(openai.APIStatusError):  # named directly: no fallback; the breaker opens
        client.chat.completions.create(model="gpt-5.4", messages=MESSAGES)
    time.sleep(0.4)  # the cool-down ends
    with ThreadPoolExecutor(1) as pool:
        probe = pool.submit(client.chat.completions.create, model="auto", messages=MESSAGES)
        deadline = time.monotonic() + 5
        while len(openai_upstream.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # until the probe reached the upstream
        anthropic_upstream.reply("meanwhile from haiku")
        raw = client.chat.completions.with_raw_response.create(model="auto", messages=MESSAGES)
        assert raw.parse().choices[0].message.content == "meanwhile from haiku"
        assert "gpt-5.4 circuit open" in raw.headers["x-tiergate-reason"]
        assert probe.result().choices[0].message.content == "slow probe"
    assert len(openai_upstream.requests) == 2


def test_the_fallback_of_a_failing_request_is_priced_capable_and_reachable() -> None:
    """What the executor asks when the plan's model failed in the request: cheapest first,
    never the model that failed, one whose deployments are all refusing calls, one that
    cannot serve the request, or one without a price (its cost could not be held to the
    request's budget reservation)."""
    served = (*SERVED, "deepseek-v4-flash")  # the catalog leaves it unpriced on purpose
    table, state = policies(RULES, served=served)
    plan = table["auto"](ask(), CATALOG, state)
    assert plan.fallback is not None

    def fallback(*unhealthy: str, **request: Any) -> list[str]:
        down = down_names(state, *unhealthy)
        tried = {tier.model.id for tier in plan.tiers}
        assert plan.fallback is not None
        return [tier.model.id for tier in plan.fallback.tiers(ask(**request), tried, down)]

    assert fallback() == ["claude-sonnet-4-6", "claude-opus-4-7"]
    assert fallback("claude-sonnet-4-6") == ["claude-opus-4-7"]
    # Sonnet 4.6 and Opus 4.7 both allow 128K output (catalog, 2026-12-05); past it, neither
    assert fallback(image=True, max_tokens=100_000) == ["claude-sonnet-4-6", "claude-opus-4-7"]
    assert fallback(image=True, max_tokens=130_000) == []


def down_names(state: RoutingState, *models: str) -> frozenset[str]:
    return frozenset(d.name for m in models for d in state.deployments_for(m))
