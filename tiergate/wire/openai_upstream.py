"""Calling an OpenAI-compatible upstream: ``ChatRequest`` -> body, and its answers -> core types.

Works for OpenAI itself and every vendor that speaks Chat Completions (DeepSeek, MiniMax,
OpenRouter, vLLM, Ollama, llama.cpp server); ``reasoning_content`` (DeepSeek) or ``reasoning``
(vLLM, OpenRouter) becomes a thinking block. The stream decoder is in ``openai_stream``.

What a Chat Completions body cannot carry is dropped on the way up: thinking blocks, ``top_k``,
``cache_control``, a tool result's ``is_error``, and ``metadata`` (OpenAI refuses it unless
``store`` is on, and the gateway keeps its own tags there) except ``user_id``, sent as ``user``.
Tool results become ``tool`` messages placed right after the assistant's tool calls, as the API
requires; their images and documents (a ``tool`` message can hold only text) follow in a user
message. Documents become ``file`` or text parts (``tiergate.wire.documents``); a ``system``
message inside the conversation stays in place as a ``system`` message, which Chat Completions
takes at any position. Anthropic-only tool fields (``eager_input_streaming``, ...) are dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import orjson

from tiergate.errors import InvalidRequest, ProviderError, parse_retry_after
from tiergate.types import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    OpaqueBlock,
    StopReason,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolResultBlock,
    ToolResultPart,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.documents import openai_parts
from tiergate.wire.openai_logprobs import decode_logprobs

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


Part = TextBlock | ImageBlock | dict[str, Any]  # a dict: a ready part (a PDF's ``file``)


def _content(blocks: list[Part]) -> str | list[dict[str, Any]]:
    if all(isinstance(b, TextBlock) for b in blocks):
        return "".join(b.text for b in blocks if isinstance(b, TextBlock))
    return [
        {"type": "text", "text": b.text}
        if isinstance(b, TextBlock)
        else _image_part(b)
        if isinstance(b, ImageBlock)
        else b
        for b in blocks
    ]


def _parts(block: ToolResultPart) -> list[Part]:
    if isinstance(block, DocumentBlock):
        return openai_parts(block)
    if isinstance(block, OpaqueBlock):  # inside a tool result: shown as what it is
        return [TextBlock(orjson.dumps(block.data).decode())]
    return [block]


def _opaque(block: OpaqueBlock) -> InvalidRequest:
    return InvalidRequest(
        f"a {block.kind!r} content block cannot be sent to this model's OpenAI-format API "
        "(only an Anthropic upstream takes it)",
        param="messages.content.type",
    )


def _function(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.input_schema
    if tool.strict is not None:
        function["strict"] = tool.strict
    return function


def encode_request(request: ChatRequest, upstream_model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": "\n\n".join(b.text for b in request.system)})
    for message in request.messages:
        if message.role == "system":
            text = "\n\n".join(b.text for b in message.content if isinstance(b, TextBlock))
            if text:  # one carrying only an Anthropic per-message setting has no text
                messages.append({"role": "system", "content": text})
            continue
        if message.role == "assistant":
            for block in message.content:
                if isinstance(block, OpaqueBlock):
                    raise _opaque(block)
            text = "".join(b.text for b in message.content if isinstance(b, TextBlock))
            calls = [
                {
                    "id": b.id,
                    "type": "function",
                    "function": {"name": b.name, "arguments": orjson.dumps(b.input).decode()},
                }
                for b in message.content
                if isinstance(b, ToolUseBlock)
            ]
            # null content is allowed only beside tool calls
            entry: dict[str, Any] = {
                "role": "assistant",
                "content": text or (None if calls else ""),
            }
            if calls:
                entry["tool_calls"] = calls
            messages.append(entry)
            continue
        pending: list[Part] = []
        for block in message.content:
            if isinstance(block, ToolResultBlock):
                texts = [
                    p.text
                    for b in block.content
                    if isinstance(b, TextBlock | OpaqueBlock)
                    for p in _parts(b)
                    if isinstance(p, TextBlock)
                ]
                attached = [
                    part
                    for b in block.content
                    if isinstance(b, ImageBlock | DocumentBlock)
                    for part in _parts(b)
                ]
                if attached and not any(texts):
                    texts = ["(the result is attached to the next user message)"]
                messages.append(
                    {"role": "tool", "tool_call_id": block.tool_use_id, "content": "\n".join(texts)}
                )
                pending.extend(attached)
            elif isinstance(block, TextBlock | ImageBlock | DocumentBlock):
                pending.extend(_parts(block))
            elif isinstance(block, OpaqueBlock):
                raise _opaque(block)
        if pending:
            messages.append({"role": "user", "content": _content(pending)})
    body: dict[str, Any] = {"model": upstream_model, "messages": messages}
    if request.max_tokens is not None:
        # The current name: OpenAI's reasoning models (gpt-5, o-series) refuse ``max_tokens``.
        body["max_completion_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop_sequences:
        body["stop"] = request.stop_sequences
    if request.tools:
        body["tools"] = [{"type": "function", "function": _function(t)} for t in request.tools]
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


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def decode_usage(raw: Any) -> Usage:
    """OpenAI counts cached tokens inside ``prompt_tokens``; the core model keeps them apart.
    DeepSeek reports ``prompt_cache_hit_tokens`` instead of ``prompt_tokens_details``."""
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    cached = cached or _int(raw.get("prompt_cache_hit_tokens"))
    prompt = _int(raw.get("prompt_tokens"))
    output = raw.get("completion_tokens_details")
    return Usage(
        input_tokens=max(prompt - cached, 0),
        output_tokens=_int(raw.get("completion_tokens")),
        cache_read_input_tokens=min(cached, prompt) if prompt else cached,
        reasoning_tokens=_int(output.get("reasoning_tokens")) if isinstance(output, dict) else 0,
    )


def with_service_tier(usage: Usage, body: Mapping[str, Any]) -> Usage:
    """``usage`` with the answer's top-level ``service_tier`` (what it is priced by)."""
    tier = body.get("service_tier")
    if isinstance(tier, str) and tier:
        usage.service_tier = tier[:64]
    return usage


