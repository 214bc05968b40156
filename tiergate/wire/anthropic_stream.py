"""An Anthropic Messages SSE stream (raw upstream bytes) -> core stream events.

Events map one to one, with three repairs so that consumers can rely on the core contract
(contiguous block indexes, every block's text carried by deltas):
- blocks the core model has no type for (``server_tool_use``, ``web_search_tool_result``, ...)
  pass as ``OpaqueBlock`` starts (as the upstream opened them; a ``server_tool_use``'s input
  follows as ``input_json`` deltas), for an Anthropic client; other encoders skip them;
- text or thinking already present in a ``content_block_start`` is re-sent as a delta;
- ``redacted_thinking`` arrives whole in its start event, which keeps its ``data``;
- a ``citations_delta`` (documents with citations on) becomes a ``citation`` delta.
Usage from ``message_start`` is overlaid with the final ``message_delta`` usage, so the
``MessageDelta`` event carries the totals (``output_tokens`` there is cumulative).
"""

from __future__ import annotations

from typing import Any

import orjson

from tiergate.errors import ProviderError
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ContentBlock,
    MessageDelta,
    MessageStart,
    MessageStop,
    OpaqueBlock,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.anthropic_upstream import decode_usage, stop_reason
from tiergate.wire.sse import SSEEvent, SSEParser

_DELTA_KIND: dict[str, tuple[Any, str]] = {
    "text_delta": ("text", "text"),
    "input_json_delta": ("input_json", "partial_json"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
}
# The status the API would have answered with, had the error come before the stream started.
STATUS_BY_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def _malformed(what: str) -> ProviderError:
    return ProviderError(f"upstream stream malformed: {what}", status=502, provider="anthropic")


class AnthropicStreamDecoder:
    """Messages SSE -> core events (``ping`` ignored; an ``error`` event raises
    ``ProviderError`` with the status its type implies: ``overloaded_error`` -> 529, retryable)."""

    __slots__ = ("_index", "_parser", "_usage")

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._usage = Usage()
        self._index: dict[int, int | None] = {}  # upstream block index -> core index or dropped

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._events(self._parser.feed(chunk))

    def close(self) -> list[StreamEvent]:
        """Events of a final frame that lacked its blank line; a stream cut short is reported
        by the caller, which sees no ``MessageStop``."""
        return self._events(self._parser.close())

    def _events(self, frames: list[SSEEvent]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in frames:
            try:
                payload = orjson.loads(sse.data)
            except orjson.JSONDecodeError:
                continue  # keep-alives and comments some proxies inject
            if isinstance(payload, dict):
                self._event(payload, out)
        return out

    def _core_index(self, payload: dict[str, Any]) -> int | None:
        index = payload.get("index")
        if not isinstance(index, int):
            raise _malformed(f"{payload.get('type')} without an index")
        return self._index.get(index)

    def _event(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        kind = payload.get("type")
        if kind == "content_block_delta":
            index = self._core_index(payload)
            delta = payload.get("delta")
            mapped = _DELTA_KIND.get(str(delta.get("type"))) if isinstance(delta, dict) else None
            if index is not None and mapped is not None and isinstance(delta, dict):
                out.append(BlockDelta(index, mapped[0], str(delta.get(mapped[1], ""))))
            elif index is not None and isinstance(delta, dict) and "citation" in delta:
                citation = orjson.dumps(delta["citation"]).decode()  # a citations_delta
                out.append(BlockDelta(index, "citation", citation))
        elif kind == "content_block_start":
            self._start(payload, out)
        elif kind == "content_block_stop":
            index = self._core_index(payload)
            if index is not None:
                out.append(BlockStop(index))
        elif kind == "message_start":
            message = payload.get("message")
            message = message if isinstance(message, dict) else {}
            self._usage = decode_usage(message.get("usage"))
            out.append(
                MessageStart(
                    str(message.get("id") or "msg_upstream"),
                    str(message.get("model") or ""),
                    self._usage,
                )
            )
        elif kind == "message_delta":
            delta = payload.get("delta")
            delta = delta if isinstance(delta, dict) else {}
            self._usage = self._usage.overlay(decode_usage(payload.get("usage")))
            out.append(
                MessageDelta(
                    stop_reason(delta.get("stop_reason")), delta.get("stop_sequence"), self._usage
                )
            )
        elif kind == "message_stop":
            out.append(MessageStop())
        elif kind == "error":
            error = payload.get("error")
            error = error if isinstance(error, dict) else {}
            error_type = str(error.get("type") or "api_error")
            raise ProviderError(
                f"upstream stream error: {error.get('message')}",
                status=STATUS_BY_ERROR_TYPE.get(error_type, 502),
                provider="anthropic",
                kind=error_type,
            )

    def _start(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        upstream = payload.get("index")
        raw = payload.get("content_block")
        if not isinstance(upstream, int) or not isinstance(raw, dict):
            raise _malformed("content_block_start without index or block")
        index = sum(1 for v in self._index.values() if v is not None)
        block: ContentBlock
        follow: list[StreamEvent] = []
        block_type = raw.get("type")
        if block_type == "text":
            block = TextBlock("")
            if raw.get("text"):
                follow.append(BlockDelta(index, "text", str(raw["text"])))
        elif block_type == "tool_use":
            block = ToolUseBlock(str(raw.get("id")), str(raw.get("name")), {})
            if raw.get("input"):
                follow.append(BlockDelta(index, "input_json", orjson.dumps(raw["input"]).decode()))
        elif block_type == "thinking":
            block = ThinkingBlock("")
            if raw.get("thinking"):
                follow.append(BlockDelta(index, "thinking", str(raw["thinking"])))
            if raw.get("signature"):
                follow.append(BlockDelta(index, "signature", str(raw["signature"])))
        elif block_type == "redacted_thinking":
            block = ThinkingBlock(str(raw.get("data") or ""), redacted=True)
        elif isinstance(block_type, str) and block_type:
            block = OpaqueBlock(raw)
        else:
            self._index[upstream] = None
            return
        self._index[upstream] = index
        out.append(BlockStart(index, block))
        out.extend(follow)
