"""Rollout state in the store, on SQLite and PostgreSQL: a change lands once, with its event.

Replicas decide the same step from the same row at the same moment; the compare-and-set must
let exactly one change through and log exactly one event, or a ramp would skip steps and its
history would lie."""

from __future__ import annotations

import asyncio
from typing import Any

from tiergate.store.backend import open_store
from tiergate.store.rollouts import RAMPING, ROLLED_BACK, Change, apply, events, load, start

# A rollout at its first step of 10%.
STARTED = Change(kind="start", percent=10.0, step=0, state=RAMPING, reason="go")


async def test_a_started_rollout_is_created_once_with_its_event(store: Any) -> None:
    first = Change(
        kind="start",
        percent=10.0,
        step=0,
        state=RAMPING,
        reason="rollout of gpt started",
        new_epoch=True,
    )
    made = await asyncio.gather(*(start(store, "auto", "gpt", first, f"r{i}") for i in range(4)))
    assert sorted(made) == [False, False, False, True]
    (row,) = await load(store)
    assert (row.route, row.model, row.percent, row.step, row.state, row.version) == (
        "auto",
        "gpt",
        10.0,
        0,
        RAMPING,
        1,
    )
    (event,) = await events(store)
    assert (event["kind"], event["from_percent"], event["to_percent"]) == ("start", 0.0, 10.0)


async def test_two_replicas_stepping_the_same_row_change_it_once(store_url: str) -> None:
    # Two stores (two replicas' connections) on one database.
    one, two = await open_store(store_url), await open_store(store_url)
    try:
        await start(one, "auto", "gpt", STARTED, "r1")
        (row,) = await load(one)
        step = Change(kind="step", percent=50.0, step=1, state=RAMPING, reason="step 2/3")
        won = await asyncio.gather(apply(one, row, step, "r1"), apply(two, row, step, "r2"))
        assert sorted(won) == [False, True]
        (after,) = await load(two)
        assert (after.percent, after.step, after.version) == (50.0, 1, 2)
        # The loser, still holding the old row, cannot roll back over the step either.
        rollback = Change(kind="rollback", percent=0.0, step=0, state=ROLLED_BACK, reason="guard")
        assert not await apply(two, row, rollback, "r2")
        assert await apply(two, after, rollback, "r2")
        history = await events(one)
        assert [(e["version"], e["kind"], e["from_percent"], e["to_percent"]) for e in history] == [
            (3, "rollback", 50.0, 0.0),
            (2, "step", 10.0, 50.0),
            (1, "start", 0.0, 10.0),
        ]
        assert history[0]["reason"] == "guard" and history[0]["replica"] == "r2"
        (final,) = await load(one)
        assert final.state == ROLLED_BACK and final.percent == 0.0
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_resume_starts_the_guards_measurements_afresh(store: Any) -> None:
    await start(store, "auto", "gpt", STARTED, "r1")
    (row,) = await load(store)
    await asyncio.sleep(0.01)
    pause = Change(kind="pause", percent=10.0, step=0, state="paused", reason="hold")
    assert await apply(store, row, pause, "cli")
    (paused,) = await load(store)
    assert paused.epoch_ms == row.epoch_ms and paused.since_ms > row.since_ms
    await asyncio.sleep(0.01)
    resume = Change(
        kind="resume", percent=10.0, step=0, state=RAMPING, reason="go on", new_epoch=True
    )
    assert await apply(store, paused, resume, "cli")
    (resumed,) = await load(store)
    assert resumed.epoch_ms > row.epoch_ms and resumed.state == RAMPING


async def test_the_guard_measures_the_candidates_own_traffic_in_its_window(store: Any) -> None:
    """Calls to the candidate on the route (a failure a fallback answered included), its
    answers and refusals, and the route's requests since the step, from the request log;
    judged quality from the rollout's judged pairs. Other routes, models and older rows are
    left out."""
    from tiergate.store.judgments import JudgmentRecord, save_judgment
    from tiergate.store.records import AttemptRecord, RequestRecord
    from tiergate.store.request_log import RequestLog
    from tiergate.store.rollouts import guard_stats

    def request(n: int, ts: int, model: str, outcomes: list[tuple[str, str]], **kw: Any) -> None:
        record = RequestRecord(
            id=f"req{n}",
            ts_ms=ts,
            route=kw.pop("route", "auto"),
            model=model,
            attempts=len(outcomes),
            **kw,
        )
        rows = [
            AttemptRecord(n=i + 1, tier=0, model=m, deployment="dep", outcome=outcome)
            for i, (m, outcome) in enumerate(outcomes)
        ]
        log.submit(record, rows)

    log = RequestLog(store)
    await log.start()
    ok, failed = ("gpt", "ok"), ("gpt", "provider_error")
    request(1, 1000, "gpt", [ok])
    request(2, 1000, "gpt", [ok], refusal=True)
    request(3, 1000, "sonnet", [failed, ("sonnet", "ok")], status=200)  # fallback answered
    request(4, 1000, "sonnet", [("sonnet", "ok")])  # not rolled out
    request(5, 10, "gpt", [failed])  # before the window
    request(6, 1000, "gpt", [failed], route="other")  # another route
    await log.aclose()
    for n, verdict in enumerate(["tie", "tie", "loss", "win"]):
        await save_judgment(
            store,
            JudgmentRecord(
                id=f"j{n}",
                kind="rollout",
                ts_ms=1000,
                tenant="default",
                route="auto",
                request_id=f"req{n}",
                shadow_id=None,
                served_model="sonnet",
                candidate_model="gpt",
                judge_model="judge",
                mode="pairwise",
                verdict=verdict,
                calls=3,
            ),
        )
    await save_judgment(  # a shadow pair is not the rollout's
        store,
        JudgmentRecord(
            id="js",
            kind="shadow",
            ts_ms=1000,
            tenant="default",
            route="auto",
            request_id="r",
            shadow_id="s",
            served_model="sonnet",
            candidate_model="gpt",
            judge_model="judge",
            mode="pairwise",
            verdict="loss",
        ),
    )
    stats = await guard_stats(store, "auto", "gpt", since_ms=500, step_since_ms=0)
    assert (stats.attempts, stats.errors, stats.answered, stats.refusals) == (3, 1, 2, 1)
    assert stats.route_requests == 5
    assert stats.judged == 4 and stats.quality == 0.5  # (1 win + 2 ties / 2) / 4
