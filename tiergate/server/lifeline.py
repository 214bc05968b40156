"""A worker process ends when the process that started it dies.

uvicorn's workers are children of one supervisor; killed with SIGKILL, that supervisor cannot
stop them, and they would go on serving, unsupervised, on the socket they inherited (a restart
then fails to bind, or runs beside them). On Linux the kernel sends a worker SIGTERM when its
parent dies (``PR_SET_PDEATHSIG``): uvicorn's handler then shuts it down gracefully (requests in
flight finish, the log is flushed). Elsewhere a watcher polls the parent's pid every second.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys

__all__ = ["follow_parent"]

_PR_SET_PDEATHSIG = 1


def follow_parent() -> asyncio.Task[None] | None:
    """In a worker process (started by ``multiprocessing``, as uvicorn starts them): end
    with the parent. Returns the watcher task where the kernel cannot do it, else None; in the
    only process of a server it does nothing (it may outlive the shell that started it)."""
    starter = multiprocessing.parent_process()
    if starter is None:
        return None
    parent = starter.pid
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
                if os.getppid() != parent:  # it died before the kernel was asked
                    os.kill(os.getpid(), signal.SIGTERM)
                return None
        except (OSError, AttributeError):
            pass
    return asyncio.ensure_future(_watch(parent))


async def _watch(parent: int | None) -> None:
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
