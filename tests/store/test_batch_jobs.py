"""Batch jobs in the store, on SQLite and PostgreSQL: replicas sharing one store run each item
exactly once, a lost lease never overwrites the result of the replica that took over, and
cancel, expiry and shutdown leave every item accounted for."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from tiergate.batch import Answered, BatchRunner, Item, Job, JobStore
from tiergate.store.backend import open_store
from tiergate.wire.batch_states import ItemState


def items(count: int) -> list[tuple[str, str]]:
    return [(f"c{i}", f'{{"n": {i}}}') for i in range(count)]


async def queue(
    jobs: JobStore,
    job_id: str,
    count: int,
    *,
    tenant: str = "acme",
    key_id: str | None = None,
    expire_ms: int = 3_600_000,
) -> Job:
    """A job of ``count`` items in Anthropic's format, queued as its create endpoint would."""
    return await jobs.create(
        job_id=job_id,
        tenant=tenant,
        key_id=key_id,
        client_format="anthropic",
        items=items(count),
        expire_ms=expire_ms,
    )


def runner(jobs: JobStore, execute: Any, **options: Any) -> BatchRunner:
    settings: dict[str, Any] = {"concurrency": 4, "lease_seconds": 60, "poll_seconds": 0.02}
    settings.update(options)
    return BatchRunner(jobs, execute, **settings)


async def ended(jobs: JobStore, job_id: str, seconds: float = 10) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while True:
        job = await jobs.get(job_id, None)
        assert job is not None
        if job.ended_ms is not None:
            return await jobs.counts(job_id)
        assert time.monotonic() < deadline, await jobs.counts(job_id)
        await asyncio.sleep(0.02)


async def test_two_replicas_share_a_job_and_run_each_item_once(store: Any, store_url: str) -> None:
    jobs = JobStore(store)
    other = await open_store(store_url)  # the second replica: its own connections
    runs: Counter[tuple[str, int]] = Counter()
    by_runner: Counter[str] = Counter()

    def executor(name: str) -> Any:
        async def execute(item: Item) -> Answered:
            runs[(item.job.id, item.n)] += 1
            by_runner[name] += 1
            await asyncio.sleep(0.005)
            return Answered(200 if item.n % 5 else 500, f'{{"n": {item.n}}}', f"req_{item.n}")

        return execute

    first, second = runner(jobs, executor("a")), runner(JobStore(other), executor("b"))
    first.start()
    second.start()
    job = await queue(jobs, "msgbatch_1", 60, key_id="key_1")
    counts = await ended(jobs, job.id)
    await first.aclose()
    await second.aclose()
    await other.aclose()

    assert counts == {"succeeded": 48, "errored": 12}
    assert sorted(runs) == [(job.id, n) for n in range(60)] and set(runs.values()) == {1}
    assert by_runner["a"] > 0 and by_runner["b"] > 0, by_runner  # the work was shared
    rows = await jobs.results(job.id, -1, 1000)
    assert [(r.n, r.custom_id, r.state, r.status) for r in rows[:2]] == [
        (0, "c0", "errored", 500),
        (1, "c1", "succeeded", 200),
    ]
    assert (rows[7].result, rows[7].request_id) == ('{"n": 7}', "req_7")
    assert (await jobs.get(job.id, "acme")) is not None
    assert (await jobs.get(job.id, "other-tenant")) is None


async def test_a_lost_lease_is_run_again_and_the_late_result_is_not_stored(store: Any) -> None:
    jobs = JobStore(store)
    job = await queue(jobs, "msgbatch_2", 1)
    [stalled] = await jobs.claim("replica-a", 10, lease_ms=300)
    assert await jobs.claim("replica-b", 10, lease_ms=60_000) == []  # leased to a
    await asyncio.sleep(0.35)  # a stalls past its lease
    [taken] = await jobs.claim("replica-b", 10, lease_ms=60_000)
    assert (taken.job.id, taken.n) == (stalled.job.id, stalled.n)
    assert await jobs.finish(taken, "replica-b", 200, '{"by": "b"}', "req_b")
    assert not await jobs.finish(stalled, "replica-a", 200, '{"by": "a"}', "req_a")
    rows = await jobs.results(job.id, -1, 10)
    assert [(r.state, r.result, r.request_id) for r in rows] == [
        ("succeeded", '{"by": "b"}', "req_b")
    ]
    assert await ended(jobs, job.id) == {"succeeded": 1}


