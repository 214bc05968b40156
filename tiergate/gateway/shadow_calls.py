"""Shadow traffic: after a request is answered, the route's candidate model gets it too.

The plan names the candidate (``routing/shadow.py``); here a sample of answered requests is
sent to it, off the request path: after the reply, as a background task, never delaying or
changing what the client got. Each call is priced like any other and logged in ``shadows``,
linked to the served request's row, with whether the two answers agree, so a team can see what
moving the route to the candidate would save and whether its answers would change before any
real traffic moves.

Who pays: the operator. A shadow call is not charged to the caller's key (budget, rate
limits): the caller neither asked for it nor sees it. ``sample`` and ``max_in_flight`` bound
what it can cost; past ``max_in_flight`` running calls a request is simply not shadowed.

Judged shadow: with a ``judge`` on the route's shadow, a sample of the pairs (served answer,
candidate answer) is graded by a judge model in the same background task, after the shadow
row is queued (``gateway/judging.py``); the judge's calls count against ``max_in_flight`` too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tiergate.errors import GatewayError, InternalError
from tiergate.executor import Attempt, Executor
from tiergate.gateway.log_rows import fit_shadow_for_log, streamed_calls, total_usage
from tiergate.gateway.request_id import new_request_id
from tiergate.providers.base import OWN_CALL
from tiergate.redaction import redact
from tiergate.routing.plan import Plan, Shadow, Tier
from tiergate.store.records import ShadowRecord
from tiergate.types import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from tiergate.cost.billing import Accountant
    from tiergate.gateway.judging import Judging
    from tiergate.gateway.trace import RequestTrace
    from tiergate.store.request_log import RequestLog

logger = logging.getLogger("tiergate")


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


# An answer as compared: its text, and its tool calls as (name, arguments).
Answer = tuple[str, list[tuple[str, Any]]]


def answers_agree(served: ChatResponse, candidate: ChatResponse) -> bool:
    """Whether two answers say the same: equal text once case and runs of whitespace are
    ignored, and the same tool calls (names and arguments, in order). Exact agreement is the
    measure for classification, extraction and tool-choosing steps, the work a cheaper model
    takes over; for free prose it is a lower bound (two good summaries rarely match)."""
    return _agree(_answer(served), _answer(candidate))


def _answer(response: ChatResponse) -> Answer:
    return response.text(), [(b.name, b.input) for b in response.tool_uses()]


def _agree(served: Answer, candidate: Answer) -> bool:
    return _normalised(served[0]) == _normalised(candidate[0]) and served[1] == candidate[1]


def served_answer(trace: RequestTrace) -> Answer | None:
    """What the client got: the response, or what was streamed (None for a stream whose text
    was not kept)."""
    if trace.outcome is not None:
        return _answer(trace.outcome.response)
    stream = trace.stream
    if stream is None or stream.text is None:
        return None
    return "".join(stream.text), streamed_calls(stream)


@dataclass(slots=True)
class OffPathCall:
    """One tier's answer to an answered request, got after the reply: the request as sent
    (not streamed), every attempt (for the price and the log) and the answer or the error."""

    request: ChatRequest
    attempts: list[Attempt]
    response: ChatResponse | None = None
    error: GatewayError | None = None


async def call_off_path(
    executor: Executor, trace: RequestTrace, tier: Tier, reason: str, policy: str
) -> OffPathCall:
    """Ask ``tier`` the request ``trace`` answered, off the request path (a shadow's candidate,
    a rollout's incumbent): not streamed, on the gateway's own account (``OWN_CALL``: the
    caller's key neither asked for it nor pays). Never raises: a background task's exception
    would go unseen, so an unexpected one is logged and becomes an ``InternalError``."""
    assert trace.request is not None  # an answered request
    request = replace(trace.request, stream=False, stream_include_usage=False)
    call = OffPathCall(request, [])
    plan = Plan(tiers=(tier,), reason=reason, policy=policy)
    try:
        call.response = (await executor.run(request, plan, OWN_CALL, call.attempts)).response
    except GatewayError as exc:
        call.error = exc
    except Exception:
        logger.exception("%s call of request %s failed", reason, trace.request_id)
        call.error = InternalError(f"internal error in the {reason} call")
    return call


class Shadower:
    def __init__(
        self,
        executor: Executor,
        accountant: Accountant,
        log: RequestLog | None,
        bodies: bool,
        draw: Callable[[], float] = random.random,
        judging: Judging | None = None,
    ) -> None:
        self._executor = executor
        self._judging = judging
        self._accountant = accountant
        self._log = log
        self._bodies = bodies
        self._draw = draw
        self._running: dict[str, int] = {}  # route -> shadow calls in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self.launched = 0  # shadow calls started
        self.skipped = 0  # sampled requests not shadowed: the route's calls were at their cap

    def launch(self, trace: RequestTrace) -> bool:
        """Start the shadow call of an answered request if its plan has a candidate and the
        request falls in the sample; returns whether it started. Never raises."""
        plan = trace.plan
        shadow = plan.shadow if plan is not None else None
        if shadow is None or plan is None or trace.status != 200 or trace.request is None:
            return False
        if shadow.sample < 1 and self._draw() >= shadow.sample:
            return False
        route = plan.policy
        running = self._running.get(route, 0)
        if running >= shadow.max_in_flight:
            self.skipped += 1
            return False
        self._running[route] = running + 1
        self.launched += 1
        task = asyncio.ensure_future(self._shadow(trace, plan, shadow))
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._done(done, route))
        return True

    def _done(self, task: asyncio.Task[None], route: str) -> None:
        self._tasks.discard(task)
        self._running[route] -= 1

    async def _shadow(self, trace: RequestTrace, plan: Plan, shadow: Shadow) -> None:
        started = time.perf_counter()
        call = await call_off_path(self._executor, trace, shadow.tier, "shadow", plan.policy)
        request, attempts, response, error = call.request, call.attempts, call.response, call.error
        if self._log is None:
            return
        try:
            record = self._record(trace, shadow, attempts, response, error)
        except Exception:  # a background task: nobody would see its exception otherwise
            logger.exception("shadow call of request %s could not be logged", trace.request_id)
            return
        record.latency_ms = (time.perf_counter() - started) * 1000
        self._log.submit_shadow(fit_shadow_for_log(record))
        if response is not None and shadow.judge is not None and self._judging is not None:
            judge = shadow.judge
            served = served_answer(trace)
            if served is not None and (judge.sample >= 1 or self._draw() < judge.sample):
                from tiergate.gateway.judging import answer_text, response_text

                await self._judging.grade(
                    kind="shadow",
                    spec=judge,
                    request=request,
                    request_id=trace.request_id,
                    tenant=record.tenant,
                    route=record.route,
                    served_model=record.served_model or "",
                    candidate_model=record.model,
                    served=answer_text(*served),
                    candidate=response_text(response),
                    shadow_id=record.id,
                )

    def _record(
        self,
        trace: RequestTrace,
        shadow: Shadow,
        attempts: list[Attempt],
        response: ChatResponse | None,
        error: GatewayError | None,
    ) -> ShadowRecord:
        principal = trace.principal
        usage = total_usage(attempts)
        bill = self._accountant.bill(attempts) if attempts else None
        served = served_answer(trace)
        record = ShadowRecord(
            id="shd" + new_request_id()[3:],
            shadow_of=trace.request_id,
            ts_ms=int(time.time() * 1000),
            model=shadow.tier.model.id,
            tenant=principal.tenant if principal else "default",
            key_id=principal.key_id if principal else None,
            route=trace.plan.policy if trace.plan else None,
            served_model=trace.answered_by(),
            deployment=attempts[-1].deployment.name if attempts else None,
            status=error.status if error is not None else 200,
            error_class=error.kind if error is not None else None,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_creation_tokens=usage.cache_creation_input_tokens,
            cache_read_tokens=usage.cache_read_input_tokens,
            cost_usd=bill.usd if bill is not None else None,
        )
        if response is not None and served is not None:
            record.agrees = _agree(served, _answer(response))
        if self._bodies and response is not None:
            text = response.text()
            record.response = redact(text) if text else None
        return record

    async def aclose(self) -> None:
        """Let the calls in flight finish (each is bounded by its deployment's timeout), so
        their rows reach the log before it closes."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def running(self) -> int:
        return sum(self._running.values())
