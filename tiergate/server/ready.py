"""Hand on the items of an async iterator in the groups they became ready in.

Why: an upstream usually delivers several SSE events in one network read, and the executor
hands them on one by one. Sending each as its own ASGI message costs a write (and a system
call) per event, the bulk of a streamed answer's gateway time. ``ready_batches`` reads the
iterator in a task of its own and gives the writer everything that arrived since it last asked,
so one write carries the events of one read, and the writer waits only when nothing is left.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

__all__ = ["MAX_READY", "ready_batches"]

# The reader stops reading once this many items wait for a slow writer: the client's pace
# still holds the upstream back, as it would without the reading task.
MAX_READY = 256


async def ready_batches(
    items: AsyncIterator[T], convert: Callable[[T], U]
) -> AsyncGenerator[list[U], None]:
    """``convert`` of each item of ``items``, in order, in lists of those that arrived
    together. The first item that converts to something (non-empty) comes alone, at once, so
    grouping never delays the first byte.

    ``convert`` runs on each item as soon as it is taken, before the next one is taken, as in
    a plain loop: an iterator may rely on everything before its current item having been
    converted (the Responses endpoint stores the encoded answer before its last event).

    An error of ``items`` (or of ``convert``) is raised after the items that came before it.
    Closing this generator (``contextlib.aclosing``) or cancelling its consumer cancels the
    reading task and waits for ``items`` to unwind, so the upstream call is over when it
    returns.
    """
    ready: list[U] = []
    arrived = asyncio.Event()  # set when ``ready`` gained an item or the reader ended
    taken = asyncio.Event()  # set when the writer emptied ``ready``

    async def read() -> None:
        try:
            first = True
            async for item in items:
                converted = convert(item)
                ready.append(converted)
                arrived.set()
                if first and converted:
                    first = False
                    await asyncio.sleep(0)  # let the writer send the first item on its own
                elif len(ready) >= MAX_READY:
                    taken.clear()
                    await taken.wait()
        finally:
            try:
                # Left early (cancelled): an async generator paused at a ``yield`` unwinds
                # only when closed, and that is where the upstream connection is let go.
                close = getattr(items, "aclose", None)
                if close is not None:
                    await close()
            finally:
                arrived.set()

    reader = asyncio.get_running_loop().create_task(read())
    try:
        while True:
            if ready:
                batch = ready.copy()
                ready.clear()
                taken.set()
                yield batch
            elif reader.done():
                reader.result()  # the iterator's error, if it ended with one
                return
            else:
                arrived.clear()
                await arrived.wait()
    finally:
        if not reader.done():
            reader.cancel()
            await asyncio.wait((reader,))
        if not reader.cancelled():
            reader.exception()  # seen here (or raised above): never reported as unretrieved
