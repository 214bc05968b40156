"""The SQLite store: the default, one file under the data directory.

SQLite's calls block, so (with one exception, below) none runs on the event loop. Writes go to
one dedicated writer thread that owns the one write connection (SQLite allows one writer at a
time anyway); reads go to a small pool of reader threads, each with its own connection. In WAL
mode readers never block the writer nor wait for it, so a dashboard scanning a million rows
does not hold up the request log or a key lookup, and every read sees everything committed
before it started. Reports (``scan``) have a thread and connection of their own besides: a
tenant's report, however long, never occupies a reader that a key look-up waits for, and it is
interrupted after ``scan_seconds``. ``synchronous=NORMAL`` in WAL mode keeps commits atomic
and durable across a process crash; only a power loss can undo the last commits.

One exception, for request-log batches (``executemany``) when the process may run on a single
CPU (``inline_writes``): there the writer thread cannot run beside the event loop, only take
turns with it, and the hand-offs cost more than the inserts themselves
(``bench/gateway/pipeline.py``; figures in bench/results/history.md). So on one CPU a log
batch is written on the loop itself, in transactions of at most ``INLINE_BATCH_ROWS`` rows
(about a millisecond each; ``RequestLog`` yields to the loop between them), whenever the write
connection is free; when the writer thread holds it, the batch queues on the thread as
before. A lock around the write connection keeps the two from ever using it at once.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from tiergate.errors import ReportTooCostly
from tiergate.store.migrations import MIGRATIONS

Row = tuple[Any, ...]
T = TypeVar("T")

MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms BIGINT)"
)
_READERS = 2
INLINE_BATCH_ROWS = 64


def on_one_cpu() -> bool:
    """Whether this process may run on a single CPU only (``taskset``, a 1-CPU container)."""
    try:
        return len(os.sched_getaffinity(0)) == 1
    except AttributeError:  # no affinity API (macOS)
        return os.cpu_count() == 1


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class SQLiteStore:
    dialect = "sqlite"

    def __init__(self, path: Path, *, inline_writes: bool | None = None) -> None:
        memory = str(path) == ":memory:"
        if not memory:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._path = str(path)
        self._db = _connect(self._path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="tiergate-sqlite-writer")
        # An in-memory database exists only on its own connection: read through the writer.
        self._reader = (
            self._writer
            if memory
            else ThreadPoolExecutor(_READERS, thread_name_prefix="tiergate-sqlite-reader")
        )
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        # Held by whoever uses the write connection: the writer thread, or the loop (inline).
        self._write_lock = threading.Lock()
        # Reports: one at a time, on their own thread and connection (made on first use).
        self._scanner = (
            self._writer
            if memory
            else ThreadPoolExecutor(1, thread_name_prefix="tiergate-sqlite-scanner")
        )
        self._scan_db: sqlite3.Connection | None = None
        self.scan_seconds: float | None = None
        self.scan_rows: int | None = None
        self.inline_writes = on_one_cpu() if inline_writes is None else inline_writes
        # Rows per request-log transaction the store asks for (None: no limit).
        self.log_batch_rows: int | None = INLINE_BATCH_ROWS if self.inline_writes else None

    async def _on(self, executor: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(executor, fn)

    def _read_connection(self) -> sqlite3.Connection:
        if self._reader is self._writer:
            return self._db
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = _connect(self._path)
            db.execute("PRAGMA query_only=ON")
            self._local.db = db
            with self._readers_lock:
                self._readers.append(db)
        return db

    def _locked(self, fn: Callable[[], T]) -> T:
        with self._write_lock:
            return fn()

    def _in_transaction(self, fn: Callable[[], T]) -> T:
        with self._write_lock:
            return self._transaction_held(fn)

    def _transaction_held(self, fn: Callable[[], T]) -> T:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = fn()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return result

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._on(
            self._writer, lambda: self._locked(lambda: int(self._db.execute(sql, params).rowcount))
        )

    async def executemany(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        def run() -> None:
            for sql, rows in statements:
                if rows:
                    self._db.executemany(sql, rows)

        if self.inline_writes and self._write_lock.acquire(blocking=False):
            try:  # on the loop: see the module docstring
                self._transaction_held(run)
            finally:
                self._write_lock.release()
            return
        await self._on(self._writer, lambda: self._in_transaction(run))

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        def run() -> list[Row]:
            return list(self._read_connection().execute(sql, params).fetchall())

        if self._reader is self._writer:  # in memory: reads share the write connection
            return await self._on(self._writer, lambda: self._locked(run))
        return await self._on(self._reader, run)

    async def scan(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        seconds, limit = self.scan_seconds, self.scan_rows

        def run() -> list[Row]:
            if self._scanner is self._writer:
                db = self._db
            elif self._scan_db is None:
                db = self._scan_db = _connect(self._path)
                db.execute("PRAGMA query_only=ON")
            else:
                db = self._scan_db
            # Interrupted from a timer thread: nothing runs in the query's own thread (a
            # progress handler would take the GIL from the event loop every few ms).
            fired = threading.Event()

            def stop() -> None:
                fired.set()
                db.interrupt()

            timer = threading.Timer(seconds, stop) if seconds else None
            if timer is not None:
                timer.start()
            try:
                cursor = db.execute(sql, params)
                rows = cursor.fetchmany(limit + 1) if limit else cursor.fetchall()
                cursor.close()
            except sqlite3.OperationalError:
                if fired.is_set():
                    raise ReportTooCostly.time(seconds or 0) from None
                raise
            finally:
                if timer is not None:
                    timer.cancel()
            if limit and len(rows) > limit:
                raise ReportTooCostly.rows(limit)
            return list(rows)

        if self._scanner is self._writer:
            return await self._on(self._writer, lambda: self._locked(run))
        return await self._on(self._scanner, run)

    async def transaction(self, steps: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Row]]:
        def run() -> list[list[Row]]:
            return [list(self._db.execute(sql, params).fetchall()) for sql, params in steps]

        return await self._on(self._writer, lambda: self._in_transaction(run))

    def transient(self, exc: BaseException) -> bool:
        """Whether a failed write may succeed later (locked, busy, disk full), as opposed to
        a row the database will never accept."""
        return isinstance(exc, sqlite3.OperationalError)

    def _migrate(self) -> None:
        def run() -> None:
            self._db.execute(MIGRATIONS_TABLE)
            done = {r[0] for r in self._db.execute("SELECT name FROM schema_migrations")}
            for migration in MIGRATIONS:
                if migration.name in done:
                    continue
                for sql in migration.statements(self.dialect):
                    self._db.execute(sql)
                self._db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)",
                    (migration.name, int(time.time() * 1000)),
                )

        self._in_transaction(run)

    async def migrate(self) -> None:
        await self._on(self._writer, self._migrate)

    async def aclose(self) -> None:
        def close_readers() -> None:
            with self._readers_lock:
                for db in self._readers:
                    db.close()
                self._readers.clear()

        if self._reader is not self._writer:
            await asyncio.to_thread(self._reader.shutdown, True)
            close_readers()
            await asyncio.to_thread(self._scanner.shutdown, True)
            if self._scan_db is not None:
                self._scan_db.close()
        await self._on(self._writer, lambda: self._locked(self._db.close))
        await asyncio.to_thread(self._writer.shutdown, True)
