"""Two stores behind one small async interface: SQLite (default) and PostgreSQL.

SQL is written once with ``?`` placeholders; the PostgreSQL store rewrites them to ``%s``.
SQLite calls run in a worker thread on one connection (WAL mode, so readers in other
processes never block the writer), serialised by a lock; PostgreSQL uses psycopg's async pool.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from tiergate.errors import ConfigError
from tiergate.store.migrations import MIGRATIONS

Row = tuple[Any, ...]

_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms BIGINT)"
)


class Store(Protocol):
    dialect: str

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows changed."""
        ...

    async def executemany(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Run several batched statements in one transaction."""
        ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    async def transaction(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Run statements in one transaction; returns each statement's rows (RETURNING)."""
        ...

    async def aclose(self) -> None: ...


class SQLiteStore:
    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._lock = threading.Lock()

    def _run(self, fn: Any) -> Any:
        with self._lock:
            return fn()

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return int(
            await asyncio.to_thread(self._run, lambda: self._db.execute(sql, params).rowcount)
        )

    async def executemany(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        def run() -> None:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, rows in statements:
                    if rows:
                        self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

        await asyncio.to_thread(self._run, run)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        rows = await asyncio.to_thread(self._run, lambda: self._db.execute(sql, params).fetchall())
        return list(rows)

    async def transaction(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        def run() -> list[list[Row]]:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                results = [self._db.execute(sql, params).fetchall() for sql, params in steps]
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return results

        result: list[list[Row]] = await asyncio.to_thread(self._run, run)
        return result

    def migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(_MIGRATIONS_TABLE)
                done = {r[0] for r in self._db.execute("SELECT name FROM schema_migrations")}
                for name, statements in MIGRATIONS:
                    if name in done:
                        continue
                    for sql in statements:
                        self._db.execute(sql)
                    self._db.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?)",
                        (name, int(time.time() * 1000)),
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    async def aclose(self) -> None:
        await asyncio.to_thread(self._run, self._db.close)


class PostgresStore:
    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        from psycopg_pool import AsyncConnectionPool

        self._pool = AsyncConnectionPool(url, min_size=1, max_size=8, open=False)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    async def open(self) -> None:
        await self._pool.open(wait=True, timeout=30)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(self._sql(sql), params)
            return int(cursor.rowcount)

    async def executemany(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            for sql, rows in statements:
                if rows:
                    await cursor.executemany(self._sql(sql), rows)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(self._sql(sql), params)
            return [tuple(r) for r in await cursor.fetchall()]

    async def transaction(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        results: list[list[Row]] = []
        async with self._pool.connection() as conn, conn.transaction():
            for sql, params in steps:
                cursor = await conn.execute(self._sql(sql), params)
                rows = await cursor.fetchall() if cursor.description else []
                results.append([tuple(r) for r in rows])
        return results

    async def migrate(self) -> None:
        async with self._pool.connection() as conn, conn.transaction():
            # One migrator at a time across replicas.
            await conn.execute("SELECT pg_advisory_xact_lock(7251044)")
            await conn.execute(_MIGRATIONS_TABLE)
            cursor = await conn.execute("SELECT name FROM schema_migrations")
            done = {r[0] for r in await cursor.fetchall()}
            for name, statements in MIGRATIONS:
                if name in done:
                    continue
                for sql in statements:
                    await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s)", (name, int(time.time() * 1000))
                )

    async def aclose(self) -> None:
        await self._pool.close()


async def open_store(url: str) -> SQLiteStore | PostgresStore:
    """``sqlite:///path`` or ``postgresql://...``; migrations are applied on open."""
    if url.startswith(("postgresql://", "postgres://")):
        store = PostgresStore(url)
        await store.open()
        await store.migrate()
        return store
    if url.startswith("sqlite:///"):
        sqlite_store = SQLiteStore(Path(url.removeprefix("sqlite:///")))
        await asyncio.to_thread(sqlite_store.migrate)
        return sqlite_store
    raise ConfigError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://...")
