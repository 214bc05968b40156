"""The one pooled HTTP client every upstream call goes through, and its failure mapping.

aiohttp, not httpx: on the gateway benchmark (docs/benchmarks.md, "Gateway overhead") httpx's
connection pool cost ~70% of the event loop's time per request (``is_socket_readable`` on every
pooled connection, anyio cancel scopes), and a pass-through on aiohttp served 8x the requests of
the same pass-through on httpx. Sessions, pooling, timeouts and the mapping of aiohttp's errors
to ``ProviderError`` live here; ``providers/http.py`` reads the response it returns (status,
headers, body or stream) inside ``transport_errors`` and releases it.

Two production details:
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
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from yarl import URL

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
    "UpstreamSession",
    "as_provider_error",
    "transport_errors",
]


# What an upstream exchange can raise: aiohttp's own errors, and the deadline.
TRANSPORT_ERRORS = (TimeoutError, aiohttp.ClientError)


def as_provider_error(exc: BaseException, provider: str) -> ProviderError:
    """The most specific retryable ``ProviderError`` for one of ``TRANSPORT_ERRORS``."""
    if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        return ProviderError(
            f"upstream {provider} timed out ({type(exc).__name__})", status=504, provider=provider
        )
    if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)):
        return ProviderError(
            f"upstream {provider} connection failed ({type(exc).__name__})",
            status=502,
            provider=provider,
        )
    return ProviderError(
        f"upstream {provider} failed ({type(exc).__name__})", status=502, provider=provider
    )


@contextmanager
def transport_errors(provider: str) -> Iterator[None]:
    """Re-raise aiohttp failures as ``as_provider_error`` does (for longer blocks; the
    per-request calls use a plain ``try`` on ``TRANSPORT_ERRORS``, which costs nothing when
    nothing fails)."""
    try:
        yield
    except TRANSPORT_ERRORS as exc:
        raise as_provider_error(exc, provider) from exc


class UpstreamSession:
    """Owns the shared ``aiohttp.ClientSession``, created on first use inside the event loop.

    Timeouts are per deployment: the whole exchange for a plain answer, the gap between reads
    for a stream, so a long stream that keeps sending is never cut off and a silent one is.
    """

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float, bool], aiohttp.ClientTimeout] = {}
        self._urls: dict[str, URL] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # One session serves every tenant: a cookie one upstream sets must never ride
                # along on another caller's request (and not keeping a jar is cheaper).
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=True,
                # No skip_auto_headers: with it aiohttp rebuilds the header set on every
                # request. Providers send their own User-Agent (USER_AGENT) instead of
                # aiohttp's, so the default is never added.
            )
        return self._session

    def _timeout(self, seconds: float, stream: bool) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get((seconds, stream))
        if timeout is None:
            timeout = self._timeouts[(seconds, stream)] = aiohttp.ClientTimeout(
                # A whole answer has a deadline (one timer per call); a stream may run long
                # as long as it keeps sending (a timer re-armed on every read).
                total=None if stream else seconds,
                sock_connect=CONNECT_SECONDS,
                sock_read=seconds if stream else None,
            )
        return timeout

    async def post(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        timeout: float,
        provider: str,
        *,
        stream: bool = False,
    ) -> aiohttp.ClientResponse:
        """POST ``body``; the caller reads the response under ``transport_errors`` and must
        ``release()`` it."""
        client = self._client()
        target = self._urls.get(url)
        if target is None:  # parsed once per upstream URL, not on every call
            target = self._urls[url] = URL(url)
        sent = time.monotonic()
        try:
            try:
                return await client.post(
                    target, data=body, headers=headers, timeout=self._timeout(timeout, stream)
                )
            except aiohttp.ServerDisconnectedError:
                # Closed before any status line. At once: the keep-alive race (the upstream
                # never read the request), sent once more on another connection, after this
                # handler rather than inside it (see server/app.py). Later: see the docstring.
                if time.monotonic() - sent > RACE_SECONDS:
                    raise
            return await client.post(
                target, data=body, headers=headers, timeout=self._timeout(timeout, stream)
            )
        except TRANSPORT_ERRORS as exc:
            raise as_provider_error(exc, provider) from exc

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | aiohttp.FormData | None,
        timeout: float,
        provider: str,
    ) -> aiohttp.ClientResponse:
        """Any other call (off the request path: providers' batch APIs); the caller reads the
        response under ``transport_errors`` and must ``release()`` it."""
        try:
            return await self._client().request(
                method, url, data=data, headers=headers, timeout=self._timeout(timeout, False)
            )
        except TRANSPORT_ERRORS as exc:
            raise as_provider_error(exc, provider) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
