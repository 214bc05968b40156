"""Calling an Anthropic Messages upstream: ``ChatRequest`` -> body, answers -> core types.

The request may have arrived in another format (an OpenAI client served by Claude), so the
encoder repairs what the Messages API would reject rather than passing it on: adjacent
same-role messages are merged (the API requires alternation), tool results are put first in
their user message, unsigned thinking blocks and empty text blocks are dropped (the API
rejects both), and
``temperature`` is clamped to Anthropic's 0..1. What the client sent in Anthropic's own terms
goes up unchanged: ``system`` messages in place, documents, every tool field, a message's
per-turn fields; structured output goes as ``output_config.format`` (``tiergate.wire.structured``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from tiergate.errors import InvalidRequest, ProviderError, parse_retry_after
from tiergate.types import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    Message,
    StopReason,
    ThinkingBlock,
    Tool,
    Usage,
)
from tiergate.wire import structured
from tiergate.wire.anthropic_blocks import decode_block, empty_text, encode_block

DEFAULT_MAX_TOKENS = 4096
_STOP_REASONS = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"}
)


def _merged(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        blocks = [encode_block(b) for b in message.content if _sendable(b)]
        if not blocks and not (message.role == "system" and message.extra):
            continue  # (a system message may carry only a per-message setting: effort)
        if out and out[-1]["role"] == message.role != "system":
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": message.role, "content": blocks, **(message.extra or {})})
    for entry in out:
        if entry["role"] == "user" and any(b["type"] == "tool_result" for b in entry["content"]):
            # the API wants tool results first in the user turn, any text after them
            entry["content"].sort(key=lambda b: b["type"] != "tool_result")
    return out


def _sendable(block: ContentBlock) -> bool:
    """Whether the Messages API accepts the block: it refuses unsigned thinking and empty text
    (an OpenAI client may send ``"content": ""``, for a tool that printed nothing too)."""
    if empty_text(block):
        return False
    return not (isinstance(block, ThinkingBlock) and not block.signature and not block.redacted)


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    if request.tool_choice is None or not request.tools:
        return None
    choice: dict[str, Any] = {"type": request.tool_choice.type}
    if request.tool_choice.type == "tool":
        choice["name"] = request.tool_choice.name
    if request.tool_choice.disable_parallel_tool_use and choice["type"] != "none":
        choice["disable_parallel_tool_use"] = True
    return choice


def _tool(tool: Tool) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": tool.name, "input_schema": tool.input_schema}
    if tool.description:
        entry["description"] = tool.description
    if tool.cache_control is not None:
        entry["cache_control"] = tool.cache_control
    if tool.strict is not None:
        entry["strict"] = tool.strict
    if tool.extra:
        entry.update(tool.extra)
    return entry


def encode_request(request: ChatRequest, upstream_model: str) -> dict[str, Any]:
    """A valid Messages body. ``extra`` is forwarded only when the client spoke Anthropic,
    since other formats' extras would be rejected as unknown fields; ``response_format``
    becomes ``output_config.format``, or an ``InvalidRequest`` when it has no such form."""
    body: dict[str, Any] = {
        "model": upstream_model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": _merged(request.messages),
    }
    system = [encode_block(b) for b in request.system if not empty_text(b)]
    if system:
        body["system"] = system
    if request.temperature is not None:
        body["temperature"] = min(max(request.temperature, 0.0), 1.0)
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k
    if request.stop_sequences:
        body["stop_sequences"] = request.stop_sequences
    if request.tools:
        body["tools"] = [_tool(tool) for tool in request.tools]
    choice = _tool_choice(request)
    if choice is not None:
        body["tool_choice"] = choice
    user_id = request.metadata.get("user_id")
    if user_id:
        body["metadata"] = {"user_id": str(user_id)}  # the only metadata field the API takes
    if request.thinking is not None:
        body["thinking"] = request.thinking
    output_format = structured.anthropic_format(request.response_format)
    if request.source_format == "anthropic":
        extra = dict(request.extra)
        server_tools = extra.pop("server_tools", None)
        if server_tools:
            body["tools"] = body.get("tools", []) + server_tools
        body.update(extra)
    if output_format is not None:
        body["output_config"] = {**body.get("output_config", {}), "format": output_format}
    if request.stream:
        body["stream"] = True
    return body


def _count(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def decode_usage(raw: Any) -> Usage:
    """Usage with the cache-write TTL split; the split stays None when not reported, so that
    ``Usage.overlay`` keeps a value reported earlier in a stream."""
    if not isinstance(raw, dict):
        return Usage()
    split = raw.get("cache_creation")
    five = hour = None
    if isinstance(split, dict):
        five = _count(split, "ephemeral_5m_input_tokens")
        hour = _count(split, "ephemeral_1h_input_tokens")
    tools = raw.get("server_tool_use")
    tools = tools if isinstance(tools, dict) else {}
    return Usage(
        input_tokens=_count(raw, "input_tokens"),
        output_tokens=_count(raw, "output_tokens"),
        cache_creation_input_tokens=_count(raw, "cache_creation_input_tokens"),
        cache_read_input_tokens=_count(raw, "cache_read_input_tokens"),
        cache_creation_5m=five,
        cache_creation_1h=hour,
        # What the price depends on beyond tokens (tiergate/cost/engine.py).
        service_tier=_name(raw, "service_tier"),
        speed=_name(raw, "speed"),
        inference_geo=_name(raw, "inference_geo"),
        web_search_requests=_count(tools, "web_search_requests"),
        web_fetch_requests=_count(tools, "web_fetch_requests"),
        code_execution_requests=_count(tools, "code_execution_requests"),
    )


def _name(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value[:64] if isinstance(value, str) and value else None


def stop_reason(raw: Any) -> StopReason | None:
    """The API's stop reason in core terms; ``model_context_window_exceeded`` is a kind of
    ``max_tokens``, and reasons newer than this gateway read as ``end_turn``."""
    if raw is None or raw in _STOP_REASONS:
        return raw  # type: ignore[no-any-return]
    return "max_tokens" if raw == "model_context_window_exceeded" else "end_turn"


def decode_response(body: Any) -> ChatResponse:
    if not isinstance(body, dict) or not isinstance(body.get("content"), list):
        raise ProviderError("upstream answer has no content", status=502, provider="anthropic")
    content: list[ContentBlock] = []
    for i, raw in enumerate(body["content"]):
        try:
            content.append(decode_block(raw, f"content[{i}]"))
        except InvalidRequest:
            continue  # malformed: left out (server-tool blocks decode as OpaqueBlock, kept)
    return ChatResponse(
        id=str(body.get("id") or "msg_upstream"),
        model=str(body.get("model") or ""),
        content=content,
        stop_reason=stop_reason(body.get("stop_reason")),
        stop_sequence=body.get("stop_sequence"),
        usage=decode_usage(body.get("usage")),
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive; httpx.Headers is not
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def decode_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> ProviderError:
    message = body.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
    kind: str | None = None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or message)
        kind = error["type"] if isinstance(error.get("type"), str) and error["type"] else None
    retry_after = parse_retry_after(_header(headers, "retry-after"))
    if retry_after is None:
        ms = parse_retry_after(_header(headers, "retry-after-ms"))
        retry_after = None if ms is None else ms / 1000
    return ProviderError(
        f"upstream {provider}: {message}",
        status=status,
        provider=provider,
        kind=kind,
        retry_after=retry_after,
    )
