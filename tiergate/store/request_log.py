"""The request log: ``submit`` on the hot path, batched writes in the background.

``submit`` appends to an in-memory deque and returns: no I/O, no await, never raises. A
background task writes whatever has accumulated every ``flush_interval`` seconds (or as soon as
``batch_size`` rows wait), each batch in one transaction. ``aclose`` writes everything left, so
a graceful shutdown (SIGTERM included: uvicorn runs the lifespan shutdown) loses nothing; a
crash loses at most the rows of the current window (``flush_interval``, 0.2 s by default).
If the store is down, batches are retried and rows wait in memory up to ``max_pending``; past
that the oldest are dropped and counted in ``dropped`` (exported as a metric) rather than
letting memory grow without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from tiergate.store.backend import Store
from tiergate.store.records import RequestRecord, to_nano

logger = logging.getLogger("tiergate.store")

_REQUEST_COLUMNS = (
    "id, ts_ms, tenant, key_id, client_format, requested_model, model, deployment, route, "
    "reason, attempts, tier, input_tokens, output_tokens, cache_creation_tokens, "
    "cache_read_tokens, cost_nusd, credits_n, baseline_nusd, cache_savings_nusd, latency_ms, "
    "ttft_ms, status, stop_reason, refusal, tool_calls, tool_args_valid, error_class, stream, "
    "byok, prompt, response"
)
INSERT_REQUEST = (
    f"INSERT INTO requests ({_REQUEST_COLUMNS}) VALUES ({', '.join('?' * 32)}) "
    "ON CONFLICT (id) DO NOTHING"
)
INSERT_ATTEMPT = (
    "INSERT INTO attempts (request_id, n, tier, model, deployment, outcome, status, "
    "input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, cost_nusd, "
    "latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (request_id, n) DO NOTHING"
)


def request_row(r: RequestRecord) -> tuple[Any, ...]:
    return (
        r.id, r.ts_ms, r.tenant, r.key_id, r.client_format, r.requested_model, r.model,
        r.deployment, r.route, r.reason, r.attempts, r.tier, r.input_tokens, r.output_tokens,
        r.cache_creation_tokens, r.cache_read_tokens, to_nano(r.cost_usd), to_nano(r.credits),
        to_nano(r.baseline_cost_usd), to_nano(r.cache_savings_usd), r.latency_ms, r.ttft_ms,
        r.status, r.stop_reason, r.refusal, r.tool_calls, r.tool_args_valid, r.error_class,
        r.stream, r.byok, r.prompt, r.response,
    )  # fmt: skip


def attempt_rows(r: RequestRecord) -> list[tuple[Any, ...]]:
    return [
        (r.id, a.n, a.tier, a.model, a.deployment, a.outcome, a.status, a.input_tokens,
         a.output_tokens, a.cache_creation_tokens, a.cache_read_tokens, to_nano(a.cost_usd),
         a.latency_ms, a.error)
        for a in r.attempt_rows
    ]  # fmt: skip


class RequestLog:
    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.2,
        max_pending: int = 200_000,
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._interval = flush_interval
        self._max_pending = max_pending
        self._pending: deque[RequestRecord] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.written = 0
        self.dropped = 0

    def submit(self, record: RequestRecord) -> None:
        if len(self._pending) >= self._max_pending:
            self._pending.popleft()
            self.dropped += 1
        self._pending.append(record)
        if len(self._pending) >= self._batch_size:
            self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tiergate-request-log")

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            await self._flush_all(retry=False)

    async def _flush_all(self, *, retry: bool) -> None:
        while self._pending:
            batch = [
                self._pending.popleft() for _ in range(min(self._batch_size, len(self._pending)))
            ]
            try:
                await self._write(batch)
            except Exception:
                logger.exception("request log write failed; %d rows kept for retry", len(batch))
                self._pending.extendleft(reversed(batch))
                if not retry:
                    return
                await asyncio.sleep(self._interval)

    async def _write(self, batch: Sequence[RequestRecord]) -> None:
        attempts = [row for record in batch for row in attempt_rows(record)]
        await self._store.executemany(
            [(INSERT_REQUEST, [request_row(r) for r in batch]), (INSERT_ATTEMPT, attempts)]
        )
        self.written += len(batch)

    async def flush(self) -> None:
        await self._flush_all(retry=False)

    async def aclose(self, timeout: float = 30.0) -> None:
        """Write everything still pending (retrying for up to ``timeout`` seconds)."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flush_all(retry=True), timeout)
        if self._pending:
            logger.error("request log closed with %d unwritten rows", len(self._pending))
