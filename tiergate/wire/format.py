"""The protocol every wire format module implements (``tiergate.wire.openai``,
``tiergate.wire.anthropic``).

A format is pure: dicts and bytes in, core types out, no I/O. The server uses the *serving*
half for the client's format; providers use the *calling* half for the upstream's format. Any
client format works with any upstream format because both halves meet in ``tiergate.types``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tiergate.errors import GatewayError, ProviderError
from tiergate.types import ChatRequest, ChatResponse, StreamEvent


class StreamEncoder(Protocol):
    """Turns core stream events into the client's SSE bytes. Stateful (tracks tool-call
    indexes, accumulated usage); one instance per response."""

    def encode(self, event: StreamEvent) -> bytes: ...

    def finish(self) -> bytes:
        """Bytes that end the stream (OpenAI's ``data: [DONE]``; empty for Anthropic)."""
        ...

    def error(self, error: GatewayError) -> bytes:
        """An error frame for a failure after the stream has started."""
        ...


class StreamDecoder(Protocol):
    """Turns an upstream's raw SSE bytes into core stream events. Stateful; one per call."""

    def feed(self, chunk: bytes) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]:
        """Events still owed at end of input (e.g. closing an open block)."""
        ...


class ErrorFormat(Protocol):
    """What answering a failure needs: the client's error shape."""

    name: str  # "openai" | "anthropic" | "responses"

    def encode_error(self, error: GatewayError) -> tuple[int, dict[str, str], bytes]:
        """(status, extra headers, body) in this format's error shape."""
        ...


class ClientFormat(ErrorFormat, Protocol):
    """The serving half's encoders: what an endpoint needs to answer in the client's format
    once the request is decoded (the Responses API makes one per request)."""

    def encode_response(self, response: ChatResponse, model: str) -> dict[str, Any]: ...

    def stream_encoder(self, model: str, include_usage: bool) -> StreamEncoder: ...


class WireFormat(ClientFormat, Protocol):
    # --- serving clients -----------------------------------------------------------------
    def decode_request(self, body: Any) -> ChatRequest:
        """Raise ``InvalidRequest`` naming the bad field for anything malformed."""
        ...

    # --- calling upstreams ---------------------------------------------------------------
    request_path: str  # appended to a deployment's base_url, e.g. "/v1/messages"

    def auth_headers(self, api_key: str | None) -> dict[str, str]: ...

    def encode_request(self, request: ChatRequest, upstream_model: str) -> dict[str, Any]: ...

    def decode_response(self, body: Any) -> ChatResponse: ...

    def stream_decoder(self) -> StreamDecoder: ...

    def decode_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider: str
    ) -> ProviderError: ...
