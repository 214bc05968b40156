"""Turn a complete ``ChatResponse`` into the stream events that would have produced it.

Used when a streaming request is answered by a buffered ladder tier: the client asked for a
stream, so it gets one, with the same event grammar as a live upstream stream.
"""

from __future__ import annotations

from typing import Literal

import orjson

from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    DocumentBlock,
    ImageBlock,
    MessageDelta,
    MessageStart,
    MessageStop,
    OpaqueBlock,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)


def response_events(response: ChatResponse) -> list[StreamEvent]:
    usage = response.usage
    start_usage = Usage(
        input_tokens=usage.input_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
        cache_creation_5m=usage.cache_creation_5m,
        cache_creation_1h=usage.cache_creation_1h,
    )
    events: list[StreamEvent] = [MessageStart(response.id, response.model, start_usage)]
    index = 0
    logprobs = response.logprobs  # the answer's tokens: they go with its (first) text
    for block in response.content:
        if isinstance(block, TextBlock):
            events.append(BlockStart(index, TextBlock("")))
            if block.text:
                kind: Literal["text", "refusal"] = "refusal" if response.refusal else "text"
                events.append(BlockDelta(index, kind, block.text, logprobs))
                logprobs = None
            for citation in block.citations or ():
                events.append(BlockDelta(index, "citation", orjson.dumps(citation).decode()))
        elif isinstance(block, ToolUseBlock):
            events.append(BlockStart(index, ToolUseBlock(block.id, block.name, {})))
            events.append(BlockDelta(index, "input_json", orjson.dumps(block.input).decode()))
        elif isinstance(block, ThinkingBlock):
            events.append(BlockStart(index, ThinkingBlock("")))
            if block.thinking:
                events.append(BlockDelta(index, "thinking", block.thinking))
            if block.signature:
                events.append(BlockDelta(index, "signature", block.signature))
        elif isinstance(block, OpaqueBlock):
            events.append(BlockStart(index, block))  # a server tool block, whole
        elif isinstance(block, ImageBlock | ToolResultBlock | DocumentBlock):
            continue  # never part of an assistant answer
        events.append(BlockStop(index))
        index += 1
    events.append(MessageDelta(response.stop_reason, response.stop_sequence, usage))
    events.append(MessageStop())
    return events
