"""Runs the multi-call routes (fan-out, draft-then-review) for one client request.

The prompts and the parsing of the planner's and reviewer's answers are pure, in
``routing/multicall.py``; this module makes the calls. Its result is the answer (or, for a
streamed fan-out, the composer's stream), which the endpoint sends (``server/chat.py``).

Every inner call goes through the pipeline any request takes: a plan, the caller's budget
(the guard reserves and settles each call), the executor (retries, fail-over), pricing and the
request log, as a row of its own. All rows share one trace id, the client request's id, which
the answer carries in ``x-tiergate-trace-id``; the last call (composer, reviewer) is logged
under the client request's own id. Each inner row's counterfactual (``baseline_cost_usd``) is
its answer priced on the route's strong model (planner, reviewer): the sum over a trace is the
"all on the strong model" figure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from tiergate.errors import GatewayError, ProviderError
from tiergate.gateway.auth import Principal
from tiergate.gateway.pipeline import finish, open_stream
from tiergate.gateway.request_id import new_request_id
from tiergate.gateway.trace import RequestTrace
from tiergate.providers.base import CallOptions
from tiergate.routing.multicall import (
    DraftReviewRoute,
    FanoutRoute,
    MultiCallError,
    MultiCallRoute,
    Subtask,
    composer_request,
    model_plan,
    parse_review,
    parse_subtasks,
    planner_request,
    review_request,
    worker_request,
)
from tiergate.routing.plan import Plan
from tiergate.types import ChatRequest, ChatResponse, TextBlock

if TYPE_CHECKING:
    from tiergate.executor import StreamOutcome
    from tiergate.gateway.gateway import Gateway

_REQUEST_FAULTS = frozenset({400, 413, 422})
T = TypeVar("T")


async def in_parallel(calls: list[Awaitable[T]]) -> list[T]:
    """All of ``calls`` at once; the first failure cancels the rest and is raised as itself
    (not as an exception group), so the client gets that error in its own format."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_run(call)) for call in calls]
    except BaseExceptionGroup as failed:
        raise _first(failed) from None
    return [task.result() for task in tasks]


async def _run(call: Awaitable[T]) -> T:
    return await call


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first(exc)
        if isinstance(exc, GatewayError):
            return exc
    return group.exceptions[0]


class InnerCalls:
    """Makes a route's inner calls, each its own priced, logged request in the caller's trace."""

    def __init__(
        self, gateway: Gateway, parent: RequestTrace, principal: Principal, options: CallOptions
    ) -> None:
        self.gateway = gateway
        self.parent = parent
        self.principal = principal
        self.options = options

    async def call(self, request: ChatRequest, plan: Plan) -> ChatResponse:
        gateway = self.gateway
        trace = RequestTrace(
            new_request_id(), self.parent.client_format, on_finish=self.parent.on_finish
        )
        trace.principal, trace.trace_id = self.principal, self.parent.trace_id
        trace.request, trace.plan = request, plan
        status, failure = 499, None  # cancelled (a sibling failed, the client left)
        try:
            await self._reserve(trace, request, plan)
            trace.outcome = await gateway.executor.run(request, plan, self.options, trace.attempts)
            status = 200
            return trace.outcome.response
        except GatewayError as exc:
            status, failure = exc.status, exc
            raise
        finally:  # every way out logs what the call spent
            finish(gateway, trace, status, failure)

    async def reserve_parent(self, request: ChatRequest, plan: Plan) -> None:
        self.parent.request, self.parent.plan = request, plan
        await self._reserve(self.parent, request, plan)

    async def _reserve(self, trace: RequestTrace, request: ChatRequest, plan: Plan) -> None:
        key = self.principal.key
        if key is not None:
            trace.reservation = await self.gateway.guard.admit(key, request, plan, trace.request_id)


async def run_multicall(
    gateway: Gateway,
    trace: RequestTrace,
    route: MultiCallRoute,
    request: ChatRequest,
    options: CallOptions,
    principal: Principal,
) -> ChatResponse | StreamOutcome:
    """The route's answer to ``request``: whole, or the composer's stream for a streamed
    fan-out (``trace.stream``); the caller sends it and finishes ``trace``."""
    trace.trace_id = trace.request_id
    trace.request = request
    calls = InnerCalls(gateway, trace, principal, options)
    if isinstance(route, FanoutRoute):
        return await _fanout(gateway, trace, route, request, calls)
    return await _draft_review(gateway, trace, route, request, calls)


