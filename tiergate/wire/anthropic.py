"""The Anthropic Messages wire format, both directions (see ``tiergate.wire.format``).

``FORMAT`` is the entry point; the work is split by job:

    anthropic_blocks   content blocks <-> core blocks (shared grammar, field-naming errors)
    anthropic_decode   client request body -> ChatRequest
    anthropic_encode   ChatResponse / stream events / errors -> client shapes
    anthropic_upstream ChatRequest -> upstream body; upstream answer and error -> core
    anthropic_stream   upstream SSE bytes -> core stream events
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tiergate.errors import GatewayError, ProviderError
from tiergate.types import ChatRequest, ChatResponse
from tiergate.wire import (
    anthropic_decode,
    anthropic_encode,
    anthropic_stream,
    anthropic_upstream,
)

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicFormat:
    """Stateless; one shared instance (``FORMAT``) serves every request."""

    name = "anthropic"
    request_path = "/v1/messages"

    def decode_request(self, body: Any) -> ChatRequest:
        return anthropic_decode.decode_request(body)

    def encode_response(self, response: ChatResponse, model: str) -> dict[str, Any]:
        return anthropic_encode.encode_response(response, model)

    def stream_encoder(
        self, model: str, include_usage: bool
    ) -> anthropic_encode.AnthropicStreamEncoder:
        return anthropic_encode.AnthropicStreamEncoder(model, include_usage)

    def encode_error(self, error: GatewayError) -> tuple[int, dict[str, str], bytes]:
        return anthropic_encode.encode_error(error)

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """``x-api-key`` only when there is a key (a keyless local proxy needs none)."""
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def encode_request(self, request: ChatRequest, upstream_model: str) -> dict[str, Any]:
        return anthropic_upstream.encode_request(request, upstream_model)

    def decode_response(self, body: Any) -> ChatResponse:
        return anthropic_upstream.decode_response(body)

    def stream_decoder(self) -> anthropic_stream.AnthropicStreamDecoder:
        return anthropic_stream.AnthropicStreamDecoder()

    def decode_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider: str
    ) -> ProviderError:
        return anthropic_upstream.decode_error(status, headers, body, provider)


FORMAT = AnthropicFormat()
