"""``ChatResponse`` / errors -> OpenAI Responses API shapes (serving ``POST /v1/responses``).

Each core content block becomes one output item, in order: text -> a ``message`` item with one
``output_text`` part (a ``refusal`` part when the model declined in OpenAI's terms), a tool
use -> a ``function_call`` item, thinking -> a ``reasoning`` item whose ``encrypted_content``
keeps an Anthropic signature (or redacted thinking's data), marked as the gateway's own, so the
item given back as input restores the block. The streamed encoder (``responses_stream``)
builds the same items.

Usage counts every input token in ``input_tokens`` (cache reads and writes included, as OpenAI
counts them), with reads in ``cached_tokens`` and writes in ``cache_write_tokens``.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from tiergate.errors import GatewayError
from tiergate.types import (
    ChatResponse,
    ContentBlock,
    StopReason,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.openai_encode import ERROR_CODE, ERROR_TYPE


def response_id(request_id: str) -> str:
    """The response's id, made from the request's: one id names the log row and the answer."""
    return "resp_" + request_id.removeprefix("req_")


def item_id(kind: str, response: str, index: int) -> str:
    """Output item ids (``msg_``, ``fc_``, ``rs_``), unique within and across responses."""
    return f"{kind}_{response.removeprefix('resp_')}_{index}"


def usage_dict(usage: Usage) -> dict[str, Any]:
    total_input = usage.total_input()
    return {
        "input_tokens": total_input,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_input_tokens,
            "cache_write_tokens": usage.cache_creation_input_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": total_input + usage.output_tokens,
    }


def status_of(stop_reason: StopReason | None, refused: bool) -> tuple[str, dict[str, Any] | None]:
    """(status, incomplete_details): an answer cut by the token limit or stopped by a content
    filter is ``incomplete``; a model declining in OpenAI's terms completed normally."""
    if stop_reason == "max_tokens":
        return "incomplete", {"reason": "max_output_tokens"}
    if stop_reason == "refusal" and not refused:
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(ident: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": ident, "type": "message", "status": status, "role": "assistant", "content": parts}


def function_call_item(
    ident: str, block: ToolUseBlock, arguments: str, status: str
) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "function_call",
        "status": status,
        "call_id": block.id,
        "name": block.name,
        "arguments": arguments,
    }


# ``encrypted_content`` of the reasoning items this gateway makes: which Anthropic field the
# rest holds. Marked, so that OpenAI's own encrypted reasoning given back is never sent to
# Anthropic as a signature.
SIGNATURE = "tiergate.signature:"
REDACTED = "tiergate.redacted:"


def reasoning_item(ident: str, block: ThinkingBlock, status: str) -> dict[str, Any]:
    if block.redacted:
        content: list[dict[str, str]] = []
        sealed: str | None = REDACTED + block.thinking
    else:
        content = [{"type": "reasoning_text", "text": block.thinking}]
        sealed = SIGNATURE + block.signature if block.signature else None
    return {
        "id": ident,
        "type": "reasoning",
        "status": status,
        "summary": [],
        "content": content,
        "encrypted_content": sealed,
    }


def output_items(response: ChatResponse, rid: str, status: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for i, block in enumerate(response.content):
        item = _item(block, rid, i, status, response.refusal)
        if item is not None:
            items.append(item)
    return items


def _item(
    block: ContentBlock, rid: str, i: int, status: str, refusal: str | None
) -> dict[str, Any] | None:
    if isinstance(block, TextBlock):
        if refusal is not None and block.text == refusal:
            part = {"type": "refusal", "refusal": refusal}
        else:
            part = text_part(block.text)
        return message_item(item_id("msg", rid, i), [part], status)
    if isinstance(block, ToolUseBlock):
        arguments = orjson.dumps(block.input).decode()
        return function_call_item(item_id("fc", rid, i), block, arguments, "completed")
    if isinstance(block, ThinkingBlock):
        return reasoning_item(item_id("rs", rid, i), block, "completed")
    return None


def response_object(
    *,
    rid: str,
    created_at: int,
    model: str,
    echo: dict[str, Any],
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    incomplete: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``response`` object: its outcome, then the request's settings repeated."""
    return {
        "id": rid,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": error,
        "incomplete_details": incomplete,
        "model": model,
        "output": output,
        "usage": usage_dict(usage) if usage is not None else None,
        **echo,
    }


def encode_response(
    response: ChatResponse, model: str, *, echo: dict[str, Any], rid: str, created_at: int
) -> dict[str, Any]:
    status, incomplete = status_of(response.stop_reason, response.refusal is not None)
    output = output_items(response, rid, "incomplete" if incomplete else "completed")
    return response_object(
        rid=rid,
        created_at=created_at,
        model=model,
        echo=echo,
        status=status,
        output=output,
        usage=response.usage,
        incomplete=incomplete,
    )


def error_payload(error: GatewayError) -> dict[str, Any]:
    """OpenAI's error object. ``code``: the error's own (``previous_response_not_found``)
    where it has one, else OpenAI's code for the kind."""
    code = getattr(error, "code", None) or ERROR_CODE.get(error.kind)
    return {
        "message": error.message,
        "type": ERROR_TYPE.get(error.kind, error.kind),
        "param": error.param,
        "code": code,
    }


def encode_error(error: GatewayError) -> tuple[int, dict[str, str], bytes]:
    """OpenAI's error shape and headers, as ``openai_encode.encode_error`` (the SDK raises the
    class for the status and honours ``retry-after-ms``)."""
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["retry-after"] = str(math.ceil(error.retry_after))
        headers["retry-after-ms"] = str(round(error.retry_after * 1000))
    return error.status, headers, orjson.dumps({"error": error_payload(error)})