async def _fanout(
    gateway: Gateway,
    trace: RequestTrace,
    route: FanoutRoute,
    request: ChatRequest,
    calls: InnerCalls,
) -> ChatResponse | StreamOutcome:
    state = gateway.routing_state()
    name, strong = route.name, route.planner
    asked = planner_request(request, route.planner, route.max_subtasks)
    why = f"fanout {name}: planner"
    planned = await calls.call(
        asked, model_plan(name, route.planner, asked, state, why, route.selector, baseline=strong)
    )
    subtasks = parse_subtasks(planned.text(), route.max_subtasks)
    gate = asyncio.Semaphore(route.max_parallel)

    async def work(subtask: Subtask, n: int) -> str:
        async with gate:
            return await _subtask(gateway, calls, route, request, subtask, n, len(subtasks))

    # One failing subtask (after its own retries and escalation) cancels its siblings.
    answers = await in_parallel([work(s, i + 1) for i, s in enumerate(subtasks)])
    final = composer_request(request, route.composer, subtasks, answers)
    reason = f"fanout {name}: composer over {len(subtasks)} subtasks"
    plan = model_plan(name, route.composer, final, state, reason, route.selector, baseline=strong)
    await calls.reserve_parent(final, plan)
    trace.request = final
    options = calls.options
    if request.stream:
        return await open_stream(gateway, trace, final, plan, options)
    trace.outcome = await gateway.executor.run(final, plan, options, trace.attempts)
    return trace.outcome.response


async def _subtask(
    gateway: Gateway,
    calls: InnerCalls,
    route: FanoutRoute,
    request: ChatRequest,
    subtask: Subtask,
    n: int,
    total: int,
) -> str:
    """One subtask: on each worker model in turn, ``worker_retries`` more times on each, until
    one answers with text. Only this subtask moves; its siblings keep their answers."""
    state = gateway.routing_state()
    last: Exception | None = None
    for model in route.workers:
        asked = worker_request(request, model, subtask, route.worker_max_tokens)
        for attempt in range(route.worker_retries + 1):
            why = f"fanout {route.name}: worker {subtask.id} ({n}/{total}) on {model.id}"
            if attempt or model is not route.workers[0]:
                why += f", retry {attempt}" if attempt else ", escalated"
            # The route's own escalation comes first: the in-request fallback only for the
            # last attempt on the last worker.
            final = model is route.workers[-1] and attempt == route.worker_retries
            plan = model_plan(
                route.name,
                model,
                asked,
                state,
                why,
                route.selector,
                baseline=route.planner,
                fallback=final,
            )
            try:
                response = await calls.call(asked, plan)
            except ProviderError as exc:
                if exc.status in _REQUEST_FAULTS:
                    raise
                last = exc
                continue
            if response.text().strip():
                return response.text()
            last = MultiCallError(f"worker for subtask {subtask.id} answered nothing")
    raise MultiCallError(f"subtask {subtask.id} failed on every worker: {last}")


async def _draft_review(
    gateway: Gateway,
    trace: RequestTrace,
    route: DraftReviewRoute,
    request: ChatRequest,
    calls: InnerCalls,
) -> ChatResponse:
    state = gateway.routing_state()
    name, count = route.name, route.drafts
    drafted = replace(request, stream=False, temperature=route.temperature)
    plans = [
        model_plan(
            name,
            route.drafter,
            drafted,
            state,
            f"draft_review {name}: draft {i + 1}/{count}",
            route.selector,
            baseline=route.reviewer,
        )
        for i in range(count)
    ]
    drafts = await in_parallel([calls.call(drafted, plan) for plan in plans])
    texts = [d.text() for d in drafts]
    review = review_request(request, route.reviewer, texts, route.mode)
    why = f"draft_review {name}: {route.mode}"
    plan = model_plan(
        name, route.reviewer, review, state, why, route.selector, baseline=route.reviewer
    )
    await calls.reserve_parent(review, plan)
    trace.outcome = await gateway.executor.run(review, plan, calls.options, trace.attempts)
    winner, refined = parse_review(trace.outcome.response.text(), count, route.mode)
    trace.extra_headers.append((b"x-tiergate-draft-winner", b"%d" % winner))
    chosen = drafts[winner - 1]
    if refined is not None:
        chosen = replace(trace.outcome.response, content=[TextBlock(refined)])
    trace.plan = replace(plan, reason=f"{plan.reason}: draft {winner} of {count} won")
    return chosen
