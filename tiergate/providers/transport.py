"""The one pooled HTTP client every upstream call goes through, and its failure mapping.

pyreqwest (Python bindings to Rust's reqwest and hyper), not aiohttp or httpx: the upstream
client is most of what a bare proxy costs per request, and pyreqwest's costs the least of the
three (figures: bench/results/history.md, "The upstream client"). The HTTP/1.1 framing,
pooling, decompression and timers run in Rust, on a Tokio thread that hands each response, and
each chunk of a stream, to the event loop; that hand-off per chunk makes a burst of stream
chunks cost more than on aiohttp, a price paid for plain answers costing less.

Sessions, pooling, timeouts and the mapping of the client's errors to ``ProviderError`` live
here; ``providers/http.py`` and ``providers/batch_clients.py`` see only ``Reply`` (a whole answer)
or a streamed response read under ``transport_errors``.

Production details:
- Keep-alive connections are dropped after ``KEEPALIVE_SECONDS``, below the 5 s idle timeout of
  common servers (uvicorn, gunicorn), so the pool rarely hands out a socket the upstream is
  closing.
- When that race still happens (the upstream closes a pooled connection as the request goes
  out: no status line ever arrives), the request is sent once more, on another connection, as
  curl and browsers do, but only when the close came within ``RACE_SECONDS`` of sending: a
  later close means the upstream read the request and died working on it, and sending it
  again unseen could run (and bill) the generation twice. That failure is reported (a
  retryable 502), so the executor's retries, which show in the attempts, decide. A failure
  after the status line is never retried here.
- TLS is rustls, verifying upstreams against the system's CA store; ``SSL_CERT_FILE`` (or
  ``SSL_CERT_DIR``) names another bundle, such as a private CA in front of a self-hosted model.
- No proxies from the environment, no cookie jar (one client serves every tenant: a cookie one
  upstream sets must never ride along on another caller's request), no redirects followed (an
  API key is never sent on to another address).
- Timeouts are per deployment: the whole exchange for a plain answer, the gap between reads for
  a stream, so a long stream that keeps sending is never cut off and a silent one is. reqwest
  sets the gap per client, so there is one client (and pool) per distinct deployment timeout,
  usually one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import NamedTuple, TypeVar

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import ConnectError, ConnectTimeoutError, NetworkError, RequestError
from pyreqwest.multipart import FormBuilder
from pyreqwest.request import RequestBuilder, StreamRequest
from pyreqwest.response import Response

from tiergate import __version__
from tiergate.errors import ProviderError

USER_AGENT = f"tiergate/{__version__}"
KEEPALIVE_SECONDS = 4.0
CONNECT_SECONDS = 10.0
MAX_CONNECTIONS = 1000
# A close before any status line this soon after sending is the keep-alive race, not a crash.
RACE_SECONDS = 0.1

__all__ = [
    "TRANSPORT_ERRORS",
    "USER_AGENT",
    "Body",
    "Reply",
    "UpstreamSession",
    "UpstreamStream",
    "as_provider_error",
    "transport_errors",
]

T = TypeVar("T")

# What an upstream exchange can raise: the client's own errors, and a deadline.
TRANSPORT_ERRORS = (TimeoutError, RequestError)

Body = bytes | FormBuilder | None  # a form sets its own content type (with its boundary)


class Reply(NamedTuple):
    """A whole upstream answer, already read."""

    status: int
    headers: Mapping[str, str]
    content: bytes


def as_provider_error(exc: BaseException, provider: str) -> ProviderError:
    """The most specific retryable ``ProviderError`` for one of ``TRANSPORT_ERRORS``."""
    if isinstance(exc, TimeoutError):  # pyreqwest's timeouts are TimeoutErrors too
        if _while_connecting(exc):
            what = f"connect timed out (no connection within {CONNECT_SECONDS:g} s)"
        else:
            what = "read timed out (no answer within the deployment's timeout)"
        return ProviderError(f"upstream {provider} {what}", status=504, provider=provider)
    if isinstance(exc, NetworkError):
        return ProviderError(
            f"upstream {provider} connection failed ({type(exc).__name__})",
            status=502,
            provider=provider,
        )
    return ProviderError(
        f"upstream {provider} failed ({type(exc).__name__})", status=502, provider=provider
    )


def _while_connecting(exc: TimeoutError) -> bool:
    """Whether a timeout hit while the TCP (or TLS) connection was being made. pyreqwest calls
    every timeout before the status line a ``ConnectTimeoutError``, a silent upstream that
    accepted the connection included; only the causes reqwest lists tell a connect apart (its
    connector's "client error (Connect)", "tcp connect error")."""
    if not isinstance(exc, ConnectTimeoutError):
        return False
    causes = exc.details.get("causes") or []
    return any(
        "connect" in cause["message"].lower()
        for cause in causes
        if not cause["message"].startswith("error sending request for url")
    )


@contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Re-raise the client's failures as ``as_provider_error`` does (for longer blocks; the
    per-request calls use a plain ``try`` on ``TRANSPORT_ERRORS``, which costs nothing when
    nothing fails)."""
    try:
        yield
    except TRANSPORT_ERRORS as exc:
        raise as_provider_error(exc, provider) from exc


async def _resent_after_race(
    send: Callable[[], Awaitable[T]], provider: str, *, resend: bool = True
) -> T:
    """``send()``, once more if it failed at once with no status line (the keep-alive race,
    see the docstring: pyreqwest reports it as a ``ConnectError``, as it does a refused
    connection, which is as harmless to send again); every failure raised as
    ``ProviderError``."""
    sent = time.monotonic()
    try:
        try:
            return await send()
        except ConnectError:
            if not resend or time.monotonic() - sent > RACE_SECONDS:
                raise
            return await send()
    except TRANSPORT_ERRORS as exc:
        raise as_provider_error(exc, provider) from exc


class UpstreamStream:
    """An open streamed exchange: sent on entry (``_resent_after_race``), closed on exit."""

    def __init__(self, request: Callable[[], RequestBuilder], provider: str) -> None:
        self._request = request
        self._provider = provider
        self._opened: StreamRequest | None = None

    async def __aenter__(self) -> Response:
        return await _resent_after_race(self._open, self._provider)

    async def _open(self) -> Response:
        self._opened = self._request().build_streamed()
        return await self._opened.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        if self._opened is not None:
            await self._opened.__aexit__(None, None, None)


class UpstreamSession:
    """Owns the pooled clients, created on first use inside the event loop."""

    def __init__(self) -> None:
        self._clients: dict[float, Client] = {}
        self._deadlines: dict[float, timedelta] = {}

    def _client(self, seconds: float) -> Client:
        client = self._clients.get(seconds)
        if client is None:
            client = self._clients[seconds] = (
                ClientBuilder()
                .max_connections(MAX_CONNECTIONS)
                .pool_idle_timeout(timedelta(seconds=KEEPALIVE_SECONDS))
                .connect_timeout(timedelta(seconds=CONNECT_SECONDS))
                .read_timeout(timedelta(seconds=seconds))
                .no_proxy()
                .default_cookie_store(False)
                .follow_redirects(False)
                .referer(False)
                .user_agent(USER_AGENT)  # unless a deployment's own headers name another
                .build()
            )
        return client

    def _request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
        seconds: float,
        *,
        whole: bool,
    ) -> RequestBuilder:
        """The request, its reads at most ``seconds`` apart and, for a ``whole`` answer, the
        exchange too."""
        builder = self._client(seconds).request(method, url).headers(headers)
        if isinstance(body, bytes):
            builder = builder.body_bytes(body)
        elif body is not None:
            builder = builder.multipart(body)
        if not whole:
            # No read-ahead: by default the response is held back until 64 KB of its body
            # (or its end) arrived, so a stream's first event waited for its last.
            return builder.streamed_read_buffer_limit(0)
        deadline = self._deadlines.get(seconds)
        if deadline is None:
            deadline = self._deadlines[seconds] = timedelta(seconds=seconds)
        return builder.timeout(deadline)

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Body,
        timeout: float,
        provider: str,
    ) -> Reply:
        """One whole exchange within ``timeout`` seconds, sent once more after the keep-alive
        race; every failure raised as ``ProviderError``."""
        return await _resent_after_race(
            lambda: self._whole(method, url, headers, body, timeout),
            provider,
            resend=not isinstance(body, FormBuilder),  # a form is spent by its first send
        )

    async def _whole(
        self, method: str, url: str, headers: Mapping[str, str], body: Body, timeout: float
    ) -> Reply:
        request = self._request(method, url, headers, body, timeout, whole=True).build()
        response = await request.send()
        content = await response.bytes()
        return Reply(response.status, response.headers, content.to_bytes())

    def stream(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float, provider: str
    ) -> UpstreamStream:
        """A POST whose answer is read as it arrives, with at most ``timeout`` seconds between
        reads: ``async with session.stream(...) as response``; the caller reads it under
        ``transport_errors``."""
        return UpstreamStream(
            lambda: self._request("POST", url, headers, body, timeout, whole=False), provider
        )

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client in clients.values():
            await client.close()
