"""Providers reached over HTTP: any upstream that speaks a wire format tiergate knows.

One class for all of them: Anthropic, OpenAI and every OpenAI-compatible vendor differ only in
the ``WireFormat`` used and the deployment's base URL and key. All traffic goes through one
injected, pooled ``httpx.AsyncClient``; transport failures are mapped to ``ProviderError`` in
one place (``_transport_errors``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import orjson

from tiergate.errors import GatewayError, ProviderError
from tiergate.providers.base import CallOptions, Deployment
from tiergate.redaction import redact
from tiergate.types import ChatRequest, ChatResponse, MessageStop, StreamEvent
from tiergate.wire.format import WireFormat


@contextmanager
def _transport_errors(provider: str) -> Iterator[None]:
    """Re-raise httpx failures as the most specific retryable ``ProviderError``."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderError(
            f"upstream {provider} timed out ({type(exc).__name__})", status=504, provider=provider
        ) from exc
    except (
        httpx.ConnectError,
        httpx.RemoteProtocolError,
        httpx.ReadError,
        httpx.WriteError,
    ) as exc:
        raise ProviderError(
            f"upstream {provider} connection failed ({type(exc).__name__})",
            status=502,
            provider=provider,
        ) from exc
    except httpx.HTTPError as exc:
        raise ProviderError(
            f"upstream {provider} failed ({type(exc).__name__})", status=502, provider=provider
        ) from exc


def _scrubbed(error: ProviderError, deployment: Deployment, options: CallOptions) -> ProviderError:
    """Upstream error messages can quote the key they were sent (OpenAI's 401 does): remove
    any key this call used, and anything key-shaped, before the message goes anywhere."""
    message = error.message
    for secret in (deployment.api_key, options.caller_key):
        if secret:
            message = message.replace(secret, "[REDACTED]")
    error.message = redact(message)
    error.args = (error.message,)
    return error


class HTTPProvider:
    def __init__(self, wire: WireFormat, client: httpx.AsyncClient) -> None:
        self._wire = wire
        self._client = client

    def _prepare(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> tuple[str, dict[str, str], bytes]:
        if not deployment.base_url:
            raise GatewayError(f"deployment {deployment.name!r} has no base_url", status=500)
        key = options.caller_key if deployment.byok else deployment.api_key
        if deployment.byok and not key:
            raise GatewayError(
                f"deployment {deployment.name!r} uses the caller's own provider key; "
                "send it in the x-provider-api-key header",
                status=401,
                kind="authentication_error",
            )
        headers = {"content-type": "application/json"}
        headers.update(self._wire.auth_headers(key))
        headers.update(deployment.headers)
        headers.update(options.forward_headers)
        body = orjson.dumps(self._wire.encode_request(request, deployment.upstream_model))
        url = deployment.base_url.rstrip("/") + self._wire.request_path
        return url, headers, body

    async def complete(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> ChatResponse:
        url, headers, body = self._prepare(request, deployment, options)
        with _transport_errors(deployment.name):
            response = await self._client.post(
                url, content=body, headers=headers, timeout=deployment.timeout
            )
        if response.status_code >= 400:
            raise _scrubbed(
                self._wire.decode_error(
                    response.status_code, response.headers, response.content, deployment.name
                ),
                deployment,
                options,
            )
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(
                f"upstream {deployment.name} sent a body that is not JSON",
                status=502,
                provider=deployment.name,
                retryable=True,
            ) from exc
        return self._wire.decode_response(payload)

    async def stream(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> AsyncIterator[StreamEvent]:
        url, headers, body = self._prepare(request, deployment, options)
        headers["accept"] = "text/event-stream"
        decoder = self._wire.stream_decoder()
        finished = False
        with _transport_errors(deployment.name):
            async with self._client.stream(
                "POST", url, content=body, headers=headers, timeout=deployment.timeout
            ) as response:
                if response.status_code >= 400:
                    content = await response.aread()
                    raise _scrubbed(
                        self._wire.decode_error(
                            response.status_code, response.headers, content, deployment.name
                        ),
                        deployment,
                        options,
                    )
                async for chunk in response.aiter_raw():
                    for event in decoder.feed(chunk):
                        finished = finished or isinstance(event, MessageStop)
                        yield event
        for event in decoder.close():
            finished = finished or isinstance(event, MessageStop)
            yield event
        if not finished:
            # The upstream closed the connection without ending the message: never pass a
            # truncated answer off as complete.
            raise ProviderError(
                f"upstream {deployment.name} ended the stream before the message was complete",
                status=502,
                provider=deployment.name,
            )

    async def aclose(self) -> None:
        """The shared client belongs to the registry, which closes it."""
