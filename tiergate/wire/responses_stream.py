"""Core stream events -> the Responses API's typed SSE events (``POST /v1/responses``).

The sequence OpenAI sends, and the SDKs' stream helpers expect: ``response.created`` and
``response.in_progress``; per output item ``response.output_item.added``, its content part's
``response.content_part.added``, deltas (``response.output_text.delta``,
``response.refusal.delta``, ``response.reasoning_text.delta``,
``response.function_call_arguments.delta``), their ``.done`` events, ``response.content_part.done``
and ``response.output_item.done``; then ``response.completed`` (or ``response.incomplete``) with
the whole response object and its usage. Every event carries a ``sequence_number``. There is no
``[DONE]`` line. A failure after the stream started is an ``error`` event followed by
``response.failed``.

A text block's content part opens at its first delta, when it is known whether it is text or a
refusal. The items built here are those ``responses_encode`` builds for a whole answer, so the
stored conversation is the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tiergate.errors import GatewayError
from tiergate.types import (
    BlockDelta,
    BlockStart,
    BlockStop,
    MessageDelta,
    MessageStart,
    MessageStop,
    StopReason,
    StreamCost,
    StreamEvent,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from tiergate.wire.cost_field import cost_fields
from tiergate.wire.responses_encode import (
    error_payload,
    function_call_item,
    item_id,
    message_item,
    reasoning_item,
    response_object,
    status_of,
    text_part,
)
from tiergate.wire.sse import encode_sse

# Errors a failed response may name (``ResponseError.code``); anything else is a server error.
_FAILED_CODE = {"rate_limit_error": "rate_limit_exceeded"}


@dataclass(slots=True)
class _Open:
    """An output item being streamed: its position, id, block and what has arrived so far."""

    output_index: int
    item_id: str
    block: TextBlock | ToolUseBlock | ThinkingBlock
    chunks: list[str] = field(default_factory=list)
    part: str | None = None  # the content part's type once opened: output_text / refusal / ...
    signature: str | None = None


class ResponsesStreamEncoder:
    """One per streamed response. ``output`` holds the finished items (what is stored)."""

    __slots__ = (
        "_cost",
        "_created_at",
        "_echo",
        "_model",
        "_open",
        "_refused",
        "_rid",
        "_seq",
        "_stop",
        "_usage",
        "output",
    )

    def __init__(self, model: str, echo: dict[str, Any], rid: str, created_at: int) -> None:
        self._model = model
        self._echo = echo
        self._rid = rid
        self._created_at = created_at
        self._seq = 0
        self._open: dict[int, _Open] = {}  # core block index -> its item
        self._refused = False
        self._stop: StopReason | None = None
        self._usage = Usage()
        self._cost: StreamCost | None = None
        self.output: list[dict[str, Any]] = []

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        payload["type"] = kind
        payload["sequence_number"] = self._seq
        self._seq += 1
        return encode_sse(orjson.dumps(payload), kind)

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        return response_object(
            rid=self._rid,
            created_at=self._created_at,
            model=self._model,
            echo=self._echo,
            status=status,
            output=self.output,
            usage=fields.pop("usage", None),
            **fields,
        )

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, BlockDelta):
            return self._delta(event)
        if isinstance(event, BlockStart):
            return self._start(event)
        if isinstance(event, BlockStop):
            return self._stop_block(event.index)
        if isinstance(event, MessageStart):
            self._usage = event.usage
            start = self._response("in_progress")
            return self._event("response.created", {"response": start}) + self._event(
                "response.in_progress", {"response": self._response("in_progress")}
            )
        if isinstance(event, MessageDelta):
            self._stop = event.stop_reason
            self._usage = self._usage.overlay(event.usage)
            self._cost = event.cost
            return b""
        if isinstance(event, MessageStop):
            status, incomplete = status_of(self._stop, self._refused)
            final = self._response(status, usage=self._usage, incomplete=incomplete)
            if self._cost is not None and isinstance(final.get("usage"), dict):
                final["usage"].update(cost_fields(self._cost))  # the gateway's cost, as usage
            return self._event(f"response.{status}", {"response": final})
        return b""

    def _start(self, event: BlockStart) -> bytes:
        block = event.block
        index = len(self.output) + len(self._open)
        if isinstance(block, ToolUseBlock):
            item = function_call_item(item_id("fc", self._rid, index), block, "", "in_progress")
        elif isinstance(block, ThinkingBlock):
            item = reasoning_item(item_id("rs", self._rid, index), ThinkingBlock(""), "in_progress")
            item["content"] = []
        elif isinstance(block, TextBlock):
            item = message_item(item_id("msg", self._rid, index), [], "in_progress")
        else:
            return b""
        self._open[event.index] = _Open(index, item["id"], block)
        return self._event("response.output_item.added", {"output_index": index, "item": item})

    def _where(self, state: _Open, content: bool = True) -> dict[str, Any]:
        where: dict[str, Any] = {"item_id": state.item_id, "output_index": state.output_index}
        if content:
            where["content_index"] = 0
        return where

    def _open_part(self, state: _Open, part: str) -> bytes:
        if state.part is not None:
            return b""
        state.part = part
        empty = text_part("") if part == "output_text" else {"type": part, part_field(part): ""}
        return self._event("response.content_part.added", {**self._where(state), "part": empty})

    def _delta(self, event: BlockDelta) -> bytes:
        state = self._open.get(event.index)
        if state is None:
            return b""
        if event.kind == "signature":
            state.signature = (state.signature or "") + event.value
            return b""
        if event.kind == "citation":
            return b""  # Anthropic citations: the Responses text has no place for them
        if not event.value:
            return b""
        state.chunks.append(event.value)
        if event.kind == "input_json":
            return self._event(
                "response.function_call_arguments.delta",
                {**self._where(state, content=False), "delta": event.value},
            )
        if event.kind == "thinking":
            opened = self._open_part(state, "reasoning_text")
            return opened + self._event(
                "response.reasoning_text.delta", {**self._where(state), "delta": event.value}
            )
        if event.kind == "refusal":
            self._refused = True
            opened = self._open_part(state, "refusal")
            return opened + self._event(
                "response.refusal.delta", {**self._where(state), "delta": event.value}
            )
        opened = self._open_part(state, "output_text")
        return opened + self._event(
            "response.output_text.delta",
            {**self._where(state), "delta": event.value, "logprobs": []},
        )

    def _stop_block(self, index: int) -> bytes:
        state = self._open.pop(index, None)
        if state is None:
            return b""
        block, text = state.block, "".join(state.chunks)
        if isinstance(block, ToolUseBlock):
            arguments = text or "{}"  # a tool without parameters streams no arguments
            item = function_call_item(state.item_id, block, arguments, "completed")
            out = self._event(
                "response.function_call_arguments.done",
                {**self._where(state, content=False), "name": block.name, "arguments": arguments},
            )
        elif isinstance(block, ThinkingBlock):
            if block.redacted:  # arrives whole in its start event, without deltas
                item = reasoning_item(state.item_id, block, "completed")
                out = b""
            else:
                thinking = ThinkingBlock(text, signature=state.signature)
                item = reasoning_item(state.item_id, thinking, "completed")
                out = self._close_part(state, {"type": "reasoning_text", "text": text})
        else:
            out = self._open_part(state, "output_text")
            part = (
                {"type": "refusal", "refusal": text} if state.part == "refusal" else text_part(text)
            )
            item = message_item(state.item_id, [part], "completed")
            out += self._close_part(state, part)
        self.output.append(item)
        return out + self._event(
            "response.output_item.done", {"output_index": state.output_index, "item": item}
        )

    def _close_part(self, state: _Open, part: dict[str, Any]) -> bytes:
        kind = part["type"]
        done = {
            "output_text": "response.output_text.done",
            "refusal": "response.refusal.done",
            "reasoning_text": "response.reasoning_text.done",
        }[kind]
        payload = {**self._where(state), part_field(kind): part[part_field(kind)]}
        if kind == "output_text":
            payload["logprobs"] = []
        return self._event(done, payload) + self._event(
            "response.content_part.done", {**self._where(state), "part": part}
        )

    def finish(self) -> bytes:
        return b""  # Responses streams end after their last event, without [DONE]

    def error(self, error: GatewayError) -> bytes:
        payload = error_payload(error)
        failed = {
            "code": _FAILED_CODE.get(error.kind, "server_error"),
            "message": error.message,
        }
        return self._event(
            "error",
            {"code": payload["code"], "message": error.message, "param": error.param},
        ) + self._event(
            "response.failed",
            {"response": self._response("failed", usage=self._usage, error=failed)},
        )


def part_field(kind: str) -> str:
    """The field a content part keeps its text in: ``refusal`` for refusals, else ``text``."""
    return "refusal" if kind == "refusal" else "text"
