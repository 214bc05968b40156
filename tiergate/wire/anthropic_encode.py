"""``ChatResponse`` / stream events / errors -> Anthropic Messages shapes (serving clients).

Shapes follow the API byte for byte where the SDK cares: the official ``anthropic`` SDK picks
its exception class from the HTTP status (529 -> ``OverloadedError``, 413 ->
``RequestTooLargeError``, ...), and parses every streamed event into its typed models.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from tiergate.errors import GatewayError
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatResponse,
    MessageDelta,
    MessageStart,
    MessageStop,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.anthropic_blocks import encode_block
from tiergate.wire.cost_field import cost_fields
from tiergate.wire.sse import encode_sse

_DELTA_TYPE = {
    "text": ("text_delta", "text"),
    "refusal": ("text_delta", "text"),  # the Messages API has no refusal field: plain text
    "input_json": ("input_json_delta", "partial_json"),
    "thinking": ("thinking_delta", "thinking"),
    "signature": ("signature_delta", "signature"),
}
# Error ``type`` strings the Anthropic API itself sends (its errors reference page).
_ANTHROPIC_KINDS = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "timeout_error",
        "api_error",
        "overloaded_error",
    }
)
# A kind from another dialect (an OpenAI upstream's "insufficient_quota", ...) is named by status.
_KIND_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def message_id(response_id: str) -> str:
    return response_id if response_id.startswith("msg_") else "msg_" + response_id


def usage_dict(usage: Usage) -> dict[str, Any]:
    five, hour = usage.cache_writes_by_ttl()
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour},
    }


def encode_response(response: ChatResponse, model: str) -> dict[str, Any]:
    return {
        "id": message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [encode_block(b) for b in response.content],
        "stop_reason": response.stop_reason,
        "stop_sequence": response.stop_sequence,
        "usage": usage_dict(response.usage),
    }


def error_kind(error: GatewayError) -> str:
    if error.kind in _ANTHROPIC_KINDS:
        return error.kind
    return _KIND_BY_STATUS.get(error.status, "api_error")


def error_body(error: GatewayError) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_kind(error), "message": error.message}}


def encode_error(error: GatewayError) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body). The status is kept as is (an upstream's 529 stays 529 and the
    SDK raises ``OverloadedError``; a 503 stays 503, ``ServiceUnavailableError``), the body's
    type is Anthropic's name for the kind; ``retry-after`` is whole seconds, rounded up."""
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["retry-after"] = str(math.ceil(error.retry_after))
    return error.status, headers, orjson.dumps(error_body(error))


def _frame(event: str, payload: dict[str, Any]) -> bytes:
    return encode_sse(orjson.dumps(payload), event)


class AnthropicStreamEncoder:
    """Core events -> the Messages SSE sequence (message_start, ping, content blocks,
    message_delta, message_stop).

    ``include_usage`` is accepted for the protocol and ignored: Anthropic streams always carry
    usage. ``message_delta`` repeats the input and cache counts next to the cumulative
    ``output_tokens``, as the API does, so a client reading only the last event has totals."""

    __slots__ = ("_model", "_usage")

    def __init__(self, model: str, include_usage: bool) -> None:
        self._model = model
        self._usage = Usage()

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, BlockDelta):
            if event.kind == "citation":
                return _frame(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": event.index,
                        "delta": {"type": "citations_delta", "citation": orjson.loads(event.value)},
                    },
                )
            kind, field = _DELTA_TYPE[event.kind]
            return _frame(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": event.index,
                    "delta": {"type": kind, field: event.value},
                },
            )
        if isinstance(event, BlockStart):
            return _frame(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": event.index,
                    "content_block": _empty_block(event.block),
                },
            )
        if isinstance(event, BlockStop):
            return _frame(
                "content_block_stop", {"type": "content_block_stop", "index": event.index}
            )
        if isinstance(event, MessageStart):
            self._usage = event.usage
            message: dict[str, Any] = {
                "id": message_id(event.id),
                "type": "message",
                "role": "assistant",
                "model": self._model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage_dict(event.usage),
            }
            return _frame("message_start", {"type": "message_start", "message": message}) + _frame(
                "ping", {"type": "ping"}
            )
        if isinstance(event, MessageDelta):
            self._usage = self._usage.overlay(event.usage)
            usage = usage_dict(self._usage)
            if event.cost is not None:
                usage.update(cost_fields(event.cost))
            return _frame(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": event.stop_reason,
                        "stop_sequence": event.stop_sequence,
                    },
                    "usage": usage,
                },
            )
        if isinstance(event, MessageStop):
            return _frame("message_stop", {"type": "message_stop"})
        return b""

    def finish(self) -> bytes:
        return b""

    def error(self, error: GatewayError) -> bytes:
        return _frame("error", error_body(error))


def _empty_block(block: Any) -> dict[str, Any]:
    if isinstance(block, ToolUseBlock):
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
    if isinstance(block, ThinkingBlock):
        if block.redacted:  # sent whole in its start event; it never has deltas
            return {"type": "redacted_thinking", "data": block.thinking}
        return {"type": "thinking", "thinking": "", "signature": ""}
    if isinstance(block, TextBlock):
        return {"type": "text", "text": ""}
    return encode_block(block)
