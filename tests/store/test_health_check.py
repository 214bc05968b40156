"""The health check's answer is reused for ``cache_seconds``: load balancers polling often, from
several places, cost the database one query a second, not one per poll."""

from __future__ import annotations

import asyncio
from typing import Any

from tiergate.gateway.health import HealthCheck


async def test_an_answer_is_reused_within_the_cache_window_then_asked_again(store: Any) -> None:
    check = HealthCheck(store, timeout_seconds=1.0, cache_seconds=0.3)
    first = await check.check()
    assert first.ok and first.parts["store"].detail["dialect"] == store.dialect
    assert all([await check.check() is first for _ in range(20)])  # one query for all of them
    await asyncio.sleep(0.35)
    again = await check.check()
    assert again.ok and again is not first


async def test_concurrent_callers_share_one_query(store: Any) -> None:
    check = HealthCheck(store, timeout_seconds=1.0, cache_seconds=0)
    answers = await asyncio.gather(*(check.check() for _ in range(10)))
    latencies = {answer.parts["store"].detail["latency_ms"] for answer in answers}
    assert all(answer.ok for answer in answers) and len(latencies) == 1
