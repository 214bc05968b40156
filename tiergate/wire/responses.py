"""The OpenAI Responses API wire format, serving side only (``POST /v1/responses``).

Unlike Chat Completions and Messages, a Responses answer repeats the request's settings and
carries an id the client may continue from, so encoding needs per-request state: ``FORMAT``
decodes requests and encodes errors, and ``FORMAT.reply(...)`` makes the per-request
``ResponsesReply`` that encodes the answer (whole or streamed). Upstreams are called in the
Chat Completions or Messages formats; no deployment speaks this one.
"""

from __future__ import annotations

from typing import Any

from tiergate.errors import GatewayError
from tiergate.types import ChatResponse
from tiergate.wire import responses_decode, responses_encode
from tiergate.wire.responses_decode import ResponsesRequest
from tiergate.wire.responses_stream import ResponsesStreamEncoder


class ResponsesReply:
    """Encodes one response (a ``tiergate.wire.format.ClientFormat``). After a stream,
    ``encoder.output`` holds the output items sent; after a whole answer, ``output`` does."""

    name = "responses"

    __slots__ = ("created_at", "echo", "encoder", "id", "output")

    def __init__(self, echo: dict[str, Any], rid: str, created_at: int) -> None:
        self.echo = echo
        self.id = rid
        self.created_at = created_at
        self.encoder: ResponsesStreamEncoder | None = None
        self.output: list[dict[str, Any]] = []

    def encode_response(self, response: ChatResponse, model: str) -> dict[str, Any]:
        body = responses_encode.encode_response(
            response, model, echo=self.echo, rid=self.id, created_at=self.created_at
        )
        self.output = body["output"]
        return body

    def stream_encoder(self, model: str, include_usage: bool) -> ResponsesStreamEncoder:
        self.encoder = ResponsesStreamEncoder(model, self.echo, self.id, self.created_at)
        return self.encoder

    def encode_error(self, error: GatewayError) -> tuple[int, dict[str, str], bytes]:
        return responses_encode.encode_error(error)


class ResponsesFormat:
    name = "responses"

    def decode_request(self, body: Any) -> ResponsesRequest:
        return responses_decode.decode_request(body)

    def reply(self, echo: dict[str, Any], request_id: str, created_at: int) -> ResponsesReply:
        return ResponsesReply(echo, responses_encode.response_id(request_id), created_at)

    def encode_error(self, error: GatewayError) -> tuple[int, dict[str, str], bytes]:
        return responses_encode.encode_error(error)


FORMAT = ResponsesFormat()
