"""Calling an OpenAI-compatible upstream: ``ChatRequest`` -> body, and its answers -> core types.

Works for OpenAI itself and every vendor that speaks Chat Completions (DeepSeek, MiniMax,
OpenRouter, vLLM, Ollama, llama.cpp server); ``reasoning_content`` deltas (DeepSeek) become
thinking blocks.
"""

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
    ImageBlock,
    MessageDelta,
    MessageStart,
    MessageStop,
    StopReason,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.sse import SSEParser

STOP_REASON: dict[str | None, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _image_part(block: ImageBlock) -> dict[str, Any]:
    url = (
        block.url if block.source_type == "url" else f"data:{block.media_type};base64,{block.data}"
    )
    return {"type": "image_url", "image_url": {"url": url}}


def _content(blocks: list[TextBlock | ImageBlock]) -> str | list[dict[str, Any]]:
    if all(isinstance(b, TextBlock) for b in blocks):
        return "".join(b.text for b in blocks if isinstance(b, TextBlock))
    return [
        {"type": "text", "text": b.text} if isinstance(b, TextBlock) else _image_part(b)
        for b in blocks
    ]


def encode_request(request: ChatRequest, upstream_model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": "\n\n".join(b.text for b in request.system)})
    for message in request.messages:
        if message.role == "assistant":
            text = "".join(b.text for b in message.content if isinstance(b, TextBlock))
            calls = [
                {"id": b.id, "type": "function",
                 "function": {"name": b.name, "arguments": orjson.dumps(b.input).decode()}}
                for b in message.content
                if isinstance(b, ToolUseBlock)
            ]  # fmt: skip
            entry: dict[str, Any] = {"role": "assistant", "content": text or None}
            if calls:
                entry["tool_calls"] = calls
            messages.append(entry)
            continue
        pending: list[TextBlock | ImageBlock] = []
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                texts = [b.text for b in block.content if isinstance(b, TextBlock)]
                messages.append(
                    {"role": "tool", "tool_call_id": block.tool_use_id, "content": "\n".join(texts)}
                )
                pending.extend(b for b in block.content if isinstance(b, ImageBlock))
            elif isinstance(block, TextBlock | ImageBlock):
                pending.append(block)
        if pending:
            messages.append({"role": "user", "content": _content(pending)})
    body: dict[str, Any] = {"model": upstream_model, "messages": messages}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop_sequences:
        body["stop"] = request.stop_sequences
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description or "",
                                              "parameters": t.input_schema}}
            for t in request.tools
        ]  # fmt: skip
    choice = request.tool_choice
    if choice is not None and request.tools:
        if choice.type == "tool":
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        else:
            body["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
        if choice.disable_parallel_tool_use:
            body["parallel_tool_calls"] = False
    if request.response_format is not None:
        body["response_format"] = request.response_format
    if request.metadata.get("user_id"):
        body["user"] = str(request.metadata["user_id"])
    if request.source_format == "openai":
        body.update(request.extra)
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}  # the gateway prices every call
    return body


def decode_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    prompt = int(raw.get("prompt_tokens") or 0)
    return Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cache_read_input_tokens=cached,
    )


def _arguments(raw: Any) -> dict[str, Any]:
    try:
        parsed = orjson.loads(raw) if isinstance(raw, str) and raw else raw or {}
    except orjson.JSONDecodeError:
        return {"_raw": raw}
    return parsed if isinstance(parsed, dict) else {"_raw": raw}


