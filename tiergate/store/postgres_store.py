"""The PostgreSQL store: for several workers and replicas sharing one log, keys and budgets.

psycopg 3's async API over a ``psycopg_pool`` pool, so nothing blocks the event loop. SQL is
written once with SQLite's ``?`` placeholders and rewritten here: a literal ``%`` (the modulo
in report sums) is doubled and ``?`` becomes ``%s``; parameters are always passed, even
empty, so psycopg always reads the doubled ``%%`` back as ``%``. No statement of the project
has a literal ``?``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from tiergate.store.migrations import MIGRATIONS

Row = tuple[Any, ...]

MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms BIGINT)"
)
_MIGRATION_LOCK = 7251044  # pg_advisory_xact_lock key: one migrator at a time


class PostgresStore:
    dialect = "postgresql"
    log_batch_rows: int | None = None

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 8) -> None:
        from psycopg_pool import AsyncConnectionPool

        self._pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s")

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(self._sql(sql), tuple(params))
            return int(cursor.rowcount)

    async def executemany(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            for sql, rows in statements:
                if rows:
                    await cursor.executemany(self._sql(sql), rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(self._sql(sql), tuple(params))
            return [tuple(r) for r in await cursor.fetchall()]

    async def transaction(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        results: list[list[Row]] = []
        async with self._pool.connection() as conn, conn.transaction():
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

        if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
            return True
        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | PoolTimeout)

    async def migrate(self) -> None:
        async with self._pool.connection() as conn, conn.transaction():
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
        await self._pool.close()
