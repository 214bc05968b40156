"""uvicorn's httptools protocol with read deadlines: a slow client cannot hold a connection.

uvicorn closes an idle keep-alive connection, but not one that sends its request slowly: a
client that opens a connection and sends nothing, or trickles its headers a byte at a time
(slowloris), or stops in the middle of its body, holds that connection (and its memory) for
good. Here a request's headers must arrive within ``limits.header_timeout_seconds`` (10 s) of
the connection, or of the request's first byte on a kept-alive one, and its body may not stall
for more than ``limits.body_timeout_seconds`` (30 s; a large upload on a slow link still gets
through: it keeps sending). A connection past either bound is closed; a handler waiting for its
body sees the client gone. The app puts its settings' bounds in the lifespan state
(``DEADLINES``), which uvicorn shares with every connection of the process.

``tiergate serve`` uses it; with uvicorn directly, pass
``--http tiergate.server.protocol:GuardedHttpToolsProtocol``.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["DEADLINES", "GuardedHttpToolsProtocol"]

# The lifespan-state key of (header seconds, body idle seconds).
DEADLINES = "tiergate.read_deadlines"
_DEFAULT = (10.0, 30.0)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_seconds, body_idle_seconds = _DEFAULT
    _deadline: asyncio.TimerHandle | None = None
    _reading_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_seconds, self.body_idle_seconds = self.app_state.get(DEADLINES, _DEFAULT)
        self._arm(self.header_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_body = False
        self._arm(self.header_seconds)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._reading_body = True
        self._arm(self.body_idle_seconds)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm(self.body_idle_seconds)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_body = False
        self._disarm()

    def _arm(self, seconds: float) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self._reading_body and self.flow.read_paused:
            # The application is not reading yet (back-pressure): the client is not late.
            self._arm(self.body_idle_seconds)
            return
        if not self.transport.is_closing():
            self.transport.close()
