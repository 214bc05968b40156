"""Responses API answers are kept ``responses.keep_days``: past that they read as absent at
once (a follow-up gets the error of an unknown id), and are deleted by bounded passes.

Why: every stored answer holds its whole conversation, so without a limit the table grows
with all traffic forever; and a first pass over months of rows must not be one statement
that holds the database for minutes."""

from __future__ import annotations

import asyncio
from typing import Any

from tiergate.store.responses import StoredResponses

ITEMS = [{"role": "user", "content": "hi"}, {"type": "message", "content": "hello"}]


async def _count(store: Any) -> int:
    return int((await store.fetchall("SELECT count(*) FROM responses"))[0][0])


async def test_a_response_past_keeping_reads_as_unknown_before_it_is_deleted(
    store: Any,
) -> None:
    kept = StoredResponses(store, keep_ms=300)
    await kept.save("resp_1", "acme", "m", ITEMS)
    assert await kept.conversation("resp_1", "acme") == ITEMS
    await asyncio.sleep(0.35)
    assert await kept.conversation("resp_1", "acme") is None  # as for an unknown id
    assert await _count(store) == 1  # not deleted yet: expiry does not wait for pruning
    assert await kept.prune() == 1
    assert await _count(store) == 0


async def test_pruning_deletes_the_oldest_expired_rows_a_bounded_number_per_pass(
    store: Any,
) -> None:
    kept = StoredResponses(store, keep_ms=300, rows_per_pass=3, every_seconds=3600)
    for n in range(7):
        await kept.save(f"resp_old{n}", "acme", "m", ITEMS)
    await asyncio.sleep(0.35)
    for n in range(2):
        await kept.save(f"resp_new{n}", "acme", "m", ITEMS)
    await kept.prune_due()  # the first pass is due at once
    assert await _count(store) == 6
    await kept.prune_due()  # a full pass left a backlog: the next tick goes on
    await kept.prune_due()
    assert await _count(store) == 2
    rows = await store.fetchall("SELECT id FROM responses ORDER BY id")
    assert [r[0] for r in rows] == ["resp_new0", "resp_new1"]
    await asyncio.sleep(0.35)  # the new ones expire too, but no pass is due before an hour
    await kept.prune_due()
    assert await _count(store) == 2
    assert await kept.prune() == 2
