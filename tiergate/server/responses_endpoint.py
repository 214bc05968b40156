"""``POST /v1/responses``: the OpenAI Responses API, through the chat endpoints' pipeline.

decode -> (the stored conversation in front, for ``previous_response_id``) -> admit (auth,
routing, budget) -> executor -> encode, with the same pricing, log row and ``x-tiergate-*``
headers as ``/v1/chat/completions``. What differs: the answer repeats the request's settings
and is kept (unless ``store`` is false) so a follow-up can continue from it. It is written
before the answer goes out (streamed: before ``response.completed``), so a client that
continues at once finds it; a failed write is logged and the answer still delivered, since
the client has paid for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from tiergate.errors import InvalidRequest
from tiergate.gateway.pipeline import (
    admit,
    call_options,
    check_size,
    complete,
    open_stream,
    routing_headers,
)
from tiergate.server.chat import send_stream
from tiergate.server.responses import Receive, Send, send_bytes
from tiergate.types import MessageStop, StreamEvent
from tiergate.wire.nesting import json_body
from tiergate.wire.responses import FORMAT, ResponsesReply
from tiergate.wire.responses_decode import ResponsesRequest, with_history

if TYPE_CHECKING:
    from tiergate.gateway.auth import Principal
    from tiergate.gateway.gateway import Gateway
    from tiergate.gateway.trace import RequestTrace
    from tiergate.store.responses import StoredResponses

logger = logging.getLogger("tiergate")


class PreviousResponseNotFound(InvalidRequest):
    """A 400 with OpenAI's own code for it, which clients match on."""

    code = "previous_response_not_found"


async def handle_responses(
    gateway: Gateway,
    trace: RequestTrace,
    body: bytes,
    headers: dict[str, str],
    principal: Principal,
    receive: Receive,
    send: Send,
) -> None:
    decoded = FORMAT.decode_request(json_body(body))
    stored = gateway.responses
    tenant = principal.tenant
    if decoded.previous_response_id is not None:
        await _continue(decoded, stored, tenant)
    request = routing_headers(check_size(decoded.chat, gateway), headers)
    keep = stored if decoded.echo["store"] else None
    plan = await admit(gateway, trace, request, principal)
    options = call_options(headers, gateway)
    reply = FORMAT.reply(decoded.echo, trace.request_id, int(time.time()))
    if request.stream:
        outcome = await open_stream(gateway, trace, request, plan, options)
        if keep is not None:
            outcome.events = _kept_before_end(outcome.events, keep, reply, decoded, tenant)
        await send_stream(gateway, reply, trace, outcome, request, receive, send)
        return
    answer = await complete(gateway, reply, trace, request, plan, options)
    if keep is not None:
        await _keep(keep, reply, reply.output, decoded, tenant)
    answer_headers = trace.response_headers()
    trace.responded = True
    await send_bytes(send, 200, answer, answer_headers)


async def _continue(decoded: ResponsesRequest, stored: StoredResponses, tenant: str) -> None:
    previous = decoded.previous_response_id
    assert previous is not None
    history = await stored.conversation(previous, tenant)
    if history is None:
        raise PreviousResponseNotFound(
            f"Previous response with id '{previous}' not found.", param="previous_response_id"
        )
    with_history(decoded, history)


async def _keep(
    stored: StoredResponses,
    reply: ResponsesReply,
    output: list[dict[str, Any]],
    decoded: ResponsesRequest,
    tenant: str,
) -> None:
    try:
        await stored.save(reply.id, tenant, decoded.chat.model, [*decoded.items, *output])
    except Exception:
        logger.exception("could not keep response %s for previous_response_id", reply.id)


async def _kept_before_end(
    events: AsyncIterator[StreamEvent],
    stored: StoredResponses,
    reply: ResponsesReply,
    decoded: ResponsesRequest,
    tenant: str,
) -> AsyncIterator[StreamEvent]:
    """The stream's events, the answer written just before the last one (whose encoding is
    ``response.completed``): by then every output item has been encoded."""
    async for event in events:
        if isinstance(event, MessageStop) and reply.encoder is not None:
            await _keep(stored, reply, reply.encoder.output, decoded, tenant)
        yield event
