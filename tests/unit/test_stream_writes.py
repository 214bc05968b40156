"""The chat stream writer: the first event goes out at once and alone, and the events that
arrive together (one upstream read) go out in one ASGI message, not one message each.

Why: a message per event costs a write and a system call per event, most of a streamed
answer's gateway time, while holding the first event back would delay the first byte.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from tiergate.config import load_settings
from tiergate.executor import StreamOutcome
from tiergate.gateway.factory import prepare
from tiergate.gateway.trace import RequestTrace
from tiergate.server.chat import send_stream
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamEvent,
    TextBlock,
)
from tiergate.wire.anthropic import FORMAT as ANTHROPIC


async def _reads(reads: list[asyncio.Future[list[StreamEvent]]]) -> AsyncIterator[StreamEvent]:
    """Each future is one upstream read: its events become ready together."""
    for read in reads:
        for event in await read:
            yield event


async def test_events_of_one_read_go_out_in_one_message_and_the_first_alone() -> None:
    loop = asyncio.get_running_loop()
    # What the writer reads of a gateway (settings, prices) is there before any I/O.
    gateway: Any = prepare(load_settings(None, env={}))
    model = gateway.catalog.resolve("local/smollm2-135m")
    deployment = gateway.deployments[model.id][0]
    reads: list[asyncio.Future[list[StreamEvent]]] = [loop.create_future() for _ in range(2)]
    reads[0].set_result(
        [
            MessageStart(id="msg_1", model=model.id),
            BlockStart(0, TextBlock("")),
            BlockDelta(0, "text", "Hel"),
            BlockDelta(0, "text", "lo"),
        ]
    )
    outcome = StreamOutcome(0, model, deployment, [], _reads(reads))
    request = ChatRequest(model=model.id, messages=[Message("user", [TextBlock("hi")])])
    sent: list[MutableMapping[str, Any]] = []
    never = asyncio.Event()

    second: list[StreamEvent] = [
        BlockDelta(0, "text", " there"),
        BlockStop(0),
        MessageDelta("end_turn"),
        MessageStop(),
    ]
    loop.call_later(0.05, reads[1].set_result, second)  # the next read, well after the first

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> MutableMapping[str, Any]:
        await never.wait()  # the client stays
        return {"type": "http.disconnect"}

    trace = RequestTrace("req_1", "anthropic")
    await send_stream(gateway, ANTHROPIC, trace, outcome, request, receive, send)

    writes = [
        re.findall(rb"^event: (\w+)", m["body"], re.MULTILINE)
        for m in sent
        if m["type"] == "http.response.body"
    ]
    assert writes == [
        [b"message_start", b"ping"],  # the first event, alone (Anthropic adds a ping to it)
        [b"content_block_start", b"content_block_delta", b"content_block_delta"],
        [b"content_block_delta", b"content_block_stop", b"message_delta", b"message_stop"],
        [],  # the end of the body
    ]
    assert not sent[-1]["more_body"] and trace.status == 200
