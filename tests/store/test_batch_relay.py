"""Items sent through a provider's batch API, in the store, on SQLite and PostgreSQL: two
replicas' relays send each parked item in exactly one provider batch and store each answer
once; a job goes out only once the runner has looked at all of it (or a batch is full); a
provider's refusal sends its items back to run live."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tiergate.batch import JobStore
from tiergate.batch.upstream_relay import Relay
from tiergate.batch.upstream_store import Parked, RelayStore, SentBatch
from tiergate.errors import ProviderError
from tiergate.store.backend import open_store
from tiergate.wire.batch_states import ItemState


class Provider:
    """An in-process stand-in for the provider side (``gateway/provider_batches.py`` is tested over
    HTTP in tests/e2e/test_batch_relay.py): batches end at their first look."""

    def __init__(
        self, name: str, store: RelayStore, refuse: bool = False, away: int = 0, keep: bool = False
    ) -> None:
        self.name = name
        self.keep = keep  # deleting the provider's copy fails
        self.store = store
        self.refuse = refuse
        self.away = away  # sends that fail as a provider outage does (retryable)
        self.sent: list[list[int]] = []
        self.answered: Counter[int] = Counter()
        self.discarded: list[str] = []

    async def send(self, deployment: str, parked: Sequence[Parked]) -> str:
        if self.refuse:
            raise ProviderError("no batches here", status=400, provider="a", retryable=False)
        if self.away:
            self.away -= 1
            raise ProviderError("overloaded", status=529, provider="a", retryable=True)
        await asyncio.sleep(0.01)  # the other replica gets a turn
        self.sent.append([p.item.n for p in parked])
        return f"{self.name}-{len(self.sent)}"

    async def cancel(self, sent: SentBatch) -> None:
        raise AssertionError("nothing is canceled here")

    async def collect(self, sent: SentBatch) -> bool:
        for parked in await self.store.waiting(sent):
            n = parked.item.n
            if await self.store.answer(sent, n, ItemState.SUCCEEDED, 200, "{}", f"req_{n}"):
                self.answered[n] += 1
        return True

    async def discard(self, sent: SentBatch) -> None:
        self.discarded.append(sent.id)
        if self.keep:
            raise ProviderError("deleting failed", status=500, provider="a", retryable=True)


def relay(store: RelayStore, provider: Provider, owner: str, max_requests: int) -> Relay:
    return Relay(
        store,
        provider,
        owner=owner,
        tick_seconds=0.01,
        poll_seconds=0.0,
        max_requests=max_requests,
        lease_seconds=60,
    )


async def parked_job(jobs: JobStore, job_id: str, count: int, parked: int | None = None) -> str:
    """A job of ``count`` items, the first ``parked`` (all by default) handed to the relay as
    the runner would."""
    await jobs.create(
        job_id=job_id,
        tenant="acme",
        key_id=None,
        client_format="anthropic",
        items=[(f"c{i}", "{}") for i in range(count)],
        expire_ms=3_600_000,
    )
    for item in await jobs.claim("runner", count if parked is None else parked, lease_ms=60_000):
        assert item.job.id == job_id
        assert await jobs.park(item, "runner", "anthropic-a", '{"params": {}}')
    return job_id


async def test_two_replicas_send_each_item_once_and_store_each_answer_once(
    store: Any, store_url: str
) -> None:
    jobs = JobStore(store)
    other = await open_store(store_url)
    job_id = await parked_job(jobs, "msgbatch_r1", 40)
    first_store, second_store = RelayStore(store, jobs), RelayStore(other, JobStore(other))
    a, b = Provider("a", first_store), Provider("b", second_store)
    relays = [relay(first_store, a, "replica-a", 15), relay(second_store, b, "replica-b", 15)]
    for _ in range(3):
        await asyncio.gather(*(r.step() for r in relays))
    await other.aclose()

    sent = sorted(n for provider in (a, b) for batch in provider.sent for n in batch)
    assert sent == list(range(40))  # every item in exactly one provider batch
    assert all(len(batch) <= 15 for provider in (a, b) for batch in provider.sent)
    answered = a.answered + b.answered
    assert sorted(answered) == list(range(40)) and set(answered.values()) == {1}
    # each provider batch deleted once, by the replica that collected it
    discarded = a.discarded + b.discarded
    assert sorted(discarded) == sorted(
        f"{provider.name}-{i + 1}" for provider in (a, b) for i in range(len(provider.sent))
    )
    assert await jobs.counts(job_id) == {"succeeded": 40}
    ended = await jobs.get(job_id, None)
    assert ended is not None and ended.ended_ms is not None


async def test_a_job_goes_out_once_the_runner_has_looked_at_all_of_it(store: Any) -> None:
    jobs = JobStore(store)
    relayed = RelayStore(store, jobs)
    await parked_job(jobs, "msgbatch_r2", 3, parked=2)  # the third is still undecided
    assert await relayed.take_parked("replica-a", 10, 60_000) == []
    full = await relayed.take_parked("replica-a", 2, 60_000)  # unless a batch is full
    assert [p.item.n for p in full] == [0, 1] and full[0].deployment == "anthropic-a"


async def test_a_refused_batch_sends_its_items_back_to_run_live(store: Any) -> None:
    jobs = JobStore(store)
    relayed = RelayStore(store, jobs)
    await parked_job(jobs, "msgbatch_r3", 2)
    await relay(relayed, Provider("a", relayed, refuse=True), "replica-a", 10).step()
    again = await jobs.claim("runner", 10, lease_ms=60_000)
    assert [(item.n, item.live_only) for item in again] == [(0, True), (1, True)]


async def test_a_provider_outage_keeps_items_parked_for_the_next_tick(store: Any) -> None:
    jobs = JobStore(store)
    relayed = RelayStore(store, jobs)
    job_id = await parked_job(jobs, "msgbatch_r4", 2)
    provider = Provider("a", relayed, away=1)
    worker = relay(relayed, provider, "replica-a", 10)
    await asyncio.wait_for(worker.step(), 5)  # one failed try, not a loop
    assert provider.sent == [] and await jobs.claim("runner", 10, lease_ms=60_000) == []
    await worker.step()
    assert provider.sent == [[0, 1]] and await jobs.counts(job_id) == {"succeeded": 2}


async def test_a_failed_delete_at_the_provider_is_tried_once_and_loses_nothing(
    store: Any,
) -> None:
    jobs = JobStore(store)
    relayed = RelayStore(store, jobs)
    job_id = await parked_job(jobs, "msgbatch_r5", 2)
    provider = Provider("a", relayed, keep=True)
    worker = relay(relayed, provider, "replica-a", 10)
    for _ in range(3):
        await worker.step()
    assert provider.discarded == ["a-1"]  # once: the copy is left to expire at the provider
    assert await jobs.counts(job_id) == {"succeeded": 2} and worker.answered == 1
