"""Carries out a routing plan: retries, fail-over, escalation.

Order of fallbacks for one request:
1. the same deployment again, for a retryable error (429 / 5xx / 529 / timeout / reset), with
   exponential backoff that honours ``retry-after`` (capped: a hint longer than the cap means
   "go elsewhere" rather than "wait");
2. the next deployment of the same model (also on 401/403/404 from an upstream, which point at
   that deployment's key or URL, not at the request);
3. the next tier of the plan. Client errors (400, 413) end the request at once: another model
   would reject it too;
4. when the last tier failed the way an outage does (what fails over in 2., or every breaker
   open), the plan's ``fallback`` (a route's cheapest capable reachable models), so the
   request that met the outage is answered too, not only the ones routed after it.

Breakers are asked deployment by deployment, just before each is called, and a probe slot a
call holds is handed back on every way out (answer, failure, a 4xx, cancellation, a stream
the client leaves), so a request never holds probes it does not use (``breaker.py``).

A ladder's non-final tiers are called without streaming so validators can read the whole
answer; only the final tier (or a passing answer re-emitted as events) streams to the client.
Once a stream's first event has gone to the client it is never retried nor moved.

Retry back-offs are awaited after the ``except`` block that caught the failure, not inside it:
an error raised during the back-off (a cancellation) then does not carry the upstream's failure
as its context.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

import orjson

from tiergate.catalog import ModelInfo
from tiergate.config import RetryConfig
from tiergate.cost.caching import apply_cache_breakpoints
from tiergate.cost.estimate import complete_usage, needs_estimate, response_units
from tiergate.errors import GatewayError, ProviderError
from tiergate.executor.breaker import NO_PROBE, CircuitBreakers
from tiergate.executor.replay import response_events
from tiergate.providers.base import CallOptions, Deployment
from tiergate.providers.registry import ProviderRegistry
from tiergate.routing.plan import Plan, Tier, ValidatorCall
from tiergate.tokens import text_units
from tiergate.types import (
    BlockDelta,
    BlockStart,
    ChatRequest,
    ChatResponse,
    MessageDelta,
    MessageStart,
    StreamEvent,
    ToolUseBlock,
    Usage,
)

# Upstream statuses that say "this deployment is misconfigured", not "the request is bad".
_FAILOVER_STATUSES = frozenset({401, 403, 404})
# Statuses that say the request itself is at fault: no other model or tier is tried.
_REQUEST_FAULTS = frozenset({400, 413, 422})
_T = TypeVar("_T")


# What became of one upstream call, as the request log stores it: ok | provider_error |
# validator_failed | judge (a validator's own call, billed with it) | cut (a stream stopped
# early, billed for what it used: ``StreamOutcome.cut``).
AttemptOutcome = Literal["ok", "provider_error", "validator_failed", "judge", "cut"]


@dataclass(slots=True)
class Attempt:
    n: int
    tier: int
    model: ModelInfo
    deployment: Deployment
    outcome: AttemptOutcome = "ok"
    latency_ms: float = 0.0
    usage: Usage | None = None
    status: int | None = None
    error: str | None = None
    # Part of ``usage`` was estimated: the upstream reported none, or the stream was cut
    # (tiergate/cost/estimate.py).
    estimated: bool = False


def validator_calls(attempts: Sequence[Attempt]) -> list[ValidatorCall]:
    """``attempts`` (of a judge's request) as the calls a validator reports in its verdict."""
    return [
        ValidatorCall(
            model=a.model,
            deployment=a.deployment,
            usage=a.usage,
            latency_ms=a.latency_ms,
            status=a.status,
            error=a.error,
            estimated=a.estimated,
        )
        for a in attempts
    ]


@dataclass(slots=True)
class Outcome:
    """The answer that goes to the client, and every attempt it took."""

    response: ChatResponse
    tier: int
    model: ModelInfo
    deployment: Deployment
    attempts: list[Attempt]
    # Why the answer comes from the plan's fallback, for the reason header; None if it does not.
    note: str | None = None


@dataclass(slots=True)
class StreamOutcome:
    """A stream whose first event has arrived. ``events`` yields from that first event on;
    ``usage`` and the last attempt fill in as it runs."""

    tier: int
    model: ModelInfo
    deployment: Deployment
    attempts: list[Attempt]
    events: AsyncIterator[StreamEvent]
    usage: Usage = field(default_factory=Usage)
    ttft_ms: float | None = None
    stop_reason: str | None = None
    # Tool calls streamed so far: block index -> [name, accumulated JSON arguments].
    tool_calls: dict[int, list[str]] = field(default_factory=dict)
    # The attempt still streaming (None once its stream ended, or for a replayed answer), and
    # what it has streamed (text, thinking, tool calls) in quarter tokens
    # (``tiergate.tokens.text_units``): what an estimate charges for.
    live: Attempt | None = None
    streamed_units: int = 0
    started: float = 0.0
    # The answer's text deltas, kept only when the plan has a shadow that may compare them.
    text: list[str] | None = None
    note: str | None = None  # as ``Outcome.note``
    # Hands back the breaker's probe slot the stream holds (``let_go``); None once done.
    release: Callable[[], None] | None = None

    def let_go(self) -> None:
        """Give back the probe slot the stream may hold: it ended, failed or was left."""
        release, self.release = self.release, None
        if release is not None:
            release()

    # The request as sent upstream, for estimating usage the upstream did not report.
    request: ChatRequest | None = None
    estimated: bool = False

    def settle(self, request: ChatRequest | None, *, ended: bool) -> Usage:
        """The stream's usage with what the upstream did not report estimated
        (tiergate/cost/estimate.py); marks the stream estimated when anything was."""
        if request is None or (ended and not needs_estimate(self.usage)):
            return self.usage
        used, estimated = complete_usage(self.usage, request, self.streamed_units, ended=ended)
        self.usage = used
        self.estimated = self.estimated or estimated
        return used

    def cut(self, request: ChatRequest, status: int) -> None:
        """The stream stopped before its end (the client left, or ``max_stream_seconds``): the
        live attempt is charged for what it used so far, estimated where the upstream had not
        reported it (tiergate/cost/estimate.py). A stream that already ended is left as is.
        Either way its probe slot, if it holds one, is free from here on."""
        self.let_go()
        attempt = self.live
        if attempt is None:
            return
        self.live = None
        # Once the final usage event has arrived (stop_reason set), its counts are the total.
        attempt.usage = self.settle(request, ended=self.stop_reason is not None)
        attempt.estimated = self.estimated
        attempt.outcome = "cut"
        attempt.status = status
        attempt.latency_ms = (time.perf_counter() - self.started) * 1000


Sleep = Callable[[float], Awaitable[None]]


class Executor:
    def __init__(
        self,
        providers: ProviderRegistry,
        retry: RetryConfig | None = None,
        breakers: CircuitBreakers | None = None,
        sleep: Sleep = asyncio.sleep,
        auto_cache: bool = True,
    ) -> None:
        self._auto_cache = auto_cache
        self._providers = providers
        self._retry = retry or RetryConfig()
        self.breakers = breakers or CircuitBreakers(
            self._retry.breaker_failures, self._retry.breaker_cooldown
        )
        self._sleep = sleep

    # -- the plan ---------------------------------------------------------------------------
    async def run(
        self,
        request: ChatRequest,
        plan: Plan,
        options: CallOptions,
        attempts: list[Attempt] | None = None,
    ) -> Outcome:
        """Carry out ``plan``. Every attempt goes into ``attempts`` as it is made (a list the
        caller may pass), so a request that fails in the end still has what it spent on the
        way (an escalation, a judge) to bill and log."""
        attempts = [] if attempts is None else attempts

        def answer(tier: Tier, index: int, note: str | None) -> Awaitable[Outcome]:
            return self._call_tier(request, tier, index, options, attempts, note)

        def passed(response: ChatResponse, index: int, tier: Tier, dep: Deployment) -> Outcome:
            return Outcome(response, index, tier.model, dep, attempts)

        return await self._carry_out(request, plan, options, attempts, answer, passed)

    async def open_stream(
        self,
        request: ChatRequest,
        plan: Plan,
        options: CallOptions,
        attempts: list[Attempt] | None = None,
    ) -> StreamOutcome:
        """Run the plan until a stream's first event arrives; from then on no retry happens.
        ``attempts`` as for ``run``."""
        attempts = [] if attempts is None else attempts

        def answer(tier: Tier, index: int, note: str | None) -> Awaitable[StreamOutcome]:
            return self._open_tier(request, tier, index, options, attempts, note)

        def passed(
            response: ChatResponse, index: int, tier: Tier, dep: Deployment
        ) -> StreamOutcome:
            return self._replayed(response, index, tier, dep, attempts)

        outcome = await self._carry_out(
            request, plan, options, attempts, answer, passed, streams=True
        )
        if plan.shadow is not None and outcome.text is None:
            outcome.text = []  # a shadow call may compare the answer: keep its text
        return outcome

    async def _carry_out(
        self,
        request: ChatRequest,
        plan: Plan,
        options: CallOptions,
        attempts: list[Attempt],
        answer: Callable[[Tier, int, str | None], Awaitable[_T]],
        passed: Callable[[ChatResponse, int, Tier, Deployment], _T],
        *,
        streams: bool = False,
    ) -> _T:
        """The plan's tiers in order, then its fallback: the one walk for whole answers and
        streams. ``answer`` gets the answer of a tier that is not graded (with the fallback's
        note; a plain function returning the call's coroutine, so no frame wraps it),
        ``passed`` makes one of a graded answer that passed."""
        last_error: GatewayError | None = None
        for index, tier in enumerate(plan.tiers):
            final = index == len(plan.tiers) - 1
            try:
                if final or not plan.validators:
                    return await answer(tier, index, None)
                # Read whole so validators see the answer: the upstream must not stream.
                whole = replace(request, stream=False) if streams else request
                graded = await self._call_tier(whole, tier, index, options, attempts)
                response, deployment = graded.response, graded.deployment
            except ProviderError as exc:
                last_error = exc
                if exc.status in _REQUEST_FAULTS or (final and not _fails_over(exc)):
                    raise
                continue
            if await self._validate(request, response, plan, attempts):
                return passed(response, index, tier, deployment)
        if isinstance(last_error, ProviderError):
            # Nothing has reached the client yet: the fallback may still answer.
            for index, tier, note in self._fallbacks(request, plan, last_error):
                try:
                    return await answer(tier, index, note)
                except ProviderError as exc:
                    if not _fails_over(exc):
                        raise
        raise last_error or GatewayError("routing plan has no tiers", status=500)

    def _fallbacks(
        self, request: ChatRequest, plan: Plan, error: ProviderError
    ) -> list[tuple[int, Tier, str]]:
        """The plan's fallback tiers after its last tier failed with ``error`` (which fails
        over): their tier numbers (after the plan's own) and the note the reason gets."""
        if plan.fallback is None:
            return []
        tried = {tier.model.id for tier in plan.tiers}
        tiers = plan.fallback.tiers(request, tried, self.breakers.open_deployments())
        why = "circuit open" if isinstance(error, _CircuitOpen) else f"{error.upstream_status}"
        failed = f"{plan.tiers[-1].model.id} failed ({why}), fallback"
        return [
            (len(plan.tiers) + k, tier, f"{failed} {tier.model.id}") for k, tier in enumerate(tiers)
        ]

    async def _validate(
        self, request: ChatRequest, response: ChatResponse, plan: Plan, attempts: list[Attempt]
    ) -> bool:
        """Whether the answer of ``attempts[-1]`` passes; a failing one is marked so. The
        upstream calls validators made to decide (a judge's, reported in their verdicts) join
        ``attempts`` after it, as ``judge`` attempts of the same tier, so they are billed and
        logged with the request."""
        graded = attempts[-1]
        reason: str | None = None
        calls: list[ValidatorCall] = []
        for validator in plan.validators:
            verdict = await validator.check(request, response)
            calls += verdict.calls
            if not verdict.ok:
                reason = f"{validator.name}: {verdict.reason}"
                break
        if reason is not None:
            graded.outcome = "validator_failed"
            graded.error = reason
        for call in calls:
            if call.usage is not None:  # a refused or failed call made no billable use
                judge = Attempt(
                    n=len(attempts) + 1,
                    tier=graded.tier,
                    model=call.model,
                    deployment=call.deployment,
                    outcome="judge",
                    latency_ms=call.latency_ms,
                    usage=call.usage,
                    status=call.status,
                    error=call.error,
                    estimated=call.estimated,
                )
                attempts.append(judge)
        return reason is None

    # -- one tier: its deployments in turn, each tried again for what may pass --------------
    async def _try_tier(
        self,
        tier: Tier,
        index: int,
        attempts: list[Attempt],
        once: Callable[[Deployment, Attempt, float], Awaitable[_T]],
    ) -> tuple[_T, Deployment, int]:
        """The retry loop, for whole answers and streams alike: ``once`` makes one call of a
        deployment (recorded in the attempt it is given, started at the time it is given) and
        raises ``ProviderError`` for a failure. Returns what the first call that worked gave,
        its deployment and the breaker's probe slot, which the caller then holds; on every
        other way out the slot is handed back here."""
        last: ProviderError | None = None
        for deployment in tier.deployments:
            # Asked one deployment at a time: a request holds at most the probe it uses.
            probe = self.breakers.claim(deployment.name, deployment.timeout)
            if probe is None:
                continue
            handed = False
            try:
                for retry in range(self._retry.max_retries + 1):
                    attempt = Attempt(len(attempts) + 1, index, tier.model, deployment)
                    attempts.append(attempt)
                    started = time.perf_counter()
                    failure: ProviderError | None = None
                    try:
                        result = await once(deployment, attempt, started)
                    except ProviderError as exc:
                        self._failed(attempt, exc, started)
                        failure = last = exc
                    else:
                        handed = True
                        return result, deployment, probe
                    if isinstance(failure, _EmptyStream):
                        continue  # nothing was wrong but the answer: again at once
                    # The back-off is awaited after the handler: see the module docstring.
                    if not await self._should_retry(failure, retry):
                        break
            finally:  # every way out, cancellation included, hands the probe back
                if not handed:
                    self.breakers.release(deployment.name, probe)
            if last is not None and not _fails_over(last):
                raise last
        raise last or _all_open(tier)

    async def _call_tier(
        self,
        request: ChatRequest,
        tier: Tier,
        index: int,
        options: CallOptions,
        attempts: list[Attempt],
        note: str | None = None,
    ) -> Outcome:
        """A whole answer from the tier (``note``: as ``Outcome.note``)."""

        async def once(deployment: Deployment, attempt: Attempt, started: float) -> ChatResponse:
            provider = self._providers.get(deployment.provider)
            response = await provider.complete(
                _cached(request, tier, self._auto_cache), deployment, options
            )
            attempt.latency_ms = (time.perf_counter() - started) * 1000
            if needs_estimate(response.usage):  # an upstream that reported no usage
                response.usage, attempt.estimated = complete_usage(
                    response.usage, request, response_units(response), ended=True
                )
            attempt.usage = response.usage
            attempt.status = 200
            self.breakers.record_success(deployment.name)
            return response

        response, deployment, probe = await self._try_tier(tier, index, attempts, once)
        self.breakers.release(deployment.name, probe)
        return Outcome(response, index, tier.model, deployment, attempts, note)

    async def _open_tier(
        self,
        request: ChatRequest,
        tier: Tier,
        index: int,
        options: CallOptions,
        attempts: list[Attempt],
        note: str | None = None,
    ) -> StreamOutcome:
        """A stream from the tier whose first event arrived (``note``: as ``Outcome.note``).
        It holds the breaker's probe slot until it ends (``StreamOutcome.let_go``)."""

        async def once(deployment: Deployment, attempt: Attempt, started: float) -> StreamOutcome:
            return await self._open_attempt(
                request, tier, index, deployment, options, attempts, attempt, started
            )

        outcome, deployment, probe = await self._try_tier(tier, index, attempts, once)
        outcome.note = note
        if probe != NO_PROBE:
            outcome.release = functools.partial(self.breakers.release, deployment.name, probe)
        return outcome

    def _failed(self, attempt: Attempt, exc: ProviderError, started: float) -> None:
        """Record a failed attempt. What fails over counts against the deployment's breaker;
        any other error is an answer about the request (a 400), which shows the upstream up."""
        attempt.latency_ms = (time.perf_counter() - started) * 1000
        attempt.outcome = "provider_error"
        attempt.status = exc.upstream_status
        attempt.error = exc.message
        if _fails_over(exc):
            self.breakers.record_failure(attempt.deployment.name)
        else:
            self.breakers.record_success(attempt.deployment.name)

    async def _should_retry(self, exc: ProviderError, retry: int) -> bool:
        if not exc.retryable or retry >= self._retry.max_retries:
            return False
        if exc.retry_after is not None:
            if exc.retry_after > self._retry.max_retry_after:
                return False
            delay = exc.retry_after
        else:
            delay = self._retry.backoff_base * (2**retry) * (0.5 + random.random() / 2)
        await self._sleep(delay)
        return True

    # -- streams --------------------------------------------------------------------------
    def _replayed(
        self,
        response: ChatResponse,
        index: int,
        tier: Tier,
        deployment: Deployment,
        attempts: list[Attempt],
    ) -> StreamOutcome:
        async def events() -> AsyncIterator[StreamEvent]:
            for event in response_events(response):
                yield event

        tool_calls = {
            i: [b.name, orjson.dumps(b.input).decode()]
            for i, b in enumerate(response.content)
            if isinstance(b, ToolUseBlock)
        }
        return StreamOutcome(
            index,
            tier.model,
            deployment,
            attempts,
            events(),
            response.usage,
            0.0,
            response.stop_reason,
            tool_calls,
            text=[response.text()],
        )

    async def _open_attempt(
        self,
        request: ChatRequest,
        tier: Tier,
        index: int,
        deployment: Deployment,
        options: CallOptions,
        attempts: list[Attempt],
        attempt: Attempt,
        started: float,
    ) -> StreamOutcome:
        """One call of ``deployment``, as a stream whose first event has arrived."""
        provider = self._providers.get(deployment.provider)
        iterator = provider.stream(
            _cached(request, tier, self._auto_cache), deployment, options
        ).__aiter__()
        first: StreamEvent | None = None
        timed_out = False
        try:
            # The deployment's timeout bounds the wait for the first event too: the read
            # timeout alone restarts on every chunk, so an upstream sending only keep-alive
            # comments would hold the request (and its connection) forever.
            async with asyncio.timeout(deployment.timeout):
                first = await iterator.__anext__()
        except TimeoutError:
            timed_out = True
        except StopAsyncIteration:
            pass
        # Raised after the handlers, so the error does not carry theirs as its context.
        if timed_out:
            raise ProviderError(
                f"upstream {deployment.name} sent no event within {deployment.timeout:g} s",
                status=504,
                provider=deployment.name,
            )
        if first is None:
            raise _EmptyStream(
                "upstream sent an empty stream", status=502, provider=deployment.name
            )
        outcome = StreamOutcome(index, tier.model, deployment, attempts, _empty())
        outcome.live, outcome.started, outcome.request = attempt, started, request
        outcome.events = self._follow(outcome, attempt, first, iterator, started)
        return outcome

    async def _follow(
        self,
        outcome: StreamOutcome,
        attempt: Attempt,
        first: StreamEvent,
        iterator: AsyncIterator[StreamEvent],
        started: float,
    ) -> AsyncIterator[StreamEvent]:
        """Pass events through, keeping usage, TTFT and the attempt record current."""
        event: StreamEvent | None = first
        try:
            while event is not None:
                if isinstance(event, BlockDelta):
                    outcome.streamed_units += text_units(event.value)
                    if event.kind == "text" and outcome.text is not None:
                        outcome.text.append(event.value)
                    if outcome.ttft_ms is None:
                        outcome.ttft_ms = (time.perf_counter() - started) * 1000
                    if event.kind == "input_json" and event.index in outcome.tool_calls:
                        outcome.tool_calls[event.index][1] += event.value
                elif isinstance(event, BlockStart) and isinstance(event.block, ToolUseBlock):
                    outcome.tool_calls[event.index] = [event.block.name, ""]
                    outcome.streamed_units += text_units(event.block.name)
                elif isinstance(event, MessageStart):
                    outcome.usage = event.usage
                elif isinstance(event, MessageDelta):
                    outcome.usage = outcome.usage.overlay(event.usage)
                    outcome.stop_reason = event.stop_reason
                    if needs_estimate(outcome.usage):  # the upstream reported no usage
                        usage = outcome.settle(outcome.request, ended=True)
                        event = replace(event, usage=usage)  # the client's final usage too
                    # The final usage is known: the request can be priced before it ends.
                    attempt.usage, attempt.estimated = outcome.usage, outcome.estimated
                yield event
                try:
                    event = await iterator.__anext__()
                except StopAsyncIteration:
                    event = None
        except ProviderError as exc:
            outcome.live = None
            self._failed(attempt, exc, started)
            # Cut by the upstream: what was delivered is paid for, estimated where unreported.
            attempt.usage = outcome.settle(outcome.request, ended=outcome.stop_reason is not None)
            attempt.estimated = outcome.estimated
            raise
        finally:
            outcome.let_go()  # before the close below, which awaits and may be cancelled
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if outcome.live is None:  # cut while the upstream was being closed: cut() charged it
            return
        outcome.live = None
        attempt.latency_ms = (time.perf_counter() - started) * 1000
        # A stream that ended without a final usage event (no MessageDelta) is estimated too.
        attempt.usage = outcome.settle(outcome.request, ended=True)
        attempt.estimated = outcome.estimated
        attempt.status = 200
        self.breakers.record_success(outcome.deployment.name)


def _cached(request: ChatRequest, tier: Tier, enabled: bool) -> ChatRequest:
    """The request as the tier's Anthropic model takes it: ``system`` messages inside the
    conversation folded into the user turn for a model without them (Claude Code sends them
    whatever model it is pointed at), and prompt caching done for the caller: ``cache_control``
    breakpoints on the stable prefix (a request that sets its own is left alone; see
    cost/caching.py)."""
    if tier.model.provider != "anthropic":
        return request
    if "system_messages" not in tier.model.capabilities and request.has_system_messages():
        request = request.with_system_messages_folded()
    if not enabled:
        return request
    return apply_cache_breakpoints(request, tier.model)


def _fails_over(error: ProviderError) -> bool:
    return error.retryable or error.upstream_status in _FAILOVER_STATUSES


class _CircuitOpen(ProviderError):
    """Every deployment of a tier was refused by its breaker: nothing was sent."""


class _EmptyStream(ProviderError):
    """A stream that ended before its first event: called again at once, with no back-off."""


def _all_open(tier: Tier) -> ProviderError:
    return _CircuitOpen(
        f"every deployment of {tier.model.id} is failing; try again shortly",
        status=503,
        provider=",".join(d.name for d in tier.deployments) or "none",
        retry_after=5.0,
    )


async def _empty() -> AsyncIterator[StreamEvent]:
    return
    yield
