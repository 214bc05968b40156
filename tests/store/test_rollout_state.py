"""Rollout state in the store, on SQLite and PostgreSQL: a change lands once, with its event.

Replicas decide the same step from the same row at the same moment; the compare-and-set must
let exactly one change through and log exactly one event, or a ramp would skip steps and its
history would lie."""

from __future__ import annotations

import asyncio
from typing import Any

from tiergate.store.backend import open_store
from tiergate.store.rollouts import RAMPING, ROLLED_BACK, Change, apply, events, load, start


async def test_a_started_rollout_is_created_once_with_its_event(store: Any) -> None:
    first = Change("start", 10.0, 0, RAMPING, "rollout of gpt started", new_epoch=True)
    made = await asyncio.gather(*(start(store, "auto", "gpt", first, f"r{i}") for i in range(4)))
    assert sorted(made) == [False, False, False, True]
    (row,) = await load(store)
    assert (row.route, row.model, row.percent, row.step, row.state, row.version) == (
        "auto", "gpt", 10.0, 0, RAMPING, 1,
    )  # fmt: skip
    (event,) = await events(store)
    assert (event["kind"], event["from_percent"], event["to_percent"]) == ("start", 0.0, 10.0)


async def test_two_replicas_stepping_the_same_row_change_it_once(store_url: str) -> None:
    # Two stores (two replicas' connections) on one database.
    one, two = await open_store(store_url), await open_store(store_url)
    try:
        await start(one, "auto", "gpt", Change("start", 10.0, 0, RAMPING, "go"), "r1")
        (row,) = await load(one)
        step = Change("step", 50.0, 1, RAMPING, "step 2/3")
        won = await asyncio.gather(apply(one, row, step, "r1"), apply(two, row, step, "r2"))
        assert sorted(won) == [False, True]
        (after,) = await load(two)
        assert (after.percent, after.step, after.version) == (50.0, 1, 2)
        # The loser, still holding the old row, cannot roll back over the step either.
        rollback = Change("rollback", 0.0, 0, ROLLED_BACK, "guard")
        assert not await apply(two, row, rollback, "r2")
        assert await apply(two, after, rollback, "r2")
        history = await events(one)
        assert [(e["version"], e["kind"], e["from_percent"], e["to_percent"]) for e in history] == [
            (3, "rollback", 50.0, 0.0), (2, "step", 10.0, 50.0), (1, "start", 0.0, 10.0),
        ]  # fmt: skip
        assert history[0]["reason"] == "guard" and history[0]["replica"] == "r2"
        (final,) = await load(one)
        assert final.state == ROLLED_BACK and final.percent == 0.0
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_resume_starts_the_guards_measurements_afresh(store: Any) -> None:
    await start(store, "auto", "gpt", Change("start", 10.0, 0, RAMPING, "go"), "r1")
    (row,) = await load(store)
    await asyncio.sleep(0.01)
    assert await apply(store, row, Change("pause", 10.0, 0, "paused", "hold"), "cli")
    (paused,) = await load(store)
    assert paused.epoch_ms == row.epoch_ms and paused.since_ms > row.since_ms
    await asyncio.sleep(0.01)
    resume = Change("resume", 10.0, 0, RAMPING, "go on", new_epoch=True)
    assert await apply(store, paused, resume, "cli")
    (resumed,) = await load(store)
    assert resumed.epoch_ms > row.epoch_ms and resumed.state == RAMPING
