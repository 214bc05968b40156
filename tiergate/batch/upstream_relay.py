"""Sends parked batch items to providers' own batch APIs and brings their answers back.

Each replica runs one ``Relay`` beside its ``BatchRunner``. Every tick it:

1. sends parked items, one job and deployment at a time, as one provider batch, once the job
   has no item left undecided (the runner has looked at every one) or the group has reached
   ``max_requests``: so a job goes to the provider in as few batches as it can;
2. looks at each provider batch whose next look is due (every ``upstream_poll_seconds``):
   the ``BatchAPI`` asks the provider, and once the batch has ended stores every answer, then
   deletes the provider's copy (best effort, once).

Both steps run under leases, so replicas sharing the store never send an item twice or store
one answer twice. What the provider is and how answers become results is the ``BatchAPI``'s
business (``gateway/provider_batches.py``); this module only schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from tiergate.batch.upstream_store import Parked, RelayStore, SentBatch
from tiergate.errors import ProviderError

__all__ = ["BatchAPI", "Relay"]

logger = logging.getLogger("tiergate")


class BatchAPI(Protocol):
    async def send(self, deployment: str, parked: Sequence[Parked]) -> str:
        """Send ``parked`` (one job's items) as one provider batch; its id. Raises
        ``ProviderError``: retryable when sending again later may work."""
        ...

    async def cancel(self, sent: SentBatch) -> None:
        """Ask the provider to stop ``sent`` (its job was canceled)."""
        ...

    async def collect(self, sent: SentBatch) -> bool:
        """Look at ``sent``; once it has ended, store every answer and return True."""
        ...

    async def discard(self, sent: SentBatch) -> None:
        """Free what ``sent`` keeps at the provider; its answers are stored."""
        ...


class Relay:
    def __init__(
        self,
        store: RelayStore,
        api: BatchAPI,
        *,
        owner: str,
        tick_seconds: float,
        poll_seconds: float,
        max_requests: int,
        lease_seconds: float,
    ) -> None:
        self._store = store
        self._api = api
        self._owner = owner
        self._tick = tick_seconds
        self._poll_ms = int(poll_seconds * 1000)
        self._max = max_requests
        self._lease_ms = int(lease_seconds * 1000)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.sent = 0  # items this replica sent to a provider's batch API
        self.answered = 0  # provider batches this replica collected

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def aclose(self, grace: float = 30.0) -> None:
        """Stop after the step under way, or cut it off after ``grace`` seconds (a provider
        call can take long); what it held is leased, and taken up again after the lease."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, grace)
            except TimeoutError:
                logger.warning("batch relay: stopped mid-step after %.0f s", grace)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.step()
            except Exception:  # the database is away: try again next tick
                logger.exception("batch relay: a step failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._tick)

    async def step(self) -> None:
        """One tick: send what is ready, collect what is due."""
        while parked := await self._store.take_parked(self._owner, self._max, self._lease_ms):
            if not await self._send(parked):
                break  # the provider is away: the rest waits for the next tick too
        for sent in await self._store.due(self._owner, 16, self._lease_ms):
            await self._collect(sent)

    async def _send(self, parked: list[Parked]) -> bool:
        """Send one group; False when sending failed in a way that may pass."""
        deployment = parked[0].deployment
        try:
            batch_id = await self._api.send(deployment, parked)
        except ProviderError as exc:
            if not exc.retryable:
                logger.warning(
                    "batch relay: %s refused %d items, they run live: %s",
                    deployment,
                    len(parked),
                    exc.message,
                )
                await self._store.unpark(parked, self._owner)
                return True
            logger.warning(
                "batch relay: sending %d items to %s failed, will retry: %s",
                len(parked),
                deployment,
                exc.message,
            )
            await self._store.release(parked, self._owner)
            return False
        try:
            await self._store.sent(parked, self._owner, batch_id, deployment, self._poll_ms)
        except Exception:
            # The provider holds them, but the store does not know: once their lease ends
            # they are sent (and paid for) again. Say which batch to cancel by hand.
            logger.exception(
                "batch relay: provider batch %s on %s (%d items of job %s) was "
                "not recorded; cancel it at the provider",
                batch_id,
                deployment,
                len(parked),
                parked[0].item.job.id,
            )
            return False
        self.sent += len(parked)
        return True

    async def _discard(self, sent: SentBatch) -> None:
        """Once: a failure here leaves the provider's copy behind (it expires there), never
        the answers, which are stored."""
        try:
            await self._api.discard(sent)
        except ProviderError as exc:
            logger.warning(
                "batch relay: deleting %s on %s failed: %s", sent.id, sent.deployment, exc.message
            )
        except Exception:
            logger.exception("batch relay: deleting %s failed", sent.id)

    async def _collect(self, sent: SentBatch) -> None:
        cancel = sent.job.cancel_ms is not None and not sent.cancel_sent
        canceled = False
        try:
            if cancel:  # once; the batch then ends soon, its unanswered items canceled
                await self._api.cancel(sent)
                canceled = True
            ended = await self._api.collect(sent)
        except ProviderError as exc:
            logger.warning(
                "batch relay: looking at %s on %s failed: %s", sent.id, sent.deployment, exc.message
            )
            ended = False
        except Exception:
            logger.exception("batch relay: collecting %s failed", sent.id)
            ended = False
        if ended:
            await self._store.close(sent)
            self.answered += 1
            await self._discard(sent)
        else:
            # Once canceling, look again soon: the provider ends a canceled batch quickly.
            poll = min(self._poll_ms, 5000) if canceled or sent.cancel_sent else self._poll_ms
            await self._store.later(sent, self._owner, poll, cancel_sent=canceled)
