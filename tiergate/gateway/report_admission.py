"""Per-tenant admission of reports: how many may run at once, and how many start per minute.

A report scans the request log; a loop of them from one tenant could keep the store busy for
everyone. Past either bound the caller gets a 429 with ``retry-after`` in its wire format. The
counts live in this process (per replica): what they protect is this process's share of the
database, and a report needs no agreement between replicas.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from tiergate.errors import RateLimited

__all__ = ["ReportAdmission"]

_TENANTS = 10_000  # windows kept before old ones are dropped


class ReportAdmission:
    def __init__(self, concurrent: int, per_minute: int) -> None:
        self._concurrent = concurrent
        self._per_minute = per_minute
        self._running: dict[str, int] = {}
        self._started: dict[str, tuple[int, int]] = {}  # tenant -> (minute, reports started)

    @contextlib.contextmanager
    def enter(self, tenant: str) -> Iterator[None]:
        """Run one report of ``tenant``, or raise ``RateLimited``."""
        now = time.time()
        minute = int(now // 60)
        if self._running.get(tenant, 0) >= self._concurrent:
            raise RateLimited(
                f"this tenant already has {self._concurrent} report(s) running; wait for it",
                retry_after=1.0,
            )
        window, count = self._started.get(tenant, (minute, 0))
        if window != minute:
            count = 0
        if count >= self._per_minute:
            raise RateLimited(
                f"report rate limit reached: {self._per_minute} reports a minute per tenant",
                retry_after=max(1.0, 60 - now % 60),
            )
        if len(self._started) > _TENANTS:
            self._started = {t: w for t, w in self._started.items() if w[0] == minute}
        self._started[tenant] = (minute, count + 1)
        self._running[tenant] = self._running.get(tenant, 0) + 1
        try:
            yield
        finally:
            left = self._running[tenant] - 1
            if left:
                self._running[tenant] = left
            else:
                del self._running[tenant]
