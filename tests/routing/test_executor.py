"""The executor against real fake upstreams on loopback: retries, fail-over, breakers, ladders.

Everything here is real except time: ``sleep`` and the breakers' clock are injected, so a
retry-after of 1.5 s or a 30 s cooldown costs nothing and the delays can be asserted exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.fakes import FakeUpstream, Reply
from tests.routing.builders import CATALOG, ask
from tiergate.config import RetryConfig
from tiergate.cost import cost_of
from tiergate.errors import ProviderError
from tiergate.executor import CircuitBreakers, Executor
from tiergate.providers.base import CallOptions, Deployment
from tiergate.providers.registry import ProviderRegistry
from tiergate.routing.plan import Plan, RoutingState, Tier
from tiergate.routing.routes import build_policies
from tiergate.types import BlockDelta, ChatRequest, StreamEvent

OPTIONS = CallOptions()


class Sleeps:
    """Records requested delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def registry() -> AsyncIterator[ProviderRegistry]:
    providers = ProviderRegistry()
    yield providers
    await providers.aclose()


def deployment(name: str, model: str, upstream: FakeUpstream) -> Deployment:
    if upstream.dialect == "anthropic":
        return Deployment(name, model, "anthropic", model, upstream.url, "sk-test")
    return Deployment(name, model, "openai", model, upstream.url + "/v1", "sk-test")


def single(model: str, *deployments: Deployment) -> Plan:
    return Plan((Tier(CATALOG.resolve(model), deployments),), reason="test", policy="test")


def models_asked(upstream: FakeUpstream) -> list[str]:
    return [r.json["model"] for r in upstream.requests]


async def text_of(events: AsyncIterator[StreamEvent]) -> str:
    return "".join([e.value async for e in events if isinstance(e, BlockDelta)])


