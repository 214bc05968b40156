"""``ready_batches``: items that arrive together come out together, the first alone; errors come
after the items before them; closing or cancelling the consumer unwinds the iterator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from tiergate.server import ready
from tiergate.server.ready import ready_batches


def _same(item: int) -> int:
    return item


async def _burst(futures: list[asyncio.Future[list[int]]]) -> AsyncIterator[int]:
    """Yields each future's items; the items of one future are ready together (one read)."""
    for future in futures:
        for item in await future:
            yield item


async def test_items_of_one_read_come_together_and_the_first_alone() -> None:
    loop = asyncio.get_running_loop()
    reads: list[asyncio.Future[list[int]]] = [loop.create_future() for _ in range(3)]
    reads[0].set_result([1, 2, 3])
    batches = ready_batches(_burst(reads), _same)
    assert await anext(batches) == [1]
    assert await anext(batches) == [2, 3]
    loop.call_later(0.01, reads[1].set_result, [4, 5])
    assert await anext(batches) == [4, 5]
    loop.call_later(0.01, reads[2].set_result, [6])
    assert await anext(batches) == [6]
    with pytest.raises(StopAsyncIteration):
        await anext(batches)


async def test_items_that_arrive_while_the_writer_is_busy_wait_for_it() -> None:
    loop = asyncio.get_running_loop()
    reads: list[asyncio.Future[list[int]]] = [loop.create_future() for _ in range(3)]
    reads[0].set_result([1])
    batches = ready_batches(_burst(reads), _same)
    assert await anext(batches) == [1]
    reads[1].set_result([2])
    reads[2].set_result([3, 4])
    await asyncio.sleep(0.01)  # the writer is busy; both reads land meanwhile
    assert await anext(batches) == [2, 3, 4]


async def test_an_error_is_raised_after_the_items_before_it() -> None:
    loop = asyncio.get_running_loop()
    reads: list[asyncio.Future[list[int]]] = [loop.create_future() for _ in range(2)]
    reads[0].set_result([1, 2])
    loop.call_later(0.01, reads[1].set_exception, ValueError("upstream broke"))
    got: list[list[int]] = []
    with pytest.raises(ValueError, match="upstream broke"):
        async for batch in ready_batches(_burst(reads), _same):
            got.append(batch)
    assert got == [[1], [2]]


async def test_cancelling_the_consumer_unwinds_the_iterator_before_it_returns() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[int]] = loop.create_future()
    unwound: list[str] = []

    async def source() -> AsyncIterator[int]:
        try:
            for item in await future:
                yield item
        except asyncio.CancelledError:
            unwound.append("cancelled")
            raise

    async def consume() -> None:
        async with aclosing(ready_batches(source(), _same)) as batches:
            async for _ in batches:
                pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert unwound == ["cancelled"] and future.cancelled()


async def test_closing_early_unwinds_the_iterator() -> None:
    loop = asyncio.get_running_loop()
    reads: list[asyncio.Future[list[int]]] = [loop.create_future() for _ in range(2)]
    reads[0].set_result([1])
    unwound: list[str] = []

    async def source() -> AsyncIterator[int]:
        try:
            async for item in _burst(reads):
                yield item
        finally:
            unwound.append("finally")

    async with aclosing(ready_batches(source(), _same)) as batches:
        assert await anext(batches) == [1]
    assert unwound == ["finally"]


async def test_a_slow_writer_holds_the_reader_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ready, "MAX_READY", 3)
    produced: list[int] = []

    async def endless() -> AsyncIterator[int]:
        n = 0
        while True:
            n += 1
            produced.append(n)
            yield n

    async with aclosing(ready_batches(endless(), _same)) as batches:
        assert await anext(batches) == [1]
        await asyncio.sleep(0.01)  # the writer is busy: the reader stops at MAX_READY
        assert await anext(batches) == [2, 3, 4]
        assert len(produced) == 4


async def test_each_item_is_converted_before_the_next_is_taken() -> None:
    """The Responses endpoint stores the encoded answer when it takes the last event: every
    event before it must have been encoded by then, even when all arrive in one read."""
    converted: list[int] = []
    seen_when_taken: list[int] = []

    async def source() -> AsyncIterator[int]:
        for item in range(1, 6):
            seen_when_taken.append(len(converted))
            yield item

    def convert(item: int) -> int:
        converted.append(item)
        return item

    got = [batch async for batch in ready_batches(source(), convert)]
    assert got == [[1], [2, 3, 4, 5]]
    assert seen_when_taken == [0, 1, 2, 3, 4]


async def test_the_first_item_alone_is_the_first_with_content() -> None:
    """An event that encodes to nothing (no bytes to send) does not use up the first write."""
    loop = asyncio.get_running_loop()
    reads: list[asyncio.Future[list[int]]] = [loop.create_future() for _ in range(2)]
    reads[0].set_result([0, 1, 2])
    loop.call_later(0.01, reads[1].set_result, [3])
    got = [batch async for batch in ready_batches(_burst(reads), _same)]
    assert got == [[0, 1], [2], [3]]
