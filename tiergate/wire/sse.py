"""Server-sent events: an incremental parser for upstream streams and one encoder.

Both wire formats ride on SSE; only their event payloads differ, so framing lives here once.
The parser is fed raw byte chunks as they arrive (they may split lines anywhere) and returns the
complete events found so far.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str


class SSEParser:
    """Incremental SSE parser (the subset LLM APIs use: ``event:``, ``data:``, comments).

    Bytes that are not UTF-8 become U+FFFD, as the SSE standard decodes a stream, rather than
    failing the request: one bad byte from an upstream should not cost the whole answer."""

    __slots__ = ("_buffer", "_data", "_event")

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        # Lines are found by position and the unread tail is kept once per chunk: slicing the
        # buffer after every line would copy a whole multi-event chunk once per line.
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[SSEEvent] = []
        start = 0
        while True:
            newline = buffer.find(b"\n", start)
            if newline < 0:
                break
            line = buffer[start:newline]
            start = newline + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line:
                if self._data or self._event is not None:
                    events.append(SSEEvent(self._event, "\n".join(self._data)))
                self._event = None
                self._data = []
                continue
            if line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if name == b"data":
                self._data.append(value.decode("utf-8", "replace"))
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
        self._buffer = buffer[start:]
        return events

    def close(self) -> list[SSEEvent]:
        """Flush an event left unterminated at end of stream."""
        events = self.feed(b"\n\n") if self._buffer else []
        if self._data:
            events.append(SSEEvent(self._event, "\n".join(self._data)))
            self._data = []
        return events


def encode_sse(data: bytes, event: str | None = None) -> bytes:
    """One SSE frame; ``data`` must be a single line (JSON without newlines)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
