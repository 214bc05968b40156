"""Batch items sent through a provider's own batch API, as stored (migration 0008).

An item the runner hands to the provider (``JobStore.park``) keeps state ``queued`` and gains
``upstream`` (the deployment) and ``upstream_params`` (the request as the provider takes it).
The relay (``batch/upstream_relay.py``) then takes parked items a job and deployment at a
time under a lease, sends them as one provider batch, and records it (``upstream_batches``, with
``upstream_batch`` on each item). Polling that batch is leased the same way, and each result
is stored only while its item is still ``queued`` in that batch, so two replicas never store
(or log) one answer twice.

An item the provider could not take goes back to the live runner for good (``live_only`` set,
``upstream`` cleared): ``claim`` takes it again, ``Batches.execute`` runs it as a live request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tiergate.batch.jobs import (
    HELD,
    JOB_FIELDS,
    LEASABLE,
    QUEUED_SQL,
    Item,
    Job,
    JobStore,
    job_of,
    now_ms,
)
from tiergate.wire.batch_states import ItemState

if TYPE_CHECKING:
    from tiergate.store.backend import Store

__all__ = ["Parked", "RelayStore", "SentBatch"]

_JOB = ", ".join("b." + c for c in JOB_FIELDS)
# A relayed item still waiting for its answer (params: batch_id, n, upstream batch id).
_WAITING = f"batch_id = ? AND n = ? AND upstream_batch = ? AND state = {QUEUED_SQL}"
# Back to the live runner for good.
_TO_LIVE = "upstream = NULL, upstream_params = NULL, live_only = TRUE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Parked:
    """A parked item, the deployment it goes to, and its request as the provider takes it
    (JSON text)."""

    item: Item
    deployment: str
    upstream: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SentBatch:
    """A provider batch holding items of ``job``, sent through ``deployment``."""

    id: str
    job: Job
    deployment: str
    cancel_sent: bool


class RelayStore:
    def __init__(self, store: Store, jobs: JobStore) -> None:
        self._store = store
        self._jobs = jobs

    async def take_parked(self, owner: str, limit: int, lease_ms: int) -> list[Parked]:
        """Up to ``limit`` parked items of one running job and one deployment, leased to
        ``owner`` for sending: the oldest group that is ready, i.e. whose job has no item the
        runner has yet to look at (so a job goes out in as few provider batches as it can),
        or that holds ``limit`` items already."""
        moment = now_ms()
        parked = (
            f"i.upstream_batch IS NULL AND i.upstream IS NOT NULL AND i.state = {QUEUED_SQL} "
            "AND i.upstream_params IS NOT NULL "
            "AND b.cancel_ms IS NULL AND b.expires_ms > ? "
            "AND (i.lease_until_ms IS NULL OR i.lease_until_ms < ?)"
        )
        groups = await self._store.fetchall(
            "SELECT i.batch_id, i.upstream, count(*) FROM batch_items i "
            f"JOIN batches b ON b.id = i.batch_id WHERE {parked} "
            "GROUP BY i.batch_id, i.upstream ORDER BY i.batch_id LIMIT 32",
            (moment, moment),
        )
        for job_id, upstream, count in groups:
            if int(count) < limit and await self._undecided(str(job_id)):
                continue
            rows = await self._store.fetchall(
                f"SELECT i.n, i.custom_id, i.params, i.tries, i.upstream_params, {_JOB} "
                "FROM batch_items i JOIN batches b ON b.id = i.batch_id "
                f"WHERE {parked} AND i.batch_id = ? AND i.upstream = ? ORDER BY i.n LIMIT ?",
                (moment, moment, job_id, upstream, limit),
            )
            taken: list[Parked] = []
            for n, custom_id, params, tries, upstream_params, *job_row in rows:
                job = job_of(job_row)
                won = await self._store.execute(
                    "UPDATE batch_items SET lease_owner = ?, lease_until_ms = ? "
                    f"WHERE {LEASABLE} AND upstream_batch IS NULL",
                    (owner, moment + lease_ms, job.id, int(n), moment),
                )
                if won:
                    item = Item(
                        job=job,
                        n=int(n),
                        custom_id=str(custom_id),
                        params=str(params),
                        tries=int(tries),
                    )
                    taken.append(
                        Parked(item=item, deployment=str(upstream), upstream=str(upstream_params))
                    )
            if taken:
                return taken
        return []

    async def _undecided(self, job_id: str) -> bool:
        """Whether the job still has items the runner has not yet looked at."""
        rows = await self._store.fetchall(
            f"SELECT 1 FROM batch_items WHERE batch_id = ? AND state = {QUEUED_SQL} "
            "AND upstream IS NULL AND NOT live_only LIMIT 1",
            (job_id,),
        )
        return bool(rows)

    async def sent(
        self, parked: Sequence[Parked], owner: str, batch_id: str, deployment: str, poll_ms: int
    ) -> None:
        """Record the provider batch ``batch_id`` that ``parked`` (one job's items) went in."""
        moment = now_ms()
        job_id = parked[0].item.job.id
        await self._store.executemany(
            [
                (
                    "INSERT INTO upstream_batches (id, job_id, deployment, created_ms, "
                    "next_poll_ms) VALUES (?, ?, ?, ?, ?)",
                    [(batch_id, job_id, deployment, moment, moment + poll_ms)],
                ),
                (
                    "UPDATE batch_items SET upstream_batch = ?, lease_owner = NULL, "
                    f"lease_until_ms = NULL WHERE {HELD}",
                    [(batch_id, job_id, p.item.n, owner) for p in parked],
                ),
            ]
        )

    async def unpark(self, parked: Sequence[Parked], owner: str) -> None:
        """The provider refused these items: they run live instead (``Item.live_only``)."""
        await self._store.executemany(
            [
                (
                    f"UPDATE batch_items SET {_TO_LIVE}, "
                    f"lease_owner = NULL, lease_until_ms = NULL WHERE {HELD}",
                    [(p.item.job.id, p.item.n, owner) for p in parked],
                )
            ]
        )

    async def release(self, parked: Sequence[Parked], owner: str) -> None:
        """Sending failed in a way that may pass: the items wait for the next try."""
        await self._jobs.release([p.item for p in parked], owner)

    async def due(self, owner: str, limit: int, lease_ms: int) -> list[SentBatch]:
        """Provider batches whose next look is due, leased to ``owner``."""
        moment = now_ms()
        rows = await self._store.fetchall(
            f"SELECT u.id, u.deployment, u.cancel_ms, {_JOB} "
            "FROM upstream_batches u JOIN batches b ON b.id = u.job_id "
            "WHERE u.ended_ms IS NULL AND u.next_poll_ms <= ? "
            "AND (u.lease_until_ms IS NULL OR u.lease_until_ms < ?) "
            "ORDER BY u.next_poll_ms LIMIT ?",
            (moment, moment, limit),
        )
        due: list[SentBatch] = []
        for batch_id, deployment, cancel_ms, *job_row in rows:
            won = await self._store.execute(
                "UPDATE upstream_batches SET lease_owner = ?, lease_until_ms = ? "
                "WHERE id = ? AND ended_ms IS NULL "
                "AND (lease_until_ms IS NULL OR lease_until_ms < ?)",
                (owner, moment + lease_ms, batch_id, moment),
            )
            if won:
                sent = SentBatch(
                    id=str(batch_id),
                    job=job_of(job_row),
                    deployment=str(deployment),
                    cancel_sent=cancel_ms is not None,
                )
                due.append(sent)
        return due

    async def later(
        self, sent: SentBatch, owner: str, poll_ms: int, *, cancel_sent: bool = False
    ) -> None:
        """Look at ``sent`` again in ``poll_ms``; ``cancel_sent``: the provider was asked to
        cancel it (once)."""
        moment = now_ms()
        cancel = "cancel_ms = ?, " if cancel_sent else ""
        params = (moment,) if cancel_sent else ()
        await self._store.execute(
            f"UPDATE upstream_batches SET {cancel}next_poll_ms = ?, lease_owner = NULL, "
            "lease_until_ms = NULL WHERE id = ? AND lease_owner = ?",
            (*params, moment + poll_ms, sent.id, owner),
        )

    async def waiting(self, sent: SentBatch) -> list[Parked]:
        """The items of ``sent`` still waiting for their answer."""
        rows = await self._store.fetchall(
            "SELECT n, custom_id, params, tries, upstream, upstream_params FROM batch_items "
            f"WHERE upstream_batch = ? AND batch_id = ? AND state = {QUEUED_SQL} ORDER BY n",
            (sent.id, sent.job.id),
        )
        return [
            Parked(
                item=Item(
                    job=sent.job, n=int(n), custom_id=str(cid), params=str(params), tries=int(tries)
                ),
                deployment=str(dep),
                upstream=str(up),
            )
            for n, cid, params, tries, dep, up in rows
        ]

    async def answer(
        self,
        sent: SentBatch,
        n: int,
        state: ItemState,
        status: int | None,
        result: str | None,
        request_id: str | None,
    ) -> bool:
        """Store item ``n``'s outcome, unless it was stored already (by another replica)."""
        return (
            await self._store.execute(
                "UPDATE batch_items SET state = ?, status = ?, result = ?, request_id = ?, "
                f"done_ms = ? WHERE {_WAITING}",
                (state.value, status, result, request_id, now_ms(), sent.job.id, n, sent.id),
            )
            > 0
        )

    async def to_live(self, sent: SentBatch, n: int) -> bool:
        """The provider did not answer item ``n`` (an error worth retrying, or its batch was
        canceled or expired while the job runs on): it runs live instead."""
        return (
            await self._store.execute(
                f"UPDATE batch_items SET {_TO_LIVE}, upstream_batch = NULL WHERE {_WAITING}",
                (sent.job.id, n, sent.id),
            )
            > 0
        )

    async def close(self, sent: SentBatch) -> None:
        """``sent`` has ended and its results are stored: end the job if nothing is left."""
        moment = now_ms()
        await self._store.execute(
            "UPDATE upstream_batches SET ended_ms = ?, lease_owner = NULL, lease_until_ms = NULL "
            "WHERE id = ?",
            (moment, sent.id),
        )
        await self._jobs.end_if_done(sent.job.id, moment)
