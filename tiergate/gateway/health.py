"""Whether this gateway can serve: what ``GET /health`` reports (``server/endpoints.py``
renders it).

The store is the part whose loss makes keyed requests fail (keys, budgets, limits, the log),
so health asks it a trivial query: one row of ``schema_migrations``, which reads the database
itself (SQLite's file, not only the connection) and proves the schema is there. Three bounds
keep the check from becoming a load or a hang of its own:

* one query at a time per process: callers arriving while it runs wait for that one;
* its answer is reused for ``cache_seconds``, so load balancers polling every few hundred
  milliseconds, from several places, cost the database at most one query a second;
* the caller waits at most ``timeout_seconds``; a query still running then is reported as
  failing and left to end on its own (a hung server is not asked again until it answers, and
  cancelling a PostgreSQL query waits on the server too).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tiergate.errors import StoreUnavailable

if TYPE_CHECKING:
    from tiergate.store.backend import Store

__all__ = ["PING_SQL", "Health", "HealthCheck", "PartHealth", "starting"]

logger = logging.getLogger("tiergate")

PING_SQL = "SELECT 1 FROM schema_migrations LIMIT 1"


@dataclass(frozen=True, slots=True)
class PartHealth:
    """One part's state: ``error`` says what failed (no database detail: ``/health`` is public)."""

    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok" if self.ok else "failing", **self.detail}
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass(frozen=True, slots=True)
class Health:
    """The gateway's parts by name; healthy when every one is."""

    parts: dict[str, PartHealth]

    @property
    def ok(self) -> bool:
        return all(part.ok for part in self.parts.values())

    @property
    def failing(self) -> list[str]:
        return [name for name, part in self.parts.items() if not part.ok]


def starting() -> Health:
    """Before start-up has opened the store: nothing a keyed request needs is there yet."""
    return Health({"store": PartHealth(False, error="not open yet: the gateway is starting")})


class HealthCheck:
    def __init__(
        self, store: Store, *, timeout_seconds: float = 1.0, cache_seconds: float = 1.0
    ) -> None:
        self._store = store
        self._timeout = timeout_seconds
        self._cache = cache_seconds
        self._last: Health | None = None
        self._last_at = float("-inf")
        self._ping: asyncio.Task[float] | None = None  # the query in flight
        self._ping_started = 0.0
        self._failing = False  # for logging the changes only

    async def check(self) -> Health:
        now = time.monotonic()
        if self._last is not None and now - self._last_at < self._cache:
            return self._last
        ping = self._ping
        if ping is None:
            ping = self._ping = asyncio.ensure_future(self._query())
            ping.add_done_callback(self._ended)
            self._ping_started = now
        left = self._ping_started + self._timeout - now
        if left > 0 and not ping.done():
            await asyncio.wait((ping,), timeout=left)
        store = self._store_health(ping)
        health = Health({"store": store})
        self._last, self._last_at = health, time.monotonic()
        return health

    async def _query(self) -> float:
        started = time.perf_counter()
        await self._store.fetchall(PING_SQL)
        return (time.perf_counter() - started) * 1000

    def _ended(self, ping: asyncio.Task[float]) -> None:
        if self._ping is ping:
            self._ping = None
        if not ping.cancelled():
            ping.exception()  # retrieved: reported by ``_store_health``, not by asyncio

    def _store_health(self, ping: asyncio.Task[float]) -> PartHealth:
        dialect = {"dialect": self._store.dialect}
        if not ping.done():
            waited = time.monotonic() - self._ping_started
            error = f"no answer within {self._timeout:g} s (waiting {waited:.1f} s)"
            self._note(error, None)
            return PartHealth(False, dialect, error)
        if ping.cancelled():
            return PartHealth(False, dialect, "the check was cancelled")
        exc = ping.exception()
        if exc is None:
            if self._failing:
                logger.warning("health: the store answers again")
                self._failing = False
            return PartHealth(True, {**dialect, "latency_ms": round(ping.result(), 3)})
        if isinstance(exc, StoreUnavailable):
            error = f"unreachable: {exc.message}"
        else:
            error = f"query failed ({type(exc).__name__})"
        self._note(error, exc)
        return PartHealth(False, dialect, error)

    def _note(self, error: str, exc: BaseException | None) -> None:
        """Log a failure once, when it starts (the detail, which the public body leaves out)."""
        if not self._failing:
            self._failing = True
            logger.error("health: the store is failing: %s (%r)", error, exc)

    async def aclose(self) -> None:
        """Wait for a query still in flight, at most ``timeout_seconds``, then let it go: the
        store closes after this, and closing it ends the query."""
        ping = self._ping
        if ping is not None:
            await asyncio.wait((ping,), timeout=self._timeout)
            ping.cancel()
