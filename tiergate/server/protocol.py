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
# A deadline this close counts as reached: uvloop's timers tick in milliseconds, so a timer
# re-armed for less would fire at once, again and again, until the clock caught up.
_SLACK = 0.001


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """One timer per connection, not one per request step: each step only moves
    ``_deadline_at`` (a float), and the timer, when it fires, either closes the connection or
    sleeps on to the deadline as it now stands. Creating and cancelling a timer for every
    header, body chunk and request would cost each request several heap operations."""

    header_seconds, body_idle_seconds = _DEFAULT
    _timer: asyncio.TimerHandle | None = None
    _deadline_at: float | None = None  # loop time the current step must finish by, or None
    _reading_body = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_seconds, self.body_idle_seconds = self.app_state.get(DEADLINES, _DEFAULT)
        self._arm(self.header_seconds)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline_at = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
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
        self._deadline_at = None  # the pending timer, if any, finds nothing due and stops

    def _arm(self, seconds: float) -> None:
        deadline = self.loop.time() + seconds
        self._deadline_at = deadline
        timer = self._timer
        if timer is None:
            self._timer = self.loop.call_at(deadline, self._check)
        elif timer.when() > deadline:  # a shorter bound than the one the timer waits for
            timer.cancel()
            self._timer = self.loop.call_at(deadline, self._check)

    def _check(self) -> None:
        self._timer = None
        deadline = self._deadline_at
        if deadline is None:
            return  # between requests: the next request's first byte arms a new timer
        if deadline - self.loop.time() > _SLACK:
            self._timer = self.loop.call_at(deadline, self._check)
            return
        self._deadline_at = None
        if self._reading_body and self.flow.read_paused:
            # The application is not reading yet (back-pressure): the client is not late.
            self._arm(self.body_idle_seconds)
            return
        if not self.transport.is_closing():
            self.transport.close()
