"""The half-open probe against real fake upstreams: every way a probe can end frees its slot.

A breaker past its cool-down lets one request through as a probe and refuses the others until
it reports. A probe that never reported (a 4xx answer, a stream the client left, a cancelled
call) used to keep the slot forever: the deployment answered 503 for good, with the upstream
healthy and no call reaching it. The clock is injected, so cool-downs and leases cost nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from tests.fakes import FakeUpstream, Reply
from tests.routing.builders import ask
from tests.routing.test_executor import OPTIONS, Clock, Sleeps, deployment, single, text_of
from tiergate.config import RetryConfig
from tiergate.errors import ProviderError
from tiergate.executor import CircuitBreakers, Executor
from tiergate.providers.registry import ProviderRegistry
from tiergate.routing.plan import Plan
from tiergate.types import ChatRequest

COOLDOWN = 30.0


@pytest.fixture
async def registry() -> AsyncIterator[ProviderRegistry]:
    providers = ProviderRegistry()
    yield providers
    await providers.aclose()


def half_open(*names: str) -> tuple[Clock, CircuitBreakers]:
    """Breakers (threshold 1) whose ``names`` failed and whose cool-down has just ended."""
    clock = Clock()
    breakers = CircuitBreakers(threshold=1, cooldown=COOLDOWN, clock=clock)
    for name in names:
        breakers.record_failure(name)
    clock.now += COOLDOWN + 1
    return clock, breakers


def executor_for(registry: ProviderRegistry, breakers: CircuitBreakers) -> Executor:
    return Executor(registry, RetryConfig(max_retries=0), breakers=breakers, sleep=Sleeps())


def streamed(text: str = "hello") -> ChatRequest:
    request = ask(text)
    request.stream = True
    return request


def haiku(name: str, upstream: FakeUpstream) -> Plan:
    return single("claude-haiku-4-5", deployment(name, "claude-haiku-4-5", upstream))


async def test_a_probe_answered_with_a_400_frees_the_slot(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    """A 400 is about the request; the upstream that sent it is up, so the breaker closes."""
    _, breakers = half_open("a")
    executor = executor_for(registry, breakers)
    plan = haiku("a", anthropic_upstream)
    anthropic_upstream.fail(400, "prompt is malformed").reply("served")

    with pytest.raises(ProviderError) as refused:
        await executor.run(ask(), plan, OPTIONS)
    assert refused.value.status == 400

    assert (await executor.run(ask(), plan, OPTIONS)).response.text() == "served"
    assert len(anthropic_upstream.requests) == 2
    assert breakers.probing() == frozenset() and breakers.open_deployments() == frozenset()


@pytest.mark.parametrize("how", ["cut", "closed"])
async def test_a_probe_stream_the_client_leaves_after_its_first_chunk_frees_the_slot(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream, how: str
) -> None:
    """The client takes one event and goes: the handler cuts the stream (``cut``), or the
    events are closed (``closed``). Either way the next request reaches the upstream."""
    _, breakers = half_open("a")
    executor = executor_for(registry, breakers)
    plan = haiku("a", anthropic_upstream)
    anthropic_upstream.script(Reply("one two three four five", chunk_delay=0.05))
    anthropic_upstream.reply("after the probe")
    request = streamed()

    stream = await executor.open_stream(request, plan, OPTIONS)
    events = stream.events
    assert isinstance(events, AsyncIterator)
    await events.__anext__()
    if how == "cut":
        stream.cut(request, 499)
    else:
        await events.aclose()  # type: ignore[attr-defined]

    again = await executor.run(ask(), plan, OPTIONS)
    assert again.response.text() == "after the probe"
    assert len(anthropic_upstream.requests) == 2
    assert breakers.probing() == frozenset()
    if how == "cut":
        await events.aclose()  # type: ignore[attr-defined]


async def test_a_cancelled_probe_frees_the_slot(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    _, breakers = half_open("a")
    executor = executor_for(registry, breakers)
    plan = haiku("a", anthropic_upstream)
    anthropic_upstream.script(Reply("too late", delay=5)).reply("after the cancel")

    call = asyncio.ensure_future(executor.run(ask(), plan, OPTIONS))
    for _ in range(200):  # until the probe's request reached the upstream
        if anthropic_upstream.requests:
            break
        await asyncio.sleep(0.01)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call

    again = await executor.run(ask(), plan, OPTIONS)
    assert again.response.text() == "after the cancel"
    assert breakers.probing() == frozenset()


async def test_a_probe_that_never_reports_back_frees_the_slot_after_its_lease(
    registry: ProviderRegistry, anthropic_upstream: FakeUpstream
) -> None:
    """A stream opened and then abandoned, neither read nor cut nor closed (a caller that lost
    it): the slot is held for the deployment's timeout, then another request probes."""
    clock, breakers = half_open("a")
    executor = executor_for(registry, breakers)
    plan = haiku("a", anthropic_upstream)
    lease = plan.tiers[0].deployments[0].timeout
    anthropic_upstream.script(Reply("abandoned", chunk_delay=0.05)).reply("next probe")

    lost = await executor.open_stream(streamed(), plan, OPTIONS)
    with pytest.raises(ProviderError) as refused:
        await executor.run(ask(), plan, OPTIONS)
    assert refused.value.status == 503  # the slot is held while the lease runs

    clock.now += lease
    again = await executor.run(ask(), plan, OPTIONS)
    assert again.response.text() == "next probe"
    await lost.events.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("stream", [False, True])
async def test_one_request_claims_the_probe_of_only_the_deployment_it_uses(
    registry: ProviderRegistry,
    anthropic_upstream: FakeUpstream,
    make_upstream: Callable[..., FakeUpstream],
    stream: bool,
) -> None:
    """Two deployments of a model, both past their cool-down. The first request probes the
    first deployment only; when that one fails later, the second is probed and answers
    (it used to be refused for good: the first request had claimed its slot too)."""
    second = make_upstream("anthropic")
    _, breakers = half_open("a", "b")
    executor = executor_for(registry, breakers)
    plan = single(
        "claude-haiku-4-5",
        deployment("a", "claude-haiku-4-5", anthropic_upstream),
        deployment("b", "claude-haiku-4-5", second),
    )
    anthropic_upstream.reply("from a").fail(503, "overloaded")
    second.reply("from b")

    async def answer() -> tuple[str, str]:
        if not stream:
            outcome = await executor.run(ask(), plan, OPTIONS)
            return outcome.deployment.name, outcome.response.text()
        opened = await executor.open_stream(streamed(), plan, OPTIONS)
        return opened.deployment.name, await text_of(opened.events)

    assert await answer() == ("a", "from a")
    assert await answer() == ("b", "from b")
    assert len(second.requests) == 1
    assert breakers.probing() == frozenset()
