"""The chat endpoints (`/v1/chat/completions`, `/v1/messages`): one handler, two wire formats.

decode (client format) -> the pipeline (``gateway/pipeline.py``: admit, complete or open_stream)
-> encode (client format). The client's format and the upstream's are independent; they meet
in ``tiergate.types``. This module reads the request and writes the answer; every step between
is the pipeline's, which batch items and evaluation calls run too.

Headers go out only once the first upstream event has arrived, so every failure before that is
a proper HTTP error in the caller's format; after it, a failure becomes an error frame in the
stream and the stream ends.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from typing import TYPE_CHECKING

import orjson

from tiergate.errors import KIND_TIMEOUT, GatewayError, InternalError
from tiergate.executor import StreamOutcome
from tiergate.executor.replay import response_events
from tiergate.gateway.auth import Principal
from tiergate.gateway.pipeline import (
    admit,
    call_options,
    complete,
    decode,
    end_stream,
    finish,
    open_stream,
    routing_headers,
    with_cost,
)
from tiergate.gateway.trace import RequestTrace
from tiergate.routing.multicall import DraftReviewRoute, FanoutRoute
from tiergate.server.ready import ready_batches
from tiergate.server.responses import Receive, Send, send_bytes
from tiergate.types import ChatRequest, ChatResponse, MessageDelta, StreamEvent
from tiergate.wire.format import ClientFormat, WireFormat

if TYPE_CHECKING:
    from tiergate.gateway.gateway import Gateway
    from tiergate.providers.base import CallOptions
    from tiergate.routing.multicall import MultiCallRoute

logger = logging.getLogger("tiergate")

_SSE = (b"content-type", b"text/event-stream")


async def handle_chat(
    wire: WireFormat,
    gateway: Gateway,
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
        principal.check_model(request.model)
        options = call_options(headers, gateway)
        await handle_multicall(
            gateway, wire, trace, route, request, options, principal, receive, send
        )
        return
    plan = await admit(gateway, trace, request, principal)
    options = call_options(headers, gateway)
    if request.stream:
        outcome = await open_stream(gateway, trace, request, plan, options)
        await send_stream(gateway, wire, trace, outcome, request, receive, send)
        return
    answer = await complete(gateway, wire, trace, request, plan, options)
    answer_headers = trace.response_headers()
    trace.responded = True
    await send_bytes(send, 200, answer, answer_headers)


async def handle_multicall(
    gateway: Gateway,
    wire: ClientFormat,
    trace: RequestTrace,
    route: MultiCallRoute,
    request: ChatRequest,
    options: CallOptions,
    principal: Principal,
    receive: Receive,
    send: Send,
) -> None:
    """A multi-call route (``gateway/multicall_run.py``): its answer sent whole, or, for a
    streamed request, as the composer's stream or a stream replayed from the whole answer."""
    from tiergate.gateway.multicall_run import run_multicall

    answer = await run_multicall(gateway, trace, route, request, options, principal)
    if isinstance(answer, StreamOutcome):
        await send_stream(gateway, wire, trace, answer, request, receive, send)
        return
    finish(gateway, trace, 200)
    headers = trace.response_headers()
    trace.responded = True
    if not request.stream:
        body = orjson.dumps(wire.encode_response(answer, request.model))
        await send_bytes(send, 200, body, headers)
        return
    await _replay(wire, request, answer, headers, send)


async def _replay(
    wire: ClientFormat,
    request: ChatRequest,
    response: ChatResponse,
    headers: list[tuple[bytes, bytes]],
    send: Send,
) -> None:
    """A whole answer sent as a stream of the events it is made of."""
    encoder = wire.stream_encoder(request.model, request.stream_include_usage)
    parts = [encoder.encode(event) for event in response_events(response)]
    parts.append(encoder.finish())
    start = [(b"cache-control", b"no-cache"), _SSE]
    await send({"type": "http.response.start", "status": 200, "headers": start + headers})
    await send({"type": "http.response.body", "body": b"".join(parts), "more_body": False})


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
            if type(event) is MessageDelta:
                event = with_cost(event, accountant, trace)  # the final usage: priced
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
    end_stream(gateway, trace, outcome, request, status, failure)  # cut: pays what it used
    if interrupted is not None:
        raise interrupted


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
