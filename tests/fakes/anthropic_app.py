"""A fake Anthropic Messages API, written by hand from the API reference.

Endpoints: ``POST /v1/messages`` (JSON or SSE), ``POST /v1/messages/count_tokens``,
``GET /v1/models``, and the Message Batches API (``anthropic_batches.py``). Auth as the real
API: a key is required, as ``x-api-key`` or ``Authorization: Bearer`` (401
``authentication_error``), and so is ``anthropic-version`` (400 ``invalid_request_error``).

Stream sequence, as documented: ``message_start``, ``ping``, then per block
``content_block_start`` / ``content_block_delta``* / ``content_block_stop`` (thinking first with
``thinking_delta`` + ``signature_delta``, then text with ``text_delta``, then each tool_use with
an empty then several ``input_json_delta`` pieces), ``message_delta`` (stop reason, cumulative
usage), ``message_stop``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.fakes.anthropic_checks import check_messages_request
from tests.fakes.http import RecordedRequest, Send, send_json, send_stream, sse
from tests.fakes.script import (
    TO_ANTHROPIC_STOP,
    Fail,
    FakeUsage,
    Reply,
    json_pieces,
    new_id,
    text_pieces,
)

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": new_id("req_"),
    }


async def handle(upstream: Any, request: RecordedRequest, send: Send) -> None:
    route = (request.method, request.path)
    if request.path.startswith("/v1/messages/batches"):
        from tests.fakes import anthropic_batches

        if not await _auth_failed(upstream, request, send):
            await anthropic_batches.handle(upstream, request, send)
        return
    if route == ("GET", "/v1/models"):
        if await _auth_failed(upstream, request, send):
            return
        models = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-10-01T00:00:00Z"}
            for m in upstream.models
        ]
        await send_json(
            send,
            200,
            {
                "data": models,
                "has_more": False,
                "first_id": models[0]["id"] if models else None,
                "last_id": models[-1]["id"] if models else None,
            },
        )
        return
    if route not in (("POST", "/v1/messages"), ("POST", "/v1/messages/count_tokens")):
        await send_json(send, 404, error_body("not_found_error", f"Not found: {request.path}"))
        return
    if await _auth_failed(upstream, request, send):
        return
    counting = request.path.endswith("count_tokens")
    problem = check_messages_request(request.json, count_tokens=counting)
    if problem:
        await send_json(send, 400, error_body("invalid_request_error", problem))
        return
    if counting:
        await send_json(send, 200, {"input_tokens": estimate_input(request.json)})
        return
    step = upstream.next_step(request.json)
    if step.delay:
        await asyncio.sleep(step.delay)
    if isinstance(step, Fail):
        await send_fail(send, step)
        return
    await send_reply(send, request.json, step)


async def _auth_failed(upstream: Any, request: RecordedRequest, send: Send) -> bool:
    # The API takes the key as ``x-api-key`` or, as anthropic SDK 2.x sends it, as
    # ``Authorization: Bearer``.
    auth = request.header("authorization") or ""
    key = request.header("x-api-key") or (auth[7:] if auth.lower().startswith("bearer ") else "")
    if not key:
        body = error_body("authentication_error", "x-api-key header is required")
    elif upstream.api_key is not None and key != upstream.api_key:
        body = error_body("authentication_error", "invalid x-api-key")
    elif not request.header("anthropic-version"):
        await send_json(
            send, 400, error_body("invalid_request_error", "anthropic-version: header is required")
        )
        return True
    else:
        return False
    await send_json(send, 401, body)
    return True


async def send_fail(send: Send, fail: Fail) -> None:
    headers = {"request-id": new_id("req_"), **fail.headers}
    if fail.retry_after is not None:
        headers["retry-after"] = _number(fail.retry_after)
    body = fail.body
    if body is None:
        error_type = fail.error_type or ERROR_TYPES.get(
            fail.status, "api_error" if fail.status >= 500 else "invalid_request_error"
        )
        body = error_body(error_type, fail.message)
    await send_json(send, fail.status, body, headers=headers)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def estimate_input(body: dict[str, Any]) -> int:
    """A deterministic stand-in for tokenization: one token per four characters."""
    text = json.dumps([body.get("system"), body.get("messages"), body.get("tools")])
    return max(1, len(text) // 4)


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts = [b["text"] for b in content if b.get("type") == "text"]
        for block in content:
            if block.get("type") == "tool_result":
                inner = block.get("content")
                texts.append(
                    inner
                    if isinstance(inner, str)
                    else " ".join(b.get("text", "") for b in inner or [] if isinstance(b, dict))
                )
        return "\n".join(texts)
    return ""


def usage_json(usage: FakeUsage, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_write_5m,
            "ephemeral_1h_input_tokens": usage.cache_write_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _plan(body: dict[str, Any], reply: Reply) -> tuple[str | None, FakeUsage, str]:
    text = reply.text
    if text is None and not reply.tool_calls and reply.thinking is None:
        text = f"echo: {last_user_text(body)}"
    usage = reply.usage or FakeUsage(
        input_tokens=estimate_input(body),
        output_tokens=max(1, len(text_pieces(text or "")) + 10 * len(reply.tool_calls)),
    )
    stop = reply.stop_reason or ("tool_use" if reply.tool_calls else "end_turn")
    return text, usage, TO_ANTHROPIC_STOP.get(stop, stop)


def _content(text: str | None, reply: Reply, ids: list[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking is not None:
        blocks.append(
            {"type": "thinking", "thinking": reply.thinking, "signature": reply.signature}
        )
    if text is not None:
        blocks.append({"type": "text", "text": text})
        if reply.citations:
            blocks[-1]["citations"] = list(reply.citations)
    for call, call_id in zip(reply.tool_calls, ids, strict=True):
        blocks.append(
            {"type": "tool_use", "id": call_id, "name": call.name, "input": call.arguments}
        )
    return blocks


def message_for(body: dict[str, Any], reply: Reply) -> tuple[dict[str, Any], FakeUsage]:
    """The Message a request gets for a scripted reply, and its usage."""
    text, usage, stop = _plan(body, reply)
    ids = [call.id or new_id("toolu_01") for call in reply.tool_calls]
    message = {
        "id": new_id("msg_01"),
        "type": "message",
        "role": "assistant",
        "model": reply.model or body["model"],
        "content": _content(text, reply, ids),
        "stop_reason": stop,
        "stop_sequence": reply.stop_sequence,
        "usage": {**usage_json(usage, usage.output_tokens), **reply.usage_fields},
    }
    return message, usage


async def send_reply(send: Send, body: dict[str, Any], reply: Reply) -> None:
    message, usage = message_for(body, reply)
    headers = {"request-id": new_id("req_"), **reply.headers}
    if not body.get("stream"):
        await send_json(send, 200, message, headers=headers, die=reply.die_after is not None)
        return
    frames = stream_frames(message, reply, usage)
    if reply.error_after is not None:
        message_text = (
            "Overloaded" if reply.stream_error == "overloaded_error" else "scripted stream error"
        )
        frames = [
            *frames[: reply.error_after],
            sse(error_body(reply.stream_error, message_text), "error"),
        ]
    await send_stream(
        send, frames, headers=headers, chunk_delay=reply.chunk_delay, die_after=reply.die_after
    )


def stream_frames(message: dict[str, Any], reply: Reply, usage: FakeUsage) -> list[bytes]:
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            **usage_json(usage, 1),
            **{k: v for k, v in reply.usage_fields.items() if k != "server_tool_use"},
        },
    }
    frames = [
        sse({"type": "message_start", "message": start}, "message_start"),
        sse({"type": "ping"}, "ping"),
    ]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "thinking":
            opening: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": p} for p in text_pieces(block["thinking"])
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in text_pieces(block["text"])]
            deltas += [
                {"type": "citations_delta", "citation": c} for c in block.get("citations", ())
            ]
        else:
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in ["", *json_pieces(json.dumps(block["input"]))]
            ]
        frames.append(
            sse(
                {"type": "content_block_start", "index": index, "content_block": opening},
                "content_block_start",
            )
        )
        frames.extend(
            sse({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta")
            for d in deltas
        )
        frames.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
    final_usage = usage_json(usage, usage.output_tokens)
    del final_usage["cache_creation"], final_usage["service_tier"]
    # The API repeats server-tool counts in the final usage (the start has them at zero).
    final_usage.update({k: v for k, v in reply.usage_fields.items() if k == "server_tool_use"})
    frames.append(
        sse(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": message["stop_sequence"],
                },
                "usage": final_usage,
            },
            "message_delta",
        )
    )
    frames.append(sse({"type": "message_stop"}, "message_stop"))
    return frames
