"""SQLite on one CPU: request-log batches are written on the event loop in small transactions,
and queue on the writer thread whenever it is using the write connection."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from tests.store.test_request_log import record
from tiergate.store.records import AttemptRecord
from tiergate.store.request_log import INSERT_REQUEST, RequestLog, request_row
from tiergate.store.sqlite_store import INLINE_BATCH_ROWS, SQLiteStore


async def _store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "tiergate.db", inline_writes=True)
    await store.migrate()
    return store


async def test_the_log_writes_everything_in_small_transactions(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    assert store.log_batch_rows == INLINE_BATCH_ROWS
    log = RequestLog(store, batch_size=500, flush_interval=0.05)
    await log.start()
    for i in range(1000):
        log.submit(
            record(i),
            [AttemptRecord(n=1, tier=0, model="claude-haiku-4-5", deployment="d", outcome="ok")],
        )
    await log.aclose()
    assert await store.fetchall("SELECT count(*) FROM requests") == [(1000,)]
    assert await store.fetchall("SELECT count(*) FROM attempts") == [(1000,)]
    assert (log.written, log.dropped, log.rejected) == (1000, 0, 0)
    assert log.batches == -(-1000 // INLINE_BATCH_ROWS)  # 64 rows a transaction, not 500
    await store.aclose()


async def test_a_free_connection_is_written_without_leaving_the_loop(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    write = store.executemany([(INSERT_REQUEST, [request_row(record(1))])])
    try:
        write.send(None)  # an inline write completes on the first step: it never suspends
    except StopIteration:
        pass
    else:
        raise AssertionError("the write suspended: it went to the writer thread")
    assert await store.fetchall("SELECT id FROM requests") == [("req_1",)]
    await store.aclose()


async def test_a_busy_connection_queues_the_batch_on_the_writer_thread(tmp_path: Path) -> None:
    """While the writer thread holds the write connection (a key or budget write), a log batch
    must neither block the loop on it nor use it at the same time: it waits its turn."""
    store = await _store(tmp_path)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        release.wait(5)

    held = asyncio.ensure_future(store._on(store._writer, lambda: store._in_transaction(hold)))
    assert await asyncio.to_thread(holding.wait, 5)
    write = asyncio.ensure_future(store.executemany([(INSERT_REQUEST, [request_row(record(2))])]))
    await asyncio.sleep(0.05)  # the loop keeps running meanwhile
    assert not write.done()
    release.set()
    await held
    await write
    assert await store.fetchall("SELECT id FROM requests") == [("req_2",)]
    await store.aclose()
