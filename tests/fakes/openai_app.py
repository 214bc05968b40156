"""A fake OpenAI Chat Completions API, written by hand from the API reference.

Endpoints: ``POST /v1/chat/completions`` (JSON, or ``chat.completion.chunk`` SSE ending in
``data: [DONE]``, with a final ``choices: []`` usage chunk when
``stream_options.include_usage``), ``GET /v1/models``, and the Files and Batch APIs
(``openai_batches.py``). Auth: ``Authorization: Bearer <key>``
(401 ``invalid_api_key`` otherwise). Thinking, which Chat Completions has no field for, is sent
as DeepSeek's ``reasoning_content`` (what OpenAI-compatible reasoning models use).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests.fakes.http import RecordedRequest, Send, send_json, send_stream, sse
from tests.fakes.openai_checks import check_chat_request
from tests.fakes.script import (
    TO_OPENAI_STOP,
    Fail,
    FakeUsage,
    Reply,
    json_pieces,
    new_id,
    text_pieces,
)

# status -> (type, code), as the real API reports them.
ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("request_forbidden", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", None),
}
FINGERPRINT = "fp_fake0001"


def error_body(
    message: str, error_type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


async def handle(upstream: Any, request: RecordedRequest, send: Send) -> None:
    route = (request.method, request.path)
    if request.path.startswith(("/v1/files", "/v1/batches")):
        from tests.fakes import openai_batches

        if not await _auth_failed(upstream, request, send):
            await openai_batches.handle(upstream, request, send)
        return
    if route not in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
        await send_json(
            send,
            404,
            error_body(f"Invalid URL ({request.method} {request.path})", "invalid_request_error"),
        )
        return
    if await _auth_failed(upstream, request, send):
        return
    if request.method == "GET":
        await send_json(
            send,
            200,
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "openai"}
                    for m in upstream.models
                ],
            },
        )
        return
    problem = check_chat_request(request.json)
    if problem:
        message, param = problem
        await send_json(send, 400, error_body(message, "invalid_request_error", None, param))
        return
    step = upstream.next_step(request.json)
    if step.delay:
        await asyncio.sleep(step.delay)
    if isinstance(step, Fail):
        await send_fail(send, step)
        return
    await send_reply(send, request.json, step)


async def _auth_failed(upstream: Any, request: RecordedRequest, send: Send) -> bool:
    auth = request.header("authorization") or ""
    key = auth[7:] if auth.lower().startswith("bearer ") else ""
    if key and (upstream.api_key is None or key == upstream.api_key):
        return False
    shown = f"{key[:3]}***" if key else "none"
    await send_json(
        send,
        401,
        error_body(
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        ),
    )
    return True


async def send_fail(send: Send, fail: Fail) -> None:
    headers = {"x-request-id": new_id("req_"), **fail.headers}
    if fail.retry_after is not None:
        value = fail.retry_after
        headers["retry-after"] = str(int(value)) if float(value).is_integer() else str(value)
    body = fail.body
    if body is None:
        error_type, code = ERRORS.get(
            fail.status, ("server_error" if fail.status >= 500 else "invalid_request_error", None)
        )
        body = error_body(fail.message, fail.error_type or error_type, code)
    await send_json(send, fail.status, body, headers=headers)


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message["role"] != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return "\n".join(p["text"] for p in content if p.get("type") == "text")
    return ""


def estimate_input(body: dict[str, Any]) -> int:
    return max(1, len(json.dumps([body.get("messages"), body.get("tools")])) // 4)


def usage_json(usage: FakeUsage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read + usage.cache_write
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def token_logprobs(pieces: list[str], top: int) -> list[dict[str, Any]]:
    """OpenAI's ``logprobs.content`` entries for text made of ``pieces`` (one token each):
    made-up but deterministic values, ``top`` alternatives per token, the chosen one first."""

    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    out = []
    for i, piece in enumerate(pieces):
        logprob = -round(0.01 * (i + 1), 4)
        alternatives = [entry(piece, logprob)] + [
            entry(f"{piece.strip()}~{k}", logprob - k) for k in range(1, top)
        ]
        out.append({**entry(piece, logprob), "top_logprobs": alternatives[:top]})
    return out


def _parts(
    body: dict[str, Any], reply: Reply
) -> tuple[str | None, FakeUsage, str, list[dict[str, Any]], dict[str, Any]]:
    """What a reply says, whichever way it is sent: text, usage, finish reason, tool calls and
    the fields every chunk or completion carries."""
    text = reply.text
    if text is None and not reply.tool_calls and reply.thinking is None:
        text = f"echo: {last_user_text(body)}"
    usage = reply.usage or FakeUsage(
        input_tokens=estimate_input(body),
        output_tokens=max(1, len(text_pieces(text or "")) + 10 * len(reply.tool_calls)),
    )
    stop = reply.stop_reason or ("tool_calls" if reply.tool_calls else "stop")
    finish = TO_OPENAI_STOP.get(stop, stop)
    calls = [
        {
            "id": c.id or new_id("call_"),
            "type": "function",
            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
        }
        for c in reply.tool_calls
    ]
    base = {
        "id": new_id("chatcmpl-"),
        "created": int(time.time()),
        "model": reply.model or body["model"],
        "service_tier": reply.service_tier,
        "system_fingerprint": FINGERPRINT,
    }
    return text, usage, finish, calls, base


def completion_for(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """The ``chat.completion`` a non-streamed request gets for a scripted reply."""
    text, usage, finish, calls, base = _parts(body, reply)
    top = body.get("top_logprobs") or 0
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "refusal": None,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = calls
    if reply.thinking is not None:
        message["reasoning_content"] = reply.thinking
    return {
        **base,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": {
                    "content": token_logprobs(text_pieces(text or ""), top),
                    "refusal": None,
                }
                if body.get("logprobs") is True
                else None,
                "finish_reason": finish,
            }
        ],
        **({} if reply.no_usage else {"usage": {**usage_json(usage), **reply.usage_fields}}),
    }


async def send_reply(send: Send, body: dict[str, Any], reply: Reply) -> None:
    headers = {"x-request-id": new_id("req_"), **reply.headers}
    if not body.get("stream"):
        completion = completion_for(body, reply)
        await send_json(send, 200, completion, headers=headers, die=reply.die_after is not None)
        return
    text, usage, finish, calls, base = _parts(body, reply)
    top = body.get("top_logprobs") or 0
    logprobs = body.get("logprobs") is True
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    include_usage = include_usage and not reply.no_usage
    frames = stream_frames(
        base, text, reply, calls, finish, usage, include_usage, top if logprobs else None
    )
    if reply.error_after is not None:
        error_type = (
            "server_error" if reply.stream_error == "overloaded_error" else (reply.stream_error)
        )
        frames = [
            *frames[: reply.error_after],
            sse(error_body("The server had an error while processing your request.", error_type)),
        ]
    await send_stream(
        send, frames, headers=headers, chunk_delay=reply.chunk_delay, die_after=reply.die_after
    )


def stream_frames(
    base: dict[str, Any],
    text: str | None,
    reply: Reply,
    calls: list[dict[str, Any]],
    finish: str,
    usage: FakeUsage,
    include_usage: bool,
    top_logprobs: int | None = None,
) -> list[bytes]:
    """``top_logprobs``: None when the request did not ask for logprobs, else how many
    alternatives each token gets."""

    def chunk(
        delta: dict[str, Any], finish_reason: str | None = None, logprobs: Any = None
    ) -> bytes:
        payload: dict[str, Any] = {
            **base,
            "object": "chat.completion.chunk",
            "choices": [
                {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            payload["usage"] = None
        return sse(payload)

    frames = [chunk({"role": "assistant", "content": "", "refusal": None})]
    if reply.thinking is not None:
        frames.extend(chunk({"reasoning_content": p}) for p in text_pieces(reply.thinking))
    if text:
        pieces = text_pieces(text)
        for i, piece in enumerate(pieces):
            logprobs = None
            if top_logprobs is not None:
                entry = token_logprobs(pieces, top_logprobs)[i]
                logprobs = {"content": [entry], "refusal": None}
            frames.append(chunk({"content": piece}, None, logprobs))
    for index, call in enumerate(calls):
        frames.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        frames.extend(
            chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]})
            for p in json_pieces(call["function"]["arguments"])
        )
    frames.append(chunk({}, finish))
    if include_usage:
        frames.append(
            sse(
                {
                    **base,
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": {**usage_json(usage), **reply.usage_fields},
                }
            )
        )
    frames.append(sse("[DONE]"))
    return frames
