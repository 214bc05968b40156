"""The OpenAI Chat Completions wire format, both directions (see ``tiergate.wire.format``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tiergate.errors import GatewayError, ProviderError
from tiergate.types import ChatRequest, ChatResponse
from tiergate.wire import openai_decode, openai_encode, openai_stream, openai_upstream


class OpenAIFormat:
    name = "openai"
    request_path = "/chat/completions"  # OpenAI base URLs end in /v1

    def decode_request(self, body: Any) -> ChatRequest:
        return openai_decode.decode_request(body)

    def encode_response(self, response: ChatResponse, model: str) -> dict[str, Any]:
        return openai_encode.encode_response(response, model)

    def stream_encoder(self, model: str, include_usage: bool) -> openai_encode.OpenAIStreamEncoder:
        return openai_encode.OpenAIStreamEncoder(model, include_usage)

    def encode_error(self, error: GatewayError) -> tuple[int, dict[str, str], bytes]:
        return openai_encode.encode_error(error)

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def encode_request(self, request: ChatRequest, upstream_model: str) -> dict[str, Any]:
        return openai_upstream.encode_request(request, upstream_model)

    def decode_response(self, body: Any) -> ChatResponse:
        return openai_upstream.decode_response(body)

    def stream_decoder(self) -> openai_stream.OpenAIStreamDecoder:
        return openai_stream.OpenAIStreamDecoder()

    def decode_error(
        self, status: int, headers: Mapping[str, str], body: bytes, provider: str
    ) -> ProviderError:
        return openai_upstream.decode_error(status, headers, body, provider)


FORMAT = OpenAIFormat()