async def test_an_item_running_longer_than_its_lease_keeps_it_and_runs_once(
    store: Any, store_url: str
) -> None:
    """The lease is renewed while the item runs: a replica polling beside it never takes over
    an item that is merely slow (which would run, and pay for, it twice)."""
    jobs = JobStore(store)
    other = await open_store(store_url)
    runs: Counter[str] = Counter()

    def executor(name: str) -> Any:
        async def execute(item: Item) -> Answered:
            runs[name] += 1
            await asyncio.sleep(1.2)  # four leases long
            return Answered(200, f'{{"by": "{name}"}}', f"req_{name}")

        return execute

    first = runner(jobs, executor("a"), lease_seconds=0.3)
    first.start()
    job = await queue(jobs, "msgbatch_8", 1)
    first.wake()
    while not runs:
        await asyncio.sleep(0.01)
    second = runner(JobStore(other), executor("b"), lease_seconds=0.3)
    second.start()
    assert await ended(jobs, job.id) == {"succeeded": 1}
    await first.aclose()
    await second.aclose()
    await other.aclose()

    assert runs == {"a": 1}
    assert (first.completed, first.lost) == (1, 0)
    [row] = await jobs.results(job.id, -1, 10)
    assert (row.result, row.request_id) == ('{"by": "a"}', "req_a")


async def test_cancel_drops_queued_items_and_lets_running_ones_finish(store: Any) -> None:
    jobs = JobStore(store)
    job = await queue(jobs, "msgbatch_3", 5)
    [running] = await jobs.claim("replica-a", 1, lease_ms=60_000)
    await jobs.cancel(job)
    canceling = await jobs.get(job.id, None)
    assert canceling is not None and canceling.status == "canceling"
    assert await jobs.counts(job.id) == {"queued": 1, "canceled": 4}
    assert await jobs.claim("replica-b", 10, lease_ms=60_000) == []  # nothing left to start
    assert await jobs.finish(running, "replica-a", 200, "{}", None)
    done = await jobs.get(job.id, None)
    assert done is not None and done.status == "ended"
    assert await jobs.counts(job.id) == {"succeeded": 1, "canceled": 4}


async def test_items_not_started_before_the_job_expires_are_expired(store: Any) -> None:
    jobs = JobStore(store)
    job = await queue(jobs, "msgbatch_4", 3, expire_ms=1)
    await asyncio.sleep(0.01)
    assert await jobs.claim("replica-a", 10, lease_ms=60_000) == []
    assert await ended(jobs, job.id) == {"expired": 3}


async def test_shutdown_hands_unfinished_items_back_at_once(store: Any) -> None:
    jobs = JobStore(store)
    started = asyncio.Event()

    async def slow(item: Item) -> Answered:
        started.set()
        await asyncio.sleep(30)
        return Answered(200, "{}", None)

    first = runner(jobs, slow, concurrency=2)
    first.start()
    job = await queue(jobs, "msgbatch_5", 2)
    first.wake()
    await asyncio.wait_for(started.wait(), 10)
    await first.aclose(grace=0.05)

    async def quick(item: Item) -> Answered:
        return Answered(200, "{}", None)

    second = runner(jobs, quick)  # a lease of 60 s: only a hand-back lets it run them now
    second.start()
    assert await ended(jobs, job.id) == {"succeeded": 2}
    await second.aclose()


async def test_pages_go_newest_first_both_ways(store: Any) -> None:
    jobs = JobStore(store)
    for i in range(5):
        await queue(jobs, f"msgbatch_{i}", 1)
    await queue(jobs, "msgbatch_9", 1, tenant="other")
    page, more = await jobs.page("acme", 2, after=None, before=None)
    assert [j.id for j in page] == ["msgbatch_4", "msgbatch_3"] and more
    page, more = await jobs.page("acme", 2, after="msgbatch_3", before=None)
    assert [j.id for j in page] == ["msgbatch_2", "msgbatch_1"] and more
    page, more = await jobs.page("acme", 2, after="msgbatch_1", before=None)
    assert [j.id for j in page] == ["msgbatch_0"] and not more
    page, more = await jobs.page("acme", 2, after=None, before="msgbatch_1")
    assert [j.id for j in page] == ["msgbatch_3", "msgbatch_2"] and more
    page, _ = await jobs.page(None, 10, after=None, before=None)
    assert page[0].id == "msgbatch_9" and len(page) == 6
    await jobs.delete("msgbatch_0")
    assert await jobs.get("msgbatch_0", None) is None
    assert await jobs.results("msgbatch_0", -1, 10) == []


