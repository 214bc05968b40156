"""Providers reached over HTTP: any upstream that speaks a wire format tiergate knows.

One class for all of them: Anthropic, OpenAI and every OpenAI-compatible vendor differ only in
the ``WireFormat`` used and the deployment's base URL and key. All traffic goes through one
injected, pooled ``UpstreamSession``, which also maps transport failures to ``ProviderError``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from tiergate.errors import KIND_API, GatewayError, ProviderError
from tiergate.providers.base import CallOptions, Deployment
from tiergate.providers.transport import UpstreamSession, transport_errors
from tiergate.redaction import redact
from tiergate.types import ChatRequest, ChatResponse, MessageStop, StreamEvent
from tiergate.wire.format import WireFormat

# Deployments whose URL and headers are kept ready (config ones, plus the per-id deployments
# of model families, which client-chosen ids could otherwise grow without bound).
_MAX_FIXED = 4096


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


def _refused(error: ProviderError, deployment: Deployment, options: CallOptions) -> ProviderError:
    """An upstream error as the client should see it: ``_scrubbed``, and an upstream 401/403
    to the gateway's own key made a 502. Passed on as it is, the client's SDK would report
    its own key as wrong (401) or short of rights (403), when the gateway's key for this
    deployment is what was refused; only a key the caller sent (``byok``) is the caller's."""
    error = _scrubbed(error, deployment, options)
    if error.status not in (401, 403) or deployment.byok:
        return error
    said = error.message.removeprefix(f"upstream {deployment.name}: ")
    return ProviderError(
        f"upstream {deployment.name} refused the gateway's own credentials (HTTP "
        f"{error.status}: {said}); the gateway's provider key for it needs fixing, not yours",
        status=502,
        provider=error.provider,
        kind=KIND_API,
        retryable=False,
        upstream_status=error.status,
    )


def _first_frame_apart(chunk: bytes) -> tuple[bytes, ...]:
    """The first read of a stream split after its first SSE frame: that frame's events go to
    the client before the rest of the read (often the whole answer) is decoded."""
    cut = chunk.find(b"\n\n") + 2
    return (chunk[:cut], chunk[cut:]) if 1 < cut < len(chunk) else (chunk,)


def upstream_payload(
    wire: WireFormat, request: ChatRequest, deployment: Deployment
) -> dict[str, Any]:
    """The request as ``deployment``'s API takes it (live, or in a provider batch)."""
    payload = wire.encode_request(request, deployment.upstream_model)
    if deployment.max_tokens_field == "max_tokens" and "max_completion_tokens" in payload:
        payload["max_tokens"] = payload.pop("max_completion_tokens")  # an older server
    return payload


class HTTPProvider:
    def __init__(self, wire: WireFormat, session: UpstreamSession) -> None:
        self._wire = wire
        self._session = session
        # Per deployment (by identity): its URL and the headers every call to it sends, built
        # on its first call rather than on each one.
        self._fixed: dict[int, tuple[Deployment, str, dict[str, str]]] = {}

    def _headers(self, deployment: Deployment, key: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        headers.update(self._wire.auth_headers(key))
        headers.update(deployment.headers)
        return headers

    def _fixed_parts(self, deployment: Deployment) -> tuple[str, dict[str, str]]:
        fixed = self._fixed.get(id(deployment))
        if fixed is not None and fixed[0] is deployment:
            return fixed[1], fixed[2]
        if not deployment.base_url:
            raise GatewayError(f"deployment {deployment.name!r} has no base_url", status=500)
        url = deployment.base_url.rstrip("/") + self._wire.request_path
        headers = self._headers(deployment, None if deployment.byok else deployment.api_key)
        if len(self._fixed) >= _MAX_FIXED:  # family deployments are made per model id
            self._fixed.clear()
        self._fixed[id(deployment)] = (deployment, url, headers)  # holds it: no id reuse
        return url, headers

    def _prepare(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> tuple[str, dict[str, str], bytes]:
        url, fixed = self._fixed_parts(deployment)
        if not deployment.byok:
            headers = fixed.copy()
        elif options.caller_key:  # the caller's own key: the one header that differs per call
            headers = self._headers(deployment, options.caller_key)
        else:
            raise GatewayError(
                f"deployment {deployment.name!r} uses the caller's own provider key; "
                "send it in the x-provider-api-key header",
                status=401,
                kind="authentication_error",
            )
        if options.forward_headers:
            if self._wire.name == "anthropic":
                headers.update(options.forward_headers)
            else:  # Anthropic's headers mean nothing to (or break) another format's API
                headers.update(
                    (k, v)
                    for k, v in options.forward_headers.items()
                    if not k.startswith("anthropic-")
                )
        return url, headers, orjson.dumps(upstream_payload(self._wire, request, deployment))

    async def complete(
        self, request: ChatRequest, deployment: Deployment, options: CallOptions
    ) -> ChatResponse:
        url, headers, body = self._prepare(request, deployment, options)
        status, answer_headers, content = await self._session.fetch(
            "POST", url, headers, body, deployment.timeout, deployment.name
        )
        if status >= 400:
            raise _refused(
                self._wire.decode_error(status, answer_headers, content, deployment.name),
                deployment,
                options,
            )
        try:
            payload = orjson.loads(content)
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
        async with self._session.stream(
            url, headers, body, deployment.timeout, deployment.name
        ) as response:
            with transport_errors(deployment.name):
                if response.status >= 400:
                    content = (await response.bytes()).to_bytes()
                    raise _refused(
                        self._wire.decode_error(
                            response.status, response.headers, content, deployment.name
                        ),
                        deployment,
                        options,
                    )
                reader = response.body_reader
                first = True
                while (read := await reader.read_chunk()) is not None:
                    chunk = read.to_bytes()
                    for piece in _first_frame_apart(chunk) if first else (chunk,):
                        for event in decoder.feed(piece):
                            finished = finished or isinstance(event, MessageStop)
                            yield event
                    first = False
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
        """The shared session belongs to the registry, which closes it."""
