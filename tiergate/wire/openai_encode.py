"""``ChatResponse`` / stream events / errors -> OpenAI Chat Completions shapes (serving clients).

Thinking blocks are dropped: Chat Completions has no standard field for them, and the SDK's
models would not surface them anyway. Usage folds cache reads and writes back into
``prompt_tokens`` (OpenAI counts them there), with reads repeated as ``cached_tokens``. After a
mid-stream error frame, ``data: [DONE]`` still follows so that raw SSE readers stop cleanly;
the SDK raises at the error frame before it.
"""

from __future__ import annotations

import math
import time
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
    StopReason,
    StreamCost,
    StreamEvent,
    TextBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.cost_field import cost_fields
from tiergate.wire.openai_logprobs import encode_logprobs
from tiergate.wire.sse import encode_sse

FINISH_REASON: dict[str | None, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    None: "stop",
}

ERROR_TYPE = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "request_too_large": "invalid_request_error",
    "rate_limit_error": "rate_limit_error",
    "api_error": "server_error",
    "overloaded_error": "server_error",
    "timeout_error": "server_error",
}

# OpenAI's own ``code`` strings where it has one; None otherwise, as OpenAI sends.
ERROR_CODE = {
    "request_too_large": "request_too_large",
    "rate_limit_error": "rate_limit_exceeded",
    "overloaded_error": "overloaded",
    "timeout_error": "timeout",
}


def completion_id(response_id: str) -> str:
    return response_id if response_id.startswith("chatcmpl-") else "chatcmpl-" + response_id


def usage_dict(usage: Usage) -> dict[str, Any]:
    prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
    }


def encode_response(response: ChatResponse, model: str) -> dict[str, Any]:
    text = [b.text for b in response.content if isinstance(b, TextBlock)]
    calls = [
        {
            "id": b.id,
            "type": "function",
            "function": {"name": b.name, "arguments": orjson.dumps(b.input).decode()},
        }
        for b in response.content
        if isinstance(b, ToolUseBlock)
    ]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(text) if text or not calls else None,
        "refusal": None,
    }
    finish = FINISH_REASON.get(response.stop_reason, "stop")
    if response.refusal is not None:
        # The model declined in OpenAI's own terms: the text goes in ``refusal`` (where the
        # SDK's ``parse()`` looks) and the answer ended normally; "content_filter" is for
        # output a filter stopped, which is what a refusal from other formats is shown as.
        message["content"], message["refusal"], finish = None, response.refusal, "stop"
    if calls:
        message["tool_calls"] = calls
    return {
        "id": completion_id(response.id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish,
                "logprobs": encode_logprobs(response.logprobs, response.refusal is not None),
            }
        ],
        "usage": usage_dict(response.usage),
    }


def encode_error(error: GatewayError) -> tuple[int, dict[str, str], bytes]:
    """The status is kept as is (529 / 503 for overloaded), so the ``openai`` SDK raises its
    class for that status; ``retry-after`` is whole seconds rounded up, ``retry-after-ms`` the
    exact hint (the SDK prefers the latter)."""
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["retry-after"] = str(math.ceil(error.retry_after))
        headers["retry-after-ms"] = str(round(error.retry_after * 1000))
    body = {
        "error": {
            "message": error.message,
            "type": ERROR_TYPE.get(error.kind, error.kind),
            "param": error.param,
            "code": ERROR_CODE.get(error.kind),
        }
    }
    return error.status, headers, orjson.dumps(body)


class OpenAIStreamEncoder:
    """Core events -> ``chat.completion.chunk`` SSE frames, ending with ``data: [DONE]``."""

    __slots__ = (
        "_block_tool",
        "_cost",
        "_created",
        "_id",
        "_include_usage",
        "_model",
        "_refused",
        "_stop",
        "_tool_index",
        "_usage",
        "_with_arguments",
    )

    def __init__(self, model: str, include_usage: bool) -> None:
        self._model = model
        self._include_usage = include_usage
        self._id = "chatcmpl-"
        self._created = int(time.time())
        self._tool_index = -1
        self._block_tool: dict[int, int] = {}  # content block index -> tool_calls index
        self._with_arguments: set[int] = set()  # tool_calls indexes that got some arguments
        self._refused = False  # a refusal went out in OpenAI's own field
        self._stop: StopReason | None = None
        self._usage = Usage()
        self._cost: StreamCost | None = None

    def _chunk(
        self,
        delta: dict[str, Any] | None,
        finish: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> bytes:
        payload: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}],
        }
        if delta is None:
            payload["usage"] = usage_dict(self._usage)
            if self._cost is not None:
                payload["usage"].update(cost_fields(self._cost))
        elif self._include_usage:
            payload["usage"] = None
        return encode_sse(orjson.dumps(payload))

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, BlockDelta):
            if event.kind == "text":
                return self._chunk({"content": event.value}, None, encode_logprobs(event.logprobs))
            if event.kind == "refusal":
                self._refused = True
                return self._chunk(
                    {"refusal": event.value}, None, encode_logprobs(event.logprobs, True)
                )
            if event.kind == "input_json":
                index = self._block_tool.get(event.index)
                if index is None or not event.value:
                    return b""
                self._with_arguments.add(index)
                return self._chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": event.value}}]}
                )
            return b""  # thinking has no Chat Completions field
        if isinstance(event, BlockStart):
            block = event.block
            if isinstance(block, ToolUseBlock):
                self._tool_index += 1
                self._block_tool[event.index] = self._tool_index
                call = {
                    "index": self._tool_index,
                    "id": block.id,
                    "type": "function",
                    "function": {"name": block.name, "arguments": ""},
                }
                return self._chunk({"tool_calls": [call]})
            return b""
        if isinstance(event, MessageStart):
            self._id = completion_id(event.id)
            self._usage = event.usage
            return self._chunk({"role": "assistant", "content": ""})
        if isinstance(event, MessageDelta):
            self._stop = event.stop_reason
            self._usage = self._usage.overlay(event.usage)
            self._cost = event.cost
            finish = "stop" if self._refused else FINISH_REASON.get(event.stop_reason, "stop")
            return self._chunk({}, finish)
        if isinstance(event, MessageStop):
            return self._chunk(None) if self._include_usage else b""
        if isinstance(event, BlockStop):
            index = self._block_tool.get(event.index)
            if index is None or index in self._with_arguments:
                return b""
            # A tool without parameters: Anthropic streams no (or only empty) input_json, and
            # "" is not JSON; OpenAI itself sends "{}", which clients parse.
            self._with_arguments.add(index)
            return self._chunk({"tool_calls": [{"index": index, "function": {"arguments": "{}"}}]})
        return b""

    def finish(self) -> bytes:
        return b"data: [DONE]\n\n"

    def error(self, error: GatewayError) -> bytes:
        _, _, body = encode_error(error)
        return encode_sse(body) + b"data: [DONE]\n\n"