# -- retries ------------------------------------------------------------------------------------
async def test_429_retry_after_is_honoured(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.fail(429, "slow down", retry_after=1.5).reply("after the wait")
    sleeps = Sleeps()
    executor = Executor(registry, RetryConfig(max_retries=2), sleep=sleeps)
    plan = single("claude-haiku-4-5", deployment("a", "claude-haiku-4-5", anthropic_upstream))

    outcome = await executor.run(ask("hi"), plan, OPTIONS)

    assert outcome.response.text() == "after the wait"
    assert sleeps.delays == [1.5]
    assert [(a.outcome, a.status) for a in outcome.attempts] == [
        ("provider_error", 429),
        ("ok", 200),
    ]
    assert len(anthropic_upstream.requests) == 2


async def test_a_stream_refused_before_its_first_event_is_retried_after_the_wait(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    """The stream path's back-off: the 429's hint is slept (outside the handler), the same
    deployment is asked again, and the stream that follows reaches the caller whole."""
    anthropic_upstream.fail(429, "slow down", retry_after=2.5).reply("streamed after the wait")
    sleeps = Sleeps()
    executor = Executor(registry, RetryConfig(max_retries=2), sleep=sleeps)
    plan = single("claude-haiku-4-5", deployment("a", "claude-haiku-4-5", anthropic_upstream))
    request = ask("hi")
    request.stream = True

    stream = await executor.open_stream(request, plan, OPTIONS)

    assert await text_of(stream.events) == "streamed after the wait"
    assert sleeps.delays == [2.5]
    assert [(a.outcome, a.status) for a in stream.attempts] == [
        ("provider_error", 429),
        ("ok", 200),
    ]
    assert len(anthropic_upstream.requests) == 2


async def test_retry_without_hint_backs_off_exponentially(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.fail(529).fail(503).reply("third time")
    sleeps = Sleeps()
    retry = RetryConfig(max_retries=2, backoff_base=0.2)
    executor = Executor(registry, retry, sleep=sleeps)
    plan = single("claude-haiku-4-5", deployment("a", "claude-haiku-4-5", anthropic_upstream))

    outcome = await executor.run(ask(), plan, OPTIONS)

    assert outcome.response.text() == "third time"
    first, second = sleeps.delays
    assert 0.1 <= first <= 0.2 and 0.2 <= second <= 0.4  # base * 2^n, jittered to 50-100%


async def test_retry_after_longer_than_the_cap_fails_over_instead_of_waiting(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> None:
    anthropic_upstream.fail(429, retry_after=600)
    openai_upstream.reply("from the other deployment")
    sleeps = Sleeps()
    executor = Executor(registry, RetryConfig(max_retries=3, max_retry_after=20), sleep=sleeps)
    plan = single(
        "claude-haiku-4-5",
        deployment("anthropic", "claude-haiku-4-5", anthropic_upstream),
        deployment("openai-compatible", "claude-haiku-4-5", openai_upstream),
    )

    outcome = await executor.run(ask(), plan, OPTIONS)

    assert sleeps.delays == []
    assert outcome.deployment.name == "openai-compatible"
    assert outcome.response.text() == "from the other deployment"


# -- fail-over and the circuit breaker -------------------------------------------------------------
async def test_dead_deployment_fails_over_and_is_probed_after_cooldown(
    registry: ProviderRegistry,
    anthropic_upstream: FakeUpstream,
    make_upstream: Callable[..., FakeUpstream],
) -> None:
    dead = make_upstream("anthropic")
    dead.stop()  # connections refused from now on
    clock, sleeps = Clock(), Sleeps()
    breakers = CircuitBreakers(threshold=2, cooldown=30.0, clock=clock)
    executor = Executor(registry, RetryConfig(max_retries=1), breakers=breakers, sleep=sleeps)
    plan = single(
        "claude-haiku-4-5",
        deployment("dead", "claude-haiku-4-5", dead),
        deployment("live", "claude-haiku-4-5", anthropic_upstream),
    )

    # 1. Two refused connections open the breaker; the second deployment answers.
    first = await executor.run(ask("one"), plan, OPTIONS)
    assert [(a.deployment.name, a.status) for a in first.attempts] == [
        ("dead", 502),
        ("dead", 502),
        ("live", 200),
    ]
    assert first.response.text() == "echo: one"
    assert breakers.open_deployments() == {"dead"}

    # 2. While open, the dead deployment is not tried at all.
    second = await executor.run(ask("two"), plan, OPTIONS)
    assert [a.deployment.name for a in second.attempts] == ["live"]

    # 3. After the cooldown one request probes it again; it is back, so the breaker closes.
    clock.now += 31
    dead.start()
    dead.reply("revived")
    third = await executor.run(ask("three"), plan, OPTIONS)
    assert [a.deployment.name for a in third.attempts] == ["dead"]
    assert third.response.text() == "revived"
    assert breakers.open_deployments() == frozenset()
    assert len(anthropic_upstream.requests) == 2


async def test_failed_probe_reopens_the_breaker(
    registry: ProviderRegistry,
    anthropic_upstream: FakeUpstream,
    make_upstream: Callable[..., FakeUpstream],
) -> None:
    dead = make_upstream("anthropic")
    dead.stop()
    clock = Clock()
    breakers = CircuitBreakers(threshold=1, cooldown=30.0, clock=clock)
    executor = Executor(registry, RetryConfig(max_retries=0), breakers=breakers, sleep=Sleeps())
    plan = single(
        "claude-haiku-4-5",
        deployment("dead", "claude-haiku-4-5", dead),
        deployment("live", "claude-haiku-4-5", anthropic_upstream),
    )
    await executor.run(ask(), plan, OPTIONS)
    clock.now += 31
    probe = await executor.run(ask(), plan, OPTIONS)
    assert [a.deployment.name for a in probe.attempts] == ["dead", "live"]
    assert breakers.open_deployments() == {"dead"}


async def test_400_from_upstream_does_not_fail_over(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> None:
    anthropic_upstream.fail(400, "prompt is malformed")
    executor = Executor(registry, RetryConfig(max_retries=2), sleep=Sleeps())
    plan = single(
        "claude-haiku-4-5",
        deployment("first", "claude-haiku-4-5", anthropic_upstream),
        deployment("second", "claude-haiku-4-5", openai_upstream),
    )
    with pytest.raises(ProviderError) as caught:
        await executor.run(ask(), plan, OPTIONS)
    assert caught.value.status == 400
    assert "prompt is malformed" in caught.value.message
    assert openai_upstream.requests == []
    assert len(anthropic_upstream.requests) == 1
    assert executor.breakers.open_deployments() == frozenset()


async def test_401_from_one_deployment_fails_over(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> None:
    anthropic_upstream.api_key = "a-different-key"  # this deployment's key is wrong
    executor = Executor(registry, RetryConfig(max_retries=2), sleep=Sleeps())
    plan = single(
        "claude-haiku-4-5",
        deployment("bad-key", "claude-haiku-4-5", anthropic_upstream),
        deployment("good", "claude-haiku-4-5", openai_upstream),
    )
    outcome = await executor.run(ask("hello"), plan, OPTIONS)
    assert [(a.deployment.name, a.status) for a in outcome.attempts] == [
        ("bad-key", 401),
        ("good", 200),
    ]


# -- ladders --------------------------------------------------------------------------------------
def ladder_plan(
    routes: dict[str, Any], served: dict[str, FakeUpstream], request: ChatRequest
) -> Plan:
    table = {m: (deployment(f"{u.dialect}/{m}", m, u),) for m, u in served.items()}
    policy = build_policies(routes, CATALOG, table)[request.model]
    return policy(request, CATALOG, RoutingState(table))


LABEL_SCHEMA = {
    "type": "object",
    "properties": {"label": {"enum": ["billing", "bug", "feature", "other"]}},
    "required": ["label"],
}
TRIAGE: dict[str, Any] = {
    "triage": {
        "ladder": ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-6", "claude-opus-4-7"],
        "validators": [{"type": "json"}, {"type": "json_schema", "schema": LABEL_SCHEMA}],
    }
}


def triage_models(upstream: FakeUpstream) -> dict[str, FakeUpstream]:
    return {m: upstream for m in TRIAGE["triage"]["ladder"]}


async def test_ladder_escalates_on_invalid_json_and_wrong_label(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply("Sure! The label is bug.")
    anthropic_upstream.reply('{"label": "banana"}')
    anthropic_upstream.reply('{"label": "bug"}')
    request = ask("My app crashes on start", model="triage")
    plan = ladder_plan(TRIAGE, triage_models(anthropic_upstream), request)
    executor = Executor(registry, RetryConfig(max_retries=0), sleep=Sleeps())

    outcome = await executor.run(request, plan, OPTIONS)

    assert outcome.response.text() == '{"label": "bug"}'
    assert (outcome.tier, outcome.model.id) == (2, "claude-opus-4-6")
    assert [(a.tier, a.outcome) for a in outcome.attempts] == [
        (0, "validator_failed"),
        (1, "validator_failed"),
        (2, "ok"),
    ]
    first, second, _ = outcome.attempts
    assert first.error is not None and first.error.startswith("json: not valid JSON")
    assert second.error == "json_schema: schema: label: 'banana' is not one of " + (
        "['billing', 'bug', 'feature', 'other']"
    )
    assert models_asked(anthropic_upstream) == [
        "claude-haiku-4-5",
        "claude-sonnet-4-6",
        "claude-opus-4-6",
    ]
    # Every attempt is recorded with its usage, so every one can be priced and summed.
    costs = [cost_of(a.usage, a.model).usd for a in outcome.attempts if a.usage is not None]
    assert len(costs) == 3 and all(c is not None and c > 0 for c in costs)


async def test_ladder_across_providers_escalates_on_a_wrong_label(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> None:
    routes = {
        "labels": {
            "ladder": ["claude-haiku-4-5", "gpt-5.4"],
            "validators": [{"type": "one_of", "labels": ["billing", "bug"]}],
        }
    }
    anthropic_upstream.reply("probably a bug?")
    openai_upstream.reply("bug")
    request = ask("crash on start", model="labels")
    served = {"claude-haiku-4-5": anthropic_upstream, "gpt-5.4": openai_upstream}
    executor = Executor(registry, RetryConfig(max_retries=0), sleep=Sleeps())

    outcome = await executor.run(request, ladder_plan(routes, served, request), OPTIONS)

    assert (outcome.model.id, outcome.response.text()) == ("gpt-5.4", "bug")
    assert outcome.attempts[0].error == "one_of: 'probably a bug?' is not one of the labels"


async def test_ladder_returns_the_cheap_answer_when_it_passes(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply('{"label": "billing"}')
    request = ask("refund please", model="triage")
    plan = ladder_plan(TRIAGE, triage_models(anthropic_upstream), request)
    outcome = await Executor(registry, sleep=Sleeps()).run(request, plan, OPTIONS)
    assert (outcome.tier, len(outcome.attempts)) == (0, 1)
    assert len(anthropic_upstream.requests) == 1


async def test_provider_failure_on_a_tier_moves_to_the_next_tier(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.fail(529, "overloaded").reply('{"label": "other"}')
    request = ask("hello", model="triage")
    plan = ladder_plan(TRIAGE, triage_models(anthropic_upstream), request)
    executor = Executor(registry, RetryConfig(max_retries=0), sleep=Sleeps())
    outcome = await executor.run(request, plan, OPTIONS)
    assert [(a.tier, a.status) for a in outcome.attempts] == [(0, 529), (1, 200)]


async def test_400_on_a_ladder_does_not_escalate(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.fail(400, "bad image")
    request = ask("hello", model="triage")
    plan = ladder_plan(TRIAGE, triage_models(anthropic_upstream), request)
    with pytest.raises(ProviderError) as caught:
        await Executor(registry, sleep=Sleeps()).run(request, plan, OPTIONS)
    assert caught.value.status == 400
    assert len(anthropic_upstream.requests) == 1


# -- streaming ------------------------------------------------------------------------------------
async def test_streaming_on_a_ladder_streams_the_final_tier(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    routes = {
        "j": {"ladder": ["claude-haiku-4-5", "claude-sonnet-4-6"], "validators": [{"type": "json"}]}
    }
    anthropic_upstream.reply("not json at all")
    anthropic_upstream.reply('{"answer": "streamed from the top tier"}')
    request = ask("give me json", model="j")
    request.stream = True
    served = {"claude-haiku-4-5": anthropic_upstream, "claude-sonnet-4-6": anthropic_upstream}
    executor = Executor(registry, RetryConfig(max_retries=0), sleep=Sleeps())

    stream = await executor.open_stream(request, ladder_plan(routes, served, request), OPTIONS)
    text = await text_of(stream.events)

    assert text == '{"answer": "streamed from the top tier"}'
    assert (stream.tier, stream.model.id) == (1, "claude-sonnet-4-6")
    cheap, top = anthropic_upstream.requests
    assert not cheap.json.get("stream")  # validated tiers are read whole
    assert top.json["stream"] is True  # the final tier streams live
    assert [a.outcome for a in stream.attempts] == ["validator_failed", "ok"]
    assert stream.usage.output_tokens > 0 and stream.attempts[-1].usage == stream.usage


async def test_streaming_ladder_whose_first_tier_passes_replays_it_as_a_stream(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    anthropic_upstream.reply('{"label": "feature"}')
    request = ask("add dark mode", model="triage")
    request.stream = True
    plan = ladder_plan(TRIAGE, triage_models(anthropic_upstream), request)
    stream = await Executor(registry, sleep=Sleeps()).open_stream(request, plan, OPTIONS)
    assert await text_of(stream.events) == '{"label": "feature"}'
    assert stream.tier == 0
    assert not anthropic_upstream.last.json.get("stream")


async def test_a_stream_that_reached_the_client_is_never_retried(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream, openai_upstream: FakeUpstream
) -> None:
    anthropic_upstream.script(Reply("one two three four five six", die_after=4))
    request = ask("count")
    request.stream = True
    executor = Executor(registry, RetryConfig(max_retries=3), sleep=Sleeps())
    plan = single(
        "claude-haiku-4-5",
        deployment("first", "claude-haiku-4-5", anthropic_upstream),
        deployment("second", "claude-haiku-4-5", openai_upstream),
    )
    stream = await executor.open_stream(request, plan, OPTIONS)
    with pytest.raises(ProviderError):
        await text_of(stream.events)
    assert len(anthropic_upstream.requests) == 1
    assert openai_upstream.requests == []


@pytest.mark.parametrize("field", ["max_completion_tokens", "max_tokens"])
async def test_the_output_limit_goes_upstream_under_the_deployments_name_for_it(
    registry: ProviderRegistry, openai_upstream: FakeUpstream, field: str
) -> None:
    """OpenAI's API wants ``max_completion_tokens`` (its reasoning models refuse the old
    name); a deployment on an older OpenAI-compatible server can ask for ``max_tokens``."""
    base = deployment("o", "gpt-5.4", openai_upstream)
    target = replace(base, max_tokens_field=field)
    request = ask("hi")
    request.max_tokens = 77
    await Executor(registry, sleep=Sleeps()).run(request, single("gpt-5.4", target), OPTIONS)
    sent = openai_upstream.last.json
    assert sent[field] == 77
    other = "max_tokens" if field == "max_completion_tokens" else "max_completion_tokens"
    assert other not in sent
