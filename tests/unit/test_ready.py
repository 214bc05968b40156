"""``next_ready``: items already produced come back at once; a suspended step resumes in the
caller's task with its result, its error or a cancellation, exactly as ``await anext`` would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tiergate.server.ready import Pending, next_ready


async def _burst(loop_futures: list[asyncio.Future[list[int]]]) -> AsyncIterator[int]:
    """Yields each future's items; the items of one future are ready together."""
    for future in loop_futures:
        for item in await future:
            yield item


async def test_ready_items_come_back_without_waiting_then_it_suspends() -> None:
    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()
    first.set_result([1, 2, 3])
    events = _burst([first, second])
    assert [next_ready(events) for _ in range(3)] == [(True, 1), (True, 2), (True, 3)]
    ready, pending = next_ready(events)
    assert not ready and isinstance(pending, Pending)
    loop.call_later(0.01, second.set_result, [4, 5])
    assert await pending == 4
    assert next_ready(events) == (True, 5)
    with pytest.raises(StopAsyncIteration):
        next_ready(events)


async def test_an_error_after_suspending_is_raised_by_the_await() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[int]] = loop.create_future()
    events = _burst([future])
    ready, pending = next_ready(events)
    assert not ready
    loop.call_soon(future.set_exception, ValueError("upstream broke"))
    with pytest.raises(ValueError, match="upstream broke"):
        await pending  # type: ignore[misc]


async def test_cancelling_the_waiting_task_reaches_the_iterator() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[int]] = loop.create_future()
    cleaned = asyncio.Event()

    async def source() -> AsyncIterator[int]:
        try:
            for item in await future:
                yield item
        except asyncio.CancelledError:
            cleaned.set()
            raise

    events = source()

    async def consume() -> int:
        ready, pending = next_ready(events)
        assert not ready
        return await pending  # type: ignore[misc, no-any-return]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set() and future.cancelled()


async def test_an_abandoned_step_unwinds_the_iterator() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[int]] = loop.create_future()
    unwound: list[str] = []

    async def source() -> AsyncIterator[int]:
        try:
            for item in await future:
                yield item
        finally:
            unwound.append("finally")

    ready, pending = next_ready(source())
    assert not ready and isinstance(pending, Pending)
    pending.abandon(asyncio.CancelledError())
    assert unwound == ["finally"]