def decode_response(body: Any) -> ChatResponse:
    try:
        choice = body["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ProviderError(
            "upstream answer has no choices[0].message", status=502, provider="openai"
        ) from None
    content: list[ContentBlock] = []
    if message.get("reasoning_content"):
        content.append(ThinkingBlock(str(message["reasoning_content"])))
    if message.get("content"):
        content.append(TextBlock(str(message["content"])))
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        content.append(
            ToolUseBlock(
                str(call.get("id")),
                str(function.get("name")),
                _arguments(function.get("arguments")),
            )
        )
    return ChatResponse(
        id=str(body.get("id") or "chatcmpl-upstream"),
        model=str(body.get("model") or ""),
        content=content,
        stop_reason=STOP_REASON.get(choice.get("finish_reason"), "end_turn"),
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
            kind = {
                "rate_limit_exceeded": "rate_limit_error",
                "insufficient_quota": "rate_limit_error",
            }.get(str(error.get("code")))
    except orjson.JSONDecodeError:
        pass
    retry_after = parse_retry_after(headers.get("retry-after"))
    if retry_after is None and headers.get("retry-after-ms"):
        ms = parse_retry_after(headers.get("retry-after-ms"))
        retry_after = ms / 1000 if ms is not None else None
    return ProviderError(
        f"upstream {provider}: {message}",
        status=status,
        provider=provider,
        kind=kind,
        retry_after=retry_after,
    )


class OpenAIStreamDecoder:
    """``chat.completion.chunk`` SSE -> core events. Blocks open and close as the kind of delta
    changes (reasoning, text, each tool call); the message ends at ``[DONE]``."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._started = False
        self._open: tuple[str, int] | None = None  # (kind, tool index)
        self._index = -1
        self._stop: StopReason | None = None
        self._usage = Usage()
        self._done = False

    def _switch(self, kind: str, key: int, block: ContentBlock, out: list[StreamEvent]) -> None:
        if self._open == (kind, key):
            return
        if self._open is not None:
            out.append(BlockStop(self._index))
        self._index += 1
        self._open = (kind, key)
        out.append(BlockStart(self._index, block))

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in self._parser.feed(chunk):
            if sse.data == "[DONE]":
                out.extend(self._finish())
                continue
            try:
                payload = orjson.loads(sse.data)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(payload, dict):
                continue
            if payload.get("error"):
                error = payload["error"]
                message = error.get("message") if isinstance(error, dict) else str(error)
                raise ProviderError(
                    f"upstream stream error: {message}", status=502, provider="openai"
                )
            if not self._started:
                self._started = True
                out.append(
                    MessageStart(
                        str(payload.get("id") or "chatcmpl"), str(payload.get("model") or "")
                    )
                )
            if payload.get("usage"):
                self._usage = decode_usage(payload["usage"])
            for choice in payload.get("choices") or []:
                self._choice(choice, out)
        return out

    def _choice(self, choice: dict[str, Any], out: list[StreamEvent]) -> None:
        delta = choice.get("delta") or {}
        if delta.get("reasoning_content"):
            self._switch("thinking", 0, ThinkingBlock(""), out)
            out.append(BlockDelta(self._index, "thinking", str(delta["reasoning_content"])))
        if delta.get("content"):
            self._switch("text", 0, TextBlock(""), out)
            out.append(BlockDelta(self._index, "text", str(delta["content"])))
        for call in delta.get("tool_calls") or []:
            key = int(call.get("index", 0))
            function = call.get("function") or {}
            if self._open != ("tool", key):
                block = ToolUseBlock(
                    str(call.get("id") or f"call_{key}"), str(function.get("name") or ""), {}
                )
                self._switch("tool", key, block, out)
            if function.get("arguments"):
                out.append(BlockDelta(self._index, "input_json", str(function["arguments"])))
        if choice.get("finish_reason"):
            self._stop = STOP_REASON.get(choice["finish_reason"], "end_turn")

    def _finish(self) -> list[StreamEvent]:
        if self._done or not self._started:
            return []
        self._done = True
        out: list[StreamEvent] = []
        if self._open is not None:
            out.append(BlockStop(self._index))
            self._open = None
        out.append(MessageDelta(self._stop or "end_turn", None, self._usage))
        out.append(MessageStop())
        return out

    def close(self) -> list[StreamEvent]:
        """Only a stream that said ``[DONE]`` is complete; the provider reports the rest."""
        self._parser.close()
        return []