async def test_a_result_the_database_refused_is_stored_on_a_later_try_not_run_again(
    store: Any, monkeypatch: Any
) -> None:
    jobs = JobStore(store)
    real_finish = jobs.finish
    refusals = [OSError("database away"), OSError("still away")]

    async def flaky_finish(*args: Any) -> bool:
        if refusals:
            raise refusals.pop(0)
        return await real_finish(*args)

    monkeypatch.setattr(jobs, "finish", flaky_finish)
    runs: list[int] = []

    async def execute(item: Item) -> Answered:
        runs.append(item.n)
        return Answered(200, "{}", None)

    worker = runner(jobs, execute)
    worker.start()
    job = await queue(jobs, "msgbatch_6", 1)
    worker.wake()
    assert await ended(jobs, job.id) == {"succeeded": 1}
    await worker.aclose()
    assert runs == [0] and refusals == [] and worker.completed == 1


async def test_old_ended_jobs_and_files_are_purged_and_running_ones_kept(store: Any) -> None:
    from tiergate.batch import FileStore
    from tiergate.batch.jobs import now_ms

    jobs, files = JobStore(store), FileStore(store)
    ended_job = await queue(jobs, "msgbatch_a", 2)
    await jobs.cancel(ended_job)  # nothing claimed: ends at once
    running = await queue(jobs, "msgbatch_b", 2)
    await files.create(
        file_id="file-a",
        tenant="acme",
        key_id=None,
        purpose="batch",
        filename="in.jsonl",
        content=b"{}",
    )
    await jobs.purge(now_ms() - 3_600_000)  # older than an hour: none yet
    await files.purge(now_ms() - 3_600_000)
    assert await jobs.get(ended_job.id, None) is not None
    assert await files.get("file-a", None) is not None
    await asyncio.sleep(0.01)
    await jobs.purge(now_ms())
    await files.purge(now_ms())
    assert await jobs.get(ended_job.id, None) is None
    assert await jobs.results(ended_job.id, -1, 10) == []
    assert await jobs.get(running.id, None) is not None  # not ended: kept
    assert len(await jobs.results(running.id, -1, 10)) == 2
    assert await files.get("file-a", None) is None


async def test_cancel_reaches_items_waiting_out_a_retry(store: Any) -> None:
    jobs = JobStore(store)
    job = await queue(jobs, "msgbatch_7", 2)
    claimed = await jobs.claim("replica-a", 2, lease_ms=60_000)
    assert await jobs.defer(claimed[0], "replica-a", until_ms=10**15)  # waits "forever"
    await jobs.cancel(job)
    assert await jobs.counts(job.id) == {"queued": 1, "canceled": 1}  # the running one stays
    assert await jobs.finish(claimed[1], "replica-a", 200, "{}", None)
    assert await ended(jobs, job.id) == {"succeeded": 1, "canceled": 1}


async def test_tenants_share_the_runners_and_one_tenants_big_job_does_not_hold_up_another(
    store: Any,
) -> None:
    jobs = JobStore(store)
    await queue(jobs, "msgbatch_a1", 30, tenant="big")
    await queue(jobs, "msgbatch_a2", 5, tenant="big")
    await queue(jobs, "msgbatch_b1", 3, tenant="small")

    first = await jobs.claim("replica-a", 4, lease_ms=60_000)
    by_tenant = Counter(item.job.tenant for item in first)
    assert by_tenant == {"big": 2, "small": 2}, first
    # a tenant's own jobs stay in order: its oldest first, item by item
    assert [(i.job.id, i.n) for i in first if i.job.tenant == "big"] == [
        ("msgbatch_a1", 0),
        ("msgbatch_a1", 1),
    ]
    second = await jobs.claim("replica-a", 4, lease_ms=60_000)
    assert Counter(item.job.tenant for item in second) == {"small": 1, "big": 3}
    assert {(i.job.id, i.n) for i in first + second if i.job.tenant == "small"} == {
        ("msgbatch_b1", 0),
        ("msgbatch_b1", 1),
        ("msgbatch_b1", 2),
    }
    # with one item at a time, the tenant served first turns: no tenant waits behind another
    await queue(jobs, "msgbatch_c1", 3, tenant="third")
    singles = [await jobs.claim("replica-a", 1, lease_ms=60_000) for _ in range(4)]
    assert sorted(item.job.tenant for [item] in singles[:2]) == ["big", "third"]
    # everything is claimed once, and nothing twice
    rest = await jobs.claim("replica-a", 100, lease_ms=60_000)
    claimed = [(i.job.id, i.n) for i in first + second + rest] + [
        (i.job.id, i.n) for single in singles for i in single
    ]
    assert len(claimed) == len(set(claimed)) == 30 + 5 + 3 + 3
    assert await jobs.claim("replica-a", 10, lease_ms=60_000) == []