def decode_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict. Models do emit broken JSON; that is the model's answer,
    not a transport fault, so it is kept as ``{"_raw": text}`` for validators to judge."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"_raw": raw}
    return parsed if isinstance(parsed, dict) else {"_raw": raw}


def _malformed(what: str) -> ProviderError:
    """A 200 answer we cannot read. Not retryable: the call was billed, and an endpoint that
    answers in another shape will do so again; the executor may still fail over elsewhere."""
    return ProviderError(
        f"upstream answer malformed: {what}", status=502, provider="openai", retryable=False
    )


def _text(content: Any) -> str:
    """``message.content`` is a string, null, or (some vendors) a list of text parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    raise _malformed("choices[0].message.content is neither a string nor a list")


def decode_response(body: Any) -> ChatResponse:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _malformed("no choices[0]")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise _malformed("no choices[0].message")
    content: list[ContentBlock] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append(ThinkingBlock(reasoning))
    text = _text(message.get("content"))
    stop = STOP_REASON.get(choice.get("finish_reason"), "end_turn")
    refusal = message.get("refusal")
    refused: str | None = None
    if not text and isinstance(refusal, str) and refusal:
        text, stop, refused = refusal, "refusal", refusal
    if text:
        content.append(TextBlock(text))
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise _malformed("choices[0].message.tool_calls is not a list")
    for k, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _malformed(f"choices[0].message.tool_calls[{k}] has no function.name")
        call_id = call.get("id") if isinstance(call.get("id"), str) else None
        content.append(
            ToolUseBlock(
                call_id or f"call_{k}",
                function["name"],
                decode_arguments(function.get("arguments")),
            )
        )
    return ChatResponse(
        id=str(body.get("id") or "chatcmpl-upstream"),
        model=str(body.get("model") or ""),
        content=content,
        stop_reason=stop,
        usage=with_service_tier(decode_usage(body.get("usage")), body),
        refusal=refused,
        # null unless the request asked for them
        logprobs=decode_logprobs(choice.get("logprobs"), refused is not None),
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """``httpx.Headers`` ignore case; a plain dict may not."""
    value = headers.get(name)
    if value is not None:
        return value
    return next((v for k, v in headers.items() if k.lower() == name), None)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait: ``retry-after-ms`` (OpenAI's exact hint) first, then ``retry-after``."""
    ms = parse_retry_after(_header(headers, "retry-after-ms"))
    if ms is not None:
        return ms / 1000
    return parse_retry_after(_header(headers, "retry-after"))


# OpenAI-style error ``code`` / ``type`` strings whose meaning the status alone does not carry.
_KIND_BY_CODE = {
    "rate_limit_exceeded": "rate_limit_error",
    "insufficient_quota": "rate_limit_error",
    "context_length_exceeded": "invalid_request_error",
    "overloaded": "overloaded_error",
    "overloaded_error": "overloaded_error",
}


def error_message(payload: Any) -> tuple[str | None, str | None]:
    """(message, code-or-type) from the error bodies seen in the wild: OpenAI's
    ``{"error": {...}}``, Ollama's ``{"error": "text"}``, FastAPI's ``{"detail": ...}``."""
    if not isinstance(payload, dict):
        return None, None
    error = payload.get("error", payload)
    if isinstance(error, str):
        return error, None
    if not isinstance(error, dict):
        return None, None
    message = error.get("message") or error.get("detail")
    code = error.get("code") if isinstance(error.get("code"), str) else error.get("type")
    return (
        str(message) if message is not None else None,
        code if isinstance(code, str) else None,
    )


def decode_error(
    status: int, headers: Mapping[str, str], body: bytes, provider: str
) -> ProviderError:
    """Keeps the upstream status (the executor decides on retries by it) and the upstream's
    message; a body that is not JSON becomes the message itself, cut to 500 characters."""
    message: str | None = None
    code: str | None = None
    with contextlib.suppress(orjson.JSONDecodeError):
        message, code = error_message(orjson.loads(body))
    if message is None:
        message = body.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
    return ProviderError(
        f"upstream {provider}: {message}",
        status=status,
        provider=provider,
        kind=_KIND_BY_CODE.get(code or ""),
        retry_after=retry_after(headers),
    )
