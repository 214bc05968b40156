"""Which gateway processes are alive, so that what a dead one held can be freed.

Each process that holds something in the store on behalf of requests in flight (budget
reservations) is a ``Holder``: a row in ``holders`` with a lease it renews every third of
``lease_seconds``. Whatever it holds names it as owner. Once its lease has run out (the process
died, or lost the database for longer than the lease), what it held belongs to no one and is
freed by the next process that reaps (every live holder does, at each renewal).

At start-up a process also frees, without waiting for their leases, the holders of earlier
processes on this machine that are gone (their pid no longer runs): after a SIGKILL and a
restart, nothing the dead process held outlives the restart. Owners are
``node:pid:random``, so another machine's processes are never judged by this one's pids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable

from tiergate.store.backend import Store, now_ms

__all__ = ["Holder", "new_owner", "stopped_here"]

logger = logging.getLogger("tiergate.store")

Tick = Callable[[], Awaitable[None]]


_MINE: set[str] = set()  # owners made by this process (several: a holder, a batch runner)


def new_owner() -> str:
    """A name for something this process holds: its machine, pid and a random part (pids are
    reused)."""
    owner = f"{os.uname().nodename}:{os.getpid()}:{os.urandom(4).hex()}"
    _MINE.add(owner)
    return owner


def stopped_here(owner: str, me: str) -> bool:
    """Whether ``owner`` was a process of this machine that no longer runs."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or owner == me or owner in _MINE or parts[0] != os.uname().nodename:
        return False
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return True  # an earlier process with our pid (a restarted container's pid 1)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


class Holder:
    def __init__(self, store: Store, *, lease_seconds: float = 30.0, owner: str | None = None):
        self._store = store
        self.owner = owner or new_owner()
        self._lease_ms = int(lease_seconds * 1000)
        self._ticks: list[Tick] = []
        self._task: asyncio.Task[None] | None = None

    def on_tick(self, tick: Tick) -> None:
        """Run ``tick`` after each renewal (retries of work the database refused, say)."""
        self._ticks.append(tick)

    async def start(self) -> None:
        """Hold, free what dead processes of this machine held, and keep renewing."""
        await self.renew()
        rows = await self._store.fetchall("SELECT owner FROM holders")
        gone = [str(owner) for (owner,) in rows if stopped_here(str(owner), self.owner)]
        if gone:
            await self._store.executemany(
                [("DELETE FROM holders WHERE owner = ?", [(owner,) for owner in gone])]
            )
            logger.info("freed what %d stopped process(es) of this machine held", len(gone))
        await self.reap()
        self._task = asyncio.create_task(self._run(), name="tiergate-holder")

    async def renew(self) -> None:
        until = now_ms() + self._lease_ms
        await self._store.transaction(
            [
                (
                    "INSERT INTO holders (owner, until_ms) VALUES (?, ?) "
                    "ON CONFLICT (owner) DO UPDATE SET until_ms = excluded.until_ms",
                    (self.owner, until),
                )
            ]
        )

    async def reap(self) -> None:
        """Free what no live holder holds: holders past their lease, reservations of owners
        no longer holding, and reservations past their own end."""
        moment = now_ms()
        await self._store.transaction(
            [
                ("DELETE FROM holders WHERE until_ms < ?", (moment,)),
                ("DELETE FROM reservations WHERE until_ms < ?", (moment,)),
                (
                    "DELETE FROM reservations WHERE settled_ms IS NULL "
                    "AND owner NOT IN (SELECT owner FROM holders)",
                    (),
                ),
            ]
        )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            try:
                await self.renew()
                await self.reap()
            except Exception as exc:  # the database is away: the lease lasts a while yet
                logger.warning("could not renew this process's lease in the store: %r", exc)
                continue
            for tick in self._ticks:
                try:
                    await tick()
                except Exception as exc:
                    logger.warning("store housekeeping failed: %r", exc)

    async def aclose(self) -> None:
        """Stop renewing and let go: a process that stops cleanly holds nothing after."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for tick in self._ticks:  # a last try at what is still waiting
            with contextlib.suppress(Exception):
                await tick()
        with contextlib.suppress(Exception):
            await self._store.transaction(
                [
                    (
                        "DELETE FROM reservations WHERE owner = ? AND settled_ms IS NULL",
                        (self.owner,),
                    ),
                    ("DELETE FROM holders WHERE owner = ?", (self.owner,)),
                ]
            )