async def test_an_item_run_again_after_its_replica_died_keeps_its_request_id(store: Any) -> None:
    """A run that may have been answered and billed before its replica died: the next run is
    the same request (one log row, one settlement); a try after a failure is a new one."""
    jobs = JobStore(store)
    await queue(jobs, "msgbatch_k", 1)
    [died] = await jobs.claim("replica-a", 1, lease_ms=100)
    await asyncio.sleep(0.15)
    [again] = await jobs.claim("replica-b", 1, lease_ms=60_000)
    assert died.request_id is not None and again.request_id == died.request_id
    assert await jobs.defer(again, "replica-b", 0)
    [retried] = await jobs.claim("replica-b", 1, lease_ms=60_000)
    assert retried.request_id not in (None, died.request_id)


async def test_an_answer_in_hand_is_stored_however_long_the_store_refuses_it(
    store: Any, monkeypatch: Any
) -> None:
    """The result of an item whose upstream call finished is tried until it is stored, under
    a renewed lease: it is never dropped for the item to run (and be paid for) again."""
    import tiergate.batch.runner as runner_module

    monkeypatch.setattr(runner_module, "_STORE_RETRIES", (0.05, 0.05))
    jobs = JobStore(store)
    refusals = 12  # ~0.6 s: twice the lease
    finish = jobs.finish

    async def refusing_finish(*args: Any) -> bool:
        nonlocal refusals
        if refusals:
            refusals -= 1
            raise OSError("database or disk is full")
        return await finish(*args)

    monkeypatch.setattr(jobs, "finish", refusing_finish)
    runs: Counter[int] = Counter()

    async def execute(item: Item) -> Answered:
        runs[item.n] += 1
        return Answered(200, "{}", item.request_id)

    worker = runner(jobs, execute, lease_seconds=0.3)
    worker.start()
    job = await queue(jobs, "msgbatch_f", 1)
    worker.wake()
    assert await ended(jobs, job.id) == {"succeeded": 1}
    await worker.aclose()
    assert runs == {0: 1} and refusals == 0


async def test_a_job_read_in_pieces_is_unseen_until_whole_and_a_refusal_leaves_nothing(
    store: Any,
) -> None:
    """Items are written as an upload is read; the job appears only once all are in. A
    refusal part-way (a bad request further on) deletes what was written; a replica that died
    part-way leaves its items to the purge."""
    from tiergate.batch.jobs import now_ms

    jobs = JobStore(store)
    more = asyncio.Event()

    async def pieces(fail: bool) -> Any:
        yield items(1500)
        await more.wait()
        if fail:
            raise ValueError("requests[3000]: bad")
        yield items(3000)[1500:]

    async def stored() -> int:
        [(count,)] = await store.fetchall("SELECT count(*) FROM batch_items", ())
        return int(count)

    def create(job_id: str, fail: bool) -> Any:
        return jobs.create(
            job_id=job_id,
            tenant="acme",
            key_id=None,
            client_format="anthropic",
            items=pieces(fail),
            expire_ms=3_600_000,
        )

    uploading = asyncio.create_task(create("msgbatch_up", fail=False))
    while await stored() < 1500:
        await asyncio.sleep(0.01)
    # Half in: no job to see, list, count or claim.
    assert await jobs.get("msgbatch_up", None) is None
    assert (await jobs.page(None, 10, after=None))[0] == []
    assert await jobs.claim("replica", 10, 60_000) == []
    await jobs.purge(now_ms() - 3_600_000)  # an upload of the last hour is left alone
    assert await stored() == 1500
    more.set()
    job = await uploading
    assert job.total == 3000 and await jobs.counts(job.id) == {ItemState.QUEUED: 3000}
    assert [r.custom_id for r in await jobs.results(job.id, 2997, 10)] == ["c2998", "c2999"]

    more.clear()
    refused = asyncio.create_task(create("msgbatch_no", fail=True))
    while await stored() < 4500:
        await asyncio.sleep(0.01)
    more.set()
    try:
        await refused
        raise AssertionError("created")
    except ValueError:
        pass
    assert await jobs.get("msgbatch_no", None) is None and await stored() == 3000

    # A replica killed mid-upload: its items stay unseen until the purge deletes them.
    await store.executemany(
        [
            ("INSERT INTO batch_uploads (job_id, started_ms) VALUES (?, ?)", [("msgbatch_x", 1)]),
            (
                "INSERT INTO batch_items (batch_id, n, custom_id, params, state) "
                "VALUES (?, ?, ?, ?, ?)",
                [("msgbatch_x", n, f"c{n}", "{}", "queued") for n in range(5)],
            ),
        ]
    )
    await jobs.purge(now_ms() - 3_600_000)
    assert await stored() == 3000 and await jobs.get(job.id, None) is not None
    assert await store.fetchall("SELECT job_id FROM batch_uploads", ()) == []
