"""The request log: ``submit`` on the hot path, batched writes in the background.

``submit`` appends to an in-memory deque and returns: no I/O, no await, O(1), never raises.
A background task writes whatever has accumulated every ``flush_interval`` seconds (sooner
once ``batch_size`` rows wait), ``batch_size`` rows per transaction. ``aclose`` writes
everything left, so a graceful shutdown (SIGTERM included: uvicorn runs the lifespan shutdown)
loses nothing. A crash loses the rows not yet committed: those submitted in the last
``flush_interval`` (0.2 s by default) plus the batch being written (docs/storage.md).

Failures: a write the store may accept later (database down, locked) is retried every
interval with the rows kept, oldest first. Past ``max_pending`` waiting rows the oldest are
dropped, counted in ``dropped`` (exported by ``Metrics.watch_log``) and logged, rather than
letting memory grow without bound; ``submit`` cannot wait, so there is no backpressure. A
batch the store refuses for its data is split in halves until the offending rows are found;
those alone are counted in ``rejected`` and logged, and the rest are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from tiergate.store.backend import Store
from tiergate.store.records import AttemptRecord, RequestRecord, ShadowRecord, to_pico

logger = logging.getLogger("tiergate.store")

_REQUEST_COLUMNS = (
    "id",
    "ts_ms",
    "tenant",
    "key_id",
    "client_format",
    "requested_model",
    "model",
    "deployment",
    "route",
    "reason",
    "attempts",
    "tier",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_pusd",
    "credits_p",
    "baseline_pusd",
    "cache_savings_pusd",
    "latency_ms",
    "ttft_ms",
    "status",
    "stop_reason",
    "refusal",
    "tool_calls",
    "tool_args_valid",
    "error_class",
    "stream",
    "byok",
    "prompt",
    "response",
    "batch_id",
    "trace_id",
    "cost_estimated",
)
_ATTEMPT_COLUMNS = (
    "request_id",
    "n",
    "tier",
    "model",
    "deployment",
    "outcome",
    "status",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_pusd",
    "latency_ms",
    "error",
    "estimated",
)
_SHADOW_COLUMNS = (
    "id",
    "shadow_of",
    "ts_ms",
    "tenant",
    "key_id",
    "route",
    "served_model",
    "model",
    "deployment",
    "status",
    "error_class",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "cost_pusd",
    "latency_ms",
    "agrees",
    "response",
)
INSERT_REQUEST = (
    f"INSERT INTO requests ({', '.join(_REQUEST_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_REQUEST_COLUMNS))}) ON CONFLICT (id) DO NOTHING"
)
INSERT_ATTEMPT = (
    f"INSERT INTO attempts ({', '.join(_ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_ATTEMPT_COLUMNS))}) ON CONFLICT (request_id, n) DO NOTHING"
)

INSERT_SHADOW = (
    f"INSERT INTO shadows ({', '.join(_SHADOW_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_SHADOW_COLUMNS))}) ON CONFLICT (id) DO NOTHING"
)

Record = RequestRecord | ShadowRecord


def request_row(r: RequestRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.ts_ms,
        r.tenant,
        r.key_id,
        r.client_format,
        r.requested_model,
        r.model,
        r.deployment,
        r.route,
        r.reason,
        r.attempts,
        r.tier,
        r.input_tokens,
        r.output_tokens,
        r.cache_creation_tokens,
        r.cache_read_tokens,
        to_pico(r.cost_usd),
        to_pico(r.credits),
        to_pico(r.baseline_cost_usd),
        to_pico(r.cache_savings_usd),
        r.latency_ms,
        r.ttft_ms,
        r.status,
        r.stop_reason,
        r.refusal,
        r.tool_calls,
        r.tool_args_valid,
        r.error_class,
        r.stream,
        r.byok,
        r.prompt,
        r.response,
        r.batch_id,
        r.trace_id,
        r.cost_estimated,
    )


def attempt_rows(r: RequestRecord) -> list[tuple[Any, ...]]:
    return [
        (
            a.request_id or r.id,
            a.n,
            a.tier,
            a.model,
            a.deployment,
            a.outcome,
            a.status,
            a.input_tokens,
            a.output_tokens,
            a.cache_creation_tokens,
            a.cache_read_tokens,
            to_pico(a.cost_usd),
            a.latency_ms,
            a.error,
            a.estimated,
        )
        for a in r.attempt_rows
    ]


def shadow_row(r: ShadowRecord) -> tuple[Any, ...]:
    return (
        r.id,
        r.shadow_of,
        r.ts_ms,
        r.tenant,
        r.key_id,
        r.route,
        r.served_model,
        r.model,
        r.deployment,
        r.status,
        r.error_class,
        r.input_tokens,
        r.output_tokens,
        r.cache_creation_tokens,
        r.cache_read_tokens,
        to_pico(r.cost_usd),
        r.latency_ms,
        r.agrees,
        r.response,
    )


class RequestLog:
    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_pending: int = 100_000,
    ) -> None:
        self._store = store
        self._batch_size = max(1, batch_size)
        self._interval = flush_interval
        self._max_pending = max(self._batch_size, max_pending)
        self._pending: deque[Record] = deque()
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0  # rows committed
        self.dropped = 0  # rows discarded: queue full while the store was failing, or closed
        self.rejected = 0  # rows the store refused for their data
        self.batches = 0  # transactions committed
        self._failing = False  # the last write failed for the database (it is away, say)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, record: RequestRecord, attempts: Sequence[AttemptRecord] = ()) -> None:
        """Queue one request (and its attempts, if not already on ``record.attempt_rows``)."""
        if attempts:
            record.attempt_rows.extend(attempts)
        self._enqueue(record)

    def submit_shadow(self, record: ShadowRecord) -> None:
        """Queue a shadow call's row; written with the request rows, in the same batches."""
        self._enqueue(record)

    def _enqueue(self, record: Record) -> None:
        if self._closing and self._task is None:
            self.dropped += 1  # after aclose: nothing will ever write it
            return
        if len(self._pending) >= self._max_pending:
            self._pending.popleft()
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:  # log at 1, 2, 4, 8, ... drops
                logger.error("request log queue full: %d rows dropped so far", self.dropped)
        self._pending.append(record)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    async def start(self) -> None:
        if self._task is None and not self._closing:
            self._task = asyncio.create_task(self._run(), name="tiergate-request-log")

    async def _run(self) -> None:
        while not self._closing:
            if self._failing:  # the database is away: try again each interval, not each row
                await asyncio.sleep(self._interval)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # never let the writer die; the rows stay queued
                logger.exception("request log flush failed")

    async def flush(self) -> None:
        """Write everything queued now; returns once it (and any write in flight) committed,
        or after a transient failure (the rows stay queued for the next try)."""
        limit = min(self._batch_size, self._store.log_batch_rows or self._batch_size)
        async with self._writing:
            while self._pending:
                if limit < self._batch_size:
                    await asyncio.sleep(0)  # small batches written on the loop: let it breathe
                size = min(limit, len(self._pending))
                batch = [self._pending.popleft() for _ in range(size)]
                failure = await self._try_write(batch)
                if failure is None:
                    if self._failing:
                        self._failing = False
                        logger.warning("request log writes resumed")
                    continue
                if self._store.transient(failure):
                    if not self._failing:  # once per outage, not once per try
                        self._failing = True
                        logger.warning(
                            "request log write failed (%s); rows are kept and "
                            "written once the database takes them",
                            failure,
                        )
                    self._pending.extendleft(reversed(batch))
                    return
                left = await self._isolate(batch)
                if left:
                    self._pending.extendleft(reversed(left))
                    return

    async def _try_write(self, batch: Sequence[Record]) -> Exception | None:
        """``_write``, returning its failure instead of raising it, for callers that decide
        their next step by the kind of failure."""
        try:
            await self._write(batch)
        except Exception as exc:
            return exc
        return None

    async def _write(self, batch: Sequence[Record]) -> None:
        requests: list[tuple[Any, ...]] = []
        attempts: list[tuple[Any, ...]] = []
        shadows: list[tuple[Any, ...]] = []
        for record in batch:
            if isinstance(record, RequestRecord):
                requests.append(request_row(record))
                attempts += attempt_rows(record)
            else:
                shadows.append(shadow_row(record))
        await self._store.executemany(
            [(INSERT_REQUEST, requests), (INSERT_ATTEMPT, attempts), (INSERT_SHADOW, shadows)]
        )
        self.written += len(batch)
        self.batches += 1

    async def _isolate(self, batch: list[Record]) -> list[Record]:
        """Write a refused batch in halves until only the rows the store refuses are left
        out; returns the rows a transient failure left unwritten (to queue again)."""
        if len(batch) == 1:
            failure = await self._try_write(batch)
            if failure is not None:
                if self._store.transient(failure):
                    return batch
                self.rejected += 1
                logger.error("request log row %s refused: %r", batch[0].id, failure)
            return []
        middle = len(batch) // 2
        halves = (batch[:middle], batch[middle:])
        for i, half in enumerate(halves):
            failure = await self._try_write(half)
            if failure is None:
                continue
            later = [r for rest in halves[i + 1 :] for r in rest]
            if self._store.transient(failure):
                return half + later
            left = await self._isolate(half)
            if left:
                return left + later
        return []

    async def aclose(self, timeout: float = 30.0) -> None:
        """Write everything still queued, retrying transient failures for up to ``timeout``
        seconds; what is left after that is counted in ``dropped`` and logged."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending and loop.time() < deadline:
            with contextlib.suppress(Exception):
                await self.flush()
            if self._pending:
                await asyncio.sleep(min(self._interval, max(0.0, deadline - loop.time())))
        if self._pending:
            logger.error("request log closed with %d unwritten rows", len(self._pending))
            self.dropped += len(self._pending)
            self._pending.clear()
