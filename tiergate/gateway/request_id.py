"""Request ids: unique across replicas, ordered by time, cheap to make.

``req_`` + 12 hex digits of Unix milliseconds + 12 hex digits fixed per process (random, drawn
once) + 6 hex digits of a per-process counter. Why not ``secrets.token_hex`` per request:
random ids land all over the request log's primary-key index, while time-ordered ones append at
its end; they also sort in the order requests arrived. Two processes collide only if their
random 48-bit parts match; one process only if it makes 16.7 million ids within one
millisecond.
"""

from __future__ import annotations

import itertools
import os
import time

__all__ = ["new_request_id"]

_PROCESS = os.urandom(6).hex()
_COUNTER = itertools.count()


def new_request_id() -> str:
    return f"req_{int(time.time() * 1000):012x}{_PROCESS}{next(_COUNTER) & 0xFFFFFF:06x}"


def _reseed_after_fork() -> None:
    """A forked worker must not share its parent's process part."""
    global _PROCESS, _COUNTER
    _PROCESS = os.urandom(6).hex()
    _COUNTER = itertools.count()


os.register_at_fork(after_in_child=_reseed_after_fork)
