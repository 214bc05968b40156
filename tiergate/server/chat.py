"""The chat endpoints (`/v1/chat/completions`, `/v1/messages`): one handler, two wire formats.

decode (client format) -> policy -> executor -> encode (client format). The client's format and
the upstream's are independent; they meet in ``tiergate.types``.

Headers go out only once the first upstream event has arrived, so every failure before that is
a proper HTTP error in the caller's format; after it, a failure becomes an error frame in the
stream and the stream ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from dataclasses import replace
from typing import TYPE_CHECKING

import orjson

from tiergate.errors import (
    KIND_TIMEOUT,
    GatewayError,
    InternalError,
    PayloadTooLarge,
)
from tiergate.providers.base import CallOptions
from tiergate.routing.multicall import DraftReviewRoute, FanoutRoute
from tiergate.server.auth import Principal
from tiergate.server.ready import ready_batches
from tiergate.server.record import RequestTrace
from tiergate.server.responses import Receive, Send, json_body, send_bytes
from tiergate.types import ChatRequest, MessageDelta, StreamCost, StreamEvent
from tiergate.wire.format import ClientFormat, WireFormat

if TYPE_CHECKING:
    from tiergate.executor import StreamOutcome
    from tiergate.routing.plan import Plan
    from tiergate.server.accounting import Accountant
    from tiergate.server.gateway import Gateway

logger = logging.getLogger("tiergate")

_SSE = (b"content-type", b"text/event-stream")


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
    plan = policy(request, gateway.catalog, gateway.routing_state())
    trace.plan = plan
    if plan.trace_id is not None and trace.trace_id is None:
        trace.trace_id = plan.trace_id
    if principal.key is not None and gateway.guard is not None:
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
    handed to the log (``trace.finish``); for the chat endpoints and batch items alike."""
    result = await gateway.executor.run(request, plan, options, trace.attempts)
    trace.outcome = result
    trace.finish(gateway.accountant, status=200)
    return orjson.dumps(wire.encode_response(result.response, request.model))


async def handle_chat(
    gateway: Gateway,
    wire: WireFormat,
    trace: RequestTrace,
    body: bytes,
    headers: dict[str, str],
    principal: Principal,
    receive: Receive,
    send: Send,
) -> None:
    request = routing_headers(decode(wire, body, gateway), headers)
    route = gateway.policies.get(request.model)
    if isinstance(route, FanoutRoute | DraftReviewRoute):
        from tiergate.server.multicall import handle_multicall

        principal.check_model(request.model)
        options = call_options(headers, gateway)
        await handle_multicall(
            gateway, wire, trace, route, request, options, principal, receive, send
        )
        return
    plan = await admit(gateway, trace, request, principal)
    options = call_options(headers, gateway)
    if request.stream:
        outcome = await gateway.executor.open_stream(request, plan, options, trace.attempts)
        trace.stream = outcome
        await send_stream(gateway, wire, trace, outcome, request, receive, send)
        return
    answer = await complete(gateway, wire, trace, request, plan, options)
    answer_headers = trace.response_headers()
    trace.responded = True
    await send_bytes(send, 200, answer, answer_headers)


async def send_stream(
    gateway: Gateway,
    wire: ClientFormat,
    trace: RequestTrace,
    outcome: StreamOutcome,
    request: ChatRequest,
    receive: Receive,
    send: Send,
) -> None:
    encoder = wire.stream_encoder(request.model, request.stream_include_usage)
    headers = [(b"cache-control", b"no-cache"), _SSE, *trace.stream_headers()]
    trace.responded = True
    await send({"type": "http.response.start", "status": 200, "headers": headers})

    async def pump() -> None:
        """Events encoded as they arrive; those that arrived together go out in one write
        (``ready_batches``), the first at once."""
        accountant = gateway.accountant

        def encode(event: StreamEvent) -> bytes:
            if type(event) is MessageDelta and accountant is not None:
                event = _with_cost(event, accountant, trace)  # the final usage: priced
            return encoder.encode(event)

        async with aclosing(ready_batches(outcome.events, encode)) as batches:
            async for chunks in batches:
                body = b"".join(chunks)
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})

    status = 200
    failure: GatewayError | None = None  # why the stream ended early, for the log's error_class
    pumping = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(_wait_disconnect(receive))
    # An interruption (cancellation) is caught, cleaned up after, and raised again.
    interrupted: BaseException | None = None
    try:
        done, _ = await asyncio.wait(
            (pumping, watching),
            timeout=gateway.settings.limits.max_stream_seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if pumping in done:
            error = pumping.exception()
            if error is None:
                tail = encoder.finish()
            else:
                failure = _as_gateway_error(error, trace)
                status = failure.status
                tail = encoder.error(failure)
            await send({"type": "http.response.body", "body": tail, "more_body": False})
        elif watching in done:
            status = 499  # client closed the connection; upstream call is cancelled below
        else:
            status = 504
            failure = GatewayError(
                "stream exceeded the maximum duration", status=504, kind=KIND_TIMEOUT
            )
            tail = encoder.error(failure)
            await send({"type": "http.response.body", "body": tail, "more_body": False})
    except BaseException as exc:
        interrupted = exc
    for task in (pumping, watching):
        if not task.done():
            task.cancel()
    await asyncio.gather(pumping, watching, return_exceptions=True)
    outcome.cut(request, status)  # a stream stopped early pays for what it used
    trace.finish(gateway.accountant, status=status, error=failure)
    if interrupted is not None:
        raise interrupted


def _with_cost(event: MessageDelta, accountant: Accountant, trace: RequestTrace) -> MessageDelta:
    """The final usage event with the request's cost so far (every attempt, escalations and
    judges included), so a streaming client sees what headers could not tell it."""
    bill = accountant.bill(trace.attempts, batch=trace.batch)
    return replace(event, cost=StreamCost(bill.usd, bill.estimated))


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


def _as_gateway_error(error: BaseException, trace: RequestTrace) -> GatewayError:
    if isinstance(error, GatewayError):
        return error
    logger.error("request %s failed mid-stream", trace.request_id, exc_info=error)
    return InternalError(f"internal error (request id {trace.request_id})")


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
