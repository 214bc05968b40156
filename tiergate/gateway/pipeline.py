"""The request pipeline: the steps every model request takes, whoever sent it.

decode -> ``admit`` (who may send what, the plan, the budget reserved) -> ``complete`` (a whole
answer) or ``open_stream`` (the answer as events) -> ``finish`` (priced, then handed to the
``Finisher``: log row, budget settled, shadow call, rollout judge). The HTTP endpoints
(``server/chat.py``, ``server/responses_endpoint.py``), batch items (``gateway/batch_items.py``)
and evaluation calls (``gateway/evaluation_calls.py``) all run these same functions; only
reading the request and writing the answer differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from tiergate.errors import GatewayError, PayloadTooLarge
from tiergate.gateway.log_rows import Recorder
from tiergate.providers.base import CallOptions
from tiergate.types import ChatRequest, MessageDelta, StreamCost
from tiergate.wire.format import ClientFormat, WireFormat
from tiergate.wire.nesting import json_body

if TYPE_CHECKING:
    from tiergate.cost.billing import Accountant
    from tiergate.executor import StreamOutcome
    from tiergate.gateway.auth import Principal
    from tiergate.gateway.gateway import Gateway
    from tiergate.gateway.rollout_control import Rollouts
    from tiergate.gateway.shadow_calls import Shadower
    from tiergate.gateway.trace import RequestTrace
    from tiergate.observability.metrics import Metrics
    from tiergate.routing.plan import Plan
    from tiergate.store.request_log import RequestLog
    from tiergate.tenancy import Guard

__all__ = [
    "Finisher",
    "admit",
    "call_options",
    "check_size",
    "complete",
    "decode",
    "end_stream",
    "finish",
    "open_stream",
    "routing_headers",
    "with_cost",
]


def decode(wire: WireFormat, body: bytes, gateway: Gateway) -> ChatRequest:
    return check_size(wire.decode_request(json_body(body)), gateway)


def check_size(request: ChatRequest, gateway: Gateway) -> ChatRequest:
    limits = gateway.settings.limits
    if len(request.messages) > limits.max_messages:
        raise PayloadTooLarge(
            f"request has {len(request.messages)} messages; the limit is {limits.max_messages}",
            param="messages",
        )
    if len(request.tools) > limits.max_tools:
        raise PayloadTooLarge(
            f"request has {len(request.tools)} tools; the limit is {limits.max_tools}",
            param="tools",
        )
    return request


_NO_OPTIONS = CallOptions()


def routing_headers(request: ChatRequest, headers: dict[str, str]) -> ChatRequest:
    """The caller's routing hints, read the same way by every model endpoint: the task tag
    (``x-tiergate-task``, for rules) and the conversation id (``x-tiergate-conversation``,
    which an agent-loop route keys its memory and trace on instead of a hash of the
    conversation's start)."""
    task = headers.get("x-tiergate-task")
    if task:
        request.metadata["task"] = task
    conversation = headers.get("x-tiergate-conversation")
    if conversation:
        request.metadata["conversation_id"] = conversation
    return request


def call_options(headers: dict[str, str], gateway: Gateway) -> CallOptions:
    forward = {name: headers[name] for name in gateway.settings.forward_headers if name in headers}
    caller_key = headers.get("x-provider-api-key")
    if not forward and caller_key is None:
        return _NO_OPTIONS  # most requests: one shared (immutable) instance
    return CallOptions(caller_key=caller_key, forward_headers=forward)


async def admit(
    gateway: Gateway, trace: RequestTrace, request: ChatRequest, principal: Principal
) -> Plan:
    """May this caller send this request, what will run it, and its budget reserved: the
    steps every request takes, from the chat endpoints or from a batch job."""
    trace.request = request
    principal.check_model(request.model)
    policy = gateway.policies.get(request.model, gateway.direct)
    plan = policy(request, gateway.catalog, gateway.states.current())
    trace.plan = plan
    if plan.trace_id is not None and trace.trace_id is None:
        trace.trace_id = plan.trace_id
    if principal.key is not None:
        trace.reservation = await gateway.guard.admit(
            principal.key, request, plan, trace.request_id, keep=trace.batch_id is not None
        )
    return plan


async def complete(
    gateway: Gateway,
    wire: ClientFormat,
    trace: RequestTrace,
    request: ChatRequest,
    plan: Plan,
    options: CallOptions,
) -> bytes:
    """Run a non-streamed request to its end: its answer in the caller's format, priced and
    handed to the log (``finish``); for the chat endpoints and batch items alike."""
    result = await gateway.executor.run(request, plan, options, trace.attempts)
    trace.outcome = result
    trace.finish(gateway.accountant, status=200)
    return orjson.dumps(wire.encode_response(result.response, request.model))


async def open_stream(
    gateway: Gateway, trace: RequestTrace, request: ChatRequest, plan: Plan, options: CallOptions
) -> StreamOutcome:
    """Run a streamed request until its first event (retries and fail-over happen only
    before it); the caller sends the events, then calls ``end_stream``."""
    outcome = await gateway.executor.open_stream(request, plan, options, trace.attempts)
    trace.stream = outcome
    return outcome


def with_cost(event: MessageDelta, accountant: Accountant, trace: RequestTrace) -> MessageDelta:
    """The final usage event with the request's cost so far (every attempt, escalations and
    judges included), so a streaming client sees what headers could not tell it."""
    bill = accountant.bill(trace.attempts, batch=trace.batch)
    return replace(event, cost=StreamCost(bill.usd, bill.estimated))


def end_stream(
    gateway: Gateway,
    trace: RequestTrace,
    outcome: StreamOutcome,
    request: ChatRequest,
    status: int,
    failure: GatewayError | None,
) -> None:
    """A stream is over (whole, failed, cut by the client or the time limit): the upstream is
    paid for what it sent, then the request finishes."""
    outcome.cut(request, status)
    trace.finish(gateway.accountant, status=status, error=failure)


def finish(
    gateway: Gateway, trace: RequestTrace, status: int, error: GatewayError | None = None
) -> None:
    """A request ended without an answer of the pipeline's own (a failure, a client that
    left, an answer made elsewhere): priced and handed on all the same."""
    trace.finish(gateway.accountant, status=status, error=error)


class Finisher:
    """What happens once a request has ended (``on_finish``, a trace's hook), off its path.

    The log row and metrics are built on the loop's next turn (a non-streamed request
    finishes just before its answer is sent, and this work need not delay it); a budget
    reservation is settled with the real cost; a shadow call and a rollout's judged pair are
    launched when the plan asks for them."""

    def __init__(
        self,
        log: RequestLog,
        metrics: Metrics,
        bodies: bool,
        guard: Guard,
        shadows: Shadower,
        rollouts: Rollouts,
    ) -> None:
        self.recorder = Recorder(log, metrics, bodies)
        self._guard = guard
        self._shadows = shadows
        self._rollouts = rollouts
        self._tasks: set[asyncio.Future[None]] = set()
        self.on_finish = self._hook(asyncio.get_running_loop())

    def _hook(self, loop: asyncio.AbstractEventLoop) -> Callable[[RequestTrace], None]:
        """A plain function, not a bound method: it runs once per request."""
        call_soon, shadows, rollouts = loop.call_soon, self._shadows, self._rollouts

        def on_finish(trace: RequestTrace) -> None:
            call_soon(self.recorder, trace)
            if trace.reservation is not None:
                self._background(self._settle(trace))
            plan = trace.plan
            if plan is not None:
                if plan.shadow is not None:
                    shadows.launch(trace)
                if plan.rolled_from:
                    rollouts.launch_judge(trace)

        return on_finish

    async def _settle(self, trace: RequestTrace) -> None:
        from tiergate.store.records import to_nano

        reservation = trace.reservation
        if reservation is None:
            return
        if trace.bill is not None and trace.bill.usd is not None:
            actual = to_nano(trace.bill.usd) or 0
        elif trace.bill is None:
            actual = 0  # nothing ran (the request failed before any upstream call)
        else:
            actual = reservation.nano  # unpriced model: charge the estimate, never 0
        await self._guard.ledger.settle(reservation, actual)

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Wait for the settlements still running (they write to the store)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
