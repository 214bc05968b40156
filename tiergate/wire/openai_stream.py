"""A Chat Completions SSE stream (raw upstream bytes) -> core stream events.

Chat Completions streams carry no block structure: each chunk's ``delta`` holds some text,
reasoning (``reasoning_content`` from DeepSeek, ``reasoning`` from vLLM / OpenRouter) or
tool-call fragments keyed by ``index``. Blocks are made here: a block opens when the kind of
delta (or the tool-call index) changes, after closing the one before, so block indexes stay
contiguous as the core contract in ``tiergate.types`` requires.

The stop reason arrives before the end (``finish_reason``) and usage after it (a last chunk
with ``choices: []``, which ``encode_request`` always asks for), so both are held until
``[DONE]``, where the remaining ``BlockStop``, ``MessageDelta`` and ``MessageStop`` go out.

Known limit: a server that interleaves fragments of two tool calls (index 0, 1, then 0 again)
would get a second block for index 0; no server in use does this.
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
    StopReason,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.openai_logprobs import decode_logprobs
from tiergate.wire.openai_upstream import (
    STOP_REASON,
    decode_usage,
    error_message,
    with_service_tier,
)
from tiergate.wire.sse import SSEEvent, SSEParser

# The status an error frame stands for, when it carries no numeric ``code`` of its own.
_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "server_error": 500,
    "api_error": 500,
    "overloaded": 503,
    "overloaded_error": 529,
}


def stream_error(error: Any) -> ProviderError:
    """An ``{"error": ...}`` frame after the stream started. vLLM puts the HTTP status in a
    numeric ``code``; OpenAI names a ``type``; anything else counts as a 502 (retryable)."""
    message, name = error_message({"error": error})
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        status = code
    else:
        kind = error.get("type") if isinstance(error, dict) else None
        status = _STATUS_BY_TYPE.get(str(name), _STATUS_BY_TYPE.get(str(kind), 502))
    return ProviderError(
        f"upstream stream error: {message or 'unknown error'}", status=status, provider="openai"
    )


class OpenAIStreamDecoder:
    """``chat.completion.chunk`` SSE -> core events. ``feed`` accepts bytes split anywhere."""

    __slots__ = ("_done", "_index", "_open", "_parser", "_refused", "_started", "_stop", "_usage")

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._started = False
        self._open: tuple[str, int | str] | None = None  # (kind, tool-call key) of the open block
        self._index = -1
        self._stop: StopReason | None = None
        self._refused = False
        self._usage = Usage()
        self._done = False

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        return self._events(self._parser.feed(chunk))

    def close(self) -> list[StreamEvent]:
        """Flush a last frame that lacked its blank line. A stream that gave its
        ``finish_reason`` but no ``[DONE]`` (some local servers) is complete and is ended here;
        one cut off before that gets no ``MessageStop``, and the caller reports it truncated."""
        out = self._events(self._parser.close())
        if self._stop is not None:
            out.extend(self._finish())
        return out

    def _events(self, frames: list[SSEEvent]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for sse in frames:
            if self._done:
                break
            if sse.data == "[DONE]":
                out.extend(self._finish())
                continue
            try:
                payload = orjson.loads(sse.data)
            except orjson.JSONDecodeError:
                continue  # keep-alives and comments some proxies inject
            if isinstance(payload, dict):
                self._chunk(payload, out)
        return out

    def _chunk(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        if payload.get("error"):
            raise stream_error(payload["error"])
        if not self._started:
            self._started = True
            message_id = payload.get("id")
            out.append(
                MessageStart(
                    message_id if isinstance(message_id, str) and message_id else "chatcmpl",
                    str(payload.get("model") or ""),
                )
            )
        if isinstance(payload.get("usage"), dict):
            tier = self._usage.service_tier
            self._usage = decode_usage(payload["usage"])
            self._usage.service_tier = tier
        if isinstance(payload.get("service_tier"), str):
            with_service_tier(self._usage, payload)
        choices = payload.get("choices")
        if isinstance(choices, list):
            for choice in choices:
                if isinstance(choice, dict) and choice.get("index", 0) == 0:
                    self._choice(choice, out)

    def _switch(
        self, kind: str, key: int | str, block: ContentBlock, out: list[StreamEvent]
    ) -> None:
        if self._open == (kind, key):
            return
        if self._open is not None:
            out.append(BlockStop(self._index))
        self._index += 1
        self._open = (kind, key)
        out.append(BlockStart(self._index, block))

    def _choice(self, choice: dict[str, Any], out: list[StreamEvent]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self._switch("thinking", 0, ThinkingBlock(""), out)
                out.append(BlockDelta(self._index, "thinking", reasoning))
            text = delta.get("content")
            refusal = delta.get("refusal")
            raw = choice.get("logprobs")
            if not text and isinstance(refusal, str) and refusal:
                self._refused = True
                self._switch("text", 0, TextBlock(""), out)
                logprobs = decode_logprobs(raw, refusal=True)
                out.append(BlockDelta(self._index, "refusal", refusal, logprobs))
            elif isinstance(text, str) and text:
                self._switch("text", 0, TextBlock(""), out)
                out.append(BlockDelta(self._index, "text", text, decode_logprobs(raw)))
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for call in calls:
                    if isinstance(call, dict):
                        self._tool_call(call, out)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._stop = "refusal" if self._refused else STOP_REASON.get(reason, "end_turn")

    def _tool_call(self, call: dict[str, Any], out: list[StreamEvent]) -> None:
        index, call_id = call.get("index"), call.get("id")
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        if isinstance(index, int):
            key: int | str = index
        elif isinstance(call_id, str) and call_id:
            key = call_id  # servers that omit ``index`` send the id with each new call
        else:
            key = self._open[1] if self._open and self._open[0] == "tool" else 0
        if self._open != ("tool", key):
            name = function.get("name")
            block = ToolUseBlock(
                call_id if isinstance(call_id, str) and call_id else f"call_{self._index + 1}",
                name if isinstance(name, str) else "",
                {},
            )
            self._switch("tool", key, block, out)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(BlockDelta(self._index, "input_json", arguments))

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
