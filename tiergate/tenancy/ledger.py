"""Budgets and rate limits, enforced atomically in the store so replicas share them.

Budget: before a call, ``reserve`` adds the request's worst-case cost (its input estimate plus
``max_tokens`` of output, at the priciest model its plan may use) to ``reserved`` in one
conditional UPDATE that succeeds only while ``spent + reserved + estimate <= budget``. After
the call, ``settle`` moves the reservation to ``spent`` at the real cost. Since every admitted
request holds its reservation, total spend can pass the budget only by what in-flight requests
spend beyond their estimate; with the estimate taken from max_tokens that is at most the
input-estimate error of the requests in flight when the limit was reached.

Rate limits: fixed one-minute windows per key; one upsert both counts and checks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from tiergate.errors import RateLimited
from tiergate.store.backend import Store
from tiergate.store.records import to_nano
from tiergate.tenancy.keys import KeyInfo


def period_bucket(period: str | None, now: float | None = None) -> str:
    moment = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    if period == "day":
        return moment.strftime("%Y-%m-%d")
    if period == "month":
        return moment.strftime("%Y-%m")
    return "total"


@dataclass(frozen=True, slots=True)
class Reservation:
    key_id: str
    period: str
    nano: int


class Ledger:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def reserve(self, key: KeyInfo, estimate_nano: int) -> Reservation | None:
        """Hold ``estimate_nano`` against the key's budget, or raise ``RateLimited``."""
        if key.budget_usd is None:
            return None
        budget = to_nano(key.budget_usd) or 0
        period = period_bucket(key.budget_period)
        results = await self._store.transaction(
            [
                (
                    "INSERT INTO spend (key_id, period, spent_nusd, reserved_nusd) "
                    "VALUES (?, ?, 0, 0) ON CONFLICT (key_id, period) DO NOTHING",
                    (key.id, period),
                ),
                (
                    "UPDATE spend SET reserved_nusd = reserved_nusd + ? WHERE key_id = ? "
                    "AND period = ? AND spent_nusd + reserved_nusd + ? <= ? "
                    "RETURNING spent_nusd",
                    (estimate_nano, key.id, period, estimate_nano, budget),
                ),
            ]
        )
        if not results[1]:
            raise RateLimited(
                f"budget exhausted: this key's {key.budget_period} budget of "
                f"${key.budget_usd} is spent or held by requests in flight",
                retry_after=_seconds_to_next(key.budget_period),
            )
        return Reservation(key.id, period, estimate_nano)

    async def settle(self, reservation: Reservation, actual_nano: int) -> None:
        await self._store.execute(
            "UPDATE spend SET reserved_nusd = reserved_nusd - ?, spent_nusd = spent_nusd + ? "
            "WHERE key_id = ? AND period = ?",
            (reservation.nano, actual_nano, reservation.key_id, reservation.period),
        )

    async def spent(self, key: KeyInfo) -> tuple[int, int]:
        rows = await self._store.fetchall(
            "SELECT spent_nusd, reserved_nusd FROM spend WHERE key_id = ? AND period = ?",
            (key.id, period_bucket(key.budget_period)),
        )
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    async def count_rate(self, key: KeyInfo, tokens: int) -> None:
        """Count one request of ``tokens`` estimated tokens in this minute, or raise 429."""
        if key.rpm is None and key.tpm is None:
            return
        now = time.time()
        minute = int(now // 60)
        rpm = key.rpm if key.rpm is not None else 2**31 - 1
        tpm = key.tpm if key.tpm is not None else 2**62
        results = await self._store.transaction(
            [
                (
                    "INSERT INTO rate_windows (key_id, minute, requests, tokens) "
                    "VALUES (?, ?, 0, 0) ON CONFLICT (key_id, minute) DO NOTHING",
                    (key.id, minute),
                ),
                (
                    "UPDATE rate_windows SET requests = requests + 1, tokens = tokens + ? "
                    "WHERE key_id = ? AND minute = ? AND requests + 1 <= ? AND tokens + ? <= ? "
                    "RETURNING requests",
                    (tokens, key.id, minute, rpm, tokens, tpm),
                ),
            ]
        )
        if not results[1]:
            raise RateLimited(
                f"rate limit reached for this key ({key.rpm or 'unlimited'} requests, "
                f"{key.tpm or 'unlimited'} tokens per minute)",
                retry_after=max(1.0, 60 - now % 60),
            )


def _seconds_to_next(period: str | None, now: datetime | None = None) -> float | None:
    """Seconds until the budget period starts again (UTC); None for a ``total`` budget, which
    never does."""
    now = now or datetime.now(UTC)
    if period == "day":
        return float(86400 - (now.hour * 3600 + now.minute * 60 + now.second))
    if period == "month":
        year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
        return (datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()
    return None
