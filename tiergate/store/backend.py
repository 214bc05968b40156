"""Two stores behind one small async interface: SQLite (default) and PostgreSQL.

``open_store(url)`` picks the store from the URL and applies pending migrations before it
returns, so every caller sees the current schema:

* ``None``: SQLite in the data directory (``TIERGATE_DATA_DIR``, else
  ``~/.local/share/tiergate``), file ``tiergate.db``;
* ``sqlite:///PATH``: SQLite at PATH (``sqlite:////abs/path`` or ``sqlite:///rel/path``);
* ``postgresql://...`` or ``postgres://...``: PostgreSQL.

Reading ``TIERGATE_DATABASE_URL`` is the caller's job (settings, the CLI): the store takes
what it is given. Statements use ``?`` placeholders on both stores.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from tiergate.errors import ConfigError
from tiergate.store.location import store_url
from tiergate.store.postgres_store import PostgresStore
from tiergate.store.sqlite_store import SQLiteStore

Row = tuple[Any, ...]

__all__ = ["PostgresStore", "Row", "SQLiteStore", "Store", "now_ms", "open_store"]


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch: the unit of every time stamp and lease expiry
    the store keeps, so rows written by different modules and replicas compare."""
    return int(time.time() * 1000)


class Store(Protocol):
    dialect: str  # "sqlite" | "postgresql"
    # At most this many rows per ``executemany`` from the request log (None: no limit). SQLite
    # on one CPU writes log batches on the event loop, so it asks for small ones.
    log_batch_rows: int | None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows changed."""
        ...

    async def executemany(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Run several batched statements in one transaction."""
        ...

    # Bounds on ``scan`` (None: none): seconds a query may run, rows it may return.
    scan_seconds: float | None
    scan_rows: int | None

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one read-only query (on SQLite, off the writer, so it never waits for it)."""
        ...

    async def scan(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one long read-only query (a report) on connections of its own, never those of
        the request path, within ``scan_seconds`` and ``scan_rows``."""
        ...

    async def transaction(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        """Run statements in one transaction; returns each statement's rows (RETURNING)."""
        ...

    def transient(self, exc: BaseException) -> bool:
        """Whether a failed write is worth retrying (the database, not the data, failed)."""
        ...

    async def migrate(self) -> None:
        """Apply pending migrations (``open_store`` already did)."""
        ...

    async def aclose(self) -> None: ...


async def open_store(url: str | None = None) -> Store:
    """Open the store ``url`` names (None: SQLite in the data directory), migrated."""
    url = url or store_url(None, None)
    if url.startswith(("postgresql://", "postgres://")):
        postgres = PostgresStore(url)
        await postgres.open()
        try:
            await postgres.migrate()
        except BaseException:
            await postgres.aclose()
            raise
        return postgres
    if url.startswith("sqlite:///"):
        sqlite = SQLiteStore(Path(url.removeprefix("sqlite:///")))
        try:
            await sqlite.migrate()
        except BaseException:
            await sqlite.aclose()
            raise
        return sqlite
    raise ConfigError(
        f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
    )
