"""Batch jobs as stored: a job row, one row per request in it, and the leases that share them.

Every state change is one conditional statement, so replicas sharing PostgreSQL agree without
locks held across calls:

- an item is ``queued`` until a replica claims it (``lease_owner``, ``lease_until_ms``), runs
  it (renewing the lease while it runs), and stores its result (``succeeded`` / ``errored``),
  but only while it still holds the lease: a replica that stalled past its lease cannot
  overwrite the result of the replica that took the item over;
- an item handed to a provider's batch API (``park``) stays ``queued`` with its upstream
  request set: the runner no longer claims it, the relay sends it
  (``batch/upstream_relay.py``), and once it is in a provider batch, cancel and expiry are
  the provider's to carry out; an item the provider refused runs live (``live_only``);
- ``cancel`` marks every unclaimed item ``canceled``; items already running finish;
- past ``expires_ms`` unclaimed items become ``expired``;
- a job has ended once no item is ``queued``; whoever sees that first sets ``ended_ms``.

Nothing here knows HTTP or a wire format: ``params`` and ``result`` are JSON text that the
server's batch endpoints write and read. The states are ``ItemState`` (``wire/batch_states.py``);
the SQL below is built from them, never spelled as literals of its own.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiergate.store.backend import now_ms
from tiergate.wire.batch_states import STATES, ItemState, JobStatus, job_status

if TYPE_CHECKING:
    from tiergate.store.backend import Store

__all__ = [
    "HELD",
    "JOB_FIELDS",
    "LEASABLE",
    "QUEUED_SQL",
    "STATES",
    "Item",
    "ItemRow",
    "ItemState",
    "Job",
    "JobStore",
    "job_of",
    "now_ms",
    "scoped",
]

_CHUNK = 1000  # items per insert
# The item states as SQL literals, built from the one spelling (``wire/batch_states.py``).
QUEUED_SQL = f"'{ItemState.QUEUED}'"

# The ``batches`` columns, each named as the ``Job`` field it holds.
JOB_FIELDS = (
    "id",
    "tenant",
    "key_id",
    "client_format",
    "created_ms",
    "expires_ms",
    "cancel_ms",
    "ended_ms",
    "total",
    "endpoint",
    "input_file_id",
    "metadata",
)
JOB_COLUMNS = ", ".join(JOB_FIELDS)
_INSERT_JOB = f"INSERT INTO batches ({JOB_COLUMNS}) VALUES ({', '.join('?' * len(JOB_FIELDS))})"
# An item ``owner`` still holds (params: batch_id, n, owner).
HELD = f"batch_id = ? AND n = ? AND state = {QUEUED_SQL} AND lease_owner = ?"
# An item any replica may lease now (params: batch_id, n, now): its lease is free or over.
LEASABLE = (
    f"batch_id = ? AND n = ? AND state = {QUEUED_SQL} "
    "AND (lease_until_ms IS NULL OR lease_until_ms < ?)"
)
_INSERT_UPLOAD = "INSERT INTO batch_uploads (job_id, started_ms) VALUES (?, ?)"
_INSERT_ITEM = (
    "INSERT INTO batch_items (batch_id, n, custom_id, params, state) VALUES (?, ?, ?, ?, ?)"
)


async def _pieces(
    items: Sequence[tuple[str, str]] | AsyncIterable[Sequence[tuple[str, str]]],
) -> AsyncIterator[Sequence[tuple[str, str]]]:
    if isinstance(items, AsyncIterable):
        async for piece in items:
            yield piece
    else:
        yield items


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    id: str
    tenant: str
    key_id: str | None
    client_format: str
    created_ms: int
    expires_ms: int
    cancel_ms: int | None
    ended_ms: int | None
    total: int
    # OpenAI's batches: the endpoint every request goes to, the uploaded input file, and the
    # caller's metadata (JSON text); None for Anthropic's.
    endpoint: str | None = None
    input_file_id: str | None = None
    metadata: str | None = None

    @property
    def status(self) -> JobStatus:
        """Anthropic's ``processing_status``: in_progress, canceling or ended."""
        return job_status(self.cancel_ms, self.ended_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """A claimed item: what to run, and for whom."""

    job: Job
    n: int
    custom_id: str
    params: str
    tries: int = 0  # earlier runs that ended in a failure worth waiting out
    # The provider's batch API failed or refused it once: run it live
    # (``batch/upstream_relay.py``; column ``batch_items.live_only``).
    live_only: bool = False
    # The id of this run's request: kept by a run that starts again because its replica died
    # (so its log row and its budget are written once), new for each try after a failure.
    request_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemRow:
    """One item as the results show it. ``status`` and ``result`` (the answer's body, JSON
    text in the job's wire format) are None for items that never ran."""

    n: int
    custom_id: str
    state: ItemState
    status: int | None
    result: str | None
    request_id: str | None


def job_of(row: Sequence[Any]) -> Job:
    """A ``Job`` from its ``JOB_FIELDS`` columns."""
    return Job(
        id=str(row[0]),
        tenant=str(row[1]),
        key_id=row[2],
        client_format=str(row[3]),
        created_ms=int(row[4]),
        expires_ms=int(row[5]),
        cancel_ms=None if row[6] is None else int(row[6]),
        ended_ms=None if row[7] is None else int(row[7]),
        total=int(row[8]),
        endpoint=row[9],
        input_file_id=row[10],
        metadata=row[11],
    )


def _random_id() -> str:
    return "req_" + os.urandom(15).hex()


class JobStore:
    def __init__(self, store: Store, new_id: Callable[[], str] = _random_id) -> None:
        self._store = store
        self._new_id = new_id  # a run's request id (the server's time-ordered ids)
        self._last = ""  # the tenant ``claim`` served last: the next claim starts after it

    async def create(
        self,
        *,
        job_id: str,
        tenant: str,
        key_id: str | None,
        client_format: str,
        items: Sequence[tuple[str, str]] | AsyncIterable[Sequence[tuple[str, str]]],
        expire_ms: int,
        endpoint: str | None = None,
        input_file_id: str | None = None,
        metadata: str | None = None,
    ) -> Job:
        """A new job of ``items`` ((custom_id, params JSON), in order), queued: a list, or
        the pieces of one as they are read (a batch being uploaded), so the whole job is
        never held in memory.

        The items go in first, in chunks (a 100,000-item job must not hold the database, or
        on one CPU the event loop, for seconds), and the job row last: items are claimed,
        counted and listed only through their job row, so a job is never seen, or worked on,
        half-written. Whatever stops the items coming (a bad request further on, the client
        gone) deletes those already written, and no job is made; items left by a replica that
        died meanwhile are found through ``batch_uploads`` and purged."""
        created = now_ms()
        total = 0
        queued = ItemState.QUEUED.value
        await self._store.execute(_INSERT_UPLOAD, (job_id, created))
        try:
            async for piece in _pieces(items):
                for start in range(0, len(piece), _CHUNK):
                    chunk = piece[start : start + _CHUNK]
                    rows = [(job_id, total + i, cid, p, queued) for i, (cid, p) in enumerate(chunk)]
                    await self._store.executemany([(_INSERT_ITEM, rows)])
                    total += len(chunk)
                    await asyncio.sleep(0)
            job = Job(
                id=job_id,
                tenant=tenant,
                key_id=key_id,
                client_format=client_format,
                created_ms=created,
                expires_ms=created + expire_ms,
                cancel_ms=None,
                ended_ms=None,
                total=total,
                endpoint=endpoint,
                input_file_id=input_file_id,
                metadata=metadata,
            )
            await self._store.executemany(
                [
                    (_INSERT_JOB, [[getattr(job, name) for name in JOB_FIELDS]]),
                    ("DELETE FROM batch_uploads WHERE job_id = ?", [(job_id,)]),
                ]
            )
        except BaseException:
            await self._store.executemany(
                [
                    ("DELETE FROM batch_items WHERE batch_id = ?", [(job_id,)]),
                    ("DELETE FROM batch_uploads WHERE job_id = ?", [(job_id,)]),
                ]
            )
            raise
        return job

    async def get(
        self, job_id: str, tenant: str | None, client_format: str | None = None
    ) -> Job | None:
        """The job, if it exists and ``tenant`` may see it (None: any tenant's) through
        ``client_format``'s API (None: either)."""
        where, params = scoped("id = ?", [job_id], tenant, client_format)
        rows = await self._store.fetchall(
            f"SELECT {JOB_COLUMNS} FROM batches WHERE {where}", params
        )
        return job_of(rows[0]) if rows else None

    async def page(
        self,
        tenant: str | None,
        limit: int,
        *,
        after: str | None,
        before: str | None = None,
        client_format: str | None = None,
    ) -> tuple[list[Job], bool]:
        """Newest first: ``after`` continues past that id (older jobs), ``before`` goes back
        (newer ones). Returns the page and whether more lie in that direction."""
        if before is not None:
            where, params = scoped("id > ?", [before], tenant, client_format)
            order = "ASC"
        else:
            cursor = ("id < ?", [after]) if after else ("1 = 1", [])
            where, params = scoped(*cursor, tenant, client_format)
            order = "DESC"
        rows = await self._store.fetchall(
            f"SELECT {JOB_COLUMNS} FROM batches WHERE {where} ORDER BY id {order} LIMIT ?",
            [*params, limit + 1],
        )
        jobs = [job_of(row) for row in rows[:limit]]
        if before is not None:
            jobs.reverse()
        return jobs, len(rows) > limit

    async def counts(self, job_id: str) -> dict[ItemState, int]:
        """Items by state; states with no item are left out."""
        rows = await self._store.fetchall(
            "SELECT state, count(*) FROM batch_items WHERE batch_id = ? GROUP BY state", (job_id,)
        )
        return {ItemState(state): int(n) for state, n in rows}

    async def results(self, job_id: str, after: int, limit: int) -> list[ItemRow]:
        """Items ``n > after``, in order."""
        rows = await self._store.fetchall(
            "SELECT n, custom_id, state, status, result, request_id FROM batch_items "
            "WHERE batch_id = ? AND n > ? ORDER BY n LIMIT ?",
            (job_id, after, limit),
        )
        return [
            ItemRow(
                n=int(n),
                custom_id=str(custom_id),
                state=ItemState(state),
                status=status,
                result=result,
                request_id=request_id,
            )
            for n, custom_id, state, status, result, request_id in rows
        ]

    async def pages(self, job_id: str, size: int = 1000) -> AsyncIterator[list[ItemRow]]:
        """Every item in order, ``size`` at a time: a 100,000-item job's results are never
        read (or held) whole."""
        after = -1
        while rows := await self.results(job_id, after, size):
            yield rows
            after = rows[-1].n

    async def cancel(self, job: Job) -> None:
        """Stop a job: its unclaimed items are canceled now; claimed ones finish."""
        moment = now_ms()
        await self._store.execute(
            "UPDATE batches SET cancel_ms = ? "
            "WHERE id = ? AND cancel_ms IS NULL AND ended_ms IS NULL",
            (moment, job.id),
        )
        await self._settle(moment)

    async def delete(self, job_id: str) -> None:
        await self._store.executemany(
            [
                ("DELETE FROM upstream_batches WHERE job_id = ?", [(job_id,)]),
                ("DELETE FROM batch_items WHERE batch_id = ?", [(job_id,)]),
                ("DELETE FROM batches WHERE id = ?", [(job_id,)]),
            ]
        )

    async def purge(self, created_before_ms: int) -> None:
        """Delete the ended jobs created before then, with their items, and the items of jobs
        whose upload started before then and never ended (its replica died)."""
        old = "SELECT id FROM batches WHERE ended_ms IS NOT NULL AND created_ms < ?"
        abandoned = "SELECT job_id FROM batch_uploads WHERE started_ms < ?"
        await self._store.executemany(
            [
                (
                    f"DELETE FROM batch_items WHERE batch_id IN ({abandoned})",
                    [(created_before_ms,)],
                ),
                ("DELETE FROM batch_uploads WHERE started_ms < ?", [(created_before_ms,)]),
                (f"DELETE FROM upstream_batches WHERE job_id IN ({old})", [(created_before_ms,)]),
                (f"DELETE FROM batch_items WHERE batch_id IN ({old})", [(created_before_ms,)]),
                (
                    "DELETE FROM batches WHERE ended_ms IS NOT NULL AND created_ms < ?",
                    [(created_before_ms,)],
                ),
            ]
        )

    async def claim(self, owner: str, limit: int, lease_ms: int) -> list[Item]:
        """Up to ``limit`` queued items of running jobs, leased to ``owner``, shared between
        tenants: each tenant with work gets an equal part of ``limit`` (its oldest job first),
        and the tenants take turns (by name, after the one served last) when ``limit`` is
        smaller than their number, so one tenant's 100,000-item job does not hold up
        another's ten. Each claim is a conditional update: when two replicas reach for the
        same item, one wins and the other moves on."""
        moment = now_ms()
        await self._settle(moment)
        rows = await self._store.fetchall(
            f"SELECT {JOB_COLUMNS} FROM batches WHERE ended_ms IS NULL AND cancel_ms IS NULL "
            "AND expires_ms > ? ORDER BY id",
            (moment,),
        )
        by_tenant: dict[str, list[Job]] = {}
        for row in rows:
            job = job_of(row)
            by_tenant.setdefault(job.tenant, []).append(job)
        # Round robin by name, starting after the tenant this store served last.
        tenants = sorted(by_tenant)
        start = next((i for i, t in enumerate(tenants) if t > self._last), 0)
        tenants = tenants[start:] + tenants[:start]
        claimed: list[Item] = []
        while tenants and len(claimed) < limit:
            share = max(1, (limit - len(claimed)) // len(tenants))
            for tenant in list(tenants):
                want = min(share, limit - len(claimed))
                got = await self._claim_from(by_tenant[tenant], owner, want, moment, lease_ms)
                if got:
                    claimed += got
                    self._last = tenant
                if len(got) < want:
                    tenants.remove(tenant)  # nothing more it could take now
                if len(claimed) >= limit:
                    break
        return claimed

    async def _claim_from(
        self, jobs: list[Job], owner: str, limit: int, moment: int, lease_ms: int
    ) -> list[Item]:
        """Up to ``limit`` items of ``jobs`` (one tenant's, oldest first), leased to ``owner``;
        a job that has nothing left to take is dropped from ``jobs``."""
        claimed: list[Item] = []
        while jobs and len(claimed) < limit:
            job, want = jobs[0], limit - len(claimed)
            rows = await self._store.fetchall(
                "SELECT n, custom_id, params, tries, live_only, request_id FROM batch_items "
                f"WHERE batch_id = ? AND state = {QUEUED_SQL} AND upstream_params IS NULL "
                "AND (lease_until_ms IS NULL OR lease_until_ms < ?) ORDER BY n LIMIT ?",
                (job.id, moment, want),
            )
            for n, custom_id, params, tries, live_only, request_id in rows:
                # A run that ends without its result stored (its replica killed) may have been
                # answered and billed: the next run takes the same request id, so the request
                # log and the key's budget count it once.
                request_id = request_id or self._new_id()
                won = await self._store.execute(
                    "UPDATE batch_items SET lease_owner = ?, lease_until_ms = ?, request_id = ? "
                    f"WHERE {LEASABLE}",
                    (owner, moment + lease_ms, request_id, job.id, int(n), moment),
                )
                if won:
                    claimed.append(
                        Item(
                            job=job,
                            n=int(n),
                            custom_id=str(custom_id),
                            params=str(params),
                            tries=int(tries),
                            live_only=bool(live_only),
                            request_id=str(request_id),
                        )
                    )
            if len(rows) < want:  # the job has no more to take now; items lost to another
                jobs.pop(0)  # replica's claim are not read again (they are leased)
        return claimed

    async def finish(
        self, item: Item, owner: str, status: int, result: str, request_id: str | None
    ) -> bool:
        """Store an item's answer (HTTP status and body) while ``owner`` still holds its
        lease; returns whether it did (False: the lease ran out and another replica took the
        item over). Status 200 is ``succeeded``, any other ``errored``."""
        moment = now_ms()
        state = ItemState.SUCCEEDED if status == 200 else ItemState.ERRORED
        stored = await self._store.execute(
            "UPDATE batch_items SET state = ?, status = ?, result = ?, request_id = ?, "
            f"done_ms = ?, lease_owner = NULL, lease_until_ms = NULL WHERE {HELD}",
            (state.value, status, result, request_id, moment, item.job.id, item.n, owner),
        )
        await self.end_if_done(item.job.id, moment)
        return stored > 0

    async def renew(self, items: Sequence[Item], owner: str, lease_ms: int) -> list[Item]:
        """Extend ``owner``'s lease on items it is still running, so a slow item (a long
        generation, retries, a ladder's rungs) is never taken over while its replica lives;
        returns the items whose lease had already been lost."""
        until = now_ms() + lease_ms
        lost: list[Item] = []
        for item in items:
            held = await self._store.execute(
                f"UPDATE batch_items SET lease_until_ms = ? WHERE {HELD}",
                (until, item.job.id, item.n, owner),
            )
            if not held:
                lost.append(item)
        return lost

    async def defer(self, item: Item, owner: str, until_ms: int) -> bool:
        """Give a claimed item back to run again from ``until_ms`` on (any replica), counting
        the try; returns whether ``owner`` still held it."""
        return (
            await self._store.execute(
                "UPDATE batch_items SET lease_owner = NULL, lease_until_ms = ?, "
                f"tries = tries + 1, request_id = NULL WHERE {HELD}",
                (until_ms, item.job.id, item.n, owner),
            )
            > 0
        )

    async def park(self, item: Item, owner: str, deployment: str, upstream: str) -> bool:
        """Hand a claimed item to the provider's batch API (``batch/upstream_relay.py``): its
        upstream request (JSON text) waits to be sent in the next provider batch for
        ``deployment``; returns whether ``owner`` still held it."""
        return (
            await self._store.execute(
                "UPDATE batch_items SET upstream = ?, upstream_params = ?, lease_owner = NULL, "
                f"lease_until_ms = NULL WHERE {HELD}",
                (deployment, upstream, item.job.id, item.n, owner),
            )
            > 0
        )

    async def release_stopped(self, stopped: Callable[[str], bool]) -> int:
        """Give back at once the items leased to owners that ``stopped`` says are gone (a
        process of this machine killed before this one started), instead of after their
        lease; returns how many."""
        rows = await self._store.fetchall(
            f"SELECT DISTINCT lease_owner FROM batch_items WHERE state = {QUEUED_SQL} "
            "AND lease_owner IS NOT NULL AND lease_until_ms >= ?",
            (now_ms(),),
        )
        freed = 0
        for (owner,) in rows:
            if stopped(str(owner)):
                freed += await self._store.execute(
                    "UPDATE batch_items SET lease_owner = NULL, lease_until_ms = NULL "
                    f"WHERE state = {QUEUED_SQL} AND lease_owner = ?",
                    (owner,),
                )
        return freed

    async def release(self, items: Sequence[Item], owner: str) -> None:
        """Give claimed items back unrun (shutdown, or a provider batch not sent), for any
        replica to take at once."""
        await self._store.executemany(
            [
                (
                    "UPDATE batch_items SET lease_owner = NULL, lease_until_ms = NULL "
                    f"WHERE {HELD}",
                    [(item.job.id, item.n, owner) for item in items],
                )
            ]
        )

    async def _settle(self, moment: int) -> None:
        """Cancel the unclaimed items of canceled jobs, expire those of expired jobs, and end
        the jobs left with nothing queued."""
        # Unclaimed: never claimed, handed back, waiting out a retry-after, or a lease run out;
        # not in a provider's batch (that one is canceled or expires upstream:
        # batch/upstream_relay.py).
        free = (
            f"state = {QUEUED_SQL} AND upstream_batch IS NULL "
            "AND (lease_owner IS NULL OR lease_until_ms < ?)"
        )
        await self._store.execute(
            f"UPDATE batch_items SET state = ?, done_ms = ? WHERE {free} AND batch_id IN "
            "(SELECT id FROM batches WHERE cancel_ms IS NOT NULL AND ended_ms IS NULL)",
            (ItemState.CANCELED.value, moment, moment),
        )
        await self._store.execute(
            f"UPDATE batch_items SET state = ?, done_ms = ? WHERE {free} AND batch_id IN "
            "(SELECT id FROM batches WHERE expires_ms <= ? AND ended_ms IS NULL)",
            (ItemState.EXPIRED.value, moment, moment, moment),
        )
        await self.end_if_done(None, moment)

    async def end_if_done(self, job_id: str | None, moment: int) -> None:
        """End ``job_id`` (None: every job) once it has no queued item left."""
        which = "id = ? AND " if job_id is not None else ""
        await self._store.execute(
            f"UPDATE batches SET ended_ms = ? WHERE {which}ended_ms IS NULL AND NOT EXISTS "
            f"(SELECT 1 FROM batch_items WHERE batch_id = batches.id AND state = {QUEUED_SQL})",
            (moment, job_id) if job_id is not None else (moment,),
        )


def scoped(
    where: str, params: list[Any], tenant: str | None, client_format: str | None = None
) -> tuple[str, list[Any]]:
    """``where`` narrowed to what ``tenant`` may see (None: every tenant) through
    ``client_format``'s API (None: either)."""
    if tenant is not None:
        where, params = f"{where} AND tenant = ?", [*params, tenant]
    if client_format is not None:
        where, params = f"{where} AND client_format = ?", [*params, client_format]
    return where, params
