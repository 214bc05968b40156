"""The request log: batching, nothing lost on close, exact money, bad rows and a full queue."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from tiergate.store.records import AttemptRecord, RequestRecord, ShadowRecord, from_pico
from tiergate.store.request_log import RequestLog

T0 = 1_763_942_400_000


def record(i: int, **fields: Any) -> RequestRecord:
    base: dict[str, Any] = dict(
        id=f"req_{i}",
        ts_ms=T0 + i,
        requested_model="auto",
        model="claude-haiku-4-5",
        route="auto",
        attempts=1,
        input_tokens=800,
        output_tokens=50,
        cost_usd=Decimal("0.00105"),
        baseline_cost_usd=Decimal("0.00315"),
        latency_ms=1.0,
    )
    base.update(fields)
    return RequestRecord(**base)


async def test_5000_submits_then_close_lose_nothing_and_sum_exactly(store: Any) -> None:
    log = RequestLog(store, batch_size=300, flush_interval=0.05)
    await log.start()
    for i in range(5000):
        log.submit(
            record(i),
            [AttemptRecord(n=1, tier=0, model="claude-haiku-4-5", deployment="d", outcome="ok")],
        )
    await log.aclose()
    ((count, micro, rest),) = await store.fetchall(
        "SELECT count(*), sum(cost_pusd / 1000000), sum(cost_pusd % 1000000) FROM requests"
    )
    assert count == 5000
    assert from_pico(int(micro) * 10**6 + int(rest)) == Decimal("5.25")  # 5000 x $0.00105
    assert await store.fetchall("SELECT count(*) FROM attempts") == [(5000,)]
    assert await store.fetchall(
        "SELECT request_id FROM attempts WHERE n = 1 AND request_id = 'req_4999'"
    ) == [("req_4999",)]
    assert (log.written, log.dropped, log.rejected, log.pending) == (5000, 0, 0, 0)
    assert log.batches >= 5000 // 300  # batched, not one transaction per row


async def test_batches_flush_on_size_and_on_interval(store: Any) -> None:
    log = RequestLog(store, batch_size=100, flush_interval=0.05)
    await log.start()
    for i in range(250):
        log.submit(record(i))
    for _ in range(100):  # the interval flush takes the last 50 without any close
        if log.written == 250:
            break
        await asyncio.sleep(0.02)
    assert log.written == 250 and log.batches == 3
    await log.aclose()


async def test_sub_nano_prices_stay_exact(store: Any) -> None:
    """A batched cache read on a $0.25/M model costs $0.0000000125 a token: half a nano-dollar
    more than nano storage could hold; 1,000 of them sum to exactly $0.0000125."""
    log = RequestLog(store)
    await log.start()
    tiny = Decimal("0.0000000125")
    for i in range(1000):
        log.submit(record(i, cost_usd=tiny, credits=Decimal("0.000000000001")))
    await log.aclose()
    rows = await store.fetchall("SELECT cost_pusd, credits_p FROM requests LIMIT 1")
    assert rows == [(12_500, 1)]
    from tiergate.store.reports import ReportFilter, totals

    figures = await totals(store, ReportFilter())
    assert figures["exact"]["cost_usd"] == "0.0000125"
    assert figures["exact"]["credits"] == "1E-9"


async def test_a_row_the_store_refuses_is_isolated_and_the_rest_written(store: Any) -> None:
    log = RequestLog(store, batch_size=64)
    await log.start()
    for i in range(64):
        # Row 17 is well-typed but out of range for its BIGINT column: the database refuses it.
        log.submit(record(i, input_tokens=2**63) if i == 17 else record(i))
    await log.aclose()
    assert (log.written, log.rejected) == (63, 1)
    assert await store.fetchall("SELECT count(*) FROM requests WHERE id = 'req_17'") == [(0,)]


async def test_a_failing_store_keeps_rows_then_drops_oldest_past_the_bound(store: Any) -> None:
    import sqlite3

    class Down:
        """The store, with writes failing the way a locked or unreachable database fails."""

        dialect = store.dialect
        log_batch_rows = None
        up = False

        async def executemany(self, statements: Any) -> None:
            if not self.up:
                raise sqlite3.OperationalError("database is locked")
            await store.executemany(statements)

        def transient(self, exc: BaseException) -> bool:
            return isinstance(exc, sqlite3.OperationalError)

    down = Down()
    log = RequestLog(down, batch_size=10, flush_interval=0.01, max_pending=50)  # type: ignore[arg-type]
    await log.start()
    for i in range(80):
        log.submit(record(i))
        await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    assert log.written == 0 and log.pending == 50 and log.dropped == 30
    down.up = True
    await log.aclose()
    assert log.written == 50
    ids = {r[0] for r in await store.fetchall("SELECT id FROM requests")}
    assert ids == {f"req_{i}" for i in range(30, 80)}  # the oldest 30 went, counted


async def test_submit_after_close_is_counted_not_silently_lost(store: Any) -> None:
    log = RequestLog(store)
    await log.start()
    await log.aclose()
    log.submit(record(1))
    assert log.dropped == 1 and log.pending == 0


async def test_submit_never_awaits_and_queues_without_writing(store: Any) -> None:
    """``submit`` is a plain function (no I/O on the request path): rows only queue until the
    writer runs. (Its cost is the gateway benchmark's business, not a timed unit test's.)"""
    import inspect

    assert not inspect.iscoroutinefunction(RequestLog.submit)
    log = RequestLog(store, batch_size=10_000, flush_interval=60)
    for i in range(20_000):
        log.submit(record(i))
    assert (log.pending, log.written) == (20_000, 0)
    await log.start()
    await log.aclose()
    assert log.written == 20_000


def test_log_rows_are_built_by_keyword_only() -> None:
    """A positional call would shift values into the wrong columns (token counts, optional
    strings of one type) without any error; it is refused instead."""
    with pytest.raises(TypeError):
        RequestRecord("req_1", 0, "acme")  # type: ignore[misc]
    with pytest.raises(TypeError):
        ShadowRecord("shd_1", "req_1", 0, "m")  # type: ignore[misc]
    assert RequestRecord(id="req_1", ts_ms=0, tenant="acme").tenant == "acme"
