"""The PostgreSQL store: for several workers and replicas sharing one log, keys and budgets.

psycopg 3's async API over a ``psycopg_pool`` pool, so nothing blocks the event loop. SQL is
written once with SQLite's ``?`` placeholders and rewritten here: a literal ``%`` (the modulo
in report sums) is doubled and ``?`` becomes ``%s``; parameters are always passed, even
empty, so psycopg always reads the doubled ``%%`` back as ``%``. No statement of the project
has a literal ``?``.

An outage of the database is answered, not waited out. The first operation that finds the
server gone (its connection lost or refused, or no connection within ``wait_seconds``) marks
the store down; from then on every operation fails at once with ``StoreUnavailable`` (a 503
with ``retry-after`` in the caller's format) instead of queueing for a connection that will
not come. Meanwhile a probe tries a fresh connection every ``probe_seconds``; once one works,
the pool is replaced by a new one (the old one's connections are all dead, and its own
reconnection backs off for tens of seconds) and the store is up again. So service returns
within about a second of the database, whatever the outage's length. Connections are opened
with a connect timeout and TCP keepalives, so a server that vanishes without closing them
(a network partition) is noticed in seconds, not at the kernel's TCP timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from tiergate.errors import ReportTooCostly, StoreUnavailable
from tiergate.store.migrations import MIGRATIONS

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

logger = logging.getLogger("tiergate.store")

Row = tuple[Any, ...]

MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms BIGINT)"
)
_MIGRATION_LOCK = 7251044  # pg_advisory_xact_lock key: one migrator at a time
# libpq options for every connection: give up connecting after 2 s; notice a silent peer in
# about 10 s (TCP keepalives, and unacknowledged writes).
_CONNECTION: dict[str, Any] = {
    "connect_timeout": 2,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 10_000,
}
# Connection-level failures: SQLSTATE class 08 (connection exception) and the server shutting
# down or not yet accepting; a failure with no SQLSTATE never reached the server at all.
_LOST_STATES = ("08", "57P01", "57P02", "57P03")
_RETRY_AFTER = 2.0
_SCAN_CONNECTIONS = 2


class PostgresStore:
    dialect = "postgresql"
    log_batch_rows: int | None = None

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        wait_seconds: float = 5.0,
        probe_seconds: float = 0.5,
    ) -> None:
        import psycopg
        from psycopg_pool import PoolTimeout

        self._url = url
        self._sizes = (min_size, max_size)
        self._wait = wait_seconds
        self._probe_seconds = probe_seconds
        self._pool = self._new_pool()
        # Reports (``scan``): a small pool of their own, opened on first use, so a tenant's
        # report never holds a connection the request path waits for.
        self._scan_pool: AsyncConnectionPool[Any] | None = None
        self.scan_seconds: float | None = None
        self.scan_rows: int | None = None
        self._failures = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)
        self._down = False
        self._probe: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()

    def _new_pool(self, *, scans: bool = False) -> AsyncConnectionPool[Any]:
        from psycopg_pool import AsyncConnectionPool

        kwargs = dict(_CONNECTION)
        if scans:
            options = "-c default_transaction_read_only=on"
            if self.scan_seconds:
                options += f" -c statement_timeout={int(self.scan_seconds * 1000)}"
            kwargs["options"] = options
        return AsyncConnectionPool(
            self._url,
            min_size=0 if scans else self._sizes[0],
            max_size=_SCAN_CONNECTIONS if scans else self._sizes[1],
            timeout=self._wait,
            kwargs=kwargs,
            open=False,
        )

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)

    @property
    def available(self) -> bool:
        """False while the database is known to be unreachable."""
        return not self._down

    @contextlib.asynccontextmanager
    async def _connection(self, *, scans: bool = False) -> AsyncIterator[AsyncConnection[Any]]:
        """A pooled connection; ``StoreUnavailable`` at once while the database is down, and
        when this use finds it gone."""
        if self._down:
            raise StoreUnavailable(_UNAVAILABLE, retry_after=_RETRY_AFTER)
        pool = self._pool
        if scans:
            if self._scan_pool is None:
                self._scan_pool = self._new_pool(scans=True)
                await self._scan_pool.open(wait=False)
            pool = self._scan_pool
        try:
            async with pool.connection() as conn:
                yield conn
        except self._failures as exc:
            if not _lost(exc):
                raise
            self._mark_down(exc)
            raise StoreUnavailable(_UNAVAILABLE, retry_after=_RETRY_AFTER) from exc

    def _mark_down(self, exc: BaseException) -> None:
        if self._down:
            return
        self._down = True
        logger.error("PostgreSQL unreachable (%s): answering 503 until it is back", exc)
        self._probe = asyncio.ensure_future(self._until_back())

    async def _until_back(self) -> None:
        """Probe until the database answers, then serve from a fresh pool."""
        import psycopg

        while True:
            await asyncio.sleep(self._probe_seconds)
            try:
                probe = await psycopg.AsyncConnection.connect(self._url, **_CONNECTION)
                async with probe:
                    await probe.execute("SELECT 1")
                fresh = self._new_pool()
                await fresh.open(wait=True, timeout=5)
            except Exception:
                continue
            old, self._pool = self._pool, fresh
            scans, self._scan_pool = self._scan_pool, None  # made again on next use
            self._down = False
            logger.warning("PostgreSQL is back: serving again")
            for pool in (old, scans):
                if pool is not None:
                    retired = asyncio.ensure_future(pool.close(timeout=5))
                    self._retired.add(retired)
                    retired.add_done_callback(self._retired.discard)
            return

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._connection() as conn:
            cursor = await conn.execute(self._sql(sql), tuple(params))
            return int(cursor.rowcount)

    async def executemany(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        async with self._connection() as conn, conn.transaction(), conn.cursor() as cursor:
            for sql, rows in statements:
                if rows:
                    await cursor.executemany(self._sql(sql), rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._connection() as conn:
            cursor = await conn.execute(self._sql(sql), tuple(params))
            return [tuple(r) for r in await cursor.fetchall()]

    async def scan(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        import psycopg

        limit = self.scan_rows
        try:
            async with self._connection(scans=True) as conn:
                cursor = await conn.execute(self._sql(sql), tuple(params))
                rows = await (cursor.fetchmany(limit + 1) if limit else cursor.fetchall())
        except psycopg.errors.QueryCanceled:
            raise ReportTooCostly.time(self.scan_seconds or 0) from None
        if limit and len(rows) > limit:
            raise ReportTooCostly.rows(limit)
        return [tuple(r) for r in rows]

    async def transaction(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        results: list[list[Row]] = []
        async with self._connection() as conn, conn.transaction():
            for sql, params in steps:
                cursor = await conn.execute(self._sql(sql), tuple(params))
                rows = await cursor.fetchall() if cursor.description else []
                results.append([tuple(r) for r in rows])
        return results

    def transient(self, exc: BaseException) -> bool:
        """Connection trouble, timeouts, serialization failures: worth retrying. Bad data
        (integrity, data, programming errors) is not."""
        import psycopg
        from psycopg_pool import PoolTimeout

        if isinstance(exc, StoreUnavailable):
            return True
        if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
            return True
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | PoolTimeout)

    async def migrate(self) -> None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await conn.execute(MIGRATIONS_TABLE)
            cursor = await conn.execute("SELECT name FROM schema_migrations")
            done = {r[0] for r in await cursor.fetchall()}
            for migration in MIGRATIONS:
                if migration.name in done:
                    continue
                for sql in migration.statements(self.dialect):
                    await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s)",
                    (migration.name, int(time.time() * 1000)),
                )

    async def aclose(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)
        if self._scan_pool is not None:
            await self._scan_pool.close()
        await self._pool.close()


_UNAVAILABLE = "the gateway's database is unreachable; try again in a few seconds"


def _lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is out of reach (not that a statement failed)."""
    from psycopg_pool import PoolTimeout

    if isinstance(exc, PoolTimeout):
        return True
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith(_LOST_STATES)
