"""Works through queued batch items in the background, a few at a time, on every replica.

Each replica runs one ``BatchRunner``. It claims up to ``concurrency`` items (a lease in the
store), runs each through ``execute`` (the gateway's own pipeline: routing, budget, executor,
request log) and stores the result. While an item runs its lease is renewed every third of
the lease, so however long the item takes (a slow generation, retries, a ladder's rungs) no
other replica runs it, and pays for it, a second time. A replica that dies mid-item stops
renewing; its lease runs out and the item is claimed again elsewhere. So the work is shared
between replicas and survives restarts, and nothing about a job lives only in one process.

Batches use spare capacity: at most ``concurrency`` items run at once per replica, so a
100,000-request job never crowds out interactive traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tiergate.batch.jobs import Item, JobStore, now_ms
from tiergate.store.holders import new_owner, stopped_here

__all__ = ["Answered", "BatchRunner", "ItemResult", "Relayed"]

logger = logging.getLogger("tiergate")


@dataclass(frozen=True, slots=True)
class Answered:
    """An item's answer as its wire format gives it: the HTTP status and body (JSON text) the
    same request would have got from the chat endpoint, and its row in the request log."""

    status: int
    body: str
    request_id: str | None
    # Set when the failure is one waiting can fix: run the item again this many seconds on.
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Relayed:
    """No answer yet: the item goes to ``deployment``'s batch API with ``upstream``, the
    request as the provider takes it (JSON text); ``batch/upstream_relay.py`` sends it."""

    deployment: str
    upstream: str


# What running an item gives: its answer now, or a hand-off to a provider's batch API.
ItemResult = Answered | Relayed
Execute = Callable[[Item], Awaitable[ItemResult]]
_HOUSEKEEPING_SECONDS = 3600.0
_STORE_RETRIES = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)  # seconds between tries to store a result


class BatchRunner:
    def __init__(
        self,
        jobs: JobStore,
        execute: Execute,
        *,
        concurrency: int,
        lease_seconds: float,
        poll_seconds: float,
        max_tries: int = 1,
        owner: str | None = None,
        housekeeping: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._jobs = jobs
        self._execute = execute
        self._concurrency = concurrency
        self._lease_ms = int(lease_seconds * 1000)
        # The loop comes round at least this often: to look for work, and to renew leases.
        self._tick = min(poll_seconds, lease_seconds / 3)
        self._max_tries = max_tries
        self._housekeeping = housekeeping
        self._housekept = float("-inf")  # monotonic time of the last housekeeping
        self._renewed = time.monotonic()  # of the last lease renewal
        self.owner = owner or new_owner()
        self._wake = asyncio.Event()
        self._running: dict[asyncio.Task[None], Item] = {}
        self._loop: asyncio.Task[None] | None = None
        self._stopping = False
        self._claim_failing = False
        self.completed = 0  # items this replica finished (their result stored)
        self.lost = 0  # items whose lease ran out before their result was stored
        self.deferred = 0  # failed runs put back to run again later

    def start(self) -> None:
        self._loop = asyncio.ensure_future(self._run())

    def wake(self) -> None:
        """New work was queued here: look now instead of at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        try:  # what a killed process of this machine was running runs now, not after its lease
            freed = await self._jobs.release_stopped(lambda owner: stopped_here(owner, self.owner))
        except Exception:
            logger.exception("batch: releasing the items of stopped processes failed")
        else:
            if freed:
                logger.info("batch: %d item(s) of stopped processes released", freed)
        while not self._stopping:
            await self._housekeep()
            await self._renew()
            free = self._concurrency - len(self._running)
            claimed: list[Item] = []
            if free > 0:
                try:
                    claimed = await self._jobs.claim(self.owner, free, self._lease_ms)
                    self._claim_failing = False
                except Exception:  # the database is away: try again at the next poll
                    if not self._claim_failing:  # once per outage, not once per poll
                        logger.exception("batch: claiming items failed (until it works again)")
                    self._claim_failing = True
            for item in claimed:
                task = asyncio.ensure_future(self._one(item))
                self._running[task] = item
                task.add_done_callback(self._done)
            if len(claimed) == free and free > 0:
                continue  # there may be more: claim again as soon as a slot frees
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._tick)

    async def _housekeep(self) -> None:
        """Run ``housekeeping`` (deleting old jobs and files) at most once an hour."""
        now = time.monotonic()
        if self._housekeeping is None or now - self._housekept < _HOUSEKEEPING_SECONDS:
            return
        self._housekept = now
        try:
            await self._housekeeping()
        except Exception:
            logger.exception("batch: housekeeping failed")

    async def _renew(self) -> None:
        """Extend the leases of the items running here, every third of the lease."""
        now = time.monotonic()
        if not self._running or (now - self._renewed) * 1000 < self._lease_ms / 3:
            return
        self._renewed = now
        try:
            lost = await self._jobs.renew(list(self._running.values()), self.owner, self._lease_ms)
        except Exception:  # the database is away: the leases last a while yet; try next time
            logger.exception("batch: renewing leases failed")
            return
        for item in lost:
            logger.warning(
                "batch %s item %d: lease lost while running (the database was away "
                "longer than the lease?)",
                item.job.id,
                item.n,
            )

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        if not self._stopping:
            self._wake.set()

    async def _one(self, item: Item) -> None:
        try:
            outcome = await self._execute(item)
        except Exception:
            # ``execute`` answers every failure of a request as an errored result; this is a
            # bug. The item stays claimed until its lease runs out, then runs again.
            logger.exception("batch %s item %d failed unexpectedly", item.job.id, item.n)
            return
        if isinstance(outcome, Relayed):
            try:
                await self._jobs.park(item, self.owner, outcome.deployment, outcome.upstream)
            except Exception:  # the database is away: the item runs again after its lease
                logger.exception("batch %s item %d: could not park", item.job.id, item.n)
            return
        if outcome.retry_after is not None and item.tries + 1 < self._max_tries:
            until = now_ms() + int(outcome.retry_after * 1000)
            try:
                if await self._jobs.defer(item, self.owner, until):
                    self.deferred += 1
                    return
            except Exception:  # the database is away: store the answer below instead
                logger.exception("batch %s item %d: could not defer", item.job.id, item.n)
        if await self._store(item, outcome):
            self.completed += 1
        else:
            self.lost += 1
            logger.warning(
                "batch %s item %d: lease lost before its result was stored (request %s)",
                item.job.id,
                item.n,
                outcome.request_id,
            )

    async def _store(self, item: Item, outcome: Answered) -> bool:
        """``finish``, tried until it goes through: the answer is paid for, and an item whose
        result is never stored runs again. While it waits the item still counts as running
        here, so its lease is renewed and no other replica runs it meanwhile."""
        waits = iter(_STORE_RETRIES)
        while True:
            failure: Exception | None = None
            try:
                return await self._jobs.finish(
                    item, self.owner, outcome.status, outcome.body, outcome.request_id
                )
            except Exception as exc:
                failure = exc
            wait = next(waits, _STORE_RETRIES[-1])
            logger.warning(
                "batch %s item %d: result not stored yet (request %s): %r",
                item.job.id,
                item.n,
                outcome.request_id,
                failure,
            )
            await asyncio.sleep(wait)

    @property
    def running(self) -> int:
        return len(self._running)

    async def aclose(self, grace: float = 30.0) -> None:
        """Stop claiming, let running items finish for up to ``grace`` seconds, and hand back
        the ones still running, so another replica (or this one, restarted) runs them at once
        instead of after their lease."""
        self._stopping = True
        self._wake.set()
        if self._loop is not None:
            await self._loop
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        left = list(self._running.items())
        for task, _ in left:
            task.cancel()
        if left:
            await asyncio.gather(*(task for task, _ in left), return_exceptions=True)
            await self._jobs.release([item for _, item in left], self.owner)
