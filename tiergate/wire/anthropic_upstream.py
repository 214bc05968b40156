"""Calling an Anthropic Messages upstream: ``ChatRequest`` -> body, answers -> core types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tiergate.errors import ProviderError, parse_retry_after
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    ChatRequest,
    ChatResponse,
    ContentBlock,
    Message,
    MessageDelta,
    MessageStart,
    MessageStop,
    StopReason,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.anthropic_blocks import decode_block, encode_block
from tiergate.wire.sse import SSEParser

DEFAULT_MAX_TOKENS = 4096
_STATUS_BY_TYPE = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500}
_DELTA_KIND = {
    "text_delta": ("text", "text"),
    "input_json_delta": ("input_json", "partial_json"),
    "thinking_delta": ("thinking", "thinking"),
    "signature_delta": ("signature", "signature"),
}


def _merged(messages: list[Message]) -> list[dict[str, Any]]:
    """The API requires alternating roles: adjacent same-role messages are joined."""
    out: list[dict[str, Any]] = []
    for message in messages:
        blocks = [
            encode_block(b)
            for b in message.content
            if not (isinstance(b, ThinkingBlock) and not b.signature and not b.redacted)
        ]
        if not blocks:
            continue
        if out and out[-1]["role"] == message.role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": message.role, "content": blocks})
    return out


def encode_request(request: ChatRequest, upstream_model: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": upstream_model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": _merged(request.messages),
    }
    if request.system:
        body["system"] = [encode_block(b) for b in request.system]
    if request.temperature is not None:
        body["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0..1
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k
    if request.stop_sequences:
        body["stop_sequences"] = request.stop_sequences
    if request.tools:
        tools: list[dict[str, Any]] = []
        for tool in request.tools:
            entry: dict[str, Any] = {"name": tool.name, "input_schema": tool.input_schema}
            if tool.description:
                entry["description"] = tool.description
            if tool.cache_control is not None:
                entry["cache_control"] = tool.cache_control
            tools.append(entry)
        body["tools"] = tools
    if request.tool_choice is not None and request.tools:
        choice: dict[str, Any] = {"type": request.tool_choice.type}
        if request.tool_choice.type == "tool":
            choice["name"] = request.tool_choice.name
        if request.tool_choice.disable_parallel_tool_use and choice["type"] != "none":
            choice["disable_parallel_tool_use"] = True
        body["tool_choice"] = choice
    user_id = request.metadata.get("user_id")
    if user_id:
        body["metadata"] = {"user_id": str(user_id)}  # the only metadata field the API takes
    if request.thinking is not None:
        body["thinking"] = request.thinking
    if request.source_format == "anthropic":
        extra = dict(request.extra)
        server_tools = extra.pop("server_tools", None)
        if server_tools:
            body["tools"] = body.get("tools", []) + server_tools
        body.update(extra)
    if request.stream:
        body["stream"] = True
    return body


def decode_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    split = raw.get("cache_creation")
    five = hour = None
    if isinstance(split, dict):
        five = int(split.get("ephemeral_5m_input_tokens") or 0)
        hour = int(split.get("ephemeral_1h_input_tokens") or 0)
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0),
        output_tokens=int(raw.get("output_tokens") or 0),
        cache_creation_input_tokens=int(raw.get("cache_creation_input_tokens") or 0),
        cache_read_input_tokens=int(raw.get("cache_read_input_tokens") or 0),
        cache_creation_5m=five,
        cache_creation_1h=hour,
    )


def decode_response(body: Any) -> ChatResponse:
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise ProviderError("upstream answer has no content", status=502, provider="anthropic")
    content: list[ContentBlock] = []
    for i, raw in enumerate(body["content"]):
        try:
            content.append(decode_block(raw, f"content[{i}]"))
        except Exception:  # a block type newer than this gateway: skip, keep the rest
            continue
    return ChatResponse(
        id=str(body.get("id") or "msg_upstream"),
        model=str(body.get("model") or ""),
        content=content,
        stop_reason=body.get("stop_reason"),
        stop_sequence=body.get("stop_sequence"),
        usage=decode_usage(body.get("usage")),
    )


def decode_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> ProviderError:
    message = body.decode("utf-8", "replace")[:500] or f"HTTP {status}"
    kind: str | None = None
    try:
        payload = orjson.loads(body)
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            kind = str(error.get("type")) if error.get("type") else None
    except orjson.JSONDecodeError:
        pass
    return ProviderError(
        f"upstream {provider}: {message}",
        status=status,
        provider=provider,
        kind=kind,
        retry_after=parse_retry_after(headers.get("retry-after")),
    )


class AnthropicStreamDecoder:
    """Messages SSE -> core events (ping ignored; an ``error`` event raises)."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._usage = Usage()

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in self._parser.feed(chunk):
            try:
                payload = orjson.loads(sse.data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(payload, dict):
                event = self._event(payload)
                if event is not None:
                    out.append(event)
        return out

    def _event(self, payload: dict[str, Any]) -> StreamEvent | None:
        kind = payload.get("type")
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            mapped = _DELTA_KIND.get(delta.get("type"))
            if mapped is None:
                return None
            return BlockDelta(int(payload["index"]), mapped[0], str(delta.get(mapped[1], "")))  # type: ignore[arg-type]
        if kind == "content_block_start":
            raw = payload.get("content_block") or {}
            block: ContentBlock
            if raw.get("type") == "tool_use":
                block = ToolUseBlock(str(raw.get("id")), str(raw.get("name")), {})
            elif raw.get("type") in ("thinking", "redacted_thinking"):
                block = ThinkingBlock("", redacted=raw.get("type") == "redacted_thinking")
            else:
                block = TextBlock(str(raw.get("text", "")))
            return BlockStart(int(payload["index"]), block)
        if kind == "content_block_stop":
            return BlockStop(int(payload["index"]))
        if kind == "message_start":
            message = payload.get("message") or {}
            self._usage = decode_usage(message.get("usage"))
            return MessageStart(
                str(message.get("id")), str(message.get("model") or ""), self._usage
            )
        if kind == "message_delta":
            delta = payload.get("delta") or {}
            self._usage = self._usage.overlay(decode_usage(payload.get("usage")))
            stop: StopReason | None = delta.get("stop_reason")
            return MessageDelta(stop, delta.get("stop_sequence"), self._usage)
        if kind == "message_stop":
            return MessageStop()
        if kind == "error":
            error = payload.get("error") or {}
            error_type = str(error.get("type") or "api_error")
            raise ProviderError(
                f"upstream stream error: {error.get('message')}",
                status=_STATUS_BY_TYPE.get(error_type, 502),
                provider="anthropic",
                kind=error_type,
            )
        return None

    def close(self) -> list[StreamEvent]:
        self._parser.close()
        return []
