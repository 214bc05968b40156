"""What a fake upstream does next: scripted replies and failures, in neutral terms.

A test queues steps on a ``FakeUpstream``; each incoming generation request pops one. The same
``Reply`` / ``Fail`` is rendered in the Anthropic or the OpenAI wire format by that fake, so a
test of fail-over between providers scripts both sides the same way.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """A tool call the fake model makes: ``name`` with ``arguments`` (a JSON object)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class FakeUsage:
    """Token counts in Anthropic's split: ``input_tokens`` excludes cache reads and writes.
    The OpenAI fake reports ``prompt_tokens = input + cache_read + cache writes`` and
    ``cached_tokens = cache_read`` (OpenAI has no separately billed cache writes)."""

    input_tokens: int = 10
    output_tokens: int = 5
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    reasoning_tokens: int = 0  # OpenAI completion_tokens_details.reasoning_tokens

    @property
    def cache_write(self) -> int:
        return self.cache_write_5m + self.cache_write_1h


@dataclass(frozen=True)
class Reply:
    """A successful answer.

    ``text=None`` with no tool calls and no thinking means "echo": ``"echo: <last user text>"``.
    ``stop_reason`` accepts either vocabulary (``end_turn``/``stop``, ``max_tokens``/``length``,
    ``tool_use``/``tool_calls``, ``stop_sequence``); each fake translates to its own.
    ``delay``: seconds before the response starts. ``chunk_delay``: seconds between stream
    events ("slow"). ``die_after``: close the connection abruptly after that many stream events
    (non-streamed: after the headers and half the body). ``error_after`` + ``stream_error``:
    send that many events, then an in-stream error frame of type ``stream_error``.
    """

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    thinking: str | None = None
    signature: str = "EqQBCkYIBxgCKkBfakesignature=="
    usage: FakeUsage | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None
    model: str | None = None  # default: echo the requested model
    delay: float = 0.0
    chunk_delay: float = 0.0
    die_after: int | None = None
    error_after: int | None = None
    stream_error: str = "overloaded_error"
    headers: dict[str, str] = field(default_factory=dict)
    # Anthropic citations on the text (documents with citations on); the OpenAI fake has none.
    citations: tuple[dict[str, Any], ...] = ()
    # Billing fields beyond tokens, merged into the usage object as each API reports them
    # (Anthropic: ``server_tool_use``, ``inference_geo``, ``service_tier``, ``speed``).
    usage_fields: dict[str, Any] = field(default_factory=dict)
    # OpenAI's top-level ``service_tier`` (the tier the answer was served on).
    service_tier: str = "default"
    # OpenAI-compatible servers that send no usage at all (no usage chunk, no ``usage``).
    no_usage: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.tool_calls, list):  # accept a list for convenience
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))


@dataclass(frozen=True)
class Fail:
    """An HTTP error in the fake's own error format.

    ``error_type`` defaults from the status (Anthropic: ``rate_limit_error``, ``overloaded_error``
    ...; OpenAI: ``rate_limit_exceeded`` code etc.). ``retry_after`` sets the ``retry-after``
    header. ``body`` replaces the whole body (bytes sent as-is, anything else as JSON).
    """

    status: int
    message: str = "scripted failure"
    error_type: str | None = None
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0


Step = Reply | Fail


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


# Stop reasons in both vocabularies, mapped to each side.
TO_ANTHROPIC_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
TO_OPENAI_STOP = {
    "end_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "stop_sequence": "stop",
    "refusal": "content_filter",
    "pause_turn": "stop",
}


def json_pieces(text: str, parts: int = 3) -> list[str]:
    """Split a JSON string into ``parts`` uneven pieces, as upstreams stream tool arguments."""
    if len(text) < parts:
        return [text]
    step = max(1, len(text) // parts)
    pieces = [text[i : i + step] for i in range(0, len(text), step)]
    return pieces


def text_pieces(text: str) -> list[str]:
    """Split text into word-ish chunks (each keeps its leading space), like token deltas."""
    if not text:
        return []
    pieces: list[str] = []
    current = ""
    for char in text:
        if char == " " and current.strip():
            pieces.append(current)
            current = ""
        current += char
    pieces.append(current)
    return pieces
